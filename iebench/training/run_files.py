"""The files of a training run directory, all written atomically.

config.json      the resolved TrainConfig
checkpoint.pth   after every epoch: epoch, full model, optimizer, scaler, history
log.csv/json     per-epoch mean loss terms
events.out.tfevents.*   the same, as TensorBoard scalars (with ``log="tensorboard"``)
final.pth        backbone-only weights (the official ``final_weights.pth`` layout)
heads.pth        the method's heads (projectors, predictor) and the config
submission.py    an `iebench evaluate` submission for this run's sizes
"""

from __future__ import annotations

import contextlib
import csv
import io
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from iebench.core.errors import IebenchError, unreadable_checkpoint
from iebench.core.io import atomic_path, write_json_atomic, write_text_atomic

BACKBONE_PREFIX = "backbone."


@dataclass(frozen=True)
class RunFiles:
    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.json"

    @property
    def checkpoint(self) -> Path:
        return self.root / "checkpoint.pth"

    @property
    def log_csv(self) -> Path:
        return self.root / "log.csv"

    @property
    def log_json(self) -> Path:
        return self.root / "log.json"

    @property
    def final(self) -> Path:
        return self.root / "final.pth"

    @property
    def heads(self) -> Path:
        return self.root / "heads.pth"

    @property
    def submission(self) -> Path:
        return self.root / "submission.py"


def save_atomic(path: Path, data: Any) -> None:
    with atomic_path(path) as temp:
        torch.save(data, temp)


def load_torch(path: Path) -> dict:
    """A checkpoint written by iebench (plain containers and tensors only)."""
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise IebenchError(f"{path}: file not found") from None
    except Exception as error:
        raise unreadable_checkpoint(path, error) from None
    if not isinstance(data, dict):
        raise IebenchError(f"{path}: expected a dict, got {type(data).__name__}")
    return data


def write_logs(files: RunFiles, history: Sequence[Mapping[str, float]]) -> None:
    """Per-epoch rows as CSV and JSON (rewritten whole: a few hundred bytes per epoch)."""
    columns: list[str] = []
    for row in history:
        columns += [key for key in row if key not in columns]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    write_text_atomic(files.log_csv, buffer.getvalue())
    write_json_atomic(files.log_json, list(history))


def tensorboard_writer() -> type:
    """torch's SummaryWriter class; a one-line error when the tensorboard package is missing."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise IebenchError(
            "--log tensorboard: the tensorboard package is not installed; "
            "pip install 'iebench[tensorboard]', or use --log csv"
        ) from None
    return SummaryWriter


@contextlib.contextmanager
def epoch_logs(
    files: RunFiles, log: str
) -> Iterator[Callable[[Sequence[Mapping[str, float]]], None]]:
    """A writer of the history after each epoch: `write_logs`, and with ``log`` tensorboard
    the last row's values as scalars at step = its epoch (the CSV's columns as tags)."""
    board = tensorboard_writer()(log_dir=str(files.root)) if log == "tensorboard" else None

    def write(history: Sequence[Mapping[str, float]]) -> None:
        write_logs(files, history)
        if board is not None:
            row = history[-1]
            for name, value in row.items():
                if name != "epoch":
                    board.add_scalar(name, value, global_step=int(row["epoch"]))
            board.flush()

    try:
        yield write
    finally:
        if board is not None:
            board.close()


def split_state(method: nn.Module) -> tuple[dict, dict]:
    """(backbone weights without prefix, every other weight of the method)."""
    backbone, heads = {}, {}
    for key, value in method.state_dict().items():
        if key.startswith(BACKBONE_PREFIX):
            backbone[key[len(BACKBONE_PREFIX) :]] = value.detach().cpu()
        else:
            heads[key] = value.detach().cpu()
    return backbone, heads


def write_final(files: RunFiles, method: nn.Module, config: Mapping[str, Any]) -> None:
    backbone, heads = split_state(method)
    save_atomic(files.final, backbone)
    save_atomic(files.heads, {"config": dict(config), "heads": heads})
