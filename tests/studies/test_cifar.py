"""The CIFAR reader: real batches in every pickle protocol, and a pickle that would run code
refused before it runs."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from iebench.core.errors import IebenchError
from iebench.studies.cifar import load_cifar


def batch(count: int, seed: int) -> dict:
    """A CIFAR-100 python batch as the archive holds it: bytes keys, a uint8 array, lists."""
    rng = np.random.default_rng(seed)
    return {
        b"batch_label": b"training batch 1 of 1",
        b"data": rng.integers(0, 256, (count, 3072), dtype=np.uint8),
        b"fine_labels": rng.integers(0, 100, count).tolist(),
        b"filenames": [f"image_{i}.png".encode() for i in range(count)],
    }


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_batches_read_in_every_pickle_protocol(tmp_path, protocol):
    train, test = batch(6, 1), batch(4, 2)
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    (folder / "train").write_bytes(pickle.dumps(train, protocol=protocol))
    (folder / "test").write_bytes(pickle.dumps(test, protocol=protocol))
    data = load_cifar(folder)
    assert data.name == "cifar100" and data.train_images.shape == (6, 32, 32, 3)
    # Channel-major rows: the first 1024 values are the red plane, row-major.
    assert data.train_images[0, 0, 1, 0] == train[b"data"][0, 1]
    np.testing.assert_array_equal(data.test_labels, test[b"fine_labels"])


class RunsACommand:
    """Unpickling this calls os.system: what a hostile archive could hold."""

    def __init__(self, marker) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_a_pickle_naming_os_system_is_refused_unrun(tmp_path):
    marker = tmp_path / "ran"
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    (folder / "train").write_bytes(pickle.dumps(batch(2, 1)))
    hostile = dict(batch(2, 2), payload=RunsACommand(marker))
    (folder / "test").write_bytes(pickle.dumps(hostile, protocol=2))
    with pytest.raises(IebenchError) as raised:
        load_cifar(folder)
    message = str(raised.value)
    assert message.startswith(f"{folder}: test is not a CIFAR python batch (")
    assert f"refused global {os.system.__module__}.system" in message
    assert "\n" not in message and not marker.exists()
