"""Delivery state in ``ops``: each digest is recorded before it is sent, and its alerts claimed with it.

The order of writes is what keeps each alert to one digest per channel:

1. ``claim``: in one transaction, the digest (status ``sending``, its text, a new id) and one row per alert in
   ``ops.notify_delivered_alerts`` (``insert_unclaimed`` refuses a second claim of the same alert on the same
   channel, on a DuckLake too, which has no primary key).
2. the message is sent, carrying the delivery id as its idempotency key.
3. ``mark_sent`` or ``mark_failed``: a failed digest keeps its alerts and is sent again, same id and same text,
   on the next run (not before the moment its server asked for with ``Retry-After``, if it did).

Runs that write hold the warehouse's one write lock, so a digest still ``sending`` when a run starts belongs to
a process that died between steps 2 and 3: it may or may not have arrived. ``settle_interrupted`` marks it
``uncertain`` and does not send it again (at most once in that window: never doubled, possibly lost, and said so);
``resend`` puts one back in the queue when the receiver shows it never came.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from dataclasses import dataclass

import duckdb
import polars as pl

from tiepulse.core.keyed_writes import insert_unclaimed
from tiepulse.core.warehouse import transaction

_EPISODE = ("channel", "alert_id", "opened_at")
"""An alert episode on a channel: claimed by one digest at most."""


@dataclass(frozen=True, slots=True)
class Pending:
    """A digest recorded and not yet known to be delivered."""

    delivery_id: str
    channel: str
    recipient: str
    title: str
    body: str
    alerts: int
    attempts: int
    retry_at: dt.datetime | None = None
    """Not to be sent again before this (the ``Retry-After`` of the channel's last refusal)."""


def claim(
    con: duckdb.DuckDBPyConnection, channel: str, recipient: str, title: str, body: str, alerts: pl.DataFrame
) -> Pending:
    """Record a digest as ``sending`` and claim its alert episodes for ``channel``, in one transaction."""
    delivery_id = uuid.uuid4().hex
    claimed = alerts.select("alert_id", "opened_at").with_columns(
        channel=pl.lit(channel), delivery_id=pl.lit(delivery_id)
    )
    con.register("_claimed", claimed.to_arrow())
    try:
        with transaction(con):
            con.execute(
                "insert into ops.notify_deliveries (delivery_id, channel, recipient, status, title, body, alerts, "
                "attempts, attempted_at, created_at) values (?, ?, ?, 'sending', ?, ?, ?, 1, now(), now())",
                [delivery_id, channel, recipient, title, body, alerts.height],
            ).fetchall()
            insert_unclaimed(con, "ops.notify_delivered_alerts", "select * from _claimed", _EPISODE)
    finally:
        con.unregister("_claimed")
    return Pending(delivery_id, channel, recipient, title, body, alerts.height, 1)


def retry(con: duckdb.DuckDBPyConnection, pending: Pending) -> Pending:
    """Mark a failed digest ``sending`` again before it is re-sent."""
    con.execute(
        "update ops.notify_deliveries set status = 'sending', attempts = attempts + 1, attempted_at = now() "
        "where delivery_id = ?",
        [pending.delivery_id],
    ).fetchall()
    return dataclasses.replace(pending, attempts=pending.attempts + 1)


def mark_sent(con: duckdb.DuckDBPyConnection, delivery_id: str, sent_at: dt.datetime) -> None:
    """``sent_at``: the run's clock, the one its schedule counts days with."""
    con.execute(
        "update ops.notify_deliveries set status = 'sent', sent_at = ?, error = null, retry_at = null "
        "where delivery_id = ?",
        [sent_at, delivery_id],
    ).fetchall()


def mark_failed(
    con: duckdb.DuckDBPyConnection, delivery_id: str, error: str, retry_at: dt.datetime | None = None
) -> None:
    con.execute(
        "update ops.notify_deliveries set status = 'failed', error = ?, retry_at = ? where delivery_id = ?",
        [error, retry_at, delivery_id],
    ).fetchall()


def failed(con: duckdb.DuckDBPyConnection, channel: str) -> list[Pending]:
    """The channel's failed digests, oldest first: they go before anything new."""
    rows = con.execute(
        "select delivery_id, channel, recipient, title, body, alerts, attempts, retry_at from ops.notify_deliveries "
        "where channel = ? and status = 'failed' order by created_at, delivery_id",
        [channel],
    ).fetchall()
    return [Pending(*row) for row in rows]


def settle_interrupted(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str]]:
    """Mark digests left ``sending`` by a dead process ``uncertain``; returns (delivery id, channel, recipient)."""
    rows = con.execute(
        "update ops.notify_deliveries set status = 'uncertain', "
        "error = 'the process stopped between sending and recording; not sent again' "
        "where status = 'sending' returning delivery_id, channel, recipient"
    ).fetchall()
    return [(str(a), str(b), str(c)) for a, b, c in rows]


def resend(con: duckdb.DuckDBPyConnection, delivery_id: str) -> bool:
    """Queue an ``uncertain`` (or failed) digest to be sent again, same id and text; False if there is none."""
    rows = con.execute(
        "update ops.notify_deliveries set status = 'failed' where delivery_id = ? "
        "and status in ('uncertain', 'failed') returning 1",
        [delivery_id],
    ).fetchall()
    return bool(rows)


def last_sent(con: duckdb.DuckDBPyConnection, channel: str) -> dict[str, object]:
    """When each recipient of the channel last got a digest (the schedule counts from it)."""
    rows = con.execute(
        "select recipient, max(sent_at)::date from ops.notify_deliveries where channel = ? and status = 'sent' "
        "group by recipient",
        [channel],
    ).fetchall()
    return dict(rows)
