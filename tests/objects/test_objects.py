"""The built-in object set: ShapeNet v2 layout, normalisation, variety, determinism, cache, CLI."""

from __future__ import annotations

import json
import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import trimesh
from click.testing import CliRunner
from PIL import Image
from scipy.spatial import Delaunay, cKDTree

from iebench.cli import cli
from iebench.core.errors import IebenchError
from iebench.objects import BUILTIN_CATEGORIES, GENERATOR_VERSION, builtin_objects, make_object_set
from iebench.objects.shapenet import discover
from iebench.objects.surfaces import TEXTURE_SIZE
from iebench.protocol import taxonomy

PER_CLASS = 3
REQUIRED = ("airplane", "bench", "bottle", "car", "chair", "lamp", "mug", "sofa", "table")
FLOOR_STANDING = ("chair", "table", "bench", "sofa", "bed", "lamp", "bottle", "mug", "bowl")


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def load_mesh(path: Path) -> trimesh.Trimesh:
    return trimesh.load(path, force="mesh")


def descriptor(mesh: trimesh.Trimesh) -> np.ndarray:
    """D2 shape distribution (distances between random surface points) + sorted extents."""
    points = trimesh.sample.sample_surface(mesh, 1024, seed=0)[0]
    first, second = np.random.default_rng(0).integers(0, len(points), (2, 4000))
    distances = np.linalg.norm(points[first] - points[second], axis=1)
    histogram = np.histogram(distances, bins=16, range=(0, 1))[0] / len(distances)
    return np.concatenate([histogram, np.sort(mesh.extents)])


@pytest.fixture(scope="module")
def object_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_object_set(tmp_path_factory.mktemp("objects"), PER_CLASS, seed=0)


@pytest.fixture(scope="module")
def meshes(object_set: Path) -> dict[str, list[trimesh.Trimesh]]:
    by_class: dict[str, list[trimesh.Trimesh]] = {}
    for found in discover(object_set).objects:
        by_class.setdefault(taxonomy.name_of(found.synset), []).append(load_mesh(found.mesh))
    return by_class


def test_covers_at_least_twelve_real_categories() -> None:
    names = {taxonomy.name_of(synset) for synset in BUILTIN_CATEGORIES}
    assert len(BUILTIN_CATEGORIES) >= 12
    assert set(REQUIRED) | {"watercraft"} <= names
    assert list(BUILTIN_CATEGORIES) == sorted(BUILTIN_CATEGORIES)


def test_shapenet_v2_layout_found_by_discover(object_set: Path) -> None:
    found = discover(object_set)
    assert found.skipped == []
    assert len(found.objects) == PER_CLASS * len(BUILTIN_CATEGORIES)
    assert {o.synset for o in found.objects} == set(BUILTIN_CATEGORIES)
    for obj in found.objects:
        assert re.fullmatch(r"[0-9a-f]{32}", obj.object_id)
        assert obj.mesh == object_set / obj.synset / obj.object_id / "models/model_normalized.obj"
        info = json.loads(obj.mesh.with_suffix(".json").read_text())
        assert info["id"] == obj.object_id
        assert set(info) == {"id", "numVertices", "min", "max", "centroid"}


def test_meshes_are_normalised_like_shapenet(object_set: Path) -> None:
    for obj in discover(object_set).objects:
        mesh = load_mesh(obj.mesh)
        low, high = mesh.bounds
        assert np.abs((low + high) / 2).max() < 1e-6, obj.key
        assert abs(np.linalg.norm(high - low) - 1) < 1e-6, obj.key
        assert 0 < len(mesh.faces) < 5000 and mesh.volume > 0, obj.key  # normals face out
        info = json.loads(obj.mesh.with_suffix(".json").read_text())
        vertices = np.array(
            [line.split()[1:] for line in obj.mesh.read_text().splitlines() if line[:2] == "v "],
            dtype=float,
        )
        assert info["numVertices"] == len(vertices)
        np.testing.assert_allclose(info["min"], vertices.min(axis=0), atol=1e-9)
        np.testing.assert_allclose(info["max"], vertices.max(axis=0), atol=1e-9)
        np.testing.assert_allclose(info["centroid"], vertices.mean(axis=0), atol=1e-6)


def test_every_object_has_coloured_materials(object_set: Path) -> None:
    for obj in discover(object_set).objects:
        text = obj.mesh.read_text()
        assert "mtllib model_normalized.mtl" in text
        used = set(re.findall(r"^usemtl (\S+)$", text, re.M))
        mtl = obj.mesh.with_suffix(".mtl").read_text()
        defined = dict(re.findall(r"^newmtl (\S+)\nKa .*\nKd (.+)$", mtl, re.M))
        assert len(used) >= 2 and used == set(defined), obj.key
        colours = {tuple(float(v) for v in kd.split()) for kd in defined.values()}
        assert len(colours) == len(defined) and all(0 <= c <= 1 for kd in colours for c in kd)
        scene = trimesh.load(obj.mesh, force="scene")
        assert len(scene.geometry) == len(used)


def test_surfaces_mix_flat_colours_and_textures_like_shapenet(object_set: Path) -> None:
    textured = plain = 0
    for obj in discover(object_set).objects:
        text = obj.mesh.read_text()
        vertices, coordinates = text.count("\nv "), text.count("\nvt ")
        assert vertices <= coordinates <= 3 * vertices, obj.key  # one (u, v) per projection axis
        assert re.search(r"^f \d+/\d+ \d+/\d+ \d+/\d+$", text, re.M), obj.key
        mtl = obj.mesh.with_suffix(".mtl").read_text()
        maps = re.findall(r"^map_Kd (\S+)$", mtl, re.M)
        textured += len(maps)
        plain += mtl.count("newmtl ") - len(maps)
        for name in maps:  # ShapeNet's place: <id>/images/, referenced from models/
            path = (obj.mesh.parent / name).resolve()
            assert path.parent == (obj.mesh.parent.parent / "images").resolve(), obj.key
            with Image.open(path) as image:
                assert image.format == "PNG" and image.size == (TEXTURE_SIZE, TEXTURE_SIZE)
                assert len(image.getcolors(TEXTURE_SIZE**2)) >= 2, obj.key  # a pattern
        uv = np.array(re.findall(r"^vt (\S+) (\S+)$", text, re.M), dtype=float)
        # Box projection at UV_SCALE tiles per unit: the longest side spans over one tile.
        assert np.isfinite(uv).all() and np.ptp(uv, axis=0).max() > 1.0, obj.key
    assert 0.35 < textured / (textured + plain) < 0.85


# Classes whose real counterparts have a front (+Z in the generators' frame), and classes
# that are symmetric front to back.
FRONTED = ("airplane", "bed", "bench", "car", "chair", "guitar", "laptop", "rifle", "sofa")
FRONTED += ("watercraft",)
SYMMETRIC = ("bottle", "bowl", "table")


def front_back_asymmetry(mesh: trimesh.Trimesh) -> float:
    """Mean distance of the surface mirrored front to back (Z -> -Z) from the surface, over
    the same distance unmirrored (the sampling's own noise): about 1 for a symmetric object."""
    first = trimesh.sample.sample_surface(mesh, 2000, seed=0)[0]
    second = cKDTree(trimesh.sample.sample_surface(mesh, 2000, seed=1)[0])
    return second.query(first * (1, 1, -1))[0].mean() / second.query(first)[0].mean()


def test_classes_with_a_front_show_it(meshes: dict[str, list[trimesh.Trimesh]]) -> None:
    for name in FRONTED:
        assert all(front_back_asymmetry(mesh) > 1.05 for mesh in meshes[name]), name
    for name in SYMMETRIC:
        assert all(front_back_asymmetry(mesh) < 1.05 for mesh in meshes[name]), name


def test_objects_are_upright_with_y_up(meshes: dict[str, list[trimesh.Trimesh]]) -> None:
    for name in FLOOR_STANDING:
        for mesh in meshes[name]:
            # It stands: the surface centroid lies over the footprint of what touches the floor.
            floor = mesh.vertices[mesh.vertices[:, 1] < mesh.bounds[0, 1] + 2e-3][:, [0, 2]]
            centre = (mesh.triangles_center * mesh.area_faces[:, None]).sum(0) / mesh.area
            assert Delaunay(floor).find_simplex(centre[[0, 2]]) >= 0, name
    for name in ("chair", "bottle", "guitar"):
        assert all(np.argmax(mesh.extents) == 1 for mesh in meshes[name]), name
    assert all(np.argmin(mesh.extents) == 1 for mesh in meshes["airplane"])
    assert all(mesh.extents[1] < mesh.extents[2] / 2 for mesh in meshes["car"])  # long, low
    for mesh in meshes["table"]:  # the top is at max Y and covers the whole footprint
        top = mesh.vertices[mesh.vertices[:, 1] > mesh.bounds[1, 1] - 0.01]
        np.testing.assert_allclose(np.ptp(top[:, [0, 2]], axis=0), mesh.extents[[0, 2]], atol=1e-6)


def test_classes_differ_in_shape_more_than_instances(
    meshes: dict[str, list[trimesh.Trimesh]],
) -> None:
    labels = np.array([name for name, group in meshes.items() for _ in group])
    features = np.array([descriptor(mesh) for group in meshes.values() for mesh in group])
    distances = np.linalg.norm(features[:, None] - features[None], axis=2)
    same = labels[:, None] == labels[None]
    within = distances[same & ~np.eye(len(labels), dtype=bool)].mean()
    across = distances[~same].mean()
    assert across > 1.5 * within
    np.fill_diagonal(distances, np.inf)
    nearest_accuracy = (labels[distances.argmin(axis=1)] == labels).mean()
    assert nearest_accuracy > 3 / len(meshes)  # far above chance, from shape alone


def test_instances_of_a_class_vary(meshes: dict[str, list[trimesh.Trimesh]]) -> None:
    for name, group in meshes.items():
        extents = [tuple(np.round(mesh.extents, 4)) for mesh in group]
        assert len(set(extents)) == len(group), name
        shapes = {(len(mesh.vertices), round(float(mesh.area), 5)) for mesh in group}
        assert len(shapes) == len(group), name


def test_same_seed_gives_identical_bytes_other_seed_differs(tmp_path: Path) -> None:
    first = make_object_set(tmp_path / "a", 2, seed=0, categories=["chair", "airplane"])
    again = make_object_set(tmp_path / "b", 2, seed=0, categories=["03001627", "02691156"])
    other = make_object_set(tmp_path / "c", 2, seed=1, categories=["chair", "airplane"])
    assert tree_bytes(first) == tree_bytes(again)
    reference = tree_bytes(first)
    changed = tree_bytes(other)
    assert not set(reference) & set(changed) - {"iebench-objects.json"}  # other ids
    obj = sorted(p for p in reference if p.endswith(".obj"))
    assert {reference[p] for p in obj}.isdisjoint(changed[p] for p in changed if p.endswith(".obj"))
    # An object depends only on (seed, category, index), not on what else is made.
    alone = make_object_set(tmp_path / "d", 1, seed=0, categories=["chair"])
    for path, data in tree_bytes(alone).items():
        if path.endswith(("obj", "mtl")):
            assert reference[path] == data


def test_rerun_keeps_complete_objects_and_repairs_missing_ones(tmp_path: Path) -> None:
    out = make_object_set(tmp_path / "set", 2, seed=5, categories=["mug", "car"])
    before = tree_bytes(out)
    objs = sorted(out.rglob("model_normalized.obj"))
    stamps = {p: p.stat().st_mtime_ns for p in objs}
    objs[0].unlink()  # as if killed before the OBJ was renamed into place
    make_object_set(out, 3, seed=5, categories=["mug", "car"])
    assert all(p.stat().st_mtime_ns == stamps[p] for p in objs[1:])
    after = tree_bytes(out)
    assert {p: after[p] for p in before if p != "iebench-objects.json"} == {
        p: d for p, d in before.items() if p != "iebench-objects.json"
    }
    assert len(discover(out).objects) == 6
    manifest = json.loads((out / "iebench-objects.json").read_text())
    assert manifest["seed"] == 5 and manifest["generator_version"] == GENERATOR_VERSION
    assert manifest["objects_per_category"] == {"02958343": 3, "03797390": 3}
    assert not [p for p in out.rglob(".tmp-*")]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"per_class": 0}, "per_class"),
        ({"seed": -1}, "seed"),
        ({"categories": ["cap"]}, "no built-in generator for cap"),
        ({"categories": ["spaceship"]}, "unknown ShapeNetCore category"),
    ],
)
def test_bad_arguments_raise_one_line_errors(tmp_path: Path, kwargs: dict, message: str) -> None:
    arguments = {"per_class": 1, "seed": 0, "categories": None} | kwargs
    with pytest.raises(IebenchError, match=message) as error:
        make_object_set(tmp_path / "out", **arguments)
    assert "\n" not in str(error.value)


def test_refuses_folders_that_hold_something_else(tmp_path: Path) -> None:
    make_object_set(tmp_path / "set", 1, seed=0, categories=["bowl"])
    with pytest.raises(IebenchError, match="seed 0"):
        make_object_set(tmp_path / "set", 1, seed=1, categories=["bowl"])
    (tmp_path / "shapenet").mkdir()
    (tmp_path / "shapenet" / "taxonomy.json").write_text("[]")
    with pytest.raises(IebenchError, match="not a built-in object set"):
        make_object_set(tmp_path / "shapenet", 1, seed=0)
    (tmp_path / "file").write_text("")
    with pytest.raises(IebenchError, match="not a directory"):
        make_object_set(tmp_path / "file", 1, seed=0)


def test_builtin_objects_are_made_once_into_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IEBENCH_CACHE", str(tmp_path / "cache"))
    with ThreadPoolExecutor(3) as pool:  # concurrent first callers all get the one complete set
        roots = set(pool.map(lambda _: builtin_objects(per_class=1, seed=2), range(3)))
    assert roots == {tmp_path / "cache" / "objects" / f"1-2-v{GENERATOR_VERSION}"}
    root = roots.pop()
    assert len(discover(root).objects) == len(BUILTIN_CATEGORIES)
    assert os.listdir(root.parent) == [root.name]  # no temporary folders left behind
    stamp = root.stat().st_mtime_ns
    assert builtin_objects(per_class=1, seed=2) == root and root.stat().st_mtime_ns == stamp
    default = builtin_objects()
    assert default.name == f"4-0-v{GENERATOR_VERSION}"
    assert len(discover(default).objects) == 4 * len(BUILTIN_CATEGORIES)


def test_cli_make_and_list(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "objects"
    args = ["objects", "make", str(out), "--per-class", "2", "--seed", "3"]
    result = runner.invoke(cli, [*args, "--categories", "airplane,chair"])
    assert result.exit_code == 0, result.output
    assert result.output.count("\n") == 1 and "4 objects in 2 categories" in result.output
    assert len(discover(out).objects) == 4
    listed = runner.invoke(cli, ["objects", "list"])
    assert listed.exit_code == 0
    assert len(listed.output.splitlines()) == len(BUILTIN_CATEGORIES)
    assert "03001627  18  chair" in listed.output


@pytest.mark.parametrize("bad", [["--categories", "cap"], ["--per-class", "0"], ["--seed", "-3"]])
def test_cli_bad_argument_prints_one_line(tmp_path: Path, bad: list[str]) -> None:
    result = CliRunner().invoke(cli, ["objects", "make", str(tmp_path / "o"), *bad])
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and result.output.count("\n") == 1
