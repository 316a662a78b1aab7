"""The Google assets (built by the sync factory from the registry): one partition per account, materialised
through the fake; wiring into the code location."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from tests.connectors.test_google_calendar import populate
from tests.fakes.google_server import FakeGoogle
from tests.fakes.google_testbed import OWNER, Testbed
from tiepulse.pipelines.assets.syncs import account_run_requests, provider_definitions
from tiepulse.pipelines.providers import GOOGLE
from tiepulse.pipelines.resources import WarehouseResource

OTHER = "bob@corp.example"
GOOGLE_DEFS = provider_definitions(GOOGLE)
GOOGLE_ASSET_KEYS = (dg.AssetKey(["raw", "gmail_messages"]), dg.AssetKey(["raw", "gcal_events"]))


def register_accounts(instance: dg.DagsterInstance) -> list[str]:
    """Evaluate the accounts sensor and apply its partition requests, as the daemon does; return the new ones."""
    result = GOOGLE_DEFS.sensor(dg.build_sensor_context(instance=instance))
    assert isinstance(result, dg.SensorResult)
    added = [key for request in result.dynamic_partitions_requests or [] for key in request.partition_keys or []]
    instance.add_dynamic_partitions(GOOGLE.partitions, added)
    return added


@pytest.fixture
def bed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Testbed]:
    with FakeGoogle() as fake:
        testbed = Testbed(tmp_path, monkeypatch, fake)
        testbed.configure(users=[OWNER, OTHER, "ghost@corp.example"])
        fake.generate_mailbox(OWNER, 50)
        fake.generate_mailbox(OTHER, 20, seed=2)
        populate(fake.calendar(OWNER), 5)
        yield testbed
        testbed.close()


def test_each_account_is_its_own_partition_and_a_failure_stays_there(bed: Testbed) -> None:
    instance = dg.DagsterInstance.ephemeral()
    assert register_accounts(instance) == [OWNER, OTHER, "ghost@corp.example"]
    assert register_accounts(instance) == []
    resources = {"warehouse": WarehouseResource(home=str(bed.home))}
    assets = GOOGLE_DEFS.assets
    for account in (OWNER, OTHER):
        result = dg.materialize(assets, partition_key=account, instance=instance, resources=resources)
        assert result.success
    # The ghost does not exist in the (fake) domain: its run fails, the others' data stands.
    failed = dg.materialize(
        assets, partition_key="ghost@corp.example", instance=instance, resources=resources, raise_on_error=False
    )
    assert not failed.success
    counts = dict(bed.con.execute("select mailbox_owner, count(*) from raw.gmail_messages group by all").fetchall())
    assert counts == {OWNER: 50, OTHER: 20}
    assert bed.con.execute("select count(*) from raw.gcal_events").fetchall() == [(9,)]


def test_sensor_adds_partitions_and_schedule_asks_one_run_per_account(bed: Testbed) -> None:
    instance = dg.DagsterInstance.ephemeral()
    result = GOOGLE_DEFS.sensor(dg.build_sensor_context(instance=instance))
    assert isinstance(result, dg.SensorResult)
    assert result.dynamic_partitions_requests[0].partition_keys == [OWNER, OTHER, "ghost@corp.example"]
    requests = account_run_requests(GOOGLE, [OWNER, OTHER], "2026-11-23T05:00:00+00:00")
    assert [(r.partition_key, r.run_key) for r in requests] == [
        (OWNER, f"google-{OWNER}-2026-11-23T05:00:00+00:00"),
        (OTHER, f"google-{OTHER}-2026-11-23T05:00:00+00:00"),
    ]
    assert GOOGLE_DEFS.schedule.cron_schedule == "0 5 * * *"
    assert GOOGLE_DEFS.sensor.name == "google_accounts_sensor"


def test_wires_into_the_code_location() -> None:
    from tiepulse.pipelines.definitions import defs

    graph = defs.resolve_asset_graph()
    for key in GOOGLE_ASSET_KEYS:
        node = graph.get(key)
        assert node.group_name == "raw" and node.pools == {"duckdb_warehouse"}
        assert node.partitions_def == GOOGLE_DEFS.partitions
    assert defs.resolve_job_def("google_sync") is not None
    children = {k.to_user_string() for k in graph.get(GOOGLE_ASSET_KEYS[0]).child_keys}
    assert "staging/int_mail_sightings" in children
