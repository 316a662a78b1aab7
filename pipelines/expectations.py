"""Great Expectations validation, in one worker process per refresh process.

Importing Great Expectations costs about 3.5 s (every core expectation with scipy.stats and altair, and the
pydantic models of the fluent data sources; no narrower import path exists: any submodule loads the package
first). ``start()`` spawns the worker at the beginning of a refresh, so that this import runs on another core while
the refresh loads Dagster and builds the first models; every check then validates through the worker's one
ephemeral context. Nothing here imports Dagster, and the caller never imports Great Expectations or pandas.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

from tiepulse.connectors.lifeline import exit_with

if TYPE_CHECKING:
    # only a type here: the spawn need not wait for the pyarrow import (a tenth of a second)
    import pyarrow as pa


@dataclass(frozen=True)
class Checks:
    """The data-quality checks declared for one table (in its model's .yml), as one Great Expectations suite."""

    unique: tuple[str, ...] = ()
    not_null: tuple[str, ...] = ()
    between: Mapping[str, tuple[float | None, float | None]] = field(default_factory=dict)
    plausible_timestamps: tuple[str, ...] = ()
    rules: Mapping[str, str] = field(default_factory=dict)
    """name -> SQL boolean expression over the table's columns that must hold for every row."""

    def __bool__(self) -> bool:
        return bool(self.unique or self.not_null or self.between or self.plausible_timestamps or self.rules)


def start() -> None:
    """Spawn the worker now (if not yet running); it imports Great Expectations while the caller goes on."""
    _worker().submit(os.getpid)


def submit(rows: pa.Table, checks: Checks, name: str) -> Future[tuple[bool, dict[str, Any]]]:
    """Start running ``checks`` on ``rows`` (the check query's result) in the worker; the caller goes on meanwhile.

    The future holds passed, and a line per expectation."""
    return _worker().submit(run_suite, rows, checks, name)


@cache
def _worker() -> ProcessPoolExecutor:
    # spawn, not fork: the refresh process runs DuckDB's and Dagster's threads
    spawn = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(max_workers=1, mp_context=spawn, initializer=_start, initargs=(os.getpid(),))


def _start(parent: int) -> None:
    """The worker's first steps: end with the refresh process (``lifeline``), then load Great Expectations."""
    exit_with(parent)
    _context()


@cache
def _context() -> tuple[Any, Any]:
    """The module and the one batch definition every suite validates through (made once, in the worker)."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    batches = context.data_sources.add_pandas("tiepulse").add_dataframe_asset("checked_table")
    return gx, batches.add_batch_definition_whole_dataframe("whole_table")


def run_suite(rows: pa.Table, checks: Checks, name: str) -> tuple[bool, dict[str, Any]]:
    """Validate ``rows`` with one Great Expectations suite built from ``checks`` (runs in the worker)."""
    gx, batch_definition = _context()
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
    batch = batch_definition.get_batch(batch_parameters={"dataframe": rows.to_pandas()})
    # BASIC: counts of unexpected rows, without the sample values SUMMARY would also compute
    result = batch.validate(suite, result_format="BASIC")
    details: dict[str, Any] = {"rows_checked": rows.num_rows}
    for item in result.results:
        config = item.expectation_config
        target = config.kwargs.get("column") or ",".join(config.kwargs.get("column_list", []))
        label = f"{config.type.removeprefix('expect_')}[{target}]"
        details[label] = "ok" if item.success else f"FAILED ({item.result.get('unexpected_count', '?')} rows)"
    return bool(result.success), details
