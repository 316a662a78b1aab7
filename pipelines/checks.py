"""Data-quality checks on published tables: Great Expectations suites run as Dagster asset checks.

Each checked table has one ``quality`` check (keys unique and not null, values in range, plausible timestamps,
and any derived rule expressed as a SQL column that must be true) and one ``row_count`` check that warns when a
table shrinks sharply between runs. Quality checks on staging and marts are blocking: a table that fails them
stops everything downstream of it in the run.
"""

import datetime as dt
import os
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import dagster as dg
import duckdb

from tiepulse.pipelines.analytics.health import HEALTH_COLUMNS
from tiepulse.pipelines.models import all_models
from tiepulse.pipelines.resources import WAREHOUSE_POOL, WarehouseResource

ROW_COUNT_FLOOR = 0.5
"""A table that falls below this share of its previous row count raises a warning."""


@dataclass(frozen=True)
class TableChecks:
    table: str
    unique: tuple[str, ...] = ()
    not_null: tuple[str, ...] = ()
    between: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    plausible_timestamps: tuple[str, ...] = ()
    rules: dict[str, str] = field(default_factory=dict)
    """name -> SQL boolean expression over the table's columns that must hold for every row."""
    blocking: bool = True

    @property
    def key(self) -> dg.AssetKey:
        return dg.AssetKey(self.table.split("."))

    def query(self, earliest: dt.date, latest: dt.date) -> str:
        columns = list(dict.fromkeys([*self.unique, *self.not_null, *self.between, *self.plausible_timestamps]))
        select = [f'"{c}"' for c in columns]
        select += [f'coalesce(({rule}), false) as "rule_{name}"' for name, rule in self.rules.items()]
        select += [
            f'"{c}" is null or "{c}" between timestamptz \'{earliest}\' and timestamptz \'{latest}\' as "plausible_{c}"'
            for c in self.plausible_timestamps
        ]
        return f"select {', '.join(select) or '1 as one'} from {self.table}"


@cache
def _gx_context() -> Any:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx  # heavy import: only when a check runs
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    return context


def run_suite(df: Any, checks: TableChecks) -> tuple[bool, dict[str, Any]]:
    """Validate a pandas DataFrame (the check query's result) with Great Expectations."""
    import great_expectations as gx

    context = _gx_context()
    name = checks.table.replace(".", "_")
    try:
        batch_definition = context.data_sources.get(name).get_asset(name).get_batch_definition("all")
    except (KeyError, ValueError, LookupError):
        source = context.data_sources.add_pandas(name)
        batch_definition = source.add_dataframe_asset(name).add_batch_definition_whole_dataframe("all")
    suite = gx.ExpectationSuite(name=f"{name}_quality")
    expect = gx.expectations
    if len(checks.unique) == 1:
        suite.add_expectation(expect.ExpectColumnValuesToBeUnique(column=checks.unique[0]))
    elif checks.unique:
        suite.add_expectation(expect.ExpectCompoundColumnsToBeUnique(column_list=list(checks.unique)))
    for column in checks.not_null:
        suite.add_expectation(expect.ExpectColumnValuesToNotBeNull(column=column))
    for column, (low, high) in checks.between.items():
        suite.add_expectation(expect.ExpectColumnValuesToBeBetween(column=column, min_value=low, max_value=high))
    flags = [f"rule_{n}" for n in checks.rules] + [f"plausible_{c}" for c in checks.plausible_timestamps]
    for column in flags:
        suite.add_expectation(expect.ExpectColumnValuesToBeInSet(column=column, value_set=[True]))
    result = batch_definition.get_batch(batch_parameters={"dataframe": df}).validate(suite)
    details: dict[str, Any] = {"rows_checked": len(df)}
    for item in result.results:
        config = item.expectation_config
        target = config.kwargs.get("column") or ",".join(config.kwargs.get("column_list", []))
        label = f"{config.type.removeprefix('expect_')}[{target}]"
        details[label] = "ok" if item.success else f"FAILED ({item.result.get('unexpected_count', '?')} rows)"
    return bool(result.success), details


def evaluate(con: duckdb.DuckDBPyConnection, checks: TableChecks, as_of: dt.date) -> tuple[bool, dict[str, Any]]:
    earliest = dt.date(1990, 1, 1)
    latest = as_of + dt.timedelta(days=400)
    df = con.execute(checks.query(earliest, latest)).df()
    return run_suite(df, checks)


def _staging_checks() -> list[TableChecks]:
    timestamps = {"stg_messages": ("sent_at",), "stg_events": ("start_at", "end_at")}
    ranges: dict[str, dict[str, tuple[float | None, float | None]]] = {
        "stg_events": {"duration_minutes": (0.0, None)}  # no event ends before it starts
    }
    return [
        TableChecks(
            table=m.table,
            unique=m.unique,
            not_null=m.not_null,
            between=ranges.get(m.name, {}),
            plausible_timestamps=timestamps.get(m.name, ()),
        )
        for m in all_models()
        if m.unique or m.not_null
    ]


def _quality_check(checks: TableChecks) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=checks.key,
        name="quality",
        blocking=checks.blocking,
        description="Great Expectations: keys unique and not null, values in range, rules hold.",
        pool=WAREHOUSE_POOL,
    )
    def _check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        with warehouse.connect() as con:
            passed, details = evaluate(con, checks, warehouse.settings().as_of)
        return dg.AssetCheckResult(passed=passed, metadata=details)

    return _check


def _row_count_check(checks: TableChecks) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=checks.key,
        name="row_count",
        description=f"Warns when the table falls below {ROW_COUNT_FLOOR:.0%} of its previous row count.",
        pool=WAREHOUSE_POOL,
    )
    def _check(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
        with warehouse.connect() as con:
            row = con.execute(f"select count(*) from {checks.table}").fetchone()
        rows = int(row[0]) if row else 0
        previous = _previous_rows(context.instance, checks.key)
        passed = previous is None or previous == 0 or rows >= ROW_COUNT_FLOOR * previous
        return dg.AssetCheckResult(
            passed=passed,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"rows": rows, "previous_rows": previous if previous is not None else -1},
        )

    return _check


def _previous_rows(instance: dg.DagsterInstance, key: dg.AssetKey) -> int | None:
    """Row count recorded by the materialisation before the latest one (the latest is this run's)."""
    records = instance.fetch_materializations(key, limit=2).records
    if len(records) < 2:
        return None
    materialization = records[1].asset_materialization
    value = materialization.metadata.get("rows") if materialization else None
    return int(value.value) if value is not None and isinstance(value.value, int) else None


def build_checks(extra: list[TableChecks]) -> list[dg.AssetChecksDefinition]:
    tables = _staging_checks() + extra
    return [_quality_check(t) for t in tables] + [_row_count_check(t) for t in tables]


_NOT_AUTOMATED = "alter_id not in (select person_id from staging.dim_person where is_automated)"

_UNIT = (0.0, 1.0)
_HEALTH_SHARES = [
    c
    for c in HEALTH_COLUMNS
    if c.startswith(("score_", "share_"))
    or c.endswith(("_share", "_share_prev", "_blau", "_balance", "_reciprocity"))
    or c in ("gini", "efficiency", "bucket_gap")
]
"""Every share, index and sub-score of mart_network_health: each must lie in [0, 1] (or be null)."""

MART_CHECKS = [
    TableChecks(
        table="marts.int_interactions",
        not_null=("ego_id", "alter_id", "occurred_at", "channel", "direction"),
        plausible_timestamps=("occurred_at",),
        rules={"no_automated_alter": _NOT_AUTOMATED, "not_self": "ego_id <> alter_id"},
    ),
    TableChecks(
        table="marts.mart_ties",
        unique=("ego_id", "alter_id"),
        not_null=("ego_id", "alter_id", "strength", "tie_class", "last_contact"),
        between={"strength": _UNIT, "reciprocity": _UNIT, "initiation_share": _UNIT},
        plausible_timestamps=("first_contact", "last_contact"),
        rules={"no_automated_alter": _NOT_AUTOMATED},
    ),
    TableChecks(
        table="marts.mart_ties_monthly",
        unique=("ego_id", "alter_id", "month"),
        not_null=("ego_id", "alter_id", "month", "as_of", "strength", "first_contact", "last_contact"),
        between={"strength": _UNIT},
        plausible_timestamps=("first_contact", "last_contact"),
        rules={
            "as_of_in_its_month": "as_of between month and last_day(month)",
            "nothing_after_as_of": "last_contact < as_of + interval 1 day and first_contact <= last_contact",
        },
    ),
    TableChecks(
        table="marts.mart_network_health",
        unique=("ego_id", "period", "month"),
        not_null=("ego_id", "period", "month", "as_of", "is_active"),
        between={
            "health_score": (0.0, 100.0),
            **dict.fromkeys(_HEALTH_SHARES, _UNIT),
            "burt_constraint": (0.0, None),
            "effective_size": (0.0, None),
            "community_entropy": (0.0, None),
        },
        rules={"scored_when_active": "(health_score is not null) = is_active"},
    ),
    TableChecks(
        table="marts.mart_alerts",
        unique=("alert_id",),
        not_null=("alert_id", "kind", "ego_id", "reason", "suggested_action", "status"),
        between={"priority": (0.0, 100.0)},
        rules={"listed_status": "status in ('open', 'snoozed', 'dismissed')"},
    ),
]
