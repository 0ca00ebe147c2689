"""From a training run to an `iebench evaluate` submission (see iebench.evaluation.submission).

``baselines/<method>.py`` and each run's ``submission.py`` are the same template
(``submission_source``) filled with the model's sizes: the reference ResNet-18
at 256 px for the baselines, the run's own sizes for a run. The encoder is the
backbone from ``final.pth``; methods with a predictor (SIE and its variants,
EquiMod, SEN) also expose their projector and predictor from ``heads.pth`` beside it.
An official SIE training checkpoint (``model.pth``: backbone, projectors and
hypernetwork under the official module names) serves as both.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from string import Template

import torch
from torch import Tensor, nn

from iebench.core.errors import IebenchError
from iebench.core.io import write_text_atomic
from iebench.core.repository import portable_path
from iebench.methods import METHODS, Method, build_method, method_info
from iebench.methods.sie import SIE
from iebench.models.backbones import backbone_info, build_backbone
from iebench.models.resnet import load_backbone_weights
from iebench.training.config import TrainConfig
from iebench.training.run_files import RunFiles, load_torch, write_final

HEADS_NAME = RunFiles(Path()).heads.name
REFERENCE = {"width": 64, "layers": (2, 2, 2, 2), "resolution": 256}


def has_predictor(method: str) -> bool:
    return hasattr(method_info(method).cls, "embed_equivariant")


def load_encoder(
    checkpoint: Path | None, width: int, layers: Sequence[int], backbone: str = "resnet18"
) -> nn.Module:
    """The backbone (ResNet by default) of these sizes with a run's (or an official) weights."""
    if checkpoint is None:
        raise IebenchError("no checkpoint: pass --checkpoint RUN/final.pth")
    run = RunFiles(Path(checkpoint).parent)
    if run.config.is_file():  # a run of `iebench train`: say which file fits it
        trained = TrainConfig.load(run.config)
        if (trained.backbone, trained.width, trained.layers) != (backbone, width, tuple(layers)):
            raise IebenchError(
                f"{checkpoint}: trained with {trained.backbone} width {trained.width}, blocks "
                f"{trained.layers}, not {backbone} width {width}, blocks {tuple(layers)}; "
                f"evaluate {run.submission} instead"
            )
    model = build_backbone(backbone, width=width, layers=layers)
    load_backbone_weights(model, Path(checkpoint))
    return model


class MethodPredictor(nn.Module):
    """A trained method's equivariant projector and predictor, as the harness calls them.

    Methods conditioned on more than the rotation (rotation + colour) get zero
    deltas for the extra factors: the prediction is for a pure rotation.
    """

    def __init__(self, method: Method) -> None:
        super().__init__()
        self.method = method

    def project(self, features: Tensor) -> Tensor:
        return self.method.embed_equivariant(features)

    def predict(self, embeddings: Tensor, quaternions: Tensor) -> Tensor:
        extra = self.method.spec.action_dim - quaternions.shape[1]
        action = nn.functional.pad(quaternions.to(embeddings.dtype), (0, extra))
        return self.method.predictor(embeddings, action)


def read_heads(path: Path) -> tuple[TrainConfig, dict[str, Tensor]]:
    """The settings and head weights in a run's heads.pth."""
    saved = load_torch(path)
    if "config" not in saved or "heads" not in saved:
        raise IebenchError(f"{path}: not a heads file written by `iebench train`")
    return TrainConfig.from_dict(saved["config"], str(path)), saved["heads"]


def load_predictor(checkpoint: Path | None, method: str) -> MethodPredictor:
    """The projector + predictor of the run that wrote ``checkpoint`` (its heads.pth), or
    those inside an official SIE training checkpoint (``model.pth``, see official_heads)."""
    if checkpoint is None:
        raise IebenchError("no checkpoint: pass --checkpoint RUN/final.pth")
    path = Path(checkpoint).with_name(HEADS_NAME)
    official = None if path.is_file() else _official_model(Path(checkpoint))
    if official is not None:
        path = Path(checkpoint)
        config = TrainConfig(method=method, data=".", out=".").resolved()
        heads = official_heads(official)
    elif not path.is_file():
        raise IebenchError(
            f"{path}: missing; the predictor needs the run's heads beside {checkpoint} "
            f"(or pass an official training checkpoint, model.pth)"
        )
    else:
        config, heads = read_heads(path)
        if config.method != method:
            raise IebenchError(f"{path}: heads of method {config.method}, not {method}")
    with torch.random.fork_rng(devices=[]):  # the weights are overwritten below
        trained = build_method(method, nn.Identity(), config.method_spec())
    expected = {
        k: v.shape for k, v in trained.state_dict().items() if not k.startswith("backbone.")
    }
    given = {
        k: getattr(v, "shape", None) for k, v in heads.items() if not k.startswith("backbone.")
    }
    if expected != given:
        wrong = sorted(set(expected) ^ set(given)) or sorted(
            k for k in expected if expected[k] != given[k]
        )
        raise IebenchError(f"{path}: heads do not fit method {method} ({', '.join(wrong[:4])})")
    trained.load_state_dict(heads, strict=False)
    return MethodPredictor(trained).eval()


# The official SIE code's module names under DistributedDataParallel (``module.``) and
# the hypernetwork's inner Sequential; the online evaluator's probes are not heads.
OFFICIAL_PREFIX = "module."
OFFICIAL_RENAMES = {"predictor.hypernet.net.0.weight": "predictor.hypernet.weight"}
OFFICIAL_SKIPPED = ("backbone.", "evaluator.")
QUATERNION_COLUMNS = slice(0, 4)


def _official_model(checkpoint: Path) -> dict | None:
    """The ``model`` state of an official training checkpoint, or None if it is not one."""
    if not checkpoint.is_file():
        return None
    loaded = load_torch(checkpoint)
    model = loaded.get("model") if isinstance(loaded, dict) else None
    if isinstance(model, dict) and any(k.startswith(OFFICIAL_PREFIX + "predictor.") for k in model):
        return model
    return None


def official_heads(model: dict[str, Tensor]) -> dict[str, Tensor]:
    """An official SIE state dict's projectors and predictor under iebench's names, converted
    to iebench's quaternion sign.

    The official predictor was almost certainly trained under scipy <= 1.10, whose
    relative quaternions are the negatives of iebench's (docs/protocol.md,
    "Conventions"). The hypernetwork is linear in the action, W(-q) = -W(q), so negating
    its quaternion columns gives the same prediction for iebench's q as the original
    gave for its own. Colour columns (rotation + colour variants) keep their sign.
    """
    heads = {}
    for key, value in model.items():
        name = key.removeprefix(OFFICIAL_PREFIX)
        if name.startswith(OFFICIAL_SKIPPED):
            continue
        name = OFFICIAL_RENAMES.get(name, name)
        if name == "predictor.hypernet.weight":
            value = value.clone()
            value[:, QUATERNION_COLUMNS] = -value[:, QUATERNION_COLUMNS]
        heads[name] = value
    return heads


def submission_source(
    method: str,
    width: int,
    layers: Sequence[int],
    resolution: int,
    equivariant_dims: int,
    usage: str,
    checkpoint: str | None = None,
    backbone: str = "resnet18",
    name: str | None = None,
) -> str:
    """A submission file for a ``method`` run with these sizes (``usage``: how to evaluate it;
    ``name``: the encoder's name in results, by default the method's)."""
    info = method_info(method)
    embedding = backbone_info(backbone).out_dim(width, layers)
    predictor = has_predictor(method)
    split = ""
    if info.equivariant_share:
        invariant = embedding - equivariant_dims
        if invariant:
            split += f"    invariant_dims=(0, {invariant}),\n"
        split += f"    equivariant_dims=({invariant}, {embedding}),\n"
    return _SUBMISSION.substitute(
        method=method,
        name=name or method,
        description=info.description,
        network="ResNet" if backbone == "resnet18" else backbone,
        width=width,
        layers=tuple(layers),
        resolution=resolution,
        usage=usage,
        heads_note=(_HEADS_NOTE if predictor else "")
        + (_OFFICIAL_NOTE if issubclass(info.cls, SIE) else ""),
        imports="load_encoder, load_predictor" if predictor else "load_encoder",
        embedding=embedding,
        split=split,
        checkpoint="None" if checkpoint is None else f'"{checkpoint}"',
        # The default backbone is left implicit, so the reference baselines read as before.
        backbone="" if backbone == "resnet18" else f', backbone="{backbone}"',
        build_predictor=_BUILD_PREDICTOR.substitute(method=method) if predictor else "",
    )


# The generated file, as a user would write it by hand.
_SUBMISSION = Template(
    '''"""iebench submission for runs of `iebench train $method`.

$description.
$network width $width, blocks $layers, $resolution px. Evaluate with

    $usage
$heads_note"""

from iebench.evaluation.submission import EncoderMetadata
from iebench.training.export import $imports

METADATA = EncoderMetadata(
    name="$name",
    embedding_dim=$embedding,
    resolution=$resolution,
${split}    checkpoint=$checkpoint,
)


def build_encoder(checkpoint):
    return load_encoder(checkpoint, width=$width, layers=$layers$backbone)
$build_predictor'''
)
_HEADS_NOTE = "\nThe projector and predictor come from RUN/heads.pth, beside the checkpoint.\n"
_OFFICIAL_NOTE = (
    "An official SIE training checkpoint (model.pth) gives the backbone, projectors\n"
    "and predictor at once (its predictor converted to iebench's quaternion sign).\n"
)
_BUILD_PREDICTOR = Template(
    """

def build_predictor(checkpoint):
    return load_predictor(checkpoint, "$method")
"""
)


def write_run_outputs(
    files: RunFiles, method: nn.Module, config: TrainConfig, name: str | None = None
) -> None:
    """What a run exports: final.pth, heads.pth and the submission file (``name``: the
    encoder's name in results, by default the method's)."""
    # The heads keep the run's settings for load_predictor; its folders are recorded as results
    # record paths (relative to the repository, else by name), so committed heads name no
    # machine's folders.
    settings = {
        **config.to_dict(),
        "data": portable_path(config.data),
        "out": portable_path(config.out),
    }
    write_final(files, method, settings)
    write_text_atomic(files.submission, run_submission_source(config, name))


def run_submission_source(config: TrainConfig, name: str | None = None) -> str:
    """The submission of a finished run: its sizes, its final.pth (relative to the run). Its
    usage line names the run's folder as results do (relative to the repository holding it,
    else by its name), so a committed run carries no machine path."""
    return submission_source(
        config.method,
        config.width,
        config.layers,
        config.resolution,
        config.equivariant_dims,
        usage=f"iebench evaluate {portable_path(config.out)}/{RunFiles(Path()).submission.name}",
        checkpoint=RunFiles(Path()).final.name,
        backbone=config.backbone,
        name=name,
    )


def baseline_source(method: str) -> str:
    """``baselines/<method>.py``: the reference ResNet-18 at 256 px."""
    info = method_info(method)
    embedding = REFERENCE["width"] * 8
    return submission_source(
        method,
        **REFERENCE,
        equivariant_dims=round(embedding * info.equivariant_share),
        usage=f"iebench evaluate baselines/{method}.py --checkpoint RUN/final.pth",
    )


def write_baselines(directory: Path) -> list[Path]:
    """(Re)write ``baselines/<method>.py`` for every method from the template."""
    paths = []
    for method in METHODS:
        path = Path(directory) / f"{method}.py"
        write_text_atomic(path, baseline_source(method))
        paths.append(path)
    return paths
