"""Outlook sync against the throttled HTTPS fake: 100,000 messages (Inbox + SentItems) in one mailbox.

The fake (in its own process) allows ``--rate`` requests per second per mailbox with bursts of ``--burst`` and
answers 429 beyond that, and answers each request ``--latency`` seconds late (a real round trip); the client is
told the same budget and paces itself just under it. The floor is the longer of what the throttle alone imposes,
(requests needed - burst) / rate, and what the round trips impose, the pages of one folder times the latency (a
folder's pages are sequential; folders are read side by side). The ratio is floor / measured (1.0 = as fast as
the fake allows). Run: ``python -m benchmarks.bench_microsoft``; prints a markdown table.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import os
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from benchmarks.common import markdown_table, peak_rss_mb

MAILBOX = "bench@contoso.com"


def _serve(conn: Connection, folder: str, messages: int, rate: float, burst: float, latency: float) -> None:
    from tests.fakes.microsoft_server import FakeMicrosoft, Throttle, message

    throttle = Throttle(concurrency=4, rate=rate, burst=burst, retry_after="fraction")
    fake = FakeMicrosoft(Path(folder), throttle=throttle, latency=latency)
    half = messages // 2
    for folder_name, prefix in (("inbox", "i"), ("sentitems", "s")):
        items = []
        for n in range(half):
            peer = f"p{n % 997}@fabrikam.com"
            sender, to = (peer, [MAILBOX]) if prefix == "i" else (MAILBOX, [peer])
            sent = f"2024-{1 + n % 12:02d}-{1 + n % 28:02d}T{n % 24:02d}:{n % 60:02d}:00Z"
            items.append(message(f"{prefix}{n}", f"{prefix}{n}@bench", sender, to, ["cc@fabrikam.com"], sent=sent))
        fake.put_messages(MAILBOX, folder_name, items)
    fake.start()
    conn.send(fake.env())
    conn.recv()  # "stats"
    stats = fake.stats(MAILBOX)
    conn.send(
        {
            "requests": stats.requests,
            "max_inflight": stats.max_inflight,
            "throttled": stats.throttled_budget + stats.throttled_concurrency,
        }
    )
    conn.recv()  # "stop"
    fake.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--page-size", type=int, default=250)
    parser.add_argument("--rate", type=float, default=5.0, help="fake budget: requests per second per mailbox")
    parser.add_argument("--burst", type=float, default=10.0)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds the fake takes to answer a request")
    parser.add_argument("--no-pace", action="store_true", help="client ignores the budget and relies on 429s")
    args = parser.parse_args()

    from tiepulse.core.settings import Settings
    from tiepulse.core.warehouse import connect
    from tiepulse.pipelines.providers.microsoft import microsoft_sources
    from tiepulse.pipelines.sync import sync_account

    work = Path(tempfile.mkdtemp(prefix="bench-ms-"))
    parent, child = mp.Pipe()
    server = mp.get_context("spawn").Process(
        target=_serve,
        args=(child, str(work / "tls"), args.messages, args.rate, args.burst, args.latency),
        daemon=True,
    )
    server.start()
    env: dict[str, str] = parent.recv()
    pace = 1.0 if args.no_pace else 0.98
    config = work / "tiepulse.yaml"
    import yaml

    config.write_text(
        yaml.safe_dump(
            {
                "microsoft": {
                    "mailboxes": [MAILBOX],
                    "page_size": args.page_size,
                    # paced just under the fake's budget (x1000 = no pacing: run into the 429s)
                    "requests_per_window": int(args.rate * pace * 100 * (1000 if args.no_pace else 1)),
                    "window_seconds": 100.0,
                    "pace_burst": max(1, int(args.burst) - 1),
                },
                "imports": {"earliest_plausible_date": "2000-01-01"},
            }
        )
    )
    os.environ.update(env)
    os.environ.update(
        {"TIEPULSE_HOME": str(work / "home"), "TIEPULSE_CONFIG": str(config), "TIEPULSE_AS_OF": "2024-12-31"}
    )
    settings = Settings()
    con = connect(settings.warehouse_path)
    pages = 0

    def on_page(stream: str, result: Any) -> None:
        nonlocal pages
        pages += 1

    started = time.perf_counter()
    for src in microsoft_sources(settings, source="outlook"):
        sync_account(con, src, pseudonym_key=None, on_page=on_page)
    elapsed = time.perf_counter() - started
    row = con.execute("select count(*) from raw.graph_messages").fetchone()
    stored = int(row[0]) if row else 0
    con.close()
    parent.send("stats")
    stats = parent.recv()
    parent.send("stop")
    server.join(timeout=10)

    half = args.messages // 2
    per_folder = max(1, math.ceil(half / args.page_size))
    throttle_floor = max(0.0, 2 * per_folder - args.burst) / args.rate
    latency_floor = per_folder * args.latency
    floor = max(throttle_floor, latency_floor)
    ratio = floor / elapsed if elapsed else 0.0
    print(
        markdown_table(
            [
                "messages stored",
                "page size",
                "requests",
                "fake throttle",
                "latency (s)",
                "throttle floor (s)",
                "latency floor (s)",
                "sync (s)",
                "messages/s",
                "floor messages/s",
                "ratio",
                "429s",
                "max in flight",
                "peak RSS (MB)",
            ],
            [
                [
                    f"{stored:,}",
                    args.page_size,
                    stats["requests"],
                    f"{args.rate:g} req/s, burst {args.burst:g}",
                    f"{args.latency:g}",
                    f"{throttle_floor:.1f}",
                    f"{latency_floor:.1f}",
                    f"{elapsed:.1f}",
                    f"{stored / elapsed:,.0f}",
                    f"{args.messages / floor:,.0f}" if floor else "-",
                    f"{ratio:.0%}",
                    stats["throttled"],
                    stats["max_inflight"],
                    f"{peak_rss_mb():.0f}",
                ]
            ],
        )
    )
    if stored != args.messages:
        raise SystemExit(f"expected {args.messages} messages, stored {stored}")


if __name__ == "__main__":
    main()
