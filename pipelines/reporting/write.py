"""Rendering reports to files: the organisation's and one per ego under ``$TIEPULSE_HOME/reports``, each readable
by its owner only (0600), each replaced atomically so a browser never opens half a file. Only the reports whose
inputs changed since they were written are rendered again (``reporting/built.py``)."""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import polars as pl

from tiepulse.core.params import params_for
from tiepulse.core.private_files import write_private
from tiepulse.core.settings import ReportOptions, Settings
from tiepulse.pipelines.analytics.brokerage import activity_window
from tiepulse.pipelines.analytics.fingerprint import checksum
from tiepulse.pipelines.marts_io import read_table
from tiepulse.pipelines.network_io import NETWORK_HEALTH
from tiepulse.pipelines.record_window import copied
from tiepulse.pipelines.reporting import built
from tiepulse.pipelines.reporting.sources import read_organisation_inputs, read_personal_inputs

if TYPE_CHECKING:
    from tiepulse.pipelines.reporting.page import Page

ORGANISATION_FILE = "organisation.html"
EGOS_AT_ONCE = 25
"""Personal reports' inputs are read for this many egos at a time: the memory they take follows it, not the size of
the organisation (at 300 egos, reading everyone's at once peaked at 8.1 GB: docs/benchmarks.md)."""


def write_report(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` with mode 0600, replacing any earlier file in one rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_private(path, text)


def ego_file_name(ego_id: str) -> str:
    """A file name for an ego's report: the address, with anything a file system may dislike replaced."""
    return re.sub(r"[^A-Za-z0-9@._+~-]", "_", ego_id) + ".html"


@dataclass(frozen=True)
class WrittenReports:
    organisation: Path
    personal: list[Path]
    rendered: int = 0
    """How many of them this run rendered (the others' inputs had not changed)."""
    left_out: str | None = None
    """Why egos got no personal report (``reports.personal`` or ``reports.max_personal``), when they did not."""

    @property
    def folder(self) -> Path:
        return self.organisation.parent


def reports_folder(settings: Settings) -> Path:
    return settings.home / "reports"


def bundle_cache(settings: Settings) -> Path:
    """Where the charts' JavaScript bundle is kept between runs."""
    return settings.home / "cache"


def existing_reports(settings: Settings) -> WrittenReports | None:
    """The reports the last refresh wrote, or None when there are none."""
    folder = reports_folder(settings)
    if not (folder / ORGANISATION_FILE).exists():
        return None
    return WrittenReports(folder / ORGANISATION_FILE, sorted((folder / "egos").glob("*.html")))


def forget_reports(settings: Settings) -> None:
    """Forget what the reports were written from: the next refresh renders every one again."""
    built.forget(reports_folder(settings))


def personal_egos(egos: list[str], options: ReportOptions) -> tuple[list[str], str | None]:
    """The egos that get a personal report at each refresh, and why the others do not."""
    if options.personal == "none":
        return [], "reports.personal is none"
    if options.personal == "all":
        if len(egos) > options.max_personal:
            return [], f"{len(egos)} egos, more than reports.max_personal = {options.max_personal}"
        return egos, None
    chosen = set(options.personal)
    kept = [ego for ego in egos if ego in chosen]
    return kept, None if len(kept) == len(egos) else "reports.personal lists the egos that get one"


def write_all_reports(con: duckdb.DuckDBPyConnection, settings: Settings) -> WrittenReports:
    """The organisation report and the chosen egos' (``reports`` in the config), as of the analysis date, under
    ``settings.home / 'reports'``; a report whose inputs are those it was last written from is left as it is."""
    folder = reports_folder(settings)
    params = params_for(settings)
    cache = bundle_cache(settings)
    before, after = built.load(folder), {}
    rendered = 0

    def write(path: Path, fingerprint: str, page: Callable[[], Page]) -> Path:
        nonlocal rendered
        key = str(path.relative_to(folder))
        after[key] = fingerprint
        if before.get(key) == fingerprint and path.exists():
            return path
        rendered += 1
        from tiepulse.pipelines.reporting.page import render_page  # see _organisation_page

        return write_report(path, render_page(page(), cache))

    min_group_size = settings.config.privacy.min_group_size
    organisation = read_organisation_inputs(con, settings.as_of)
    org = write(
        folder / ORGANISATION_FILE,
        built.inputs_fingerprint(organisation, min_group_size),
        partial(_organisation_page, organisation, min_group_size),
    )
    current = f"(select ego_id from {NETWORK_HEALTH} where period = 'current') h"
    everyone = sorted(read_table(con, current).get_column("ego_id").to_list())
    egos, left_out = personal_egos(everyone, settings.config.reports)
    written = []
    # every batch reads the window's messages and meetings from one copy, not from the whole fact tables
    with copied(con, activity_window(settings.as_of, params)[0]) if egos else nullcontext() as window_copy:
        for start in range(0, len(egos), EGOS_AT_ONCE):
            batch = egos[start : start + EGOS_AT_ONCE]
            inputs = read_personal_inputs(con, settings.as_of, params, batch, window_copy)
            context = (params.model_dump_json(), checksum(inputs.names))
            for ego in batch:
                mine = inputs.for_ego(ego)
                # the names and who is observed weigh on every report: in the context once, not checksummed per ego
                own = replace(mine, names=_NO_NAMES, observed_egos=frozenset())
                fingerprint = built.inputs_fingerprint(own, ego, ego in mine.observed_egos, *context)
                page = partial(_personal_page, mine, ego, params)
                written.append(write(folder / "egos" / ego_file_name(ego), fingerprint, page))
    _remove_stale(folder / "egos", {p.name for p in written})
    built.save(folder, after)
    return WrittenReports(org, written, rendered, left_out)


def _organisation_page(*inputs: Any) -> Page:
    # The pages' modules load Altair, Jinja and networkx (about a second): only a refresh that renders pays it.
    from tiepulse.pipelines.reporting.organisation import organisation_page

    return organisation_page(*inputs)


def _personal_page(*inputs: Any) -> Page:
    from tiepulse.pipelines.reporting.personal import personal_page

    return personal_page(*inputs)


_NO_NAMES = pl.DataFrame(schema={"person_id": pl.String, "display_name": pl.String})


def _remove_stale(folder: Path, keep: set[str]) -> None:
    """Reports of egos no longer in the warehouse (forgotten accounts) or no longer chosen go with them."""
    for old in folder.glob("*.html"):
        if old.name not in keep:
            old.unlink()
