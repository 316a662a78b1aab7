"""Mailboxes synced by two Celery workers into a DuckLake (SQLite catalog): all runs side by side against the same
runs one after another, on the same workers and broker, each mode on mailboxes of its own (full syncs both).

The floor is the one-after-another time measured in the same run; wall and CPU seconds are both given (CPU of the
runs, the workers and the fake Google together), with the load average, because this machine is shared. The fake
answers at once; ``--units-per-minute`` makes the client pace itself to a per-user Gmail quota, as against Google
(6,000 units a minute a user, 5 a message), so the syncs wait on the quota instead of on the CPU.

    python -m benchmarks.bench_fanout [--mailboxes 4] [--messages 300] [--units-per-minute 6000]
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

import dagster as dg
import pytest

from benchmarks.common import markdown_table
from tests.celery_cluster import Workers, redis_server, run_side_by_side
from tests.fakes.google_server import FakeGoogle
from tests.fakes.google_testbed import Testbed
from tiepulse.pipelines.dagster_instance import ensure_instance_dir
from tiepulse.pipelines.providers import GOOGLE
from tiepulse.pipelines.resources import WAREHOUSE_POOL

TICK = os.sysconf("SC_CLK_TCK")
WORKERS = 2


def _tree_cpu(roots: list[int]) -> float:
    """CPU seconds (user + system) of the live processes ``roots`` and their children."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat.parent.name) in roots or int(fields[1]) in roots:
            total += (int(fields[11]) + int(fields[12])) / TICK
    return total


def _cpu(workers: Workers) -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)  # the fake Google's threads
    runs = resource.getrusage(resource.RUSAGE_CHILDREN)  # the finished run processes
    return own.ru_utime + own.ru_stime + runs.ru_utime + runs.ru_stime + _tree_cpu([p.pid for p in workers.processes])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mailboxes", type=int, default=4)
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--units-per-minute", type=float, default=None, help="Gmail quota per user (default: none)")
    args = parser.parse_args()
    modes = {"side by side": "a", "one after another": "b"}
    accounts = {mode: [f"{tag}{n}@corp.example" for n in range(args.mailboxes)] for mode, tag in modes.items()}
    quota = f"{args.units_per_minute:g} units/min" if args.units_per_minute else "none"
    rows: list[list[object]] = []
    walls: dict[str, float] = {}
    with (
        tempfile.TemporaryDirectory(prefix="bench-fanout-") as folder,
        FakeGoogle() as fake,
        pytest.MonkeyPatch.context() as monkeypatch,
        redis_server(Path(folder)) as broker,
    ):
        tmp = Path(folder)
        bed = Testbed(tmp, monkeypatch, fake)
        everyone = [a for group in accounts.values() for a in group]
        bed.google["users"] = everyone
        if args.units_per_minute:
            bed.google["quota"] = {"gmail_units_per_minute": args.units_per_minute}
        bed.write_config(execution={"executor": "celery"}, warehouse={"backend": "ducklake"})
        monkeypatch.setenv("TIEPULSE_CELERY_BROKER", broker)
        for n, account in enumerate(everyone):
            fake.generate_mailbox(account, args.messages, seed=n + 1)
        instance_dir = ensure_instance_dir(tmp / "dagster")
        with dg.DagsterInstance.from_config(str(instance_dir)) as instance:
            instance.add_dynamic_partitions(GOOGLE.partitions, everyone)
            instance.event_log_storage.set_concurrency_slots(WAREHOUSE_POOL, WORKERS)  # one writing step per worker
        workers = Workers(WORKERS, tmp, broker)
        try:
            for mode, group in accounts.items():
                load = os.getloadavg()[0]
                wall, cpu = time.perf_counter(), _cpu(workers)
                batches = [group] if mode == "side by side" else [[a] for a in group]
                runs = [run for batch in batches for run in run_side_by_side(instance_dir, "google_sync", batch)]
                wall, cpu = time.perf_counter() - wall, _cpu(workers) - cpu
                assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs), f"{mode}: a run failed"
                walls[mode] = wall
                rows.append([mode, args.mailboxes, args.messages, quota, f"{wall:.1f}", f"{cpu:.1f}", f"{load:.1f}"])
        finally:
            workers.stop()
            bed.close()
    head = ["runs", "mailboxes", "messages each", "Gmail quota", "wall s", "CPU s", "load at start"]
    print(markdown_table(head, rows))
    ratio = walls["side by side"] / walls["one after another"]
    print(f"\nside by side / one after another (wall): {ratio:.2f}")


if __name__ == "__main__":
    main()
