"""`tiepulse report`: one self-contained HTML report, personal (``--ego``) or for the organisation (``--org``).

Personal reports at another ``--as-of`` recompute health, ties and alerts in memory (as `tiepulse health` does);
the history before that date and the organisation report come from the published marts. Imports no Dagster.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import duckdb
import polars as pl

from tiepulse.cli.insights import InsightError, ego_view, published_as_of, resolve_ego
from tiepulse.core.params import params_for
from tiepulse.core.settings import Settings
from tiepulse.pipelines.analytics.monthly import month_start
from tiepulse.pipelines.reporting.organisation import organisation_page
from tiepulse.pipelines.reporting.page import render_page
from tiepulse.pipelines.reporting.personal import personal_page
from tiepulse.pipelines.reporting.sources import read_organisation_inputs, read_personal_inputs
from tiepulse.pipelines.reporting.write import bundle_cache, ego_file_name, write_report


def default_out(ego_id: str | None, as_of: dt.date) -> Path:
    """``tiepulse-<ego>-<date>.html`` (or ``tiepulse-organisation-<date>.html``) in the current folder."""
    who = ego_file_name(ego_id).removesuffix(".html") if ego_id else "organisation"
    return Path(f"tiepulse-{who}-{as_of}.html")


def personal_report(
    con: duckdb.DuckDBPyConnection, settings: Settings, ego: str | None, as_of: dt.date | None, out: Path | None
) -> Path:
    who = resolve_ego(con, settings, ego)
    if who is None:
        raise InsightError("Several egos here: name one with --ego EMAIL, or ask for --org.")
    view = ego_view(con, settings, who, as_of)
    params = params_for(settings)
    data = read_personal_inputs(con, view.as_of, params, [who])
    if view.as_of != published_as_of(con):
        data = dataclasses.replace(
            data,
            health=view.health,
            ties=view.ties,
            alerts=view.alerts.filter(pl.col("status") == "open"),
            ties_monthly=data.ties_monthly.filter(pl.col("month") <= month_start(view.as_of)),
        )
    page = personal_page(data, who, params)
    return write_report(out or default_out(who, view.as_of), render_page(page, bundle_cache(settings)))


def organisation_report(con: duckdb.DuckDBPyConnection, settings: Settings, out: Path | None) -> Path:
    published = published_as_of(con)
    if published is None:
        raise InsightError("No analytics yet: run `tiepulse refresh` (or `tiepulse import PATH`) first.")
    page = organisation_page(read_organisation_inputs(con, published), settings.config.privacy.min_group_size)
    return write_report(out or default_out(None, published), render_page(page, bundle_cache(settings)))
