"""iebench submission for ContextSSL's released weights (Sharut/In-Context-Symmetries).

NeurIPS 2024. The ResNet-18 (torchvision's layout, ``enc.*``), the features before its context
transformer; 128 px, as it was trained. Download the checkpoint from the Google Drive
folder its README links (simclr_resnet18_epoch1000.pt) and run

    iebench evaluate baselines/contextssl.py --checkpoint simclr_resnet18_epoch1000.pt

No predictor: ContextSSL's transformer predicts from the source's backbone features (not
from an embedding of them) and a context of train pairs, which the submission contract
cannot express (docs/released-models.md).
"""

from iebench.evaluation.submission import EncoderMetadata
from iebench.models.released import load_contextssl_encoder

METADATA = EncoderMetadata(name="contextssl", embedding_dim=512, resolution=128, checkpoint=None)


def build_encoder(checkpoint):
    return load_contextssl_encoder(checkpoint)
