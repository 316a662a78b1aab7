"""`tiepulse sql` is a sandbox: the warehouse's tables and nothing else (issue 15, item 3)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tiepulse.cli.app import app
from tiepulse.core.warehouse import connect

SECRET = "sandbox-test-secret-4f1d"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli_home: Path) -> Path:
    monkeypatch.setenv("TIEPULSE_PSEUDONYM_KEY", SECRET)  # in the environment a query must not read
    connect(cli_home / "warehouse.duckdb").close()
    (tmp_path / "other.csv").write_text("a\n1\n")
    return tmp_path


def sql(query: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["sql", query])
    return result.exit_code, result.output


ESCAPES = {
    "copy_to": "copy (select 1) to '{tmp}/written.csv'",
    "export": "export database '{tmp}/exported'",
    "environ": "select * from read_blob('/proc/self/environ')",
    "read_csv": "select * from read_csv('{tmp}/other.csv')",
    "read_text": "select * from read_text('/etc/hostname')",
    "glob": "select * from glob('{tmp}/*')",
    "url": "select * from read_json('https://example.com/x.json')",
    "attach": "attach '{tmp}/other.duckdb' as other",
    "install": "install httpfs",
    "load": "load httpfs",
    "set": "set enable_external_access = true",
    "reset": "reset lock_configuration",
    "pragma": "pragma enable_profiling",
    "secret": "create secret (type s3, key_id 'k', secret 's')",
    "second_statement": "select 1; copy (select 1) to '{tmp}/written.csv'",
}


@pytest.mark.parametrize("name", sorted(ESCAPES))
def test_every_escape_is_refused_with_one_line(home: Path, name: str) -> None:
    code, out = sql(ESCAPES[name].format(tmp=home))
    assert code == 2, out
    assert "refused: `tiepulse sql` reads the warehouse's tables only" in out
    assert len(out.strip().splitlines()) == 1 and "Traceback" not in out
    assert SECRET not in out
    assert sorted(p.name for p in home.iterdir()) == ["home", "other.csv"]  # nothing written, nothing attached


def test_the_warehouse_itself_is_still_readable(home: Path) -> None:
    code, out = sql("select count(*) as runs from ops.runs")
    assert code == 0 and "runs" in out
    code, out = sql("select current_setting('TimeZone') as zone")
    assert code == 0 and "UTC" in out
