"""Every bad input is one clear line and exit 2, naming the file or variable and what to do (issue 15, item 5).

Each case was a Python traceback (or a wrong message) before: a huge calendar window, an analysis date at the ends
of the calendar, a home that is a file or cannot be created, a damaged warehouse (told apart from a busy one), a
binary config file, thresholds that contradict each other.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tiepulse.cli.app import app

MBOX = Path(__file__).parent / "data" / "sent.mbox"


@pytest.fixture
def home(cli_home: Path) -> Path:
    return cli_home


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), terminal_width=100)
    return result.exit_code, result.output


def assert_one_line(code: int, out: str, *expected: str) -> None:
    assert code == 2, out
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), out
    assert "Traceback" not in out
    for text in expected:
        assert text in out, (text, out)


CONFIGS = {
    "huge_calendar_window": ("imports: {calendar_window_days_back: 99999999999}\n", "calendar_window_days_back"),
    "negative_tolerance": (
        "imports: {earliest_plausible_date: 2030-01-01, future_tolerance_days: -100000}\n",
        "future_tolerance_days",
    ),
    "plausible_dates_crossed": (
        "imports: {earliest_plausible_date: 2999-01-01}\n",
        "earliest_plausible_date (2999-01-01) must lie before today plus future_tolerance_days",
    ),
    "after_the_analysis_date": (
        "imports: {earliest_plausible_date: 2025-01-01}\n",
        "TIEPULSE_AS_OF=2024-04-01 is before imports.earliest_plausible_date",
    ),
    "severities_crossed": ("thresholds: {severity_high: 30, severity_medium: 50}\n", "severity_medium"),
    "lock_wait_negative": ("warehouse: {lock_wait_seconds: -1}\n", "warehouse.lock_wait_seconds"),
}


@pytest.mark.parametrize("case", sorted(CONFIGS))
def test_bad_config_values_name_the_file_and_field(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    text, field = CONFIGS[case]
    config = tmp_path / "config.yaml"
    config.write_text(text)
    monkeypatch.setenv("TIEPULSE_CONFIG", str(config))
    assert_one_line(*run("import", str(MBOX), "--no-refresh"), str(config), field)


def test_a_binary_config_file_is_named(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config.yaml"
    config.write_bytes(bytes(range(256)) * 4)
    monkeypatch.setenv("TIEPULSE_CONFIG", str(config))
    assert_one_line(*run("status"), str(config), "not a text file")


@pytest.mark.parametrize(("variable", "value"), [("TIEPULSE_AS_OF", "0001-01-01"), ("TIEPULSE_AS_OF", "9999-12-31")])
def test_an_analysis_date_out_of_range_names_the_variable(
    home: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    for command in (["import", str(MBOX), "--no-refresh"], ["status"], ["health"]):
        assert_one_line(*run(*command), variable, value)


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_an_as_of_option_out_of_range_is_one_line(home: Path, day: str) -> None:
    assert run("import", str(MBOX))[0] == 0
    for command in ("health", "ties", "alerts"):
        assert_one_line(*run(command, "--as-of", day), "--as-of must lie between 1900-01-01 and 2999-12-31")


def test_a_home_that_is_a_file_names_the_variable(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIEPULSE_HOME", str(MBOX))
    for command in (["import", str(MBOX), "--no-refresh"], ["status"]):
        assert_one_line(*run(*command), "TIEPULSE_HOME", "is a file, not a folder")


def test_a_home_inside_a_read_only_folder_names_the_variable(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    # root writes into any folder whatever its mode; sysfs refuses it too
    parent = locked if not os.access(locked, os.W_OK) else Path("/sys")
    monkeypatch.setenv("TIEPULSE_HOME", str(parent / "tiepulse-test" / "home"))
    try:
        assert_one_line(*run("import", str(MBOX), "--no-refresh"), "cannot create or use TIEPULSE_HOME")
    finally:
        locked.chmod(0o700)


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:300_000])


def _overwrite_blocks(path: Path) -> None:
    with path.open("r+b") as handle:
        handle.seek(16_384)
        handle.write(b"\xff" * 262_144)


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _folder(path: Path) -> None:
    path.unlink()
    path.mkdir()


def _unreadable(path: Path) -> None:
    path.chmod(0)


DAMAGE: dict[str, tuple[Callable[[Path], None], str]] = {
    "truncated": (_truncate, "is damaged or not a tiepulse warehouse"),
    "corrupt": (_overwrite_blocks, "is damaged or not a tiepulse warehouse"),
    "zero_bytes": (_empty, "is damaged or not a tiepulse warehouse"),
    "directory": (_folder, "is a folder, not a warehouse file"),
    "unreadable": (_unreadable, "permission denied"),
}
COMMANDS = {"status": ["status"], "import": ["import", str(MBOX)], "health": ["health"], "ties": ["ties"]}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A refreshed warehouse, built once; each case damages a copy."""
    home = tmp_path_factory.mktemp("built")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TIEPULSE_HOME", str(home))
        mp.setenv("TIEPULSE_AS_OF", "2024-04-01")
        mp.delenv("TIEPULSE_CONFIG", raising=False)
        mp.delenv("TIEPULSE_PSEUDONYM_KEY", raising=False)
        code, out = run("import", str(MBOX))
    assert code == 0, out
    return home / "warehouse.duckdb"


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_damaged_warehouse_is_told_apart_from_a_busy_one(home: Path, built: Path, damage: str, command: str) -> None:
    spoil, expected = DAMAGE[damage]
    if damage == "unreadable" and os.geteuid() == 0:
        pytest.skip("root reads any file whatever its mode")
    home.mkdir(mode=0o700)
    warehouse = home / "warehouse.duckdb"
    shutil.copyfile(built, warehouse)
    spoil(warehouse)
    code, out = run(*COMMANDS[command])
    assert_one_line(code, out, str(warehouse), expected)
    assert "another process" not in out and "writing" not in out
