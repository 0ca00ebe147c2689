"""``evaluate(encoder, config) -> Results``: the whole benchmark run, as a pure function."""

from __future__ import annotations

import platform
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path, PurePath
from typing import Any

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from iebench import __version__
from iebench.core.errors import IebenchError
from iebench.core.processes import start, stop
from iebench.core.repository import portable_path
from iebench.data.torch_seeding import torch_generator as generator
from iebench.data.tree import TreeIndex, require_objects
from iebench.data.validate import expectations, latent_problems, split_latents
from iebench.evaluation.config import EvalConfig
from iebench.evaluation.features import (
    cache_key,
    dataset_fingerprint,
    extract_features,
    files_stamp,
    open_cache,
)
from iebench.evaluation.metrics import constant_r2, r2_per_output
from iebench.evaluation.submission import (
    Submission,
    iebench_commit,
    load_submission,
)
from iebench.evaluation.tasks import (
    SplitData,
    absent_tasks,
    classification,
    equivariance,
    pair_regression,
    pair_task_targets,
    random_pairs,
    val_pairs,
)
from iebench.protocol import reference
from iebench.protocol.layout import SPLITS
from iebench.protocol.manifest import read_tree_manifest
from iebench.protocol.results import Results, Score
from iebench.protocol.tasks import PARTS, PROBE_TASKS, TASK_REGISTRY, TASKS


def representation_parts(submission: Submission) -> dict[str, slice]:
    """The parts probed: the whole representation and each declared part."""
    metadata = submission.metadata
    parts = {"full": slice(0, metadata.embedding_dim)}
    for name, dims in (
        ("invariant", metadata.invariant_dims),
        ("equivariant", metadata.equivariant_dims),
    ):
        if dims is not None:
            parts[name] = slice(*dims)
    return {name: parts[name] for name in PARTS if name in parts}


def constant_tasks(train: TreeIndex) -> list[str]:
    """The tasks with nothing to predict on this dataset: every view of every training
    object has the same values of the factors the task's targets come from (colour on a
    tree whose factor spec fixes the floor and spot hues)."""
    return [
        name
        for name, task in TASK_REGISTRY.items()
        if task.factors
        and max(task.factors) < train.latent_size
        and np.ptp(train.latents[..., list(task.factors)], axis=1).max() == 0
    ]


def selected_tasks(submission: Submission, config: EvalConfig, constant: list[str]) -> list[str]:
    """The tasks to run: ``config.tasks``, or by default every task the submission and the
    dataset allow (``constant`` tasks left out)."""
    if config.tasks is None:
        has_predictor = submission.predictor is not None
        return [
            t
            for t in TASKS
            if (has_predictor or not TASK_REGISTRY[t].needs_predictor) and t not in constant
        ]
    for task in config.tasks:
        if task in constant:
            raise IebenchError(
                f"{config.data}: the {task} task has nothing to predict there (its factors are "
                f"the same in every view: the tree's factor spec fixes them); leave it out of "
                f"--tasks"
            )
        if TASK_REGISTRY[task].needs_predictor and submission.predictor is None:
            raise IebenchError(
                f"{submission.file}: the {task} task needs build_predictor(checkpoint) "
                f"(the model's projector and predictor); leave it out of --tasks"
            )
    return [t for t in TASKS if t in config.tasks]


def _summary(values: list[float]) -> Score:
    array = np.asarray(values, dtype=np.float64)
    std = float(array.std(ddof=1)) if len(array) > 1 else 0.0
    return Score(mean=float(array.mean()), std=std, n=len(array))


def _device_name(device: str) -> str:
    if torch.device(device).type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(torch.device(device))})"
    return device


def evaluate(
    encoder: Submission | Path | str, config: EvalConfig, command: Sequence[str] | None = None
) -> Results | None:
    """Evaluate a submission (a file path, with ``config.checkpoint``, or a ``Submission``)
    on ``config.data``; ``command`` is the command line that asked for it (``sys.argv``),
    recorded with its paths made portable (``portable_command``).

    Checks the submission and the dataset before any work; extracts features
    once (cached); trains every probe on the cached features, for every seed.
    Under torchrun every process extracts a share of the features (``cuda`` meaning
    its local GPU) and process 0 alone trains the probes and returns the results;
    the others return None.
    """
    started = time.perf_counter()
    indices = _checked_indices(config.data)  # before the encoder is built
    submission = _submission(encoder, config)
    constant = constant_tasks(indices["train"])
    # Tasks whose factors the latents lack (translation on a 3DIEBench tree) are left out.
    tasks = selected_tasks(
        submission, config, constant + absent_tasks(indices["train"], config.tasks)
    )
    rendered = _checked_resolution(submission, config, indices["val"])
    # Probes train on train and are scored on val; the predictor is scored on both.
    fingerprint = dataset_fingerprint(config.data)
    extraction = _extract(submission, config, fingerprint, indices)
    if extraction is None:
        return None
    features, device = extraction
    data = {split: SplitData.build(indices[split], features[split], device) for split in SPLITS}
    extracted = time.perf_counter()
    scores = _run_tasks(submission, config, tasks, data)
    finished = time.perf_counter()
    return Results(
        iebench_version=__version__,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        encoder=_encoder_section(submission),
        dataset=_dataset_section(config.data, fingerprint, indices, rendered, constant),
        protocol=_protocol_section(config, tasks),
        environment=_environment_section(config.device),
        scores=scores,
        timings={
            "extraction_s": round(extracted - started, 3),
            "probes_s": round(finished - extracted, 3),
            "total_s": round(finished - started, 3),
        },
        config=_config_section(config),
        reference=reference_levels(config, tasks, data),
        provenance={
            "iebench_commit": iebench_commit(),
            "command": None if command is None else portable_command(command),
        },
    )


def _portable_argument(argument: str) -> str:
    """An absolute path, or one climbing out with "..", as ``portable_path`` records it."""
    parts = PurePath(argument).parts
    return (
        portable_path(argument) if PurePath(argument).is_absolute() or ".." in parts else argument
    )


def portable_command(argv: Sequence[str]) -> list[str]:
    """``argv`` without this machine's folders: the program by its name, and every absolute
    path (or one with ".."), alone or as ``--option=PATH``, as ``portable_path`` records it.
    ``python -m iebench`` runs as ``__main__.py``: recorded as the command it stands for."""
    program = Path(argv[0]).name if argv else None
    command = [] if program is None else ["iebench" if program == "__main__.py" else program]
    for argument in argv[1:]:
        option, equals, value = argument.partition("=")
        if equals and option.startswith("-"):
            command.append(f"{option}={_portable_argument(value)}")
        else:
            command.append(_portable_argument(argument))
    return command


def _config_section(config: EvalConfig) -> dict[str, Any]:
    """The config as a results file records it: folders by their name, the checkpoint as
    ``portable_path`` records it (the paths of the machine that ran it mean nothing
    elsewhere; `iebench leaderboard verify` is given its own)."""
    section = config.to_dict()
    for name in ("data", "cache_dir"):
        if section[name] is not None:
            section[name] = Path(section[name]).resolve().name
    if section["checkpoint"] is not None:
        section["checkpoint"] = portable_path(section["checkpoint"])
    return section


def reference_levels(
    config: EvalConfig, tasks: list[str], data: dict[str, SplitData]
) -> dict[str, dict[str, float]]:
    """The floors of the run's scores (``iebench.protocol.reference``), from the dataset alone:
    the same for every encoder evaluated on it. The constant predictor's R^2 is scored on
    the seed-0 validation pairs, its mean taken over ``val_pairs_per_object`` random
    training pairs per object, under both R^2 definitions."""
    levels: dict[str, dict[str, float]] = {}
    val = data["val"]
    for task in tasks:
        if task == "classification":
            levels[task] = reference.chance_classification(
                data["train"].labels.cpu().numpy(), val.labels.cpu().numpy()
            )
        elif task in PROBE_TASKS:
            train = data["train"]
            objects = torch.arange(train.objects).repeat(config.val_pairs_per_object)
            i, j = random_pairs(len(objects), train.views, generator(0, task, "reference"))
            train_targets = pair_task_targets(task, train, objects, i, j)
            val_targets = pair_task_targets(
                task, val, *val_pairs(task, val, 0, config.val_pairs_per_object)
            )
            levels[task] = {
                "r2": constant_r2(train_targets, val_targets),
                "r2_per_output": constant_r2(train_targets, val_targets, r2_per_output),
            }
        else:
            levels[task] = reference.chance_retrieval(val.views)
    return levels


def _submission(encoder: Submission | Path | str, config: EvalConfig) -> Submission:
    if not isinstance(encoder, Submission):
        return load_submission(encoder, config.checkpoint, config.device, config.seed)
    if config.checkpoint is not None:
        raise IebenchError(
            f"{encoder.file}: an in-memory submission carries its weights; "
            f"leave the config's checkpoint unset"
        )
    return encoder


def _checked_indices(data: Path) -> dict[str, TreeIndex]:
    """Every split's index, refused before any work when it cannot be evaluated: no objects,
    fewer than 2 views, or latents that are not finite and within the tree's factor spec
    (as `iebench validate` checks them)."""
    indices = {split: TreeIndex.load(data, split) for split in SPLITS}
    spec = expectations(data, split_latents(indices)).spec
    for index in indices.values():
        require_objects(index)
        if index.views < 2:
            raise IebenchError(f"{data}: pairs need at least 2 views per object")
        problems = latent_problems(index, spec)
        if problems:
            raise IebenchError(f"{problems[0]}; `iebench validate {data}` lists every problem")
    return indices


def _extract(
    submission: Submission, config: EvalConfig, fingerprint: str, indices: dict[str, TreeIndex]
) -> tuple[dict[str, np.ndarray], str] | None:
    """(The features of each split (cached), the device), or None on a torchrun process
    other than 0."""
    files = files_stamp(indices.values(), submission.metadata.resolution)
    cache = open_cache(config.cache_root, cache_key(submission, fingerprint, files))
    processes = start(config.device)
    try:
        features = {
            split: extract_features(
                submission,
                index,
                cache,
                str(processes.device),
                config.batch_size,
                config.workers,
                config.progress and processes.is_main,
            )
            for split, index in indices.items()
        }
    finally:
        stop(processes)
    return (features, str(processes.device)) if processes.is_main else None


def render_resolution(index: TreeIndex) -> int | None:
    """The side of the tree's images: its manifest's render resolution, else (the published
    tree has no manifest) the first image's; None when unreadable."""
    manifest = read_tree_manifest(index.root)
    if manifest is not None and isinstance(manifest.resolution, int):
        return manifest.resolution
    try:
        with Image.open(index.image_path(0, 0)) as image:
            return min(image.size)
    except (OSError, ValueError):
        return None


def _checked_resolution(submission: Submission, config: EvalConfig, val: TreeIndex) -> int | None:
    """The tree's render resolution, refused when it is not the encoder's input resolution
    (its images would be silently resized) unless the config allows it."""
    rendered, declared = render_resolution(val), submission.metadata.resolution
    if rendered is not None and rendered != declared and not config.allow_resolution_mismatch:
        raise IebenchError(
            f"{submission.file}: the encoder takes {declared} px images but {config.data} was "
            f"rendered at {rendered} px; evaluate on a {declared} px render, or pass "
            f"--allow-resolution-mismatch to resize its images"
        )
    return rendered


def _dataset_section(
    data: Path,
    fingerprint: str,
    indices: dict[str, TreeIndex],
    render_resolution: int | None,
    constant: list[str],
) -> dict:
    return {
        "root": Path(data).resolve().name,  # the folder's name: no machine path
        "fingerprint": fingerprint,
        "splits": {
            split: {"objects": index.num_objects, "images": index.num_objects * index.views}
            for split, index in indices.items()
        },
        "views_per_object": indices["val"].views,
        "render_resolution": render_resolution,
        "constant_tasks": constant,
    }


def _protocol_section(config: EvalConfig, tasks: list[str]) -> dict:
    probe = config.probe
    return {
        "name": config.protocol,
        "tasks": tasks,
        "probe": {
            "optimizer": probe.optimizer,
            "lr": probe.lr,
            "weight_decay": probe.weight_decay,
            "batch_size": probe.batch_size,
            "epochs": probe.epochs,
        },
        "seeds": config.seed_list,
        "backbone_mode": "eval",
        # The board never ranks scores of different task versions together.
        "task_versions": {task: TASK_REGISTRY[task].version for task in tasks},
    }


def _environment_section(device: str) -> dict:
    return {
        "device": _device_name(device),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def _encoder_section(submission: Submission) -> dict:
    metadata = submission.metadata
    return {
        "name": metadata.name,
        # Relative to the submission's repository (else the bare name); an in-memory
        # submission's file is its description.
        "file": portable_path(submission.file)
        if Path(submission.file).is_file()
        else submission.file,
        "file_sha256": submission.file_sha256,
        "checkpoint": None
        if submission.checkpoint is None
        else portable_path(submission.checkpoint),
        "checkpoint_sha256": submission.checkpoint_sha256,
        "embedding_dim": metadata.embedding_dim,
        "invariant_dims": None
        if metadata.invariant_dims is None
        else list(metadata.invariant_dims),
        "equivariant_dims": (
            None if metadata.equivariant_dims is None else list(metadata.equivariant_dims)
        ),
        "resolution": metadata.resolution,
        "has_predictor": submission.predictor is not None,
        "build_seed": submission.build_seed,
        "git_commit": submission.git_commit,
    }


def _run_tasks(
    submission: Submission, config: EvalConfig, tasks: list[str], data: dict[str, SplitData]
) -> dict[str, dict[str, dict[str, Score]]]:
    parts = representation_parts(submission)
    probe_tasks = [t for t in tasks if t in PROBE_TASKS]
    total = len(probe_tasks) * len(parts) * config.seeds * config.probe.epochs
    bar = tqdm(total=total, unit="epoch", desc="probes", disable=not config.progress or not total)
    collected: dict[str, dict[str, dict[str, list[float]]]] = {}
    for task in probe_tasks:
        for part_name, part in parts.items():
            for seed in config.seed_list:
                bar.set_description(f"probes: {task}/{part_name} seed {seed}")
                if task == "classification":
                    result = classification(
                        data["train"], data["val"], part, seed, config.probe, bar.update
                    )
                else:
                    result = pair_regression(
                        task,
                        data["train"],
                        data["val"],
                        part,
                        seed,
                        config.probe,
                        config.val_pairs_per_object,
                        bar.update,
                    )
                for metric, value in result.items():
                    collected.setdefault(task, {}).setdefault(part_name, {}).setdefault(
                        metric, []
                    ).append(value)
    bar.close()
    if "equivariance" in tasks:
        # No probe is trained: the predictor's scores do not depend on the seed.
        result = equivariance(data, submission.predictor)
        collected["equivariance"] = {
            part: {m: [v] for m, v in values.items()} for part, values in result.items()
        }
    return {
        task: {
            part: {metric: _summary(values) for metric, values in metrics.items()}
            for part, metrics in parts_scores.items()
        }
        for task, parts_scores in collected.items()
    }
