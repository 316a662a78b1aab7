"""Mailbox syncs fanned out: one Dagster run per account partition, their steps on two real Celery workers (a local
Redis broker), against fake Google speaking the real wire format, into a DuckDB file (one writer at a time) and into a
DuckLake on a SQLite catalog (writers side by side). Every row lands once; a worker killed mid-partition loses no
committed page and its step is redone from there (by the broker's redelivery); two runs of one partition at once add
nothing twice."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from tests.celery_cluster import (
    Workers,
    redis_server,
    run_side_by_side,
    running_step_workers,
    wait_for,
    worker_of_each_step,
)
from tests.connectors.test_google_calendar import populate
from tests.fakes.google_server import FakeGoogle
from tests.fakes.google_testbed import Testbed
from tiepulse.core.warehouse import open_warehouse
from tiepulse.pipelines.dagster_instance import ensure_instance_dir
from tiepulse.pipelines.providers import GOOGLE
from tiepulse.pipelines.resources import WAREHOUSE_POOL

SIDE_BY_SIDE = [f"user{n}@corp.example" for n in range(1, 4)]
KILLED = "killed@corp.example"
TWICE = "twice@corp.example"
MESSAGES = 45
PAGE = 10  # messages.list page size: a full sync of MESSAGES commits five pages
EVENTS = 9  # what populate(calendar, 5) puts in a calendar (five events and three instances of a series, one moved)
GMAIL_KEY = dg.AssetKey(["raw", "gmail_messages"])
WORKERS = 2
# How long a test waits for syncs to reach a held page before it calls them stuck: far above what the slowest start
# seen needs (both Gmail steps reached a worker about 3.5 minutes after their runs were launched, at load 45 on two
# cores); not a measure of speed.
STALL_GUARD_SECONDS = 1200.0


@dataclass
class Cluster:
    bed: Testbed
    workers: Workers
    instance_dir: Path
    backend: str


@pytest.fixture(scope="module", params=["duckdb", "ducklake"])
def cluster(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Two workers writing to a DuckDB file (a writer waits for the other's lock) or to a DuckLake whose catalog is
    a SQLite file (writers side by side; a commit that finds the catalog locked is tried again)."""
    tmp = tmp_path_factory.mktemp("celery")
    with FakeGoogle() as fake, pytest.MonkeyPatch.context() as monkeypatch, redis_server(tmp) as broker:
        bed = Testbed(tmp, monkeypatch, fake)
        accounts = [*SIDE_BY_SIDE, KILLED, TWICE]
        bed.google["gmail"] = {"list_page_size": PAGE}
        # A request the fake holds is never given up and retried by the client, nor let go by the fake before the
        # test releases it: the tests' counts of requests held count syncs in flight at once.
        bed.google["http"] = {"timeout_seconds": 2 * STALL_GUARD_SECONDS}
        bed.google["users"] = accounts
        bed.write_config(execution={"executor": "celery"}, warehouse={"backend": request.param})
        monkeypatch.setenv("TIEPULSE_CELERY_BROKER", broker)
        monkeypatch.setenv("TIEPULSE_LOCK_WAIT_SECONDS", "600")  # the DuckDB file: a writer waits for the other
        for n, account in enumerate(accounts):
            fake.generate_mailbox(account, MESSAGES, seed=n + 1)
            populate(fake.calendar(account), 5)
        instance_dir = tmp / "dagster"
        with dg.DagsterInstance.from_config(str(ensure_instance_dir(instance_dir))) as instance:
            instance.add_dynamic_partitions(GOOGLE.partitions, accounts)
            if request.param == "ducklake":  # as docs/scaling.md tells the operator: one writing step per worker
                instance.event_log_storage.set_concurrency_slots(WAREHOUSE_POOL, WORKERS)
        workers = Workers(WORKERS, tmp, broker)
        try:
            yield Cluster(bed, workers, instance_dir, request.param)
        finally:
            workers.stop()
            bed.close()


def stored(bed: Testbed, owner: str) -> tuple[list[str], int, list[int]]:
    """The account's Gmail ids as stored (one entry per row), its calendar rows, and its cursors per stream."""
    with open_warehouse(bed.settings.warehouse_path, read_only=True) as con:
        ids = [r[0] for r in con.execute(SQL["ids"], [owner]).fetchall()]
        (events,) = con.execute(SQL["events"], [owner]).fetchone() or (0,)
        cursors = [r[0] for r in con.execute(SQL["cursors"], [owner]).fetchall()]
    return ids, int(events), cursors


SQL = {
    "ids": "select source_position from raw.gmail_messages where mailbox_owner = ?",
    "events": "select count(*) from raw.gcal_events where calendar_owner = ?",
    "cursors": "select count(*) from ops.sync_state where account = ? group by source, stream order by all",
}


def _first_page(query: dict[str, list[str]]) -> bool:
    return "pageToken" not in query


def run_with_first_pages_met(cluster: Cluster, partitions: list[str], what: str) -> list[dg.DagsterRun]:
    """The runs of ``partitions`` side by side, the fake holding Gmail's first pages until one waits on each worker
    (``what``): that many syncs were in flight together."""
    held = cluster.bed.fake.add_fault(
        "gmail.messages.list", "hold", times=WORKERS, where=_first_page, hold_seconds=STALL_GUARD_SECONDS
    )
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(run_side_by_side, cluster.instance_dir, "google_sync", partitions)
        try:
            wait_for(lambda: held.hits == WORKERS, what, STALL_GUARD_SECONDS)
        finally:
            held.release.set()
        return pending.result()


def materialised(instance_dir: Path, partition: str) -> bool:
    with dg.DagsterInstance.from_config(str(instance_dir)) as instance:
        return partition in instance.get_materialized_partitions(GMAIL_KEY)


def test_several_mailboxes_sync_side_by_side_on_two_workers_and_every_row_lands_once(cluster: Cluster) -> None:
    if cluster.backend == "duckdb":  # the file lets one writer in: the workers' steps take turns at writing
        runs = run_side_by_side(cluster.instance_dir, "google_sync", SIDE_BY_SIDE)
    else:  # on a lake both workers are mid-sync at once, each on a mailbox of its own
        runs = run_with_first_pages_met(cluster, SIDE_BY_SIDE, "both workers to be syncing a mailbox at once")
    assert [r.status for r in runs] == [dg.DagsterRunStatus.SUCCESS] * len(SIDE_BY_SIDE)
    ran_on = worker_of_each_step(cluster.instance_dir, runs)
    steps = {(a, s) for a in SIDE_BY_SIDE for s in ("raw__gmail_messages", "raw__gcal_events")}
    assert set(ran_on) == steps and set(ran_on.values()) <= set(cluster.workers.names)
    if cluster.backend == "ducklake":  # one task at a time per worker: the two mailboxes held were on both workers
        assert set(ran_on.values()) == set(cluster.workers.names)
    for account in SIDE_BY_SIDE:
        ids, events, _ = stored(cluster.bed, account)
        assert sorted(ids) == sorted(cluster.bed.expected_ids(account)) and len(ids) == MESSAGES
        assert events == EVENTS
        assert materialised(cluster.instance_dir, account)


def test_a_worker_killed_mid_partition_loses_no_page_and_its_step_is_redone_from_the_last_commit(
    cluster: Cluster,
) -> None:
    fake = cluster.bed.fake
    # The second messages.list page waits in the fake: the first page is committed, the partition is half done.
    hold = fake.add_fault(
        "gmail.messages.list", "hold", where=lambda q: not _first_page(q), hold_seconds=STALL_GUARD_SECONDS
    )
    fetched_before = fake.calls["gmail.messages.get"]
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(run_side_by_side, cluster.instance_dir, "google_sync", [KILLED])
        wait_for(hold.held.is_set, "the sync to reach its second page", STALL_GUARD_SECONDS)
        (name,) = running_step_workers(cluster.instance_dir, KILLED, "raw__gmail_messages")
        (child,) = cluster.workers.pool_children(cluster.workers.names.index(name))
        os.kill(child, signal.SIGKILL)
        hold.release.set()
        (run,) = pending.result()
    # The lost step went back to the queue and a worker redid it from the committed page: every message fetched
    # once (the first page was not fetched again), every row stored once, the partition materialised.
    assert run.status == dg.DagsterRunStatus.SUCCESS and materialised(cluster.instance_dir, KILLED)
    assert fake.calls["gmail.messages.get"] - fetched_before == MESSAGES
    ids, events, cursors = stored(cluster.bed, KILLED)
    assert sorted(ids) == sorted(cluster.bed.expected_ids(KILLED)) and len(ids) == MESSAGES
    assert events == EVENTS and cursors == [1, 1]


def test_two_runs_of_one_partition_at_once_never_double_rows(cluster: Cluster) -> None:
    if cluster.backend == "duckdb":  # the file lets one writer in: the second run waits for the first
        runs = run_side_by_side(cluster.instance_dir, "google_sync", [TWICE, TWICE])
    else:  # on a lake both runs read the empty cursor and fetch the same first page before either commits it
        runs = run_with_first_pages_met(cluster, [TWICE, TWICE], "both runs to ask for the mailbox's first page")
    assert [r.status for r in runs] == [dg.DagsterRunStatus.SUCCESS] * 2
    ids, events, cursors = stored(cluster.bed, TWICE)
    assert sorted(ids) == sorted(cluster.bed.expected_ids(TWICE)) and len(ids) == MESSAGES
    assert events == EVENTS and cursors == [1, 1]  # one cursor per stream (Gmail's, the calendar's)


def test_the_multiprocess_executor_syncs_mailboxes_side_by_side_on_one_machine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    accounts = SIDE_BY_SIDE[:2]
    with FakeGoogle() as fake:
        bed = Testbed(tmp_path, monkeypatch, fake)
        bed.google["users"] = accounts
        bed.write_config(execution={"executor": "multiprocess", "max_processes": 2})
        monkeypatch.setenv("TIEPULSE_LOCK_WAIT_SECONDS", "600")
        for n, account in enumerate(accounts):
            fake.generate_mailbox(account, MESSAGES, seed=n + 1)
        instance_dir = ensure_instance_dir(tmp_path / "dagster")
        with dg.DagsterInstance.from_config(str(instance_dir)) as instance:
            instance.add_dynamic_partitions(GOOGLE.partitions, accounts)
        runs = run_side_by_side(instance_dir, "google_sync", accounts)
        assert [r.status for r in runs] == [dg.DagsterRunStatus.SUCCESS] * len(accounts)
        for account in accounts:
            ids, _, _ = stored(bed, account)
            assert sorted(ids) == sorted(bed.expected_ids(account)) and len(ids) == MESSAGES
        bed.close()
