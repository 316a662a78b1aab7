"""`tiepulse introductions --ego EMAIL`: whom the ego could meet in circles they do not reach, and through whom.

Reads ``marts.mart_introductions`` for the published analysis date, or computes the suggestions in memory on the
organisation graph of another ``--as-of``. In a pseudonymised warehouse the ego may be given by address (it is
hashed with the same key) and people are shown by pseudonym and team. Imports no Dagster.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import sys
from dataclasses import dataclass

import duckdb
import polars as pl
from rich.console import Console
from rich.table import Table

from tiepulse.cli.insights import InsightError, published_as_of, resolve_ego
from tiepulse.core.import_context import build_import_context
from tiepulse.core.settings import Settings
from tiepulse.pipelines import network_io as tables
from tiepulse.pipelines.marts_io import read_table, table_exists

SHOWN = ("rank", "person_id", "display_name", "team", "new_circle", "via_id", "via_name", "mutual_contacts", "score")


@dataclass
class IntroductionsView:
    ego_id: str
    as_of: dt.date
    suggestions: pl.DataFrame
    pseudonymised: bool


def ego_address(settings: Settings, given: str) -> str:
    """The ego as stored: a pseudonym as given, an address normalised (and hashed when pseudonymised)."""
    text = given.strip().lower()
    if text.startswith("p~"):
        return text
    normalised = build_import_context(settings).normaliser().normalise(text)
    if normalised is None:
        raise InsightError(f"--ego {given!r} is not an email address (nor a pseudonym p~...@domain)")
    return normalised


def introductions_view(
    con: duckdb.DuckDBPyConnection, settings: Settings, ego: str | None, as_of: dt.date | None, limit: int
) -> IntroductionsView:
    who = resolve_ego(con, settings, ego_address(settings, ego) if ego else None)
    if who is None:
        raise InsightError("--ego is required here: this warehouse has several egos.")
    published = published_as_of(con)
    if as_of is None or (as_of == published and table_exists(con, tables.INTRODUCTIONS)):
        if published is None or not table_exists(con, tables.INTRODUCTIONS):
            raise InsightError("No introductions yet: run `tiepulse refresh` (or `tiepulse import PATH`) first.")
        rows = read_table(con, tables.INTRODUCTIONS, "where ego_id = ? and rank <= ? order by rank", [who, limit])
        return IntroductionsView(who, published, rows, settings.hmac_key is not None)
    # igraph and leidenalg load only when the graph is computed here
    from tiepulse.pipelines.analytics.introductions import introductions_as_of
    from tiepulse.pipelines.analytics.org_marts import org_options

    ties, persons, egos = tables.read_org_inputs(con)
    found = introductions_as_of(ties, persons, egos, as_of, org_options(settings), limit=limit)
    return IntroductionsView(who, as_of, found.filter(pl.col("ego_id") == who), settings.hmac_key is not None)


def render_introductions(console: Console, view: IntroductionsView, output: str) -> None:
    if output == "json":
        rows = view.suggestions.select(*SHOWN, "community_id", "path_strength", "reason").to_dicts()
        print(json.dumps({"ego": view.ego_id, "as_of": view.as_of, "introductions": rows}, default=str, indent=1))
    elif output == "csv":
        writer = csv.writer(sys.stdout)
        columns = [*SHOWN, "reason"]
        writer.writerow(columns)
        writer.writerows(view.suggestions.select(columns).rows())
    else:
        _render_table(console, view)


def _render_table(console: Console, view: IntroductionsView) -> None:
    console.print(f"[bold]Introductions[/bold] for {view.ego_id} as of {view.as_of}")
    if view.pseudonymised:
        console.print("[yellow]note:[/yellow] pseudonymised warehouse: people are shown by pseudonym and team.")
    if view.suggestions.is_empty():
        console.print(
            "No one to suggest: nobody two steps away is in a community or team you do not already reach "
            "(or you have no ties in the last window)."
        )
        return
    table = Table("#", "person", "team", "new", "via", "mutual", "score", title_justify="left")
    for row in view.suggestions.iter_rows(named=True):
        table.add_row(
            str(row["rank"]),
            row["display_name"] or row["person_id"],
            row["team"] or "-",
            row["new_circle"],
            row["via_name"] or row["via_id"],
            str(row["mutual_contacts"]),
            f"{row['score']:.2f}",
        )
    console.print(table)
    for row in view.suggestions.iter_rows(named=True):
        console.print(f"{row['rank']}. {row['reason']}")
