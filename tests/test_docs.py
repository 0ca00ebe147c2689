"""The README stays a short start and its links lead somewhere; `mkdocs build --strict`
(`make docs`) holds the same for the pages under docs/, anchors included."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import markdown
import pytest

ROOT = Path(__file__).resolve().parents[1]
README_MAX_LINES = 300
MARKDOWN_EXTENSIONS = ["tables", "fenced_code"]


class _Links(HTMLParser):
    """The href and src targets of rendered Markdown (code blocks hold none)."""

    def __init__(self) -> None:
        super().__init__()
        self.targets: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.targets += [value for name, value in attrs if name in ("href", "src") and value]


def links(text: str) -> list[str]:
    parser = _Links()
    parser.feed(markdown.markdown(text, extensions=MARKDOWN_EXTENSIONS))
    return parser.targets


def github_anchors(text: str) -> set[str]:
    """GitHub's anchors for a file's headings: lower case, punctuation dropped, spaces to '-'."""
    headings = re.findall(r"^#{1,6} +(.+?) *$", text, flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


def broken_links(page: Path) -> list[str]:
    """Relative links of ``page`` whose file does not exist, and in-page anchors with no heading."""
    text = page.read_text(encoding="utf-8")
    broken = []
    for target in links(text):
        parts = urlsplit(target)
        if parts.scheme or parts.netloc:
            continue  # a web address: not this repository's to check
        if not parts.path:
            if parts.fragment not in github_anchors(text):
                broken.append(target)
        elif not (page.parent / unquote(parts.path)).exists():
            broken.append(target)
    return broken


DOC_PAGES = sorted((ROOT / "docs").rglob("*.md"))


def test_readme_is_at_most_300_lines():
    lines = len((ROOT / "README.md").read_text(encoding="utf-8").splitlines())
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines"


@pytest.mark.parametrize("page", [ROOT / "README.md", *DOC_PAGES], ids=lambda p: p.name)
def test_every_relative_link_resolves(page: Path):
    assert broken_links(page) == []


def test_the_link_check_finds_a_broken_link(tmp_path: Path):
    (tmp_path / "there.md").write_text("# There\n")
    page = tmp_path / "page.md"
    page.write_text(
        "# A page\n\n[ok](there.md) [ok](there.md#there) [web](https://example.org/x)"
        " [ok](#a-page) `[code](gone.md)`\n\n```\n[block](gone.md)\n```\n\n"
        "[file](missing.md) [image](img/missing.png) [anchor](#no-such-heading)\n"
    )
    assert broken_links(page) == ["missing.md", "img/missing.png", "#no-such-heading"]


def test_the_site_covers_the_pages():
    """Every page under docs/ is in the site's navigation (mkdocs only notes one left out)."""
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for page in DOC_PAGES:
        assert page.relative_to(ROOT / "docs").as_posix() in nav, page
