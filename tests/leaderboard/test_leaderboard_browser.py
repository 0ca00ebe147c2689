"""The built page in a real headless Chromium: rows shown, sorting on header clicks, the plot.

Chromium runs the page's own script; a probe script appended to a copy of the page
clicks headers and writes what it saw into the DOM, which --dump-dom prints.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
from pathlib import Path

import pytest
from helpers.leaderboard_helpers import OTHER_FINGERPRINT, make_results, new_board, write
from PIL import Image

from iebench.leaderboard import build, submit

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")  # Debian's; `make test` installs it (Makefile: browser)
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)

PROBE = """
<script>
(function () {
  var table = document.querySelector("table.board");
  function names() {
    return Array.prototype.map.call(table.tBodies[0].rows, function (row) {
      return row.cells[1].textContent;
    });
  }
  function click(key) {
    var th = table.querySelector('th[data-key="' + key + '"]');
    th.click();
    return {rows: names(), sort: th.getAttribute("aria-sort")};
  }
  var seen = {tables: document.querySelectorAll("table.board").length, rows: names()};
  seen.rotation = click("rotation");
  seen.rotationAgain = click("rotation");
  seen.name = click("name");
  seen.mrr = click("mrr");
  var svg = document.getElementById("tradeoff");
  var box = svg.getBoundingClientRect();
  var point = svg.querySelector(".point.measured").getBoundingClientRect();
  seen.plot = {
    width: box.width,
    height: box.height,
    measured: svg.querySelectorAll(".point.measured").length,
    reported: svg.querySelectorAll(".point.reported").length,
    point: [point.width, point.height],
    labels: Array.prototype.map.call(svg.querySelectorAll("text.label.measured"), function (t) {
      return t.textContent;
    })
  };
  var out = document.createElement("pre");
  out.id = "browser-test";
  out.textContent = JSON.stringify(seen);
  document.body.appendChild(out);
})();
</script>
"""


def chromium(tmp_path: Path, *args: str) -> str:
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: run `make browser` (part of `make test`)"
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    profile.mkdir()
    command = [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    return done.stdout


@pytest.fixture(scope="module")
def built_board(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("browser")
    board = new_board(tmp)
    runs = [
        make_results("SIE", 48.5, 0.61, seeds=3, predictor=True),
        make_results("VICReg", 52.25, 0.18),
        make_results("SimCLR", 50.0, 0.30),
        make_results("EquiMod", 45.0, 0.45, fingerprint=OTHER_FINGERPRINT),
    ]
    for i, run in enumerate(runs):
        submit(write(run, tmp / f"run{i}.json"), board)
    build(board)
    return board


def test_page_shows_rows_sorts_on_click_and_draws_the_plot(built_board, tmp_path):
    page = built_board / "index.html"
    probed = built_board / "probe.html"  # beside the page: same relative links
    probed.write_text(page.read_text().replace("</body>", PROBE + "</body>"))
    dom = chromium(tmp_path, "--dump-dom", probed.as_uri())
    match = re.search(r'<pre id="browser-test">(.*?)</pre>', dom, re.S)
    assert match, dom[-2000:]
    seen = json.loads(html.unescape(match.group(1)))

    assert seen["tables"] == 2  # one per track
    assert seen["rows"] == ["VICReg", "SimCLR", "SIE"]  # ranked by top-1
    assert seen["rotation"] == {"rows": ["SIE", "SimCLR", "VICReg"], "sort": "descending"}
    assert seen["rotationAgain"] == {"rows": ["VICReg", "SimCLR", "SIE"], "sort": "ascending"}
    assert seen["name"] == {"rows": ["SIE", "SimCLR", "VICReg"], "sort": "ascending"}
    # Only SIE has a predictor: rows without a value sort last, whatever the order.
    assert seen["mrr"]["rows"][0] == "SIE"

    plot = seen["plot"]
    assert plot["width"] > 300 and plot["height"] > 200
    assert plot["measured"] == 4  # every entry of every track
    assert plot["reported"] == 42  # the reported rows with both top-1 and rotation R^2
    assert plot["point"][0] > 0 and plot["point"][1] > 0
    assert sorted(plot["labels"]) == ["EquiMod", "SIE", "SimCLR", "VICReg"]
    probed.unlink()


# The page in iframes of a desktop's and a phone's width (headless Chromium's window is at
# least 500 px wide, an iframe any width), probed for what a reader would call cut or
# scrolled: the page wider than its window, a table wider than its box, or a cell whose
# right edge lies beyond the window.
LAYOUT_PROBE = """<!DOCTYPE html>
<html><body style="margin: 0">
<iframe src="index.html" style="width: 1280px; height: 1000px; border: 0"></iframe>
<iframe src="index.html" style="width: 390px; height: 1000px; border: 0"></iframe>
<script>
window.addEventListener("load", function () {
  var seen = Array.prototype.map.call(document.querySelectorAll("iframe"), function (frame) {
    var win = frame.contentWindow, doc = frame.contentDocument;
    var right = doc.documentElement.clientWidth;
    function count(selector, test) {
      return Array.prototype.filter.call(doc.querySelectorAll(selector), test).length;
    }
    return {
      width: win.innerWidth,
      pageWidth: doc.documentElement.scrollWidth,
      scrolled: count("div.scroll", function (d) { return d.scrollWidth > d.clientWidth; }),
      cut: count("th, td", function (cell) {
        var box = cell.getBoundingClientRect();
        return box.width > 0 && box.right > right + 0.5;
      }),
      results: count("td.path", function (td) {
        var box = td.getBoundingClientRect();
        return box.width > 0 && box.right <= right;
      }),
      reference: doc.querySelectorAll("tfoot tr.reference").length
    };
  });
  var out = document.createElement("pre");
  out.id = "browser-test";
  out.textContent = JSON.stringify(seen);
  document.body.appendChild(out);
});
</script>
</body></html>
"""


def test_page_fits_a_desktop_and_a_phone_without_cutting_a_column(built_board, tmp_path):
    """At 1280 px (headers and "± std" wrap inside their columns) and at 390 px (a phone:
    every row a card of "header: value" lines) nothing scrolls sideways and every cell,
    the results file's included, lies inside the window."""
    probe = built_board / "layout-probe.html"  # beside the page: same origin, same links
    probe.write_text(LAYOUT_PROBE)
    dom = chromium(
        tmp_path,
        "--allow-file-access-from-files",
        "--virtual-time-budget=10000",
        "--window-size=1700,1100",
        "--dump-dom",
        probe.as_uri(),
    )
    probe.unlink()
    match = re.search(r'<pre id="browser-test">(.*?)</pre>', dom, re.S)
    assert match, dom[-2000:]
    for width, seen in zip((1280, 390), json.loads(html.unescape(match.group(1))), strict=True):
        assert seen["width"] == width
        assert seen["pageWidth"] <= width, seen
        assert seen["scrolled"] == 0 and seen["cut"] == 0, seen
        assert seen["results"] == 4, seen  # every results-file cell shown whole
        assert seen["reference"] == 2, seen  # a reference-level row under each track


@pytest.mark.parametrize(("width", "height"), [(1280, 1800), (390, 4000)])
def test_page_screenshot_shows_tables_and_plot(built_board, tmp_path, width, height):
    """Screenshots of a desktop and a phone (taller: the cards stack) reach the plot."""
    shot = tmp_path / "page.png"
    chromium(
        tmp_path,
        f"--window-size={width},{height}",
        f"--screenshot={shot}",
        (built_board / "index.html").as_uri(),
    )
    image = Image.open(shot).convert("RGB")
    assert image.size == (width, height)
    # The plot's marker colours (a measured point's fill) appear on the rendered page.
    colours = {colour for _, colour in image.getcolors(maxcolors=1 << 20)}
    assert (0x1F, 0x77, 0xB4) in colours
