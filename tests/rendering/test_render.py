"""`iebench render` with real Blender renders (tiny: 32 px, preview preset, a few views)."""

from __future__ import annotations

import colorsys
import csv
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import RENDERED_RESOLUTION, RENDERED_VIEWS
from PIL import Image

from iebench.data.validate import validate_tree
from iebench.objects import make_object_set
from iebench.protocol import taxonomy
from iebench.protocol.checksums import Checksums
from iebench.protocol.factors import FactorSpec, sample_object, sample_view
from iebench.protocol.layout import image_path, latent_path, parse_object_key, split_files
from iebench.rendering import RenderConfig, render_objects

pytestmark = pytest.mark.blender

SMALL = ["--preset", "preview", "--resolution", str(RENDERED_RESOLUTION), "--quiet"]


def objects_root(tree: Path) -> Path:
    return tree.parent / "objects"


def render_command(objects: Path, out: Path, *extra: str) -> list[str]:
    command = [sys.executable, "-m", "iebench", "render", "--objects", str(objects)]
    return command + ["--out", str(out), *SMALL, *extra]


def object_dirs(tree: Path) -> list[Path]:
    return sorted(p for p in tree.glob("*/*") if p.is_dir())


def tree_files(tree: Path, synset: str | None = None) -> dict[str, bytes]:
    """Relative path -> bytes of every image and latent (of one category, if given)."""
    pattern = f"{synset or '*'}/*/*"
    return {str(p.relative_to(tree)): p.read_bytes() for p in sorted(tree.glob(pattern))}


def test_tree_has_the_published_layout_and_latents(rendered_tree):
    objects = object_dirs(rendered_tree)
    assert len(objects) == 12
    spec = FactorSpec.published()
    for directory in objects:
        synset, object_id = directory.parent.name, directory.name
        expected = sample_object(spec, 0, synset, object_id, RENDERED_VIEWS)
        assert sorted(p.name for p in directory.iterdir()) == sorted(
            [f"image_{i}.jpg" for i in range(RENDERED_VIEWS)]
            + [f"latent_{i}.npy" for i in range(RENDERED_VIEWS)]
            + ["checksums.json"]
        )
        for view in range(RENDERED_VIEWS):
            latent = np.load(latent_path(rendered_tree, synset, object_id, view))
            assert latent.dtype == np.float64 and latent.shape == (7,)
            assert np.array_equal(latent, expected[view])
            with Image.open(image_path(rendered_tree, synset, object_id, view)) as image:
                assert image.format == "JPEG" and image.mode == "RGB"
                assert image.size == (RENDERED_RESOLUTION, RENDERED_RESOLUTION)


def test_manifest_records_the_run(rendered_tree):
    manifest = json.loads((rendered_tree / "iebench.json").read_text())
    assert manifest["blender"]["blender"].startswith("5.0")
    assert manifest["config"]["seed"] == 0 and manifest["config"]["preset"] == "preview"
    assert manifest["factor_spec"]["name"] == "published"
    assert manifest["render_settings"]["resolution"] == RENDERED_RESOLUTION
    assert manifest["counts"]["complete"] == 12 and manifest["counts"]["failed"] == 0
    assert manifest["failures"] == []
    assert manifest["warnings"] == []  # the built-in objects' textures were all found
    assert (rendered_tree / "failures.csv").read_text() == "object,stage,reason\n"
    assert manifest["config"]["scene"] == "published" and manifest["scene"]["sun_casts_shadows"]


def test_split_files_agree_with_the_tree(rendered_tree):
    seen = set()
    for split, expected_objects in (("train", 8), ("val", 4)):
        files = split_files(rendered_tree, split)
        keys = np.load(files.images)
        labels = np.load(files.labels)
        latents = np.load(files.latents)
        assert len(keys) == expected_objects and labels.dtype == np.int64
        assert latents.shape == (expected_objects * RENDERED_VIEWS, 7)
        for index, key in enumerate(keys):
            assert key.startswith("/") and key.endswith("/")
            synset, object_id = parse_object_key(key)
            assert labels[index] == taxonomy.label_of(synset)
            for view in range(RENDERED_VIEWS):
                stored = np.load(latent_path(rendered_tree, synset, object_id, view))
                assert np.array_equal(latents[index * RENDERED_VIEWS + view], stored)
            seen.add((synset, object_id))
    assert len(seen) == 12  # every object in exactly one split
    val = np.load(split_files(rendered_tree, "val").images)
    assert sorted(parse_object_key(k)[0] for k in val) == sorted(
        ["02691156", "02958343", "03001627", "04379243"]
    )


def hue_error(a: float, b: float) -> float:
    return abs((a - b + 0.5) % 1.0 - 0.5)


def test_floor_colour_in_the_image_matches_the_latent_floor_hue(rendered_tree):
    """The top rows of every image show far floor, lit by the white sun only: their hue is
    the latent floor hue. This also catches swapped colour channels."""
    errors, shuffled = [], []
    images = sorted(rendered_tree.glob("*/*/image_*.jpg"))
    hues = []
    for image in images:
        latent = np.load(image.with_name(image.name.replace("image", "latent")[:-4] + ".npy"))
        pixels = np.asarray(Image.open(image), dtype=np.float64) / 255
        top = np.median(pixels[:3].reshape(-1, 3), axis=0)
        hue, saturation, _ = colorsys.rgb_to_hsv(*top)
        assert saturation > 0.2  # a coloured floor, not grey
        hues.append((hue, latent[3]))
    errors = [hue_error(seen, drawn) for seen, drawn in hues]
    shuffled = [hue_error(hues[i][0], hues[i - 1][1]) for i in range(len(hues))]
    assert max(errors) < 0.03
    assert np.mean(shuffled) > 0.1


def test_rendering_again_gives_identical_files(rendered_tree, tmp_path):
    config = RenderConfig(
        out=tmp_path / "again",
        objects=objects_root(rendered_tree),
        synsets="chair",
        views=RENDERED_VIEWS,
        preset="preview",
        resolution=RENDERED_RESOLUTION,
        workers=2,
        threads=1,
        recycle_after=1,  # a fresh worker for every object
        progress=False,
    )
    report = render_objects(config, log=lambda message: None)
    assert report.ok and report.images_rendered == 3 * RENDERED_VIEWS
    assert tree_files(config.out) == tree_files(rendered_tree, "03001627")
    # A process that died writing a split file leaves its temporary file in the root.
    dying = "import os, sys; from pathlib import Path; from iebench.core.io import atomic_path\n"
    dying += "with atomic_path(Path(sys.argv[1])): os._exit(0)"
    subprocess.run([sys.executable, "-c", dying, str(config.out / "train_images.npy")], check=True)
    assert len(list(config.out.glob(".tmp-train_images.npy.*"))) == 1
    # A second run finds everything complete, renders nothing and removes the dead file.
    report = render_objects(config, log=lambda message: None)
    assert report.images_rendered == 0 and report.images_found == 3 * RENDERED_VIEWS
    assert not list(config.out.glob(".tmp-*"))


def wait_for(condition, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(child) for child in text.split()]


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def counts(out: Path) -> tuple[int, int, int, bool]:
    """(images, latents, views in checksum records, split files written) of a tree."""
    records = 0
    for path in out.glob("*/*/checksums.json"):
        records += sum(name.startswith("image_") for name in json.loads(path.read_text()))
    return (
        len(list(out.glob("*/*/image_*.jpg"))),
        len(list(out.glob("*/*/latent_*.npy"))),
        records,
        (out / "train_images.npy").is_file(),
    )


def holds_lock(out: Path, pid: int) -> bool:
    lock = out / "iebench.lock"
    return lock.is_file() and f'"pid": {pid},' in lock.read_text()


def assert_nothing_partial(out: Path) -> None:
    """Every file under a final name is whole: recorded ones as recorded, latents loadable."""
    for path in out.glob("*/*/checksums.json"):
        record = Checksums.load(path.parent)
        for name in record.entries:
            assert record.matches(path.parent / name), path.parent / name
    for latent in out.glob("*/*/latent_*.npy"):
        np.load(latent)


# Kill moments, in the order a run reaches them: each kill -9s the run at the first poll
# that sees the condition, and the next run resumes from there. A condition reads the tree
# as this run found it (`start`) and as it is now: the relative ones ask for progress, so
# every such kill leaves a new state however far a loaded machine lets a run get between
# two polls.
KILL_MOMENTS = [
    ("lock taken, manifest written, no view yet", lambda start, now: True),
    ("a JPEG written", lambda start, now: now[0] > start[0]),
    ("a latent written", lambda start, now: now[1] > start[1]),
    ("a view recorded", lambda start, now: now[2] > start[2]),
    ("a latent written", lambda start, now: now[1] > start[1]),
    ("a view recorded", lambda start, now: now[2] > start[2]),
    ("a JPEG written", lambda start, now: now[0] > start[0]),
    ("a view recorded", lambda start, now: now[2] > start[2]),
    ("all 12 views recorded", lambda start, now: now[2] >= 12),
    ("split files written", lambda start, now: now[3]),
]


def test_a_run_killed_at_any_moment_resumes_to_the_same_dataset(rendered_tree, tmp_path):
    """kill -9 `iebench render` at 10 moments in turn (each run resuming the last), then
    resume to the end: the tree is byte for byte the uninterrupted one, nothing partial."""
    out = tmp_path / "killed"
    command = render_command(objects_root(rendered_tree), out, "--synsets", "airplane")
    # One Blender thread: the other core polls, so a kill lands close to its moment.
    command += ["--views", str(RENDERED_VIEWS), "--workers", "1", "--threads", "1"]
    states, stale = [], None
    for name, reached in KILL_MOMENTS:
        start = counts(out)
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        # A moment counts once this run holds the lock (and has written its manifest).
        def killable(process=process, reached=reached, start=start) -> bool:
            if not holds_lock(out, process.pid) or not (out / "iebench.json").is_file():
                return False
            return reached(start, counts(out))

        wait_for(lambda: process.poll() is not None or killable(), timeout=180)  # noqa: B023
        if process.poll() is not None:  # it finished before the moment came: not a kill
            stale = None  # and it released the lock
            continue
        workers = children(process.pid)
        process.send_signal(signal.SIGKILL)
        process.wait()
        # The workers die with their parent: nothing renders on behind our back.
        wait_for(lambda: not any(alive(pid) for pid in workers), timeout=10)  # noqa: B023
        states.append((name, counts(out)))
        assert_nothing_partial(out)
        # The dead run's lock is left, naming it (unless it had just released it, done).
        lock = (out / "iebench.lock").read_text()
        if lock:
            assert f'"pid": {process.pid},' in lock
        else:
            assert json.loads((out / "iebench.json").read_text())["status"] == "finished"
        stale = process.pid if lock else None
    kills = len(states)
    assert kills >= 8, states
    assert len({state for _, state in states}) >= 8, states  # at 8 or more different moments
    config = RenderConfig(
        out=out,
        objects=objects_root(rendered_tree),
        synsets="airplane",
        views=RENDERED_VIEWS,
        preset="preview",
        resolution=RENDERED_RESOLUTION,
        progress=False,
    )
    messages = []
    report = render_objects(config, log=messages.append)
    assert report.ok
    if stale is not None:
        assert f"taking over the lock of a run that died (pid {stale} on " in "\n".join(messages)
    assert not list(out.glob("**/.tmp-*")) and (out / "iebench.lock").read_text() == ""
    assert tree_files(out) == tree_files(rendered_tree, "02691156")
    for split in ("train", "val"):
        mine, full = split_files(out, split), split_files(rendered_tree, split)
        keys = np.load(full.images)
        rows = np.array([key.startswith("/02691156/") for key in keys])
        assert np.array_equal(np.load(mine.images), keys[rows])
        assert np.array_equal(np.load(mine.labels), np.load(full.labels)[rows])
        latents = np.load(full.latents).reshape(len(keys), RENDERED_VIEWS, -1)[rows]
        assert np.array_equal(np.load(mine.latents), latents.reshape(-1, latents.shape[-1]))


def test_a_second_render_into_a_tree_is_refused_naming_the_first(rendered_tree, tmp_path):
    out = tmp_path / "busy"
    command = render_command(objects_root(rendered_tree), out, "--synsets", "car", "--views", "40")
    first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: (out / "iebench.json").is_file())
        second = subprocess.run(command, capture_output=True, text=True)
    finally:
        first.kill()
        first.wait()
    assert second.returncode == 1 and second.stderr.count("\n") == 1, second.stderr
    assert f"{out}: another render is writing this tree (pid {first.pid} on " in second.stderr


def test_a_damaged_jpeg_is_found_and_rendered_again(rendered_tree, tmp_path):
    """Bytes inside the entropy-coded data overwritten (the end marker and the size intact):
    validate names the file, and a rerun renders that view again, identical to the first."""
    out = tmp_path / "damaged"
    shutil.copytree(rendered_tree, out)
    image = next(out.glob("02958343/*/image_2.jpg"))
    original = image.read_bytes()
    damaged = bytearray(original)
    damaged[-202:-2] = bytes(range(200))
    image.write_bytes(bytes(damaged))
    report = validate_tree(out)
    assert any(p.startswith(f"{image}: size or sha256 differs") for p in report.problems)
    config = RenderConfig(
        out=out,
        objects=objects_root(rendered_tree),
        views=RENDERED_VIEWS,
        preset="preview",
        resolution=RENDERED_RESOLUTION,
        progress=False,
    )
    report = render_objects(config, log=lambda message: None)
    assert report.ok and report.images_rendered == 1
    assert image.read_bytes() == original
    assert validate_tree(out).ok


def test_a_crashed_worker_fails_only_its_object(rendered_tree, tmp_path):
    out = tmp_path / "crashed"
    command = render_command(objects_root(rendered_tree), out, "--synsets", "car")
    command += ["--views", "40"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    wait_for(lambda: any(out.glob("*/*/latent_*.npy")))
    first = next(out.glob("*/*/latent_*.npy")).parent
    os.kill(children(process.pid)[0], signal.SIGKILL)
    summary = process.communicate(timeout=300)[0].decode()
    assert process.returncode == 1
    rows = list(csv.DictReader((out / "failures.csv").open()))
    assert [(r["object"], r["stage"]) for r in rows] == [
        (f"{first.parent.name}/{first.name}", "crash")
    ]
    assert "1 failed" in summary and "worker exited" in rows[0]["reason"]
    assert len(list(out.glob("*/*/latent_*.npy"))) > 80  # the other two objects rendered
    manifest = json.loads((out / "iebench.json").read_text())
    assert manifest["counts"]["complete"] == 2 and manifest["failures"][0]["stage"] == "crash"
    split_keys = [np.load(split_files(out, split).images) for split in ("train", "val")]
    assert sum(map(len, split_keys)) == 2
    assert not any(first.name in key for keys in split_keys for key in keys)
    rerun = subprocess.run(command, capture_output=True)
    assert rerun.returncode == 0, rerun.stdout.decode()
    assert len(list(out.glob("*/*/latent_*.npy"))) == 120


def write_obj(directory: Path, obj: str, mtl: str | None = None) -> None:
    models = directory / "models"
    models.mkdir(parents=True)
    (models / "model_normalized.obj").write_text(obj)
    if mtl is not None:
        (models / "model_normalized.mtl").write_text(mtl)


CUBE = "".join(f"v {x} {y} {z}\n" for x in (0, 0.5) for y in (0, 0.5) for z in (0, 0.5)) + (
    "f 1 3 4 2\nf 5 6 8 7\nf 1 2 6 5\nf 3 7 8 4\nf 1 5 7 3\nf 2 4 8 6\n"
)


def test_broken_objects_are_recorded_and_the_rest_render(tmp_path):
    shapenet = make_object_set(tmp_path / "shapenet", 1, seed=0, categories=["mug"])
    chairs = shapenet / "03001627"
    write_obj(chairs / "unparsable", "v 0 0 0\nv one two three\nf 1 2 3\n")
    write_obj(chairs / "empty", "# exported with no geometry\no nothing\n")
    write_obj(chairs / "no_mtl", "mtllib model_normalized.mtl\nusemtl red\n" + CUBE)
    write_obj(
        chairs / "no_texture",
        "mtllib model_normalized.mtl\nusemtl red\n" + CUBE,
        "newmtl red\nKd 0.8 0.1 0.1\nmap_Kd ../images/texture0.jpg\n",
    )
    (chairs / "no_mesh").mkdir()
    # A texture that never finishes loading (a FIFO nobody writes): the worker hangs.
    write_obj(
        chairs / "hangs",
        "mtllib model_normalized.mtl\nusemtl red\n" + CUBE,
        "newmtl red\nKd 0.8 0.1 0.1\nmap_Kd texture.png\n",
    )
    os.mkfifo(chairs / "hangs" / "models" / "texture.png")
    out = tmp_path / "out"
    result = subprocess.run(
        render_command(shapenet, out, "--views", "2", "--timeout", "6"), capture_output=True
    )
    assert result.returncode == 1
    rows = {r["object"]: r for r in csv.DictReader((out / "failures.csv").open())}
    stages = {key.split("/")[-1]: row["stage"] for key, row in rows.items()}
    assert stages == {
        "unparsable": "model",
        "empty": "model",
        "no_mtl": "model",
        "no_mesh": "discover",
        "hangs": "timeout",
    }
    assert "bad vertex line" in rows["03001627/unparsable"]["reason"]
    assert "missing material library" in rows["03001627/no_mtl"]["reason"]
    manifest = json.loads((out / "iebench.json").read_text())
    assert len(manifest["failures"]) == 5 and manifest["counts"]["complete"] == 2
    assert any("missing texture" in w["warning"] for w in manifest["warnings"])
    assert (out / "03001627" / "no_texture" / "image_1.jpg").is_file()
    assert len(list((out / "03797390").glob("*/image_*.jpg"))) == 2  # the mug
    assert "5 failed" in result.stdout.decode()


def test_translated_factors_give_ten_value_latents(rendered_tree, tmp_path):
    out = tmp_path / "translated"
    result = subprocess.run(
        render_command(objects_root(rendered_tree), out, "--limit", "2", "--views", "2")
        + ["--factors", "translated"],
        capture_output=True,
    )
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    spec = FactorSpec.translated()
    for directory in object_dirs(out):
        for view in range(2):
            latent = np.load(directory / f"latent_{view}.npy")
            expected = sample_view(spec, 0, directory.parent.name, directory.name, view)
            assert latent.shape == (10,) and np.array_equal(latent, expected)
    assert np.load(split_files(out, "train").latents).shape == (2, 10)


def test_a_factor_spec_file_is_rendered_stored_and_kept(rendered_tree, tmp_path):
    out = tmp_path / "vertical"
    spec_file = Path(__file__).parents[2] / "examples" / "factors-vertical-axis.json"
    command = render_command(objects_root(rendered_tree), out, "--limit", "2", "--views", "2")
    result = subprocess.run(command + ["--factors", str(spec_file)], capture_output=True)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    spec = FactorSpec.vertical_axis()
    for directory in object_dirs(out):
        for view in range(2):
            latent = np.load(directory / f"latent_{view}.npy")
            expected = sample_view(spec, 0, directory.parent.name, directory.name, view)
            assert np.array_equal(latent, expected) and latent[0] == latent[1] == 0.0
    manifest = json.loads((out / "iebench.json").read_text())
    assert manifest["factor_spec"] == json.loads(json.dumps(spec.to_dict()))
    # Resuming with the published ranges would mix two datasets in one tree.
    again = subprocess.run(command, capture_output=True, text=True)
    assert again.returncode == 1 and again.stderr.count("\n") == 1
    assert "this tree was rendered with another factor spec" in again.stderr


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "iebench", "render", *args], capture_output=True, text=True
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--objects", "/nonexistent/shapenet"], "/nonexistent/shapenet: not a directory"),
        (["--shard", "2/2"], "--shard '2/2': need 0 <= K < N"),
        (["--views", "0"], "--views must be >= 1"),
        (["--synsets", "spaceship"], "unknown ShapeNetCore category 'spaceship'"),
        (["--factors", "vertical"], "unknown factor spec 'vertical'; choose from published, "),
        (["--factors", "/nonexistent/spec.json"], "/nonexistent/spec.json: unreadable factor spec"),
    ],
)
def test_cli_errors_are_one_line(tmp_path, args, message):
    result = run_cli("--out", str(tmp_path / "out"), *args)
    assert result.returncode == 1
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1
    assert message in result.stderr


def test_a_tree_refuses_a_run_with_another_seed(rendered_tree, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    shutil.copy(rendered_tree / "iebench.json", out / "iebench.json")
    result = run_cli(
        "--objects", str(objects_root(rendered_tree)), "--out", str(out), "--seed", "1", *SMALL
    )
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert "this tree was rendered with another seed" in result.stderr


def test_a_settings_mismatch_lists_only_the_differing_keys(rendered_tree, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    shutil.copy(rendered_tree / "iebench.json", out / "iebench.json")
    objects = str(objects_root(rendered_tree))
    result = run_cli("--objects", objects, "--out", str(out), *SMALL, "--samples", "9")
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert (
        "this tree was rendered with another render settings (samples: 4 (asked: 9)); "
        "render into another --out, or render with the tree's settings" in result.stderr
    )


def test_import_is_upright_and_centred(tmp_path):
    """A Y-up OBJ (ShapeNet's convention), tall along Y and off-centre, comes in Z-up with its
    bounding-box centre at the origin."""
    from iebench.render.scene import BlenderScene
    from iebench.rendering import preset_settings
    from iebench.scene.description import STAGE

    corners = [(x, y, z) for x in (1.0, 1.2) for y in (0.0, 0.8) for z in (0.0, 0.4)]
    obj = "".join(f"v {x} {y} {z}\n" for x, y, z in corners)
    obj += "f 1 3 4 2\nf 5 6 8 7\nf 1 2 6 5\nf 3 7 8 4\nf 1 5 7 3\nf 2 4 8 6\n"
    (tmp_path / "tall.obj").write_text(obj)
    scene = BlenderScene(preset_settings("preview"), STAGE)
    scene.load_model(tmp_path / "tall.obj")
    model = scene.model
    assert tuple(model.dimensions) == pytest.approx((0.2, 0.4, 0.8), abs=1e-6)
    assert tuple(model.rotation_euler) == (0.0, 0.0, 0.0)
    corners = np.array([tuple(c) for c in model.bound_box])
    assert corners.min(axis=0) == pytest.approx(-corners.max(axis=0), abs=1e-6)
    # ShapeNet's +Y (up) became +Z and its +Z (front) became -Y.
    vertices = [v.co for v in model.data.vertices]
    assert tuple(vertices[1] - vertices[0]) == pytest.approx((0.0, -0.4, 0.0), abs=1e-6)
    assert tuple(vertices[2] - vertices[0]) == pytest.approx((0.0, 0.0, 0.8), abs=1e-6)
    scene.remove_model()


def _projected(points: np.ndarray, resolution: int) -> np.ndarray:
    """Pixel (column, row) of world points through the stage's pinhole camera."""
    from iebench.protocol.factors import euler_to_matrix
    from iebench.scene.description import STAGE

    axes = euler_to_matrix(np.array(STAGE.camera_rotation))  # columns: right, up, backwards
    camera = (points - np.array(STAGE.camera_location)) @ axes
    scale = math.tan(STAGE.camera_fov / 2)
    x, y = camera[:, 0] / -camera[:, 2] / scale, camera[:, 1] / -camera[:, 2] / scale
    return np.stack([(x + 1) / 2 * resolution, (1 - y) / 2 * resolution], axis=1)


@pytest.mark.parametrize("angles", [(0.0, 0.0, 0.0), (0.0, 0.0, 1.2), (1.3, -0.7, 0.4)])
def test_the_rendered_pose_is_the_latent_rotation(tmp_path, angles):
    """A thin bar along a generic direction d, rendered with and without it (spot off, so
    no shadow): the pixels it covers lie along the projection of R d, R from the latent."""
    import trimesh

    from iebench.protocol.factors import euler_to_matrix
    from iebench.render.scene import BlenderScene
    from iebench.rendering import preset_settings
    from iebench.scene.description import STAGE, describe_view

    resolution = 96
    direction = np.array([1.0, 0.4, 0.7]) / np.linalg.norm([1.0, 0.4, 0.7])  # Blender frame
    obj_direction = direction[[0, 2, 1]] * [1, 1, -1]  # OBJ is Y-up: (x, z, -y)
    bar = trimesh.creation.box((1.0, 0.06, 0.06))
    bar.apply_transform(trimesh.geometry.align_vectors([1, 0, 0], obj_direction))
    bar.export(tmp_path / "bar.obj")
    settings = preset_settings("preview", resolution=resolution)
    scene = BlenderScene(settings, STAGE)
    scene.load_model(tmp_path / "bar.obj")
    scene.spot.data.energy = 0.0
    latent = np.array([*angles, 0.3, 1.0, 1.0, 0.6])
    description = describe_view(latent, FactorSpec())
    scene.render_view(description, 0, tmp_path / "with.png")
    scene.model.hide_render = True
    scene.render_view(description, 0, tmp_path / "without.png")
    scene.model.hide_render = False
    scene.remove_model()

    images = [
        np.asarray(Image.open(tmp_path / f"{n}.png"), np.float64) for n in ("with", "without")
    ]
    rows, cols = np.nonzero(np.abs(images[0] - images[1]).max(axis=2) > 20)
    pixels = np.stack([cols + 0.5, rows + 0.5], axis=1)
    ends = _projected(
        np.outer([-0.5, 0.5], euler_to_matrix(np.array(angles)) @ direction), resolution
    )
    along = (ends[1] - ends[0]) / np.linalg.norm(ends[1] - ends[0])
    offsets = pixels - ends.mean(axis=0)
    across = np.abs(offsets @ np.array([-along[1], along[0]]))
    assert len(pixels) > 30
    assert np.percentile(across, 95) < 3.0  # every covered pixel is on the projected bar
    span, length = offsets @ along, np.linalg.norm(ends[1] - ends[0])
    # Within the bar's thickness (about 2 px) and its faint, antialiased ends.
    assert abs(span.max() - span.min() - length) < 0.15 * length + 3


def test_the_sun_casts_its_soft_shadow_unless_the_scene_is_shadowless(tmp_path):
    """The official generator never turned the sun's shadows off: the published scene has a
    very soft shadow under the object (a faint darkening over much of the image); the
    "shadowless" scene is the look its comment describes. Before, there was no shadow."""
    import trimesh

    from iebench.render.scene import BlenderScene
    from iebench.rendering import preset_settings
    from iebench.scene.description import SCENES, describe_view

    trimesh.creation.box((0.5, 0.5, 0.5)).export(tmp_path / "box.obj")
    latent = np.array([0.3, -0.2, 0.5, 0.3, 0.4, 1.0, 0.6])
    images = {}
    for name in ("published", "shadowless"):
        scene = BlenderScene(preset_settings("preview", resolution=48), SCENES[name])
        assert scene.scene.objects["Sun"].data.use_shadow == (name == "published")
        scene.load_model(tmp_path / "box.obj")
        scene.render_view(describe_view(latent, FactorSpec(), SCENES[name]), 0, tmp_path / "v.png")
        scene.remove_model()
        images[name] = np.asarray(Image.open(tmp_path / "v.png"), np.float64)[..., :3] / 255
    darkening = images["shadowless"] - images["published"]
    # Measured: 52% of pixels change, 0.0037 darker on average (a JPEG-invisible shadow).
    assert (np.abs(darkening).max(axis=2) > 0).mean() > 0.2
    assert darkening.mean() > 0.001
    assert np.abs(darkening).max() < 0.2
