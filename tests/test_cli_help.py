"""Every command's help names the values its parameters take in words (TEXT, PATH, EMAIL, DATE, the choices) and
puts nothing beside a flag: no `<str>`, `<list[Path]>` or `<bool>` type markers from the typer version in use."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from tiepulse.cli.app import app

TYPE_MARKER = re.compile(r"<[^<>\s]+>")


def command_paths(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    for name, sub in getattr(command, "commands", {}).items():
        yield from command_paths(sub, (*path, name))


COMMANDS = list(command_paths(typer.main.get_command(app)))


def help_of(path: tuple[str, ...]) -> str:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


def test_the_walk_reaches_sub_commands() -> None:
    assert {("alerts", "snooze"), ("connect", "google"), ("import",), ()} <= set(COMMANDS)


@pytest.mark.parametrize("path", COMMANDS, ids=lambda path: " ".join(path) or "tiepulse")
def test_help_has_no_type_markers(path: tuple[str, ...]) -> None:
    out = help_of(path)
    assert not TYPE_MARKER.findall(out), out
    assert re.search(r"--help\s+-h\s+Show this message", out), out  # nothing between a flag and its help


@pytest.mark.parametrize(
    ("path", "row"),
    [
        (("import",), r"paths\.\.\.\s+PATH\.\.\.\s+Files or folders"),
        (("import",), r"--owner\s+EMAIL\s"),
        (("import",), r"--refresh\s+--no-refresh\s+Rebuild"),
        (("sample",), r"out_dir\s+PATH\s+Folder"),
        (("sample",), r"--volume\s+\[light\|ordinary\]\s"),
        (("sample",), r"--next-day\s+Write only"),
        (("sql",), r"query\s+TEXT\s+SQL to run"),
        (("alerts",), r"--as-of\s+DATE\s"),
        (("alerts", "dismiss"), r"alert_id\s+TEXT\s"),
        (("erase",), r"--person\s+ADDRESS\s"),
    ],
)
def test_values_are_named_in_words(path: tuple[str, ...], row: str) -> None:
    assert re.search(row, help_of(path)), help_of(path)
