"""leaderboard/index.html: one static page, no network (inline CSS, JS and SVG)."""

from __future__ import annotations

from html import escape

from iebench.leaderboard.table import REFERENCE_NOTE, Cell, Column, Table
from iebench.leaderboard.text import (
    CONTRIBUTING,
    EMPTY,
    INTRO,
    REPORTED_INTRO,
    VERIFIED_NOTE,
    track_details,
)

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 80rem; padding: 0 1rem;
       color: #111; }
h1 { margin-bottom: 0.3rem; }
h1, h2, h3, p { overflow-wrap: anywhere; }
p.meta { color: #555; font-size: 0.85rem; margin: 0.2rem 0 0.6rem; }
table { border-collapse: collapse; margin-bottom: 1.5rem; font-size: 0.85rem; }
th, td { padding: 0.3rem 0.45rem; border-bottom: 1px solid #ddd; white-space: nowrap; }
th { background: #f3f3f3; cursor: pointer; user-select: none; text-align: left;
     white-space: normal; vertical-align: bottom; }
th.num, td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.num { white-space: normal; }
span.std { white-space: nowrap; }
td.path { white-space: normal; }
th:hover { background: #e6e6e6; }
th[aria-sort="ascending"]::after { content: " \\25B2"; font-size: 0.7em; }
th[aria-sort="descending"]::after { content: " \\25BC"; font-size: 0.7em; }
table.reported td { color: #555; }
/* Published rows carry long method names and sources: their text wraps in its column. */
table.reported td:not(.num) { white-space: normal; overflow-wrap: anywhere; min-width: 6rem; }
tr.reference td { color: #555; font-style: italic; border-top: 2px solid #bbb; }
#tradeoff { max-width: 100%; height: auto; border: 1px solid #ddd; }
#tradeoff text { font-size: 11px; fill: #111; }
#tradeoff text.title { font-size: 14px; }
#tradeoff text.note { font-size: 11px; fill: #333; }
#tradeoff line.leader { stroke: #aaa; }
#tradeoff text.label { font-size: 10px; }
#tradeoff text.label.reported { fill: #666; }
div.scroll { overflow-x: auto; }
details.seeds { margin: -1rem 0 1.5rem; }
details.seeds summary { cursor: pointer; color: #333; margin-bottom: 0.4rem; }
#tradeoff line.grid { stroke: #e4e4e4; }
#tradeoff rect.frame { fill: none; stroke: #333; }
/* A phone: each row becomes a card of "header: value" lines, the headers a row of sort
   buttons, so no column is cut and nothing scrolls sideways. */
@media (max-width: 48rem) {
  body { margin: 1rem auto; }
  table, tbody, tfoot, tr, td { display: block; }
  table { width: 100%; }
  thead tr { display: flex; flex-wrap: wrap; gap: 0.25rem; margin-bottom: 0.5rem; }
  th { border: 1px solid #ddd; border-radius: 0.2rem; }
  tbody tr, tfoot tr { border: 1px solid #ddd; border-radius: 0.2rem; margin-bottom: 0.5rem; }
  td, td.num { display: flex; justify-content: space-between; gap: 1rem; text-align: right;
               white-space: normal; overflow-wrap: anywhere; border-bottom: 1px solid #eee; }
  td:empty { display: none; }
  td::before { content: attr(data-label); color: #555; text-align: left; flex: none; }
  td.path { overflow-wrap: anywhere; }
  tr.reference td { border-top: none; }
}
"""

# Click (or Enter on) a header: sort by that column; again: reverse. Empty cells always
# sort last; ties keep the board's order (data-index).
SCRIPT = """
(function () {
  function sortTable(table, th, column) {
    var numeric = th.dataset.type === "number";
    var first = th.dataset.first;
    var order = th.getAttribute("aria-sort") === first
      ? (first === "ascending" ? "descending" : "ascending") : first;
    var sign = order === "ascending" ? 1 : -1;
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[column].dataset.value, y = b.cells[column].dataset.value;
      var tie = Number(a.dataset.index) - Number(b.dataset.index);
      if (x === undefined || y === undefined) {
        return (x === undefined) - (y === undefined) || tie;
      }
      var c = numeric ? Number(x) - Number(y) : x.localeCompare(y);
      return sign * c || tie;
    });
    rows.forEach(function (row) { body.appendChild(row); });
    table.querySelectorAll("th").forEach(function (other) { other.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", order);
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    table.querySelectorAll("th").forEach(function (th, column) {
      th.tabIndex = 0;
      th.addEventListener("click", function () { sortTable(table, th, column); });
      th.addEventListener("keydown", function (event) {
        if (event.key === "Enter") { sortTable(table, th, column); }
      });
    });
  });
})();
"""


def _header(column: Column) -> str:
    first = "descending" if column.numeric and column.higher_is_better else "ascending"
    if column.key == "rank":
        first = "ascending"
    kind = "number" if column.numeric else "text"
    css = ' class="num"' if column.numeric else ""
    return (
        f'<th{css} data-key="{column.key}" data-type="{kind}" data-first="{first}" '
        f'scope="col">{escape(column.header)}</th>'
    )


def _cell(column: Column, cell: Cell, sortable: bool = True) -> str:
    """A <td>: numbers right-aligned, the results file a link; ``data-label`` names the column
    on a phone, ``data-value`` is the sort key."""
    text = escape(cell.text)
    attributes = f' data-label="{escape(column.header)}"'
    if column.numeric:
        attributes = ' class="num"' + attributes
        if sortable and cell.value is not None:
            attributes += f' data-value="{cell.value!r}"'
        # A narrow column puts "± std" under the mean rather than widening the table.
        mean, plus, std = text.partition(" ± ")
        shown = f'{mean} <span class="std">± {std}</span>' if plus else text
        return f"<td{attributes}>{shown}</td>"
    if sortable:
        attributes += f' data-value="{text}"'
    if column.key == "results" and text:
        broken = text.replace("/", "/<wbr>")  # wraps at the slashes, never mid-name
        return f'<td class="path"{attributes}><a href="{text}">{broken}</a></td>'
    return f"<td{attributes}>{text}</td>"


def _table(table: Table, css: str) -> list[str]:
    lines = [f'<div class="scroll"><table class="{css} sortable">', "<thead><tr>"]
    lines += [_header(c) for c in table.columns]
    lines += ["</tr></thead>", "<tbody>"]
    for index, cells in enumerate(table.rows):
        tds = "".join(
            _cell(column, cell) for column, cell in zip(table.columns, cells, strict=True)
        )
        lines.append(f'<tr data-index="{index}">{tds}</tr>')
    lines.append("</tbody>")
    if table.reference is not None:  # a footer: sorting never moves it among the entries
        cells = zip(table.columns, table.reference, strict=True)
        tds = "".join(_cell(column, cell, sortable=False) for column, cell in cells)
        lines.append(f'<tfoot><tr class="reference">{tds}</tr></tfoot>')
    lines.append("</table></div>")
    return lines


def html_page(measured: list[Table], reported: list[Table], svg: str) -> str:
    lines = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>iebench leaderboard</title>",
        f"<style>{STYLE}</style>",
        "</head>",
        "<body>",
        "<h1>iebench leaderboard</h1>",
        f"<p>{_inline_code(INTRO)}</p>",
        f"<p>{escape(REFERENCE_NOTE)}</p>",
        f"<p>{_inline_code(VERIFIED_NOTE)}</p>",
    ]
    if not measured:
        lines.append(f'<p id="empty">{_inline_code(EMPTY)}</p>')
    for table in measured:
        slug = table.entries[0].track.slug
        lines += [
            f'<section class="track" id="track-{slug}">',
            f"<h2>{escape(table.title)}</h2>",
            f'<p class="meta">{escape(track_details(table))}</p>',
            *_table(table, "board"),
        ]
        if table.per_seed is not None:  # one click away: every results file, one row each
            count = len(table.per_seed.rows)
            lines += [
                '<details class="seeds">',
                f"<summary>Per training seed ({count} results files)</summary>",
                *_table(table.per_seed, "seeds"),
                "</details>",
            ]
        lines.append("</section>")
    lines += ['<section id="plot">', "<h2>Invariance and equivariance</h2>", svg, "</section>"]
    if reported:
        lines += [
            '<section id="reported">',
            "<h2>Reported in papers</h2>",
            f"<p>{escape(REPORTED_INTRO)}</p>",
        ]
        for table in reported:
            lines += [f"<h3>{escape(table.title)}</h3>", *_table(table, "reported")]
        lines.append("</section>")
    lines += _contributing()
    lines += [f"<script>{SCRIPT}</script>", "</body>", "</html>", ""]
    return "\n".join(lines)


def _inline_code(text: str) -> str:
    """Markdown-style `code` spans as <code> (the shared intro texts use them)."""
    parts = escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def _contributing() -> list[str]:
    """The README's contribution section as HTML: a heading, the numbered steps, a note."""
    heading, _, *rest = CONTRIBUTING
    steps = [line.partition(". ")[2] for line in rest if line[:1].isdigit()]
    notes = [line for line in rest if line and not line[:1].isdigit()]
    return [
        '<section id="contributing">',
        f"<h2>{escape(heading.removeprefix('## '))}</h2>",
        "<ol>",
        *(f"<li>{_inline_code(step)}</li>" for step in steps),
        "</ol>",
        *(f"<p>{_inline_code(note)}</p>" for note in notes),
        "</section>",
    ]
