"""What the warehouse saw of each ego at the analysis date, from ``intermediate.int_observation_windows``.

An export shows only what was in it: a Sent folder shows what the ego wrote, never what came back; a mailbox
exported in May says nothing about June. Every alert and score asks this module whether the silence or the
one-sidedness it is about was observed. Items after the analysis date are ignored (a scope that starts later
was not observed yet; one that runs on is observed up to the analysis date).
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from tiepulse.core.params import AnalyticsParams
from tiepulse.pipelines.analytics.common import UTC_TS, Frame, as_of_instant, lazy

INBOUND_ROLES = ("inbox", "other", "mailbox")
"""Folder roles that can hold mail the ego received (not sent, drafts or calendar notices)."""

OBSERVATION_SCHEMA: dict[str, pl.DataType] = {
    "ego_id": pl.String(),
    "data_start": UTC_TS,
    "data_end": UTC_TS,
    "inbound_start": UTC_TS,
    "inbound_end": UTC_TS,
    "calendar_end": UTC_TS,
    "data_status": pl.String(),
    "inbound_observed": pl.Boolean(),
}
"""Columns of :func:`observe_egos`."""


def observe_egos(
    windows: Frame, addresses: Frame, as_of: dt.date | dt.datetime, params: AnalyticsParams | None = None
) -> pl.DataFrame:
    """One row per ego (a resolved mailbox, calendar or log owner) with what was observed up to ``as_of``.

    ``windows``: ``kind``, ``owner``, ``folder_role``, ``first_item``, ``last_item``, ``n_received``
    (``intermediate.int_observation_windows``); ``addresses``: ``address``, ``person_id``
    (``intermediate.int_addresses_resolved``). Columns (:data:`OBSERVATION_SCHEMA`): the first and last item of
    any scope, of the scopes that can show inbound mail, and of calendars and logs (all capped at ``as_of``);
    ``data_status`` ``current``, or ``no_recent_data`` when the last item is more than ``stale_data_days``
    before ``as_of``; ``inbound_observed`` when inbound mail was seen within ``stale_data_days`` of ``as_of``.
    """
    params = params or AnalyticsParams()
    instant = pl.lit(as_of_instant(as_of), dtype=UTC_TS)
    stale = pl.duration(days=params.stale_data_days)
    owners = lazy(addresses).select(owner="address", ego_id="person_id")
    scopes = (
        lazy(windows)
        .select(
            "kind",
            "owner",
            "folder_role",
            "n_received",
            first=pl.col("first_item").dt.convert_time_zone("UTC"),
            last=pl.min_horizontal(pl.col("last_item").dt.convert_time_zone("UTC"), instant),
        )
        .filter(pl.col("first") <= instant)
        .join(owners, on="owner", how="left")
        .with_columns(ego_id=pl.coalesce("ego_id", "owner"))
    )
    inbound = (pl.col("kind") == "mail") & pl.col("folder_role").is_in(INBOUND_ROLES) & (pl.col("n_received") > 0)
    two_way = pl.col("kind").is_in(["calendar", "log"])
    return (
        scopes.group_by("ego_id")
        .agg(
            data_start=pl.col("first").min(),
            data_end=pl.col("last").max(),
            inbound_start=pl.col("first").filter(inbound).min(),
            inbound_end=pl.col("last").filter(inbound).max(),
            calendar_end=pl.col("last").filter(two_way).max(),
        )
        .with_columns(
            data_status=pl.when(pl.col("data_end") < instant - stale)
            .then(pl.lit("no_recent_data"))
            .otherwise(pl.lit("current")),
            inbound_observed=(pl.col("inbound_end") >= instant - stale).fill_null(False),
        )
        .select(list(OBSERVATION_SCHEMA))
        .sort("ego_id")
        .collect()
    )


def everything_observed(egos: Frame) -> pl.DataFrame:
    """The observation of egos whose every channel is taken as observed for all time (no windows given)."""
    far = pl.lit(dt.datetime(1970, 1, 1, tzinfo=dt.UTC), dtype=UTC_TS)
    future = pl.lit(dt.datetime(9999, 12, 31, tzinfo=dt.UTC), dtype=UTC_TS)
    return (
        lazy(egos)
        .select("ego_id")
        .unique()
        .select(
            "ego_id",
            data_start=far,
            data_end=future,
            inbound_start=far,
            inbound_end=future,
            calendar_end=future,
            data_status=pl.lit("current"),
            inbound_observed=pl.lit(True),
        )
        .collect()
    )
