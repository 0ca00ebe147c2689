"""The `iebench` command line: a thin layer over the library.

Subcommands live next to the code they drive and are imported only when used,
so `iebench --help` stays fast and `iebench evaluate` never imports Blender.
"""

from __future__ import annotations

import importlib
import sys

import click

from iebench import __version__
from iebench.cli.options import examples
from iebench.core.errors import IebenchError

# name -> "module:attribute" of a click command. One line per subcommand.
SUBCOMMANDS: dict[str, str] = {
    "objects": "iebench.cli.objects:objects",
    "pack": "iebench.cli.pack:pack",
    "validate": "iebench.cli.validate:validate",
    "preview": "iebench.cli.preview:preview",
    "evaluate": "iebench.cli.evaluate:evaluate",
    "render": "iebench.cli.render:render",
    "study": "iebench.cli.study:study",
    "train": "iebench.cli.train:train_command",
    "leaderboard": "iebench.cli.leaderboard:leaderboard",
    "demo": "iebench.cli.demo:demo",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = SUBCOMMANDS.get(name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        return getattr(importlib.import_module(module_name), attribute)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except IebenchError as error:
            # Bad input is the user's to fix: one clear line, not a traceback.
            raise click.ClickException(str(error)) from None


@click.group(
    cls=LazyGroup,
    # Inherited by every subcommand's context: -h works everywhere.
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog=examples(
        "iebench demo --out demo",
        "iebench render --objects ShapeNetCore.v2 --out data/3DIEBench --workers 8",
        "iebench evaluate runs/sie/submission.py --data data/3DIEBench --out sie.json",
    ),
)
@click.version_option(__version__, prog_name="iebench")
def cli() -> None:
    """Render 3DIEBench with Blender and benchmark image encoders on it.

    Run `iebench COMMAND -h` for a command's options and examples.
    """


def main() -> None:
    cli(prog_name="iebench")


if __name__ == "__main__":
    sys.exit(main())
