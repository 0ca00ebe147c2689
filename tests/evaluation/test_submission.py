"""The submission contract: good files load, bad ones fail with one line naming the file."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import torch

from iebench.core.errors import IebenchError
from iebench.evaluation.submission import EncoderMetadata, Predictor, Submission, load_submission
from iebench.models.resnet import resnet18

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "my_encoder.py"

HEADER = """\
import torch
from torch import nn
from iebench.models.resnet import load_backbone_weights, resnet18
from iebench.evaluation.submission import EncoderMetadata
"""
METADATA = 'METADATA = EncoderMetadata(name="tiny", embedding_dim=32, resolution=32)\n'
GOOD_ENCODER = """
def build_encoder(checkpoint):
    model = resnet18(width=4, layers=(1, 1, 1, 1))
    if checkpoint is not None:
        load_backbone_weights(model, checkpoint)
    return model
"""


def write(tmp_path: Path, body: str, name: str = "encoder.py") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + textwrap.dedent(body))
    return path


def test_good_submission_loads_with_hashes(tmp_path):
    checkpoint = tmp_path / "weights.pth"
    torch.save(resnet18(width=4, layers=(1, 1, 1, 1)).state_dict(), checkpoint)
    path = write(tmp_path, METADATA + GOOD_ENCODER)
    submission = load_submission(path, checkpoint=checkpoint)
    assert submission.metadata.embedding_dim == 32
    assert submission.checkpoint == checkpoint
    assert len(submission.file_sha256) == len(submission.checkpoint_sha256) == 64
    assert submission.predictor is None
    assert not submission.encoder.training


def test_metadata_checkpoint_is_relative_to_the_file(tmp_path):
    torch.save(resnet18(width=4, layers=(1, 1, 1, 1)).state_dict(), tmp_path / "w.pth")
    metadata = METADATA.replace("resolution=32)", 'resolution=32, checkpoint="w.pth")')
    submission = load_submission(write(tmp_path, metadata + GOOD_ENCODER))
    assert submission.checkpoint == tmp_path / "w.pth"


def test_example_submission_loads_with_its_predictor():
    submission = load_submission(EXAMPLE)
    assert submission.metadata.name == "sie-resnet18"
    assert isinstance(submission.predictor, Predictor)


BAD_SUBMISSIONS = {
    "syntax error": (
        METADATA + "def build_encoder(checkpoint)\n    return None\n",
        r"encoder\.py: syntax error at line 6: ",
    ),
    "missing function": (METADATA, r"encoder\.py: no function build_encoder\(checkpoint\)"),
    "missing metadata": (GOOD_ENCODER, r"encoder\.py: METADATA is missing"),
    "bad metadata": (
        METADATA.replace("resolution=32)", "resolution=32, invariant_dims=(0, 64))") + GOOD_ENCODER,
        r"encoder\.py: bad METADATA: invariant_dims must be \(start, stop\) within",
    ),
    "import fails": (
        METADATA + GOOD_ENCODER + "raise RuntimeError('boom')\n",
        r"encoder\.py: import failed: RuntimeError: boom \(line 12\)",
    ),
    "build fails": (
        METADATA + "def build_encoder(checkpoint):\n    return {}['x']\n",
        r"encoder\.py: build_encoder failed: KeyError: 'x' \(line 7\)",
    ),
    "multi-line error": (
        METADATA + "def build_encoder(checkpoint):\n    raise ValueError('a\\nb' * 400)\n",
        r"encoder\.py: build_encoder failed: ValueError: a ba b.* \.\.\. \(line 7\)$",
    ),
    "not a module": (
        METADATA + "def build_encoder(checkpoint):\n    return 3\n",
        r"encoder\.py: build_encoder returned a int, not a torch\.nn\.Module",
    ),
    "wrong output size": (
        METADATA.replace("embedding_dim=32", "embedding_dim=16") + GOOD_ENCODER,
        r"encoder\.py: the encoder returned shape \(4, 32\), expected \(4, 16\)",
    ),
    "NaN output": (
        METADATA
        + """
class Broken(nn.Module):
    def forward(self, x):
        return torch.full((x.shape[0], 32), float("nan"))

def build_encoder(checkpoint):
    return Broken()
""",
        r"encoder\.py: the encoder returned 128 non-finite values",
    ),
    "integer output": (
        METADATA
        + """
class Ints(nn.Module):
    def forward(self, x):
        return torch.zeros(x.shape[0], 32, dtype=torch.long)

def build_encoder(checkpoint):
    return Ints()
""",
        r"encoder\.py: the encoder returned dtype torch\.int64, expected floats",
    ),
    "dropout in eval": (
        METADATA
        + """
class Noisy(nn.Module):
    def forward(self, x):
        return nn.functional.dropout(x.flatten(1)[:, :32], 0.5, training=True)

def build_encoder(checkpoint):
    return Noisy()
""",
        r"encoder\.py: the encoder is not deterministic in eval mode",
    ),
    "bad predictor": (
        METADATA
        + GOOD_ENCODER
        + """
class Head:
    def project(self, features):
        return features
    def predict(self, embeddings, quaternions):
        return embeddings[:, :3]

def build_predictor(checkpoint):
    return Head()
""",
        r"encoder\.py: predictor\.predict returned shape \(4, 3\), expected \(4, 32\)",
    ),
}


@pytest.mark.parametrize("case", list(BAD_SUBMISSIONS))
def test_bad_submission_fails_with_one_clear_line(tmp_path, case):
    body, message = BAD_SUBMISSIONS[case]
    with pytest.raises(IebenchError, match=message) as error:
        load_submission(write(tmp_path, body))
    assert "\n" not in str(error.value)


def test_checkpoint_that_does_not_fit(tmp_path):
    checkpoint = tmp_path / "other.pth"
    torch.save(resnet18(width=8, layers=(1, 1, 1, 1)).state_dict(), checkpoint)
    with pytest.raises(
        IebenchError,
        match=r"encoder\.py: build_encoder: .*other\.pth: checkpoint does not fit the backbone: "
        r"shape mismatch .*conv1\.weight",
    ):
        load_submission(write(tmp_path, METADATA + GOOD_ENCODER), checkpoint=checkpoint)


def test_missing_files_are_named(tmp_path):
    with pytest.raises(IebenchError, match=r"absent\.py: submission file not found"):
        load_submission(tmp_path / "absent.py")
    with pytest.raises(IebenchError, match=r"nope\.pth: checkpoint file not found"):
        load_submission(write(tmp_path, METADATA + GOOD_ENCODER), checkpoint=tmp_path / "nope.pth")


def test_in_memory_submission_is_checked_and_hashed():
    metadata = EncoderMetadata(name="mem", embedding_dim=32, resolution=32)
    model = resnet18(width=4, layers=(1, 1, 1, 1))
    first = Submission.from_module(model, metadata)
    assert first.file_sha256 == Submission.from_module(model, metadata).file_sha256
    with torch.no_grad():
        model.conv1.weight.add_(1.0)
    assert Submission.from_module(model, metadata).file_sha256 != first.file_sha256
    with pytest.raises(IebenchError, match=r"returned shape \(4, 32\), expected \(4, 8\)"):
        Submission.from_module(model, EncoderMetadata(name="m", embedding_dim=8, resolution=32))


def test_example_loads_official_checkpoints_and_predicts_as_the_hypernetwork(tmp_path):
    first = load_submission(EXAMPLE)
    head = first.predictor
    with torch.no_grad():
        for parameter in head.parameters():
            parameter.normal_(0, 0.02, generator=torch.Generator().manual_seed(1))
    state = {f"module.backbone.{k}": v for k, v in first.encoder.state_dict().items()}
    state.update({f"module.{k}": v for k, v in head.state_dict().items()})
    torch.save({"epoch": 1, "model": state, "optimizer": {}}, tmp_path / "model.pth")
    torch.save(first.encoder.state_dict(), tmp_path / "final_weights.pth")

    loaded = load_submission(EXAMPLE, checkpoint=tmp_path / "model.pth")
    embeddings = torch.randn(2, 1024, generator=torch.Generator().manual_seed(2))
    quaternions = torch.nn.functional.normalize(torch.randn(2, 4), dim=1)
    # The official ParametrizedNet: weights = hypernet(q) viewed as (out, in), bmm.
    weights = loaded.predictor.predictor.hypernet.net(quaternions).view(-1, 1024, 1024)
    expected = torch.bmm(embeddings.unsqueeze(1), weights.transpose(-2, -1)).squeeze(1)
    with torch.no_grad():
        torch.testing.assert_close(loaded.predictor.predict(embeddings, quaternions), expected)
        torch.testing.assert_close(
            loaded.predictor.project(torch.ones(2, 512)), head.project(torch.ones(2, 512))
        )
    assert load_submission(EXAMPLE, checkpoint=tmp_path / "final_weights.pth").predictor is None
