"""The benchmark tasks on cached features (REFERENCE.md section 5).

classification  Linear(D, 55); each epoch one random view per training object;
                scored (top-1, top-5 in percent) on every validation view.
rotation        MLP 2D -> 1024 -> 1024 -> 4 on [f_i; f_j] of two distinct random views,
                target the quaternion of R_i^-1 R_j (scalar-last, sign as scipy), MSE; R^2.
colour          the same MLP with 2 outputs, target latent_j - latent_i at (floor hue,
                light hue); R^2.
equivariance    the model's own projector and predictor: MRR, H@1/2/5/10 and PRE over the
                validation objects, source = view 0 of each object.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from iebench.core.seeding import torch_generator as generator
from iebench.data.tree import TreeIndex
from iebench.evaluation import metrics
from iebench.evaluation.config import ProbeSettings
from iebench.evaluation.probes import HIDDEN, make_probe, predict, train_probe
from iebench.evaluation.submission import Predictor
from iebench.spec.factors import COLOUR_FACTORS, ROTATION, euler_to_quaternion
from iebench.spec.taxonomy import NUM_CLASSES

# Chunk of rows sent through the predictor at once (bounds memory on the full dataset).
PREDICTOR_CHUNK = 8192


@dataclass(frozen=True)
class SplitData:
    """One split on the evaluation device: features (O, V, D), labels (O,), absolute rotation
    quaternions (O, V, 4, float64) and colour factors (O, V, 2, float64)."""

    features: torch.Tensor
    labels: torch.Tensor
    quaternions: torch.Tensor
    colours: torch.Tensor

    @classmethod
    def build(cls, index: TreeIndex, features: np.ndarray, device: str) -> SplitData:
        return cls(
            features=torch.from_numpy(features).to(device),
            labels=torch.from_numpy(index.labels).to(device),
            quaternions=torch.from_numpy(euler_to_quaternion(index.latents[..., ROTATION])).to(
                device
            ),
            colours=torch.from_numpy(index.latents[..., list(COLOUR_FACTORS)].copy()).to(device),
        )

    @property
    def objects(self) -> int:
        return self.features.shape[0]

    @property
    def views(self) -> int:
        return self.features.shape[1]


def quaternion_multiply(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Hamilton product of scalar-last quaternions, as scipy composes rotations (p then q)."""
    px, py, pz, pw = p.unbind(-1)
    qx, qy, qz, qw = q.unbind(-1)
    return torch.stack(
        [
            pw * qx + px * qw + py * qz - pz * qy,
            pw * qy - px * qz + py * qw + pz * qx,
            pw * qz + px * qy - py * qx + pz * qw,
            pw * qw - px * qx - py * qy - pz * qz,
        ],
        dim=-1,
    )


def relative_quaternions(q_i: torch.Tensor, q_j: torch.Tensor) -> torch.Tensor:
    """Quaternion of R_i^-1 R_j: the conjugate of q_i (unit quaternions) times q_j."""
    conjugate = q_i * torch.tensor([-1.0, -1.0, -1.0, 1.0], dtype=q_i.dtype, device=q_i.device)
    return quaternion_multiply(conjugate, q_j)


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


def rotation_targets(data: SplitData, objects, i, j) -> torch.Tensor:
    return relative_quaternions(data.quaternions[objects, i], data.quaternions[objects, j])


def colour_targets(data: SplitData, objects, i, j) -> torch.Tensor:
    return data.colours[objects, j] - data.colours[objects, i]


PAIR_TARGETS: dict[str, tuple[Callable[..., torch.Tensor], int]] = {
    "rotation": (rotation_targets, 4),
    "colour": (colour_targets, 2),
}


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
    """Rotation or colour prediction from [f_i; f_j]; R^2 with one global target mean."""
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
    return {"r2": metrics.r2_score(predict(probe, inputs), targets)}


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


@torch.inference_mode()
def equivariance(val: SplitData, predictor: Predictor) -> dict[str, float]:
    """Predict each view's embedding from view 0's and R_0^-1 R_v; rank it among the object's
    views (MRR, H@k) and score the nearest neighbour's rotation over all of them (PRE)."""
    flat = val.features.reshape(-1, val.features.shape[-1])
    embeddings = torch.cat(
        [
            predictor.project(flat[s : s + PREDICTOR_CHUNK])
            for s in range(0, len(flat), PREDICTOR_CHUNK)
        ]
    ).float()
    embeddings = embeddings.reshape(val.objects, val.views, -1)
    sources = embeddings[:, :1].expand_as(embeddings).reshape(-1, embeddings.shape[-1])
    rotations = relative_quaternions(val.quaternions[:, :1], val.quaternions).reshape(-1, 4)
    rotations = rotations.to(torch.float32)
    predictions = torch.cat(
        [
            predictor.predict(sources[s : s + PREDICTOR_CHUNK], rotations[s : s + PREDICTOR_CHUNK])
            for s in range(0, len(sources), PREDICTOR_CHUNK)
        ]
    ).float()
    scores = metrics.mrr_hits(predictions.reshape(embeddings.shape), embeddings)
    quaternions = val.quaternions.reshape(-1, 4)
    scores["pre"] = metrics.pre(
        predictions, embeddings.reshape(-1, embeddings.shape[-1]), quaternions, quaternions
    )
    return scores
