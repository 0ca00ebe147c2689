"""The render benchmark's pieces that need no long renders: the real-object set's rebuild
from a git snapshot, and the Cycles options RenderSettings exposes for tuning."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from dataclasses import fields, replace
from pathlib import Path

import pytest

from iebench.core.errors import IebenchError
from iebench.objects.shapenet import discover
from iebench.rendering import preset_settings
from iebench.scene.presets import PRESETS, RenderSettings

ROOT = Path(__file__).resolve().parents[2]


def load_benchmark(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def git(repo: Path, *args: str) -> str:
    command = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()


def test_real_objects_rebuild_a_shapenet_tree_with_textures_from_a_snapshot(tmp_path):
    real_objects = load_benchmark("real_objects")
    repo = tmp_path / "mirror" / "someone+models" / "repo"
    models = repo / "sample" / "models"
    models.mkdir(parents=True)
    (models / "model_normalized.obj").write_text(
        "mtllib model_normalized.mtl\nv 0 0 0\nv 1 0 0\nv 0 1 0\nvt 0 0\nf 1/1 2/1 3/1\n"
    )
    (models / "model_normalized.mtl").write_text(
        "newmtl a\nmap_Kd ../images/texture0.jpg\nnewmtl b\nmap_Kd ../images/texture1.jpg\n"
    )
    (repo / "sample" / "images").mkdir()
    (repo / "sample" / "images" / "texture0.jpg").write_bytes(b"jpeg bytes")
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "a model")
    commit = git(repo, "rev-parse", "HEAD")
    source = real_objects.Source(
        "someone/models", commit, "sample/models/model_normalized.obj", "02691156", "abc"
    )
    out = tmp_path / "out"
    report = real_objects.rebuild(tmp_path / "mirror", out, (source,))
    # The texture the snapshot lacks is named but not copied (the scene drops it).
    assert report == [f"02691156/abc: someone/models@{commit[:10]} 1/2 textures"]
    assert (out / "02691156/abc/images/texture0.jpg").read_bytes() == b"jpeg bytes"
    found = discover(out).objects
    assert [o.key for o in found] == ["02691156/abc"]
    assert found[0].mesh == out / "02691156/abc/models/model_normalized.obj"
    missing = replace(source, repo="someone/elsewhere")
    with pytest.raises(IebenchError, match="no snapshot of someone/elsewhere"):
        real_objects.rebuild(tmp_path / "mirror", out, (missing,))


def test_the_real_set_has_its_models_from_distinct_sources():
    sources = load_benchmark("real_objects").SOURCES
    assert len(sources) == 33 and len({s.synset for s in sources}) == 31
    assert len({(s.synset, s.object_id) for s in sources}) == len(sources)


def test_new_cycles_options_default_to_cycles_own_and_reach_blender():
    """The published settings leave these at Blender 5.0's factory values (pinned here: 0 min
    samples, no guiding, clamping 0 direct / 10 indirect, no texture limit); a setting that
    changes them reaches the scene."""
    from iebench.render.scene import BlenderScene
    from iebench.scene.description import STAGE

    names = ("adaptive_min_samples", "use_guiding", "sample_clamp_direct")
    names += ("sample_clamp_indirect", "texture_limit_render")
    mine = ("adaptive_min_samples", "path_guiding", "clamp_direct", "clamp_indirect")
    mine += ("texture_limit",)
    published = RenderSettings()
    assert tuple(getattr(published, name) for name in mine) == (0, False, 0.0, 10.0, "OFF")
    changed = replace(
        preset_settings("preview"),
        adaptive_threshold=0.05,
        adaptive_min_samples=3,
        path_guiding=True,
        clamp_direct=2.0,
        clamp_indirect=1.0,
        texture_limit="512",
    )
    scene = BlenderScene(changed, STAGE)
    cycles = scene.scene.cycles
    assert tuple(getattr(cycles, name) for name in names) == (3, True, 2.0, 1.0, "512")
    scene.configure(published)
    assert tuple(getattr(cycles, name) for name in names) == (0, False, 0.0, 10.0, "OFF")


def test_reference_stays_the_published_settings():
    """The published render (REFERENCE.md section 2), pinned by value: 256 px JPEGs at quality
    95, Cycles at most 100 samples with an adaptive threshold of 0.01, OpenImageDenoise, bounces
    diffuse 3 / glossy 0 / max 3 / transparency 8, no light tree, Filmic."""
    reference = PRESETS["reference"].to_dict()
    assert {name: reference[name] for name in PUBLISHED} == PUBLISHED
    # Every other setting is Cycles' factory value, and none is left out of this pin.
    assert set(reference) == {f.name for f in fields(RenderSettings)}
    assert PRESETS["default"].samples < reference["samples"]


PUBLISHED = {
    "engine": "cycles",
    "resolution": 256,
    "samples": 100,
    "adaptive_threshold": 0.01,
    "adaptive_min_samples": 0,
    "denoise": True,
    "denoiser_quality": "HIGH",
    "denoiser_prefilter": "ACCURATE",
    "denoiser_passes": "RGB_ALBEDO_NORMAL",
    "sampling_pattern": "AUTOMATIC",
    "light_tree": False,
    "path_guiding": False,
    "clamp_direct": 0.0,
    "clamp_indirect": 10.0,
    "texture_limit": "OFF",
    "diffuse_bounces": 3,
    "glossy_bounces": 0,
    "transmission_bounces": 0,
    "transparent_bounces": 8,
    "volume_bounces": 0,
    "max_bounces": 3,
    "view_transform": "Filmic",
    "jpeg_quality": 95,
}


@pytest.mark.parametrize(
    "change, message",
    [
        ({"adaptive_min_samples": -1}, "adaptive min samples -1"),
        ({"clamp_indirect": -1.0}, "clamping must be >= 0"),
        ({"texture_limit": "300"}, "texture_limit '300'"),
    ],
)
def test_bad_cycles_options_are_one_clear_error(change, message):
    with pytest.raises(IebenchError, match=message):
        RenderSettings(**change)
