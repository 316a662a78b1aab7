"""`tiepulse status`, BI part: when the BI snapshot was published, from which refresh, and whether it is behind."""

from __future__ import annotations

import duckdb
from rich.console import Console

from tiepulse.core.settings import Settings
from tiepulse.pipelines.bi_published import SnapshotError, open_snapshot, read_about, snapshot_path


def _latest_refresh(con: duckdb.DuckDBPyConnection) -> tuple[str, object, str] | None:
    """The last refresh logged in ops.runs: its Dagster run id, when it finished, how it ended."""
    row = con.execute(
        "select summary->>'dagster_run_id', finished_at, status from ops.runs where kind = 'refresh' "
        "order by started_at desc limit 1"
    ).fetchone()
    return (str(row[0]), row[1], str(row[2])) if row else None


def render_snapshot(console: Console, settings: Settings, warehouse: duckdb.DuckDBPyConnection) -> None:
    try:
        with open_snapshot(settings) as con:
            about = read_about(con)
    except (SnapshotError, duckdb.Error) as exc:
        console.print(f"BI snapshot: none readable at {snapshot_path(settings)} ({str(exc).splitlines()[0]})")
        return
    console.print(
        f"BI snapshot: {snapshot_path(settings)}, published {about.published_at:%Y-%m-%d %H:%M:%S} UTC by refresh "
        f"(Dagster run) {about.refresh_run_id}, analysis date {about.analysis_date}; "
        f"{len(about.present)} objects"
        + (f", {len(about.absent)} not published (see snapshot_objects)" if about.absent else "")
    )
    latest = _latest_refresh(warehouse)
    if latest is not None and latest[0] != about.refresh_run_id:
        run_id, finished, status = latest
        console.print(
            f"[yellow]The last refresh ({run_id}, finished {finished:%Y-%m-%d %H:%M:%S}) ended {status} and did not "
            "publish: BI tools still see the snapshot above.[/yellow]"
        )
