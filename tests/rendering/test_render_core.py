"""The Blender-free parts of rendering: mesh checks, view completeness, splits, config, shards."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from iebench.core.errors import IebenchError
from iebench.data.splits import seeded_split, split_like
from iebench.protocol.checksums import Checksums, digest_of
from iebench.protocol.factors import FactorSpec, sample_view
from iebench.rendering import RenderConfig, parse_shard, preset_settings
from iebench.rendering.run import lock_tree, output_names, render_objects, select_objects
from iebench.rendering.views import plan_view, render_seed, view_complete, write_latent
from iebench.scene.description import STAGE
from iebench.scene.meshcheck import MeshError, check_obj

TRIANGLE = "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n"


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def test_a_valid_obj_passes_with_relative_indices_and_its_material_library(tmp_path):
    """Relative indices count back from the last vertex read, and the library is looked up
    next to the model; a missing texture is not fatal. Each contrast fails as it must."""
    model = write(tmp_path / "m.obj", "mtllib m.mtl\n" + TRIANGLE + "f -3 -2 -1\n")
    with pytest.raises(MeshError, match="missing material library m.mtl"):
        check_obj(model)
    write(tmp_path / "m.mtl", "newmtl a\nKd 1 0 0\nmap_Kd missing.png\n")
    assert check_obj(model) is None
    write(model, "mtllib m.mtl\n" + TRIANGLE + "f -4 -2 -1\n")  # one vertex too far back
    with pytest.raises(MeshError, match=r"m.obj:6: face refers to a missing vertex"):
        check_obj(model)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("", "empty file"),
        ("# nothing here\n", "empty file|no vertices"),
        ("v 0 0 0\nv 1 0 0\nv 0 1 0\n", "no faces"),
        ("v 0 0 zero\nf 1 1 1\n", "bad vertex line"),
        ("v 0 0 nan\nv 1 0 0\nv 0 1 0\nf 1 2 3\n", "bad vertex line"),
        ("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 x\n", "bad face line"),
        ("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 4\n", "missing vertex"),
        (b"\x00\x01garbage" * 10, "binary data"),
        ("mtllib nowhere.mtl\n" + TRIANGLE, "missing material library nowhere.mtl"),
    ],
)
def test_broken_objs_fail_with_a_reason(tmp_path, content, reason):
    with pytest.raises(MeshError, match=reason):
        check_obj(write(tmp_path / "model.obj", content))


def test_an_absurd_face_count_fails_before_parsing(tmp_path):
    with pytest.raises(MeshError, match="more than the limit of 2"):
        check_obj(write(tmp_path / "model.obj", TRIANGLE * 3), max_faces=2)


def test_a_view_is_complete_only_as_recorded_and_with_its_planned_latent(tmp_path):
    plan = plan_view(FactorSpec.published(), STAGE, 0, tmp_path, "02691156", "abc", 0)
    directory = plan.image.parent

    def complete(plan):
        checksums = Checksums.load(directory)
        return view_complete(checksums, plan.image, plan.latent_file, plan.latent)

    assert not complete(plan)  # nothing there
    jpeg = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 10, 10)).save(jpeg, "JPEG", quality=95)
    directory.mkdir(parents=True)
    plan.image.write_bytes(jpeg.getvalue())
    write_latent(plan, Checksums.load(directory), digest_of(jpeg.getvalue()))
    assert complete(plan)
    # Another seed's view at the same paths: the recorded latent is not the planned one.
    other = plan_view(FactorSpec.published(), STAGE, 1, tmp_path, "02691156", "abc", 0)
    assert not complete(other)
    damaged = bytearray(jpeg.getvalue())
    damaged[300:310] = bytes(10)  # same size, end marker intact
    plan.image.write_bytes(bytes(damaged))
    assert not complete(plan)
    plan.image.write_bytes(jpeg.getvalue())
    plan.latent_file.write_bytes(plan.latent_file.read_bytes()[:-8])  # truncated
    assert not complete(plan)


def objects(per_class: dict[str, int]) -> list[tuple[str, str]]:
    return [(synset, f"{synset}-{i}") for synset, n in per_class.items() for i in range(n)]


def test_seeded_split_is_per_class_and_stable():
    refs = objects({"02691156": 10, "03001627": 5, "04379243": 2, "02958343": 1})
    sides = seeded_split(refs, seed=0)
    val_per_class = {s: sum(r[0] == s for r in sides["val"]) for s, _ in refs}
    assert val_per_class == {"02691156": 2, "03001627": 1, "04379243": 1, "02958343": 0}
    assert sorted(sides["train"] + sides["val"]) == sorted(refs)
    assert seeded_split(list(reversed(refs)), seed=0) == sides
    assert seeded_split(refs, seed=1) != sides


def test_official_splits_are_followed_for_the_objects_present():
    official = {("02691156", "a"): "train", ("02691156", "b"): "val"}
    sides, unlisted = split_like([("02691156", "b"), ("02691156", "c")], official)
    assert sides == {"train": [], "val": [("02691156", "b")]}
    assert unlisted == [("02691156", "c")]


def fake_shapenet(root: Path, per_class: dict[str, int]) -> Path:
    for synset, object_id in objects(per_class):
        write(root / synset / object_id / "models" / "model_normalized.obj", TRIANGLE)
    return root


@pytest.mark.parametrize("count", [1, 3, 4])
def test_shards_partition_the_objects_exactly(tmp_path, count):
    root = fake_shapenet(tmp_path / "shapenet", {"02691156": 5, "03001627": 4})
    everything, _ = select_objects(RenderConfig(out=tmp_path / "out", objects=root), print)
    shards = [
        select_objects(RenderConfig(out=tmp_path / "out", objects=root, shard=(k, count)), print)[0]
        for k in range(count)
    ]
    assert sorted(o for shard in shards for o in shard) == everything
    assert max(map(len, shards)) - min(map(len, shards)) <= 1


def test_objects_list_and_filters_select_objects(tmp_path):
    root = fake_shapenet(tmp_path / "shapenet", {"02691156": 3, "03001627": 3})
    listing = write(tmp_path / "list.txt", "# chosen\n02691156/02691156-1\n03001627/03001627-2\n")
    config = RenderConfig(out=tmp_path / "out", objects=root, objects_list=listing)
    assert [o.key for o in select_objects(config, print)[0]] == [
        "02691156/02691156-1",
        "03001627/03001627-2",
    ]
    config = RenderConfig(out=tmp_path / "out", objects=root, synsets="chair", limit=2)
    assert [o.object_id for o in select_objects(config, print)[0]] == ["03001627-0", "03001627-1"]


def test_a_tree_not_rendered_by_iebench_is_left_alone(tmp_path):
    root = fake_shapenet(tmp_path / "shapenet", {"02691156": 2})
    published = tmp_path / "3DIEBench"
    (published / "02691156" / "abc").mkdir(parents=True)
    np.save(published / "02691156" / "abc" / "latent_0.npy", np.zeros(7))
    with pytest.raises(IebenchError, match="holds views not rendered by iebench"):
        render_objects(RenderConfig(out=published, objects=root, progress=False), print)
    assert sorted(p.name for p in published.iterdir()) == ["02691156"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"views": 0}, "--views must be >= 1"),
        ({"seed": -1}, "--seed must be >= 0"),
        ({"device": "tpu"}, "--device 'tpu'"),
        ({"preset": "fastest"}, "unknown preset 'fastest'"),
        ({"factors": "weird"}, "unknown factor spec 'weird'"),
        ({"resolution": 4}, "resolution 4"),
        ({"engine": "eevee"}, "engine 'eevee'"),
        ({"shard": "3/2"}, "need 0 <= K < N"),
        ({"shard": "half"}, "expected K/N"),
        ({"objects": "/nonexistent/shapenet"}, "not a directory"),
        ({"synsets": "spaceship"}, "unknown ShapeNetCore category"),
        ({"timeout": 0}, "--timeout must be > 0"),
    ],
)
def test_bad_config_is_one_clear_error(tmp_path, options, message):
    with pytest.raises(IebenchError, match=message):
        RenderConfig(out=tmp_path / "out", **options)


def test_presets_and_overrides():
    assert parse_shard("2/5") == (2, 5)
    reference = preset_settings("reference")
    assert (reference.samples, reference.adaptive_threshold, reference.denoise) == (100, 0.01, True)
    assert (reference.diffuse_bounces, reference.glossy_bounces) == (3, 0)
    assert (reference.max_bounces, reference.transparent_bounces) == (3, 8)
    assert reference.resolution == 256 and reference.view_transform == "Filmic"
    fast = preset_settings("default", resolution=128, samples=8)
    assert (fast.resolution, fast.samples) == (128, 8)
    config = RenderConfig(out="x", synsets="chair,airplane", shard="1/4")
    assert config.synsets == ("02691156", "03001627") and config.shard == (1, 4)
    assert config.to_dict()["shard"] == [1, 4]


@pytest.mark.parametrize(
    ("per_class", "options", "message"),
    [
        ({}, {}, ": no objects to render"),
        ({"02691156": 3}, {"synsets": "car"}, ": no objects to render (with --synsets 02958343)"),
        (
            {"02691156": 1, "03001627": 1},
            {},
            ": the val split would be empty: no category has two objects",
        ),
        (
            {"02691156": 3},
            {"shard": (3, 4)},
            ": no objects to render (in shard 3/4 of 3 objects)",
        ),
    ],
)
def test_empty_inputs_are_refused_before_anything_is_written(tmp_path, per_class, options, message):
    root = fake_shapenet(tmp_path / "shapenet", per_class)
    root.mkdir(exist_ok=True)
    out = tmp_path / "out"
    with pytest.raises(IebenchError, match=re.escape(message)):
        render_objects(RenderConfig(out=out, objects=root, progress=False, **options), print)
    assert not out.exists()


def test_each_shard_writes_its_own_manifest_and_failures_file():
    assert output_names(RenderConfig(out="x")) == ("iebench.json", "failures.csv")
    assert output_names(RenderConfig(out="x", shard=(2, 5))) == (
        "iebench.shard-2-of-5.json",
        "failures.shard-2-of-5.csv",
    )


def test_a_tree_is_locked_for_a_run_and_shards_share_it(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    whole = RenderConfig(out=out, progress=False)
    shard = [RenderConfig(out=out, shard=(k, 2), progress=False) for k in range(2)]
    with lock_tree(whole, print):
        for config in (whole, shard[0]):
            with pytest.raises(
                IebenchError, match=f"another render is writing this tree \\(pid {os.getpid()} on "
            ):
                lock_tree(config, print)
    with lock_tree(shard[0], print), lock_tree(shard[1], print):  # shards run side by side
        with pytest.raises(
            IebenchError,
            match=r"\(iebench.shard-0-of-2.lock by pid \d+ on .*; iebench.shard-1-of-2.lock by pid",
        ):
            lock_tree(whole, print)
        with pytest.raises(IebenchError, match="another render is writing this tree"):
            lock_tree(shard[0], print)  # but not the same shard twice
    messages = []
    with lock_tree(whole, messages.append):  # all released
        pass
    assert messages == []
    (out / "iebench.lock").write_text('{"pid": 1, "host": "gone", "since": "2000-01-01"}\n')
    with lock_tree(whole, messages.append):  # a dead run's lock is taken over
        assert f'"pid": {os.getpid()}' in (out / "iebench.lock").read_text()
    assert messages == [
        f"{out}: taking over the lock of a run that died (pid 1 on gone, since 2000-01-01)"
    ]
    assert (out / "iebench.lock").read_text() == ""


# Pinned: a change here is another "seed 0" dataset (see docs/protocol.md).
GOLDEN_LATENTS = {
    ("published", 0, "02691156", "abc", 0): [
        -0.17955136884041178, 0.060315913922126985, -1.5275504993553117, 0.11592059240447239,
        0.30944613126618825, 3.5859676205895394, 0.8822656197919921,
    ],
    ("published", 0, "03001627", "chair-7", 49): [
        1.2906846584184888, -1.3574076646912812, -0.2776969783699157, 0.4134015791979535,
        0.1513724467485803, 0.9670538898428178, 0.3296701753303909,
    ],
    ("published", 3, "04379243", "t1", 5): [
        0.6848259333874127, -0.5130259213044794, 0.10854940284874726, 0.39125934664123496,
        0.486530476742872, 2.13945218540175, 0.02118116415783844,
    ],
    ("translated", 0, "03001627", "chair-7", 49): [
        1.2906846584184888, -1.3574076646912812, -0.2776969783699157, 0.4134015791979535,
        0.1513724467485803, 0.9670538898428178, 0.3296701753303909, 0.4500391934245481,
        0.0975531322341604, 0.07335155769482449,
    ],
}  # fmt: skip
GOLDEN_RENDER_SEEDS = {
    (0, "02691156", "abc", 0): 1969221989,
    (0, "03001627", "chair-7", 49): 122909929,
    (3, "04379243", "t1", 5): 1078093709,
}


@pytest.mark.parametrize("key", sorted(GOLDEN_LATENTS))
def test_golden_latents(key):
    name, seed, synset, object_id, view = key
    latent = sample_view(FactorSpec.named(name), seed, synset, object_id, view)
    assert latent.tolist() == GOLDEN_LATENTS[key]  # exactly: the latent files hold these


def test_golden_render_seeds_and_view_plans(tmp_path):
    for key, seed in GOLDEN_RENDER_SEEDS.items():
        assert render_seed(*key) == seed
    plan = plan_view(FactorSpec.published(), STAGE, 0, tmp_path, "02691156", "abc", 0)
    assert plan.cycles_seed == 1969221989
    assert plan.latent.tolist() == GOLDEN_LATENTS[("published", 0, "02691156", "abc", 0)]
    assert plan.image == tmp_path / "02691156" / "abc" / "image_0.jpg"


def test_golden_split():
    refs = [
        (synset, f"{synset[-3:]}-{i}")
        for synset, n in (("02691156", 5), ("03001627", 3), ("04379243", 1), ("02958343", 2))
        for i in range(n)
    ]
    assert seeded_split(refs, 0)["val"] == [
        ("02691156", "156-4"),
        ("02958343", "343-1"),
        ("03001627", "627-2"),
    ]
    assert seeded_split(refs, 7)["val"] == [
        ("02691156", "156-3"),
        ("02958343", "343-0"),
        ("03001627", "627-1"),
    ]
    assert ("04379243", "243-0") in seeded_split(refs, 7)["train"]  # alone in its class
