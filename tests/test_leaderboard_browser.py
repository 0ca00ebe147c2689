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
from leaderboard_helpers import OTHER_FINGERPRINT, make_results, new_board, write
from PIL import Image

from iebench.leaderboard import build, submit

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
    assert plot["reported"] == 15  # the reported rows with both top-1 and rotation R^2
    assert plot["point"][0] > 0 and plot["point"][1] > 0
    assert sorted(plot["labels"]) == ["EquiMod", "SIE", "SimCLR", "VICReg"]
    probed.unlink()


def test_page_screenshot_shows_tables_and_plot(built_board, tmp_path):
    shot = tmp_path / "page.png"
    chromium(
        tmp_path,
        "--window-size=1200,1800",
        f"--screenshot={shot}",
        (built_board / "index.html").as_uri(),
    )
    image = Image.open(shot).convert("RGB")
    assert image.size == (1200, 1800)
    # The plot's marker colours (a measured point's fill) appear on the rendered page.
    colours = {colour for _, colour in image.getcolors(maxcolors=1 << 20)}
    assert (0x1F, 0x77, 0xB4) in colours
