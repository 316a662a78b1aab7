"""The analytics core: pure Polars functions (DataFrame or LazyFrame in, DataFrame out), no Dagster, no DuckDB.

Order of use: ``build_interaction_records`` -> ``analyse_network`` (``chain``: participants, ties, co-occurrence edges,
network health and alerts at one date; what was observed of each ego from ``observe_egos``) -> ``describe_network``;
``compute_ties_monthly`` for the monthly history of ties.
Formulas and defaults: docs/metrics.md.
"""

from tiepulse.core.params import AnalyticsParams, AnalyticsParamsError
from tiepulse.pipelines.analytics.alerts import ALERT_COLUMNS, STATE_SCHEMA, alert_id, compute_alerts, dismiss, snooze
from tiepulse.pipelines.analytics.brokerage import (
    burt_constraint,
    cooccurrence_edges,
    effective_size,
    ego_network_edges,
    record_participants,
    structural_holes,
)
from tiepulse.pipelines.analytics.chain import NetworkAnalysis, NetworkInputs, analyse_network, network_health
from tiepulse.pipelines.analytics.coverage import OBSERVATION_SCHEMA, observe_egos
from tiepulse.pipelines.analytics.diversity import compute_diversity
from tiepulse.pipelines.analytics.health import HEALTH_COLUMNS, compute_network_health
from tiepulse.pipelines.analytics.interactions import (
    EXCLUSION_SCHEMA,
    INTERACTION_SCHEMA,
    build_interaction_records,
    summarise_exclusions,
)
from tiepulse.pipelines.analytics.monthly import MONTHLY_COLUMNS, compute_ties_monthly
from tiepulse.pipelines.analytics.narrative import Narrative, describe_network
from tiepulse.pipelines.analytics.ties import TIE_COLUMNS, compute_ties

__all__ = [
    "ALERT_COLUMNS",
    "EXCLUSION_SCHEMA",
    "HEALTH_COLUMNS",
    "INTERACTION_SCHEMA",
    "MONTHLY_COLUMNS",
    "OBSERVATION_SCHEMA",
    "STATE_SCHEMA",
    "TIE_COLUMNS",
    "AnalyticsParams",
    "AnalyticsParamsError",
    "Narrative",
    "NetworkAnalysis",
    "NetworkInputs",
    "alert_id",
    "analyse_network",
    "build_interaction_records",
    "burt_constraint",
    "compute_alerts",
    "compute_diversity",
    "compute_network_health",
    "compute_ties",
    "compute_ties_monthly",
    "cooccurrence_edges",
    "describe_network",
    "dismiss",
    "effective_size",
    "ego_network_edges",
    "network_health",
    "observe_egos",
    "record_participants",
    "snooze",
    "structural_holes",
    "summarise_exclusions",
]
