"""`iebench validate` on a hand-built tree: clean, then with one defect at a time."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from click.testing import CliRunner
from helpers.handbuilt import build_tree
from PIL import Image

from iebench.cli import cli
from iebench.core.errors import IebenchError
from iebench.data.validate import validate_tree
from iebench.protocol.layout import object_key, split_files

VIEWS = 3


@pytest.fixture
def tree(tmp_path):
    return build_tree(tmp_path / "tree", views=VIEWS, size=32)


def test_a_clean_tree_passes(tree):
    report = validate_tree(tree)
    assert report.ok, report.problems
    assert report.splits["train"].objects == 4 and report.splits["val"].objects == 2
    assert report.splits["train"].images_decoded == 4 * VIEWS
    assert report.splits["val"].latent_files_checked == 2 * VIEWS
    result = CliRunner().invoke(cli, ["validate", str(tree)])
    assert result.exit_code == 0, result.output
    assert "OK" in result.output


def only_problem(tree, **kwargs):
    report = validate_tree(tree, **kwargs)
    assert len(report.problems) == 1, report.problems
    return report.problems[0]


def test_missing_and_corrupt_images(tree):
    missing = tree / "02691156" / "plane_b" / "image_2.jpg"
    missing.unlink()
    assert only_problem(tree) == f"{missing}: view missing"
    build_tree(tree, views=VIEWS, size=32)
    corrupt = tree / "04379243" / "table_b" / "image_0.jpg"
    corrupt.write_bytes(corrupt.read_bytes()[:200])
    assert only_problem(tree).startswith(f"{corrupt}: corrupt JPEG")
    build_tree(tree, views=VIEWS, size=32)
    wrong_size = tree / "03001627" / "chair_a" / "image_1.jpg"
    Image.new("RGB", (24, 32)).save(wrong_size)
    assert only_problem(tree) == f"{wrong_size}: size 24x32, expected 32x32"
    result = CliRunner().invoke(cli, ["validate", str(tree)])
    assert result.exit_code == 1
    assert f"{wrong_size}: size 24x32" in result.output and "1 problem(s)" in result.output


def test_latent_files_and_ranges(tree):
    latent = tree / "03001627" / "chair_b" / "latent_1.npy"
    np.save(latent, np.load(latent) + 0.1)
    assert only_problem(tree) == f"{latent}: differs from its row in the split latents"
    np.save(latent, np.zeros(3))
    assert only_problem(tree) == f"{latent}: shape (3,), expected (7,)"
    latent.unlink()
    assert only_problem(tree) == f"{latent}: latent file missing"

    build_tree(tree, views=VIEWS, size=32)
    files = split_files(tree, "train")
    latents = np.load(files.latents)
    latents[4, 4] = 1.5  # spot light polar angle beyond pi/4
    np.save(files.latents, latents)
    problems = validate_tree(tree).problems
    assert problems[0] == (
        f"{files.latents}: row 4 (/02691156/plane_b/ view 1) has factors outside the "
        f"'published' ranges"
    )
    # ...and the per-view file no longer matches its row.
    assert problems[1:] == [
        f"{tree / '02691156' / 'plane_b' / 'latent_1.npy'}: differs from its row in the "
        f"split latents"
    ]


def test_inconsistent_split_files(tree):
    files = split_files(tree, "val")
    np.save(files.latents, np.zeros((5, 7)))
    assert "all_latents_val.npy: latents of the wrong shape" in only_problem(tree)
    build_tree(tree, views=VIEWS, size=32)
    np.save(files.labels, np.array([0, 0]))
    assert only_problem(tree).startswith(f"{files.labels}: label 0 of /03001627/chair_b/")
    build_tree(tree, views=VIEWS, size=32)
    np.save(files.images, np.array([object_key("03001627", "chair_a"), "/04379243/table_b/"]))
    chair_a = np.load(split_files(tree, "train").latents)[2 * VIEWS : 3 * VIEWS]
    np.save(files.latents, np.concatenate([chair_a, np.load(files.latents)[VIEWS:]]))
    assert only_problem(tree) == f"{files.images}: /03001627/chair_a/ is also in the train split"
    files.labels.unlink()
    assert only_problem(tree) == f"{files.labels}: split file missing"


def test_sampling_decodes_a_subset(tree):
    corrupt = tree / "02691156" / "plane_a" / "image_0.jpg"
    corrupt.write_bytes(b"not a jpeg")
    report = validate_tree(tree, sample=1, seed=0)
    assert report.splits["train"].images_decoded <= VIEWS
    assert report.splits["val"].images_decoded == VIEWS
    full = validate_tree(tree, workers=2)
    assert full.problems == [f"{corrupt}: not a decodable image"]


def test_not_a_tree(tmp_path):
    with pytest.raises(IebenchError, match="not a directory"):
        validate_tree(tmp_path / "nowhere")
    assert only_problem(tmp_path).startswith(f"{tmp_path}: no split files")


def test_a_rendered_tree_passes(rendered_tree):
    report = validate_tree(rendered_tree)
    assert report.ok, report.problems
    assert report.notes == []  # image size and factor spec come from the manifest
    views = report.splits["train"].views
    assert report.splits["train"].images_decoded == report.splits["train"].objects * views


def test_an_empty_split_fails(tree):
    files = split_files(tree, "val")
    np.save(files.images, np.array([], dtype="<U20"))
    np.save(files.labels, np.array([], dtype=np.int64))
    np.save(files.latents, np.zeros((0, 7)))
    assert only_problem(tree) == f"{files.images}: the val split is empty"


def test_a_rendered_view_must_be_the_file_rendered(rendered_tree, tmp_path):
    tree = shutil.copytree(rendered_tree, tmp_path / "tree")
    image = next(tree.glob("03001627/*/image_1.jpg"))
    other = next(tree.glob("04379243/*/image_1.jpg"))
    shutil.copy(other, image)  # a whole JPEG of the right size, of another view
    record = image.parent / "checksums.json"
    assert (
        only_problem(tree)
        == f"{image}: size or sha256 differs from {record}: not the file rendered"
    )
    shutil.copy(rendered_tree / image.relative_to(tree), image)
    other.parent.joinpath("checksums.json").unlink()
    assert only_problem(tree) == f"{other.parent / 'checksums.json'}: checksum record missing"
