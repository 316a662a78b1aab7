"""The introductions mart as a Dagster asset: built on the 'current' organisation graph after the ONA marts, with
their communities, checked, its column schema and row count as metadata."""

import dagster as dg

from tiepulse.pipelines import network_io as tables
from tiepulse.pipelines.analytics.introductions import introductions_as_of
from tiepulse.pipelines.analytics.org_columns import CURRENT
from tiepulse.pipelines.analytics.org_marts import org_options
from tiepulse.pipelines.assets.table_metadata import table_metadata
from tiepulse.pipelines.checks import check_specs, polars_table_checks, start_checks
from tiepulse.pipelines.marts_io import comment_table, publish, read_table
from tiepulse.pipelines.resources import WAREHOUSE_POOL, WarehouseResource

DESCRIPTION = (
    "One row per ego and suggested person: people two steps away in a community or team the ego does not reach, "
    "the ego's contact who can introduce them, ranked, with a plain reason (docs/metrics.md, Introductions)."
)


def _key(table: str) -> dg.AssetKey:
    return dg.AssetKey(table.split("."))


@dg.asset(
    key=_key(tables.INTRODUCTIONS),
    deps=[_key(t) for t in (*tables.ORG_INPUTS, tables.ORG_PEOPLE)],
    description=DESCRIPTION,
    group_name="marts",
    kinds={"polars", "duckdb"},
    check_specs=check_specs(polars_table_checks(tables.INTRODUCTIONS)),
    pool=WAREHOUSE_POOL,
)
def mart_introductions(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    settings = warehouse.settings()
    with warehouse.connect() as con:
        ties, persons, egos = tables.read_org_inputs(con)
        labels = read_table(con, tables.ORG_PEOPLE, "where period = ?", [CURRENT])
        frame = introductions_as_of(
            ties,
            persons,
            egos,
            settings.as_of,
            org_options(settings),
            labels.select(node_id="person_id", community_id="community_id"),
        )
        publish(con, tables.INTRODUCTIONS, frame)
        comment_table(con, tables.INTRODUCTIONS, DESCRIPTION)
        checks = start_checks(con, polars_table_checks(tables.INTRODUCTIONS), settings.as_of, context)
        metadata = table_metadata(con, tables.INTRODUCTIONS)
    return dg.MaterializeResult(metadata=metadata, check_results=checks.results())
