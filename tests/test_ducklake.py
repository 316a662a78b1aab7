"""The warehouse on DuckLake (``warehouse.backend: ducklake``, a SQLite catalog and a data folder): the same import,
re-import, sandbox and publication as on the DuckDB file; several writers at once; a catalog out of reach is one
line and exit 2 (issue 16, item 6)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tiepulse.cli.app import app
from tiepulse.core.ducklake import for_lake
from tiepulse.core.keyed_hash import database_home
from tiepulse.core.runlog import record_run
from tiepulse.core.settings import Settings
from tiepulse.core.warehouse import connect

MBOX = Path(__file__).parent / "data" / "sent.mbox"

# One process's writer: commits pages of its own account, one transaction each, while the other process does too.
WRITER = """
import sys
import pyarrow as pa
from tiepulse.connectors.base import Page
from tiepulse.core.warehouse import connect
from tiepulse.pipelines.loader import commit_page
con = connect(__import__('pathlib').Path(sys.argv[1]))
owner = sys.argv[2]
for n in range(int(sys.argv[3])):
    rows = pa.table({
        "row_key": [f"{owner}-{n}"], "owner": [owner], "occurred_at": pa.array([0], pa.timestamp("us", "UTC")),
        "person_address": ["x@acme.com"], "channel": ["call"],
    })
    commit_page(con, Page(rows={"raw.manual_interactions": rows}, cursor=str(n)), source="test", account=owner,
                stream="log")
print("done", flush=True)
"""


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), terminal_width=400)
    return result.exit_code, result.output


def use_lake(config: Path, monkeypatch: pytest.MonkeyPatch, **ducklake: str) -> None:
    lines = ["warehouse:", "  backend: ducklake"] + (["  ducklake:"] if ducklake else [])
    lines += [f"    {key}: {json.dumps(value)}" for key, value in ducklake.items()]
    config.write_text("\n".join(lines) + "\n")
    monkeypatch.setenv("TIEPULSE_CONFIG", str(config))


@pytest.fixture
def lake(cli_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    use_lake(tmp_path / "config.yaml", monkeypatch)
    return cli_home / "warehouse.ducklake"


def test_import_and_reimport_on_a_lake_add_the_same_rows_once(lake: Path) -> None:
    code, out = run("import", str(MBOX), "--no-refresh")
    assert code == 0, out
    assert "raw.mail_messages: 2" in out and "quarantined: 1" in out
    code, out = run("import", str(MBOX), "--no-refresh")
    assert code == 0 and "nothing new" in out, out
    assert lake.is_file() and any((lake.parent / "warehouse.ducklake.files").rglob("*.parquet"))
    assert not (lake.parent / "warehouse.duckdb").exists()
    code, out = run("sql", "--format", "json", "select message_key from raw.mail_messages order by 1")
    assert code == 0 and json.loads(out) == [{"message_key": "1@acme.com"}, {"message_key": "2@acme.com"}]
    code, out = run("sql", "--format", "csv", "select reason, count(*) as n from ops.quarantine group by 1")
    assert out.splitlines() == ["reason,n", "implausible_date,1"]


@pytest.mark.parametrize(
    "query",
    [
        "attach 'ducklake:sqlite:{lake}' as again",
        "copy (select 1) to '{lake}.files/written.csv'",
        "select * from sqlite_scan('{other}', 'secret')",
        "delete from raw.mail_messages",
        "select * from read_text('{other}')",
    ],
)
def test_the_sql_sandbox_holds_on_a_lake(lake: Path, tmp_path: Path, query: str) -> None:
    import sqlite3

    assert run("import", str(MBOX), "--no-refresh")[0] == 0
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as db:
        db.execute("create table secret (s text)")
        db.execute("insert into secret values ('hunter2')")
    before = sorted(p.name for p in (tmp_path / "home" / "warehouse.ducklake.files").rglob("*"))
    code, out = run("sql", query.format(lake=lake, other=other))
    assert code == 2 and "refused: `tiepulse sql` reads the warehouse's tables only" in out, out
    assert len(out.strip().splitlines()) == 1 and "hunter2" not in out
    assert sorted(p.name for p in (tmp_path / "home" / "warehouse.ducklake.files").rglob("*")) == before


def test_two_writers_at_once_both_commit_every_page(lake: Path) -> None:
    connect(lake).close()  # the schema exists: both writers go straight to their pages
    pages = 12
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(lake), owner, str(pages)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for owner in ("ana", "bo")
    ]
    for writer in writers:
        out, err = writer.communicate(timeout=300)
        assert writer.returncode == 0 and out.decode().strip() == "done", err.decode()[-2000:]
    con = connect(lake, read_only=True)
    try:
        counts = con.execute("select owner, count(*) from raw.manual_interactions group by 1 order by 1").fetchall()
        cursors = con.execute("select account, cursor from ops.sync_state order by 1").fetchall()
        imported = con.execute("select count(*) from raw.manual_interactions where imported_at is null").fetchall()
    finally:
        con.close()
    assert counts == [("ana", pages), ("bo", pages)]
    assert cursors == [("ana", str(pages - 1)), ("bo", str(pages - 1))]
    assert imported == [(0,)]


def test_four_processes_creating_the_same_lake_apply_each_migration_once(lake: Path) -> None:
    opener = "import sys, pathlib; from tiepulse.core.warehouse import connect; connect(pathlib.Path(sys.argv[1]))"
    openers = [subprocess.Popen([sys.executable, "-c", opener, str(lake)], stderr=subprocess.PIPE) for _ in range(4)]
    for process in openers:
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err.decode()[-2000:]
    con = connect(lake, read_only=True)
    try:
        versions = con.execute("select version, count(*) from ops.schema_version group by 1 having count(*) > 1")
        assert versions.fetchall() == []
    finally:
        con.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_catalog_out_of_reach_is_one_line_and_exit_2(
    cli_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = _free_port()  # nothing listens there
    catalog = f"postgres:host=127.0.0.1 port={port} dbname=lake user=tiepulse password=s3cret connect_timeout=5"
    use_lake(tmp_path / "config.yaml", monkeypatch, catalog=catalog)
    for command in (["import", str(MBOX), "--no-refresh"], ["status"], ["sql", "select 1"]):
        code, out = run(*command)
        assert code == 2, out
        assert len(out.strip().splitlines()) == 1 and "Traceback" not in out, out
        assert f"Cannot open the DuckLake catalog postgres:host=127.0.0.1 port={port}" in out, out
        assert "s3cret" not in out and "warehouse.ducklake.catalog" in out


@pytest.mark.parametrize("catalog", ["not_a_database.sqlite", "a_folder.sqlite", "missing/catalog.sqlite"])
def test_an_unreadable_sqlite_catalog_is_one_line_and_exit_2(
    cli_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, catalog: str
) -> None:
    (tmp_path / "not_a_database.sqlite").write_text("these are not the bytes of a SQLite database\n")
    (tmp_path / "a_folder.sqlite").mkdir()
    use_lake(tmp_path / "config.yaml", monkeypatch, catalog=str(tmp_path / catalog))
    for command in (["import", str(MBOX), "--no-refresh"], ["status"], ["sql", "select 1"]):
        code, out = run(*command)
        assert code == 2, out
        assert len(out.strip().splitlines()) == 1 and "Traceback" not in out, out
        assert str(tmp_path / catalog) in " ".join(out.split()), out
    assert not (cli_home / "warehouse.ducklake").exists()


def test_migrations_lose_only_what_a_lake_refuses() -> None:
    sql = (
        "create table if not exists ops.t (k varchar primary key, n integer not null default 0, "
        "flag boolean not null default false, stamped_at timestamptz not null default now(), primary key (k));\n"
        "alter table ops.t alter column stamped_at set default now();\n"
        "alter table ops.t alter column n set default 1;\n"
    )
    lake_sql = for_lake(sql).lower()
    assert "primary key" not in lake_sql and "now()" not in lake_sql
    assert "not null default 0" in lake_sql and "default 'false'" in lake_sql
    assert "stamped_at timestamptz not null" in lake_sql
    assert "set default 1" in lake_sql and lake_sql.count(";") == 2


@pytest.mark.slow
def test_a_refresh_on_a_lake_publishes_the_bi_snapshot(lake: Path) -> None:
    code, out = run("import", str(MBOX))
    assert code == 0, out
    code, out = run("status")
    assert code == 0 and "BI snapshot" in out and "No BI snapshot" not in out, out
    code, out = run("sql", "--format", "csv", "select count(*) as n from marts.fct_messages")
    assert code == 0 and out.splitlines() == ["n", "2"], out


def test_the_identity_key_of_a_lake_lives_beside_its_sqlite_catalog(lake: Path) -> None:
    con = connect(lake)
    try:
        assert database_home(con) == lake.parent  # not a folder named after the `sqlite:` catalog string
    finally:
        con.close()


@pytest.mark.parametrize("backend", ["duckdb", "ducklake"])
def test_only_runs_whose_process_is_gone_are_marked_interrupted_on_a_lake(
    backend: str, cli_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lake has several writers at once: a run of a live process, or of another machine, is not interrupted. A
    DuckDB file has one writer, so every run left running is."""
    if backend == "ducklake":
        use_lake(tmp_path / "config.yaml", monkeypatch)
    live = subprocess.Popen(["sleep", "600"])
    gone = subprocess.Popen(["true"])
    gone.wait()
    here = socket.gethostname()
    left = [
        ("live", here, live.pid),
        ("gone", here, gone.pid),
        ("elsewhere", "another-machine", 1),
        ("old", None, None),
    ]
    con = connect(Settings().warehouse_path)
    try:
        for run_id, host, pid in left:
            con.execute(
                "insert into ops.runs (run_id, kind, started_at, status, host, pid) "
                "values (?, 'sync', now(), 'running', ?, ?)",
                [run_id, host, pid],
            ).fetchall()
        with record_run(con, "test"):
            pass
        found = dict(con.execute("select run_id, status from ops.runs where kind = 'sync'").fetchall())
    finally:
        con.close()
        live.kill()
        live.wait()
    if backend == "ducklake":
        assert found == {"live": "running", "gone": "interrupted", "elsewhere": "running", "old": "interrupted"}
    else:
        assert set(found.values()) == {"interrupted"}
