"""Run the Dagster graph in-process (what `tiepulse import` and `tiepulse demo` do after loading files)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from contextlib import closing
from dataclasses import dataclass
from typing import TYPE_CHECKING

import duckdb

from tiepulse.core.runlog import note_blocked_run, record_run
from tiepulse.core.settings import Settings
from tiepulse.core.warehouse import WarehouseBusy, connect
from tiepulse.pipelines import build_state, ego_refresh, expectations, refresh_gate
from tiepulse.pipelines.dagster_instance import cli_instance, cli_run_tags, durable_enough_writes, release_dead_runs
from tiepulse.pipelines.reporting.write import forget_reports

if TYPE_CHECKING:
    import dagster as dg


@dataclass(frozen=True, slots=True)
class RefreshResult:
    success: bool
    rows: dict[str, int]
    """Rows per materialised table."""
    failed_checks: list[str]
    run_id: str
    """Dagster's run id (empty when nothing had changed and Dagster did not run)."""
    unchanged_since: dt.datetime | None = None
    """Set when nothing a refresh reads or writes had changed since the last fully passed one, which ended then
    (``pipelines/refresh_gate.py``): no asset was built and no check run again."""


def refresh(
    *,
    include_file_import: bool = False,
    full: bool = False,
    landed: Mapping[str, int] | None = None,
    gate: bool = True,
) -> RefreshResult:
    """Materialise every asset downstream of the raw files (or the whole graph), with their checks.

    ``landed`` (rows added per ``raw.*`` table by the CLI's own import, before this run) is recorded first as
    materialisations of those raw assets, so the UI shows where the data came from.

    Each asset does only what changed since its last build (``pipelines/build_state.py``); ``full`` forgets every
    build record first, so everything is rebuilt from the raw layer. When nothing at all changed since the last
    refresh that built everything and passed every check (``refresh_gate``), Dagster is not started; ``gate``
    False when the caller has just asked (the CLI asks before it spawns Great Expectations' worker).

    The warehouse is opened before the graph runs and held until it is logged: a process holding the file stops the
    refresh here, after the lock wait, with a ``WarehouseBusy`` (kept for ``tiepulse status``, see
    ``note_blocked_run``); the run's own opens share this process's database; and a refresh killed half way stays
    ``running`` in ``ops.runs``, which the next writer marks ``interrupted``.
    """
    settings = Settings()
    started = dt.datetime.now(dt.UTC)
    started_with = refresh_gate.computed_with(settings)
    try:
        con = connect(settings.warehouse_path)
    except WarehouseBusy as exc:
        note_blocked_run(settings.home, "refresh", started, str(exc))
        raise
    with closing(con), record_run(con, "refresh") as summary:
        if full:
            forget_builds(con, settings)
        elif gate and not include_file_import and (since := refresh_gate.unchanged_since(con, settings)) is not None:
            refresh_gate.log_unchanged(summary, since)
            return RefreshResult(True, {}, [], "", since)
        # Great Expectations loads in its worker process while Dagster and the code location load here.
        expectations.start()
        instance = cli_instance(settings)
        release_dead_runs(instance)
        record_landed(con, instance, landed or {})
        result = _execute(instance, include_file_import)
        rows = _rows(result)
        failed = [describe_failure(e) for e in result.get_asset_check_evaluations() if not e.passed]
        summary.update(tables=len(rows), failed_checks=failed, dagster_run_id=result.run_id)
        summary.status = "success" if result.success else "failure"
        if result.success and not failed:
            refresh_gate.remember(con, settings, started, started_with)
    return RefreshResult(result.success, rows, failed, result.run_id)


def forget_builds(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """Forget what every incremental build last saw (tables, per-ego history, ONA periods, reports): the next run
    rebuilds all."""
    build_state.forget(con)  # the refresh gate's record with the rest
    con.execute(f"delete from {ego_refresh.STATE}").fetchall()
    forget_reports(settings)


def record_landed(con: duckdb.DuckDBPyConnection, instance: dg.DagsterInstance, landed: Mapping[str, int]) -> None:
    """A materialisation of each raw table the CLI added rows to, outside any Dagster run."""
    import dagster as dg

    for table, added in sorted(landed.items()):
        if added <= 0:
            continue
        rows = int(con.execute(f"select count(*) from {table}").fetchall()[0][0])
        instance.report_runless_asset_event(
            dg.AssetMaterialization(
                asset_key=table.split("."),
                description="landed by the tiepulse command line",
                metadata={"rows_added": added, "rows": rows, "dagster/row_count": rows},
            )
        )


def _execute(instance: dg.DagsterInstance, include_file_import: bool) -> dg.ExecuteInProcessResult:
    import dagster as dg

    from tiepulse.pipelines.assets.raw import FILE_TABLES
    from tiepulse.pipelines.definitions import defs  # the code location builds every asset at import

    graph = defs.resolve_asset_graph()
    # API syncs are partitioned per account and run on their own (`tiepulse sync`); everything else is in.
    keys = {k for k in graph.materializable_asset_keys if graph.get(k).partitions_def is None}
    if not include_file_import:
        keys -= {dg.AssetKey(["raw", name]) for name in FILE_TABLES}
    job = defs.resolve_job_def("refresh_warehouse")
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    selection = sorted(keys)
    with durable_enough_writes():
        return job.execute_in_process(
            run_config=quiet, instance=instance, asset_selection=selection, raise_on_error=False, tags=cli_run_tags()
        )


def _rows(result: dg.ExecuteInProcessResult) -> dict[str, int]:
    """Rows per materialised table, from the materialisations' ``rows`` metadata."""
    rows: dict[str, int] = {}
    for event in result.get_asset_materialization_events():
        materialization = event.event_specific_data.materialization  # type: ignore[union-attr]
        if materialization is None:
            continue
        value = materialization.metadata.get("rows")
        if value is not None and isinstance(value.value, int):
            rows[".".join(materialization.asset_key.path)] = value.value
    return rows


def describe_failure(evaluation: dg.AssetCheckEvaluation) -> str:
    """``table:check``, with the expectations that failed, e.g. ``values_to_be_between[gini]: FAILED (1 rows)``."""
    failed = [
        f"{label}: {entry.value}"
        for label, entry in evaluation.metadata.items()
        if str(entry.value).startswith("FAILED")
    ]
    name = f"{'.'.join(evaluation.asset_key.path)}:{evaluation.check_name}"
    return f"{name} ({'; '.join(failed)})" if failed else name
