"""The sample organisation's planted brokers against ONA betweenness, for several sample seeds.

For each seed: generate the sample, import it, build the SQL models and the interactions, and analyse the 'current'
graph (the 90 days to the sample's analysis date). Prints, per seed, the planted brokers' betweenness ranks and the
precision and recall of ``is_broker``. Run: ``python -m benchmarks.ona_planted_brokers --seeds 7 1 2 3``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
from pathlib import Path
from typing import Any

import polars as pl

from benchmarks.common import markdown_table
from benchmarks.sample_warehouse import sample_warehouse
from tiepulse.core.params import params_for
from tiepulse.pipelines.analytics.org_graph import build_org_graph, period_window
from tiepulse.pipelines.analytics.org_marts import OrgOptions, analyse_period
from tiepulse.pipelines.marts_io import read_table
from tiepulse.pipelines.network_io import EGOS, PERSONS, interactions_from_staging
from tiepulse.pipelines.org_ties import WindowTies


def measure(root: Path, seed: int) -> dict[str, Any]:
    with sample_warehouse(root, seed) as sample:
        truth = sample.truth
        interactions, _ = interactions_from_staging(sample.con, params_for(sample.settings))
        egos = [r[0] for r in sample.con.execute(f"select ego_id from {EGOS}").fetchall()]
        start, end = period_window(dt.date.fromisoformat(truth["as_of"]), 90)
        persons = read_table(sample.con, PERSONS)
        graph = build_org_graph(WindowTies.of_frame(interactions).ties(start, end), persons, egos, "exclude")
    people = analyse_period(graph, "current", OrgOptions(), None, has_teams=True).people
    brokers = {b["person"] for b in truth["brokers"]}
    ranked = people.sort(["betweenness", "person_id"], descending=[True, False]).get_column("person_id").to_list()
    flagged = set(people.filter(pl.col("is_broker")).get_column("person_id").to_list())
    hits = len(brokers & flagged)
    return {
        "seed": seed,
        "people": graph.n,
        "ranks": sorted(ranked.index(b) + 1 for b in brokers),
        "flagged": len(flagged),
        "precision": hits / len(flagged),
        "recall": hits / len(brokers),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 1, 2, 3])
    args = parser.parse_args()
    rows = []
    for seed in args.seeds:
        with tempfile.TemporaryDirectory(prefix=f"tiepulse-ona-brokers-{seed}-") as tmp:
            r = measure(Path(tmp), seed)
        rows.append(
            [r["seed"], r["people"], ", ".join(map(str, r["ranks"])), r["flagged"], r["precision"], r["recall"]]
        )
        print(json.dumps(r), flush=True)
    print(markdown_table(["seed", "people", "broker ranks", "flagged", "precision", "recall"], rows))


if __name__ == "__main__":
    main()
