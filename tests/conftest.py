"""Shared fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

RENDERED_CATEGORIES = ("airplane", "car", "chair", "table")
RENDERED_PER_CLASS = 3
RENDERED_VIEWS = 4
RENDERED_RESOLUTION = 32


# Markers by what a test needs beyond Python and torch (pyproject.toml lists them) are declared in
# each file (`pytestmark`); a test that asks for the Blender-rendered tree is marked here, whatever
# its file. `make test-fast` leaves these out, `make test` and CI run everything.
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "rendered_tree" in getattr(item, "fixturenames", ()) and not item.get_closest_marker(
            "blender"
        ):
            item.add_marker("blender")


@pytest.fixture(scope="session")
def rendered_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny 3DIEBench tree rendered for real with Blender; its root (treat it as read-only).

    Built-in objects (`iebench.objects.make_object_set`, seed 0) of 4 categories:
    airplane 02691156, car 02958343, chair 03001627, table 04379243; 3 objects each,
    4 views each (RENDERED_* constants above), 32x32 JPEGs, preview preset, published
    factors, seed 0. Contents: ``<synset>/<id>/image_<i>.jpg`` and ``latent_<i>.npy``
    (7 float64 values) for i = 0..3; split files ``{train,val}_images.npy``,
    ``{train,val}_labels.npy``, ``all_latents_{train,val}.npy`` (per class 2 train,
    1 val: 8 train and 4 val objects); ``iebench.json`` (manifest) and an empty
    ``failures.csv``. Renders in about 5 s, once per test session.
    """
    from iebench.objects import make_object_set
    from iebench.rendering import RenderConfig, render_objects

    base = tmp_path_factory.mktemp("rendered_tree")
    objects = make_object_set(
        base / "objects", RENDERED_PER_CLASS, seed=0, categories=RENDERED_CATEGORIES
    )
    config = RenderConfig(
        out=base / "3DIEBench",
        objects=objects,
        views=RENDERED_VIEWS,
        preset="preview",
        resolution=RENDERED_RESOLUTION,
        workers=1,
        progress=False,
    )
    report = render_objects(config, log=lambda message: None)
    assert report.ok, report.summary()
    return config.out


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Every test runs on one torch thread: tiny models are fastest so (on a shared 2-core machine a
    second thread only spins: 20x slower steps measured), and in-process runs then compute bit for
    bit what subprocess runs with OMP_NUM_THREADS=1 compute. Restores the count afterwards."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
