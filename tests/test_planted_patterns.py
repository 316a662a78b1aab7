"""The planted patterns of the sample organisation, found on several seeds (not only the default one).

Each seed is generated, imported and analysed in process (the SQL models and the analysis chain the refresh runs,
without Dagster; tests/test_pipeline_e2e.py runs seed 7 through Dagster). Precision of neglected-tie alerts is
counted against every relationship the generator fades (``truth.json``'s ``faded``: the planted fading ties in
both directions, the narrowing person's ties outside the team, external contacts whose activity ends, meeting
series that end, cadences the data does not keep); recall against the planted fading ties. Figures per seed:
docs/metrics.md.
"""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest

from benchmarks.sample_warehouse import sample_warehouse
from tiepulse.pipelines.analytics import AnalyticsParams, analyse_network
from tiepulse.pipelines.marts_io import publish
from tiepulse.pipelines.network_io import INTERACTIONS, interactions_from_staging, read_network_inputs

pytestmark = pytest.mark.slow

SEEDS = (5, 11, 23)
"""Seeds the defaults were not tuned on first (seed 7, the demo's, is the e2e test's)."""


@pytest.fixture(scope="module", params=SEEDS)
def found(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp(f"seed{request.param}")
    with sample_warehouse(root, request.param) as sample:
        params = AnalyticsParams()
        publish(sample.con, INTERACTIONS, interactions_from_staging(sample.con, params)[0])
        alerts = analyse_network(read_network_inputs(sample.con), sample.settings.as_of, params).alerts
        truth = sample.truth
    return {"truth": truth, "alerts": alerts}


def _alerted(found: dict[str, Any], kind: str) -> set[tuple[str, str]]:
    rows = found["alerts"].filter(pl.col("kind") == kind).select("ego_id", "alter_id").rows()
    return {(e, a) for e, a in rows}


def _precision_recall(alerted: set[Any], right: set[Any], planted: set[Any]) -> tuple[float, float]:
    precision = len(alerted & right) / len(alerted) if alerted else 1.0
    return precision, len(alerted & planted) / len(planted)


def test_neglected_ties(found: dict[str, Any]) -> None:
    truth = found["truth"]
    planted = {(t["ego"], t["alter"]) for t in truth["fading_ties"]}
    faded = {(t["ego"], t["alter"]) for t in truth["faded"]}
    precision, recall = _precision_recall(_alerted(found, "neglected_tie"), faded, planted)
    assert precision >= 0.8 and recall >= 0.9, (precision, recall)


def test_one_sided_ties(found: dict[str, Any]) -> None:
    planted = {(t["ego"], t["alter"]) for t in found["truth"]["one_sided_ties"]}
    precision, recall = _precision_recall(_alerted(found, "one_sided_tie"), planted, planted)
    assert precision >= 0.8 and recall >= 0.9, (precision, recall)


@pytest.mark.parametrize(("kind", "key"), [("overload", "burst"), ("narrowing", "narrowing")])
def test_network_alerts(found: dict[str, Any], kind: str, key: str) -> None:
    planted = {item["ego"] for item in found["truth"][key]}
    precision, recall = _precision_recall({e for e, _ in _alerted(found, kind)}, planted, planted)
    assert precision >= 0.8 and recall >= 0.9, (precision, recall)
