"""docs/adding-a-connector.md, followed to the letter by a provider that exists only in this test.

The steps: a connector (``NotesSource``: a ``SyncSource`` reading an in-memory notebook), its raw table (the DDL a
migration would hold, run here on the test's warehouse), a provider declaration (``DEMO``) and its entry in
``PROVIDERS`` (patched here instead of edited). With nothing else touched, the loader keys its rows, the Dagster
code location has its partitioned asset, job, sensor and schedule, `tiepulse sync` lists and syncs it, and
`tiepulse forget` deletes its rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import duckdb
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from tiepulse.cli.app import app
from tiepulse.connectors.base import Page
from tiepulse.connectors.http.retry import RetryPolicy
from tiepulse.connectors.sync_source import SyncSource
from tiepulse.core.settings import Settings
from tiepulse.core.warehouse import connect
from tiepulse.pipelines import providers
from tiepulse.pipelines.providers import ApiProvider, NotSetUp, RawTable, Schedule, Source
from tiepulse.pipelines.resources import WarehouseResource
from tiepulse.pipelines.sync import sync_account

ANN = "ann@example.com"
BOB = "bob@example.com"
NOTEBOOK = {ANN: ["met at the fair", "sent the quote", "called back"], BOB: ["lunch"]}

# --- the connector (connectors/<name>/): pages of rows from its last cursor


class NotesSource:
    """One account's notes, two to a page; the cursor is how many were committed."""

    source = "demo_notes"

    def __init__(self, account: str) -> None:
        self.account = account

    def streams(self) -> list[str]:
        return ["notes"]

    def pages(self, stream: str, cursor: str | None) -> Iterator[Page]:
        notes = NOTEBOOK[self.account]
        for start in range(int(cursor or 0), len(notes), 2):
            chunk = notes[start : start + 2]
            rows = pa.table(
                {
                    "note_id": [f"n{start + i}" for i in range(len(chunk))],
                    "owner": [self.account] * len(chunk),
                    "source": [self.source] * len(chunk),
                    "text_length": [len(text) for text in chunk],
                }
            )
            yield Page(rows={NOTES.table.name: rows}, cursor=str(start + len(chunk)))


# --- its raw table (sql/migrations/NNN_demo_notes.sql)

MIGRATION = (
    "create table raw.demo_notes (note_id varchar, owner varchar, source varchar, text_length integer, "
    "imported_at timestamptz default now())"
)

# --- the provider (pipelines/providers/<name>.py)

NOTES = Source(
    "demo_notes",
    "Notes",
    RawTable("raw.demo_notes", ("note_id", "owner"), "keep", owner="owner"),
    "raw.demo_notes: notes from an in-memory notebook, one partition per account",
)


def notes_sources(
    settings: Settings, *, source: str | None = None, account: str | None = None, retry: RetryPolicy | None = None
) -> list[SyncSource]:
    accounts = list(NOTEBOOK)
    if account is not None:
        accounts = [a for a in accounts if a == account.strip().lower()]
        if not accounts:
            raise NotSetUp(f"{account} has no notebook")
    return [NotesSource(a) for a in accounts for _ in DEMO.chosen(source)]


DEMO = ApiProvider(
    key="demo",
    name="Demo",
    sources=(NOTES,),
    partitions="demo_accounts",
    schedule=Schedule(cron="30 4 * * *", running=False),
    accounts=lambda settings: list(NOTEBOOK),
    not_set_up=lambda settings: None,
    build=notes_sources,
    retry_policy=lambda settings: RetryPolicy(),
)


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """The one registry entry (``PROVIDERS`` in pipelines/providers/__init__.py)."""
    monkeypatch.setattr(providers, "PROVIDERS", (*providers.PROVIDERS, DEMO))


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, registered: None) -> Path:
    """A warehouse with the provider's migration applied; Google and Microsoft not set up."""
    monkeypatch.setenv("TIEPULSE_HOME", str(tmp_path))
    for name in (
        "TIEPULSE_CONFIG",
        "TIEPULSE_GOOGLE_SERVICE_ACCOUNT_FILE",
        "TIEPULSE_MS_TENANT_ID",
        "TIEPULSE_MS_CLIENT_ID",
        "TIEPULSE_MS_CLIENT_SECRET",
    ):
        monkeypatch.delenv(name, raising=False)
    con = connect(Settings().warehouse_path)
    con.execute(MIGRATION)
    con.close()
    return tmp_path


def notes(home: Path) -> list[tuple[str, str]]:
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute("select owner, note_id from raw.demo_notes order by all").fetchall()
    finally:
        con.close()


def test_the_loader_keys_its_rows_and_a_second_sync_adds_nothing(home: Path) -> None:
    con = connect(Settings().warehouse_path)
    first = sync_account(con, NotesSource(ANN), pseudonym_key=None)
    again = sync_account(con, NotesSource(ANN), pseudonym_key=None)
    con.close()
    assert first.inserted == {"raw.demo_notes": 3} and first.pages == 3  # two pages and the idle cursor
    assert again.inserted == {} and notes(home) == [(ANN, "n0"), (ANN, "n1"), (ANN, "n2")]


def test_the_code_location_has_its_partitioned_asset_job_sensor_and_schedule(home: Path) -> None:
    from tiepulse.pipelines.definitions import build_definitions

    defs = build_definitions()
    graph = defs.resolve_asset_graph()
    node = graph.get(dg.AssetKey(["raw", "demo_notes"]))
    assert node.group_name == "raw" and node.pools == {"duckdb_warehouse"}
    assert isinstance(node.partitions_def, dg.DynamicPartitionsDefinition)
    assert node.partitions_def.name == "demo_accounts"
    assert defs.resolve_job_def("demo_sync") is not None
    assert defs.resolve_schedule_def("demo_sync_schedule").cron_schedule == "30 4 * * *"
    assert "demo_accounts_sensor" in {s.name for s in defs.sensors or []}
    refresh = defs.resolve_job_def("refresh_warehouse")
    assert dg.AssetKey(["raw", "demo_notes"]) not in refresh.asset_layer.selected_asset_keys

    from tiepulse.pipelines.assets.syncs import provider_definitions

    demo = provider_definitions(DEMO)
    instance = dg.DagsterInstance.ephemeral()
    found = demo.sensor(dg.build_sensor_context(instance=instance))
    assert isinstance(found, dg.SensorResult)
    assert [r.partition_keys for r in found.dynamic_partitions_requests or []] == [[ANN, BOB]]
    instance.add_dynamic_partitions("demo_accounts", [ANN, BOB])
    resources = {"warehouse": WarehouseResource(home=str(home))}
    assert dg.materialize(demo.assets, partition_key=BOB, instance=instance, resources=resources).success
    assert notes(home) == [(BOB, "n0")]


def test_the_cli_lists_syncs_and_forgets_it(home: Path) -> None:
    runner = CliRunner()
    listed = runner.invoke(app, ["sync", "--source", "yahoo"])
    assert listed.exit_code == 2 and "demo-notes" in " ".join(listed.output.split())
    synced = runner.invoke(app, ["sync", "--no-refresh"])
    assert synced.exit_code == 0, synced.output
    assert "Google: not set up, skipped" in synced.output and "Microsoft: not set up, skipped" in synced.output
    assert len(notes(home)) == 4
    again = runner.invoke(app, ["sync", "--source", "demo-notes", "--account", BOB, "--no-refresh"])
    assert again.exit_code == 0, again.output
    forgot = runner.invoke(app, ["forget", "--account", ANN, "--source", "demo-notes", "--yes", "--no-refresh"])
    assert forgot.exit_code == 0, forgot.output
    assert "raw.demo_notes: 3" in forgot.output
    assert notes(home) == [(BOB, "n0")]
