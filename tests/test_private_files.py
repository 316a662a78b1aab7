"""Files private by default (issue 15, item 4): home 0700, warehouse, its WAL and run notes 0600, whatever the umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tiepulse.cli.app import app
from tiepulse.core.private_files import write_private
from tiepulse.core.warehouse import connect

MBOX = Path(__file__).parent / "data" / "sent.mbox"


@pytest.fixture
def open_umask() -> Iterator[None]:
    """Run under umask 000 (everything world-writable unless tiepulse says otherwise), then restore the umask."""
    before = os.umask(0)
    try:
        yield
    finally:
        os.umask(before)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_an_import_under_umask_000_leaves_only_private_files(
    cli_home: Path, monkeypatch: pytest.MonkeyPatch, open_umask: None
) -> None:
    home = cli_home / "deep" / "home"
    monkeypatch.setenv("TIEPULSE_HOME", str(home))
    result = CliRunner().invoke(app, ["import", str(MBOX), "--no-refresh"])
    assert result.exit_code == 0, result.output
    assert mode(home) == 0o700
    found = {p.relative_to(home).as_posix(): mode(p) for p in home.rglob("*")}
    assert found["warehouse.duckdb"] == 0o600
    assert {name: m for name, m in found.items() if m not in (0o600, 0o700)} == {}


def test_the_write_ahead_log_is_private(tmp_path: Path, open_umask: None) -> None:
    path = tmp_path / "home" / "warehouse.duckdb"
    con = connect(path)
    try:
        con.execute("create table ops.scratch as select 1 as x").fetchall()
        wal = path.with_name("warehouse.duckdb.wal")
        assert wal.exists() and mode(wal) == 0o600
    finally:
        con.close()


def test_a_home_and_warehouse_made_loose_are_tightened_by_the_next_writer(tmp_path: Path) -> None:
    path = tmp_path / "home" / "warehouse.duckdb"
    connect(path).close()
    path.parent.chmod(0o755)
    path.chmod(0o644)
    connect(path).close()
    assert (mode(path.parent), mode(path)) == (0o700, 0o600)


def test_write_private_is_0600_under_umask_000(tmp_path: Path, open_umask: None) -> None:
    target = write_private(tmp_path / "snapshot.txt", "x")
    assert mode(target) == 0o600 and target.read_text() == "x"
    assert [p.name for p in tmp_path.iterdir()] == ["snapshot.txt"]  # no temporary file left
