"""Readable summaries of the warehouse: rows per layer, quarantine by reason, recent runs."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import duckdb
from rich.console import Console
from rich.table import Table

EXAMPLE_QUERIES = (
    "select person_id, display_name, team, is_internal from marts.dim_person order by messages_sent desc limit 10",
    "select date_trunc('month', sent_at) as month, count(*) as messages "
    "from marts.fct_messages group by all order by month",
    "select reason, count(*) as records from ops.quarantine group by reason order by records desc",
)


def table_counts(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, int]]:
    tables = con.execute(
        "select schema_name, table_name from duckdb_tables() "
        "where schema_name in ('raw', 'staging', 'marts', 'ops') order by schema_name, table_name"
    ).fetchall()
    counts = []
    for schema, table in tables:
        row = con.execute(f'select count(*) from "{schema}"."{table}"').fetchone()
        counts.append((schema, table, int(row[0]) if row else 0))
    return counts


def quarantine_by_reason(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, int]]:
    return [
        (kind, reason, int(n))
        for kind, reason, n in con.execute(
            "select kind, reason, count(*) from ops.quarantine group by all order by 3 desc, 1, 2"
        ).fetchall()
    ]


def render_counts(console: Console, con: duckdb.DuckDBPyConnection) -> None:
    table = Table(title="Rows per table", show_lines=False)
    table.add_column("layer")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for schema, name, rows in table_counts(con):
        table.add_row(schema, name, f"{rows:,}")
    console.print(table)


def render_quarantine(console: Console, con: duckdb.DuckDBPyConnection) -> None:
    rows = quarantine_by_reason(con)
    if not rows:
        console.print("[green]Quarantine is empty: every record was trusted.[/green]")
        return
    table = Table(title="Quarantined records by reason (details: select * from ops.quarantine)")
    table.add_column("kind")
    table.add_column("reason")
    table.add_column("records", justify="right")
    for kind, reason, n in rows:
        table.add_row(kind, reason, f"{n:,}")
    console.print(table)


def render_runs(
    console: Console, con: duckdb.DuckDBPyConnection, blocked: list[dict[str, Any]], limit: int = 5
) -> None:
    """The last runs, newest first, with the runs that never got the warehouse (``blocked``, not yet in ops.runs).

    ``con`` is read-only, so no process is writing: a run still marked ``running`` was killed, and shows as
    ``interrupted`` (the next writer records it so)."""
    logged = con.execute(
        "select kind, started_at, finished_at, if(status = 'running', 'interrupted', status), "
        "if(status = 'blocked', summary->>'error', summary::varchar) "
        "from ops.runs order by started_at desc limit ?",
        [limit],
    ).fetchall()
    kept = [(b["kind"], dt.datetime.fromisoformat(b["started_at"]), None, "blocked", b["why"]) for b in blocked]
    runs = sorted(logged + kept, key=lambda run: run[1], reverse=True)[:limit]
    if not runs:
        console.print("No runs recorded yet.")
        return
    table = Table(title="Last runs")
    for column in ("kind", "started (UTC)", "took", "status", "summary"):
        table.add_column(column)
    for kind, started, finished, status, summary in runs:
        took = f"{(finished - started).total_seconds():.1f} s" if finished else "-"
        table.add_row(kind, f"{started:%Y-%m-%d %H:%M:%S}", took, status, describe_summary(summary))
    console.print(table)


def describe_summary(summary: str | None) -> str:
    """A run's JSON summary as short lines: ``files 300``, ``inserted mail_messages 94,861, ...``; ids left out."""
    if not summary:
        return ""
    try:
        facts = json.loads(summary)
    except json.JSONDecodeError:
        return summary
    if not isinstance(facts, dict):
        return str(facts)
    lines = []
    for key, value in facts.items():
        if key.endswith("_id") or value in ([], {}, None):
            continue
        label = key.replace("_", " ")
        if isinstance(value, dict):
            parts = ", ".join(f"{k.split('.')[-1]} {_figure(v)}" for k, v in value.items())
            lines.append(f"{label}: {parts}")
        elif isinstance(value, list):
            lines.append(f"{label}: {'; '.join(map(str, value))}")
        else:
            lines.append(f"{label} {_figure(value)}")
    return "\n".join(lines)


def _figure(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)
