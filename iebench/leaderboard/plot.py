"""The invariance/equivariance trade-off plot (top-1 against rotation R^2), as SVG and PNG.

One layout in SVG user units is computed once and drawn twice, so the page's
inline SVG and tradeoff.png (drawn with PIL, no plotting library) show the same
thing. Measured points are filled circles, one colour per track; reported points
are hollow diamonds, one shade per paper's protocol.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from iebench.core.io import atomic_path
from iebench.leaderboard.table import Table

TRACK_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#17becf", "#e377c2")
REPORTED_COLOURS = ("#555555", "#8a6d3b", "#7a7a9a", "#999999")
WIDTH = 760
PLOT_HEIGHT = 420  # everything above the legend
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 64, 24, 36, 52
LEGEND_LINE = 18
MARKER = 5.0
LABEL_SIZE = 10
TEXT_SIZE = 11
TITLE_SIZE = 14
TITLE = "Invariance vs equivariance: top-1 against rotation R²"
X_LABEL = "rotation R² (equivariance)"
Y_LABEL = "top-1 % (invariance)"
NICE_STEPS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10, 20, 25, 50, 100)
# Where a point's label may go, tried in order until it overlaps nothing: (dx, dy, anchor).
LABEL_SPOTS = ((7, -6, "start"), (7, 13, "start"), (-7, -6, "end"), (-7, 13, "end"))
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
    label_x: float
    label_y: float
    anchor: str  # "start" or "end", as SVG's text-anchor
    tooltip: str


@dataclass(frozen=True)
class Layout:
    width: int
    height: int
    box: tuple[float, float, float, float]  # left, top, right, bottom of the plotting area
    x_ticks: tuple[tuple[float, str], ...]
    y_ticks: tuple[tuple[float, str], ...]
    markers: tuple[Marker, ...]
    legend: tuple[tuple[float, Series], ...]  # (baseline y, series)


def tradeoff_series(measured: list[Table], reported: list[Table]) -> list[Series]:
    """Measured tracks, then reported tracks; only rows with both top-1 and rotation R^2."""
    series = []
    for index, table in enumerate(measured):
        points = tuple(
            (
                entry.score("rotation", "full", "r2")["mean"],
                entry.score("classification", "full", "top1")["mean"],
                entry.name,
            )
            for entry in table.entries
        )
        colour = TRACK_COLOURS[index % len(TRACK_COLOURS)]
        series.append(Series(table.title, colour, False, points))
    for index, table in enumerate(reported):
        keys = [c.key for c in table.columns]
        rotation, top1 = keys.index("rotation"), keys.index("top1")
        points = tuple(
            (row[rotation].value, row[top1].value, row[0].text)
            for row in table.rows
            if row[rotation].value is not None and row[top1].value is not None
        )
        if points:
            colour = REPORTED_COLOURS[index % len(REPORTED_COLOURS)]
            series.append(Series(f"reported: {table.title}", colour, True, points))
    return series


def _ticks(low: float, high: float, most: int = 8) -> tuple[float, float, list[float]]:
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


def _place_labels(points: list[tuple[float, float, str]], box: tuple[float, ...]) -> list:
    """Greedy label placement: each label takes the first spot clear of markers and labels."""
    font = _font(LABEL_SIZE)
    taken = [(x - MARKER, y - MARKER, x + MARKER, y + MARKER) for x, y, _ in points]
    placed = []
    for x, y, label in points:
        width = font.getlength(label)
        choice = None
        for dx, dy, anchor in LABEL_SPOTS:
            start = x + dx if anchor == "start" else x + dx - width
            bounds = (start, y + dy - LABEL_SIZE + 2, start + width, y + dy + 2)
            inside = box[0] <= bounds[0] and bounds[2] <= box[2]
            if inside and not any(_overlaps(bounds, other) for other in taken):
                choice = (x + dx, y + dy, anchor, bounds)
                break
        if choice is None:  # crowded: the default spot, overlapping
            dx, dy, anchor = LABEL_SPOTS[0]
            choice = (x + dx, y + dy, anchor, (x + dx, y + dy - LABEL_SIZE, x + dx + width, y + dy))
        taken.append(choice[3])
        placed.append(choice[:3])
    return placed


def layout(series: list[Series]) -> Layout:
    xs = [p[0] for s in series for p in s.points]
    ys = [p[1] for s in series for p in s.points]
    # R^2 is at most 1 and often near 0; top-1 spans what the points need, within 0-100.
    x0, x1, x_ticks = _ticks(min([0.0, *xs]), 1.0)
    y_range = (max(0.0, min(ys) - 2), min(100.0, max(ys) + 2)) if ys else (0.0, 100.0)
    y0, y1, y_ticks = _ticks(*y_range)
    box = (MARGIN_LEFT, MARGIN_TOP, WIDTH - MARGIN_RIGHT, PLOT_HEIGHT - MARGIN_BOTTOM)

    def to_x(value: float) -> float:
        return round(box[0] + (value - x0) / (x1 - x0) * (box[2] - box[0]), 1)

    def to_y(value: float) -> float:
        return round(box[3] - (value - y0) / (y1 - y0) * (box[3] - box[1]), 1)

    flat = [(s, x, y, label) for s in series for x, y, label in s.points]
    spots = _place_labels([(to_x(x), to_y(y), label) for _, x, y, label in flat], box)
    markers = tuple(
        Marker(
            to_x(x),
            to_y(y),
            s.colour,
            s.reported,
            label,
            round(label_x, 1),
            round(label_y, 1),
            anchor,
            f"{label} ({s.name}): top-1 {y:.2f}, rotation R² {x:.3f}",
        )
        for (s, x, y, label), (label_x, label_y, anchor) in zip(flat, spots, strict=True)
    )
    legend = tuple((PLOT_HEIGHT + i * LEGEND_LINE, s) for i, s in enumerate(series))
    return Layout(
        width=WIDTH,
        height=PLOT_HEIGHT + len(series) * LEGEND_LINE,
        box=box,
        x_ticks=tuple((to_x(v), _tick_label(v)) for v in x_ticks),
        y_ticks=tuple((to_y(v), _tick_label(v)) for v in y_ticks),
        markers=markers,
        legend=legend,
    )


def _diamond(x: float, y: float, r: float) -> list[tuple[float, float]]:
    return [(x, y - r), (x + r, y), (x, y + r), (x - r, y)]


def to_svg(plot: Layout) -> str:
    """The plot as an inline ``<svg id="tradeoff">`` element (no external references)."""
    left, top, right, bottom = plot.box
    middle = (top + bottom) / 2
    out = [
        f'<svg id="tradeoff" xmlns="http://www.w3.org/2000/svg" width="{plot.width}" '
        f'height="{plot.height}" viewBox="0 0 {plot.width} {plot.height}" role="img" '
        f'aria-label="{escape(TITLE)}">',
        f'<rect x="0" y="0" width="{plot.width}" height="{plot.height}" fill="#ffffff"/>',
        f'<text x="{plot.width / 2}" y="20" text-anchor="middle" class="title">'
        f"{escape(TITLE)}</text>",
    ]
    for x, label in plot.x_ticks:
        out.append(f'<line x1="{x}" y1="{top}" x2="{x}" y2="{bottom}" class="grid"/>')
        out.append(f'<text x="{x}" y="{bottom + 16}" text-anchor="middle">{label}</text>')
    for y, label in plot.y_ticks:
        out.append(f'<line x1="{left}" y1="{y}" x2="{right}" y2="{y}" class="grid"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4}" text-anchor="end">{label}</text>')
    out += [
        f'<rect x="{left}" y="{top}" width="{right - left}" height="{bottom - top}" '
        'class="frame"/>',
        f'<text x="{(left + right) / 2}" y="{bottom + 38}" text-anchor="middle">'
        f"{escape(X_LABEL)}</text>",
        f'<text x="16" y="{middle}" text-anchor="middle" transform="rotate(-90 16 {middle})">'
        f"{escape(Y_LABEL)}</text>",
    ]
    for m in plot.markers:
        kind = "reported" if m.reported else "measured"
        out.append(_svg_marker(m.x, m.y, m.colour, m.reported, f"point {kind}", m.tooltip))
        out.append(
            f'<text x="{m.label_x}" y="{m.label_y}" text-anchor="{m.anchor}" '
            f'class="label {kind}">{escape(m.label)}</text>'
        )
    for y, s in plot.legend:
        out.append(_svg_marker(left + 6, y - 4, s.colour, s.reported, "legend", s.name))
        out.append(f'<text x="{left + 18}" y="{y}" class="legend">{escape(s.name)}</text>')
    out.append("</svg>")
    return "\n".join(out)


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


def write_png(plot: Layout, path: Path) -> None:
    """Draw the layout with PIL: the same picture as the SVG, deterministic bytes."""
    canvas = _Canvas(plot.width, plot.height, PNG_SCALE * SUPERSAMPLE)
    left, top, right, bottom = plot.box
    for x, label in plot.x_ticks:
        canvas.line([(x, top), (x, bottom)], "#e4e4e4")
        canvas.text(x, bottom + 16, label, TEXT_SIZE, "#333333", "middle")
    for y, label in plot.y_ticks:
        canvas.line([(left, y), (right, y)], "#e4e4e4")
        canvas.text(left - 6, y + 4, label, TEXT_SIZE, "#333333", "end")
    canvas.line(
        [(left, top), (right, top), (right, bottom), (left, bottom), (left, top)], "#333333"
    )
    canvas.text(plot.width / 2, 20, TITLE, TITLE_SIZE, "#111111", "middle")
    canvas.text((left + right) / 2, bottom + 38, X_LABEL, TEXT_SIZE, "#111111", "middle")
    # The y label: drawn horizontally on its own canvas, then turned a quarter.
    label = _Canvas(int(_font(TEXT_SIZE).getlength(Y_LABEL)) + 4, TEXT_SIZE + 6, canvas.scale)
    label.text(2, TEXT_SIZE + 1, Y_LABEL, TEXT_SIZE, "#111111", "start")
    turned = label.image.rotate(90, expand=True)
    cx, cy = canvas.xy(16, (top + bottom) / 2)
    canvas.image.paste(turned, (int(cx - turned.width / 2), int(cy - turned.height / 2)))
    for m in plot.markers:
        canvas.marker(m.x, m.y, m.colour, m.reported)
        colour = "#666666" if m.reported else "#111111"
        canvas.text(m.label_x, m.label_y, m.label, LABEL_SIZE, colour, m.anchor)
    for y, series in plot.legend:
        canvas.marker(left + 6, y - 4, series.colour, series.reported)
        canvas.text(left + 18, y, series.name, TEXT_SIZE, "#111111", "start")
    size = (plot.width * PNG_SCALE, plot.height * PNG_SCALE)
    image = canvas.image.resize(size, Image.Resampling.LANCZOS)
    with atomic_path(path) as temp:
        image.save(temp, format="PNG")
