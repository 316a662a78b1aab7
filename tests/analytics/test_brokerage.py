"""Burt's constraint and effective size against networkx; co-occurrence edges on a hand-made case and, at many dates
and for some egos (``RecordIndex``), against a plain-Python count."""

from __future__ import annotations

import datetime as dt
import math
import random
from collections import defaultdict

import networkx as nx
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from tests.analytics import builders as b
from tiepulse.core.params import AnalyticsParams
from tiepulse.pipelines.analytics.brokerage import (
    RecordIndex,
    burt_constraint,
    cooccurrence_edges,
    effective_size,
    record_participants,
    structural_holes,
)

EGO_SCHEMA = {"ego_id": pl.String, "alter_id": pl.String, "weight": pl.Float64}
ALTER_SCHEMA = {"ego_id": pl.String, "alter_a": pl.String, "alter_b": pl.String, "weight": pl.Float64}


@st.composite
def ego_networks(draw: st.DrawFn) -> tuple[list[tuple[str, str, float]], list[tuple[str, str, str, float]]]:
    """Up to three egos, each with 1-7 weighted alters and a random set of weighted alter-alter ties."""
    weight = st.floats(min_value=0.05, max_value=20.0, allow_nan=False, allow_infinity=False)
    ego_edges, alter_edges = [], []
    for e in range(draw(st.integers(1, 3))):
        ego = f"ego{e}"
        alters = [f"{ego}-a{k}" for k in range(draw(st.integers(1, 7)))]
        ego_edges += [(ego, a, draw(weight)) for a in alters]
        for i, a in enumerate(alters):
            for c in alters[i + 1 :]:
                if draw(st.booleans()):
                    alter_edges.append((ego, a, c, draw(weight)))
    return ego_edges, alter_edges


def as_graph(
    ego: str, ego_edges: list[tuple[str, str, float]], alter_edges: list[tuple[str, str, str, float]]
) -> nx.Graph:
    g = nx.Graph()
    g.add_weighted_edges_from((e, a, w) for e, a, w in ego_edges if e == ego)
    g.add_weighted_edges_from((a, c, w) for e, a, c, w in alter_edges if e == ego)
    return g


@settings(max_examples=60, deadline=None)
@given(ego_networks())
def test_constraint_and_effective_size_equal_networkx(
    network: tuple[list[tuple[str, str, float]], list[tuple[str, str, str, float]]],
) -> None:
    ego_edges, alter_edges = network
    ego_frame = pl.DataFrame(ego_edges, schema=EGO_SCHEMA, orient="row")
    alter_frame = pl.DataFrame(alter_edges, schema=ALTER_SCHEMA, orient="row")
    constraint = dict(burt_constraint(ego_frame, alter_frame).iter_rows())
    esize = dict(effective_size(ego_frame, alter_frame).iter_rows())
    for ego in {e for e, _, _ in ego_edges}:
        g = as_graph(ego, ego_edges, alter_edges)
        # nodes=[ego] runs networkx's per-node definition; see docs/metrics.md on its all-nodes fast path
        assert constraint[ego] == pytest.approx(nx.constraint(g, nodes=[ego], weight="weight")[ego], abs=1e-9)
        assert esize[ego] == pytest.approx(nx.effective_size(g, nodes=[ego], weight="weight")[ego], abs=1e-9)
        assert constraint[ego] == pytest.approx(nx.constraint(g, weight="weight")[ego], abs=1e-9)


def test_hand_computed_triangle() -> None:
    # ego-a 1, ego-b 2, a-b 4.
    # p(e,a) = 1/3, p(e,b) = 2/3; S(a) = 1 + 4 = 5, S(b) = 2 + 4 = 6
    # c = (1/3 + 2/3 * 4/6)^2 + (2/3 + 1/3 * 4/5)^2 = (7/9)^2 + (14/15)^2
    # M(a) = 4, M(b) = 4: redundancy(a) = p(e,b) * 4/4 = 2/3, redundancy(b) = p(e,a) * 4/4 = 1/3
    # effective size = 2 - 1 = 1; efficiency = 1 / 2
    ego = pl.DataFrame([("e", "a", 1.0), ("e", "b", 2.0)], schema=EGO_SCHEMA, orient="row")
    among = pl.DataFrame([("e", "b", "a", 4.0)], schema=ALTER_SCHEMA, orient="row")
    row = structural_holes(ego, among).row(0, named=True)
    assert row["burt_constraint"] == pytest.approx((7 / 9) ** 2 + (14 / 15) ** 2)
    assert row["effective_size"] == pytest.approx(1.0)
    assert row["efficiency"] == pytest.approx(0.5)
    assert row["n_alters"] == 2


def test_unconnected_alters_give_constraint_sum_of_squares_and_full_effective_size() -> None:
    ego = pl.DataFrame([("e", x, 1.0) for x in "abcd"], schema=EGO_SCHEMA, orient="row")
    row = structural_holes(ego, pl.DataFrame(schema=ALTER_SCHEMA)).row(0, named=True)
    assert row["burt_constraint"] == pytest.approx(4 * 0.25**2)
    assert row["effective_size"] == pytest.approx(4.0)


def test_alter_edges_outside_the_ego_network_and_self_loops_are_ignored() -> None:
    ego = pl.DataFrame([("e", "a", 1.0), ("e", "b", 1.0)], schema=EGO_SCHEMA, orient="row")
    among = pl.DataFrame([("e", "a", "zz", 5.0), ("e", "a", "a", 3.0)], schema=ALTER_SCHEMA, orient="row")
    row = structural_holes(ego, among).row(0, named=True)
    assert row["burt_constraint"] == pytest.approx(0.5)
    assert row["effective_size"] == pytest.approx(2.0)


def test_cooccurrence_edges_from_shared_messages_and_meetings() -> None:
    as_of = dt.datetime(2026, 4, 1, tzinfo=dt.UTC)
    msgs = b.messages(
        [
            {"message_key": "m1", "sent_at": as_of, "sender_id": "ego@a.com", "n_recipients": 2},
            # inbound from ana with cy copied: ana and cy co-occur for ego although cy is only copied
            {"message_key": "m2", "sent_at": as_of, "sender_id": "ana@a.com", "n_recipients": 2},
        ]
    )
    rcpts = b.recipients([("m1", "ana@a.com"), ("m1", "bob@a.com"), ("m2", "ego@a.com"), ("m2", "cy@a.com")])
    atts = b.attendees(
        [("e1", "ego@a.com", "accepted"), ("e1", "ana@a.com", "accepted"), ("e1", "bob@a.com", "tentative")]
    )
    inter = b.interactions(
        [
            {
                "ego_id": "ego@a.com",
                "alter_id": "ana@a.com",
                "occurred_at": as_of,
                "channel": "email",
                "group_size": 2,
                "source_key": "m1",
            },
            {
                "ego_id": "ego@a.com",
                "alter_id": "bob@a.com",
                "occurred_at": as_of,
                "channel": "email",
                "group_size": 2,
                "source_key": "m1",
            },
            {
                "ego_id": "ego@a.com",
                "alter_id": "ana@a.com",
                "occurred_at": as_of,
                "channel": "email",
                "actor": "alter",
                "group_size": 2,
                "source_key": "m2",
            },
            {
                "ego_id": "ego@a.com",
                "alter_id": "cy@a.com",
                "occurred_at": as_of - dt.timedelta(days=1),
                "channel": "email",
                "source_key": "m9",
            },
            {
                "ego_id": "ego@a.com",
                "alter_id": "ana@a.com",
                "occurred_at": as_of,
                "channel": "meeting",
                "actor": "both",
                "group_size": 2,
                "source": "calendar",
                "source_key": "e1",
            },
            {
                "ego_id": "ego@a.com",
                "alter_id": "bob@a.com",
                "occurred_at": as_of,
                "channel": "meeting",
                "actor": "both",
                "group_size": 2,
                "source": "calendar",
                "source_key": "e1",
            },
        ]
    )
    parts = record_participants(msgs, rcpts, atts)
    edges = cooccurrence_edges(inter, parts, as_of)
    # ana-bob: m1 (email 1/sqrt(2)) + e1 (meeting 2/sqrt(2)); ana-cy: m2 (email 1/sqrt(2)); all today, undecayed
    assert edges.select("alter_a", "alter_b").rows() == [("ana@a.com", "bob@a.com"), ("ana@a.com", "cy@a.com")]
    assert edges["weight"].to_list() == pytest.approx([3 / math.sqrt(2), 1 / math.sqrt(2)])


def _shared_records(seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Interactions and participants of random mail and meetings among 3 egos and 5 others over 200 days, with
    manual entries (alters that link no one) and a record seen twice by its ego."""
    rng = random.Random(seed)
    people = [f"p{k}@a.com" for k in range(8)]
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    parts, rows = [], []
    for r in range(60):
        source = rng.choice(["email", "calendar"])
        key = f"{source[0]}{r}"
        members = rng.sample(people, rng.randint(2, 5))
        parts += [{"source": source, "source_key": key, "person_id": p} for p in members]
        when = start + dt.timedelta(days=rng.uniform(0, 200))
        for ego in (p for p in members if p in people[:3]):
            for alter in (p for p in members if p != ego and rng.random() < 0.7):
                seen = when + dt.timedelta(days=rng.choice([0, 0, 0, 3]))
                channel = "email" if source == "email" else "meeting"
                rows.append(
                    {
                        "ego_id": ego,
                        "alter_id": alter,
                        "occurred_at": seen,
                        "channel": channel,
                        "group_size": len(members) - 1,
                        "source": source,
                        "source_key": key,
                    }
                )
    for _ in range(20):
        ego, alter = rng.choice(people[:3]), rng.choice(people[3:])
        when = start + dt.timedelta(days=rng.uniform(0, 200))
        rows.append(
            {
                "ego_id": ego,
                "alter_id": alter,
                "occurred_at": when,
                "channel": "call",
                "source": "manual",
                "source_key": None,
            }
        )
    return b.interactions(rows), pl.DataFrame(parts).unique()


def _counted_edges(inter: pl.DataFrame, parts: pl.DataFrame, at: dt.datetime, params: AnalyticsParams) -> dict:
    """Co-occurrence weights by their definition, one record at a time."""
    members = defaultdict(set)
    for row in parts.iter_rows(named=True):
        members[(row["source"], row["source_key"])].add(row["person_id"])
    alters, seen = defaultdict(set), defaultdict(float)
    for row in inter.iter_rows(named=True):
        age = (at - row["occurred_at"]).total_seconds() / 86_400
        if not 0 <= age < params.activity_window_days:
            continue
        alters[row["ego_id"]].add(row["alter_id"])
        if row["source"] != "manual":
            weight = params.channel_weight(row["channel"]) * row["group_size"] ** -params.intimacy_exponent
            decayed = weight * 2 ** (-age / params.half_life_days)
            key = (row["ego_id"], row["source"], row["source_key"])
            seen[key] = max(seen[key], decayed)
    edges: dict = defaultdict(float)
    for (ego, source, key), weight in seen.items():
        linked = sorted(p for p in members[(source, key)] if p != ego and p in alters[ego])
        for i, a in enumerate(linked):
            for c in linked[i + 1 :]:
                edges[(ego, a, c)] += weight
    return dict(edges)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_record_index_at_many_dates_and_for_some_egos_counts_each_shared_record(seed: int) -> None:
    inter, parts = _shared_records(seed)
    params = AnalyticsParams()
    dates = [dt.datetime(2026, m, 1, 12, tzinfo=dt.UTC) for m in range(2, 9)]
    after = dates[0] - dt.timedelta(days=params.activity_window_days)
    index = RecordIndex.of(inter, parts, after)
    some = pl.Series(["p0@a.com", "p2@a.com"])
    of_some = index.of_egos(some)
    for at in dates:
        expected = _counted_edges(inter, parts, at, params)
        assert expected, "each date links some alters"
        for edges, egos in ((index.edges(at, params), None), (of_some.edges(at, params), set(some))):
            wanted = {k: v for k, v in expected.items() if egos is None or k[0] in egos}
            got = {(e, a, c): w for e, a, c, w in edges.iter_rows()}
            assert got.keys() == wanted.keys()
            assert [got[k] for k in sorted(got)] == pytest.approx([wanted[k] for k in sorted(got)], rel=1e-12)
            assert edges.select("ego_id", "alter_a", "alter_b").rows() == sorted(got)
        single = cooccurrence_edges(inter, parts, at, params)
        assert_frame_equal(single, index.edges(at, params), check_exact=False, rel_tol=1e-12, abs_tol=1e-12)
