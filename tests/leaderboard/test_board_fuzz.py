"""A fuzzer over the results schema and the board: a mutated results file is either accepted
(and then the board builds, writes only inside itself and renders escaped) or refused with
IebenchError, one line per reason; never another exception."""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import Any

from helpers.leaderboard_helpers import REPO_BOARD, make_results, new_board
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iebench.core.errors import IebenchError
from iebench.leaderboard import SubmissionRejected, build, show, submit
from iebench.leaderboard.checks import entry_problems
from iebench.leaderboard.reported import read_reported
from iebench.leaderboard.table import reported_tables
from iebench.protocol.results import SAFE_NAME, UNSAFE_CHARACTER, Results, parse_results

HOSTILE_TEXT = st.sampled_from(
    [
        "",
        "../../../settings",
        "/../../..///" + "a" * 52,
        "ab" * 32,
        "A\n## Hacked",
        "<script>alert(1)</script>",
        "[x](javascript:alert(1))",
        "\x1b]0;owned\x07",
        "a\u202eb",
        "x" * 5000,
        "2025-06-01T12:00:00+00:00",
        "classification",
        "full",
        "eval",
    ]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([-1e300, -1e6, -10.0, 0.0, 1.0, 100.0, 1e12]),
    HOSTILE_TEXT,
    st.text(max_size=20),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(HOSTILE_TEXT, inner, max_size=3),
    max_leaves=8,
)


def node_paths(node: Any, path: tuple = ()) -> list[tuple]:
    """The path of every node below ``node`` (keys and list indices)."""
    paths = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            paths += node_paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            paths += node_paths(value, (*path, index))
    return paths


# Names near the safe set: most are accepted and rendered, some just miss it.
NAMES = st.text(alphabet="Aa0 ._+=(),:@-<>[]|*#`\\\n&\"'/", min_size=1, max_size=30)


@st.composite
def mutated_results(draw: st.DrawFn, mutations: int = 3) -> bytes:
    """A valid results file under a drawn name, with up to ``mutations`` nodes replaced,
    removed or added, as JSON bytes."""
    seeds = draw(st.sampled_from([1, 3]))
    data = make_results(
        draw(st.from_regex(SAFE_NAME, fullmatch=True) | NAMES | HOSTILE_TEXT),
        61.0,
        0.42,
        seeds=seeds,
        predictor=draw(st.booleans()),
    ).to_dict()
    for _ in range(draw(st.integers(0, mutations))):
        path = draw(st.sampled_from(node_paths(data)[1:]))
        *parents, last = path
        parent = data
        for key in parents:
            parent = parent[key]
        action = draw(st.sampled_from(["replace", "remove", "add"]))
        if action == "replace":
            parent[last] = draw(VALUES)
        elif action == "remove":
            del parent[last]
        elif isinstance(parent, dict):
            parent[draw(HOSTILE_TEXT)] = draw(VALUES)
        else:
            parent.append(draw(VALUES))
    if draw(st.sampled_from([False] * 9 + [True])):  # now and then, deep nesting
        data["config"] = json.loads("[" * 40 + "]" * 40)
    return json.dumps(data, allow_nan=True).encode("utf-8")


def assert_one_line_reasons(error: IebenchError) -> None:
    reasons = error.reasons if isinstance(error, SubmissionRejected) else [str(error)]
    for reason in reasons:
        assert reason and "\n" not in reason and not UNSAFE_CHARACTER.search(reason)


@settings(max_examples=300, deadline=None)
@given(mutated_results())
def test_the_schema_refuses_in_lines_never_crashes(raw):
    try:
        data = parse_results(raw, "fuzzed.json")
    except IebenchError as error:
        assert_one_line_reasons(error)
        return
    problems = entry_problems(data)
    assert all(isinstance(p, str) and "\n" not in p for p in problems)
    try:
        Results.from_dict(data, "fuzzed.json")
    except IebenchError as error:
        assert_one_line_reasons(error)


HTML_TAGS = {
    "a",
    "body",
    "circle",
    "code",
    "details",
    "div",
    "li",
    "ol",
    "summary",
    "h1",
    "h2",
    "h3",
    "head",
    "html",
    "line",
    "meta",
    "p",
    "polygon",
    "rect",
    "script",
    "section",
    "span",
    "style",
    "svg",
    "table",
    "tbody",
    "td",
    "text",
    "tfoot",
    "th",
    "thead",
    "title",
    "tr",
    "wbr",
}


# The repository's published rows, one heading per comparable group (track x R^2 definition).
FIXED_HEADINGS = [
    "# iebench leaderboard",
    "## Reported in papers",
    *(f"### {table.title}" for table in reported_tables(read_reported(REPO_BOARD))),
    "## Contributing results",
]
TRACK_HEADING = re.compile(
    r"## dataset [0-9a-f]{12}, (quick|reference) protocol, \d+ px( input from a \d+ px render)?"
)


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_results(mutations=1))
def test_the_board_accepts_and_renders_escaped_or_refuses(raw):
    with tempfile.TemporaryDirectory() as work:
        root = Path(work)
        board = new_board(root / "site")
        path = root / "fuzzed.json"
        path.write_bytes(raw)
        try:
            submit(path, board)
        except IebenchError as error:
            assert_one_line_reasons(error)
            assert not (board / "results").exists()
            return
        build(board)
        assert files_under(root) - files_under(board) == {path}  # nothing outside the board
        readme = (board / "README.md").read_text()
        assert "<" not in readme and not UNSAFE_CHARACTER.search(readme.replace("\n", " "))
        headings = [line for line in readme.splitlines() if line.startswith("#")]
        assert headings[:1] + headings[2:] == FIXED_HEADINGS
        assert TRACK_HEADING.fullmatch(headings[1])  # the one track: no heading smuggled in
        page = (board / "index.html").read_text()
        assert set(re.findall(r"</?([a-zA-Z][a-zA-Z0-9]*)", page)) <= HTML_TAGS
        assert page.count("<script") == 1
        text = show(board)
        assert not UNSAFE_CHARACTER.search(text.replace("\n", " "))
