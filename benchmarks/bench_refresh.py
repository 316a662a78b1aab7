"""`tiepulse refresh` of the Enron warehouse, whole process, against a floor measured in the same run.

The floor is `tiepulse sql "select 1"`: the same interpreter, CLI and warehouse open, no work. Three refreshes are
timed, each running every quality check (Great Expectations) and row-count check: with nothing new (the everyday
second run), after a small import (a few new messages in one mailbox, imported with ``--no-refresh`` untimed just
before), and ``--full`` (every model, ONA month and report rebuilt). All are whole processes, alternating, and the
medians are compared. The warehouse is imported first (that import refreshes once, which the timings leave out).
Run: `python -m benchmarks.bench_refresh [--runs 5] [--home DIR]` (``--home``: an Enron warehouse imported already;
the small imports are added to it).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
from pathlib import Path

from benchmarks.common import markdown_table, tiepulse_seconds

ENRON = Path(__file__).resolve().parents[2] / "shared" / "data" / "enron" / "sent_mail"
AS_OF = "2001-12-01"
TARGET_SECONDS = 6.0
"""Issue 11: a refresh of the Enron warehouse takes at most this long on a quiet machine."""


CPU: dict[str, list[float]] = {}
"""CPU seconds (user + system) of each timed refresh's process tree, by case: steadier than wall clock under load."""


def _run(home: Path, *args: str) -> float:
    return tiepulse_seconds(home, *args, env={"TIEPULSE_AS_OF": AS_OF})


def _timed_refresh(home: Path, case: str, *args: str) -> float:
    """Wall seconds of one ``tiepulse refresh ARGS``; its tree's CPU seconds go to ``CPU[case]``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    seconds = _run(home, "refresh", *args)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU.setdefault(case, []).append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return seconds


SMALL_IMPORT = 10
"""Messages in each small import: a day of one person's sent mail."""
OWNER = "phillip.allen@enron.com"


def _small_import(home: Path, folder: Path, run: int) -> None:
    """``SMALL_IMPORT`` new messages from one Enron mailbox owner, dated the day before the analysis date."""
    mbox = folder / f"new-{run}.mbox"
    mbox.write_text(
        "".join(
            f"From MAILER-DAEMON Fri Nov 30 09:00:00 2001\nMessage-ID: <bench-{run}-{n}@tiepulse.invalid>\n"
            f"Date: Fri, 30 Nov 2001 09:{n:02d}:00 -0800\nFrom: {OWNER}\nTo: john.arnold@enron.com\n"
            "Subject: bench\n\nbody\n\n"
            for n in range(SMALL_IMPORT)
        )
    )
    _run(home, "import", str(mbox), "--owner", OWNER, "--no-refresh")


def _measure(home: Path, runs: int, scratch: Path) -> list[list[object]]:
    floors: list[float] = []
    small = f"after importing {SMALL_IMPORT} messages"
    timings: dict[str, list[float]] = {"nothing new": [], small: [], "--full": []}
    _run(home, "refresh")  # untimed: the warehouse as a refresh leaves it (a --home may come from older code)
    for run in range(runs):
        floors.append(_run(home, "sql", "select 1"))
        timings["nothing new"].append(_timed_refresh(home, "nothing new"))
        _small_import(home, scratch, run)
        timings[small].append(_timed_refresh(home, small))
        timings["--full"].append(_timed_refresh(home, "--full", "--full"))
    floor = statistics.median(floors)
    rows: list[list[object]] = []
    for case, seconds in timings.items():
        refresh = statistics.median(seconds)
        rows.append(
            [
                case,
                f"{floor:.2f}",
                f"{refresh:.2f}",
                f"{min(seconds):.2f} - {max(seconds):.2f}",
                f"{refresh / floor:.1f}x",
                f"{statistics.median(CPU[case]):.2f}",
                f"{'yes' if refresh <= TARGET_SECONDS else 'no'} (<= {TARGET_SECONDS:.0f} s)",
            ]
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="timed runs of each command (medians reported)")
    parser.add_argument("--home", type=Path, help="TIEPULSE_HOME of an Enron warehouse imported already")
    args = parser.parse_args()
    if args.home is None and not ENRON.is_dir():
        print(f"Skipped: no Enron sample at {ENRON} (pass --home DIR of an imported Enron warehouse).")
        return
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="tiepulse-bench-refresh-") as tmp:
        home = args.home or Path(tmp)
        if args.home is None:
            _run(home, "import", str(ENRON))
        rows = _measure(home, args.runs, Path(tmp))
    print(
        f"\nEnron refresh, whole process, median of {args.runs}, {os.cpu_count()} cores, "
        f"load average {load_before:.1f} before / {os.getloadavg()[0]:.1f} after\n"
    )
    header = ["refresh", "floor: sql select 1 (s)", "refresh (s)", "range (s)", "ratio", "CPU s (tree)", "target"]
    print(markdown_table(header, rows))


if __name__ == "__main__":
    main()
