"""iebench submission for seq-JEPA's released weights (hafezgh/seq-jepa, NeurIPS 2025).

The online ResNet-18 (torchvision's layout, ``encoder.*``), the encoder seq-JEPA's own
evaluation probes; 128 px, as it was trained. Download a checkpoint from
https://huggingface.co/Hafez/seq-JEPA and run

    iebench evaluate baselines/seq-jepa.py --checkpoint CHECKPOINT.pth

No predictor: seq-JEPA's predictor reads a sequence of views with their actions through
its transformer and predicts the target encoder's features, which the submission contract
(one view, one rotation, one encoder) cannot express (docs/released-models.md).
"""

from iebench.evaluation.submission import EncoderMetadata
from iebench.models.released import load_seq_jepa_encoder

METADATA = EncoderMetadata(name="seq-jepa", embedding_dim=512, resolution=128, checkpoint=None)


def build_encoder(checkpoint):
    return load_seq_jepa_encoder(checkpoint)
