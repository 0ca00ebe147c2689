"""The packed cache: written atomically, used automatically, same tensors as the JPEGs."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from helpers.handbuilt import build_tree
from torch.utils.data import DataLoader

from iebench.cli import cli
from iebench.core.errors import IebenchError
from iebench.data.dataset import PairsDataset, ViewsDataset
from iebench.data.pack import PackConfig, find_pack, pack_paths, pack_split, pack_tree
from iebench.data.tree import TreeIndex
from iebench.protocol.layout import SPLITS, object_key, split_files

VIEWS = 4


@pytest.fixture
def tree(tmp_path):
    return build_tree(tmp_path / "tree", views=VIEWS, size=32)


def test_pack_then_datasets_read_it(tree):
    index = TreeIndex.load(tree, "train")
    array_path = pack_split(index, resolution=16)
    assert array_path == pack_paths(tree / "packed", "train", 16)[0]
    packed = np.load(array_path)
    assert packed.shape == (index.num_objects, VIEWS, 16, 16, 3) and packed.dtype == np.uint8
    assert not [p for p in array_path.parent.iterdir() if p.name.startswith(".tmp-")]

    for mode in ("all", "random"):
        from_pack = ViewsDataset(tree, "train", mode=mode, resolution=16)
        from_jpegs = ViewsDataset(tree, "train", mode=mode, resolution=16, pack=False)
        assert from_pack.pack is not None and from_jpegs.pack is None
        for item in range(len(from_pack)):
            a, b = from_pack[item], from_jpegs[item]
            assert torch.equal(a.image, b.image) and torch.equal(a.latent, b.latent)
    # Another resolution has no pack: the JPEGs are read.
    assert ViewsDataset(tree, "train", resolution=32).pack is None


def test_packed_pairs_through_workers(tree):
    pack_split(TreeIndex.load(tree, "train"), resolution=8)
    packed = PairsDataset(tree, "train", resolution=8, seed=2)
    # The memory map is opened in each process, never pickled with the dataset.
    packed[0]
    assert packed.pack._array is not None
    assert pickle.loads(pickle.dumps(packed)).pack._array is None
    jpegs = PairsDataset(tree, "train", resolution=8, seed=2, pack=False)
    a = next(iter(DataLoader(packed, batch_size=4, num_workers=2)))
    b = next(iter(DataLoader(jpegs, batch_size=4)))
    assert torch.equal(a.x_i, b.x_i) and torch.equal(a.x_j, b.x_j)
    assert torch.equal(a.rotation, b.rotation)


def test_a_stale_pack_is_not_used(tree):
    index = TreeIndex.load(tree, "train")
    pack_split(index, resolution=16)
    # Re-ordering the split changes every object's position: the pack no longer fits.
    files = split_files(tree, "train")
    order = [1, 0, 2, 3]
    objects = [index.objects[k] for k in order]
    np.save(files.images, np.array([object_key(*o) for o in objects]))
    np.save(files.labels, index.labels[order])
    np.save(files.latents, index.latents[order].reshape(-1, 7))
    with pytest.warns(UserWarning, match="stale pack"):
        views = ViewsDataset(tree, "train", resolution=16)
    assert views.pack is None
    with pytest.raises(IebenchError, match=r"train-16px\.json: stale pack"):
        ViewsDataset(tree, "train", resolution=16, pack=tree / "packed")


def test_a_required_pack_must_exist(tree, tmp_path):
    index = TreeIndex.load(tree, "val")
    with pytest.raises(IebenchError, match=r"val-16px\.json: no pack"):
        find_pack(index, 16, tmp_path / "elsewhere", required=True)
    pack_split(index, resolution=16, directory=tmp_path / "elsewhere")
    assert ViewsDataset(tree, "val", resolution=16).pack is None  # not in the default place
    assert ViewsDataset(tree, "val", resolution=16, pack=tmp_path / "elsewhere").pack


def test_packing_fails_cleanly_on_a_missing_view(tree):
    missing = tree / "03001627" / "chair_a" / "image_3.jpg"
    missing.unlink()
    with pytest.raises(IebenchError, match=rf"{missing}: image missing"):
        pack_split(TreeIndex.load(tree, "train"), resolution=16)
    assert not (tree / "packed").exists() or not list((tree / "packed").iterdir())


def test_pack_command(tree):
    result = CliRunner().invoke(cli, ["pack", str(tree), "--resolution", "8", "--workers", "2"])
    assert result.exit_code == 0, result.output
    assert "train: 4 objects x 4 views" in result.output
    for split in ("train", "val"):
        for path in pack_paths(tree / "packed", split, 8):
            assert path.is_file()
    result = CliRunner().invoke(cli, ["pack", str(tree / "nowhere")])
    assert result.exit_code == 1 and "nowhere: dataset root is not a directory" in result.output
    split_files(tree, "train").images.unlink()
    split_files(tree, "val").images.unlink()
    result = CliRunner().invoke(cli, ["pack", str(tree)])
    assert result.exit_code == 1 and "no split files" in result.output


def test_packed_and_unpacked_agree_on_a_rendered_tree(rendered_tree, tmp_path):
    # The rendered tree is shared and read-only: pack it elsewhere.
    index = TreeIndex.load(rendered_tree, "train")
    pack_split(index, resolution=16, directory=tmp_path, workers=2)
    packed = PairsDataset(index, resolution=16, pack=tmp_path, seed=4)
    jpegs = PairsDataset(index, resolution=16, pack=False, seed=4)
    for k in range(len(packed)):
        a, b = packed[k], jpegs[k]
        assert torch.equal(a.x_i, b.x_i) and torch.equal(a.x_j, b.x_j)
        assert torch.equal(a.rotation, b.rotation)


def test_pack_tree_is_a_function_of_its_config(tree):
    lines = []
    packed = pack_tree(PackConfig(tree, resolution=8), log=lines.append)
    assert [(p.split, p.objects, p.views) for p in packed] == [
        ("train", 4, VIEWS),
        ("val", 2, VIEWS),
    ]
    assert [p.path for p in packed] == [pack_paths(tree / "packed", s, 8)[0] for s in SPLITS]
    assert lines == [p.summary() for p in packed]
    assert lines[0].startswith(f"train: 4 objects x {VIEWS} views -> {tree / 'packed'}")
    with pytest.raises(IebenchError, match="pack: resolution must be >= 1, got 0"):
        PackConfig(tree, resolution=0)
    with pytest.raises(IebenchError, match="pack: unknown splits test"):
        PackConfig(tree, splits=("train", "test"))


def empty_val(tree):
    """The tree's val split files emptied, as a render with val fraction 0 writes them."""
    files = split_files(tree, "val")
    np.save(files.images, np.array([], dtype=str))
    np.save(files.labels, np.array([], dtype=np.int64))
    np.save(files.latents, np.zeros((0, np.load(files.latents).shape[1])))


def test_a_tree_without_val_packs_its_train_split_when_named(tree):
    empty_val(tree)
    result = CliRunner().invoke(cli, ["pack", str(tree), "--resolution", "8"])
    assert result.exit_code == 1 and "split 'val' has no objects" in result.output
    assert not pack_paths(tree / "packed", "train", 8)[1].exists()  # checked before packing
    result = CliRunner().invoke(
        cli, ["pack", str(tree), "--resolution", "8", "--split", "train", "--quiet"]
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith("train: 4 objects")
    assert pack_paths(tree / "packed", "train", 8)[1].is_file()
