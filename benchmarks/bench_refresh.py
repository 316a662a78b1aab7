"""`tiepulse refresh` of the Enron warehouse, whole process, against a floor measured in the same run.

The floor is `tiepulse sql "select 1"`: the same interpreter, CLI and warehouse open, no work. The refresh rebuilds
every SQL model and Polars mart and runs every quality check (Great Expectations) and row-count check. Both are
timed as whole processes, alternating, and the medians are compared. The warehouse is imported first (that import
refreshes once, which the timings leave out). Run:
`python -m benchmarks.bench_refresh [--runs 5] [--home DIR]` (``--home``: an Enron warehouse imported already).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path

from benchmarks.common import markdown_table, tiepulse_seconds

ENRON = Path(__file__).resolve().parents[2] / "shared" / "data" / "enron" / "sent_mail"
AS_OF = "2001-12-01"
TARGET_SECONDS = 6.0
"""Issue 11: a refresh of the Enron warehouse takes at most this long on a quiet machine."""


def _run(home: Path, *args: str) -> float:
    return tiepulse_seconds(home, *args, env={"TIEPULSE_AS_OF": AS_OF})


def _measure(home: Path, runs: int) -> list[list[object]]:
    floors, refreshes = [], []
    for _ in range(runs):
        floors.append(_run(home, "sql", "select 1"))
        refreshes.append(_run(home, "refresh"))
    floor, refresh = statistics.median(floors), statistics.median(refreshes)
    return [
        [
            f"{floor:.2f}",
            f"{refresh:.2f}",
            f"{min(refreshes):.2f} - {max(refreshes):.2f}",
            f"{refresh / floor:.1f}x",
            f"{refresh - floor:.2f}",
            f"{'yes' if refresh <= TARGET_SECONDS else 'no'} (<= {TARGET_SECONDS:.0f} s)",
        ]
    ]


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
        rows = _measure(home, args.runs)
    print(
        f"\nEnron refresh, whole process, median of {args.runs}, {os.cpu_count()} cores, "
        f"load average {load_before:.1f} before / {os.getloadavg()[0]:.1f} after\n"
    )
    header = ["floor: sql select 1 (s)", "refresh (s)", "refresh range (s)", "ratio", "above floor (s)", "target"]
    print(markdown_table(header, rows))


if __name__ == "__main__":
    main()
