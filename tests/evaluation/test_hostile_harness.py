"""`iebench evaluate` facing hostile and concurrent input: stale caches, two runs into one
--out, bad latents, bad images (in DataLoader workers too) and checkpoints holding objects.
Every case runs on the hand-built tree (no Blender)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from helpers.handbuilt import SPLIT_OBJECTS, build_tree, view_pixels
from PIL import Image
from torch.utils.data import DataLoader

from iebench.cli import cli
from iebench.core.errors import IebenchError
from iebench.core.locks import hold, holder_of
from iebench.data.dataset import ViewsDataset
from iebench.data.imageio import read_image
from iebench.data.preprocess import MEAN, STD, to_uint8_tensor
from iebench.data.tree import TreeIndex
from iebench.evaluation.features import files_stamp, worker_error
from iebench.evaluation.submission import load_submission
from iebench.protocol.layout import (
    CHECKSUMS_NAME,
    SPLITS,
    image_path,
    results_lock_path,
    split_files,
)
from iebench.training.run_files import load_torch

VIEWS = 3
SIZE = 32
HELPER = "hostile_scale_helper"  # a module name no other test imports

# A fixed function of the pixels (2x2 average pooling, scaled): features are predictable.
ENCODER = """\
import torch
from torch import nn
from iebench.evaluation.submission import EncoderMetadata
{imports}
METADATA = EncoderMetadata(name="pooled", embedding_dim=12, resolution=32)


class Pooled(nn.Module):
    def forward(self, images):
        return nn.functional.adaptive_avg_pool2d(images, 2).flatten(1) * SCALE


def build_encoder(checkpoint):
    {build}
    return Pooled()
"""


def encoder_source(imports: str = "SCALE = 1.0", build: str = "pass") -> str:
    return ENCODER.format(imports=imports, build=build)


@pytest.fixture
def tree(tmp_path) -> Path:
    return build_tree(tmp_path / "tree", views=VIEWS, size=SIZE)


@pytest.fixture
def encoder_file(tmp_path) -> Path:
    path = tmp_path / "submission" / "pooled.py"
    path.parent.mkdir()
    path.write_text(encoder_source())
    return path


def run_cli(encoder: Path, tree: Path, out: Path, *extra: str, cache: Path | None = None):
    args = [
        "evaluate", encoder, "--data", tree, "--protocol", "quick", "--tasks", "classification",
        "--workers", "0", "--quiet", "--cache", cache or tree.parent / "cache", "--out", out,
        *extra,
    ]  # fmt: skip
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def feature_dirs(cache: Path) -> list[Path]:
    return sorted(cache.glob("features-*"), key=lambda path: path.stat().st_mtime_ns)


def val_features(directory: Path) -> np.ndarray:
    return np.load(directory / "val-00000.npy")


def one_line_error(result) -> str:
    """The output of a run refused with one line, without its 'Error: ' prefix."""
    assert result.exit_code == 1, result.output
    assert result.output.startswith("Error: ") and result.output.count("\n") == 1, result.output
    return result.output.removeprefix("Error: ").rstrip("\n")


def test_images_replaced_in_place_are_extracted_again(tree, encoder_file, tmp_path):
    """Before, the cache key covered the split files only: after every JPEG was replaced
    (same names), the second run scored the first run's features."""
    cache = tmp_path / "cache"
    assert run_cli(encoder_file, tree, tmp_path / "a.json").exit_code == 0
    for split in SPLITS:
        for synset, object_id in SPLIT_OBJECTS[split]:
            for view in range(VIEWS):
                path = image_path(tree, synset, object_id, view)
                pixels = 255 - view_pixels(synset, object_id, view, SIZE)  # other pixels
                Image.fromarray(pixels).save(path, "JPEG", quality=95)
                stat = path.stat()  # a later mtime, also where timestamps are coarse
                os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    result = run_cli(encoder_file, tree, tmp_path / "b.json")
    assert result.exit_code == 0, result.output
    first, second = feature_dirs(cache)
    assert not np.allclose(val_features(first), val_features(second))
    # The new features are the encoder's on the new pixels.
    index = TreeIndex.load(tree, "val")
    image = torch.from_numpy(read_image(index.image_path(0, 0), SIZE)).permute(2, 0, 1) / 255
    normalised = (image - torch.tensor(MEAN)[:, None, None]) / torch.tensor(STD)[:, None, None]
    pooled = torch.nn.functional.adaptive_avg_pool2d(normalised[None], 2).flatten(1)[0]
    np.testing.assert_allclose(val_features(second)[0, 0], pooled.numpy(), rtol=1e-4, atol=1e-4)


def test_files_stamp_covers_checksum_records_and_image_stats(tree):
    indices = [TreeIndex.load(tree, split) for split in SPLITS]
    first = files_stamp(indices, SIZE)
    assert files_stamp(indices, SIZE) == first  # nothing changed: the cache is reused
    record = indices[1].object_dir(0) / CHECKSUMS_NAME
    record.write_text(json.dumps({"image_0.jpg": {"size": 1, "sha256": "0" * 64}}))
    with_record = files_stamp(indices, SIZE)
    assert with_record != first
    image = indices[0].image_path(1, 2)
    stat = image.stat()
    os.utime(image, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))  # touched: maybe rewritten
    assert files_stamp(indices, SIZE) not in (first, with_record)


@pytest.fixture
def helper_folder(tmp_path, monkeypatch) -> Path:
    """A folder on sys.path (as with PYTHONPATH) holding a helper module of the submission;
    the module is forgotten afterwards."""
    folder = tmp_path / "lib"
    folder.mkdir()
    (folder / f"{HELPER}.py").write_text("SCALE = 1.0\n")
    monkeypatch.syspath_prepend(folder)
    # Same size, same second: a cached .pyc would be taken for the changed source.
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    yield folder
    sys.modules.pop(HELPER, None)


def test_a_changed_helper_module_of_the_submission_is_extracted_again(
    tree, tmp_path, helper_folder
):
    """Before, the key covered the submission file alone: after a module it imports changed,
    the second run scored the first run's features."""
    encoder = tmp_path / "uses_helper.py"
    encoder.write_text(encoder_source(imports=f"from {HELPER} import SCALE"))
    submission = load_submission(encoder)
    assert list(submission.module_sources) == [HELPER]  # not torch, numpy or iebench
    sys.modules.pop(HELPER)
    cache = tmp_path / "cache"
    assert run_cli(encoder, tree, tmp_path / "a.json").exit_code == 0
    (helper_folder / f"{HELPER}.py").write_text("SCALE = 3.0\n")
    sys.modules.pop(HELPER)  # each `iebench evaluate` is a fresh process
    result = run_cli(encoder, tree, tmp_path / "b.json")
    assert result.exit_code == 0, result.output
    first, second = feature_dirs(cache)
    np.testing.assert_allclose(val_features(second), 3 * val_features(first), rtol=1e-5)


def test_a_second_run_into_one_out_is_refused_while_the_first_runs(tree, tmp_path):
    """Before, both runs passed the start's check (no file yet) and the second replaced the
    first's results at its end."""
    out = tmp_path / "results.json"
    lock = results_lock_path(out)
    seen = tmp_path / "holder.txt"
    # The submission notes who holds the lock while the run builds it.
    build = f"open({str(seen)!r}, 'w').write(str(holder_of(Path({str(lock)!r}))))"
    encoder = tmp_path / "notes_lock.py"
    imports = "SCALE = 1.0\nfrom pathlib import Path\nfrom iebench.core.locks import holder_of"
    encoder.write_text(encoder_source(imports=imports, build=build))
    result = run_cli(encoder, tree, out)
    assert result.exit_code == 0, result.output
    assert seen.read_text().startswith(f"pid {os.getpid()} on ")
    assert holder_of(lock) is None  # released once the results are written

    out.unlink()
    with hold(lock):  # another run, working on it
        message = one_line_error(run_cli(encoder, tree, out))
    assert message.startswith(
        f"{out.parent}: another `iebench evaluate` is writing {out.name} (pid "
    )
    assert "choose another --out" in message
    assert not out.exists()


BAD_LATENTS = {
    "NaN": (np.nan, "has non-finite factors (NaN or inf)"),
    "floor hue 1e6": (1e6, "has factors outside the 'published' ranges"),
}


@pytest.mark.parametrize("case", list(BAD_LATENTS))
def test_bad_latents_are_refused_before_any_work(tree, encoder_file, tmp_path, case):
    """Before, a NaN latent ran the whole evaluation (or failed naming the results file) and
    a floor hue of 1e6 was scored."""
    value, problem = BAD_LATENTS[case]
    path = split_files(tree, "train").latents
    latents = np.load(path)
    latents[4, 3] = value  # row 4: plane_b's view 1, its floor hue
    np.save(path, latents)
    cache, out = tmp_path / "cache", tmp_path / "results.json"
    message = one_line_error(run_cli(encoder_file, tree, out, cache=cache))
    assert message.startswith(f"{path}: row 4 (/02691156/plane_b/ view 1) {problem}")
    assert not out.exists() and not cache.exists()


@pytest.mark.parametrize("workers", [0, 2])
def test_a_truncated_jpeg_is_one_line_naming_it_from_workers_too(
    tree, encoder_file, tmp_path, workers
):
    """Before, with DataLoader workers, the error came with the worker's 25-line traceback."""
    bad = image_path(tree, "03001627", "chair_b", 1)
    bad.write_bytes(bad.read_bytes()[:300])
    out = tmp_path / "results.json"
    result = run_cli(encoder_file, tree, out, "--workers", str(workers))
    assert one_line_error(result).startswith(f"{bad}: corrupt JPEG (")
    assert not out.exists()


def test_a_symlink_loop_is_one_line_naming_it(tree, encoder_file, tmp_path):
    loop = image_path(tree, "04379243", "table_b", 0)
    loop.unlink()
    loop.symlink_to(loop.name)
    result = run_cli(encoder_file, tree, tmp_path / "results.json", "--workers", "2")
    assert one_line_error(result) == f"{loop}: cannot read (Too many levels of symbolic links)"


def test_worker_errors_are_unwrapped_to_their_line(tree):
    """What a DataLoader worker raises reaches the harness as the worker's whole traceback."""
    loop = image_path(tree, "04379243", "table_b", 0)
    loop.unlink()
    loop.symlink_to(loop.name)
    dataset = ViewsDataset(TreeIndex.load(tree, "val"), transform=to_uint8_tensor)
    with pytest.raises(IebenchError) as raised:
        list(DataLoader(dataset, batch_size=2, num_workers=1))
    assert "Traceback" in str(raised.value)
    assert str(worker_error(raised.value)) == (
        f"{loop}: cannot read (Too many levels of symbolic links)"
    )
    plain = IebenchError("a.jpg: corrupt JPEG (x)")  # raised in this process: kept
    assert worker_error(plain) is plain


def test_an_image_claiming_too_many_pixels_is_refused_before_decoding(tmp_path):
    path = tmp_path / "bomb.jpg"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(path, "JPEG")
    data = bytearray(path.read_bytes())
    sof = data.index(b"\xff\xc0")  # baseline frame header: length, precision, height, width
    data[sof + 5 : sof + 9] = (60000).to_bytes(2, "big") * 2
    path.write_bytes(bytes(data))
    with pytest.raises(IebenchError, match=r"bomb\.jpg: 60000x60000 pixels, more than 89478485"):
        read_image(path, 32)


class Opaque:
    """A Python object pickled into a checkpoint: a weights-only load refuses it."""


def test_a_checkpoint_holding_objects_is_refused_in_one_line(tree, tmp_path):
    checkpoint = tmp_path / "model.pth"
    torch.save({"model": {}, "extra": Opaque()}, checkpoint)
    encoder = tmp_path / "loads.py"
    load = "load_backbone_weights(resnet18(width=4, layers=(1, 1, 1, 1)), checkpoint)"
    imports = "SCALE = 1.0\nfrom iebench.models.resnet import load_backbone_weights, resnet18"
    encoder.write_text(encoder_source(imports=imports, build=load))
    out = tmp_path / "results.json"
    result = run_cli(encoder, tree, out, "--checkpoint", checkpoint)
    message = one_line_error(result)
    assert f"{checkpoint}: refused: the checkpoint holds non-tensor objects" in message
    assert f"({__name__}.Opaque)" in message and "weights_only" not in message
    assert not out.exists()
    with pytest.raises(IebenchError) as raised:
        load_torch(checkpoint)
    assert str(raised.value).startswith(f"{checkpoint}: refused: the checkpoint holds non-tensor")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"\x80\x02garbage" * 8)
    with pytest.raises(IebenchError) as raised:
        load_torch(junk)
    assert str(raised.value) == (
        f"{junk}: not a readable torch checkpoint (malformed, or not what torch.save writes)"
    )
