"""Organisational network analysis as Dagster assets: the people, groups, group matrix and monthly summary marts.

One step builds the four from the interactions and the directory (``analytics.org_marts``), publishes each
atomically with its checks (keys, ranges, the privacy threshold) and its column schema and row count as metadata.
Only the months whose 90-day window (or the people, the egos, the options) changed are computed again
(``pipelines/org_reuse.py``); 'current' always is.
"""

from collections.abc import Iterator

import dagster as dg
import duckdb
import polars as pl

from tiepulse.pipelines import network_io as tables
from tiepulse.pipelines.analytics.org_marts import compute_org, org_options
from tiepulse.pipelines.assets.table_metadata import table_metadata
from tiepulse.pipelines.checks import check_specs, polars_table_checks, start_checks
from tiepulse.pipelines.marts_io import comment_table, publish, read_table, table_exists
from tiepulse.pipelines.org_reuse import published_periods, record_periods
from tiepulse.pipelines.resources import WAREHOUSE_POOL, WarehouseResource

ONA_TABLES = (tables.ORG_PEOPLE, tables.ORG_GROUPS, tables.GROUP_MATRIX, tables.ORG_SUMMARY)
DESCRIPTIONS = {
    tables.ORG_PEOPLE: "One row per person and period (current, YYYY-MM): degrees, betweenness, harmonic centrality, "
    "PageRank, clustering, stable Leiden community, bridge score, Gould-Fernandez role, broker and key-person flags.",
    tables.ORG_GROUPS: "One row per group and period (team, department, org unit, location, community): size, "
    "internal density, E-I index, outside share, bridging people, key-person risk; under the privacy threshold.",
    tables.GROUP_MATRIX: "Group-to-group messages, meeting hours and distinct ties per period (groups shown only).",
    tables.ORG_SUMMARY: "The organisation graph per month: size, density, clustering, modularity, communities, "
    "giant component, reciprocity, path length, median health, communities vs teams (NMI, ARI).",
}


def _key(table: str) -> dg.AssetKey:
    return dg.AssetKey(table.split("."))


def _previous_labels(con: duckdb.DuckDBPyConnection) -> pl.DataFrame | None:
    if not table_exists(con, tables.ORG_PEOPLE):
        return None
    return read_table(con, f"(select period, person_id, community_id from {tables.ORG_PEOPLE}) p")


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            _key(table),
            deps=[_key(t) for t in (*tables.ORG_INPUTS, tables.NETWORK_HEALTH)],
            description=DESCRIPTIONS[table],
            group_name="marts",
            kinds={"igraph", "polars", "duckdb"},
        )
        for table in ONA_TABLES
    ],
    check_specs=[spec for table in ONA_TABLES for spec in check_specs(polars_table_checks(table))],
    pool=WAREHOUSE_POOL,
    can_subset=False,
)
def org_network(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> Iterator[dg.MaterializeResult]:
    settings = warehouse.settings()
    options = org_options(settings)
    with warehouse.connect() as con:
        ties, persons, egos = tables.read_org_inputs(con)
        marts = compute_org(
            ties,
            persons,
            egos,
            settings.as_of,
            options,
            _previous_labels(con),
            read_table(con, f"(select period, month, health_score from {tables.NETWORK_HEALTH}) h"),
            published_periods(con),
        )
        frames = {
            tables.ORG_PEOPLE: marts.people,
            tables.ORG_GROUPS: marts.groups,
            tables.GROUP_MATRIX: marts.matrix,
            tables.ORG_SUMMARY: marts.summary,
        }
        results = []
        for table, frame in frames.items():
            publish(con, table, frame)
            comment_table(con, table, DESCRIPTIONS[table] + _group_note(table, marts.groups, options.min_group_size))
            checks = start_checks(con, polars_table_checks(table), settings.as_of, context)
            results.append((table, table_metadata(con, table), checks))
        record_periods(con, marts.fingerprints)
    for table, built, checks in results:
        metadata = {**built, "periods_recomputed": len(marts.recomputed), "periods": len(marts.fingerprints)}
        yield dg.MaterializeResult(asset_key=_key(table), metadata=metadata, check_results=checks.results())


def _group_note(table: str, groups: pl.DataFrame, min_group_size: int) -> str:
    """Why a group object is empty: the organisation is smaller than the privacy threshold."""
    if table in (tables.ORG_GROUPS, tables.GROUP_MATRIX) and groups.is_empty():
        return f" Empty: the organisation has fewer than privacy.min_group_size = {min_group_size} people."
    return ""


ona_assets = [org_network]
