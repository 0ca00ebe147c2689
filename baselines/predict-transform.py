"""iebench submission for runs of `iebench train predict-transform`.

E-SSL: predict which of k transformations was applied (+ optional SimCLR).
ResNet width 64, blocks (2, 2, 2, 2), 256 px. Evaluate with

    iebench evaluate baselines/predict-transform.py --checkpoint RUN/final.pth
"""

from iebench.evaluation.submission import EncoderMetadata
from iebench.training.export import load_encoder

METADATA = EncoderMetadata(
    name="predict-transform",
    embedding_dim=512,
    resolution=256,
    checkpoint=None,
)


def build_encoder(checkpoint):
    return load_encoder(checkpoint, width=64, layers=(2, 2, 2, 2))
