"""What `--help` writes beside each parameter: the value it takes in the command line's own words (TEXT, PATH,
INTEGER, a declared metavar such as EMAIL or DATE, the choices), and nothing for a flag.

typer 0.29 replaced click's parameter types with its own type descriptors and labels every parameter with its
Python annotation in angle brackets: `<str>`, `<list[Path]>`, `<bool>` on every flag and on `--help` itself, and an
argument's declared metavar is ignored in that column. No setting turns this off and typer builds the parameters
itself, so `use_plain_labels` replaces the two display methods, once, for every command. pyproject pins typer to
0.29.x; tests/test_cli_help.py walks every command's help and fails on a `<...>` label after an upgrade."""

from __future__ import annotations

import datetime as dt
from pathlib import PurePath
from typing import Any, get_args

from typer import _click
from typer.core import TyperArgument, TyperOption

_WORDS: dict[Any, str] = {int: "INTEGER", float: "FLOAT", dt.datetime: "DATETIME", dt.date: "DATE"}


def value_label(param: TyperArgument | TyperOption) -> str | None:
    """The label of the value a parameter takes; None for a flag, which takes none."""
    if isinstance(param, TyperOption) and (param.is_flag or param.count):
        return None
    descriptor = param.type_descriptor
    if descriptor.choices is not None:
        return "[" + "|".join(str(getattr(choice, "value", choice)) for choice in descriptor.choices) + "]"
    element = get_args(descriptor.annotation)[0] if descriptor.is_list else descriptor.annotation
    if descriptor.is_path or (isinstance(element, type) and issubclass(element, PurePath)):
        return descriptor.path_type.upper()
    return _WORDS.get(element, "TEXT")


def _option_label(self: TyperOption, ctx: _click.Context) -> str | None:
    return self.metavar if self.metavar is not None else value_label(self)


def _argument_label(self: TyperArgument, ctx: _click.Context) -> str | None:
    label = value_label(self)
    return f"{label}..." if label and self.nargs != 1 else label


def use_plain_labels() -> None:
    """Make every command's help label values as `value_label` does (idempotent)."""
    TyperOption.display_type_rich = _option_label  # type: ignore[method-assign]
    TyperArgument.display_type_rich = _argument_label  # type: ignore[method-assign,assignment]
