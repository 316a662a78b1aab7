"""Burt's constraint and effective size against networkx; co-occurrence edges on a hand-made case."""

from __future__ import annotations

import datetime as dt
import math

import networkx as nx
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.analytics import builders as b
from tiepulse.pipelines.analytics.brokerage import (
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
