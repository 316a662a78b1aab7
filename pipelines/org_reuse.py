"""The ONA months the last refresh published, offered back to ``compute_org`` when their inputs are unchanged.

Each month's fingerprint (``org_marts.compute_org``: a checksum of its 90-day window of interactions, the people's node
attributes, the observed egos, the options) is recorded in ``ops.build_state`` under ``marts.org_network/YYYY-MM``
with the code (the release and the ONA rules it runs); a month whose fingerprint is the same is read back from the
published marts instead of computed again. 'current' is the running month's result under its own name.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path

import duckdb
import polars as pl

from tiepulse.core.warehouse import transaction
from tiepulse.pipelines import build_state
from tiepulse.pipelines import network_io as tables
from tiepulse.pipelines.analytics.fingerprint import digest, rules_digest
from tiepulse.pipelines.analytics.org_columns import CURRENT
from tiepulse.pipelines.analytics.org_groups import GROUP_SCHEMA, MATRIX_SCHEMA
from tiepulse.pipelines.analytics.org_marts import PEOPLE_SCHEMA, PeriodResult, Reuse
from tiepulse.pipelines.marts_io import read_table, table_exists

STATE_PREFIX = "marts.org_network/"
_SCHEMAS = {tables.ORG_PEOPLE: PEOPLE_SCHEMA, tables.ORG_GROUPS: GROUP_SCHEMA, tables.GROUP_MATRIX: MATRIX_SCHEMA}


def _by_period(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, pl.DataFrame]:
    frame = read_table(con, table).select(list(_SCHEMAS[table])).cast(_SCHEMAS[table])  # type: ignore[arg-type]
    return {str(key[0]): part for key, part in frame.partition_by("period", as_dict=True).items()}


def published_periods(con: duckdb.DuckDBPyConnection) -> Reuse | None:
    """The months published with their fingerprints, or None when there is nothing to reuse."""
    stored = build_state.stored_under(con, STATE_PREFIX)
    if not stored or not all(table_exists(con, t) for t in (*_SCHEMAS, tables.ORG_SUMMARY)):
        return None
    people, groups, matrix = (_by_period(con, t) for t in _SCHEMAS)
    summary = read_table(con, tables.ORG_SUMMARY).drop("median_health")
    summaries = {row["month"]: row for row in summary.iter_rows(named=True)}
    code = _code()

    def reuse(period: str, fingerprint: str) -> PeriodResult | None:
        month = dt.date.fromisoformat(f"{period}-01")
        if stored.get(STATE_PREFIX + period) != digest(code, fingerprint) or month not in summaries:
            return None
        empty = {table: pl.DataFrame(schema=schema) for table, schema in _SCHEMAS.items()}
        return PeriodResult(
            people.get(period, empty[tables.ORG_PEOPLE]),
            groups.get(period, empty[tables.ORG_GROUPS]),
            matrix.get(period, empty[tables.GROUP_MATRIX]),
            {k: v for k, v in summaries[month].items() if k != "month"},
        )

    return reuse


def record_periods(con: duckdb.DuckDBPyConnection, fingerprints: dict[str, str]) -> None:
    """Remember the months just published (after their marts are): a crash before leaves them to recompute."""
    code = _code()
    with transaction(con):
        build_state.forget(con, STATE_PREFIX)
        build_state.record_many(
            con, {STATE_PREFIX + p: digest(code, fp) for p, fp in fingerprints.items() if p != CURRENT}
        )


@cache
def rules() -> str:
    """The ONA rules (``org_marts`` and what it imports): a change to them computes every month again."""
    return rules_digest(Path(__file__))


def _code() -> str:
    return digest(build_state.code_version(), rules())
