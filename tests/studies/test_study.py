"""The transformation study end to end: on a tiny CIFAR-format file and on a rendered tree."""

from __future__ import annotations

import io
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from PIL import Image

from iebench.cli import cli
from iebench.core.errors import IebenchError
from iebench.methods.pretext import TRANSFORMS
from iebench.studies.cifar import load_cifar
from iebench.studies.transformations import RANDOM_INIT, StudyConfig, run_study

pytestmark = pytest.mark.slow

TINY = {
    "steps": 3,
    "batch_size": 8,
    "width": 4,
    "head_hidden": 16,
    "probe_epochs": 3,
    "device": "cpu",
}


def cifar_batch(count: int, seed: int, label_key: bytes, classes: int) -> bytes:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, count)
    # Class-dependent brightness, so that a probe has something to find.
    data = rng.integers(0, 128, (count, 3072)) + (labels[:, None] * 127 // (classes - 1))
    return pickle.dumps({b"data": data.astype(np.uint8), label_key: labels.tolist()})


def write_cifar10(path: Path, per_batch: int = 8, test: int = 12) -> Path:
    """A CIFAR-10 python-format .tar.gz: data_batch_1..5 and test_batch, as published."""
    files = {f"data_batch_{i}": cifar_batch(per_batch, i, b"labels", 10) for i in range(1, 6)}
    files["test_batch"] = cifar_batch(test, 0, b"labels", 10)
    with tarfile.open(path, "w:gz") as archive:
        for name, payload in files.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(payload)
            archive.addfile(info, io.BytesIO(payload))
    return path


def test_cifar_loader_reads_archives_and_folders(tmp_path):
    data = load_cifar(write_cifar10(tmp_path / "cifar-10-python.tar.gz"))
    assert data.name == "cifar10" and data.num_classes == 10
    assert data.train_images.shape == (40, 32, 32, 3) and data.train_images.dtype == np.uint8
    assert data.test_images.shape == (12, 32, 32, 3) and data.train_labels.dtype == np.int64
    # channel-major rows: the first 1024 values are the red plane
    raw = pickle.loads(cifar_batch(8, 1, b"labels", 10))[b"data"]
    np.testing.assert_array_equal(data.train_images[0, :, :, 0], raw[0, :1024].reshape(32, 32))
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    (folder / "train").write_bytes(cifar_batch(6, 1, b"fine_labels", 100))
    (folder / "test").write_bytes(cifar_batch(4, 2, b"fine_labels", 100))
    data100 = load_cifar(tmp_path)
    assert data100.name == "cifar100" and data100.num_classes == 100
    assert data100.train_images.shape == (6, 32, 32, 3)


def test_cifar_loader_errors_name_the_file(tmp_path):
    with pytest.raises(IebenchError, match="no such CIFAR archive or folder"):
        load_cifar(tmp_path / "absent.tar.gz")
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not an archive")
    with pytest.raises(IebenchError, match="junk.tar.gz: not a readable CIFAR"):
        load_cifar(junk)
    (tmp_path / "empty").mkdir()
    with pytest.raises(IebenchError, match="no CIFAR-10 .* or CIFAR-100 .* python batches"):
        load_cifar(tmp_path / "empty")
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("train", "test"):
        (broken / name).write_bytes(pickle.dumps({b"data": np.zeros((2, 10), np.uint8)}))
    with pytest.raises(IebenchError, match="train is not a CIFAR python batch"):
        load_cifar(broken)


def test_study_on_cifar_end_to_end_and_resume(tmp_path):
    archive = write_cifar10(tmp_path / "cifar.tar.gz")
    config = StudyConfig(out=tmp_path / "study", cifar=archive, **TINY)
    assert config.backbone == "resnet18-cifar" and config.resolution == 32
    log: list[str] = []
    rows = run_study(config, log=log.append)
    assert [row.transformation for row in rows] == [RANDOM_INIT, *TRANSFORMS]
    table = pd.read_csv(tmp_path / "study" / "study.csv")
    assert list(table["transformation"]) == [RANDOM_INIT, *TRANSFORMS]
    assert list(table["classes"].iloc[1:]) == [t.num_classes for t in TRANSFORMS.values()]
    assert table["probe_top1"].between(0, 100).all()
    assert table["pretext_accuracy"].iloc[1:].between(0, 100).all()
    assert table["gain_over_random"].iloc[0] == 0
    with Image.open(tmp_path / "study" / "study.png") as chart:
        assert chart.size[0] > 600 and chart.format == "PNG"
    # a rerun keeps every finished row; another config in the same folder is refused
    log.clear()
    again = run_study(config, log=log.append)
    assert again == rows and sum("done before" in line for line in log) == len(rows)
    other = StudyConfig(out=tmp_path / "study", cifar=archive, **{**TINY, "steps": 4})
    with pytest.raises(IebenchError, match="holds a study with another config"):
        run_study(other)


def test_equal_budgets_are_reproducible(tmp_path):
    archive = write_cifar10(tmp_path / "cifar.tar.gz")
    options = {**TINY, "transformations": ("rot4", "invert")}
    first = run_study(StudyConfig(out=tmp_path / "a", cifar=archive, **options), log=print)
    second = run_study(StudyConfig(out=tmp_path / "b", cifar=archive, **options), log=print)
    assert [(r.probe_top1, r.pretext_accuracy) for r in first] == [
        (r.probe_top1, r.pretext_accuracy) for r in second
    ]


def test_study_on_a_rendered_tree_from_the_cli(rendered_tree, tmp_path):
    out = tmp_path / "tree-study"
    result = CliRunner().invoke(
        cli,
        [
            "study",
            "transformations",
            "--data",
            str(rendered_tree),
            "--out",
            str(out),
            "--resolution",
            "32",
            "--backbone",
            "eqresnet18-cifar",
            "--steps",
            "2",
            "--batch-size",
            "4",
            "--width",
            "4",
            "--probe-epochs",
            "2",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "study on 3diebench: 32 train / 16 test images" in result.output
    assert "random-init" in result.output and "jigsaw" in result.output
    table = pd.read_csv(out / "study.csv")
    assert len(table) == 1 + len(TRANSFORMS)
    assert (out / "study.png").is_file() and (out / "config.json").is_file()


def test_bad_study_options_fail_with_one_line(tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["study", "transformations", "--out", str(tmp_path / "s")])
    assert result.exit_code == 1
    assert "give exactly one of --data (3DIEBench tree) and --cifar" in result.output
    result = runner.invoke(
        cli,
        [
            "study",
            "transformations",
            "--cifar",
            str(tmp_path),
            "--out",
            str(tmp_path / "s"),
            "--transformations",
            "rot4,mirror",
        ],
    )
    assert result.exit_code == 1 and "unknown transformations ['mirror']" in result.output
