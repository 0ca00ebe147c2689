"""The command line as a new user meets it: help everywhere, described options, examples
that parse, whole words in usage lines, `--objects` always a path, sane defaults."""

from __future__ import annotations

import dataclasses
import os
import shlex
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from iebench.cli import cli
from iebench.core.cpus import default_workers, usable_cores
from iebench.evaluation.config import EvalConfig
from iebench.scene.presets import PRESET_USES, PRESETS
from iebench.training.config import TrainConfig

# Commands that show a progress bar, and so take --quiet.
WITH_PROGRESS = ("demo", "evaluate", "pack", "render", "study transformations", "train", "validate")


def commands(group: click.Group = cli, path: tuple[str, ...] = ()):
    """(path, command) of every command and group under ``group``, the root included."""
    yield path, group
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if isinstance(command, click.Group):
            yield from commands(command, (*path, name))
        else:
            yield (*path, name), command


ALL = list(commands())


def help_text(path: tuple[str, ...], flag: str = "-h", width: int = 80) -> str:
    result = CliRunner().invoke(cli, [*path, flag], prog_name="iebench", terminal_width=width)
    assert result.exit_code == 0, (path, result.output)
    return result.output


@pytest.mark.parametrize("path", [p for p, _ in ALL], ids=lambda p: " ".join(p) or "iebench")
def test_help_works_with_h_and_ends_with_examples_that_parse(path):
    text = help_text(path)
    assert text == help_text(path, "--help")
    examples = text.rstrip().split("Examples:\n")[1].splitlines()
    assert 1 <= len(examples) <= 3, text
    for example in examples:
        words = shlex.split(example)
        assert words[0] == "iebench" and words[1 : 1 + len(path)] == list(path), example
        parse(words[1:])


def parse(words: list[str]) -> None:
    """Parse a command line as click would run it (options, choices, required ones)."""
    command: click.Command = cli
    ctx = cli.make_context("iebench", list(words), resilient_parsing=True)
    rest = list(words)
    while isinstance(command, click.Group) and rest:
        name = rest.pop(0)
        command = command.get_command(ctx, name)
        assert command is not None, words
        ctx = command.make_context(name, list(rest), parent=ctx)
    ctx.close()


@pytest.mark.parametrize(
    "path, command", ALL, ids=lambda p: " ".join(p) if isinstance(p, tuple) else ""
)
def test_every_option_is_described(path, command):
    for param in command.params:
        if isinstance(param, click.Option):
            assert param.help, f"iebench {' '.join(path)} {param.opts[0]}: no help"
        if isinstance(param, click.Option) and param.name == "objects":
            assert isinstance(param.type, click.Path), f"{path}: --objects is not a path"


def test_usage_lines_never_break_a_word():
    for path, command in ALL:
        usage = help_text(path, width=50).split("\n\n")[0]
        words = set(usage.split())
        arguments = {
            p.make_metavar(click.Context(command))
            for p in command.params
            if isinstance(p, click.Argument)
        }
        allowed = {"Usage:", "iebench", *path, "[OPTIONS]", "COMMAND", "[ARGS]...", *arguments}
        assert words <= allowed, (path, usage)
    assert "iebench train [OPTIONS] METHOD" in help_text(("train",))


def test_progress_bars_can_be_silenced():
    for path in WITH_PROGRESS:
        assert "--quiet" in help_text(tuple(path.split())), path


def test_presets_are_explained():
    assert set(PRESET_USES) == set(PRESETS)
    text = " ".join(help_text(("render",)).split())
    for name, use in PRESET_USES.items():
        assert f"{name}: {use}" in text


def test_defaults_come_from_the_configs():
    train = {
        p.name: p.default
        for p in cli.get_command(None, "train").params
        if isinstance(p, click.Option) and not (p.required or p.is_flag or p.multiple)
    }
    for field in dataclasses.fields(TrainConfig):
        if field.name in train and field.name != "layers":  # text, converted
            expected = getattr(TrainConfig(method="sie", data="d", out="o"), field.name)
            assert train[field.name] == expected, field.name
    assert train["layers"] == "2-2-2-2"
    evaluate = {p.name: p.default for p in cli.get_command(None, "evaluate").params}
    config = EvalConfig(data="d")
    for name in ("protocol", "seeds", "batch_size", "workers", "device"):
        assert evaluate[name] == getattr(config, name), name


def test_default_workers_never_exceed_the_cores():
    assert default_workers(4) == max(0, min(4, usable_cores() - 1))
    # On one core (an affinity mask, as a batch scheduler sets): no loading processes.
    script = (
        "from iebench.training.config import TrainConfig; "
        "from iebench.evaluation.config import EvalConfig; "
        "print(TrainConfig(method='sie', data='d', out='o').workers, EvalConfig(data='d').workers)"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        preexec_fn=lambda: os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}),
    )
    assert done.stdout.split() == ["0", "0"]
