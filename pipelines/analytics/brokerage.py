"""Brokerage on each ego's network: Burt's constraint and effective size, as joins and group-bys.

The ego network of ego ``i`` holds ``i``, its alters, the ego-alter ties (weight: decayed interaction
volume) and the alter-alter ties seen by ``i`` (weight: decayed volume of the mail and meetings ``i`` shared
with both alters). Ties are undirected. With ``w`` the tie weights, ``S(u)`` the sum and ``M(u)`` the largest
weight of ``u``'s ties inside the ego network:

- proportional tie ``p(u, v) = w(u, v) / S(u)``;
- constraint ``c(i) = sum_j (p(i, j) + sum_q p(i, q) p(q, j))^2`` over alters ``j`` (and ``q``);
- effective size ``e(i) = sum_j (1 - sum_q p(i, q) w(j, q) / M(j))``.

These are the definitions of ``networkx.constraint`` and ``networkx.effective_size`` (tested against them).
An alter's ties outside the ego's view are unknown, so ``S`` and ``M`` of an alter count only ties in the ego
network; an alter-alter edge whose ends are not both alters of the ego is ignored.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from pipelines.analytics.common import UTC_TS, Frame, as_of_instant, days_between, lazy, weight_expr
from pipelines.analytics.params import AnalyticsParams
from pipelines.analytics.ties import decay_expr

_ATTENDING = ("accepted", "tentative")


def record_participants(messages: Frame, recipients: Frame, attendees: Frame) -> pl.DataFrame:
    """Everyone taking part in each message (sender and recipients) and meeting (accepted or tentative).

    Columns: ``source`` (email|calendar), ``source_key``, ``person_id``.
    """
    senders = lazy(messages).select(source=pl.lit("email"), source_key="message_key", person_id="sender_id")
    rcpts = lazy(recipients).select(source=pl.lit("email"), source_key="message_key", person_id="person_id")
    present = (
        lazy(attendees)
        .filter(pl.col("response").is_in(list(_ATTENDING)))
        .select(source=pl.lit("calendar"), source_key="event_key", person_id="person_id")
    )
    return pl.concat([senders, rcpts, present]).unique().collect()


def ego_network_edges(
    interactions: Frame, as_of: dt.date | dt.datetime, params: AnalyticsParams | None = None
) -> pl.DataFrame:
    """Ego-alter tie weights: decayed interaction volume over ``activity_window_days`` before ``as_of``.

    Columns: ``ego_id``, ``alter_id``, ``weight``.
    """
    params = params or AnalyticsParams()
    return (
        _window(lazy(interactions), as_of, params)
        .group_by("ego_id", "alter_id")
        .agg(weight=pl.col("dw").sum())
        .filter(pl.col("weight") > 0)
        .sort("ego_id", "alter_id")
        .collect()
    )


def cooccurrence_edges(
    interactions: Frame,
    participants: Frame,
    as_of: dt.date | dt.datetime,
    params: AnalyticsParams | None = None,
) -> pl.DataFrame:
    """Alter-alter tie weights per ego, from the messages and meetings the ego shared with both alters.

    Each record the ego took part in (an interaction in the activity window) links every two of its other
    participants with the record's decayed weight as the ego saw it (channel x intimacy x decay). Only
    people who are themselves alters of the ego in the window are linked. ``participants`` comes from
    :func:`record_participants`. Columns: ``ego_id``, ``alter_a``, ``alter_b`` (``alter_a < alter_b``),
    ``weight``.
    """
    params = params or AnalyticsParams()
    windowed = _window(lazy(interactions), as_of, params)
    records = (
        windowed.filter(pl.col("source") != "manual")
        .group_by("ego_id", "source", "source_key")
        .agg(rec_weight=pl.col("dw").max())
    )
    alters = windowed.select("ego_id", person_id="alter_id").unique()
    members = (
        records.join(lazy(participants), on=["source", "source_key"])
        .filter(pl.col("person_id") != pl.col("ego_id"))
        .join(alters, on=["ego_id", "person_id"], how="semi")
        .select("ego_id", "source", "source_key", "rec_weight", "person_id")
    )
    left = members.rename({"person_id": "alter_a"})
    right = members.select("ego_id", "source", "source_key", alter_b="person_id")
    return (
        left.join(right, on=["ego_id", "source", "source_key"])
        .filter(pl.col("alter_a") < pl.col("alter_b"))
        .group_by("ego_id", "alter_a", "alter_b")
        .agg(weight=pl.col("rec_weight").sum())
        .sort("ego_id", "alter_a", "alter_b")
        .collect()
    )


def burt_constraint(ego_edges: Frame, alter_edges: Frame) -> pl.DataFrame:
    """Burt's constraint of each ego with at least one tie. Columns: ``ego_id``, ``constraint``."""
    return structural_holes(ego_edges, alter_edges).select("ego_id", "burt_constraint")


def effective_size(ego_edges: Frame, alter_edges: Frame) -> pl.DataFrame:
    """Burt's effective size of each ego with at least one tie. Columns: ``ego_id``, ``effective_size``."""
    return structural_holes(ego_edges, alter_edges).select("ego_id", "effective_size")


def structural_holes(ego_edges: Frame, alter_edges: Frame) -> pl.DataFrame:
    """Constraint, effective size and efficiency (effective size / number of alters) of each ego.

    ``ego_edges``: ``ego_id``, ``alter_id``, ``weight``; ``alter_edges``: ``ego_id``, ``alter_a``,
    ``alter_b``, ``weight``. Repeated edges are summed, self-loops and non-positive weights dropped.
    """
    ego = (
        lazy(ego_edges)
        .filter((pl.col("weight") > 0) & (pl.col("ego_id") != pl.col("alter_id")))
        .group_by("ego_id", "alter_id")
        .agg(pl.col("weight").sum().cast(pl.Float64))
    )
    canonical = (
        lazy(alter_edges)
        .filter((pl.col("weight") > 0) & (pl.col("alter_a") != pl.col("alter_b")))
        .select(
            "ego_id",
            a=pl.min_horizontal("alter_a", "alter_b"),
            b=pl.max_horizontal("alter_a", "alter_b"),
            weight=pl.col("weight").cast(pl.Float64),
        )
        .join(ego.select("ego_id", a="alter_id"), on=["ego_id", "a"], how="semi")
        .join(ego.select("ego_id", b="alter_id"), on=["ego_id", "b"], how="semi")
        .group_by("ego_id", "a", "b")
        .agg(pl.col("weight").sum())
    )
    # alter-alter ties in both directions: (u -> v) and (v -> u)
    among = pl.concat(
        [
            canonical.select("ego_id", u="a", v="b", w="weight"),
            canonical.select("ego_id", u="b", v="a", w="weight"),
        ]
    )
    ego_totals = ego.group_by("ego_id").agg(s_ego=pl.col("weight").sum(), n_alters=pl.len())
    p_ego = ego.join(ego_totals, on="ego_id").select(
        "ego_id", "alter_id", "n_alters", p_ij=pl.col("weight") / pl.col("s_ego"), w_ij="weight"
    )
    among_stats = among.group_by("ego_id", "u").agg(s_among=pl.col("w").sum(), m_among=pl.col("w").max())
    alter_stats = p_ego.join(among_stats, left_on=["ego_id", "alter_id"], right_on=["ego_id", "u"], how="left").select(
        "ego_id",
        "alter_id",
        "p_ij",
        s_alter=pl.col("w_ij") + pl.col("s_among").fill_null(0.0),
        m_alter=pl.max_horizontal("w_ij", pl.col("m_among").fill_null(0.0)),
    )
    # Each directed alter-alter tie (u -> v) is a path i -> u -> v. For the constraint on the tie to j = v
    # it adds
    # p(i, u) * p(u, v); for the redundancy of j = u it adds p(i, v) * w(u, v) / M(u).
    paths = among.join(
        alter_stats.select("ego_id", u="alter_id", p_iu="p_ij", s_u="s_alter", m_u="m_alter"),
        on=["ego_id", "u"],
    ).join(alter_stats.select("ego_id", v="alter_id", p_iv="p_ij"), on=["ego_id", "v"])
    indirect = paths.group_by("ego_id", j="v").agg(indirect=(pl.col("p_iu") * pl.col("w") / pl.col("s_u")).sum())
    redundancy = paths.group_by("ego_id", j="u").agg(redundancy=(pl.col("p_iv") * pl.col("w") / pl.col("m_u")).sum())
    per_alter = (
        p_ego.select("ego_id", j="alter_id", p_ij="p_ij", n_alters="n_alters")
        .join(indirect, on=["ego_id", "j"], how="left")
        .join(redundancy, on=["ego_id", "j"], how="left")
        .with_columns(pl.col("indirect", "redundancy").fill_null(0.0))
    )
    return (
        per_alter.group_by("ego_id")
        .agg(
            burt_constraint=((pl.col("p_ij") + pl.col("indirect")) ** 2).sum(),
            effective_size=pl.col("n_alters").first() - pl.col("redundancy").sum(),
            n_alters=pl.col("n_alters").first().cast(pl.Int32),
        )
        .with_columns(efficiency=pl.col("effective_size") / pl.col("n_alters"))
        .sort("ego_id")
        .collect()
    )


def _window(interactions: pl.LazyFrame, as_of: dt.date | dt.datetime, params: AnalyticsParams) -> pl.LazyFrame:
    instant = as_of_instant(as_of)
    start = instant - dt.timedelta(days=params.activity_window_days)
    return (
        interactions.filter(
            (pl.col("occurred_at") <= pl.lit(instant, dtype=UTC_TS))
            & (pl.col("occurred_at") > pl.lit(start, dtype=UTC_TS))
        )
        .with_columns(age=days_between(instant, pl.col("occurred_at")))
        .with_columns(dw=weight_expr(params) * decay_expr(pl.col("age"), params))
    )
