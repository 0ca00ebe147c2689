"""Options generated from a config's field metadata: one place says each option's name, help,
type, choices and default, and the command hands the config what the user typed."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from iebench.cli import cli
from iebench.cli.demo import demo
from iebench.cli.options import config_options, config_values
from iebench.cli.study import transformations
from iebench.cli.train import _given_fields, train_command
from iebench.demo import DemoConfig
from iebench.studies.transformations import StudyConfig
from iebench.training.config import TrainConfig


@dataclass(frozen=True)
class Toy:
    out: Path = field(metadata={"help": "Where."})
    count: int = field(default=3, metadata={"help": "How many.", "min": 1})
    scale: float = field(default=0.5, metadata={"help": "How big."})
    colour: str = field(default="red", metadata={"help": "Hue.", "choices": ("red", "blue")})
    sizes: tuple[int, ...] = field(default=(2, 2), metadata={"help": "Sizes."})
    extra: tuple[int, ...] | None = field(default=None, metadata={"help": "More sizes."})
    weights: Mapping[str, float] = field(
        default_factory=dict, metadata={"help": "NAME=VALUE.", "option": "--weight"}
    )
    address: str | None = field(
        default=None, metadata={"help": "Where else.", "flag_value": "local", "metavar": "[AT]"}
    )
    progress: bool = field(default=True, metadata={"help": "Quiet.", "option": "--quiet"})
    fast: bool = field(default=False, metadata={"help": "Fast."})
    names: tuple[str, ...] = field(default=("a", "b"), metadata={"help": "Names.", "comma": True})
    hidden: int = 7  # no help: no option


@click.command()
@config_options(Toy)
def toy(**options) -> None:
    click.echo(repr(Toy(**config_values(Toy, options))))


def run(*args: str) -> click.testing.Result:
    return CliRunner().invoke(toy, list(args), prog_name="toy")


def test_defaults_are_the_configs_and_values_reach_it_converted():
    result = run("--out", "o")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == repr(Toy(out=Path("o")))
    result = run(
        *("--out", "o", "--count", "5", "--scale", "2", "--colour", "blue"),
        *("--sizes", "4-8,16", "--extra", "1-1", "--weight", "a=1.5", "--weight", "b = 2"),
        *("--address", "--quiet", "--fast", "--names", " x, ,y,"),
    )
    assert result.exit_code == 0, result.output
    expected = Toy(
        out=Path("o"),
        count=5,
        scale=2.0,
        colour="blue",
        sizes=(4, 8, 16),
        extra=(1, 1),
        weights={"a": 1.5, "b": 2.0},
        address="local",
        progress=False,
        fast=True,
        names=("x", "y"),  # blank names dropped
    )
    assert result.output.strip() == repr(expected)
    assert "address='at-host'" in run("--out", "o", "--address", "at-host").output


def test_help_shows_each_option_once_with_its_default():
    text = run("--help").output
    assert "--hidden" not in text and "--progress" not in text and "--weights" not in text
    for line in (
        "--out PATH",
        "--count INTEGER RANGE",
        "--colour [red|blue]",
        "--sizes TEXT",
        "--address [AT]",
        "--quiet",
        "--names TEXT",
    ):
        assert line in text, line
    assert "[default: 3; x>=1]" in text and "[default: 2-2]" in text
    assert "[default: a,b]" in text
    assert "[required]" in text  # --out has no default


def test_bad_values_are_one_clear_line():
    assert run("--out", "o", "--count", "0").exit_code == 2  # click: below the minimum
    result = run("--out", "o", "--sizes", "2-x")
    assert "--sizes '2-x': expected sizes like 2048-2048-2048" in str(result.exception)
    result = run("--out", "o", "--weight", "a:1")
    assert "--weight 'a:1': expected NAME=VALUE, e.g. name=1.0" in str(result.exception)


def test_names_pick_fields_in_the_order_given():
    @click.command()
    @config_options(Toy, "scale", "out", after={"out": [click.option("--x", help="x")]})
    def picked(**options) -> None:
        pass

    assert [p.name for p in picked.params] == ["scale", "out", "x"]
    with pytest.raises(TypeError, match="hidden"):
        config_options(Toy, "hidden")
    with pytest.raises(TypeError, match="nope"):
        config_values(Toy, {"nope": 1})


def test_every_train_config_field_is_an_option_of_train():
    by_field = {p.name: p for p in train_command.params}
    for config_field in dataclasses.fields(TrainConfig):
        if config_field.name in ("method", "options"):  # the argument; --transform, --chunk-size
            continue
        option = by_field[config_field.name]
        assert option.help == config_field.metadata["help"], config_field.name
    assert by_field["progress"].opts == ["--quiet"] and by_field["weights"].opts == ["--weight"]
    assert by_field["log"].default == "csv"


def test_given_fields_name_what_was_typed_for_a_resume():
    words = ["sie", "--data", "d", "--out", "o", "--quiet", "--epochs", "3", "--transform", "rot4"]
    # Under the root's context, as `iebench train` runs (click keeps the first help option).
    parent = cli.make_context("iebench", ["train"], resilient_parsing=True)
    with train_command.make_context("train", words, parent=parent) as context:
        given = _given_fields(context)
    assert given == {"method", "data", "out", "progress", "epochs", "options"}


def test_train_refuses_a_bad_sizes_option_in_one_line(tmp_path):
    result = CliRunner().invoke(
        cli,
        ["train", "sie", "--data", str(tmp_path), "--out", str(tmp_path / "r"), "--layers", "2-x"],
    )
    assert result.exit_code == 1
    assert "Error: --layers '2-x': expected sizes like 2048-2048-2048" in result.output
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("command, config", [(transformations, StudyConfig), (demo, DemoConfig)])
def test_every_option_of_study_and_demo_is_a_config_field(command, config):
    fields = {f.name: f for f in dataclasses.fields(config)}
    for param in command.params:  # neither command has an option of its own
        assert param.help == fields[param.name].metadata["help"], param.name
    by_field = {p.name: p for p in command.params}
    assert by_field["progress"].opts == ["--quiet"]


def parsed(command: click.Command, config: type, words: list[str]):
    """The config ``command`` builds from ``words`` (under the root's context, as when run:
    click keeps the first help option it makes)."""
    parent = cli.make_context("iebench", [command.name], resilient_parsing=True)
    with command.make_context(command.name, words, parent=parent) as context:
        return config(**config_values(config, context.params))


def test_study_options_reach_its_config_as_typed():
    words = ["--cifar", "c", "--out", "o", "--transformations", "rot4, invert", "--quiet"]
    config = parsed(transformations, StudyConfig, words)
    assert config.transformations == ("rot4", "invert") and config.progress is False
    assert (config.cifar, config.out, config.resolution, config.lr) == (
        Path("c"),
        Path("o"),
        32,
        0.15,
    )
    config = parsed(transformations, StudyConfig, ["--data", "d", "--out", "o"])
    assert config == StudyConfig(data=Path("d"), out=Path("o"))


def test_demo_options_reach_its_config_as_typed():
    words = ["--out", "d", "--per-class", "2", "--views", "6", "--epochs", "5", "--jobs", "1"]
    config = parsed(demo, DemoConfig, [*words, "--quiet"])
    assert config == DemoConfig(Path("d"), per_class=2, views=6, epochs=5, jobs=1, progress=False)
    assert parsed(demo, DemoConfig, []) == DemoConfig()


def help_lines(*words: str) -> str:
    """The help of ``iebench WORDS`` as a pipe gets it (78 columns)."""
    return CliRunner().invoke(cli, [*words, "-h"], prog_name="iebench", terminal_width=78).output


def test_study_and_demo_help_keep_their_defaults_said_in_words():
    text = help_lines("study", "transformations")
    for lines in (
        "  --out PATH                      Output folder.  [required]\n",
        "  --transformations TEXT          Comma-separated transformations to predict.\n"
        "                                  [default: hflip,grayscale,rot4,vflip,jigsaw,\n"
        "                                  blur4,invert]\n",
        "                                  Backbone [default: resnet18-cifar at 64 px\n"
        "                                  and below, else resnet18].\n",
        "  --optimizer [sgd|adam]          Pretraining optimizer.  [default: sgd]\n",
        "  --device TEXT                   torch device [default: cuda if available,\n"
        "                                  else cpu]\n",
        "  --max-train-images INTEGER      Random subset of train images.\n",
        "  --quiet                         No progress bars.\n",
    ):
        assert lines in text, lines
    text = help_lines("demo")
    for lines in (
        "  --out PATH           Folder of everything the demo writes (a second run\n"
        "                       resumes it).  [default: demo]\n",
        "  --per-class INTEGER  Built-in objects per category (the mini track's 4).\n"
        "                       [default: 40]\n",
        "  --quiet              No progress bars.\n",
    ):
        assert lines in text, lines
