"""Datasets, transforms and image reading on a hand-built tree in the published layout."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from helpers.handbuilt import SPLIT_OBJECTS, build_tree
from PIL import Image
from scipy.spatial.transform import Rotation
from torch.utils.data import DataLoader

from iebench.core.errors import IebenchError
from iebench.data.dataset import EpochSampler, PairsDataset, TreeIndex, ViewsDataset
from iebench.data.imageio import read_image
from iebench.data.preprocess import MEAN, STD, Normalize, ReferenceTransform, resized_size
from iebench.protocol.factors import FactorSpec, sample_object
from iebench.protocol.layout import split_files
from iebench.protocol.taxonomy import label_of

VIEWS = 5


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return build_tree(tmp_path_factory.mktemp("tree"), views=VIEWS, size=32)


@pytest.fixture
def fresh_tree(tmp_path):
    return build_tree(tmp_path / "tree", views=VIEWS, size=32)


def reference_tensor(path, resolution):
    """The straightforward way, written independently: PIL decode, resize, /255, normalise."""
    image = Image.open(path).convert("RGB").resize((resolution, resolution), Image.BILINEAR)
    x = torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1).float() / 255
    return (x - torch.tensor(MEAN).view(3, 1, 1)) / torch.tensor(STD).view(3, 1, 1)


# --- TreeIndex -------------------------------------------------------------------------


def test_index_reads_the_split_files(tree):
    index = TreeIndex.load(tree, "train")
    assert index.objects == tuple(SPLIT_OBJECTS["train"])
    assert index.views == VIEWS and index.latent_size == 7
    assert index.latents.shape == (len(SPLIT_OBJECTS["train"]), VIEWS, 7)
    assert [int(x) for x in index.labels] == [label_of(s) for s, _ in index.objects]
    flat = np.load(split_files(tree, "train").latents)
    np.testing.assert_array_equal(index.latents.reshape(-1, 7), flat)
    assert index.image_path(2, 3) == tree / "03001627" / "chair_a" / "image_3.jpg"
    np.testing.assert_array_equal(np.load(index.latent_path(2, 3)), index.latents[2, 3])
    assert index.missing_images() == []


def test_wrong_root_and_missing_split_file(tmp_path, fresh_tree):
    with pytest.raises(IebenchError, match="not a directory"):
        TreeIndex.load(tmp_path / "nowhere", "train")
    with pytest.raises(IebenchError, match="unknown split"):
        TreeIndex.load(fresh_tree, "test")
    split_files(fresh_tree, "val").labels.unlink()
    with pytest.raises(IebenchError, match=r"val_labels\.npy: split file missing"):
        TreeIndex.load(fresh_tree, "val")


@pytest.mark.parametrize(
    "latents, message",
    [
        (np.zeros((21, 7)), "not a whole number of views"),
        (np.zeros((20, 8)), "wrong shape"),
        (np.zeros(20 * 7), "wrong shape"),
    ],
)
def test_latents_of_the_wrong_shape(fresh_tree, latents, message):
    np.save(split_files(fresh_tree, "train").latents, latents)
    with pytest.raises(IebenchError, match=rf"all_latents_train\.npy: .*{message}"):
        TreeIndex.load(fresh_tree, "train")


def test_labels_must_be_their_synsets(fresh_tree):
    labels = split_files(fresh_tree, "train").labels
    np.save(labels, np.load(labels)[::-1].copy())
    with pytest.raises(IebenchError, match=r"train_labels\.npy: label .* is not its synset's"):
        TreeIndex.load(fresh_tree, "train")


def test_a_view_missing_on_disk_is_named(fresh_tree):
    missing = fresh_tree / "04379243" / "table_a" / "image_4.jpg"
    missing.unlink()
    with pytest.raises(IebenchError, match=rf"{missing}: view missing on disk"):
        PairsDataset(fresh_tree, "train", resolution=32)
    # Skipping the up-front check defers the error to the read, still naming the file.
    views = ViewsDataset(fresh_tree, "train", resolution=32, check_files=False)
    with pytest.raises(IebenchError, match=rf"{missing}: image missing"):
        views[3 * VIEWS + 4]


def test_a_corrupt_image_is_named(fresh_tree):
    path = fresh_tree / "02691156" / "plane_a" / "image_1.jpg"
    path.write_bytes(path.read_bytes()[:60])
    with pytest.raises(IebenchError, match=rf"{path}: corrupt JPEG"):
        ViewsDataset(fresh_tree, "train", resolution=32)[1]


# --- views -----------------------------------------------------------------------------


def test_all_views(tree):
    views = ViewsDataset(tree, "val", resolution=32)
    index = views.index
    assert len(views) == index.num_objects * VIEWS
    for item in range(len(views)):
        view = views[item]
        k, v = divmod(item, VIEWS)
        assert (int(view.object_index), int(view.view)) == (k, v)
        assert int(view.label) == label_of(index.objects[k][0])
        assert view.image.shape == (3, 32, 32) and view.image.dtype == torch.float32
        torch.testing.assert_close(view.latent, torch.tensor(index.latents[k, v]).float())
        torch.testing.assert_close(view.image, reference_tensor(index.image_path(k, v), 32))


def test_one_random_view_per_object_per_epoch(tree):
    views = ViewsDataset(tree, "train", mode="random", resolution=16, seed=3)
    assert len(views) == len(SPLIT_OBJECTS["train"])
    drawn = []
    for epoch in range(6):
        views.set_epoch(epoch)
        drawn.append([int(views[k].view) for k in range(len(views))])
    assert len({tuple(d) for d in drawn}) > 1
    views.set_epoch(2)
    assert [int(views[k].view) for k in range(len(views))] == drawn[2]
    assert views[1].image.shape == (3, 16, 16)


# --- pairs -----------------------------------------------------------------------------


def scipy_relative(latent_i, latent_j):
    return Rotation.from_euler("xyz", latent_i[:3]).inv() * Rotation.from_euler("xyz", latent_j[:3])


def test_pairs_carry_the_relative_rotation_of_distinct_views(tree):
    pairs = PairsDataset(tree, "train", resolution=32, seed=0)
    index = pairs.index
    for epoch in range(8):
        pairs.set_epoch(epoch)
        for k in range(len(pairs)):
            pair = pairs[k]
            i, j = int(pair.view_i), int(pair.view_j)
            assert i != j and 0 <= i < VIEWS and 0 <= j < VIEWS
            li, lj = index.latents[k, i], index.latents[k, j]
            expected = scipy_relative(li, lj).as_quat()
            np.testing.assert_allclose(pair.rotation.numpy(), expected, atol=1e-6)
            assert pair.conditioning.shape == (0,)
            assert int(pair.label) == label_of(index.objects[k][0])
            torch.testing.assert_close(pair.latent_i, torch.tensor(li).float())
            torch.testing.assert_close(pair.latent_j, torch.tensor(lj).float())
    pair = pairs[0]
    torch.testing.assert_close(pair.x_i, reference_tensor(index.image_path(0, pair.view_i), 32))
    torch.testing.assert_close(pair.x_j, reference_tensor(index.image_path(0, pair.view_j), 32))


def test_pair_rotation_forms_and_conditioning(tree):
    kwargs = {"resolution": 16, "seed": 5}
    plain = PairsDataset(tree, "train", **kwargs)
    canonical = PairsDataset(tree, "train", canonical=True, conditioning="colour", **kwargs)
    euler = PairsDataset(tree, "train", rotation="euler", conditioning="all", **kwargs)
    saw_negative_w = False
    for k in range(len(plain)):
        a, b, c = plain[k], canonical[k], euler[k]
        assert (int(a.view_i), int(a.view_j)) == (int(b.view_i), int(b.view_j))
        li, lj = plain.index.latents[k, int(a.view_i)], plain.index.latents[k, int(a.view_j)]
        relative = scipy_relative(li, lj)
        saw_negative_w |= bool(a.rotation[3] < 0)
        assert b.rotation[3] >= 0
        sign = 1.0 if a.rotation[3] >= 0 else -1.0
        np.testing.assert_allclose(b.rotation.numpy(), sign * a.rotation.numpy(), atol=1e-7)
        np.testing.assert_allclose(c.rotation.numpy(), relative.as_euler("xyz"), atol=1e-5)
        np.testing.assert_allclose(b.conditioning.numpy(), lj[[3, 6]] - li[[3, 6]], atol=1e-6)
        np.testing.assert_allclose(c.conditioning.numpy(), lj[3:7] - li[3:7], atol=1e-6)
    # scipy's sign is kept by default (docs/protocol.md section 3): some draws have w < 0 here.
    for epoch in range(1, 10):
        plain.set_epoch(epoch)
        saw_negative_w |= any(bool(plain[k].rotation[3] < 0) for k in range(len(plain)))
    assert saw_negative_w


def test_pairs_are_reproducible_per_seed_and_epoch(tree):
    def draws(seed, epoch):
        pairs = PairsDataset(tree, "train", resolution=8, seed=seed)
        pairs.set_epoch(epoch)
        return [pairs.locate(k) for k in range(len(pairs))]

    assert draws(0, 0) == draws(0, 0)
    assert draws(0, 1) == draws(0, 1)
    assert len({tuple(draws(0, e)) for e in range(5)}) > 1
    assert any(draws(0, e) != draws(1, e) for e in range(5))


def batches(dataset, workers, epochs=2, **loader):
    """(epoch, view_i, view_j, x_i) of every batch over ``epochs`` epochs."""
    seen = []
    data = DataLoader(dataset, batch_size=3, num_workers=workers, **loader)
    for epoch in range(epochs):
        sampler = loader.get("sampler")
        (sampler or dataset).set_epoch(epoch)
        seen += [(b.object_index, b.view_i, b.view_j, b.x_i) for b in data]
    return seen


def assert_same_batches(a, b):
    assert len(a) == len(b)
    for left, right in zip(a, b, strict=True):
        for x, y in zip(left, right, strict=True):
            assert torch.equal(x, y)


def test_pairs_do_not_depend_on_the_worker_count(tree):
    pairs = PairsDataset(tree, "train", resolution=8, seed=7)
    assert_same_batches(batches(pairs, 0), batches(pairs, 2))


def test_epoch_sampler_with_persistent_workers_and_ranks(tree):
    pairs = PairsDataset(tree, "train", resolution=8, seed=7)
    reference = batches(pairs, 0)
    sampled = batches(pairs, 2, sampler=EpochSampler(pairs, shuffle=False), persistent_workers=True)
    assert_same_batches(reference, sampled)
    # Two DDP ranks: each object once per epoch over the ranks, drawn as in one process.
    for epoch in range(3):
        pairs.set_epoch(epoch)
        expected = {k: pairs.locate(k) for k in range(len(pairs))}
        got = {}
        for rank in range(2):
            sampler = EpochSampler(pairs, seed=1, rank=rank, world_size=2)
            sampler.set_epoch(epoch)
            for item in sampler:
                got[item[1]] = pairs.locate(item)
        assert got == expected
    sampler = EpochSampler(pairs, seed=1, rank=0, world_size=3)
    assert len(sampler) == len(list(sampler)) == 2  # 4 objects over 3 ranks, padded


def test_pairs_need_two_views(tmp_path):
    root = build_tree(tmp_path / "one-view", views=1, size=8)
    with pytest.raises(IebenchError, match="at least 2 views"):
        PairsDataset(root, "train", resolution=8)


# --- transforms and image reading ------------------------------------------------------


def test_reference_transform_matches_the_straightforward_one(tree):
    path = tree / "03001627" / "chair_b" / "image_2.jpg"
    for resolution in (32, 16, 48):
        got = ReferenceTransform(resolution)(Image.open(path))
        torch.testing.assert_close(got, reference_tensor(path, resolution))
    array = np.asarray(Image.open(path).convert("RGB"))
    torch.testing.assert_close(ReferenceTransform(32)(array), reference_tensor(path, 32))
    assert resized_size(64, 32, 16) == (32, 16) and resized_size(30, 60, 10) == (10, 20)
    chw = torch.from_numpy(array.copy()).permute(2, 0, 1) / 255
    naive = (chw - torch.tensor(MEAN)[:, None, None]) / torch.tensor(STD)[:, None, None]
    torch.testing.assert_close(Normalize()(array), naive)


def test_read_image_matches_pillow(tree):
    path = tree / "02691156" / "plane_b" / "image_3.jpg"
    pillow = np.asarray(Image.open(path).convert("RGB"))
    np.testing.assert_array_equal(read_image(path), pillow)
    small = read_image(path, 16, dct_scaling=True)  # decoded at 1/2 scale by libjpeg
    assert small.shape == (16, 16, 3)
    resized = np.asarray(Image.fromarray(pillow).resize((16, 16), Image.BILINEAR))
    assert np.abs(small.astype(int) - resized).mean() < 3
    png = path.with_suffix(".png")
    Image.fromarray(pillow).save(png)
    np.testing.assert_array_equal(read_image(png), pillow)


# --- a tree rendered by iebench --------------------------------------------------------


def test_datasets_on_a_rendered_tree(rendered_tree):
    manifest = json.loads((rendered_tree / "iebench.json").read_text())
    views = manifest["counts"]["views_per_object"]
    spec = FactorSpec.from_dict(manifest["factor_spec"])
    seed = manifest["config"]["seed"]
    for split in ("train", "val"):
        index = TreeIndex.load(rendered_tree, split)
        assert index.num_objects > 0 and index.views == views
        assert [int(x) for x in index.labels] == [label_of(s) for s, _ in index.objects]
        for k, (synset, object_id) in enumerate(index.objects):
            expected = sample_object(spec, seed, synset, object_id, views)
            np.testing.assert_array_equal(index.latents[k], expected)
            for v in range(views):
                np.testing.assert_array_equal(np.load(index.latent_path(k, v)), expected[v])
    resolution = manifest["render_settings"]["resolution"]
    pairs = PairsDataset(rendered_tree, "train", resolution=resolution, conditioning="colour")
    for k in range(len(pairs)):
        pair = pairs[k]
        i, j = int(pair.view_i), int(pair.view_j)
        li, lj = pairs.index.latents[k, i], pairs.index.latents[k, j]
        assert i != j and pair.x_i.shape == (3, resolution, resolution)
        np.testing.assert_allclose(pair.rotation, scipy_relative(li, lj).as_quat(), atol=1e-6)
        np.testing.assert_allclose(pair.conditioning, lj[[3, 6]] - li[[3, 6]], atol=1e-6)
        path = pairs.index.image_path(k, j)
        torch.testing.assert_close(pair.x_j, reference_tensor(path, resolution))
    views_dataset = ViewsDataset(rendered_tree, "val", resolution=16)
    assert len(views_dataset) == views_dataset.index.num_objects * views
    assert views_dataset[0].image.shape == (3, 16, 16)
