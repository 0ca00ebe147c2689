"""The submission contract: a Python file that builds an encoder and declares its metadata.

A submission file defines

    METADATA = EncoderMetadata(name="my-encoder", embedding_dim=512, ...)

    def build_encoder(checkpoint: Path | None) -> torch.nn.Module:
        ...   # maps normalised images (B, 3, R, R) to features (B, embedding_dim)

and optionally, for the equivariance metrics (MRR, H@k, PRE),

    def build_predictor(checkpoint: Path | None) -> Predictor:
        ...   # the model's own projector and predictor (see ``Predictor``), or None
              # when this checkpoint has none (e.g. backbone-only weights)

``checkpoint`` is ``--checkpoint PATH`` when given, else ``METADATA.checkpoint``
(relative to the submission file), else None. The file is imported with
importlib from its path (never from sys.path) and checked by ``load_submission``
before any work: each failure is one IebenchError naming the file. The modules it
imports from outside the standard library, the installed packages and iebench (its
own helpers, found on sys.path) are recorded by the sha256 of their source, for the
feature cache's key.
"""

from __future__ import annotations

import hashlib
import importlib.util
import site
import sys
import sysconfig
import traceback
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import torch

import iebench
from iebench.core.errors import IebenchError
from iebench.core.io import sha256_file
from iebench.core.repository import git, repository_commit
from iebench.data.preprocess import DEFAULT_RESOLUTION, MEAN, STD
from iebench.data.torch_seeding import seeded_global_state
from iebench.protocol.results import SAFE_NAME_TEXT, is_safe_name

PROBE_BATCH = 4
# Longest error text quoted from a failing submission (torch's can list hundreds of keys).
MESSAGE_CHARS = 300
# Eval-mode outputs on the same batch must agree this closely (GPU kernels may
# differ in the last bits between calls; dropout left on differs by far more).
DETERMINISM_RTOL = 1e-4
DETERMINISM_ATOL = 1e-5


@dataclass(frozen=True)
class EncoderMetadata:
    """What the harness must know about an encoder.

    ``invariant_dims`` / ``equivariant_dims`` are ``(start, stop)`` slices of the
    embedding (e.g. SIE: ``(0, 256)`` and ``(256, 512)``); when declared, every
    probe also runs on that part alone. ``mean`` / ``std`` normalise images in
    [0, 1] per channel, as the reference transform does.
    """

    name: str
    embedding_dim: int
    resolution: int = DEFAULT_RESOLUTION
    mean: tuple[float, float, float] = MEAN
    std: tuple[float, float, float] = STD
    invariant_dims: tuple[int, int] | None = None
    equivariant_dims: tuple[int, int] | None = None
    checkpoint: str | None = None

    def __post_init__(self) -> None:
        for key in ("mean", "std", "invariant_dims", "equivariant_dims"):
            value = getattr(self, key)
            if value is not None:
                object.__setattr__(self, key, tuple(value))

    def problems(self) -> list[str]:
        """Each inconsistency of the metadata, as a phrase."""
        problems = []
        if not is_safe_name(self.name):
            problems.append(f"name must be {SAFE_NAME_TEXT}, got {str(self.name)[:40]!r}")
        if not isinstance(self.embedding_dim, int) or self.embedding_dim < 1:
            problems.append(f"embedding_dim must be a positive int, got {self.embedding_dim!r}")
        if not isinstance(self.resolution, int) or self.resolution < 8:
            problems.append(f"resolution must be an int >= 8, got {self.resolution!r}")
        for key in ("mean", "std"):
            values = getattr(self, key)
            if len(values) != 3 or not all(isinstance(v, int | float) for v in values):
                problems.append(f"{key} must be three numbers, got {values!r}")
        if len(self.std) == 3 and any(not (v > 0) for v in self.std):
            problems.append(f"std must be positive, got {self.std!r}")
        for key in ("invariant_dims", "equivariant_dims"):
            dims = getattr(self, key)
            if dims is None:
                continue
            ok = (
                len(dims) == 2
                and all(isinstance(v, int) for v in dims)
                and 0 <= dims[0] < dims[1] <= (self.embedding_dim or 0)
            )
            if not ok:
                problems.append(f"{key} must be (start, stop) within the embedding, got {dims!r}")
        return problems

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("mean", "std", "invariant_dims", "equivariant_dims"):
            if data[key] is not None:
                data[key] = list(data[key])
        return data


@runtime_checkable
class Predictor(Protocol):
    """The model's own equivariance head, for MRR / H@k / PRE (docs/protocol.md section 6).

    ``project(features)`` maps backbone features (B, embedding_dim) to embeddings
    (B, E), e.g. SIE's equivariant projector applied to the last 256 dims;
    ``predict(embeddings, quaternions)`` maps source embeddings (B, E) and relative
    rotations R_src^-1 R_target as scalar-last quaternions (B, 4) to predicted
    target embeddings (B, E). Both run without gradients; a predictor that is a
    torch.nn.Module is moved to the evaluation device and put in eval mode.
    """

    def project(self, features: torch.Tensor) -> torch.Tensor: ...

    def predict(self, embeddings: torch.Tensor, quaternions: torch.Tensor) -> torch.Tensor: ...


@dataclass
class Submission:
    """A validated encoder, ready to evaluate."""

    encoder: torch.nn.Module
    metadata: EncoderMetadata
    file: str
    file_sha256: str
    checkpoint: Path | None = None
    checkpoint_sha256: str | None = None
    predictor: Predictor | None = None
    build_seed: int | None = None  # the global generators' seed while it was built
    git_commit: str | None = None  # of the repository holding the file ("-dirty": changed)
    # sha256 of each module the file imported that is not installed (its helpers), by name
    module_sources: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_module(
        cls,
        encoder: torch.nn.Module,
        metadata: EncoderMetadata,
        predictor: Predictor | None = None,
        device: str = "cpu",
    ) -> Submission:
        """A submission from objects in memory (Python API); identified by a hash of its weights."""
        digest = hashlib.sha256(type(encoder).__qualname__.encode())
        for name, tensor in encoder.state_dict().items():
            digest.update(name.encode())
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        submission = cls(
            encoder=encoder,
            metadata=metadata,
            file=f"<in-memory {type(encoder).__qualname__}>",
            file_sha256=digest.hexdigest(),
            predictor=predictor,
        )
        check_submission(submission, device)
        return submission


def _import_file(path: Path) -> Any:
    """Import a Python file by path under a private module name; errors name the file."""
    if not path.is_file():
        raise IebenchError(f"{path}: submission file not found")
    if path.suffix != ".py":
        raise IebenchError(f"{path}: a submission must be a .py file")
    try:
        compile(path.read_bytes(), str(path), "exec")
    except SyntaxError as error:
        raise IebenchError(f"{path}: syntax error at line {error.lineno}: {error.msg}") from None
    module_name = (
        f"iebench_submission_{hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]}"
    )
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    # Registered while executing so that dataclasses and pickling inside the file work.
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except IebenchError as error:
        raise IebenchError(f"{path}: {error}") from None
    except Exception as error:
        raise IebenchError(f"{path}: import failed: {_describe(error, path)}") from None
    finally:
        sys.modules.pop(module_name, None)
    return module


def _describe(error: BaseException, path: Path) -> str:
    """``Type: message (line N)``, the line being the deepest frame inside the submission."""
    line = None
    for frame in traceback.extract_tb(error.__traceback__):
        if Path(frame.filename).resolve() == path.resolve():
            line = frame.lineno
    message = " ".join(str(error).split())  # one line, however the error was formatted
    if len(message) > MESSAGE_CHARS:
        message = message[:MESSAGE_CHARS] + " ..."
    return f"{type(error).__name__}: {message}" + (f" (line {line})" if line is not None else "")


def _call(path: Path, what: str, function: Callable, *args: Any) -> Any:
    try:
        return function(*args)
    except IebenchError as error:
        raise IebenchError(f"{path}: {what}: {error}") from None
    except Exception as error:
        raise IebenchError(f"{path}: {what} failed: {_describe(error, path)}") from None


def resolve_checkpoint(path: Path, metadata: EncoderMetadata, override: Path | None) -> Path | None:
    """``--checkpoint`` wins; else METADATA.checkpoint relative to the submission file."""
    if override is not None:
        checkpoint = Path(override)
    elif metadata.checkpoint is not None:
        checkpoint = path.parent / metadata.checkpoint
    else:
        return None
    if not checkpoint.is_file():
        raise IebenchError(f"{checkpoint}: checkpoint file not found")
    return checkpoint


def iebench_commit() -> str | None:
    """The commit of the iebench source tree running, "-dirty" when its tracked files have
    changes; None for an installed copy (no repository tracks its files)."""
    package = Path(iebench.__file__).resolve()
    tracked = git(package.parent, "ls-files", "--error-unmatch", package.name)
    if tracked is None or tracked.returncode != 0:
        return None
    return repository_commit(package)


def _installed_folders() -> tuple[Path, ...]:
    """Where the standard library and installed packages live."""
    paths = sysconfig.get_paths()
    folders = {paths[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")}
    folders |= {*site.getsitepackages(), site.getusersitepackages()}
    return tuple(Path(folder).resolve() for folder in folders)


def local_module_sources(names: Iterable[str]) -> dict[str, str]:
    """sha256 of the source file of each module of ``names`` (loaded ones) that is neither
    iebench's nor from the standard library or an installed package: code the features
    depend on beyond the submission file itself."""
    installed = _installed_folders()
    sources = {}
    for name in sorted(names):
        file = getattr(sys.modules.get(name), "__file__", None)
        if name.split(".")[0] == "iebench" or not isinstance(file, str):
            continue
        source = Path(file).resolve()
        if any(source.is_relative_to(folder) for folder in installed):
            continue
        try:
            sources[name] = sha256_file(source)
        except OSError:
            sources[name] = "unreadable"
    return sources


def load_submission(
    path: Path | str, checkpoint: Path | None = None, device: str = "cpu", seed: int = 0
) -> Submission:
    """Import, build and check a submission file. Raises IebenchError naming the file.

    The file is imported and its builders run with torch's, numpy's and random's global
    generators seeded with ``seed``, so that an encoder initialised at random is the same
    encoder every time (see docs/protocol.md)."""
    path = Path(path)
    loaded = set(sys.modules)
    with seeded_global_state(seed):
        submission = _build_submission(path, checkpoint)
    submission.build_seed = seed
    submission.git_commit = repository_commit(path)
    check_submission(submission, device)
    # What the file imported (at import, while building or while checked) and was not loaded
    # before; a module it shares with the caller was loaded before and is not seen here.
    submission.module_sources = local_module_sources(set(sys.modules) - loaded)
    return submission


def _build_submission(path: Path, checkpoint: Path | None) -> Submission:
    module = _import_file(path)
    metadata = getattr(module, "METADATA", None)
    if not isinstance(metadata, EncoderMetadata):
        found = "is missing" if metadata is None else f"is a {type(metadata).__name__}"
        raise IebenchError(f"{path}: METADATA {found}; define METADATA = EncoderMetadata(...)")
    problems = metadata.problems()
    if problems:
        raise IebenchError(f"{path}: bad METADATA: {'; '.join(problems)}")
    build_encoder = getattr(module, "build_encoder", None)
    if not callable(build_encoder):
        raise IebenchError(
            f"{path}: no function build_encoder(checkpoint) -> torch.nn.Module in the file"
        )
    checkpoint = resolve_checkpoint(path, metadata, checkpoint)
    encoder = _call(path, "build_encoder", build_encoder, checkpoint)
    if not isinstance(encoder, torch.nn.Module):
        raise IebenchError(
            f"{path}: build_encoder returned a {type(encoder).__name__}, not a torch.nn.Module"
        )
    predictor = None
    build_predictor = getattr(module, "build_predictor", None)
    if build_predictor is not None:
        if not callable(build_predictor):
            raise IebenchError(f"{path}: build_predictor is not a function")
        predictor = _call(path, "build_predictor", build_predictor, checkpoint)
        if predictor is not None and not isinstance(predictor, Predictor):
            raise IebenchError(
                f"{path}: build_predictor returned a {type(predictor).__name__} without "
                f"project(features) and predict(embeddings, quaternions) methods"
            )
    return Submission(
        encoder=encoder,
        metadata=metadata,
        file=str(path),
        file_sha256=sha256_file(path),
        checkpoint=checkpoint,
        checkpoint_sha256=sha256_file(checkpoint) if checkpoint is not None else None,
        predictor=predictor,
    )


def _check_output(source: str, what: str, output: Any, shape: tuple[int, ...]) -> torch.Tensor:
    if not isinstance(output, torch.Tensor):
        raise IebenchError(f"{source}: {what} returned a {type(output).__name__}, not a tensor")
    if tuple(output.shape) != shape:
        raise IebenchError(
            f"{source}: {what} returned shape {tuple(output.shape)}, expected {shape}"
        )
    if not output.is_floating_point():
        raise IebenchError(f"{source}: {what} returned dtype {output.dtype}, expected floats")
    bad = (~torch.isfinite(output)).sum().item()
    if bad:
        raise IebenchError(f"{source}: {what} returned {bad} non-finite values (NaN or inf)")
    return output


def check_features(submission: Submission, output: Any, rows: int, where: str) -> torch.Tensor:
    """One batch of features from the encoder against the contract, as extraction produces
    it: a float tensor (rows, embedding_dim) of finite values; ``where`` names the batch.
    The probe batch of ``check_submission`` cannot see faults of larger batches."""
    shape = (rows, submission.metadata.embedding_dim)
    return _check_output(submission.file, f"the encoder on {where}", output, shape)


def _check_deterministic(source: str, what: str, first: torch.Tensor, second: torch.Tensor):
    if not torch.allclose(first, second, rtol=DETERMINISM_RTOL, atol=DETERMINISM_ATOL):
        gap = (first.float() - second.float()).abs().max().item()
        raise IebenchError(
            f"{source}: {what} is not deterministic in eval mode (two runs on one batch differ "
            f"by up to {gap:.3g}); is dropout or another random layer active?"
        )


def probe_batch(metadata: EncoderMetadata, batch: int = PROBE_BATCH) -> torch.Tensor:
    """A fixed batch of normalised-looking images at the encoder's resolution."""
    generator = torch.Generator().manual_seed(0)
    size = (batch, 3, metadata.resolution, metadata.resolution)
    return torch.randn(size, generator=generator)


def check_submission(submission: Submission, device: str = "cpu") -> None:
    """Run a probe batch through the encoder (and predictor) on ``device``: shapes, finiteness,
    determinism in eval mode. Leaves the encoder on ``device`` in eval mode."""
    source, metadata = submission.file, submission.metadata
    encoder = submission.encoder.to(device).eval()
    if isinstance(submission.predictor, torch.nn.Module):
        submission.predictor.to(device).eval()
    images = probe_batch(metadata).to(device)
    shape = (images.shape[0], metadata.embedding_dim)
    with torch.no_grad():
        first = _call(Path(source), "the encoder on a probe batch", encoder, images)
        first = _check_output(source, "the encoder", first, shape)
        second = encoder(images)
    _check_deterministic(source, "the encoder", first, second)
    if submission.predictor is not None:
        _check_predictor(submission, first.float())


def _check_predictor(submission: Submission, features: torch.Tensor) -> None:
    source, predictor, path = submission.file, submission.predictor, Path(submission.file)
    batch = features.shape[0]
    quaternions = torch.zeros(batch, 4, device=features.device)
    quaternions[:, 3] = 1.0
    with torch.no_grad():
        embeddings = _call(path, "predictor.project", predictor.project, features)
        if not isinstance(embeddings, torch.Tensor) or embeddings.ndim != 2:
            found = tuple(embeddings.shape) if isinstance(embeddings, torch.Tensor) else embeddings
            raise IebenchError(f"{source}: predictor.project must return (B, E), got {found}")
        _check_output(source, "predictor.project", embeddings, (batch, embeddings.shape[1]))
        predicted = _call(path, "predictor.predict", predictor.predict, embeddings, quaternions)
        _check_output(source, "predictor.predict", predicted, tuple(embeddings.shape))
        again = predictor.predict(predictor.project(features), quaternions)
    _check_deterministic(source, "the predictor", predicted, again)
