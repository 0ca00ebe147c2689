"""Shared helpers of the click commands: options generated from the config dataclasses,
defaults read from them, help epilogs of examples, and configs built from options.

A config field becomes an option when its metadata has a ``help``; the config is the one
place that says the option's name, help, type, choices and default. Metadata keys:

``help``          the option's help text (required)
``option``        its name when not ``--field-name`` (``--weight`` for ``weights``; a bool
                  field that defaults to True is turned off by its flag, e.g. ``--quiet``)
``choices``       the allowed values
``show_default``  False to hide the default, or a text shown in its place
``metavar``       the value's name in the help
``flag_value``    the value when the option is given alone (it then takes an optional value)
``path``          True for a text field holding a path
``text``          True to take the value as one text for the config to parse (e.g. a
                  comma-separated list), whatever the annotation
``comma``         True for a ``tuple[str, ...]`` field given as one comma-separated text
                  (the default shown joined; blank names dropped)
``min``           the smallest integer allowed
``example``       for ``NAME=VALUE`` options: a valid pair, quoted by the error

The option's type comes from the field's annotation: int, float, str, Path, bool (a flag),
``tuple[int, ...]`` (sizes written ``2-2-2-2``), ``tuple[str, ...]`` (a repeated option),
``Mapping[str, float]`` (repeated ``NAME=VALUE``); any other type is given as text for the
config to parse.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import click

from iebench.core.errors import IebenchError

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def default_of(config: type, name: str) -> Any:
    """The default of field ``name`` of dataclass ``config`` (its factory called, if any)."""
    return _default(next(f for f in dataclasses.fields(config) if f.name == name))


def _default(field: dataclasses.Field) -> Any:
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return field.default


def examples(*lines: str) -> str:
    """An epilog listing real command lines (click keeps a \\b paragraph as written)."""
    return "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines)


def _without_none(annotation: Any) -> Any:
    """``X | None`` -> X; any other annotation as it is."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        rest = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return annotation


def _kind(annotation: Any) -> str:
    """How a field of this annotation is written on the command line."""
    annotation = _without_none(annotation)
    origin = typing.get_origin(annotation)
    if annotation in (bool, int, float, str, Path):
        return annotation.__name__.lower()
    if origin is tuple and typing.get_args(annotation) == (int, Ellipsis):
        return "sizes"
    if origin is tuple and typing.get_args(annotation) == (str, Ellipsis):
        return "items"
    if origin in (Mapping, dict):
        return "pairs"
    return "text"


@dataclasses.dataclass(frozen=True)
class _FieldOption:
    field: dataclasses.Field
    kind: str

    @property
    def name(self) -> str:
        return self.field.metadata.get("option", "--" + self.field.name.replace("_", "-"))

    def click_option(self) -> Decorator:
        meta = self.field.metadata
        default = _default(self.field)
        required = default is dataclasses.MISSING
        if required:
            default = None
        settings: dict[str, Any] = {"help": meta["help"], "required": required}
        if self.kind == "bool":
            # A field on by default is turned off by its flag (--quiet sets progress False).
            settings.update(is_flag=True, flag_value=not default, default=default)
            return click.option(self.name, self.field.name, **settings)
        settings["type"] = self._type()
        if self.kind in ("pairs", "items"):  # repeated; the default is none given
            return click.option(self.name, self.field.name, multiple=True, **settings)
        if self.kind == "sizes" and default is not None:
            default = "-".join(map(str, default))
        if self.kind == "comma" and default is not None:
            default = ",".join(default)
        if "flag_value" in meta:
            settings.update(is_flag=False, flag_value=meta["flag_value"])
        if "metavar" in meta:
            settings["metavar"] = meta["metavar"]
        if not required:
            settings["default"] = default
        if default is not None:
            settings["show_default"] = meta.get("show_default", True)
        return click.option(self.name, self.field.name, **settings)

    def _type(self) -> click.ParamType | None:
        meta = self.field.metadata
        if "choices" in meta:
            return click.Choice(list(meta["choices"]))
        if self.kind == "path" or meta.get("path"):
            return click.Path(path_type=Path)
        if self.kind == "int":
            return click.IntRange(min=meta["min"]) if "min" in meta else click.INT
        if self.kind == "float":
            return click.FLOAT
        return None  # text

    def value(self, given: Any) -> Any:
        """The field's value from what click parsed."""
        if self.kind == "sizes" and given is not None:
            try:
                return tuple(int(part) for part in given.replace(",", "-").split("-"))
            except ValueError:
                raise IebenchError(
                    f"{self.name} {given!r}: expected sizes like 2048-2048-2048"
                ) from None
        if self.kind == "comma" and given is not None:
            return tuple(name.strip() for name in given.split(",") if name.strip())
        if self.kind == "pairs":
            return dict(self._pair(text) for text in given)
        if self.kind == "items":
            return tuple(given)
        return given

    def _pair(self, text: str) -> tuple[str, float]:
        name, _, value = text.partition("=")
        try:
            return name.strip(), float(value)
        except ValueError:
            example = self.field.metadata.get("example", "name=1.0")
            raise IebenchError(
                f"{self.name} {text!r}: expected NAME=VALUE, e.g. {example}"
            ) from None


def _field_options(config: type) -> dict[str, _FieldOption]:
    """The fields of ``config`` that are options (their metadata has a help), in order."""
    hints = typing.get_type_hints(config)
    return {
        field.name: _FieldOption(field, _field_kind(field, hints[field.name]))
        for field in dataclasses.fields(config)
        if "help" in field.metadata
    }


def _field_kind(field: dataclasses.Field, annotation: Any) -> str:
    """How the field is written: as its metadata says, else as its annotation's kind."""
    for kind in ("comma", "text"):
        if field.metadata.get(kind):
            return kind
    return _kind(annotation)


def config_options(
    config: type,
    *names: str,
    after: Mapping[str, Iterable[Decorator]] | None = None,
) -> Decorator:
    """Click options for the fields ``names`` of dataclass ``config`` (default: every field
    with a help, in field order), each followed by the options ``after[name]``."""
    options = _field_options(config)
    unknown = sorted(set(names) - set(options))
    if unknown:  # a programming error: a name that is no option of the config
        raise TypeError(f"{config.__name__} has no options for fields {', '.join(unknown)}")
    decorators: list[Decorator] = []
    for name in names or options:
        decorators += [options[name].click_option(), *(after or {}).get(name, ())]

    def apply(function: Callable[..., Any]) -> Callable[..., Any]:
        for decorator in reversed(decorators):  # click lists the last applied first
            function = decorator(function)
        return function

    return apply


def config_values(config: type, values: Mapping[str, Any]) -> dict[str, Any]:
    """The parsed options ``values`` (named after fields of ``config``, as generated by
    `config_options`) as the config's keyword arguments."""
    options = _field_options(config)
    unknown = sorted(set(values) - set(options))
    if unknown:  # a programming error: an option that maps to no field
        raise TypeError(f"{config.__name__} has no options for fields {', '.join(unknown)}")
    return {name: options[name].value(value) for name, value in values.items()}
