"""iebench submission for runs of `iebench train simclr`.

SimCLR (invariant), InfoNCE over the global batch.
ResNet width 64, blocks (2, 2, 2, 2), 256 px. Evaluate with

    iebench evaluate baselines/simclr.py --checkpoint RUN/final.pth
"""

from iebench.evaluation.submission import EncoderMetadata
from iebench.training.export import load_encoder

METADATA = EncoderMetadata(
    name="simclr",
    embedding_dim=512,
    resolution=256,
    checkpoint=None,
)


def build_encoder(checkpoint):
    return load_encoder(checkpoint, width=64, layers=(2, 2, 2, 2))
