"""iebench submission for runs of `iebench train predict-rotation3d`.

regress the pair's relative 3D rotation from features (+ optional SimCLR).
ResNet width 64, blocks (2, 2, 2, 2), 256 px. Evaluate with

    iebench evaluate baselines/predict-rotation3d.py --checkpoint RUN/final.pth
"""

from iebench.evaluation.submission import EncoderMetadata
from iebench.training.export import load_encoder

METADATA = EncoderMetadata(
    name="predict-rotation3d",
    embedding_dim=512,
    resolution=256,
    checkpoint=None,
)


def build_encoder(checkpoint):
    return load_encoder(checkpoint, width=64, layers=(2, 2, 2, 2))
