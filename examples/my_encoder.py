"""An example iebench submission: SIE's ResNet-18 with its equivariant projector and predictor.

Evaluate it with

    iebench evaluate examples/my_encoder.py --data DATA --checkpoint model.pth

where model.pth is an official SIE checkpoint: the training checkpoint (keys
``module.backbone.*``, ``module.projector_equi.*``, ``module.predictor.*``) or,
for the probes only, the backbone-only ``final_weights.pth``. Without a
checkpoint the weights are random (a useful baseline).

A submission file defines METADATA and build_encoder; build_predictor is
optional and only needed for the equivariance metrics (MRR, H@k, PRE).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from iebench import EncoderMetadata
from iebench.models.resnet import load_backbone_weights, resnet18

# What the harness needs to know. Images reach the encoder resized to
# `resolution` and normalised with `mean` / `std` (defaults: the published values).
METADATA = EncoderMetadata(
    name="sie-resnet18",
    embedding_dim=512,
    resolution=256,
    invariant_dims=(0, 256),  # probed on their own as well as the full 512 dims
    equivariant_dims=(256, 512),
    checkpoint=None,  # a default weights path, relative to this file; --checkpoint wins
)


def build_encoder(checkpoint: Path | None) -> nn.Module:
    """A module mapping normalised images (B, 3, 256, 256) to features (B, 512).

    The harness puts it in eval mode and never trains it.
    """
    model = resnet18()
    if checkpoint is not None:
        # Accepts full training checkpoints and backbone-only weights; a checkpoint
        # that does not fit fails with one line naming the file and the keys.
        load_backbone_weights(model, checkpoint)
    return model


def _projector(sizes: list[int]) -> nn.Sequential:
    """SIE's projector: (Linear + BN + ReLU) between sizes, then a bias-free Linear."""
    layers: list[nn.Module] = []
    for fan_in, fan_out in zip(sizes[:-2], sizes[1:-1], strict=True):
        layers += [nn.Linear(fan_in, fan_out), nn.BatchNorm1d(fan_out), nn.ReLU(True)]
    layers.append(nn.Linear(sizes[-2], sizes[-1], bias=False))
    return nn.Sequential(*layers)


class SIEPredictor(nn.Module):
    """The equivariance head: projector of the equivariant part, hypernetwork predictor.

    Module names follow the official checkpoint (``projector_equi``, ``predictor``)
    so that its state dict loads directly.
    """

    def __init__(self, embedding: int = 1024) -> None:
        super().__init__()
        self.equivariant = slice(*METADATA.equivariant_dims)
        width = METADATA.equivariant_dims[1] - METADATA.equivariant_dims[0]
        self.embedding = embedding
        self.projector_equi = _projector([width, embedding, embedding, embedding])
        # W(q) = sum_k q_k A_k, stored as the official bias-free Linear(4, E * E).
        self.predictor = nn.Module()
        self.predictor.hypernet = nn.Module()
        self.predictor.hypernet.net = nn.Sequential(nn.Linear(4, embedding * embedding, bias=False))

    def project(self, features: torch.Tensor) -> torch.Tensor:
        """Backbone features (B, 512) -> equivariant embeddings (B, 1024)."""
        return self.projector_equi(features[:, self.equivariant])

    def predict(self, embeddings: torch.Tensor, quaternions: torch.Tensor) -> torch.Tensor:
        """W(q) e for source embeddings (B, 1024) and quaternions (x, y, z, w) (B, 4)."""
        basis = self.predictor.hypernet.net[0].weight  # (E * E, 4): column k is A_k (out, in)
        basis = basis.T.reshape(4, self.embedding, self.embedding)
        # sum_k q_k (A_k e): four matmuls instead of one E x E matrix per sample.
        return torch.einsum("koi,bi,bk->bo", basis, embeddings, quaternions)


def build_predictor(checkpoint: Path | None) -> SIEPredictor | None:
    """The model's own projector and predictor, for MRR / H@k / PRE; None when the
    checkpoint holds only the backbone (the probes still run)."""
    head = SIEPredictor()
    if checkpoint is None:
        return head
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    state = state.get("model", state)
    prefixes = ("module.projector_equi.", "module.predictor.")
    head_state = {k.removeprefix("module."): v for k, v in state.items() if k.startswith(prefixes)}
    if not head_state:
        return None
    head.load_state_dict(head_state)
    return head
