"""Shared helpers of the click commands: defaults read from the config dataclasses, help
epilogs of examples, and configs built from a command's options."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any


def default_of(config: type, name: str) -> Any:
    """The default of field ``name`` of dataclass ``config`` (its factory called, if any)."""
    field = next(f for f in dataclasses.fields(config) if f.name == name)
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return field.default


def examples(*lines: str) -> str:
    """An epilog listing real command lines (click keeps a \\b paragraph as written)."""
    return "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines)


def config_fields(
    config: type,
    options: Mapping[str, Any],
    convert: Mapping[str, Callable[[Any], Any]] | None = None,
) -> dict[str, Any]:
    """The options named after fields of dataclass ``config``, as its keyword arguments
    (through ``convert[name]`` where given); options of other names are an error."""
    names = {f.name for f in dataclasses.fields(config)}
    unknown = sorted(set(options) - names)
    if unknown:  # a programming error: an option that maps to no field
        raise TypeError(f"{config.__name__} has no fields {', '.join(unknown)}")
    convert = convert or {}
    return {name: convert.get(name, lambda v: v)(value) for name, value in options.items()}
