"""An assembly as ShapeNetCore v2 files: normalised OBJ, its MTL and model_normalized.json."""

from __future__ import annotations

import colorsys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from iebench.core.io import write_json_atomic, write_text_atomic
from iebench.objects.parts import Assembly

MODEL_DIR = Path("models")
OBJ_NAME = "model_normalized.obj"
MTL_NAME = "model_normalized.mtl"
JSON_NAME = "model_normalized.json"
# Seven decimals keep the written bounding box within 1e-7 of centred, diagonal 1.
DECIMALS = 7


@dataclass(frozen=True)
class ObjectFiles:
    obj: str
    mtl: str
    info: dict[str, object]

    def write(self, directory: Path) -> None:
        """Write the three files; the OBJ goes last, so its presence marks a complete object."""
        models = directory / MODEL_DIR
        write_text_atomic(models / MTL_NAME, self.mtl)
        write_json_atomic(models / JSON_NAME, self.info)
        write_text_atomic(models / OBJ_NAME, self.obj)


def is_complete(directory: Path) -> bool:
    models = directory / MODEL_DIR
    return all((models / name).is_file() for name in (MTL_NAME, JSON_NAME, OBJ_NAME))


def random_colours(rng: np.random.Generator, count: int) -> list[tuple[float, float, float]]:
    """Diffuse colours drawn the same way for every category, so colour never tells the class."""
    colours = []
    for _ in range(count):
        hue, saturation, value = rng.uniform(0, 1), rng.uniform(0.15, 0.9), rng.uniform(0.3, 0.95)
        colours.append(colorsys.hsv_to_rgb(hue, saturation, value))
    return colours


def normalised(vertices: np.ndarray) -> np.ndarray:
    """ShapeNet v2 normalisation: bounding-box centre at the origin, diagonal 1."""
    low, high = vertices.min(axis=0), vertices.max(axis=0)
    scaled = (vertices - (low + high) / 2) / np.linalg.norm(high - low)
    return np.round(scaled, DECIMALS) + 0.0  # + 0.0 turns -0.0 into 0.0


def object_files(
    assembly: Assembly, colours: list[tuple[float, float, float]], object_id: str
) -> ObjectFiles:
    """Files of one object; parts are grouped by material so each gets one ``usemtl``."""
    parts = sorted(enumerate(assembly.parts), key=lambda item: (item[1][1], item[0]))
    vertices, faces, materials = [], [], []
    offset = 0
    for _, (mesh, material) in parts:
        vertices.append(np.asarray(mesh.vertices, dtype=float))
        faces.append(np.asarray(mesh.faces, dtype=np.int64) + offset + 1)  # OBJ counts from 1
        materials.append(material)
        offset += len(mesh.vertices)
    points = normalised(np.concatenate(vertices))
    used = sorted(set(materials))
    lines = [f"# iebench built-in object {object_id}\n", f"mtllib {MTL_NAME}\n", "o object\n"]
    lines.append(("v %.7f %.7f %.7f\n" * len(points)) % tuple(points.ravel()))
    for material in used:
        block = np.concatenate([f for f, m in zip(faces, materials, strict=True) if m == material])
        lines.append(f"usemtl material_{material}\n")
        lines.append(("f %d %d %d\n" * len(block)) % tuple(block.ravel()))
    mtl = [f"# iebench built-in object {object_id}\n"]
    for material in used:
        red, green, blue = colours[material]
        mtl.append(
            f"\nnewmtl material_{material}\nKa 0.000000 0.000000 0.000000\n"
            f"Kd {red:.6f} {green:.6f} {blue:.6f}\nKs 0.050000 0.050000 0.050000\n"
            "Ns 20.000000\nd 1.000000\nillum 2\n"
        )
    info = {
        "id": object_id,
        "numVertices": len(points),
        "min": points.min(axis=0).tolist(),
        "max": points.max(axis=0).tolist(),
        "centroid": (np.round(points.mean(axis=0), DECIMALS) + 0.0).tolist(),
    }
    return ObjectFiles("".join(lines), "".join(mtl), info)
