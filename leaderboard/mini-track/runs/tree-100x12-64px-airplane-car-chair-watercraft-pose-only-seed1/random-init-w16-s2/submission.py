"""iebench submission for runs of `iebench train vicreg`.

VICReg (invariant).
ResNet width 16, blocks (2, 2, 2, 2), 64 px. Evaluate with

    iebench evaluate leaderboard/mini-track/runs/tree-100x12-64px-airplane-car-chair-watercraft-pose-only-seed1/random-init-w16-s2/submission.py
"""

from iebench.evaluation.submission import EncoderMetadata
from iebench.training.export import load_encoder

METADATA = EncoderMetadata(
    name="random-init",
    embedding_dim=128,
    resolution=64,
    checkpoint="final.pth",
)


def build_encoder(checkpoint):
    return load_encoder(checkpoint, width=16, layers=(2, 2, 2, 2))
