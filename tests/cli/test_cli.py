from click.testing import CliRunner

from iebench import __version__
from iebench.cli import SUBCOMMANDS, cli


def test_version():
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output


def test_every_registered_subcommand_imports_and_has_help():
    runner = CliRunner()
    for name in SUBCOMMANDS:
        result = runner.invoke(cli, [name, "--help"])
        assert result.exit_code == 0, (name, result.output)


def test_unknown_command_fails_cleanly():
    result = CliRunner().invoke(cli, ["frobnicate"])
    assert result.exit_code != 0
    assert "No such command" in result.output
