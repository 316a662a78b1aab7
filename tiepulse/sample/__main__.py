"""``python -m tiepulse.sample DIR [--seed N]``: write the sample organisation without the main CLI."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

from tiepulse.sample import generate_sample


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tiepulse.sample", description=__doc__)
    parser.add_argument("directory", type=Path, help="where to write the files (created if missing)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--end", type=dt.date.fromisoformat, default=dt.date(2026, 6, 30), help="last day (ISO)")
    parser.add_argument("--months", type=int, default=18)
    parser.add_argument("--people", type=int, default=150)
    parser.add_argument("--externals", type=int, default=300)
    args = parser.parse_args(argv)

    def progress(done: int, total: int) -> None:
        print(f"\r{done}/{total}", end="", file=sys.stderr, flush=True)

    began = time.perf_counter()
    try:
        summary = generate_sample(
            args.directory,
            seed=args.seed,
            end=args.end,
            months=args.months,
            people=args.people,
            externals=args.externals,
            on_progress=progress,
        )
    except ValueError as exc:
        print(f"\nerror: {exc}", file=sys.stderr)
        return 2
    seconds = time.perf_counter() - began
    print(
        f"\n{summary.out_dir}: {summary.people} people, {summary.externals} externals, "
        f"{summary.messages} messages ({summary.mailbox_copies} mailbox copies), "
        f"{summary.events} calendar events ({summary.event_copies} copies), "
        f"{summary.manual_log_rows} manual log rows, {summary.start} to {summary.end}, in {seconds:.1f} s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
