"""An assembly as ShapeNetCore v2 files: normalised OBJ with texture coordinates, its MTL,
model_normalized.json and the textures under ``images/`` (as ShapeNet keeps them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from iebench.core.io import write_bytes_atomic, write_json_atomic, write_text_atomic
from iebench.objects.parts import Assembly
from iebench.objects.surfaces import Surface

MODEL_DIR = Path("models")
OBJ_NAME = "model_normalized.obj"
MTL_NAME = "model_normalized.mtl"
JSON_NAME = "model_normalized.json"
IMAGE_DIR = Path("images")
# Seven decimals keep the written bounding box within 1e-7 of centred, diagonal 1.
DECIMALS = 7
# Texture tiles per unit of the normalised model (its diagonal is 1).
UV_SCALE = 2.0


@dataclass(frozen=True)
class ObjectFiles:
    obj: str
    mtl: str
    info: dict[str, object]
    textures: dict[str, bytes] = field(default_factory=dict)  # path under the object -> PNG

    def write(self, directory: Path) -> None:
        """Write the files; the OBJ goes last, so its presence marks a complete object."""
        for name, data in self.textures.items():
            write_bytes_atomic(directory / name, data)
        models = directory / MODEL_DIR
        write_text_atomic(models / MTL_NAME, self.mtl)
        write_json_atomic(models / JSON_NAME, self.info)
        write_text_atomic(models / OBJ_NAME, self.obj)


def is_complete(directory: Path) -> bool:
    models = directory / MODEL_DIR
    return all((models / name).is_file() for name in (MTL_NAME, JSON_NAME, OBJ_NAME))


def normalised(vertices: np.ndarray) -> np.ndarray:
    """ShapeNet v2 normalisation: bounding-box centre at the origin, diagonal 1."""
    low, high = vertices.min(axis=0), vertices.max(axis=0)
    scaled = (vertices - (low + high) / 2) / np.linalg.norm(high - low)
    return np.round(scaled, DECIMALS) + 0.0  # + 0.0 turns -0.0 into 0.0


def texture_coordinates(points: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Box-projected UVs: each face takes the two coordinates across its normal's main axis.

    Returns the distinct (u, v) pairs and, per face corner, the index of its pair
    (a vertex gets one pair per axis it is projected along, so at most three).
    """
    corners = points[faces]
    normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    axis = np.argmax(np.abs(normals), axis=1)
    keys = faces * 3 + axis[:, None]
    unique, index = np.unique(keys.ravel(), return_inverse=True)
    vertex, along = np.divmod(unique, 3)
    across = np.array([[1, 2], [0, 2], [0, 1]])[along]
    uv = np.take_along_axis(points[vertex], across, axis=1) * UV_SCALE
    return uv, index.reshape(faces.shape)


def object_files(assembly: Assembly, surfaces: list[Surface], object_id: str) -> ObjectFiles:
    """Files of one object; parts are grouped by material so each gets one ``usemtl``."""
    parts = sorted(enumerate(assembly.parts), key=lambda item: (item[1][1], item[0]))
    vertices, faces, materials = [], [], []
    offset = 0
    for _, (mesh, material) in parts:
        vertices.append(np.asarray(mesh.vertices, dtype=float))
        faces.append(np.asarray(mesh.faces, dtype=np.int64) + offset)
        materials.append(np.full(len(mesh.faces), material))
        offset += len(mesh.vertices)
    points = normalised(np.concatenate(vertices))
    faces, materials = np.concatenate(faces), np.concatenate(materials)
    uv, uv_index = texture_coordinates(points, faces)
    used = sorted(set(materials.tolist()))
    lines = [f"# iebench built-in object {object_id}\n", f"mtllib {MTL_NAME}\n", "o object\n"]
    lines.append(("v %.7f %.7f %.7f\n" * len(points)) % tuple(points.ravel()))
    lines.append(("vt %.5f %.5f\n" * len(uv)) % tuple(uv.ravel()))
    for material in used:
        chosen = materials == material
        # OBJ counts from 1; a corner is vertex/texture-coordinate.
        corners = np.stack([faces[chosen] + 1, uv_index[chosen] + 1], axis=2)
        lines.append(f"usemtl material_{material}\n")
        lines.append(("f %d/%d %d/%d %d/%d\n" * len(corners)) % tuple(corners.ravel()))
    mtl = [f"# iebench built-in object {object_id}\n"]
    textures = {}
    for material in used:
        surface = surfaces[material]
        red, green, blue = surface.colour
        mtl.append(
            f"\nnewmtl material_{material}\nKa 0.000000 0.000000 0.000000\n"
            f"Kd {red:.6f} {green:.6f} {blue:.6f}\nKs 0.050000 0.050000 0.050000\n"
            "Ns 20.000000\nd 1.000000\nillum 2\n"
        )
        if surface.pattern is not None:
            name = IMAGE_DIR / f"texture_{material}.png"
            textures[str(name)] = surface.texture_png()
            mtl.append(f"map_Kd ../{name}\n")
    info = {
        "id": object_id,
        "numVertices": len(points),
        "min": points.min(axis=0).tolist(),
        "max": points.max(axis=0).tolist(),
        "centroid": (np.round(points.mean(axis=0), DECIMALS) + 0.0).tolist(),
    }
    return ObjectFiles("".join(lines), "".join(mtl), info, textures)
