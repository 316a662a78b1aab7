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
from dataclasses import dataclass

import polars as pl

from tiepulse.core.params import AnalyticsParams
from tiepulse.pipelines.analytics.common import UTC_TS, Frame, as_of_instant, days_between, lazy, weight_expr
from tiepulse.pipelines.analytics.ties import decay_expr

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
    ``weight``. At many dates, :class:`RecordIndex` joins the records to their participants once.
    """
    params = params or AnalyticsParams()
    in_window = _window(lazy(interactions), as_of, params).drop("age", "dw")
    return RecordIndex.of(in_window, participants).edges(as_of, params)


_INDEXED = ("occurred_at", "source", "channel", "group_size")
"""The columns of an interaction the brokerage window and weight read (besides the ego and alter)."""


@dataclass(frozen=True)
class RecordIndex:
    """Interactions with their records (message, meeting) numbered, and who took part in each record besides its ego:
    the string join of records to participants, done once for the brokerage at every date analysed.

    People are coded by their position in ``names`` (sorted), so codes compare and sort as the ids do and every
    join below is on integers.
    """

    interactions: pl.DataFrame
    """``ego``, ``alter`` (codes), ``rec`` (null for a manual entry, which links no one), and ``_INDEXED``."""
    members: pl.DataFrame
    """``rec``, ``ego``, ``person``: the record's participants other than its ego (codes; null: not a name)."""
    names: pl.Series

    @classmethod
    def of(cls, interactions: Frame, participants: Frame, after: dt.datetime | None = None) -> RecordIndex:
        """The index of ``interactions`` (those after ``after`` when given: the brokerage of later dates reads no
        earlier ones) and their records' ``participants`` (:func:`record_participants`)."""
        later = lazy(interactions)
        if after is not None:
            later = later.filter(pl.col("occurred_at") > pl.lit(after, dtype=UTC_TS))
        inter = later.select("ego_id", "alter_id", "source_key", *_INDEXED).collect().with_row_index("rec")
        names = pl.concat([inter.get_column("alter_id"), inter.get_column("ego_id")]).drop_nulls().unique().sort()
        code = pl.Series(range(names.len()), dtype=pl.UInt32)

        def encode(column: str) -> pl.Expr:
            return pl.col(column).replace_strict(names, code, default=None, return_dtype=pl.UInt32)

        # A record's number is the row of its ego's first interaction with it: a window, not a join back.
        numbered = inter.with_columns(
            rec=pl.when(pl.col("source") != "manual").then(pl.col("rec").first().over("ego_id", "source", "source_key"))
        )
        records = numbered.filter(pl.col("rec").is_not_null()).select("rec", "ego_id", "source", "source_key")
        members = (
            records.unique("rec")
            .lazy()
            .join(lazy(participants), on=["source", "source_key"])
            .select("rec", ego=encode("ego_id"), person=encode("person_id"))
            .filter(pl.col("person") != pl.col("ego"))
            .collect(engine="in-memory")  # this join: 0.9 s in memory, 1.5 s streaming (polars 2.1, a shard)
        )
        numbered = numbered.select(*_INDEXED, "rec", ego=encode("ego_id"), alter=encode("alter_id"))
        return cls(numbered, members, names)

    def of_egos(self, egos: pl.Series) -> RecordIndex:
        """The index narrowed to the interactions and records of ``egos``."""
        codes = pl.DataFrame({"name": self.names}).with_row_index("code").filter(pl.col("name").is_in(egos.implode()))
        mine = pl.col("ego").is_in(codes.get_column("code").implode())
        return RecordIndex(self.interactions.filter(mine), self.members.filter(mine), self.names)

    def edges(self, as_of: dt.date | dt.datetime, params: AnalyticsParams) -> pl.DataFrame:
        """:func:`cooccurrence_edges` at ``as_of`` (the interactions indexed must cover its activity window)."""
        windowed = _window(self.interactions.lazy(), as_of, params)
        # One row per record in the window, with the largest decayed weight the ego saw it with.
        records = windowed.filter(pl.col("rec").is_not_null()).group_by("rec").agg(rec_weight=pl.col("dw").max())
        alters = windowed.select("ego", person="alter").unique()
        members = (
            records.join(self.members.lazy(), on="rec")
            .join(alters, on=["ego", "person"], how="semi")
            .select("rec", "rec_weight", "ego", "person")
            .collect()
        )
        codes = (
            members.lazy()
            .select("rec", "ego", "rec_weight", a="person")
            .join(members.lazy().select("rec", b="person"), on="rec")
            .filter(pl.col("a") < pl.col("b"))
            .group_by("ego", "a", "b")
            .agg(weight=pl.col("rec_weight").sum())
            .sort("ego", "a", "b")
            .collect()
        )
        return pl.DataFrame(
            {
                "ego_id": self.names.gather(codes.get_column("ego")),
                "alter_a": self.names.gather(codes.get_column("a")),
                "alter_b": self.names.gather(codes.get_column("b")),
                "weight": codes.get_column("weight"),
            },
            schema={"ego_id": pl.String, "alter_a": pl.String, "alter_b": pl.String, "weight": pl.Float64},
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
    # One row per (ego, alter), numbered ``node``: every later join is on that integer, and per-node values are
    # looked up by position (``gather``) rather than joined on (ego, alter) strings.
    nodes = (
        lazy(ego_edges)
        .filter((pl.col("weight") > 0) & (pl.col("ego_id") != pl.col("alter_id")))
        .group_by("ego_id", "alter_id")
        .agg(pl.col("weight").sum().cast(pl.Float64))
        .collect()
        .with_row_index("node")
        .with_columns(p_ij=pl.col("weight") / pl.col("weight").sum().over("ego_id"), n_alters=pl.len().over("ego_id"))
    )
    ids = nodes.lazy().select("ego_id", "alter_id", "node")
    canonical = (
        lazy(alter_edges)
        .filter((pl.col("weight") > 0) & (pl.col("alter_a") != pl.col("alter_b")))
        .select(
            "ego_id",
            a=pl.min_horizontal("alter_a", "alter_b"),
            b=pl.max_horizontal("alter_a", "alter_b"),
            w=pl.col("weight").cast(pl.Float64),
        )
        # inner joins on unique (ego, alter) keys: both ends must be alters of the ego
        .join(ids.select("ego_id", a="alter_id", u="node"), on=["ego_id", "a"])
        .join(ids.select("ego_id", b="alter_id", v="node"), on=["ego_id", "b"])
        .group_by("u", "v")
        .agg(pl.col("w").sum())
        .collect()
    )
    # alter-alter ties in both directions: (u -> v) and (v -> u)
    u, v, w = canonical.get_column("u"), canonical.get_column("v"), canonical.get_column("w")
    among = pl.DataFrame({"u": pl.concat([u, v]), "v": pl.concat([v, u]), "w": pl.concat([w, w])})
    among_stats = among.group_by("u").agg(s_among=pl.col("w").sum(), m_among=pl.col("w").max())
    stats = (
        nodes.select("node", "weight")
        .join(among_stats, left_on="node", right_on="u", how="left")
        .sort("node")
        .select(
            s_alter=pl.col("weight") + pl.col("s_among").fill_null(0.0),
            m_alter=pl.max_horizontal("weight", pl.col("m_among").fill_null(0.0)),
        )
    )
    p_ij = nodes.get_column("p_ij")
    src, dst = among.get_column("u"), among.get_column("v")
    # Each directed alter-alter tie (u -> v) is a path i -> u -> v. For the constraint on the tie to j = v
    # it adds p(i, u) * p(u, v); for the redundancy of j = u it adds p(i, v) * w(u, v) / M(u).
    paths = among.with_columns(
        p_iu=p_ij.gather(src),
        s_u=stats.get_column("s_alter").gather(src),
        m_u=stats.get_column("m_alter").gather(src),
        p_iv=p_ij.gather(dst),
    )
    indirect = paths.group_by(node="v").agg(indirect=(pl.col("p_iu") * pl.col("w") / pl.col("s_u")).sum())
    redundancy = paths.group_by(node="u").agg(redundancy=(pl.col("p_iv") * pl.col("w") / pl.col("m_u")).sum())
    per_alter = (
        nodes.lazy()
        .select("node", "ego_id", "p_ij", "n_alters")
        .join(indirect.lazy(), on="node", how="left")
        .join(redundancy.lazy(), on="node", how="left")
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


def activity_window(as_of: dt.date | dt.datetime, params: AnalyticsParams) -> tuple[dt.datetime, dt.datetime]:
    """``(start, end)``: the brokerage reads the interactions with ``start < occurred_at <= end``."""
    instant = as_of_instant(as_of)
    return instant - dt.timedelta(days=params.activity_window_days), instant


def _window(interactions: pl.LazyFrame, as_of: dt.date | dt.datetime, params: AnalyticsParams) -> pl.LazyFrame:
    start, instant = activity_window(as_of, params)
    return (
        interactions.filter(
            (pl.col("occurred_at") <= pl.lit(instant, dtype=UTC_TS))
            & (pl.col("occurred_at") > pl.lit(start, dtype=UTC_TS))
        )
        .with_columns(age=days_between(instant, pl.col("occurred_at")))
        .with_columns(dw=weight_expr(params) * decay_expr(pl.col("age"), params))
    )
