"""`make bench`: every benchmark in turn; each prints a markdown table with its floor and ratio."""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = [
    "benchmarks.bench_import",
    "benchmarks.bench_analytics",
    "benchmarks.bench_ona",
    "benchmarks.bench_refresh",
    "benchmarks.bench_google",
    "benchmarks.bench_microsoft",
    "benchmarks.bench_fanout",
    "benchmarks.bench_cli",
    "benchmarks.bench_org",
]


def main() -> None:
    for name in BENCHMARKS:
        print(f"\n## {name}\n", flush=True)
        module = importlib.import_module(name)
        sys.argv = [name]
        module.main()


if __name__ == "__main__":
    main()
