"""iebench submission for runs of `iebench train sie`.

SIE: invariant + equivariant halves.
ResNet width 16, blocks (2, 2, 2, 2), 64 px. Evaluate with

    iebench evaluate leaderboard/mini-track/runs/tree-100x12-64px-airplane-car-chair-watercraft-pose-only-seed1/sie-equi90-w16-p64-64-64-b32-e300-s4/submission.py

The projector and predictor come from RUN/heads.pth, beside the checkpoint.
An official SIE training checkpoint (model.pth) gives the backbone, projectors
and predictor at once (its predictor converted to iebench's quaternion sign).
"""

from iebench.evaluation.submission import EncoderMetadata
from iebench.training.export import load_encoder, load_predictor

METADATA = EncoderMetadata(
    name="sie",
    embedding_dim=128,
    resolution=64,
    invariant_dims=(0, 64),
    equivariant_dims=(64, 128),
    checkpoint="final.pth",
)


def build_encoder(checkpoint):
    return load_encoder(checkpoint, width=16, layers=(2, 2, 2, 2))


def build_predictor(checkpoint):
    return load_predictor(checkpoint, "sie")
