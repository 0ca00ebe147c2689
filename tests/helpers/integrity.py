"""What the integrity tests of several rooms share: a tiny submission whose features a test
can break, and the CLI run by click's runner with its one-line refusal read back."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from iebench.cli import cli

# A tiny encoder whose weights come from torch's global generator (nn.Linear's default
# initialisation), as a submission's usually do; FAULT post-processes the features.
ENCODER = """\
from torch import nn
from iebench.evaluation.submission import EncoderMetadata

METADATA = EncoderMetadata(name="random", embedding_dim=16, resolution={resolution})


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(4)
        self.linear = nn.Linear(48, 16)

    def forward(self, images):
        out = self.linear(self.pool(images).flatten(1))
        return {fault}


def build_encoder(checkpoint):
    {build}
    return Encoder()
"""
TINY_TRAIN = ["--resolution", "32", "--width", "8", "--projector", "32-32-32", "--quiet"]


def encoder_file(
    directory: Path, resolution: int = 32, fault: str = "out", build: str = "pass"
) -> Path:
    path = directory / "encoder.py"
    path.write_text(ENCODER.format(resolution=resolution, fault=fault, build=build))
    return path


def run(*args) -> object:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def evaluate(encoder: Path, data: Path, out: Path, cache: Path, *extra) -> object:
    return run(
        "evaluate", encoder, "--data", data, "--out", out, "--cache", cache,
        "--protocol", "quick", "--tasks", "classification", "--workers", "0", *extra,
    )  # fmt: skip


def only_error(result) -> str:
    """The one line a refused command prints (after any progress bar, which goes to stderr)."""
    assert result.exit_code == 1 and result.output.count("Error: ") == 1, result.output
    line = "Error: " + result.output.split("Error: ")[1].rstrip("\n")
    assert "\n" not in line, result.output
    return line
