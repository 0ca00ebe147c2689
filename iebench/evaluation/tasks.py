"""The benchmark tasks on cached features (docs/protocol.md sections 5-6).

classification  Linear(D, 55); each epoch one random view per training object;
                scored (top-1, top-5 in percent) on every validation view.
rotation        MLP 2D -> 1024 -> 1024 -> 4 on [f_i; f_j] of two distinct random views,
                target the quaternion of R_i^-1 R_j (scalar-last, sign as scipy), MSE; R^2
                (the protocol's, one global mean) and the mean of per-output R^2 (sklearn's).
colour          the same MLP with 2 outputs, target latent_j - latent_i at (floor hue,
                light hue); R^2.
translation     (3DIEBench-T trees only) the same MLP with 3 outputs, target the relative
                translation in the object frame, t_j - t_i (the latents' translations:
                the pose is R then T(t), so t is in the object's own frame); R^2.
translation-base  the same in the base (world) frame: R_j t_j - R_i t_i, the change of the
                object's centre in the scene. Both as EquiCaps' eval_translation_prediction_
                {object,final}_frame.py define them.
equivariance    the model's own projector and predictor: MRR, H@1/2/5/10 and PRE,
                source = view 0 of each object, on val-val and train-train, and PRE of
                val against all targets (train + val), as the official scripts report.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from iebench.core.errors import IebenchError
from iebench.data.torch_seeding import torch_generator as generator
from iebench.data.tree import TreeIndex
from iebench.evaluation import metrics
from iebench.evaluation.config import ProbeSettings
from iebench.evaluation.probes import HIDDEN, make_probe, predict, train_probe
from iebench.evaluation.submission import Predictor
from iebench.protocol.factors import (
    COLOUR_FACTORS,
    ROTATION,
    TRANSLATION,
    base_frame_translation,
    euler_to_quaternion,
    object_frame_translation,
    relative_quaternion,
)
from iebench.protocol.layout import split_files
from iebench.protocol.tasks import (
    PREDICTOR_PART,
    PREDICTOR_TRAIN_PART,
    PREDICTOR_VAL_ALL_PART,
    TASK_REGISTRY,
)
from iebench.protocol.taxonomy import NUM_CLASSES

# Chunk of rows sent through the predictor at once (bounds memory on the full dataset).
PREDICTOR_CHUNK = 8192


@dataclass(frozen=True)
class SplitData:
    """One split on the evaluation device: features (O, V, D), labels (O,), absolute rotation
    quaternions (O, V, 4, float64) and colour factors (O, V, 2, float64); the Euler angles
    (O, V, 3, float64 numpy) from which every relative rotation is computed, and the
    translations (O, V, 3, float64 numpy; None when the latents have none)."""

    features: torch.Tensor
    labels: torch.Tensor
    quaternions: torch.Tensor
    colours: torch.Tensor
    euler: np.ndarray
    translations: np.ndarray | None = None

    @classmethod
    def build(cls, index: TreeIndex, features: np.ndarray, device: str) -> SplitData:
        return cls(
            features=torch.from_numpy(features).to(device),
            labels=torch.from_numpy(index.labels).to(device),
            quaternions=torch.from_numpy(euler_to_quaternion(index.latents[..., ROTATION])).to(
                device
            ),
            colours=torch.from_numpy(index.latents[..., list(COLOUR_FACTORS)].copy()).to(device),
            euler=np.ascontiguousarray(index.latents[..., ROTATION]),
            translations=np.ascontiguousarray(index.latents[..., TRANSLATION])
            if index.latent_size >= TRANSLATION.stop
            else None,
        )

    @property
    def objects(self) -> int:
        return self.features.shape[0]

    @property
    def views(self) -> int:
        return self.features.shape[1]


def relative_rotations(data: SplitData, objects, i, j) -> torch.Tensor:
    """Quaternions of R_i^-1 R_j (float64, on the features' device) for views i, j of objects,
    from the one implementation in iebench.protocol.factors."""
    objects, i, j = (torch.as_tensor(x).cpu().numpy() for x in (objects, i, j))
    quaternions = relative_quaternion(data.euler[objects, i], data.euler[objects, j])
    return torch.from_numpy(quaternions).to(data.features.device)


def random_views(objects: int, views: int, gen: torch.Generator) -> torch.Tensor:
    return torch.randint(views, (objects,), generator=gen)


def random_pairs(
    objects: int, views: int, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Two distinct views per object, uniform over the ordered pairs i != j."""
    i = torch.randint(views, (objects,), generator=gen)
    j = (i + 1 + torch.randint(views - 1, (objects,), generator=gen)) % views
    return i, j


def classification(
    train: SplitData,
    val: SplitData,
    part: slice,
    seed: int,
    settings: ProbeSettings,
    on_epoch: Callable[[], None],
) -> dict[str, float]:
    device = train.features.device
    objects = torch.arange(train.objects, device=device)
    sampling = generator(seed, "classification", "train")

    def sample_epoch() -> tuple[torch.Tensor, torch.Tensor]:
        views = random_views(train.objects, train.views, sampling).to(device)
        return train.features[objects, views, part], train.labels

    dim = train.features[0, 0, part].numel()
    probe = make_probe(dim, NUM_CLASSES, (), generator(seed, "classification", "init", str(part)))
    probe = train_probe(
        probe.to(device), sample_epoch, F.cross_entropy, settings, sampling, on_epoch
    )
    logits = predict(probe, val.features[:, :, part].reshape(-1, dim))
    labels = val.labels.repeat_interleave(val.views)
    return {
        "top1": 100.0 * metrics.topk_accuracy(logits, labels, 1),
        "top5": 100.0 * metrics.topk_accuracy(logits, labels, 5),
    }


def colour_targets(data: SplitData, objects, i, j) -> torch.Tensor:
    return data.colours[objects, j] - data.colours[objects, i]


def _translations(data: SplitData) -> np.ndarray:
    if data.translations is None:
        raise IebenchError("translation targets need latents with the translation (3DIEBench-T)")
    return data.translations


def translation_targets(data: SplitData, objects, i, j) -> torch.Tensor:
    objects, i, j = (torch.as_tensor(x).cpu().numpy() for x in (objects, i, j))
    translations = _translations(data)
    targets = object_frame_translation(translations[objects, i], translations[objects, j])
    return torch.from_numpy(targets).to(data.features.device)


def base_translation_targets(data: SplitData, objects, i, j) -> torch.Tensor:
    objects, i, j = (torch.as_tensor(x).cpu().numpy() for x in (objects, i, j))
    translations = _translations(data)
    targets = base_frame_translation(
        data.euler[objects, i], translations[objects, i],
        data.euler[objects, j], translations[objects, j],
    )  # fmt: skip
    return torch.from_numpy(targets).to(data.features.device)


PAIR_TARGETS: dict[str, tuple[Callable[..., torch.Tensor], int]] = {
    "rotation": (relative_rotations, 4),
    "colour": (colour_targets, 2),
    "translation": (translation_targets, 3),
    "translation-base": (base_translation_targets, 3),
}


def absent_tasks(index: TreeIndex, asked: Sequence[str] | None = None) -> list[str]:
    """The tasks whose factors this tree's latents do not have (translation on a tree of
    7-value latents): left out by default; one in ``asked`` is refused in one line."""
    absent = [
        name
        for name, task in TASK_REGISTRY.items()
        if task.factors and max(task.factors) >= index.latent_size
    ]
    for name in asked or ():
        if name in absent:
            latents = split_files(index.root, index.split).latents
            raise IebenchError(
                f"{latents}: the {name} task needs the object translation (latent values "
                f"{TRANSLATION.start}-{TRANSLATION.stop - 1}: a 3DIEBench-T tree, rendered with "
                f"--factors translated) but these latents have {index.latent_size} values; "
                f"leave it out of --tasks"
            )
    return absent


def pair_regression(
    task: str,
    train: SplitData,
    val: SplitData,
    part: slice,
    seed: int,
    settings: ProbeSettings,
    val_pairs_per_object: int,
    on_epoch: Callable[[], None],
) -> dict[str, float]:
    """Rotation, colour or translation prediction from [f_i; f_j]: ``r2``, the protocol's R^2
    (one global target mean), and ``r2_per_output``, the mean of per-output R^2 (sklearn's)."""
    targets_of, out_dim = PAIR_TARGETS[task]
    device = train.features.device
    objects = torch.arange(train.objects, device=device)
    sampling = generator(seed, task, "train")

    def pairs_of(data: SplitData, objects: torch.Tensor, i, j):
        inputs = torch.cat([data.features[objects, i, part], data.features[objects, j, part]], 1)
        return inputs, targets_of(data, objects, i, j).to(torch.float32)

    def sample_epoch() -> tuple[torch.Tensor, torch.Tensor]:
        i, j = random_pairs(train.objects, train.views, sampling)
        return pairs_of(train, objects, i.to(device), j.to(device))

    dim = 2 * train.features[0, 0, part].numel()
    probe = make_probe(dim, out_dim, HIDDEN, generator(seed, task, "init", str(part)))
    probe = train_probe(probe.to(device), sample_epoch, F.mse_loss, settings, sampling, on_epoch)

    val_objects, i, j = val_pairs(task, val, seed, val_pairs_per_object)
    inputs, targets = pairs_of(val, val_objects.to(device), i.to(device), j.to(device))
    predictions = predict(probe, inputs)
    return {
        "r2": metrics.r2_score(predictions, targets),
        "r2_per_output": metrics.r2_per_output(predictions, targets),
    }


def val_pairs(
    task: str, val: SplitData, seed: int, per_object: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The fixed validation pairs (objects, i, j) a pair task is scored on for ``seed``."""
    objects = torch.arange(val.objects).repeat(per_object)
    i, j = random_pairs(len(objects), val.views, generator(seed, task, "val"))
    return objects, i, j


def pair_task_targets(task: str, data: SplitData, objects, i, j) -> torch.Tensor:
    """The targets of a pair task for the pairs (objects, i, j) of ``data``, on the CPU."""
    device = data.features.device
    targets = PAIR_TARGETS[task][0](data, objects.to(device), i.to(device), j.to(device))
    return targets.to(torch.float32).cpu()


def _chunked(function: Callable[..., torch.Tensor], *inputs: torch.Tensor) -> torch.Tensor:
    """``function`` over PREDICTOR_CHUNK rows at a time, as float32."""
    rows = len(inputs[0])
    return torch.cat(
        [
            function(*(x[s : s + PREDICTOR_CHUNK] for x in inputs))
            for s in range(0, rows, PREDICTOR_CHUNK)
        ]
    ).float()


def _embed_and_predict(data: SplitData, predictor: Predictor) -> tuple[torch.Tensor, torch.Tensor]:
    """Every view's embedding (O, V, E) and its prediction from view 0 and R_0^-1 R_v."""
    embeddings = _chunked(predictor.project, data.features.reshape(data.objects * data.views, -1))
    embeddings = embeddings.reshape(data.objects, data.views, -1)
    sources = embeddings[:, :1].expand_as(embeddings).reshape(-1, embeddings.shape[-1])
    rotations = torch.from_numpy(relative_quaternion(data.euler[:, :1], data.euler))
    rotations = rotations.reshape(-1, 4).to(embeddings.device, torch.float32)
    predictions = _chunked(predictor.predict, sources, rotations)
    return embeddings, predictions.reshape(embeddings.shape)


@torch.inference_mode()
def equivariance(splits: dict[str, SplitData], predictor: Predictor) -> dict[str, dict[str, float]]:
    """The predictor's scores, by results part, in the official scripts' modes.

    Each view's embedding is predicted from view 0's and R_0^-1 R_v. MRR and H@k rank the
    prediction among its object's views; PRE takes the nearest neighbour over a target set
    and scores its rotation. ``predictor`` (val-val) needs ``splits["val"]``;
    ``predictor-train-train`` needs ``splits["train"]``; ``predictor-val-all`` (PRE of the
    val predictions over train + val targets) needs both.
    """
    predicted = {name: _embed_and_predict(data, predictor) for name, data in splits.items()}
    flat = {
        name: (e.reshape(-1, e.shape[-1]), p.reshape(-1, p.shape[-1]))
        for name, (e, p) in predicted.items()
    }
    quaternions = {name: data.quaternions.reshape(-1, 4) for name, data in splits.items()}
    scores: dict[str, dict[str, float]] = {}
    for name, part in (("val", PREDICTOR_PART), ("train", PREDICTOR_TRAIN_PART)):
        if name not in predicted:
            continue
        embeddings, predictions = predicted[name]
        scores[part] = metrics.mrr_hits(predictions, embeddings)
        targets, queries = flat[name]
        scores[part]["pre"] = metrics.pre(queries, targets, quaternions[name], quaternions[name])
    if {"train", "val"} <= set(predicted):
        targets = torch.cat([flat["train"][0], flat["val"][0]])
        target_quaternions = torch.cat([quaternions["train"], quaternions["val"]])
        scores[PREDICTOR_VAL_ALL_PART] = {
            "pre": metrics.pre(flat["val"][1], targets, target_quaternions, quaternions["val"])
        }
    return scores
