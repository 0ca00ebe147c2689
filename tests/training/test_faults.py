"""Fault injection: `pack`, feature extraction and `train` killed with
SIGKILL at many moments, then resumed; the result equals an uninterrupted run byte for byte
(training: the exact equality the resume test uses) and no partial file is left.

Each run happens in a forked child of the test process (which has imported everything and
made one warm-up run), killed as soon as its files show it reached a moment: before, while
and after it writes each kind of file. KILLS counts the moments per stage.
"""

from __future__ import annotations

import functools
import json
import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from iebench.core.io import TEMP_PREFIX
from iebench.data.pack import pack_paths, pack_split
from iebench.data.tree import TreeIndex
from iebench.evaluation import features as features_module
from iebench.evaluation.features import extract_features, open_cache
from iebench.evaluation.submission import load_submission
from iebench.training import TrainConfig, train
from iebench.training.run_files import load_torch

FORK = multiprocessing.get_context("fork")
KILLS = {"pack": 6, "features": 6, "train": 8}  # 20 moments in all
DEADLINE_S = 120  # per child; a run takes under 2 s here
ENCODER = """\
import torch
from iebench.models.resnet import resnet18
from iebench.evaluation.submission import EncoderMetadata

METADATA = EncoderMetadata(name="tiny", embedding_dim=32, resolution=32)


def build_encoder(checkpoint):
    return resnet18(width=4, layers=(1, 1, 1, 1))
"""


def kill_when(target: Callable[[], object], condition: Callable[[], bool]) -> bool:
    """Run ``target`` in a forked child and SIGKILL it as soon as ``condition()`` holds
    (polled every millisecond); True when the child was still running then. Bounded: a
    child that reaches neither the moment nor its end within DEADLINE_S fails the test."""
    child = FORK.Process(target=target)
    child.start()
    deadline = time.monotonic() + DEADLINE_S
    while child.is_alive() and not condition() and time.monotonic() < deadline:
        time.sleep(0.001)
    running = child.is_alive()
    if running:
        os.kill(child.pid, signal.SIGKILL)
    child.join()
    assert time.monotonic() < deadline, f"no progress in {DEADLINE_S} s (pid {child.pid})"
    return running


def temporaries(directory: Path) -> list[Path]:
    return [p for p in directory.rglob("*") if p.name.startswith(TEMP_PREFIX)]


def objects_written(directory: Path) -> int:
    """How far a pack into ``directory`` got: the objects of its half-written array that
    hold pixels; -1 before that array exists."""
    try:
        (temporary,) = temporaries(directory)
        array = np.load(temporary, mmap_mode="r")
    except (ValueError, OSError, EOFError):  # none yet (or renamed meanwhile), or no header
        return -1
    return int(np.count_nonzero(array.reshape(len(array), -1).any(axis=1)))


def test_pack_killed_at_any_moment_resumes_to_the_same_pack(rendered_tree, tmp_path):
    index = TreeIndex.load(rendered_tree, "train")  # 8 objects
    resolution = 128

    def pack_into(directory: Path) -> Callable[[], object]:
        return lambda: pack_split(index, resolution, directory)

    pack_into(tmp_path / "whole")()
    whole_array, whole_index = pack_paths(tmp_path / "whole", "train", resolution)
    # The pack is one array written in place, then renamed, then indexed: kill it once its
    # temporary array exists, after 2, 4, 6 and all 8 objects, and once renamed.
    moments = [lambda d, n=n: objects_written(d) >= n for n in (0, 2, 4, 6, 8)]
    moments.append(lambda d: pack_paths(d, "train", resolution)[0].exists())
    assert len(moments) == KILLS["pack"]
    interrupted, states = 0, set()
    for k, moment in enumerate(moments):
        directory = tmp_path / f"killed-{k}"
        condition = functools.partial(moment, directory)
        interrupted += kill_when(pack_into(directory), condition)
        array, meta = pack_paths(directory, "train", resolution)
        states.add((array.exists(), meta.exists(), objects_written(directory)))
        # Under the final names only complete files: an index only with its whole array.
        assert not array.exists() or array.read_bytes() == whole_array.read_bytes()
        assert array.exists() or not meta.exists()
        pack_split(index, resolution, directory)  # the rerun
        assert array.read_bytes() == whole_array.read_bytes()
        created = {**json.loads(meta.read_text()), "created": None}
        assert created == {**json.loads(whole_index.read_text()), "created": None}
        assert {p.name for p in directory.iterdir()} == {array.name, meta.name}
    assert interrupted >= KILLS["pack"] - 1 and len(states) >= 3, (interrupted, states)


def test_feature_extraction_killed_at_any_moment_resumes_to_the_same_features(
    rendered_tree, tmp_path, monkeypatch
):
    monkeypatch.setattr(features_module, "SHARD_OBJECTS", 1)  # one shard per object: 12
    encoder = tmp_path / "encoder.py"
    encoder.write_text(ENCODER)
    submission = load_submission(encoder)
    indices = [TreeIndex.load(rendered_tree, split) for split in ("train", "val")]

    def extract_into(root: Path) -> Callable[[], object]:
        def extract() -> None:
            cache = open_cache(root, "key")  # removes what a killed extraction left
            for index in indices:  # one batch = one object's views = one shard
                extract_features(submission, index, cache, "cpu", index.views, 0, False)

        return extract

    extract_into(tmp_path / "whole")()
    whole = tmp_path / "whole" / "features-key"

    def shards(root: Path) -> list[Path]:
        return sorted((root / "features-key").glob("*.npy"))

    # Kill once the cache exists, then after 1, 4 and 7 train shards, the first val shard
    # (a split boundary) and 3 val shards.
    moments = [lambda r: (r / "features-key").is_dir()]
    moments += [lambda r, n=n: len(shards(r)) >= n for n in (1, 4, 7, 9, 11)]
    assert len(moments) == KILLS["features"]
    interrupted, states = 0, set()
    for k, moment in enumerate(moments):
        root = tmp_path / f"killed-{k}"
        interrupted += kill_when(extract_into(root), functools.partial(moment, root))
        states.add(len(shards(root)))
        for shard in shards(root):  # every shard under its final name is whole and right
            assert shard.read_bytes() == (whole / shard.name).read_bytes()
        extract_into(root)()  # the resumed run, in this process
        assert not temporaries(root)
        resumed = sorted(p.name for p in (root / "features-key").iterdir())
        assert resumed == sorted(p.name for p in whole.iterdir())
        for name in resumed:
            assert (root / "features-key" / name).read_bytes() == (whole / name).read_bytes()
    assert interrupted >= KILLS["features"] - 1 and len(states) >= 4, (interrupted, states)


def test_training_killed_at_any_moment_resumes_to_the_uninterrupted_run(rendered_tree, tmp_path):
    def config(out: Path) -> TrainConfig:
        return TrainConfig(
            method="sie", data=str(rendered_tree), out=str(out), epochs=6, batch_size=8,
            resolution=32, width=8, projector=(32, 32, 32), workers=0, progress=False,
        )  # fmt: skip

    def train_into(run: Path) -> Callable[[], object]:
        return lambda: train(config(run))

    train_into(tmp_path / "whole")()
    whole = torch.load(tmp_path / "whole" / "final.pth", weights_only=True)
    whole_history = [
        row["loss"] for row in load_torch(tmp_path / "whole" / "checkpoint.pth")["history"]
    ]

    def epochs_logged(run: Path) -> int:
        try:
            return len(json.loads((run / "log.json").read_text()))
        except (OSError, ValueError):
            return 0

    # Kill once config.json is written, while a checkpoint is being written (its temporary
    # file exists), after 1, 2, 4 and 5 logged epochs, once final.pth is written and once
    # the submission file is (the last file of a run).
    moments = [
        lambda r: (r / "config.json").exists(),
        lambda r: any(p.name.startswith(f"{TEMP_PREFIX}checkpoint") for p in temporaries(r)),
        *(lambda r, n=n: epochs_logged(r) >= n for n in (1, 2, 4, 5)),
        lambda r: (r / "final.pth").exists(),
        lambda r: (r / "submission.py").exists(),
    ]
    assert len(moments) == KILLS["train"]
    interrupted, states = 0, set()
    for k, moment in enumerate(moments):
        run = tmp_path / f"killed-{k}"
        interrupted += kill_when(train_into(run), functools.partial(moment, run))
        checkpoint = run / "checkpoint.pth"
        # Whatever is under a final name is complete (it loads).
        states.add(load_torch(checkpoint)["epoch"] if checkpoint.exists() else 0)
        if (run / "config.json").exists():
            json.loads((run / "config.json").read_text())
        resumed = train(config(run), resume=True)
        assert [row["loss"] for row in resumed.history] == whole_history
        final = torch.load(run / "final.pth", weights_only=True)
        assert all(torch.equal(whole[key], final[key]) for key in whole)
        assert not temporaries(run)
    assert interrupted >= KILLS["train"] - 2 and len(states) >= 4, (interrupted, states)
    assert sum(KILLS.values()) == 20
