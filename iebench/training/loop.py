"""The training loop: `train(config) -> TrainResult`, one process or DDP under torchrun.

Deterministic: the model is initialised from a generator derived from the seed,
and every epoch's object order and view pairs come from (seed, epoch, object)
(see iebench.data.dataset), so a run resumed from its last checkpoint computes
exactly what the uninterrupted run computes (on CPU; GPU kernels may differ in
the last bits).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from tqdm import tqdm

from iebench.core import processes as distributed
from iebench.core.errors import IebenchError
from iebench.core.io import remove_stale_temps, write_json_atomic
from iebench.core.locks import hold_or_refuse
from iebench.core.seeding import stream_int
from iebench.data.dataset import EpochSampler, Pair, PairsDataset
from iebench.data.preprocess import BatchNormalize, to_uint8_tensor
from iebench.methods import Method, PairBatch, build_method
from iebench.methods.steps import Optimisation
from iebench.models.backbones import build_backbone
from iebench.protocol.layout import RUN_LOCK_NAME
from iebench.training.batchnorm import sync_batch_norm
from iebench.training.config import TrainConfig
from iebench.training.export import write_run_outputs
from iebench.training.run_files import RunFiles, epoch_logs, load_torch, save_atomic

_INIT_STREAM = 0x1A17  # the model-initialisation stream of the seed


@dataclass(frozen=True)
class TrainResult:
    run: Path
    history: list[dict[str, float]]
    main: bool = True  # False in the other processes of a DDP run


def train(
    config: TrainConfig, resume: bool = False, given: Collection[str] | None = None
) -> TrainResult:
    """Train ``config.method``; with ``resume``, continue the run in ``config.out`` if any.

    ``given`` names the config fields set explicitly (None: all of them): a resumed run
    takes the others from its stored config, and is refused only when a given field
    differs from the stored one. Under torchrun (WORLD_SIZE > 1) every process calls
    this; the global batch is split evenly across them and only rank 0 writes files.
    """
    processes = distributed.start(config.device)
    try:
        with contextlib.ExitStack() as held:  # the run's lock, once taken
            return _train(config, resume, processes, given, held)
    finally:
        distributed.stop(processes)


def _lock_run(files: RunFiles, held: contextlib.ExitStack) -> None:
    """Lock ``files.root`` (creating it) until ``held`` closes; refuse in one line naming
    the holder."""
    files.root.mkdir(parents=True, exist_ok=True)
    what = "another training run is writing this run"
    held.enter_context(hold_or_refuse(files.root / RUN_LOCK_NAME, what))


def build_model(config: TrainConfig) -> Method:
    """The method with a freshly initialised backbone, from the seed alone (on CPU)."""
    seed = stream_int(config.seed, _INIT_STREAM)
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(int(seed))
        backbone = build_backbone(config.backbone, width=config.width, layers=config.layers)
        return build_method(config.method, backbone, config.method_spec())


# The encoder name of an untrained run's submission.
UNTRAINED = "random-init"


def write_untrained_run(config: TrainConfig) -> RunFiles:
    """A run folder holding the backbone a run of ``config`` starts from, untrained, with
    the weights and submission file of a trained run (a floor to evaluate beside it).
    Written once: a run folder already holding its submission is left as it is."""
    files = RunFiles(Path(config.out))
    if not files.submission.is_file():
        files.root.mkdir(parents=True, exist_ok=True)
        resolved = config.resolved()
        write_run_outputs(files, build_model(resolved), resolved, name=UNTRAINED)
    return files


def _resolve(config: TrainConfig, device: torch.device) -> TrainConfig:
    config = config.resolved()
    if config.precision == "auto":
        config = dataclasses.replace(config, precision="bf16" if device.type == "cuda" else "fp32")
    if config.precision != "fp32" and device.type != "cuda":
        raise IebenchError(f"precision {config.precision}: mixed precision needs a CUDA device")
    return config


@dataclass(frozen=True)
class StoredRun:
    source: Path  # the checkpoint, or config.json when killed during the first epoch
    state: dict | None  # the checkpoint's contents
    config: TrainConfig


def _stored_run(files: RunFiles) -> StoredRun | None:
    if files.checkpoint.is_file():
        state = load_torch(files.checkpoint)
        config = TrainConfig.from_dict(state["config"], str(files.checkpoint))
        return StoredRun(files.checkpoint, state, config)
    if files.config.is_file():  # killed during the first epoch: nothing to load yet
        return StoredRun(files.config, None, TrainConfig.load(files.config))
    return None


def _previous_state(files: RunFiles, config: TrainConfig, stored: StoredRun | None) -> dict | None:
    """The checkpoint to continue from (or None), after checking it belongs to this config."""
    if stored is None:
        return None
    source, state = stored.source, stored.state
    differences = stored.config.differences(config)
    if differences:
        raise IebenchError(
            f"{source}: the run was started with another config; cannot resume with "
            f"{'; '.join(differences)}"
        )
    return state


def _loader(config: TrainConfig, processes: distributed.Processes) -> DataLoader:
    conditioning = "colour" if config.conditioning == "rotation-colour" else None
    dataset = PairsDataset(
        config.data,
        "train",
        conditioning=conditioning,
        resolution=config.resolution,
        transform=to_uint8_tensor,  # normalised on the device: 4x fewer bytes to move
        seed=config.seed,
    )
    if len(dataset) < config.batch_size:
        raise IebenchError(
            f"{config.data}: {len(dataset)} training objects, fewer than the batch size "
            f"{config.batch_size}; lower --batch-size"
        )
    if config.batch_size % processes.world_size:
        raise IebenchError(
            f"batch size {config.batch_size} does not split evenly over "
            f"{processes.world_size} processes"
        )
    # Contiguous blocks of the epoch's order form each global batch, whatever the
    # number of processes; the last incomplete batch is kept (as the official loop) or dropped.
    keep = config.last_batch == "keep"
    per_process = config.batch_size // processes.world_size
    sampler = EpochSampler(
        dataset,
        seed=config.seed,
        rank=processes.rank,
        world_size=processes.world_size,
        drop_last=not keep,
    )
    if keep and len(sampler) % per_process == 1:
        raise IebenchError(
            f"{config.data}: the last batch of each epoch would hold 1 object per process "
            f"(batch norm needs 2); choose another --batch-size or --last-batch drop"
        )
    return DataLoader(
        dataset,
        batch_size=per_process,
        sampler=sampler,
        num_workers=config.workers,
        drop_last=not keep,
        pin_memory=processes.device.type == "cuda",
        persistent_workers=config.workers > 0,
    )


class PairInputs:
    """Turns a collated Pair (uint8 images) into a normalised PairBatch on the device."""

    def __init__(self, device: torch.device, channels_last: bool) -> None:
        self.normalize = BatchNormalize().to(device)
        self.device = device
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format

    def image(self, images: Tensor) -> Tensor:
        images = self.normalize(images.to(self.device, non_blocking=True))
        return images.contiguous(memory_format=self.memory_format)

    def __call__(self, pair: Pair) -> PairBatch:
        action = torch.cat([pair.rotation, pair.conditioning], dim=1)
        return PairBatch(
            self.image(pair.x_i),
            self.image(pair.x_j),
            action.to(self.device, non_blocking=True),
        )


def _build(
    config: TrainConfig, processes: distributed.Processes
) -> tuple[Method, nn.Module, Optimisation]:
    """The method on its device, the module that runs steps (DDP, compiled), and how its
    loss is minimised (Adam, autocast, the fp16 gradient scaler)."""
    device = processes.device
    method = build_model(config)
    if processes.distributed:
        method = sync_batch_norm(method, device)
    method = method.to(device=device)
    if config.channels_last:
        method = method.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(
        method.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    scaler = torch.amp.GradScaler(device.type, enabled=config.precision == "fp16")
    model: nn.Module = method
    if processes.distributed:
        model = DistributedDataParallel(
            method, device_ids=[device.index] if device.type == "cuda" else None
        )
    if config.compile:
        model = torch.compile(model)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    return method, model, Optimisation(optimizer, device.type, config.precision, scaler)


def _train(
    config: TrainConfig,
    resume: bool,
    processes: distributed.Processes,
    given: Collection[str] | None,
    held: contextlib.ExitStack,
) -> TrainResult:
    files = RunFiles(Path(config.out))
    config, loader, state = _open_run(files, config, resume, processes, given, held)
    method, model, optimisation = _build(config, processes)
    start_epoch, history = 0, []
    if state is not None:
        start_epoch, history = _restore(state, files, config, method, optimisation)
    inputs = PairInputs(processes.device, config.channels_last)
    if processes.is_main:
        write_epoch_logs = held.enter_context(epoch_logs(files, config.log))
    bar = _progress_bar(config, processes, start_epoch, len(loader))
    for epoch in range(start_epoch, config.epochs):
        loader.sampler.set_epoch(epoch)
        started = time.perf_counter()
        means = _train_epoch(model, loader, inputs, optimisation, processes, bar)
        row = {"epoch": epoch + 1, "steps": len(loader)}
        row.update(seconds=round(time.perf_counter() - started, 3), **means)
        if not math.isfinite(row["loss"]):
            raise IebenchError(
                f"{files.root}: training diverged in epoch {epoch + 1} (loss {row['loss']}); "
                f"the checkpoint of epoch {epoch} is kept"
            )
        history.append(row)
        bar.set_postfix(epoch=epoch + 1, loss=f"{row['loss']:.4g}")
        if processes.is_main:
            _save_checkpoint(files, config, method, optimisation, history, epoch + 1)
            write_epoch_logs(history)
    bar.close()
    # A finished run resumed again keeps its files: results record their sha256.
    done = start_epoch == config.epochs and all(
        path.is_file() for path in (files.final, files.heads, files.submission)
    )
    if processes.is_main and not done:
        write_run_outputs(files, method, config)
    return TrainResult(run=files.root, history=history, main=processes.is_main)


def _open_run(
    files: RunFiles,
    config: TrainConfig,
    resume: bool,
    processes: distributed.Processes,
    given: Collection[str] | None,
    held: contextlib.ExitStack,
) -> tuple[TrainConfig, DataLoader, dict | None]:
    """Lock the run folder, check the config against a stored run and the data, and write
    the config: the run's resolved config, its loader and the checkpoint to continue from."""
    # An existing run folder is locked before its state is read; a new one is made (and
    # locked) only once the data has been checked, so a refused run leaves nothing.
    locked = processes.is_main and files.root.is_dir()
    if locked:
        _lock_run(files, held)
    if not resume and (files.checkpoint.exists() or files.config.exists()):
        raise IebenchError(
            f"{files.root}: already holds a run; pass --resume to continue it "
            f"or choose another --out"
        )
    stored = _stored_run(files) if resume else None
    if stored is not None and given is not None:
        config = config.resumed_from(stored.config, given)
    config = _resolve(config, processes.device)
    loader = _loader(config, processes)  # checks the data before anything is written
    if processes.is_main:
        if not locked:
            _lock_run(files, held)
        remove_stale_temps(files.root)  # what a killed run was writing
    state = _previous_state(files, config, stored)
    distributed.barrier(processes)  # every process has looked before rank 0 writes
    if processes.is_main:
        write_json_atomic(files.config, config.to_dict())
    return config, loader, state


def _progress_bar(
    config: TrainConfig, processes: distributed.Processes, start_epoch: int, steps: int
) -> tqdm:
    """Steps of the whole run, from those done before a resume; shown by rank 0 only."""
    return tqdm(
        total=config.epochs * steps,
        initial=start_epoch * steps,
        desc=f"train {config.method}",
        unit="step",
        disable=not (processes.is_main and config.progress),
        dynamic_ncols=True,
    )


def _save_checkpoint(
    files: RunFiles,
    config: TrainConfig,
    method: Method,
    optimisation: Optimisation,
    history: list[dict[str, float]],
    epochs_done: int,
) -> None:
    """Everything a resumed run needs to continue exactly: weights, optimiser and scaler
    states, and the history so far."""
    state = {"epoch": epochs_done, "config": config.to_dict(), "model": method.state_dict()}
    state.update(
        optimizer=optimisation.optimizer.state_dict(), scaler=optimisation.scaler.state_dict()
    )
    save_atomic(files.checkpoint, {**state, "history": history})


def _restore(
    state: dict,
    files: RunFiles,
    config: TrainConfig,
    method: Method,
    optimisation: Optimisation,
) -> tuple[int, list[dict[str, float]]]:
    """Load a checkpoint's weights and optimiser state; (epochs done, history so far)."""
    epoch, history = int(state["epoch"]), list(state["history"])
    if epoch > config.epochs:
        raise IebenchError(
            f"{files.checkpoint}: already trained {epoch} epochs, "
            f"more than --epochs {config.epochs}"
        )
    method.load_state_dict(state["model"])
    optimisation.optimizer.load_state_dict(state["optimizer"])
    optimisation.scaler.load_state_dict(state["scaler"])
    return epoch, history


def _train_epoch(
    model: nn.Module,
    loader: DataLoader,
    inputs: PairInputs,
    optimisation: Optimisation,
    processes: distributed.Processes,
    bar: tqdm,
) -> dict[str, float]:
    """One pass over the loader; each loss term's mean over steps and processes."""
    model.train()
    sums, steps = optimisation.run(model, (inputs(pair) for pair in loader), bar)
    names = list(sums)
    means = distributed.mean_over_processes(
        torch.stack([sums[n] for n in names]) / steps, processes
    )
    return {name: float(value) for name, value in zip(names, means.tolist(), strict=True)}
