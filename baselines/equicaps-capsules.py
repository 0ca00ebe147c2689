"""iebench submission for EquiCaps's released weights: its capsule embedding and pose rotation.

The encoder is backbone + capsule projector: [32 capsule activations (invariant part) |
32 flattened 3x3 pose matrices (equivariant part)], the embedding EquiCaps's losses see;
256 px (the projector's routing kernel spans the 8x8 map of a 256 px image). The
equivariance metrics rotate each source pose by the relative rotation (pose @ R), as
EquiCaps's loss does; no predictor is involved. Run

    iebench evaluate baselines/equicaps-capsules.py --checkpoint EquiCaps_3DIEBench.pth
"""

from iebench.evaluation.submission import EncoderMetadata
from iebench.models.released import PoseRotation, load_equicaps_embedding

METADATA = EncoderMetadata(
    name="equicaps-capsules",
    embedding_dim=320,
    resolution=256,
    invariant_dims=(0, 32),
    equivariant_dims=(32, 320),
    checkpoint=None,
)


def build_encoder(checkpoint):
    return load_equicaps_embedding(checkpoint)


def build_predictor(checkpoint):
    return PoseRotation()
