"""Gmail sync against a quota: how close does a full sync of a big mailbox get to the quota-bound speed?

The fake Google (``tests/fakes/google_server.py``) runs in its own process with a per-user quota (units per
minute over a sliding window, as Gmail meters it). The sync must spend a known number of units (getProfile,
messages.list pages, one messages.get per message, history.list); divided by the allowed rate that is the quota
floor, the fastest any client could finish without being refused. We report the full sync's time against that
floor, then an incremental sync of new mail (time and units).

    python -m benchmarks.bench_google [--messages 100000] [--new 1000] [--units-per-minute 270000]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from benchmarks.common import markdown_table, peak_rss_mb

ROOT = Path(__file__).resolve().parents[1]
OWNER = "bench.user@corp.example"


class FakeProcess:
    """The fake Google in a child process (so it does not share our interpreter lock)."""

    def __init__(self, units_per_minute: float) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.fakes.google_server", "--quota-units", str(units_per_minute)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if not line.startswith("READY "):
            raise RuntimeError(f"the fake did not start: {line!r}")
        self.url = line.split(" ", 1)[1]

    def control(self, op: str, **args: Any) -> dict[str, Any]:
        request = urllib.request.Request(
            self.url + "/_fake/control",
            data=json.dumps({"op": op, "args": args}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=600) as response:
            result: dict[str, Any] = json.loads(response.read())
            return result

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def run(messages: int, new: int, units_per_minute: float, batch_size: int) -> str:
    from tests.fakes.google_server import COSTS, service_account_key

    fake = FakeProcess(units_per_minute)
    try:
        fake.control("keep_requests", on=False)
        fake.control("generate_mailbox", email=OWNER, count=messages, seed=3)
        work = Path(tempfile.mkdtemp(prefix="bench-google-"))
        key = service_account_key(work / "sa.json")
        config = work / "config.yaml"
        config.write_text(
            "google:\n"
            f"  users: [{OWNER}]\n"
            f"  gmail: {{batch_size: {batch_size}, window_days: 3650}}\n"
            f"  quota: {{gmail_units_per_minute: {units_per_minute}}}\n"
        )
        os.environ.update(
            TIEPULSE_HOME=str(work / "home"),
            TIEPULSE_CONFIG=str(config),
            TIEPULSE_GOOGLE_API_ENDPOINT=fake.url,
            TIEPULSE_GOOGLE_TOKEN_URI=fake.url + "/token",
            TIEPULSE_GOOGLE_ALLOW_HTTP_LOOPBACK="1",
            TIEPULSE_GOOGLE_SERVICE_ACCOUNT_FILE=str(key),
        )
        from tiepulse.core.settings import Settings
        from tiepulse.core.warehouse import connect
        from tiepulse.pipelines.providers.google import google_sources
        from tiepulse.pipelines.sync import sync_account

        settings = Settings()
        con = connect(settings.warehouse_path)
        rate = units_per_minute / 60.0

        def sync() -> tuple[float, float, int]:
            before = fake.control("stats")["spent"].get(OWNER, 0.0)
            source = google_sources(settings, source="gmail")[0]
            started = time.perf_counter()
            result = sync_account(con, source, pseudonym_key=None)
            elapsed = time.perf_counter() - started
            spent = fake.control("stats")["spent"].get(OWNER, 0.0) - before
            return elapsed, spent, sum(result.inserted.values())

        full_time, full_units, full_rows = sync()
        needed = (
            COSTS["gmail.getProfile"]
            + COSTS["gmail.messages.list"] * math.ceil(messages / 500)
            + COSTS["gmail.messages.get"] * messages
            + COSTS["gmail.history.list"]
        )
        floor = needed / rate
        fake.control("add_mail", email=OWNER, count=new, seed=7)
        incr_time, incr_units, incr_rows = sync()
        incr_floor = (COSTS["gmail.history.list"] * math.ceil(new / 500) + COSTS["gmail.messages.get"] * new) / rate
        stats = fake.control("stats")
        stored = con.execute("select count(*) from raw.gmail_messages").fetchall()[0][0]
        con.close()
    finally:
        fake.stop()

    rows = [
        [
            f"full sync, {messages:,} messages",
            f"{full_rows:,}",
            f"{full_units:,.0f}",
            f"{full_time:.1f}",
            f"{floor:.1f}",
            f"{floor / full_time:.1%}",
        ],
        [
            f"incremental, {new:,} new",
            f"{incr_rows:,}",
            f"{incr_units:,.0f}",
            f"{incr_time:.1f}",
            f"{incr_floor:.1f}",
            f"{incr_floor / incr_time:.1%}",
        ],
    ]
    header = ["run", "rows added", "units spent", "time (s)", "quota floor (s)", "floor / time"]
    lines = [
        f"Quota in the fake: {units_per_minute:,.0f} units per user per minute ({rate:,.0f}/s, sliding 60 s window); "
        f"messages.get costs {COSTS['gmail.messages.get']:.0f} units, "
        f"messages.list {COSTS['gmail.messages.list']:.0f}, "
        f"history.list {COSTS['gmail.history.list']:.0f}; batches of {batch_size}; the client's pacer spends 95% "
        "of the quota.",
        "",
        markdown_table(header, rows),
        "",
        f"Refused by the quota meter: {stats['rejections']} calls; peak units in any 60 s window: "
        f"{stats['peak']:,.0f} of {units_per_minute:,.0f}. Rows stored: {stored:,}. "
        f"Peak memory: {peak_rss_mb():.0f} MB.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--new", type=int, default=1_000)
    parser.add_argument("--units-per-minute", type=float, default=270_000)
    parser.add_argument("--batch-size", type=int, default=25)
    args = parser.parse_args()
    print(run(args.messages, args.new, args.units_per_minute, args.batch_size))


if __name__ == "__main__":
    main()
