"""The organisation graph from DuckDB's per-window ties equals the graph the whole folded frame gave before.

The reference is the previous computation, whole in Polars: every interaction folded once (copies from several
mailboxes counted once per direction), then each window filtered and summed per node pair. The case spans several
months, has copies of one message in two mailboxes, meetings seen by both sides, ties that cross month boundaries
and an outside domain collapsed into one node, so a window read wrongly or a fold per window that differs from the
whole fold shows.
"""

from __future__ import annotations

import datetime as dt
import random

import polars as pl
import pytest

from tests.analytics.builders import interactions, persons
from tiepulse.pipelines.analytics.common import UTC_TS
from tiepulse.pipelines.analytics.fingerprint import history_months, months_since
from tiepulse.pipelines.analytics.introductions import introductions, introductions_as_of
from tiepulse.pipelines.analytics.monthly import month_cutoff
from tiepulse.pipelines.analytics.ona import communities, stable_labels
from tiepulse.pipelines.analytics.org_graph import OrgGraph, build_org_graph, period_window
from tiepulse.pipelines.analytics.org_marts import OrgOptions
from tiepulse.pipelines.org_ties import WindowTies

PEOPLE = [f"p{i}@x.com" for i in range(9)]
OUTSIDE = ["a@client.com", "b@client.com"]
AS_OF = dt.date(2026, 6, 15)


TEAMS = [PEOPLE[i : i + 3] for i in (0, 3, 6)]
BRIDGES = [(PEOPLE[2], PEOPLE[3]), (PEOPLE[5], PEOPLE[6])]


def _interactions(seed: int, teams_only: bool = False) -> pl.DataFrame:
    """Messages and meetings over five months; a message's copies share its time, source and key. ``teams_only``:
    contacts within the three teams and across two bridges only (so there are people to be introduced to)."""
    rng = random.Random(seed)
    rows: list[dict[str, object]] = []
    for k in range(300):
        when = dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=rng.randrange(165 * 24 * 60))
        meeting = rng.random() < 0.3
        if teams_only:
            a, b = rng.choice(BRIDGES) if rng.random() < 0.2 else rng.sample(rng.choice(TEAMS), 2)
        else:
            a, b = rng.sample(PEOPLE + OUTSIDE, 2)
        common = {
            "occurred_at": when,
            "source": "calendar" if meeting else "email",
            "source_key": f"m{k}",
            "channel": "meeting" if meeting else "email",
            "weight": rng.choice([1.0, 0.5, 1 / 3, 0.25]) * (2.0 if meeting else 1.0),
            "shared_minutes": rng.choice([30.0, 45.0, 60.0]) if meeting else None,
        }
        # the sender's copy and, for some, the receiver's copy of the same contact
        rows.append({**common, "ego_id": a, "alter_id": b, "actor": "both" if meeting else "ego"})
        if rng.random() < 0.5:
            rows.append({**common, "ego_id": b, "alter_id": a, "actor": "both" if meeting else "alter"})
    return interactions(rows)


def _whole_frame_graph(
    inter: pl.DataFrame, people: pl.DataFrame, start: dt.datetime, stop: dt.datetime, outside: str
) -> OrgGraph:
    """The previous computation: the whole frame folded once in Polars, then the window summed per node pair."""
    columns = ["occurred_at", "source", "source_key", "channel", "weight", "shared_minutes"]
    out = inter.filter(pl.col("actor").is_in(["ego", "both"])).select(*columns, src="ego_id", dst="alter_id")
    back = inter.filter(pl.col("actor").is_in(["alter", "both"])).select(*columns, src="alter_id", dst="ego_id")
    folded = pl.concat([out, back]).unique(subset=["source", "source_key", "src", "dst"])
    in_window = folded.filter(
        pl.col("occurred_at") > pl.lit(start, dtype=UTC_TS), pl.col("occurred_at") <= pl.lit(stop, dtype=UTC_TS)
    )
    ties = in_window.group_by("src", "dst").agg(
        weight=pl.col("weight").sum(),
        messages=(pl.col("channel") == "email").sum().cast(pl.Int64),
        meeting_minutes=pl.col("shared_minutes").filter(pl.col("channel") == "meeting").sum(),
    )
    return build_org_graph(ties, people, PEOPLE[:4], outside)


def _people() -> pl.DataFrame:
    return persons(
        [{"person_id": p, "team": f"t{i // 3}"} for i, p in enumerate(PEOPLE)]
        + [{"person_id": p, "is_internal": False} for p in OUTSIDE]
    )


def _assert_same(found: OrgGraph, expected: OrgGraph) -> None:
    assert found.nodes.equals(expected.nodes)
    for name in ("directed", "undirected"):
        left, right = getattr(found, name), getattr(expected, name)
        keys = [c for c in left.columns if left.schema[c] != pl.Float64]
        assert left.select(keys).equals(right.select(keys)), name
        for column in ("weight", "meeting_hours"):
            assert left.get_column(column).to_list() == pytest.approx(right.get_column(column).to_list(), rel=1e-12)


@pytest.mark.parametrize("outside", ["exclude", "by_domain"])
def test_each_months_ties_from_duckdb_give_the_whole_frames_graph(outside: str) -> None:
    inter = _interactions(seed=7)
    people = _people()
    ties = WindowTies.of_frame(inter)
    months = months_since(ties.first_day(dt.datetime(2026, 6, 15, 23, 59, tzinfo=dt.UTC)), AS_OF)
    assert months == history_months(inter, AS_OF)
    assert len(months) == 6
    for month in months:
        start, stop = period_window(month_cutoff(month, AS_OF), 90)
        found = build_org_graph(ties.ties(start, stop), people, PEOPLE[:4], outside)
        expected = _whole_frame_graph(inter, people, start, stop, outside)
        assert found.directed.height > 0
        _assert_same(found, expected)
    # a 40-day window cuts through months: contacts on both sides of its edges
    start, stop = period_window(dt.date(2026, 3, 10), 40)
    _assert_same(
        build_org_graph(ties.ties(start, stop), people, PEOPLE[:4], outside),
        _whole_frame_graph(inter, people, start, stop, outside),
    )


def test_introductions_from_the_current_windows_ties_equal_the_whole_frames() -> None:
    inter = _interactions(seed=11, teams_only=True)
    people = _people()
    found = introductions_as_of(WindowTies.of_frame(inter), people, PEOPLE[:4], AS_OF, OrgOptions())
    start, stop = period_window(AS_OF, 90)
    graph = _whole_frame_graph(inter, people, start, stop, "exclude")
    membership, _ = communities(graph.graph, seed=42)
    nodes = graph.nodes.select("v", "node_id")
    labels = stable_labels(nodes.select("node_id", raw=pl.Series(membership, dtype=pl.Int64)), None)
    community = nodes.join(labels, on="node_id").sort("v").get_column("community_id")
    expected = introductions(graph, community, AS_OF)
    assert found.height > 0
    # the weights are sums in another order: equal to the last bits, so the float columns to 1e-12
    floats = ["path_strength", "score"]
    assert found.drop(floats).equals(expected.drop(floats))
    for column in floats:
        assert found.get_column(column).to_list() == pytest.approx(expected.get_column(column).to_list(), rel=1e-12)


def test_a_windows_checksum_changes_with_its_rows_only() -> None:
    inter = _interactions(seed=3)
    start, stop = period_window(dt.date(2026, 3, 31), 30)
    before = WindowTies.of_frame(inter).checksum(start, stop)
    shuffled = WindowTies.of_frame(inter.sample(fraction=1.0, shuffle=True, seed=1))
    assert shuffled.checksum(start, stop) == before
    later = inter.with_columns(
        weight=pl.when(pl.col("occurred_at") > pl.lit(stop, dtype=UTC_TS)).then(9.0).otherwise(pl.col("weight"))
    )
    assert WindowTies.of_frame(later).checksum(start, stop) == before
    inside = inter.with_columns(
        weight=pl.when(pl.col("occurred_at") > pl.lit(start, dtype=UTC_TS)).then(9.0).otherwise(pl.col("weight"))
    )
    assert WindowTies.of_frame(inside).checksum(start, stop) != before


def test_the_windows_checksums_from_daily_sums_equal_each_windows_own() -> None:
    """Every month's window summed from one scan's daily sums gives each window's own checksum, with contacts on
    the windows' edges (the first and last microsecond of a day); windows not of whole days are scanned apiece."""
    inter = _interactions(seed=5)
    edges = [
        dt.datetime(2026, 3, 1, 23, 59, 59, 999999, tzinfo=dt.UTC),  # a window's start: not in it
        dt.datetime(2026, 3, 2, tzinfo=dt.UTC),  # the first microsecond in it
        dt.datetime(2026, 3, 31, 23, 59, 59, 999999, tzinfo=dt.UTC),  # the last of a window's end
        dt.datetime(2026, 4, 1, tzinfo=dt.UTC),  # the first after it
    ]
    edge_rows = inter.head(len(edges)).with_columns(
        occurred_at=pl.Series(edges, dtype=UTC_TS), source_key=pl.Series([f"edge{i}" for i in range(len(edges))])
    )
    ties = WindowTies.of_frame(pl.concat([inter, edge_rows]))
    months = months_since(dt.date(2026, 1, 1), AS_OF)
    windows = [period_window(month_cutoff(m, AS_OF), 30) for m in months] + [period_window(AS_OF, 90)]
    assert dt.datetime(2026, 3, 1, 23, 59, 59, 999999, tzinfo=dt.UTC) in [start for start, _ in windows]
    expected = [ties.checksum(start, stop) for start, stop in windows]
    assert ties.checksums(windows) == expected
    assert len(set(expected)) == len(expected)
    assert "0:0:0" in ties.checksums([period_window(dt.date(2025, 6, 30), 30)])
    ragged = [(start + dt.timedelta(hours=5), stop) for start, stop in windows]
    assert ties.checksums(ragged) == [ties.checksum(start, stop) for start, stop in ragged]
