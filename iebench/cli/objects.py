"""`iebench objects make|list`: write or list the built-in object set."""

from __future__ import annotations

from pathlib import Path

import click

from iebench.cli.options import examples
from iebench.objects.objectset import BUILTIN_CATEGORIES, make_object_set
from iebench.objects.shapenet import discover
from iebench.protocol import taxonomy


@click.group(
    epilog=examples("iebench objects make objects", "iebench objects list"),
)
def objects() -> None:
    """Procedural stand-ins for ShapeNetCore objects (no download needed)."""


@objects.command(
    "make",
    epilog=examples(
        "iebench objects make objects",
        "iebench objects make objects --per-class 10 --categories chair,table --seed 1",
    ),
)
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--per-class", type=int, default=4, show_default=True, help="Objects per category.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the set (>= 0).")
@click.option(
    "--categories",
    default=None,
    help="Comma-separated category names or synset ids (default: every built-in category).",
)
def make(out: Path, per_class: int, seed: int, categories: str | None) -> None:
    """Write the built-in objects into OUT in ShapeNetCore v2 layout."""
    make_object_set(out, per_class, seed, categories=categories)
    found = discover(out, synsets=taxonomy.parse_synsets(categories))
    click.echo(f"{out}: {found.summary()} (seed {seed}, {per_class} per category)")


@objects.command("list", epilog=examples("iebench objects list"))
def list_categories() -> None:
    """Print the built-in categories: synset id, label and name."""
    for synset in BUILTIN_CATEGORIES:
        click.echo(f"{synset}  {taxonomy.label_of(synset):2d}  {taxonomy.name_of(synset)}")
