"""3DIEBench-T and 3DIEBench-OOD in the layouts of their public releases, end to end.

Both are the published 3DIEBench layout (``<synset>/<id>/image_<i>.jpg`` and
``latent_<i>.npy``, ``/<synset>/<id>/`` split lists) but for two things. 3DIEBench-T's
latents have 10 values (the 7 published, then the object translation), from
EquiCaps' generator; 3DIEBench-OOD's have the published 7, rotation angles in
[-pi, -pi/2] U [pi/2, pi], from seq-JEPA's. And neither release ships
``all_latents_<split>.npy`` (SIE publishes 3DIEBench's separately): only the per-view files,
which ``assemble_latents`` turns into it. Small hand-built trees (tests/helpers/handbuilt.py)
in each layout are assembled and evaluated with ``iebench evaluate``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from helpers.handbuilt import SPLIT_OBJECTS, build_tree

from iebench.cli import cli
from iebench.core.errors import IebenchError
from iebench.data.splits import assemble_latents
from iebench.data.tree import TreeIndex
from iebench.protocol.factors import FactorSpec, sample_object
from iebench.protocol.layout import latent_path, object_dir, split_files

SIZE = 32
ENCODER = """\
import torch
from iebench.evaluation.submission import EncoderMetadata
from iebench.models.resnet import resnet18

METADATA = EncoderMetadata(name="variant-tree probe", embedding_dim=16, resolution=32)


def build_encoder(checkpoint):
    torch.manual_seed(0)
    return resnet18(width=2, layers=(1, 1, 1, 1))
"""


def release(root, spec: FactorSpec, views: int):
    """A tree as the release ships it: per-view files and split lists, no latents file."""
    build_tree(root, views=views, size=SIZE, spec=spec, latents_file=False)
    (root / "LICENSE").write_text("CC BY-NC 4.0\n")
    return root


def assembled(root, spec: FactorSpec, views: int):
    """The release's latents files written by `iebench validate --assemble-latents`, which
    then finds the tree clean."""
    for split in ("train", "val"):
        with pytest.raises(IebenchError, match=r"split file missing; .*--assemble-latents"):
            TreeIndex.load(root, split)
    result = CliRunner().invoke(cli, ["validate", str(root), "--assemble-latents", "--quiet"])
    assert result.exit_code == 0, result.output
    for split in ("train", "val"):
        expected = np.concatenate(
            [sample_object(spec, 0, *ref, views) for ref in SPLIT_OBJECTS[split]]
        )
        latents = np.load(split_files(root, split).latents)
        assert latents.dtype == np.float64
        np.testing.assert_array_equal(latents, expected)
    return root


def evaluate(root, tmp_path) -> dict:
    encoder = tmp_path / "encoder.py"
    encoder.write_text(ENCODER)
    out = tmp_path / "results.json"
    result = CliRunner().invoke(
        cli,
        ["evaluate", str(encoder), "--data", str(root), "--protocol", "quick", "--workers", "0",
         "--cache", str(tmp_path / "cache"), "--out", str(out), "--quiet"],
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return json.loads(out.read_text())


def test_a_3diebench_t_tree_is_scored_on_translation(tmp_path):
    spec = FactorSpec.translated()
    root = assembled(release(tmp_path / "3DIEBench-T", spec, 50), spec, 50)
    index = TreeIndex.load(root, "train")
    assert index.latent_size == 10 and index.views == 50
    assert spec.contains(index.latents).all()
    results = evaluate(root, tmp_path)
    assert list(results["scores"]) == [
        "classification", "rotation", "colour", "translation", "translation-base"
    ]  # fmt: skip
    for task in ("translation", "translation-base"):
        assert np.isfinite(results["scores"][task]["full"]["r2"]["mean"])
        assert set(results["reference"][task]) == {"r2", "r2_per_output"}


def test_a_3diebench_ood_tree_is_read_and_evaluated(tmp_path):
    spec = FactorSpec.out_of_distribution()
    root = assembled(release(tmp_path / "3DIEBench-OOD", spec, 6), spec, 6)
    index = TreeIndex.load(root, "val")
    assert index.latent_size == 7 and index.views == 6
    assert spec.contains(index.latents).all()
    assert (np.abs(index.latents[..., :3]) >= np.pi / 2).all()
    results = evaluate(root, tmp_path)
    assert list(results["scores"]) == ["classification", "rotation", "colour"]
    assert results["dataset"]["constant_tasks"] == []


@pytest.fixture
def unassembled(tmp_path):
    return release(tmp_path / "tree", FactorSpec.translated(), 3)


def test_views_not_numbered_from_zero_are_refused(unassembled):
    directory = object_dir(unassembled, "03001627", "chair_a")
    (directory / "latent_0.npy").rename(directory / "latent_3.npy")
    with pytest.raises(
        IebenchError, match=r"chair_a: latent files must be latent_0\.npy .*\[1, 2, 3\]"
    ):
        assemble_latents(unassembled, "train")
    assert not split_files(unassembled, "train").latents.exists()  # nothing half-written


def test_objects_with_different_view_counts_are_refused(unassembled):
    latent_path(unassembled, "04379243", "table_a", 2).unlink()
    with pytest.raises(
        IebenchError, match=r"table_a: 2 views where the split's first object has 3"
    ):
        assemble_latents(unassembled, "train")


def test_a_latent_of_another_size_is_refused(unassembled):
    path = latent_path(unassembled, "02691156", "plane_b", 1)
    np.save(path, np.zeros(7))
    with pytest.raises(IebenchError, match=r"plane_b/latent_1\.npy: 7 values where the split's"):
        assemble_latents(unassembled, "train")
    np.save(path, np.zeros((2, 5)))
    with pytest.raises(IebenchError, match=r"latent_1\.npy: expected a latent of 7 or 10 floats"):
        assemble_latents(unassembled, "train")
    path.write_bytes(b"not numpy")
    with pytest.raises(IebenchError, match=r"latent_1\.npy: not a readable \.npy array"):
        assemble_latents(unassembled, "train")


def test_an_existing_latents_file_is_never_overwritten(unassembled):
    assemble_latents(unassembled, "val")
    before = split_files(unassembled, "val").latents.read_bytes()
    with pytest.raises(IebenchError, match=r"all_latents_val\.npy: already exists"):
        assemble_latents(unassembled, "val")
    assert split_files(unassembled, "val").latents.read_bytes() == before


@pytest.mark.parametrize("object_id", ["..", "."])
def test_an_object_id_that_leaves_its_folder_is_refused(unassembled, object_id):
    files = split_files(unassembled, "val")
    np.save(files.images, np.array(["/03001627/chair_b/", f"/04379243/{object_id}/"]))
    with pytest.raises(IebenchError, match=rf"val_images\.npy: object id '\{object_id}' is not"):
        assemble_latents(unassembled, "val")
    with pytest.raises(IebenchError, match=rf"val_images\.npy: object id '\{object_id}' is not"):
        TreeIndex.load(unassembled, "val")
