"""`tiepulse status`, BI part: when the BI snapshot was published, from which refresh, and whether it is behind."""

from __future__ import annotations

import datetime as dt

import duckdb
from rich.console import Console

from tiepulse.core.settings import Settings
from tiepulse.pipelines.bi_published import SnapshotAbout, SnapshotError, open_snapshot, read_about, snapshot_path


def _later_refresh(con: duckdb.DuckDBPyConnection, about: SnapshotAbout) -> tuple[str, dt.datetime, str] | None:
    """The last refresh logged in ops.runs when it ended after the snapshot was published and is not the one that
    published it (a refresh that failed or stopped); None when the snapshot is the latest refresh's.

    Scheduled Dagster runs are not in ops.runs; a snapshot they published is newer than any refresh logged there.
    """
    row = con.execute(
        "select summary->>'dagster_run_id', finished_at, status from ops.runs where kind = 'refresh' "
        "and finished_at > ? order by started_at desc limit 1",
        [about.published_at],
    ).fetchone()
    if row is None or row[0] == about.refresh_run_id:
        return None
    return str(row[0]), row[1], str(row[2])


def render_snapshot(console: Console, settings: Settings, warehouse: duckdb.DuckDBPyConnection) -> None:
    try:
        with open_snapshot(settings) as con:
            about = read_about(con)
    except SnapshotError as exc:
        console.print(f"BI snapshot: {exc}")
        return
    except duckdb.Error as exc:
        console.print(f"BI snapshot: cannot read {snapshot_path(settings)}: {str(exc).splitlines()[0]}")
        return
    console.print(
        f"BI snapshot: {snapshot_path(settings)}, published {about.published_at:%Y-%m-%d %H:%M:%S} UTC by refresh "
        f"(Dagster run) {about.refresh_run_id}, analysis date {about.analysis_date}; "
        f"{len(about.present)} objects"
        + (f", {len(about.absent)} not published (see snapshot_objects)" if about.absent else "")
    )
    later = _later_refresh(warehouse, about)
    if later is not None:
        run_id, finished, status = later
        console.print(
            f"[yellow]The last refresh ({run_id}, finished {finished:%Y-%m-%d %H:%M:%S}) ended {status} and did not "
            "publish: BI tools still see the snapshot above.[/yellow]"
        )
