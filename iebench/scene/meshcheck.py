"""Checks of an OBJ model before Blender sees it, so that a bad file fails its object with a
reason instead of crashing or hanging a worker. Pure Python (no Blender)."""

from __future__ import annotations

import math
from pathlib import Path

from iebench.core.errors import IebenchError

MAX_FACES = 5_000_000
MAX_BYTES = 2 << 30


class MeshError(IebenchError):
    """The object's model cannot be rendered; the message says why."""


def check_obj(path: Path, max_faces: int = MAX_FACES) -> None:
    """Raise MeshError when ``path`` is not a renderable OBJ.

    Fatal: a non-UTF-8 name, an empty, binary or huge file, no vertices or faces,
    more than ``max_faces`` faces, an unparsable vertex or face line, a face that
    refers to a missing vertex, a missing material library. (Missing textures are
    not fatal: the renderer drops them.)
    """
    path = Path(path)
    data = _read_model(path)
    faces = data.count(b"\nf ") + data.startswith(b"f ")
    if faces > max_faces:
        raise MeshError(f"{path}: {faces} faces, more than the limit of {max_faces}")
    vertices, libraries = _scan_lines(path, data)
    if vertices == 0 or faces == 0:
        raise MeshError(f"{path}: no {'vertices' if vertices == 0 else 'faces'}")
    for name in libraries:
        if not (path.parent / name).is_file():
            raise MeshError(f"{path}: missing material library {name}")


def _read_model(path: Path) -> bytes:
    """The file's bytes, once its name, size and kind are known to be those of a text OBJ."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        raise MeshError(f"{path!r}: non-UTF-8 file name") from None
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise MeshError(f"{path}: {size / 2**30:.1f} GiB, too large for a model")
        data = path.read_bytes()
    except OSError as error:
        raise MeshError(f"{path}: cannot read ({error.strerror or error})") from None
    if not data.strip():
        raise MeshError(f"{path}: empty file")
    if b"\0" in data[: 1 << 16]:
        raise MeshError(f"{path}: binary data, not a text OBJ file")
    return data


def _scan_lines(path: Path, data: bytes) -> tuple[int, list[str]]:
    """(vertex count, material libraries), checking every vertex and face line on the way."""
    vertices = 0
    libraries: list[str] = []
    for number, line in enumerate(data.splitlines(), 1):
        head = line[:2]
        if head == b"v ":
            _check_vertex(path, number, line)
            vertices += 1
        elif head == b"f ":
            _check_face(path, number, line, vertices)
        elif line.startswith(b"mtllib "):
            libraries += [name.decode("utf-8", "replace") for name in line.split()[1:]]
    return vertices, libraries


def _check_vertex(path: Path, number: int, line: bytes) -> None:
    try:
        coords = [float(t) for t in line.split()[1:4]]
    except ValueError:
        coords = []
    if len(coords) != 3 or not all(math.isfinite(c) for c in coords):
        raise MeshError(f"{path}:{number}: bad vertex line")


def _check_face(path: Path, number: int, line: bytes, vertices: int) -> None:
    try:
        indices = [int(t.split(b"/", 1)[0]) for t in line.split()[1:]]
    except ValueError:
        raise MeshError(f"{path}:{number}: bad face line") from None
    # Negative indices count back from the last vertex read so far.
    if len(indices) < 3 or any(i == 0 or i > vertices or -i > vertices for i in indices):
        raise MeshError(f"{path}:{number}: face refers to a missing vertex")
