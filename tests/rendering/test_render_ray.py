"""Rendering on Ray actors (`iebench render --ray`): real Blender renders on a local Ray
instance started once for the module, compared file by file with the local pool's."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import ray

from iebench.objects import make_object_set
from iebench.rendering import RenderConfig, render_objects
from iebench.rendering.ray_pool import LOCAL, connect

pytestmark = [pytest.mark.blender, pytest.mark.ray]

VIEWS = 5
# One category of three objects: two to train, one to val (a val split needs two of a class).
CATEGORIES = ("airplane",)
PER_CLASS = 3


def _config(objects: Path, out: Path, **options) -> RenderConfig:
    return RenderConfig(
        out=out,
        objects=objects,
        views=VIEWS,
        preset="preview",
        resolution=32,
        threads=1,
        progress=False,
        **options,
    )


def _files(root: Path) -> dict[str, bytes]:
    """Every file of a tree but the manifests (they record timings and the run's options)."""
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and not path.name.startswith("iebench")
    }


@pytest.fixture(scope="module")
def objects(tmp_path_factory) -> Path:
    return make_object_set(
        tmp_path_factory.mktemp("objects"), PER_CLASS, seed=0, categories=CATEGORIES
    )


@pytest.fixture(scope="module")
def pool_tree(objects, tmp_path_factory) -> Path:
    """The local pool's render of the objects: what every Ray render must reproduce."""
    config = _config(objects, tmp_path_factory.mktemp("pool") / "tree", workers=1)
    assert render_objects(config, log=lambda message: None).ok
    return config.out


@pytest.fixture(scope="module")
def ray_address():
    """One local Ray instance for the module (starting one takes seconds)."""
    assert connect(LOCAL, cpus=2)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


def test_a_ray_render_gives_the_local_pools_dataset(objects, pool_tree, ray_address, tmp_path):
    config = _config(objects, tmp_path / "tree", workers=2, ray=ray_address)
    report = render_objects(config, log=lambda message: None)
    assert report.ok and report.images_rendered == PER_CLASS * VIEWS
    files = _files(config.out)
    assert files == _files(pool_tree)
    assert sum(name.endswith(".jpg") for name in files) == PER_CLASS * VIEWS
    manifest = (config.out / "iebench.json").read_text()
    assert '"ray": "' in manifest and '"blender": "5.0.1"' in manifest


def test_a_killed_ray_render_resumes_to_the_same_dataset(objects, pool_tree, ray_address, tmp_path):
    out = tmp_path / "tree"
    command = [
        *(sys.executable, "-m", "iebench", "render", "--objects", str(objects)),
        *("--out", str(out), "--views", str(VIEWS), "--preset", "preview"),
        *("--resolution", "32", "--threads", "1", "--ray", ray_address, "--quiet"),
    ]
    driver = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 120
        while _recorded_views(out) == 0:
            assert driver.poll() is None, "the driver ended before rendering anything"
            assert time.monotonic() < deadline, "no view rendered in 120 s"
            time.sleep(0.02)
        os.kill(driver.pid, signal.SIGKILL)  # the driver only: its actors die with it
    finally:
        driver.kill()
        driver.wait()
    # A latent written just before the kill may lack its record: that view is rendered again.
    recorded = _recorded_views(out)
    assert 0 < recorded < PER_CLASS * VIEWS
    assert not (out / "train_images.npy").exists()

    report = render_objects(_config(objects, out, ray=ray_address), log=lambda message: None)
    assert report.ok
    assert report.images_found >= recorded
    assert _files(out) == _files(pool_tree)


def _recorded_views(tree: Path) -> int:
    """Views finished in a tree: the images its checksum records name."""
    return sum(
        name.startswith("image_")
        for path in tree.glob("*/*/checksums.json")
        for name in json.loads(path.read_text())
    )


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def _descends_from_this_process(pid: int) -> bool:
    while pid > 1:
        pid = _parent(pid)
        if pid == os.getpid():
            return True
    return False


def _kill_render_actors() -> list[int]:
    """SIGKILL the render actors of this module's Ray instance (started by this process: its
    worker processes descend from it; other Ray sessions on the machine are left alone)."""
    killed = []
    for entry in Path("/proc").iterdir():
        try:
            if (
                entry.name.isdigit()
                and b"_RenderActor" in (entry / "cmdline").read_bytes()
                and _descends_from_this_process(int(entry.name))
            ):
                os.kill(int(entry.name), signal.SIGKILL)
                killed.append(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue  # exited meanwhile
    return killed


def test_an_object_lost_with_its_actor_is_rendered_again(objects, pool_tree, ray_address, tmp_path):
    out = tmp_path / "tree"
    killed: list[int] = []

    def kill_when_under_way() -> None:
        deadline = time.monotonic() + 120
        while next(out.glob("*/*/latent_*.npy"), None) is None and time.monotonic() < deadline:
            time.sleep(0.01)
        killed.extend(_kill_render_actors())

    killer = threading.Thread(target=kill_when_under_way, daemon=True)
    killer.start()
    report = render_objects(_config(objects, out, ray=ray_address), log=lambda message: None)
    killer.join()
    assert killed, "no render actor was found to kill"
    assert report.ok and report.complete == PER_CLASS
    assert _files(out) == _files(pool_tree)


def test_an_unreachable_cluster_is_one_clear_error(objects, tmp_path):
    command = [
        *(sys.executable, "-m", "iebench", "render", "--objects", str(objects)),
        *("--out", str(tmp_path / "tree"), "--views", "1", "--ray", "127.0.0.1:1"),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        "Error: --ray 127.0.0.1:1: cannot connect to Ray ([Errno 111] Connection refused)"
    )
