"""`iebench preview DATA --out sheet.png`: a contact sheet of objects x views, with factors.

Reads the tree directly (images and per-view latent files), so it also works on a
tree still being rendered. Objects are taken round-robin over the synsets, so a
small sheet shows several categories.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from iebench.core.errors import IebenchError
from iebench.core.io import atomic_path
from iebench.data.imageio import read_image
from iebench.protocol.layout import image_path, latent_path
from iebench.protocol.taxonomy import is_synset, name_of

LABEL_WIDTH = 100  # left column: category and object id
LINE_HEIGHT = 12
TEXT_LINES = 4  # rotation; hues; spot light angles; translation (3DIEBench-T)
TEXT_WIDTH = 120  # a column is at least this wide so that the factor lines fit
PAD = 4
BACKGROUND = (255, 255, 255)
INK = (0, 0, 0)
MISSING = (200, 200, 200)
CORRUPT = (230, 150, 150)


@dataclass(frozen=True)
class SheetLayout:
    objects: int
    views: int
    cell: int

    @property
    def column_width(self) -> int:
        return max(self.cell, TEXT_WIDTH) + PAD

    @property
    def row_height(self) -> int:
        return self.cell + TEXT_LINES * LINE_HEIGHT + 2 * PAD

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the sheet in pixels."""
        return LABEL_WIDTH + self.views * self.column_width, self.objects * self.row_height


def pick_objects(root: Path, count: int) -> list[tuple[str, str]]:
    """Up to ``count`` objects with a first view on disk, round-robin over sorted synsets."""
    per_synset = []
    for synset in sorted(p for p in Path(root).iterdir() if p.is_dir() and is_synset(p.name)):
        ids = sorted(
            p.name for p in synset.iterdir() if image_path(root, synset.name, p.name, 0).is_file()
        )
        per_synset.append([(synset.name, object_id) for object_id in ids])
    picked = []
    for rank in range(max((len(ids) for ids in per_synset), default=0)):
        picked += [ids[rank] for ids in per_synset if rank < len(ids)]
        if len(picked) >= count:
            break
    return picked[:count]


def factor_lines(latent: np.ndarray) -> list[str]:
    """The factors of one view as short lines (angles in radians)."""
    a, b, c, floor, theta, phi, light = latent[:7]
    lines = [
        f"rot {a:+.2f} {b:+.2f} {c:+.2f}",
        f"floor {floor:.2f} light {light:.2f}",
        f"spot th {theta:.2f} ph {phi:.2f}",
    ]
    if len(latent) > 7:
        lines.append("t " + " ".join(f"{t:+.2f}" for t in latent[7:10]))
    return lines


@dataclass(frozen=True)
class ContactSheet:
    """The sheet, and the files on it that are on disk but unreadable (drawn as corrupt)."""

    image: Image.Image
    corrupt: tuple[str, ...]  # "<path>: <problem>", one per file


def contact_sheet(
    root: str | Path, objects: int = 6, views: int = 8, cell: int = 128
) -> ContactSheet:
    """The sheet of the first ``objects`` objects (round-robin over synsets), views 0..views-1
    (fewer when no object has that many on disk). A view absent from disk is drawn grey as
    missing; one present but undecodable, red as corrupt, and listed in ``corrupt``."""
    root = Path(root)
    if not root.is_dir():
        raise IebenchError(f"{root}: dataset root is not a directory")
    chosen = pick_objects(root, objects)
    if not chosen:
        raise IebenchError(f"{root}: no rendered objects (<synset>/<id>/image_0.jpg) found")
    views = min(views, max(_views_on_disk(root, *obj) for obj in chosen))
    layout = SheetLayout(len(chosen), views, cell)
    sheet = Image.new("RGB", layout.size, BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    corrupt: list[str] = []
    for row, (synset, object_id) in enumerate(chosen):
        top = row * layout.row_height + PAD
        draw.text((PAD, top), f"{name_of(synset)}\n{synset}\n{object_id[:14]}", fill=INK, font=font)
        for view in range(views):
            left = LABEL_WIDTH + view * layout.column_width
            corrupt += _draw_view(
                sheet, draw, font, root, synset, object_id, view, (left, top), cell
            )
    return ContactSheet(sheet, tuple(corrupt))


def _views_on_disk(root: Path, synset: str, object_id: str) -> int:
    """Views 0..n-1 present for an object (a tree may have fewer than 50)."""
    count = 0
    while image_path(root, synset, object_id, count).is_file():
        count += 1
    return count


def _draw_view(sheet, draw, font, root, synset, object_id, view, corner, cell) -> list[str]:
    """Draw one view and its factors; returns the problems of its files present but corrupt."""
    left, top = corner
    corrupt = []
    image = image_path(root, synset, object_id, view)
    try:
        pixels = read_image(image, cell)
        sheet.paste(Image.fromarray(pixels[:cell, :cell]), (left, top))
    except IebenchError as error:
        present = image.is_file()
        draw.rectangle(
            (left, top, left + cell - 1, top + cell - 1), fill=CORRUPT if present else MISSING
        )
        state = "corrupt" if present else "missing"
        draw.text((left + PAD, top + PAD), f"view {view}\n{state}", fill=INK, font=font)
        if present:
            corrupt.append(str(error))
    latent_file = latent_path(root, synset, object_id, view)
    try:
        lines = factor_lines(np.load(latent_file, allow_pickle=False))
    except FileNotFoundError:
        lines = ["no latent file"]
    except (ValueError, OSError, EOFError) as error:
        lines = ["corrupt latent file"]
        corrupt.append(f"{latent_file}: not a readable .npy array ({error})")
    for k, line in enumerate(lines):
        draw.text((left, top + cell + 1 + k * LINE_HEIGHT), line, fill=INK, font=font)
    return corrupt


def write_sheet(sheet: Image.Image, out: Path) -> None:
    with atomic_path(out) as temp:
        sheet.save(temp, format="PNG")
