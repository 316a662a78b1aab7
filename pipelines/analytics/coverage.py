"""What the warehouse can see of each ego: whether mail sent *to* them is observed at all.

A sent-mail-only export (the Enron sample) shows what an ego wrote but never what they received from people whose
own mailboxes are not read, so "they never answered" would be an artefact. An ego's inbound mail counts as
observed when their own mailbox holds, within ``one_sided_window_days`` before the analysis date, a message sent
to them by someone else.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from tiepulse.core.params import AnalyticsParams
from tiepulse.pipelines.analytics.common import UTC_TS, Frame, as_of_instant, lazy


def observed_inboxes(
    sightings: Frame,
    recipients: Frame,
    addresses: Frame,
    as_of: dt.date | dt.datetime,
    params: AnalyticsParams | None = None,
) -> pl.DataFrame:
    """Egos whose inbound mail is observed at ``as_of``, with the latest message they received.

    ``sightings``: ``message_key``, ``mailbox_owner``, ``from_address``, ``sent_at``
    (``staging.stg_mail_sightings``); ``recipients``: ``message_key``, ``person_id``
    (``marts.fct_message_recipients``); ``addresses``: ``address``, ``person_id``
    (``intermediate.int_addresses_resolved``). Received means: in the ego's own mailbox, sent by someone else, with
    the ego among the recipients (a sent folder can hold mail an assistant sent on the owner's behalf; that is
    not inbound). Columns: ``ego_id``, ``last_received``.
    """
    params = params or AnalyticsParams()
    instant = as_of_instant(as_of)
    since = instant - dt.timedelta(days=params.one_sided_window_days)
    people = lazy(addresses).select("address", "person_id")

    def person(column: str) -> pl.LazyFrame:
        return people.rename({"address": column, "person_id": f"{column}_person"})

    return (
        lazy(sightings)
        .select("message_key", "mailbox_owner", "from_address", pl.col("sent_at").dt.convert_time_zone("UTC"))
        .filter(pl.col("sent_at").is_between(pl.lit(since, dtype=UTC_TS), pl.lit(instant, dtype=UTC_TS)))
        .join(person("mailbox_owner"), on="mailbox_owner", how="left")
        .join(person("from_address"), on="from_address", how="left")
        .select(
            "message_key",
            "sent_at",
            ego_id=pl.coalesce("mailbox_owner_person", "mailbox_owner"),
            sender=pl.coalesce("from_address_person", "from_address"),
        )
        .filter(pl.col("sender") != pl.col("ego_id"))
        .join(
            lazy(recipients).select("message_key", ego_id="person_id"),
            on=["message_key", "ego_id"],
            how="semi",
        )
        .group_by("ego_id")
        .agg(last_received=pl.col("sent_at").max())
        .sort("ego_id")
        .collect()
    )
