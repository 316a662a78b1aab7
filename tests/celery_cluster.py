"""A real Redis (Debian's ``redis-server``) and real Celery workers running tiepulse's Celery app, on 127.0.0.1.

Sync runs are launched side by side the way Dagster's daemon launches the runs of a backfill or a schedule tick:
one run per account partition, each its own ``execute_job``; their steps go to the workers through the broker.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
from celery import Celery
from dagster._core.definitions.reconstruct import ReconstructableJob

from tests.local_servers import die_with_parent, free_port, wait_for
from tiepulse.core.settings import Settings
from tiepulse.pipelines.dagster_instance import ensure_instance_dir
from tiepulse.pipelines.executors import sync_run_config

ROOT = Path(__file__).resolve().parents[1]
WORKER = [sys.executable, "-m", "celery", "-A", "tiepulse.pipelines.celery_app", "worker", "--loglevel", "INFO"]
WORKER += ["--concurrency", "1", "--pool", "prefork", "--without-gossip", "--without-mingle", "--without-heartbeat"]


def _serves(port: int, pid: int) -> bool:
    """Whether the Redis answering on ``port`` is the process ``pid`` (not another test's server that took the port
    between its choice and Redis's bind)."""
    import redis

    try:
        with redis.Redis(host="127.0.0.1", port=port, socket_timeout=1) as client:
            return int(client.info("server")["process_id"]) == pid
    except redis.RedisError:
        return False


@contextmanager
def redis_server(folder: Path) -> Iterator[str]:
    """A Redis of its own on a free port, nothing saved to disk, its log in ``folder``; yields its URL."""
    program = shutil.which("redis-server")
    assert program, "redis-server is missing: install Debian's redis-server (.ci/run does)"
    port = free_port()
    log = folder / "redis.log"
    settings = {"port": port, "bind": "127.0.0.1", "save": "", "appendonly": "no", "dir": folder, "logfile": log}
    process = subprocess.Popen(
        [program, *(word for name, value in settings.items() for word in (f"--{name}", str(value)))],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=die_with_parent,
    )
    try:

        def ready() -> bool:
            assert process.poll() is None, f"redis-server exited while starting on port {port} (see {log})"
            return _serves(port, process.pid)

        wait_for(ready, f"redis-server on port {port}", 60)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=30)


class Workers:
    """Celery workers (``celery -A tiepulse.pipelines.celery_app worker``), one task at a time each, in the
    environment of the test (its TIEPULSE_HOME, config, fake endpoints and ``broker``)."""

    def __init__(self, count: int, logs: Path, broker: str) -> None:
        self.names = [f"worker{n}@tiepulse-test" for n in range(1, count + 1)]
        self.processes: list[subprocess.Popen[bytes]] = []
        for name in self.names:
            log = (logs / f"{name.split('@')[0]}.log").open("wb")
            self.processes.append(
                subprocess.Popen(
                    [*WORKER, "--hostname", name],
                    cwd=ROOT,
                    env=dict(os.environ),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    preexec_fn=die_with_parent,
                )
            )
        # Pinged through a client of this broker: tiepulse's Celery app is bound to the broker of the environment it
        # was first imported in, which an earlier cluster of the same test process has stopped.
        self.control = Celery("tiepulse-test-control", broker=broker, set_as_current=False)

        def all_answer() -> bool:
            assert all(p.poll() is None for p in self.processes), "a Celery worker exited while starting"
            replies = self.control.control.ping(timeout=0.5) or []
            return {name for reply in replies for name in reply} >= set(self.names)

        wait_for(all_answer, "the Celery workers to answer")

    def pool_children(self, index: int = 0) -> list[int]:
        """The processes the worker's pool runs tasks in (a prefork worker forks its children at start)."""
        parent = self.processes[index].pid
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == parent:
                found.append(int(stat.parent.name))
        return found

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=30)
        self.control.close()


def sync_job(name: str) -> ReconstructableJob:
    """The sync job as a worker finds it: by the code location's module, as the workspace loads it."""
    from dagster._core.definitions.reconstruct import ReconstructableRepository

    repository = ReconstructableRepository.for_module("tiepulse.pipelines.definitions", "defs", str(ROOT))
    return repository.get_reconstructable_job(name)


def run_partition(instance_dir: Path, job: str, partition: str, run_config: dict[str, Any]) -> str:
    """One run of the job for one partition, to its end (in a process of its own); returns its run id."""
    with dg.DagsterInstance.from_config(str(instance_dir)) as instance:
        result = dg.execute_job(sync_job(job), instance, run_config=run_config, tags={"dagster/partition": partition})
        return result.run_id


def run_side_by_side(instance_dir: Path, job: str, partitions: Sequence[str]) -> list[dg.DagsterRun]:
    """Every partition's run at once, each in a process of its own as Dagster's run launcher starts them, on the
    engine the settings choose; returns the runs in order, as the instance recorded them."""
    ensure_instance_dir(instance_dir)
    config = sync_run_config(Settings())
    spawn = multiprocessing.get_context("spawn")  # a fresh interpreter per run, like `dagster api execute_run`
    with ProcessPoolExecutor(max_workers=len(partitions), mp_context=spawn) as pool:
        futures = [pool.submit(run_partition, instance_dir, job, p, config) for p in partitions]
        ids = [f.result() for f in futures]
    with dg.DagsterInstance.from_config(str(instance_dir)) as instance:
        runs = [instance.get_run_by_id(i) for i in ids]
    assert all(runs)
    return [r for r in runs if r is not None]


def worker_of_each_step(instance_dir: Path, runs: Sequence[dg.DagsterRun]) -> dict[tuple[str, str], str]:
    """(partition, step) -> the Celery worker that ran it, from the runs' engine events."""
    found = {}
    with dg.DagsterInstance.from_config(str(instance_dir)) as instance:
        for run in runs:
            for record in instance.all_logs(run.run_id):
                event = record.dagster_event
                if event is None or not event.is_engine_event or record.step_key is None:
                    continue
                metadata = event.engine_event_data.metadata
                if "Celery worker" in metadata:
                    found[(run.tags["dagster/partition"], record.step_key)] = str(metadata["Celery worker"].value)
    return found


def running_step_workers(instance_dir: Path, partition: str, step: str) -> list[str]:
    """The Celery workers that have started ``step`` of a run of ``partition`` still going."""
    with dg.DagsterInstance.from_config(str(instance_dir)) as instance:
        runs = instance.get_runs(
            dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED], tags={"dagster/partition": partition})
        )
        return [name for (_, key), name in worker_of_each_step(instance_dir, runs).items() if key == step]
