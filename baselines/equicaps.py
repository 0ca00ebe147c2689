"""iebench submission for EquiCaps's released weights (AberdeenML/EquiCaps, arXiv 2506.09895).

The ResNet-18 backbone, average-pooled as EquiCaps's evaluation scripts probe it; 256 px.
Download a checkpoint from the repository's README (e.g. EquiCaps_3DIEBench.pth) and run

    iebench evaluate baselines/equicaps.py --checkpoint EquiCaps_3DIEBench.pth

EquiCaps has no predictor: its capsules' pose matrices rotate with the object, which
baselines/equicaps-capsules.py scores (MRR / H@k / PRE) on the projector's embedding.
"""

from iebench.evaluation.submission import EncoderMetadata
from iebench.models.released import load_equicaps_backbone

METADATA = EncoderMetadata(name="equicaps", embedding_dim=512, resolution=256, checkpoint=None)


def build_encoder(checkpoint):
    return load_equicaps_backbone(checkpoint)
