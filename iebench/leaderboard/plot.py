"""The invariance/equivariance trade-off plot (top-1 against rotation R^2), as SVG and PNG.

One panel per comparable group: a measured track (iebench's R^2, one global mean) or a
reported table (one paper protocol and one R^2 definition), each with its own axes, so no
axis holds two tracks, two R^2 definitions or two floors. One layout in SVG user units is
computed once and drawn twice, so the page's inline SVG and tradeoff.png (drawn with PIL,
no plotting library) show the same thing. Measured points (a method's mean over its
training seeds) are filled circles; reported points are hollow diamonds. Every label box
is placed clear of every other label and marker (``Marker.label_box``).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from html import escape
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from iebench.core.io import write_bytes_atomic
from iebench.leaderboard.reported import R2_DEFINITIONS
from iebench.leaderboard.table import Table

TRACK_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#17becf", "#e377c2")
REPORTED_COLOURS = ("#555555", "#8a6d3b", "#7a7a9a", "#999999")
WIDTH = 960
COLUMNS = 2  # panels side by side
PANEL_WIDTH = WIDTH // COLUMNS
PLOT_HEIGHT = 230  # of a panel's plotting area
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_BOTTOM = 52, 18, 44
HEADER = 58  # the plot's title and note, above the panels
TITLE_LINE = 14  # a panel title's line height
MARKER = 5.0
LABEL_SIZE = 10
TEXT_SIZE = 11
TITLE_SIZE = 14
# PIL's font measures labels; a browser's may be a little wider: boxes are this much wider.
LABEL_WIDTH_SLACK = 1.15
TEXT_WIDTH_SLACK = 1.3  # the same for titles and notes, wrapped to fit a browser's font
LABEL_GAP = 2.0  # the least space between two label boxes
TITLE = "Invariance vs equivariance: top-1 against rotation R²"
NOTE = (
    "One panel per track and R² definition, each on its own axes: compare points only within "
    "a panel. Filled: measured by iebench (a method's mean over training seeds); hollow: "
    "reported in papers."
)
X_LABEL = "rotation R²"
Y_LABEL = "top-1 %"
NICE_STEPS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10, 20, 25, 50, 100)
# Near a point, tried first (dx, dy of the box's left edge and baseline from the point).
NEAR_RADII = (7, 12, 18)
GRID_STEP = 6  # then any free place in the panel, nearest first, with a leader line
PNG_SCALE = 2  # pixels per SVG unit in the PNG
SUPERSAMPLE = 2  # drawn this much larger, then downsampled: smooth edges and text
SUPERSCRIPT = "²"  # PIL's built-in font lacks it: drawn as a raised small "2"


@dataclass(frozen=True)
class Series:
    name: str
    colour: str
    reported: bool
    points: tuple[tuple[float, float, str], ...]  # (rotation R^2, top-1, label)


@dataclass(frozen=True)
class Marker:
    x: float
    y: float
    colour: str
    reported: bool
    label: str
    label_box: tuple[float, float, float, float]  # left, top, right, bottom; text at bottom - 2
    leader: bool  # the label lies away from the point: a line joins them
    tooltip: str


@dataclass(frozen=True)
class Panel:
    title: tuple[str, ...]  # lines, the first baseline at ``title_y``
    title_y: float
    box: tuple[float, float, float, float]  # left, top, right, bottom of the plotting area
    x_ticks: tuple[tuple[float, str], ...]
    y_ticks: tuple[tuple[float, str], ...]
    markers: tuple[Marker, ...]


@dataclass(frozen=True)
class Layout:
    width: int
    height: int
    note: tuple[str, ...]
    panels: tuple[Panel, ...]


def tradeoff_series(measured: list[Table], reported: list[Table]) -> list[Series]:
    """One series per panel: measured tracks (a row per method, its means), then reported
    tables; only rows with both top-1 and rotation R^2."""
    series = []
    for index, table in enumerate(measured):
        colour = TRACK_COLOURS[index % len(TRACK_COLOURS)]
        name = f"{table.title}; {R2_DEFINITIONS[table.r2_definition]}"
        series.append(Series(name, colour, False, _points(table)))
    shown = [table for table in reported if _points(table)]
    for index, table in enumerate(shown):
        colour = REPORTED_COLOURS[index % len(REPORTED_COLOURS)]
        series.append(Series(f"reported: {table.title}", colour, True, _points(table)))
    return series


def _points(table: Table) -> tuple[tuple[float, float, str], ...]:
    names = [
        row[[c.key for c in table.columns].index("name" if table.entries else "method")]
        for row in table.rows
    ]
    return tuple(
        (x, y, name.text)
        for x, y, name in zip(
            table.column_values("rotation"), table.column_values("top1"), names, strict=True
        )
        if x is not None and y is not None
    )


def _ticks(low: float, high: float, most: int = 6) -> tuple[float, float, list[float]]:
    """A nice step covering [low, high] with at most ``most`` intervals: (start, stop, ticks)."""
    for step in NICE_STEPS:
        start = math.floor(low / step + 1e-9) * step
        stop = max(math.ceil(high / step - 1e-9) * step, start + step)
        if (stop - start) / step <= most:
            break
    count = round((stop - start) / step)
    return start, stop, [start + i * step for i in range(count + 1)]


def _tick_label(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _font(size: float) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


def _overlaps(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _grown(box: tuple[float, ...], by: float) -> tuple[float, ...]:
    return (box[0] - by, box[1] - by, box[2] + by, box[3] + by)


def _wrap(text: str, width: float, size: float) -> tuple[str, ...]:
    """``text`` in lines no wider than ``width`` (words kept whole)."""
    font, lines, line = _font(size), [], ""
    width /= TEXT_WIDTH_SLACK
    for word in text.split():
        candidate = f"{line} {word}".strip()
        if line and font.getlength(candidate) > width:
            lines.append(line)
            line = word
        else:
            line = candidate
    return tuple([*lines, line] if line else lines)


def place_labels(
    points: list[tuple[float, float, str]], box: tuple[float, float, float, float]
) -> list[tuple[tuple[float, float, float, float], bool]]:
    """(label box, leader?) per point: the first place near it clear of every marker and
    placed label, else the nearest clear place in ``box`` (joined by a leader line), else a
    row below ``box``. Boxes never intersect one another or a marker."""
    font = _font(LABEL_SIZE)
    taken = [(x - MARKER, y - MARKER, x + MARKER, y + MARKER) for x, y, _ in points]
    below = box[3] + MARGIN_BOTTOM  # the rows under the axes, for a panel full to the brim
    placed = []
    for x, y, label in points:
        width, height = font.getlength(label) * LABEL_WIDTH_SLACK, LABEL_SIZE + 2

        near = [
            spot
            for r in NEAR_RADII
            for spot in (
                (x + r, y - height / 2),
                (x - r - width, y - height / 2),
                (x - width / 2, y - r - height),
                (x - width / 2, y + r),
                (x + r, y - r - height / 2),
                (x - r - width, y - r - height / 2),
                (x + r, y + r - height / 2),
                (x - r - width, y + r - height / 2),
            )
        ]
        choice = _first_free(near, (width, height), box, taken)
        leader = choice is None
        if choice is None:
            grid = [
                (left, top)
                for left in _steps(box[0], box[2] - width)
                for top in _steps(box[1], box[3] - height)
            ]
            grid.sort(key=lambda s: (s[0] + width / 2 - x) ** 2 + (s[1] + height / 2 - y) ** 2)
            choice = _first_free(grid, (width, height), box, taken)
        if choice is None:  # no room at all: a row of its own under the axes
            choice = (box[0], below, box[0] + width, below + height)
            below += height + LABEL_GAP
        taken.append(choice)
        placed.append((tuple(round(v, 1) for v in choice), leader))
    return placed


def _first_free(
    spots: list[tuple[float, float]],
    size: tuple[float, float],
    box: tuple[float, float, float, float],
    taken: list[tuple[float, ...]],
) -> tuple[float, float, float, float] | None:
    """The first label box at a spot (its top left) inside ``box`` and clear of ``taken``."""
    for left, top in spots:
        bounds = (left, top, left + size[0], top + size[1])
        inside = box[0] <= left and bounds[2] <= box[2] and box[1] <= top and bounds[3] <= box[3]
        if inside and not any(_overlaps(_grown(bounds, LABEL_GAP), t) for t in taken):
            return bounds
    return None


def _steps(low: float, high: float) -> list[float]:
    return [low + i * GRID_STEP for i in range(int((high - low) // GRID_STEP) + 1)]


def _panel(series: Series, left: float, top: float) -> tuple[Panel, float]:
    """One series' panel with its own axes at (left, top); returns it and its height."""
    title = _wrap(series.name, PANEL_WIDTH - 24, TEXT_SIZE)
    plot_top = top + 8 + TITLE_LINE * len(title)
    box = (left + MARGIN_LEFT, plot_top, left + PANEL_WIDTH - MARGIN_RIGHT, plot_top + PLOT_HEIGHT)
    xs = [p[0] for p in series.points]
    ys = [p[1] for p in series.points]
    x0, x1, x_ticks = _ticks(min(xs) - 0.03, min(1.0, max(xs) + 0.03))
    y0, y1, y_ticks = _ticks(max(0.0, min(ys) - 2), min(100.0, max(ys) + 2))

    def to_x(value: float) -> float:
        return round(box[0] + (value - x0) / (x1 - x0) * (box[2] - box[0]), 1)

    def to_y(value: float) -> float:
        return round(box[3] - (value - y0) / (y1 - y0) * (box[3] - box[1]), 1)

    points = [(to_x(x), to_y(y), label) for x, y, label in series.points]
    spots = place_labels(points, box)
    markers = tuple(
        Marker(
            px,
            py,
            series.colour,
            series.reported,
            label,
            label_box,
            leader,
            f"{label}: top-1 {y:.2f}, rotation R² {x:.3f}",
        )
        for (px, py, label), (x, y, _), (label_box, leader) in zip(
            points, series.points, spots, strict=True
        )
    )
    bottom = max([box[3] + MARGIN_BOTTOM, *(m.label_box[3] + 4 for m in markers)])
    panel = Panel(
        title=title,
        title_y=top + TITLE_LINE,
        box=box,
        x_ticks=tuple((to_x(v), _tick_label(v)) for v in x_ticks),
        y_ticks=tuple((to_y(v), _tick_label(v)) for v in y_ticks),
        markers=markers,
    )
    return panel, bottom - top


def layout(series: list[Series]) -> Layout:
    """Panels in rows of COLUMNS under the title and note; a row as tall as its tallest."""
    note = _wrap(NOTE, WIDTH - 32, TEXT_SIZE)
    top = HEADER + TITLE_LINE * (len(note) - 1)
    panels = []
    for row in range(0, len(series), COLUMNS):
        heights = []
        for column, one in enumerate(series[row : row + COLUMNS]):
            panel, height = _panel(one, column * PANEL_WIDTH, top)
            panels.append(panel)
            heights.append(height)
        top += max(heights) + 8
    return Layout(
        width=WIDTH, height=int(math.ceil(max(top, HEADER + 40))), note=note, panels=tuple(panels)
    )


def _diamond(x: float, y: float, r: float) -> list[tuple[float, float]]:
    return [(x, y - r), (x + r, y), (x, y + r), (x - r, y)]


def to_svg(plot: Layout) -> str:
    """The plot as an inline ``<svg id="tradeoff">`` element (no external references)."""
    out = [
        f'<svg id="tradeoff" xmlns="http://www.w3.org/2000/svg" width="{plot.width}" '
        f'height="{plot.height}" viewBox="0 0 {plot.width} {plot.height}" role="img" '
        f'aria-label="{escape(TITLE)}">',
        f'<rect x="0" y="0" width="{plot.width}" height="{plot.height}" fill="#ffffff"/>',
        f'<text x="{plot.width / 2}" y="20" text-anchor="middle" class="title">'
        f"{escape(TITLE)}</text>",
    ]
    for i, line in enumerate(plot.note):
        out.append(f'<text x="16" y="{38 + i * TITLE_LINE}" class="note">{escape(line)}</text>')
    for panel in plot.panels:
        out += _svg_panel(panel)
    out.append("</svg>")
    return "\n".join(out)


def _svg_panel(panel: Panel) -> list[str]:
    left, top, right, bottom = panel.box
    middle = (top + bottom) / 2
    out = [
        f'<text x="{left - MARGIN_LEFT + 12}" y="{panel.title_y + i * TITLE_LINE}" '
        f'class="panel-title">{escape(line)}</text>'
        for i, line in enumerate(panel.title)
    ]
    for x, label in panel.x_ticks:
        out.append(f'<line x1="{x}" y1="{top}" x2="{x}" y2="{bottom}" class="grid"/>')
        out.append(f'<text x="{x}" y="{bottom + 15}" text-anchor="middle">{label}</text>')
    for y, label in panel.y_ticks:
        out.append(f'<line x1="{left}" y1="{y}" x2="{right}" y2="{y}" class="grid"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4}" text-anchor="end">{label}</text>')
    label_x = left - MARGIN_LEFT + 14
    out += [
        f'<rect x="{left}" y="{top}" width="{right - left}" height="{bottom - top}" '
        'class="frame"/>',
        f'<text x="{(left + right) / 2}" y="{bottom + 32}" text-anchor="middle">'
        f"{escape(X_LABEL)}</text>",
        f'<text x="{label_x}" y="{middle}" text-anchor="middle" '
        f'transform="rotate(-90 {label_x} {middle})">{escape(Y_LABEL)}</text>',
    ]
    for m in panel.markers:
        kind = "reported" if m.reported else "measured"
        if m.leader:
            tx, ty = _leader_end(m)
            out.append(f'<line x1="{m.x}" y1="{m.y}" x2="{tx}" y2="{ty}" class="leader"/>')
        out.append(_svg_marker(m.x, m.y, m.colour, m.reported, f"point {kind}", m.tooltip))
        out.append(
            f'<text x="{m.label_box[0]}" y="{m.label_box[3] - 2}" '
            f'class="label {kind}">{escape(m.label)}</text>'
        )
    return out


def _leader_end(marker: Marker) -> tuple[float, float]:
    """The point of the label box nearest the marker: where its leader line ends."""
    left, top, right, bottom = marker.label_box
    return (min(max(marker.x, left), right), min(max(marker.y, top), bottom))


def _svg_marker(x: float, y: float, colour: str, reported: bool, css: str, tooltip: str) -> str:
    title = f"<title>{escape(tooltip)}</title>"
    if reported:
        points = " ".join(f"{px},{py}" for px, py in _diamond(x, y, MARKER + 1))
        return (
            f'<polygon class="{css}" points="{points}" fill="#ffffff" stroke="{colour}" '
            f'stroke-width="1.5">{title}</polygon>'
        )
    return f'<circle class="{css}" cx="{x}" cy="{y}" r="{MARKER}" fill="{colour}">{title}</circle>'


class _Canvas:
    """PIL drawing in SVG units, scaled; text with SVG-like anchors and a drawn superscript 2."""

    def __init__(self, width: int, height: int, scale: int) -> None:
        self.scale = scale
        self.image = Image.new("RGB", (width * scale, height * scale), "white")
        self.draw = ImageDraw.Draw(self.image)

    def xy(self, x: float, y: float) -> tuple[float, float]:
        return x * self.scale, y * self.scale

    def line(self, points: list[tuple[float, float]], colour: str) -> None:
        self.draw.line([self.xy(*p) for p in points], fill=colour, width=self.scale)

    def marker(self, x: float, y: float, colour: str, reported: bool) -> None:
        s, r = self.scale, MARKER * self.scale
        cx, cy = self.xy(x, y)
        if reported:
            outline = _diamond(cx, cy, r + s)
            self.draw.polygon(outline, fill="white", outline=colour, width=int(1.5 * s))
        else:
            self.draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colour)

    def text(self, x: float, y: float, text: str, size: float, colour: str, anchor: str) -> None:
        """``y`` is the baseline; ``anchor`` is "start", "middle" or "end"."""
        font, small = _font(size * self.scale), _font(size * 0.7 * self.scale)
        pieces = text.split(SUPERSCRIPT)
        widths = [font.getlength(p) for p in pieces]
        total = sum(widths) + (len(pieces) - 1) * small.getlength("2")
        cx, cy = self.xy(x, y)
        cx -= {"start": 0, "middle": total / 2, "end": total}[anchor]
        for i, piece in enumerate(pieces):
            self.draw.text((cx, cy), piece, fill=colour, font=font, anchor="ls")
            cx += widths[i]
            if i < len(pieces) - 1:
                self.draw.text(
                    (cx, cy - size * 0.4 * self.scale), "2", fill=colour, font=small, anchor="ls"
                )
                cx += small.getlength("2")


def png_bytes(plot: Layout) -> bytes:
    """Draw the layout with PIL: the same picture as the SVG, deterministic bytes."""
    canvas = _Canvas(plot.width, plot.height, PNG_SCALE * SUPERSAMPLE)
    canvas.text(plot.width / 2, 20, TITLE, TITLE_SIZE, "#111111", "middle")
    for i, line in enumerate(plot.note):
        canvas.text(16, 38 + i * TITLE_LINE, line, TEXT_SIZE, "#333333", "start")
    for panel in plot.panels:
        _png_panel(canvas, panel)
    size = (plot.width * PNG_SCALE, plot.height * PNG_SCALE)
    image = canvas.image.resize(size, Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _png_panel(canvas: _Canvas, panel: Panel) -> None:
    left, top, right, bottom = panel.box
    for i, line in enumerate(panel.title):
        y = panel.title_y + i * TITLE_LINE
        canvas.text(left - MARGIN_LEFT + 12, y, line, TEXT_SIZE, "#111111", "start")
    for x, label in panel.x_ticks:
        canvas.line([(x, top), (x, bottom)], "#e4e4e4")
        canvas.text(x, bottom + 15, label, TEXT_SIZE, "#333333", "middle")
    for y, label in panel.y_ticks:
        canvas.line([(left, y), (right, y)], "#e4e4e4")
        canvas.text(left - 6, y + 4, label, TEXT_SIZE, "#333333", "end")
    canvas.line(
        [(left, top), (right, top), (right, bottom), (left, bottom), (left, top)], "#333333"
    )
    canvas.text((left + right) / 2, bottom + 32, X_LABEL, TEXT_SIZE, "#111111", "middle")
    # The y label: drawn horizontally on its own canvas, then turned a quarter.
    label = _Canvas(int(_font(TEXT_SIZE).getlength(Y_LABEL)) + 4, TEXT_SIZE + 6, canvas.scale)
    label.text(2, TEXT_SIZE + 1, Y_LABEL, TEXT_SIZE, "#111111", "start")
    turned = label.image.rotate(90, expand=True)
    cx, cy = canvas.xy(left - MARGIN_LEFT + 14, (top + bottom) / 2)
    canvas.image.paste(turned, (int(cx - turned.width / 2), int(cy - turned.height / 2)))
    for m in panel.markers:
        if m.leader:
            canvas.line([(m.x, m.y), _leader_end(m)], "#aaaaaa")
    for m in panel.markers:
        canvas.marker(m.x, m.y, m.colour, m.reported)
        colour = "#666666" if m.reported else "#111111"
        canvas.text(m.label_box[0], m.label_box[3] - 2, m.label, LABEL_SIZE, colour, "start")


def write_png(plot: Layout, path: Path) -> None:
    write_bytes_atomic(path, png_bytes(plot))
