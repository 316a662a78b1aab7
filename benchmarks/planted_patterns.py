"""Precision and recall of the four alert kinds against the sample's planted patterns, seed by seed.

For each seed: generate the sample, import it, build the SQL models and the interactions, run the analysis chain
as of the sample's last day with the default parameters, and count the alerts against ``truth.json`` as
``tests/test_planted_patterns.py`` does (neglected ties: precision against every relationship the generator fades,
recall against the planted fading ties; one-sided, overload and narrowing against their planted lists). Prints
one JSON line per seed (with the false positives and the misses by name) and a markdown table.

Run: ``python -m benchmarks.planted_patterns --seeds 1 2 3 4 5 6 7 8 9 10``. ``--keep DIR`` keeps each seed's
warehouse under ``DIR/seed<N>`` and re-analyses it on the next run instead of generating and importing again.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import polars as pl

from benchmarks.common import markdown_table
from benchmarks.sample_warehouse import sample_warehouse
from tiepulse.pipelines.analytics import AnalyticsParams, analyse_network
from tiepulse.pipelines.marts_io import publish
from tiepulse.pipelines.network_io import INTERACTIONS, interactions_from_staging, read_network_inputs

KINDS = ("neglected_tie", "one_sided_tie", "overload", "narrowing")


def score(alerts: pl.DataFrame, truth: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per alert kind: alerted, right, planted, found, precision, recall, and the wrong and missed items."""

    def pairs(key: str) -> set[Any]:
        return {(t["ego"], t["alter"]) for t in truth[key]}

    def egos(key: str) -> set[Any]:
        return {t["ego"] for t in truth[key]}

    def alerted(kind: str, per_ego: bool) -> set[Any]:
        rows = alerts.filter(pl.col("kind") == kind).select("ego_id", "alter_id").rows()
        return {e for e, _ in rows} if per_ego else set(rows)

    expected = {
        "neglected_tie": (alerted("neglected_tie", False), pairs("faded"), pairs("fading_ties")),
        "one_sided_tie": (alerted("one_sided_tie", False), pairs("one_sided_ties"), pairs("one_sided_ties")),
        "overload": (alerted("overload", True), egos("burst"), egos("burst")),
        "narrowing": (alerted("narrowing", True), egos("narrowing"), egos("narrowing")),
    }
    result = {}
    for kind, (got, right, planted) in expected.items():
        result[kind] = {
            "alerted": len(got),
            "right": len(got & right),
            "planted": len(planted),
            "found": len(got & planted),
            "precision": len(got & right) / len(got) if got else 1.0,
            "recall": len(got & planted) / len(planted),
            "wrong": sorted(map(str, got - right)),
            "missed": sorted(map(str, planted - got)),
        }
    return result


@contextmanager
def _seed_root(keep: Path | None, seed: int) -> Iterator[Path]:
    if keep is not None:
        root = keep / f"seed{seed}"
        root.mkdir(parents=True, exist_ok=True)
        yield root
        return
    with tempfile.TemporaryDirectory(prefix=f"tiepulse-planted-{seed}-") as tmp:
        yield Path(tmp)


def measure(root: Path, seed: int, reuse: bool) -> dict[str, Any]:
    with sample_warehouse(root, seed, reuse=reuse) as sample:
        params = AnalyticsParams()
        publish(sample.con, INTERACTIONS, interactions_from_staging(sample.con, params)[0])
        alerts = analyse_network(read_network_inputs(sample.con), sample.settings.as_of, params).alerts
        return {"seed": seed, **score(alerts, sample.truth)}


def _cell(kind: dict[str, Any]) -> str:
    return (
        f"{kind['right']}/{kind['alerted']} = {kind['precision']:.2f} "
        f"(recall {kind['found']}/{kind['planted']} = {kind['recall']:.2f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(1, 11)))
    parser.add_argument("--keep", type=Path, default=None, help="keep (and reuse) each seed's warehouse here")
    args = parser.parse_args()
    rows = []
    for seed in args.seeds:
        with _seed_root(args.keep, seed) as root:
            r = measure(root, seed, reuse=args.keep is not None)
        print(json.dumps(r), flush=True)
        rows.append([seed, *(_cell(r[kind]) for kind in KINDS)])
    print(markdown_table(["seed", *KINDS], rows))


if __name__ == "__main__":
    main()
