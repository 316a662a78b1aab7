"""Run the Dagster graph in-process (what `tiepulse import` and `tiepulse demo` do after loading files)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tiepulse.core.runlog import log_finished_run
from tiepulse.core.settings import Settings
from tiepulse.core.warehouse import open_warehouse
from tiepulse.pipelines import expectations
from tiepulse.pipelines.dagster_instance import cli_instance

if TYPE_CHECKING:
    import dagster as dg


@dataclass(frozen=True, slots=True)
class RefreshResult:
    success: bool
    rows: dict[str, int]
    """Rows per materialised table."""
    failed_checks: list[str]
    run_id: str


def refresh(*, include_file_import: bool = False) -> RefreshResult:
    """Materialise every asset downstream of the raw files (or the whole graph), with their checks."""
    # Great Expectations loads in its worker process while Dagster and the code location load here.
    expectations.start()
    import dagster as dg

    from tiepulse.pipelines.assets.raw import FILE_TABLES
    from tiepulse.pipelines.definitions import defs  # the code location builds every asset at import

    graph = defs.resolve_asset_graph()
    # API syncs are partitioned per account and run on their own (`tiepulse sync`); everything else is in.
    keys = {k for k in graph.materializable_asset_keys if graph.get(k).partitions_def is None}
    if not include_file_import:
        keys -= {dg.AssetKey(["raw", name]) for name in FILE_TABLES}
    started = dt.datetime.now(dt.UTC)
    settings = Settings()
    instance = cli_instance(settings)
    job = defs.resolve_job_def("refresh_warehouse")
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    result = job.execute_in_process(
        run_config=quiet, instance=instance, asset_selection=sorted(keys), raise_on_error=False
    )
    rows: dict[str, int] = {}
    for event in result.get_asset_materialization_events():
        materialization = event.event_specific_data.materialization  # type: ignore[union-attr]
        if materialization is None:
            continue
        value = materialization.metadata.get("rows")
        if value is not None and isinstance(value.value, int):
            rows[".".join(materialization.asset_key.path)] = value.value
    failed = [describe_failure(e) for e in result.get_asset_check_evaluations() if not e.passed]
    summary = {"tables": len(rows), "failed_checks": failed, "dagster_run_id": result.run_id}
    with open_warehouse(settings.warehouse_path) as con:
        log_finished_run(con, "refresh", started, "success" if result.success else "failure", summary)
    return RefreshResult(result.success, rows, failed, result.run_id)


def describe_failure(evaluation: dg.AssetCheckEvaluation) -> str:
    """``table:check``, with the expectations that failed, e.g. ``values_to_be_between[gini]: FAILED (1 rows)``."""
    failed = [
        f"{label}: {entry.value}"
        for label, entry in evaluation.metadata.items()
        if str(entry.value).startswith("FAILED")
    ]
    name = f"{'.'.join(evaluation.asset_key.path)}:{evaluation.check_name}"
    return f"{name} ({'; '.join(failed)})" if failed else name
