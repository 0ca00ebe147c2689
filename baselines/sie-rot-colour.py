"""iebench submission for runs of `iebench train sie-rot-colour`.

SIE conditioned on rotation + colour (6-d).
ResNet width 64, blocks (2, 2, 2, 2), 256 px. Evaluate with

    iebench evaluate baselines/sie-rot-colour.py --checkpoint RUN/final.pth

The projector and predictor come from RUN/heads.pth, beside the checkpoint.
An official SIE training checkpoint (model.pth) gives the backbone, projectors
and predictor at once (its predictor converted to iebench's quaternion sign).
"""

from iebench.evaluation.submission import EncoderMetadata
from iebench.training.export import load_encoder, load_predictor

METADATA = EncoderMetadata(
    name="sie-rot-colour",
    embedding_dim=512,
    resolution=256,
    invariant_dims=(0, 256),
    equivariant_dims=(256, 512),
    checkpoint=None,
)


def build_encoder(checkpoint):
    return load_encoder(checkpoint, width=64, layers=(2, 2, 2, 2))


def build_predictor(checkpoint):
    return load_predictor(checkpoint, "sie-rot-colour")
