"""The Microsoft assets: one dynamic partition per mailbox, materialised through sync_account against the fake."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pytest

from tests.connectors.microsoft_support import ANN, BOB, configure, fake_server, seed  # noqa: F401
from tests.fakes.microsoft_server import FakeMicrosoft, event
from tiepulse.pipelines.assets.microsoft import mailbox_partitions, microsoft_assets, microsoft_sync_schedule
from tiepulse.pipelines.resources import WAREHOUSE_POOL, WarehouseResource


def test_partitioned_assets_sync_one_mailbox(
    fake: FakeMicrosoft, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(fake, n=3)
    fake.put_event(ANN, event("e1", "uid-1", ANN, [(BOB, "accepted")]))
    settings = configure(monkeypatch, tmp_path, fake)
    keys = {a.key.to_user_string() for a in microsoft_assets}
    assert keys == {"raw/graph_messages", "raw/graph_events"}
    for asset in microsoft_assets:
        node = asset.get_asset_spec()
        assert node.group_name == "raw" and asset.partitions_def == mailbox_partitions
        assert asset.op.pool == WAREHOUSE_POOL

    # A kept-alive temporary instance, not instance_for_test(): once that one is disposed, Definitions built later
    # in the same process fail to resolve ("undefined DagsterInstance weakref"). Schedules need its ref.
    (tmp_path / "dagster").mkdir()
    instance = dg.DagsterInstance.local_temp(str(tmp_path / "dagster"))
    context = dg.build_schedule_context(instance=instance)
    requests = list(microsoft_sync_schedule(context))
    assert [r.partition_key for r in requests] == [ANN, BOB]
    assert set(instance.get_dynamic_partitions("microsoft_mailboxes")) == {ANN, BOB}
    result = dg.materialize(
        microsoft_assets,
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
