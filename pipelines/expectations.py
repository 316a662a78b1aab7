"""Great Expectations validation, in one worker process per refresh process.

Importing Great Expectations costs about 3.5 s (every core expectation with scipy.stats and altair, and the
pydantic models of the fluent data sources; no narrower import path exists: any submodule loads the package
first). ``start()`` spawns the worker at the beginning of a refresh, so that this import runs on another core while
the refresh loads Dagster and builds the first models; every check then validates through the worker's one
ephemeral context. Nothing here imports Dagster, and the caller never imports Great Expectations or pandas.
"""

from __future__ import annotations

import atexit
import gc
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
    global _ready
    if _ready is None:
        before = set(multiprocessing.active_children())
        _ready = _worker().submit(os.getpid)
        _spawned.extend(set(multiprocessing.active_children()) - before)


def release() -> None:
    """The caller needs no validation after all: a worker still loading Great Expectations is ended now (an
    orderly exit would wait for that import, seconds); a ready one stays for this process's next refresh."""
    global _ready
    if _ready is None or _ready.done():
        return
    _worker().shutdown(wait=False, cancel_futures=True)
    for process in _spawned:
        process.kill()
    _spawned.clear()
    _worker.cache_clear()
    _ready = None


_ready: Future[int] | None = None
"""Done once the worker has loaded Great Expectations (its initializer ran): the first task it answers."""
_spawned: list[multiprocessing.process.BaseProcess] = []


def submit(rows: pa.Table, checks: Checks, name: str) -> Future[Validation]:
    """Start running ``checks`` on ``rows`` (the check query's result, or one batch of it) in the worker; the
    caller goes on meanwhile."""
    start()
    return _worker().submit(run_suite, rows, checks, name)


@dataclass(frozen=True)
class Validation:
    """What one suite found in the rows it validated: per expectation (in the suite's order), ``None`` when it held,
    else its unexpected rows (``-1``: not counted)."""

    passed: bool
    rows_checked: int
    unexpected: dict[str, int | None]

    def details(self) -> dict[str, Any]:
        """``rows_checked`` and a line per expectation: ``ok`` or ``FAILED (n rows)``."""
        lines = {
            label: "ok" if count is None else f"FAILED ({'?' if count < 0 else count} rows)"
            for label, count in self.unexpected.items()
        }
        return {"rows_checked": self.rows_checked, **lines}

    @classmethod
    def merged(cls, batches: list[Validation]) -> Validation:
        """The validation of the batches' rows together. Exact when the rows that could break an expectation
        together (equal keys, for uniqueness) are in the same batch; every other expectation is row by row."""
        unexpected: dict[str, int | None] = {}
        for label in batches[0].unexpected:
            counts = [c for b in batches if (c := b.unexpected[label]) is not None]
            unexpected[label] = None if not counts else -1 if min(counts) < 0 else sum(counts)
        return cls(all(b.passed for b in batches), sum(b.rows_checked for b in batches), unexpected)


@cache
def _worker() -> ProcessPoolExecutor:
    # spawn, not fork: the refresh process runs DuckDB's and Dagster's threads
    spawn = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(max_workers=1, mp_context=spawn, initializer=_start, initargs=(os.getpid(),))


def _start(parent: int) -> None:
    """The worker's first steps: end with the refresh process (``lifeline``), then load Great Expectations."""
    exit_with(parent)
    # At exit, leave the objects of Great Expectations, pandas and scipy to the operating system: collecting them
    # took about 0.7 s, which the refresh process waits for when it shuts the worker down.
    atexit.register(gc.freeze)
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


def run_suite(rows: pa.Table, checks: Checks, name: str) -> Validation:
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
    unexpected: dict[str, int | None] = {}
    for item in result.results:
        config = item.expectation_config
        target = config.kwargs.get("column") or ",".join(config.kwargs.get("column_list", []))
        label = f"{config.type.removeprefix('expect_')}[{target}]"
        count = item.result.get("unexpected_count")
        unexpected[label] = None if item.success else -1 if count is None else int(count)
    return Validation(bool(result.success), rows.num_rows, unexpected)
