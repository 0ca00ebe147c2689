"""CARE: InfoNCE plus a Gram-matrix term that makes a shared transformation act orthogonally.

Within a chunk of the batch every image gets the same pair of transformations
(a1 for the first view, a2 for the second). If the embeddings of the two views
differ by one orthogonal map per chunk, Z2 = Z1 Q, their Gram matrices agree:
Z1 Z1^T = Z2 Z2^T. The term is the mean over chunks of the squared off-diagonal
difference of those Gram matrices, on L2-normalised embeddings (docs/protocol.md
section 7; Gupta et al.'s CARE).

On 3DIEBench the two views of a pair are two renders; each chunk's shared pair of
transformations (a1, a2) is an image transformation of ``iebench.methods.pretext``
(default: four-fold rotation) applied on top of them, a1 to the first view and a2
to the second, drawn per chunk.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from iebench.core.errors import IebenchError
from iebench.data.preprocess import MEAN, STD
from iebench.methods import losses
from iebench.methods.base import Method, MethodSpec, PairBatch
from iebench.methods.predict_transform import method_options
from iebench.methods.pretext import LabelStream, get_transform

DEFAULT_CHUNK_SIZE = 16


def chunk_sizes(batch: int, chunk_size: int) -> list[int]:
    """Sizes of the consecutive chunks of a batch; a short last chunk is kept if it has 2 rows."""
    sizes = [chunk_size] * (batch // chunk_size)
    if batch % chunk_size >= 2:
        sizes.append(batch % chunk_size)
    return sizes


def gram_difference(z1: Tensor, z2: Tensor, chunk_size: int) -> Tensor:
    """Mean over chunks of mean squared off-diagonal entries of Z1 Z1^T - Z2 Z2^T."""
    if chunk_size < 2:
        raise ValueError(f"CARE chunks need at least 2 rows, got {chunk_size}")
    z1 = F.normalize(z1.float(), dim=1)
    z2 = F.normalize(z2.float(), dim=1)
    sizes = chunk_sizes(z1.shape[0], chunk_size)
    if not sizes:
        raise ValueError(f"a batch of {z1.shape[0]} rows has no chunk of 2 rows or more")
    per_chunk = []
    for a, b in zip(z1.split(sizes), z2.split(sizes), strict=False):
        difference = a @ a.T - b @ b.T
        per_chunk.append(losses.off_diagonal(difference).pow(2).mean())
    return torch.stack(per_chunk).mean()


class Care(Method):
    weights = {"nce": 1.0, "care": 0.01}
    options = {"transform": "rot4", "chunk_size": DEFAULT_CHUNK_SIZE}

    def __init__(
        self,
        backbone,
        spec: MethodSpec,
        mean: Sequence[float] = MEAN,
        std: Sequence[float] = STD,
    ) -> None:
        """``mean``/``std``: the normalisation of the input images (see PredictTransform)."""
        super().__init__(backbone, spec)
        options = method_options(self, spec)
        self.chunk_size = options["chunk_size"]
        if not isinstance(self.chunk_size, int) or self.chunk_size < 2:
            raise IebenchError(f"care: chunk_size must be an int >= 2, got {self.chunk_size!r}")
        self.transform = get_transform(options["transform"])
        self.mean, self.std = tuple(mean), tuple(std)
        self.labels = LabelStream(spec.seed)
        self.projector = losses.projector([spec.embed_dim, *spec.projector])

    def chunk_labels(self, batch: int, generator: torch.Generator) -> Tensor:
        """One transformation class per chunk, repeated over its rows (last chunk may be short)."""
        chunks = -(-batch // self.chunk_size)
        per_chunk = self.transform.sample_labels(chunks, generator)
        return per_chunk.repeat_interleave(self.chunk_size)[:batch]

    def forward(self, batch: PairBatch) -> tuple[Tensor, dict[str, Tensor]]:
        generator = self.labels.next_generator()
        views = []
        for images in (batch.first, batch.second):
            labels = self.chunk_labels(images.shape[0], generator).to(images.device)
            views.append(self.transform.apply_normalised(images, labels, self.mean, self.std))
        z1 = self.projector(self.backbone(views[0]))
        z2 = self.projector(self.backbone(views[1]))
        nce = losses.info_nce(losses.gather(z1), losses.gather(z2), self.spec.temperature)
        # Chunks are this process's own rows: the shared transformations are drawn per process.
        return self.weighted({"nce": nce, "care": gram_difference(z1, z2, self.chunk_size)})
