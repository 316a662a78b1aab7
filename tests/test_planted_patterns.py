"""The planted patterns of the sample organisation, found on several seeds (not only the default one).

Each seed is generated, imported and analysed in process (the SQL models and the analysis chain the refresh runs,
without Dagster; tests/test_pipeline_e2e.py runs seed 7 through Dagster). Precision of neglected-tie alerts is
counted against every relationship the generator fades (``truth.json``'s ``faded``: the planted fading ties in
both directions, the narrowing person's ties outside the team, external contacts whose activity ends, meeting
series that end, cadences the data does not keep); recall against the planted fading ties
(``benchmarks.planted_patterns.score``; ``python -m benchmarks.planted_patterns`` prints the same figures for any
seeds). Figures per seed: docs/metrics.md.
"""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks.planted_patterns import KINDS, score
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


@pytest.mark.parametrize("kind", KINDS)
def test_alerts_find_the_planted_patterns(found: dict[str, Any], kind: str) -> None:
    scored = score(found["alerts"], found["truth"])[kind]
    assert scored["precision"] >= 0.8 and scored["recall"] >= 0.9, scored
