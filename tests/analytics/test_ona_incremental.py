"""ONA months are computed again only when their 90-day window saw new data; what is reused equals a full run."""

from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl
import pytest

from tests.analytics.builders import at, interactions, persons
from tiepulse.pipelines import network_io as tables
from tiepulse.pipelines import org_reuse
from tiepulse.pipelines.analytics.org_marts import OrgMarts, OrgOptions, compute_org
from tiepulse.pipelines.marts_io import publish, read_table, table_exists
from tiepulse.pipelines.org_reuse import published_periods, record_periods
from tiepulse.pipelines.org_ties import WindowTies

AS_OF = dt.date(2026, 6, 30)
PEOPLE = [f"p{i}@acme.com" for i in range(8)]


def _rows(day: str, pairs: list[tuple[int, int]]) -> list[dict[str, object]]:
    return [
        {"ego_id": PEOPLE[a], "alter_id": PEOPLE[b], "occurred_at": at(day), "channel": "email", "weight": 1.0}
        for a, b in pairs
    ]


def _compute(inter: pl.DataFrame, con: duckdb.DuckDBPyConnection, *, reuse: bool = True) -> OrgMarts:
    """As the asset does: the published labels kept stable, the published months offered for reuse."""
    people = persons([{"person_id": p, "team": "a" if i < 4 else "b"} for i, p in enumerate(PEOPLE)])
    labels = None
    if table_exists(con, tables.ORG_PEOPLE):
        labels = read_table(con, f"(select period, person_id, community_id from {tables.ORG_PEOPLE}) p")
    offered = published_periods(con) if reuse else None
    return compute_org(
        WindowTies.of_frame(inter), people, PEOPLE, AS_OF, OrgOptions(min_group_size=2), labels, None, offered
    )


def _publish(con: duckdb.DuckDBPyConnection, marts: OrgMarts) -> None:
    frames = {
        tables.ORG_PEOPLE: marts.people,
        tables.ORG_GROUPS: marts.groups,
        tables.GROUP_MATRIX: marts.matrix,
        tables.ORG_SUMMARY: marts.summary,
    }
    for table, frame in frames.items():
        publish(con, table, frame)
    record_periods(con, marts.fingerprints)


def _assert_current_is_the_running_month(marts: OrgMarts) -> None:
    assert marts.fingerprints["current"] == marts.fingerprints["2026-06"]
    for name in ("people", "groups", "matrix"):
        frame = getattr(marts, name)
        current = frame.filter(pl.col("period") == "current")
        running = frame.filter(pl.col("period") == "2026-06").with_columns(period=pl.lit("current"))
        assert current.height > 0 and _sorted(current).equals(_sorted(running)), name


def _sorted(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort(frame.columns)


def test_only_the_months_whose_window_saw_new_data_are_computed_again(
    warehouse: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    team_a, team_b, across = [(0, 1), (1, 2), (2, 3), (3, 0)], [(4, 5), (5, 6), (6, 7), (7, 4)], [(3, 4)]
    history = pl.concat(
        [interactions(_rows(f"2026-{m:02d}-1{d}", team_a + team_b + across)) for m in range(1, 7) for d in (0, 5)]
    )
    first = _compute(history, warehouse)  # nothing published yet: every month computed
    # 'current' is the running month's window: its result, under its own name, not a second analysis
    assert first.recomputed == ["2026-01", "2026-02", "2026-03", "2026-04", "2026-05", "2026-06"]
    _assert_current_is_the_running_month(first)
    _publish(warehouse, first)

    again = _compute(history, warehouse)
    assert again.recomputed == []  # nothing new: every month reused, 'current' with the running one
    _assert_current_is_the_running_month(again)

    # a message of April arriving late touches April and the two months whose 90-day window still holds it
    late = interactions(_rows("2026-04-20", [(0, 7), (1, 6)])).with_columns(source_key=pl.lit("late"))
    grown = pl.concat([history, late])
    incremental = _compute(grown, warehouse)
    assert incremental.recomputed == ["2026-04", "2026-05", "2026-06"]
    _publish(warehouse, incremental)

    # a release whose ONA rules differ: every month again
    monkeypatch.setattr(org_reuse, "rules", lambda: "other rules")
    assert _compute(grown, warehouse).recomputed == ["2026-01", "2026-02", "2026-03", "2026-04", "2026-05", "2026-06"]
    full = _compute(grown, warehouse, reuse=False)
    assert len(full.recomputed) == len(full.fingerprints) - 1 == 6
    for name in ("people", "groups", "matrix", "summary"):
        assert _sorted(getattr(incremental, name)).equals(_sorted(getattr(full, name))), name
