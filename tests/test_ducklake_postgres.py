"""The warehouse on DuckLake for many machines: the catalog in PostgreSQL (a cluster of the test's own, Debian's
package) and the data files in S3-compatible object storage (moto's server), both on 127.0.0.1. Import, refresh
and reads through the CLI; the credentials never shown; a catalog or a store out of reach is one line and exit 2
(issue 16, item 6 and its faults)."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from tests.local_servers import free_port, wait_for
from tests.postgres_server import PASSWORD, Postgres, postgres_server
from tests.privacy_scan import files_holding
from tests.s3_server import ObjectStore, s3_server
from tests.test_erasure import ADDRESS, ALIAS, NAME, write_exports
from tiepulse.cli.app import app
from tiepulse.core.settings import Settings
from tiepulse.core.warehouse import connect

MBOX = Path(__file__).parent / "data" / "sent.mbox"
# One sync worker's page commit: the stream opened as a sync opens it, then (on a line from the test) its first page.
WRITER = """
import sys
import pyarrow as pa
from tiepulse.connectors.base import Page
from tiepulse.core.settings import Settings
from tiepulse.core.warehouse import connect
from tiepulse.pipelines.loader import commit_page, open_stream
con = connect(Settings().warehouse_path)
open_stream(con, source="test", account="ana", stream="log")
print("opened", flush=True)
sys.stdin.readline()
rows = pa.table({
    "row_key": [f"ana-{n}" for n in range(5)], "owner": ["ana"] * 5, "person_address": ["x@acme.com"] * 5,
    "occurred_at": pa.array([0] * 5, pa.timestamp("us", "UTC")), "channel": ["call"] * 5,
})
commit_page(con, Page(rows={"raw.manual_interactions": rows}, cursor="1"), source="test", account="ana", stream="log")
print("done", flush=True)
"""
BUCKET = "lake"
KEY_ID = "AKIATIEPULSETEST"
SECRET = "lake-secret-access-key-for-tests"  # moto checks no signature; the test checks it is never shown


@dataclass
class Lake:
    postgres: Postgres
    store: ObjectStore
    database: str
    config: Path
    home: Path

    @property
    def prefix(self) -> str:
        return f"{self.database}/"

    def configure(self, **changes: object) -> None:
        ducklake = {
            "catalog": self.postgres.catalog(self.database),
            "data_path": f"s3://{BUCKET}/{self.prefix}",
            "s3_endpoint": self.store.endpoint,
            "s3_url_style": "path",
            "s3_use_ssl": False,
            **changes,
        }
        self.config.write_text(yaml.safe_dump({"warehouse": {"backend": "ducklake", "ducklake": ducklake}}))


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), terminal_width=400)
    return result.exit_code, result.output


def assert_one_line_exit_2(command: list[str], expected: str) -> None:
    code, out = run(*command)
    assert code == 2, out
    assert len(out.strip().splitlines()) == 1 and "Traceback" not in out, out
    assert expected in out, out
    assert SECRET not in out and PASSWORD not in out


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Postgres, ObjectStore]]:
    with postgres_server() as postgres, s3_server(tmp_path_factory.mktemp("s3")) as store:
        store.create_bucket(BUCKET)
        yield postgres, store


@pytest.fixture
def lake(
    servers: tuple[Postgres, ObjectStore], cli_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Lake:
    """A fresh lake: its own catalog database and its own prefix in the bucket; credentials in the environment."""
    postgres, store = servers
    database = f"lake_{uuid.uuid4().hex[:12]}"
    postgres.create_database(database)
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("TIEPULSE_CONFIG", str(tmp_path / "config.yaml"))
    found = Lake(postgres, store, database, tmp_path / "config.yaml", cli_home)
    found.configure()
    return found


@pytest.mark.slow
def test_import_refresh_and_reads_on_a_postgres_catalog_with_data_in_object_storage(lake: Lake) -> None:
    outputs = []
    for command in (["import", str(MBOX)], ["status"], ["ties", "--ego", "ana@acme.com"]):
        code, out = run(*command)
        assert code == 0, out
        outputs.append(out)
    assert "BI snapshot" in outputs[1] and "No BI snapshot" not in outputs[1]
    assert "bo@acme.com" in outputs[2]
    code, out = run("sql", "--format", "csv", "select count(*) as n from marts.fct_messages")
    assert code == 0 and out.splitlines() == ["n", "2"], out
    # Every data file is in the bucket; nothing of the lake is on the local disk but the BI snapshot.
    keys = lake.store.keys(BUCKET)
    assert any(k.startswith(lake.prefix + "raw/") and k.endswith(".parquet") for k in keys), keys
    assert not list(lake.home.glob("warehouse.*"))
    # `tiepulse sql` reaches the lake's own prefix only, and no setting holding the store's secret.
    lake.store.client.put_object(Bucket=BUCKET, Key="elsewhere/secret.csv", Body=b"s\nhunter2\n")
    code, out = run("sql", f"select * from read_csv('s3://{BUCKET}/elsewhere/secret.csv')")
    assert code == 2 and "refused" in out and "hunter2" not in out, out
    code, out = run("sql", "--format", "json", "select current_setting('s3_secret_access_key') as s")
    assert code == 0 and json.loads(out) == [{"s": ""}], out
    # The secret and the catalog's password are in no output and no file tiepulse wrote.
    written = [p.read_bytes() for p in lake.home.rglob("*") if p.is_file()]
    assert not any(SECRET.encode() in data or PASSWORD.encode() in data for data in written)
    assert not any(SECRET in out or PASSWORD in out for out in outputs)


def test_postgres_down_or_a_wrong_password_is_one_line_and_exit_2(lake: Lake, monkeypatch: pytest.MonkeyPatch) -> None:
    catalog = f"Cannot open the DuckLake catalog postgres:host=127.0.0.1 port={lake.postgres.port}"
    lake.postgres.stop()
    try:
        for command in (["import", str(MBOX), "--no-refresh"], ["status"], ["sql", "select 1"]):
            assert_one_line_exit_2(command, catalog)
    finally:
        lake.postgres.start()
    monkeypatch.setenv("PGPASSWORD", "not-" + PASSWORD)
    assert_one_line_exit_2(["status"], catalog)


def test_object_storage_out_of_reach_is_one_line_and_exit_2(lake: Lake) -> None:
    assert run("import", str(MBOX), "--no-refresh")[0] == 0
    lake.configure(s3_endpoint=f"127.0.0.1:{free_port()}")  # nothing listens there
    expected = f"Cannot reach the DuckLake's data files in s3://{BUCKET}/{lake.prefix}"
    for command in (["import", str(MBOX), "--no-refresh"], ["status"], ["sql", "select 1"]):
        assert_one_line_exit_2(command, expected)


def test_two_writers_committing_the_same_first_page_at_once_store_it_once(lake: Lake) -> None:
    """Two runs of one partition: both read the empty cursor and commit the same page. PostgreSQL holds both
    commits back until both transactions have started, so neither saw the other's rows."""
    connect(Settings().warehouse_path).close()
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    for writer in writers:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "opened"
    with lake.postgres.holding(lake.database, "lock table ducklake_snapshot in exclusive mode"):
        for writer in writers:
            assert writer.stdin is not None
            writer.stdin.write("go\n")
            writer.stdin.flush()
        wait_for(lambda: lake.postgres.sessions_waiting_for_a_lock(lake.database) >= 2, "both commits to wait")
    for writer in writers:
        out, _ = writer.communicate(timeout=300)
        assert writer.returncode == 0 and out.strip() == "done"
    con = connect(Settings().warehouse_path, read_only=True)
    try:
        rows = con.execute("select row_key, count(*) from raw.manual_interactions group by 1").fetchall()
        cursors = con.execute("select cursor, status from ops.sync_state").fetchall()
    finally:
        con.close()
    assert sorted(rows) == [(f"ana-{n}", 1) for n in range(5)]
    assert cursors == [("1", "running")]


def _holding(lake: Lake, folder: Path, *markers: str) -> dict[str, list[str]]:
    """Which of the catalog cluster's files (its write-ahead log aside) and the lake's objects hold a marker."""
    lake.postgres.query(lake.database, "checkpoint")  # what PostgreSQL holds in memory goes to its files
    found = files_holding(lake.postgres.folder / "data", *markers)
    for key in lake.store.keys(BUCKET):
        if key.startswith(lake.prefix):
            copy = folder / key
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_bytes(lake.store.client.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    for marker, paths in files_holding(folder, *markers).items():
        found.setdefault(marker, []).extend(paths)
    logless = {marker: [p for p in paths if not p.startswith("pg_wal/")] for marker, paths in found.items()}
    return {marker: paths for marker, paths in logless.items() if paths}


@pytest.mark.slow
def test_erase_on_a_postgres_catalog_leaves_no_byte_in_the_catalog_or_the_bucket(
    lake: Lake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The erasure list's key is one secret every machine shares; the catalog's dead rows and statistics go too."""
    exports = write_exports(tmp_path / "exports")
    code, out = run("import", *map(str, exports), "--owner", "ann@example.com")
    assert code == 0, out
    markers = (ADDRESS, ALIAS, NAME)
    assert _holding(lake, tmp_path / "before", *markers).keys() == set(markers)  # there, so the search can fail
    assert_one_line_exit_2(["erase", "--person", ADDRESS, "--yes"], "set TIEPULSE_IDENTITY_KEY")
    monkeypatch.setenv("TIEPULSE_IDENTITY_KEY", "one-secret-for-every-machine")
    code, out = run("erase", "--person", ALIAS, "--yes")
    assert code == 0, out
    assert _holding(lake, tmp_path / "after", *markers) == {}
    # Another machine (its own home) with the same key keeps them out of a new import; with another key it refuses.
    monkeypatch.setenv("TIEPULSE_HOME", str(tmp_path / "other-machine"))
    code, out = run("import", *map(str, exports), "--owner", "ann@example.com", "--no-refresh")
    assert code == 0, out
    erased_rows = f"select count(*) as n from raw.mail_messages where from_address = '{ALIAS}'"
    code, out = run("sql", "--format", "csv", erased_rows)
    assert code == 0 and out.splitlines() == ["n", "0"], out
    monkeypatch.setenv("TIEPULSE_IDENTITY_KEY", "another-secret")
    assert_one_line_exit_2(
        ["import", *map(str, exports), "--owner", "ann@example.com", "--no-refresh"], "not the one the erasure list"
    )
