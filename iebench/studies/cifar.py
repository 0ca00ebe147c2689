"""CIFAR-10/100 in the python (pickle) format, read from the user's archive or folder.

Never downloads: pass ``cifar-10-python.tar.gz`` / ``cifar-100-python.tar.gz`` or the
folder extracted from it (``cifar-10-batches-py`` / ``cifar-100-python``).
"""

from __future__ import annotations

import io
import pickle
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from iebench.core.errors import IebenchError

SIDE = 32
CIFAR10_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR10_TEST = ("test_batch",)
CIFAR100_TRAIN = ("train",)
CIFAR100_TEST = ("test",)


@dataclass(frozen=True, eq=False)
class CifarData:
    name: str  # "cifar10" or "cifar100"
    train_images: np.ndarray  # (N, 32, 32, 3) uint8
    train_labels: np.ndarray  # (N,) int64
    test_images: np.ndarray
    test_labels: np.ndarray

    @property
    def num_classes(self) -> int:
        return 10 if self.name == "cifar10" else 100


def _read_members(path: Path) -> dict[str, bytes]:
    """Basename -> bytes of every batch file in the archive or folder."""
    wanted = set(CIFAR10_TRAIN + CIFAR10_TEST + CIFAR100_TRAIN + CIFAR100_TEST)
    if path.is_dir():
        found = {p.name: p for p in path.rglob("*") if p.name in wanted and p.is_file()}
        return {name: p.read_bytes() for name, p in found.items()}
    if not path.is_file():
        raise IebenchError(f"{path}: no such CIFAR archive or folder")
    try:
        with tarfile.open(path) as archive:
            members = {
                Path(m.name).name: m for m in archive.getmembers() if Path(m.name).name in wanted
            }
            return {
                name: archive.extractfile(m).read() for name, m in members.items() if m.isfile()
            }
    except (tarfile.TarError, OSError, EOFError) as error:
        raise IebenchError(f"{path}: not a readable CIFAR .tar.gz archive ({error})") from None


# The only globals a CIFAR batch (a dict of bytes, lists and a numpy array) may name: a
# pickle is a program, and one naming anything else (os.system, ...) is refused unrun.
ALLOWED_GLOBALS = frozenset(
    {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),  # numpy < 2
        ("numpy._core.multiarray", "_reconstruct"),  # numpy >= 2
        ("numpy.core.numeric", "_frombuffer"),  # pickle protocol 5
        ("numpy._core.numeric", "_frombuffer"),
        ("_codecs", "encode"),  # bytes pickled by Python 3 at protocol 2
        ("builtins", "bytearray"),
    }
)


class BatchUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays and builtin containers, nothing else."""

    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"refused global {module[:100]}.{name[:100]}")
        return super().find_class(module, name)


def _decode(path: Path, name: str, payload: bytes, label_key: bytes) -> tuple[np.ndarray, ...]:
    try:
        batch = BatchUnpickler(io.BytesIO(payload), encoding="bytes").load()
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        labels = np.asarray(batch[label_key], dtype=np.int64)
    # What a malformed or hostile pickle raises, and a batch that is not the dict expected.
    except (
        pickle.UnpicklingError,
        EOFError,
        KeyError,
        IndexError,
        AttributeError,
        TypeError,
        ValueError,
        OverflowError,
    ) as error:
        raise IebenchError(f"{path}: {name} is not a CIFAR python batch ({error!r})") from None
    if data.ndim != 2 or data.shape[1] != 3 * SIDE * SIDE or len(labels) != len(data):
        raise IebenchError(
            f"{path}: {name} has data {data.shape} and {len(labels)} labels; "
            f"expected (N, {3 * SIDE * SIDE}) and N"
        )
    # Rows are channel-major (1024 red, 1024 green, 1024 blue), each row-major.
    return data.reshape(-1, 3, SIDE, SIDE).transpose(0, 2, 3, 1), labels


def load_cifar(path: str | Path) -> CifarData:
    """CIFAR-10 (data_batch_1..5, test_batch) or CIFAR-100 (train, test; fine labels)."""
    path = Path(path)
    members = _read_members(path)
    if all(name in members for name in CIFAR10_TRAIN + CIFAR10_TEST):
        name, train, test, label_key = "cifar10", CIFAR10_TRAIN, CIFAR10_TEST, b"labels"
    elif all(name in members for name in CIFAR100_TRAIN + CIFAR100_TEST):
        name, train, test, label_key = "cifar100", CIFAR100_TRAIN, CIFAR100_TEST, b"fine_labels"
    else:
        raise IebenchError(
            f"{path}: no CIFAR-10 (data_batch_1..5, test_batch) or CIFAR-100 (train, test) "
            f"python batches found"
        )

    def stack(names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        parts = [_decode(path, n, members[n], label_key) for n in names]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    train_images, train_labels = stack(train)
    test_images, test_labels = stack(test)
    classes = 10 if name == "cifar10" else 100
    for split, labels in (("train", train_labels), ("test", test_labels)):
        if labels.size and (labels.min() < 0 or labels.max() >= classes):
            raise IebenchError(f"{path}: {name} {split} labels outside 0..{classes - 1}")
    return CifarData(name, train_images, train_labels, test_images, test_labels)
