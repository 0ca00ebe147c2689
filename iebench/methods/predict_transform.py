"""E-SSL by prediction: classify which of k transformations was applied to an image.

Each view gets a transformation class drawn per image (``iebench.methods.pretext``);
a head (embed -> hidden -> k, the paper's 512 -> 2048 -> k projector) classifies it
from the backbone features with cross-entropy. Optionally on top of SimCLR's
InfoNCE between the untransformed views (term "nce", weight 0 = prediction alone).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from iebench.core.errors import IebenchError
from iebench.data.preprocess import MEAN, STD
from iebench.methods import losses
from iebench.methods.base import Method, MethodSpec, PairBatch
from iebench.methods.pretext import LabelStream, get_transform


def method_options(method: Method, spec: MethodSpec) -> dict[str, Any]:
    """The method's option defaults overridden by ``spec.options``; unknown names are errors."""
    unknown = sorted(set(spec.options) - set(method.options))
    if unknown:
        raise IebenchError(
            f"{type(method).__name__}: unknown options {', '.join(unknown)}; "
            f"its options are {', '.join(method.options) or 'none'}"
        )
    return {**method.options, **spec.options}


class PredictTransform(Method):
    weights = {"nce": 0.0, "transform": 1.0}
    options = {"transform": "rot4"}

    def __init__(
        self,
        backbone,
        spec: MethodSpec,
        mean: Sequence[float] = MEAN,
        std: Sequence[float] = STD,
    ) -> None:
        """``mean``/``std``: the normalisation of the input images (the transformations act on
        pixels); the published 3DIEBench constants by default, as ``iebench train`` feeds."""
        super().__init__(backbone, spec)
        self.transform = get_transform(method_options(self, spec)["transform"])
        self.mean, self.std = tuple(mean), tuple(std)
        self.labels = LabelStream(spec.seed)
        self.head = losses.projector(
            [spec.embed_dim, spec.projector[0], self.transform.num_classes]
        )
        # Only built when used: DDP rejects parameters that never get a gradient.
        self.projector = (
            losses.projector([spec.embed_dim, *spec.projector]) if spec.weights["nce"] else None
        )

    def prediction(self, images: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """Cross-entropy and accuracy of predicting the transformation of normalised images."""
        labels = self.transform.sample_labels(images.shape[0], generator).to(images.device)
        transformed = self.transform.apply_normalised(images, labels, self.mean, self.std)
        logits = self.head(self.backbone(transformed)).float()
        accuracy = (logits.argmax(dim=1) == labels).float().mean()
        return F.cross_entropy(logits, labels), accuracy

    def forward(self, batch: PairBatch) -> tuple[Tensor, dict[str, Tensor]]:
        terms: dict[str, Tensor] = {}
        if self.projector is not None:
            z1 = losses.gather(self.projector(self.backbone(batch.first)))
            z2 = losses.gather(self.projector(self.backbone(batch.second)))
            terms["nce"] = losses.info_nce(z1, z2, self.spec.temperature)
        images = torch.cat([batch.first, batch.second])
        terms["transform"], _ = self.prediction(images, self.labels.next_generator())
        return self.weighted(terms)
