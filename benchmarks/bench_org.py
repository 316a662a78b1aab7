"""An organisation-year end to end through the real CLI: generate, import, refresh, then one more day.

Every stage is a `tiepulse` process (the installed entry point, its own TIEPULSE_HOME): `tiepulse sample` at ordinary
volume, `tiepulse import --no-refresh` (files to raw tables), `tiepulse refresh` (staging, analytics, ONA,
publication); then `tiepulse sample --next-day`, its import and a second refresh, as a daily run would do. Time and
peak memory per stage: a thread samples the resident memory of the process tree (the CLI and its Great Expectations
worker) from /proc; the refresh's steps come from the home's Dagster event log (STEP_START to STEP_SUCCESS) and each
sample is attributed to the step running then. A memory ceiling stops the run before it hurts a shared machine.
Run: `python -m benchmarks.bench_org [--people 1000] [--months 12] [--keep DIR]`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from benchmarks.common import TIEPULSE
from benchmarks.proctree import Sampled, run_sampled

MB = 1024 * 1024
TARGET_SECONDS = 600
TARGET_PEAK = 8 * 1024 * MB
TARGET_DAILY_SHARE = 0.10


@dataclass
class Stage:
    name: str
    seconds: float
    peak: int


class Bench:
    def __init__(self, work: Path, ceiling: int) -> None:
        self.work = work
        self.home = work / "home"
        self.log = work / "bench_org.log"
        self.ceiling = ceiling

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """This home only: the caller's TIEPULSE_CONFIG and DAGSTER_HOME are left out."""
        run_env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "TIEPULSE_CONFIG")}
        return {**run_env, "TIEPULSE_HOME": str(self.home), **(extra or {})}

    def run(self, *args: str, env: dict[str, str] | None = None) -> Sampled:
        result = run_sampled([str(TIEPULSE), *args], self.env(env), ceiling=self.ceiling, log=self.log)
        if result.stopped_over is not None:
            raise SystemExit(
                f"stopped `tiepulse {' '.join(args)}`: its processes went over {self.ceiling / MB / 1024:.0f} GB "
                f"(--ceiling-gb) after {result.seconds:.0f} s; the log is {self.log}"
            )
        if result.returncode != 0:
            raise SystemExit(f"`tiepulse {' '.join(args)}` failed (exit {result.returncode}); see {self.log}")
        return result

    def refresh_stages(self, result: Sampled) -> list[Stage]:
        """The last refresh's steps, grouped into stages, each with its time and the peak memory while it ran."""
        import dagster as dg

        instance = dg.DagsterInstance.from_config(str(self.home / "dagster"))
        run = instance.get_runs(limit=1)[0]
        kinds = {dg.DagsterEventType.STEP_START, dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE}
        starts: dict[str, float] = {}
        stages: dict[str, Stage] = {}
        spans: list[tuple[float, float]] = []
        for record in instance.get_records_for_run(run.run_id, of_type=kinds).records:
            entry = record.event_log_entry
            step = entry.step_key or "?"
            if entry.dagster_event and entry.dagster_event.event_type == dg.DagsterEventType.STEP_START:
                starts[step] = entry.timestamp
                continue
            began = starts.pop(step, entry.timestamp)
            spans.append((began, entry.timestamp))
            name = stage_of(step)
            stage = stages.setdefault(name, Stage(name, 0.0, 0))
            stage.seconds += entry.timestamp - began
            stage.peak = max(stage.peak, result.peak(began, entry.timestamp))
        timed = sum(s.seconds for s in stages.values())
        # Loading Dagster, the code location and Great Expectations, and logging the run.
        rest = [rss for when, rss in result.samples if not any(a <= when <= b for a, b in spans)]
        outside = Stage("start-up and the rest", max(0.0, result.seconds - timed), max(rest, default=0))
        return [*sorted(stages.values(), key=lambda s: -s.seconds), outside]

    def sql_count(self, table: str) -> int:
        out = subprocess.run(
            [str(TIEPULSE), "sql", f"select count(*) as n from {table}", "--format", "json"],
            env=self.env(),
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        return int(json.loads(out)[0]["n"])


LABELS = {
    "raw_config": "config tables",
    "staging_models": "staging (SQL)",
    "intermediate_models": "intermediate (SQL)",
    "marts_models": "marts (SQL)",
    "interactions": "interactions",
    "org_network": "ONA (org_network)",
    "reports": "publication: HTML reports",
    "bi": "publication: BI snapshot",
}


def stage_of(step: str) -> str:
    """The stage a Dagster step belongs to: its asset key's first part; the Polars marts one by one."""
    parts = step.split("__")
    if parts[0] in ("analytics", "marts") and len(parts) > 1:
        return f"analytics: {parts[-1]}"
    return LABELS.get(parts[0], parts[0])


def _table(rows: list[tuple[str, Stage, Stage | None]]) -> str:
    lines = [f"{'stage':<40} {'full s':>8} {'peak MB':>8} {'day s':>8} {'peak MB':>8}", "-" * 76]
    for name, full, day in rows:
        day_cols = f"{day.seconds:>8.1f} {day.peak / MB:>8,.0f}" if day else f"{'':>8} {'':>8}"
        lines.append(f"{name[:40]:<40} {full.seconds:>8.1f} {full.peak / MB:>8,.0f} {day_cols}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=1000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--ceiling-gb", type=float, default=12.0, help="stop the run if its memory goes over this (and need it free)"
    )
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temporary one)")
    args = parser.parse_args()
    available = _available_memory()
    if available < args.ceiling_gb * 1024 * MB:
        print(
            f"Skipped: {available / MB / 1024:.1f} GB of memory available, the run may take up to "
            f"{args.ceiling_gb:.0f} GB (--ceiling-gb); run it when the machine is quieter."
        )
        return
    load_before = os.getloadavg()
    work = args.keep or Path(tempfile.mkdtemp(prefix="tiepulse-bench-org-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        report = _bench(Bench(work, int(args.ceiling_gb * 1024 * MB)), args)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    load_after = os.getloadavg()
    print(report)
    print(
        f"\nload average {load_before[0]:.1f} / {load_before[1]:.1f} before, {load_after[0]:.1f} / "
        f"{load_after[1]:.1f} after (1 / 5 min), {os.cpu_count()} cores"
    )


def _bench(bench: Bench, args: argparse.Namespace) -> str:
    size = ["--people", str(args.people), "--months", str(args.months), "--seed", str(args.seed)]
    sample, nextday = bench.work / "sample", bench.work / "next-day"
    generate = bench.run("sample", str(sample), *size, "--volume", "ordinary")
    generate_day = bench.run("sample", str(nextday), *size, "--volume", "ordinary", "--next-day")
    truth = json.loads((sample / "truth.json").read_text(encoding="utf-8"))
    as_of = dt.date.fromisoformat(truth["as_of"])
    day = as_of
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    next_as_of = day + dt.timedelta(days=1)
    env = {"TIEPULSE_CONFIG": str(sample / "config.yaml"), "TIEPULSE_AS_OF": as_of.isoformat()}
    imported = bench.run("import", str(sample), "--no-refresh", env=env)
    refreshed = bench.run("refresh", env=env)
    full_stages = bench.refresh_stages(refreshed)
    interactions = bench.sql_count("marts.fct_interactions")
    env_day = {**env, "TIEPULSE_AS_OF": next_as_of.isoformat()}
    imported_day = bench.run("import", str(nextday), "--no-refresh", env=env_day)
    refreshed_day = bench.run("refresh", env=env_day)
    day_stages = {s.name: s for s in bench.refresh_stages(refreshed_day)}

    full = imported.seconds + refreshed.seconds
    daily = imported_day.seconds + refreshed_day.seconds
    peak = max(imported.peak(), refreshed.peak())
    rows: list[tuple[str, Stage, Stage | None]] = [
        (
            "generate the sample",
            Stage("", generate.seconds, generate.peak()),
            Stage("", generate_day.seconds, generate_day.peak()),
        ),
        (
            "import (files to raw tables)",
            Stage("", imported.seconds, imported.peak()),
            Stage("", imported_day.seconds, imported_day.peak()),
        ),
    ]
    rows += [(f"  {s.name}", s, day_stages.get(s.name)) for s in full_stages]
    rows.append(
        (
            "refresh, whole process",
            Stage("", refreshed.seconds, refreshed.peak()),
            Stage("", refreshed_day.seconds, refreshed_day.peak()),
        )
    )
    rows.append(
        ("import + refresh", Stage("", full, peak), Stage("", daily, max(imported_day.peak(), refreshed_day.peak())))
    )
    counts = truth["counts"]
    cpu = (imported.cpu, refreshed.cpu, imported_day.cpu, refreshed_day.cpu)
    verdict = [
        f"CPU s (user + system of the processes): import {cpu[0]:,.1f}, refresh {cpu[1]:,.1f} for the year; "
        f"import {cpu[2]:,.1f}, refresh {cpu[3]:,.1f} for the day ({sum(cpu[2:]) / sum(cpu[:2]):.1%})",
        f"year:  {full:,.0f} s ({'meets' if full <= TARGET_SECONDS else 'misses'} the {TARGET_SECONDS} s target), "
        f"peak {peak / MB:,.0f} MB ({'meets' if peak <= TARGET_PEAK else 'misses'} 8 GB)",
        f"day:   {daily:,.1f} s = {daily / full:.1%} of the year "
        f"({'meets' if daily / full <= TARGET_DAILY_SHARE else 'misses'} the 10 % target)",
    ]
    head = "\n".join(
        [
            f"Organisation: {args.people:,} people x {args.months} months (seed {args.seed})",
            f"messages: {counts['messages']:,} ({counts['mailbox_copies']:,} mailbox copies)",
            f"calendar events: {counts['events']:,}; marts.fct_interactions: {interactions:,} rows",
            f"next day {day}: {_day_messages(nextday):,} mailbox copies",
            "times in s (wall clock), peak RSS of the process tree in MB",
            "",
        ]
    )
    return head + "\n" + _table(rows) + "\n\n" + "\n".join(verdict)


def _available_memory() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return 0


def _day_messages(folder: Path) -> int:
    return sum(path.read_bytes().count(b"\nMessage-ID: ") for path in (folder / "mail").glob("*.mbox"))


if __name__ == "__main__":
    main()
