"""The everyday read path as whole processes: `tiepulse health --ego X` against `tiepulse sql "select 1"`.

Both run on the demo warehouse (the sample organisation, built once with `tiepulse demo` when ``--home`` holds no
warehouse yet), each as its own process started from the installed `tiepulse` entry point, alternately, so both
see the same machine load. One unmeasured run of each warms the page cache; then ``--runs`` of each are timed
(wall clock, start to exit) and the medians compared. The baseline pays what every command pays (Python, typer,
rich, settings, opening DuckDB); the ratio is what reading and rendering a network report adds to it.
Run: ``python -m benchmarks.bench_cli [--home DIR] [--ego EMAIL] [--runs 5]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.common import TIEPULSE, markdown_table, tiepulse_seconds

BASELINE = ["sql", "select 1"]
DEFAULT_EGO = "carlos.dvorak@northwind.example"
"""An ego of the sample organisation (seed 7)."""


def ensure_demo(home: Path, env: dict[str, str]) -> None:
    if (home / "warehouse.duckdb").exists():
        return
    print(f"building the demo warehouse in {home} (a minute or two) ...", file=sys.stderr, flush=True)
    subprocess.run(
        [str(TIEPULSE), "demo", "--dir", str(home / "sample")], env=env, check=True, stdout=subprocess.DEVNULL
    )


def measure(home: Path, ego: str, runs: int) -> dict[str, list[float]]:
    env = {**os.environ, "TIEPULSE_HOME": str(home)}
    env.pop("TIEPULSE_CONFIG", None)
    ensure_demo(home, env)
    commands = {'sql "select 1"': BASELINE, f"health --ego {ego}": ["health", "--ego", ego]}
    times: dict[str, list[float]] = {name: [] for name in commands}
    for round_ in range(runs + 1):
        for name, args in commands.items():
            seconds = tiepulse_seconds(home, *args)
            if round_:  # the first round only warms the page cache
                times[name].append(seconds)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, help="TIEPULSE_HOME holding the demo warehouse (built when absent)")
    parser.add_argument("--ego", default=DEFAULT_EGO)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tiepulse-bench-cli-") as scratch:
        times = measure(args.home or Path(scratch), args.ego, args.runs)
    baseline = statistics.median(next(iter(times.values())))
    rows = [
        [
            f"`tiepulse {name}`",
            f"{statistics.median(values):.2f}",
            f"{min(values):.2f}",
            f"{max(values):.2f}",
            f"{statistics.median(values) / baseline:.2f}x",
        ]
        for name, values in times.items()
    ]
    print(markdown_table(["command (whole process)", "median s", "min s", "max s", "vs baseline"], rows))
    print(f"\n{args.runs} runs each, alternating, after one warm-up run each; load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
