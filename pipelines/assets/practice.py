"""Communities of practice as Dagster assets: the member mart and the monthly vitality mart, built in one step
from list mail and recurring meeting series, checked (keys, roles, the privacy threshold), with table metadata."""

from collections.abc import Iterator

import dagster as dg

from tiepulse.pipelines import network_io as tables
from tiepulse.pipelines.analytics.practice import communities_of_practice
from tiepulse.pipelines.assets.table_metadata import table_metadata
from tiepulse.pipelines.checks import check_specs, polars_table_checks, start_checks
from tiepulse.pipelines.marts_io import comment_table, publish
from tiepulse.pipelines.practice_io import PRACTICE_INPUTS, read_practice_inputs
from tiepulse.pipelines.resources import WAREHOUSE_POOL, WarehouseResource

PRACTICE_TABLES = (tables.COMMUNITIES_OF_PRACTICE, tables.COMMUNITY_VITALITY)
DESCRIPTIONS = {
    tables.COMMUNITIES_OF_PRACTICE: "One row per community of practice (mailing list by List-Id, recurring meeting "
    "series) and member: role (asks, answers, watches; organises, attends), posts, replies, meetings, activity. "
    "Communities under privacy.min_group_size members are left out.",
    tables.COMMUNITY_VITALITY: "One row per community of practice and month: members, active members, threads, "
    "replies, share of threads answered, hours to the first answer, meetings and attendance; months describing "
    "fewer than privacy.min_group_size people suppressed.",
}


def _key(table: str) -> dg.AssetKey:
    return dg.AssetKey(table.split("."))


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            _key(table),
            deps=[_key(t) for t in PRACTICE_INPUTS],
            description=DESCRIPTIONS[table],
            group_name="marts",
            kinds={"polars", "duckdb"},
        )
        for table in PRACTICE_TABLES
    ],
    check_specs=[spec for table in PRACTICE_TABLES for spec in check_specs(polars_table_checks(table))],
    pool=WAREHOUSE_POOL,
    can_subset=False,
)
def communities_of_practice_marts(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> Iterator[dg.MaterializeResult]:
    settings = warehouse.settings()
    with warehouse.connect() as con:
        practice = communities_of_practice(
            read_practice_inputs(con), settings.as_of, settings.config.privacy.min_group_size
        )
        results = []
        for table, frame in (
            (tables.COMMUNITIES_OF_PRACTICE, practice.members),
            (tables.COMMUNITY_VITALITY, practice.vitality),
        ):
            publish(con, table, frame)
            comment_table(con, table, DESCRIPTIONS[table])
            checks = start_checks(con, polars_table_checks(table), settings.as_of, context)
            results.append((table, table_metadata(con, table), checks))
    for table, built, checks in results:
        yield dg.MaterializeResult(asset_key=_key(table), metadata=built, check_results=checks.results())
