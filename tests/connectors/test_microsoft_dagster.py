"""The Microsoft assets (built by the sync factory from the registry): one dynamic partition per mailbox, found by
the sensor and synced through sync_account against the fake."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from tests.connectors.microsoft_support import ANN, BOB, configure, fake_server, seed  # noqa: F401
from tests.fakes.microsoft_server import FakeMicrosoft, event
from tiepulse.pipelines.assets.syncs import provider_definitions
from tiepulse.pipelines.providers import MICROSOFT
from tiepulse.pipelines.resources import WAREHOUSE_POOL, WarehouseResource


def test_partitioned_assets_sync_one_mailbox(
    fake: FakeMicrosoft, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(fake, n=3)
    fake.put_event(ANN, event("e1", "uid-1", ANN, [(BOB, "accepted")]))
    settings = configure(monkeypatch, tmp_path, fake)
    microsoft = provider_definitions(MICROSOFT)
    keys = {a.key.to_user_string() for a in microsoft.assets}
    assert keys == {"raw/graph_messages", "raw/graph_events"}
    for asset in microsoft.assets:
        node = asset.get_asset_spec()
        assert node.group_name == "raw" and asset.partitions_def == microsoft.partitions
        assert asset.op.pool == WAREHOUSE_POOL

    # A kept-alive temporary instance, not instance_for_test(): once that one is disposed, Definitions built later
    # in the same process fail to resolve ("undefined DagsterInstance weakref"). Schedules need its ref.
    (tmp_path / "dagster").mkdir()
    instance = dg.DagsterInstance.local_temp(str(tmp_path / "dagster"))
    found = microsoft.sensor(dg.build_sensor_context(instance=instance))
    assert isinstance(found, dg.SensorResult)
    (request,) = found.dynamic_partitions_requests or []
    assert request.partition_keys == [ANN, BOB]
    instance.add_dynamic_partitions("microsoft_mailboxes", [ANN, BOB])  # what the daemon does with the request
    tick = dg.build_schedule_context(instance=instance, scheduled_execution_time=dt.datetime(2026, 11, 23, 5, 15))
    runs = microsoft.schedule(tick)
    assert isinstance(runs, list) and [(r.partition_key, r.run_key) for r in runs] == [
        (ANN, f"microsoft-{ANN}-2026-11-23T05:15:00"),
        (BOB, f"microsoft-{BOB}-2026-11-23T05:15:00"),
    ]
    assert microsoft.schedule.cron_schedule == "15 * * * *"
    result = dg.materialize(
        microsoft.assets,
        partition_key=ANN,
        instance=instance,
        resources={"warehouse": WarehouseResource(home=str(settings.home))},
    )
    assert result.success
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    owners = con.execute("select distinct mailbox_owner from raw.graph_messages").fetchall()
    events = con.execute("select count(*) from raw.graph_events").fetchone()
    con.close()
    assert owners == [(ANN,)] and events == (1,)


def test_the_sensor_says_why_when_microsoft_is_not_set_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("TIEPULSE_MS_TENANT_ID", "TIEPULSE_MS_CLIENT_ID", "TIEPULSE_MS_CLIENT_SECRET", "TIEPULSE_CONFIG"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("TIEPULSE_HOME", str(tmp_path))
    sensor = provider_definitions(MICROSOFT).sensor
    skipped = sensor(dg.build_sensor_context(instance=dg.DagsterInstance.ephemeral()))
    assert isinstance(skipped, dg.SkipReason)
    assert (skipped.skip_message or "").startswith("Microsoft sync not possible: Microsoft is not configured")
