"""``send_due``: every digest that is due, on every channel (what `tiepulse notify` and the sensor's job run)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field

import duckdb

from tiepulse.core.settings import Settings
from tiepulse.pipelines import network_io as tables
from tiepulse.pipelines.marts_io import table_exists
from tiepulse.pipelines.notify import NotifyError, deliveries
from tiepulse.pipelines.notify.channels import Channel, load_channels
from tiepulse.pipelines.notify.digests import ORGANISATION, Digest, due_alerts, listing, organisation_counts
from tiepulse.pipelines.notify.send import send

_PERIOD_DAYS = {"daily": 1, "weekly": 7}


@dataclass(frozen=True, slots=True)
class Sent:
    channel: str
    recipient: str
    delivery_id: str
    alerts: int
    title: str
    body: str
    attempt: int
    error: str = ""
    """Why it failed (empty when it was delivered, or in a dry run)."""


@dataclass(slots=True)
class NotifyReport:
    channels: int = 0
    sent: list[Sent] = field(default_factory=list)
    failed: list[Sent] = field(default_factory=list)
    planned: list[Sent] = field(default_factory=list)
    """What a dry run would send."""
    not_due: list[tuple[str, str]] = field(default_factory=list)
    """(channel, recipient) with alerts waiting for the schedule."""
    uncertain: list[tuple[str, str, str]] = field(default_factory=list)
    """(delivery id, channel, recipient) of digests interrupted between sending and recording, found now."""
    held: list[tuple[str, dt.datetime]] = field(default_factory=list)
    """(channel, until when) of channels that asked with ``Retry-After`` to be left alone; they get nothing now."""


def _egos(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in con.execute(f"select ego_id from {tables.EGOS} order by 1").fetchall()]


def _digests(con: duckdb.DuckDBPyConnection, channel: Channel, settings: Settings) -> Iterator[Digest]:
    """The channel's digests over its due alerts: one per ego, or one for the organisation."""
    max_items = settings.config.notify.max_items
    if channel.audience == ORGANISATION:
        alerts = due_alerts(con, channel.key)
        if alerts.height:
            yield (
                listing(ORGANISATION, alerts, max_items, named_egos=True)
                if channel.include_people
                else organisation_counts(con, alerts, settings.config.privacy.min_group_size)
            )
        return
    alerts = due_alerts(con, channel.key, None if channel.audience == "each_ego" else channel.audience)
    for ego, group in alerts.group_by("ego_id", maintain_order=True):
        yield listing(str(ego[0]), group, max_items, named_egos=False)


def _is_due(last: object, schedule: str, today: dt.date) -> bool:
    return not isinstance(last, dt.date) or (today - last).days >= _PERIOD_DAYS[schedule]


def _sent(pending: deliveries.Pending, error: str = "") -> Sent:
    p = pending
    return Sent(p.channel, p.recipient, p.delivery_id, p.alerts, p.title, p.body, p.attempts, error)


def _deliver(
    con: duckdb.DuckDBPyConnection,
    channel: Channel,
    pending: deliveries.Pending,
    timeout: float,
    report: NotifyReport,
    now: dt.datetime,
) -> bool:
    """Send a recorded digest, record how it went, and say whether it was delivered."""
    outcome = send(channel, pending.recipient, pending.delivery_id, pending.title, pending.body, timeout)
    if outcome.ok:
        deliveries.mark_sent(con, pending.delivery_id, now)
        report.sent.append(_sent(pending))
    else:
        deliveries.mark_failed(con, pending.delivery_id, outcome.error, outcome.retry_at)
        report.failed.append(_sent(pending, outcome.error))
    return outcome.ok


def _channel_run(
    con: duckdb.DuckDBPyConnection,
    channel: Channel,
    settings: Settings,
    report: NotifyReport,
    *,
    dry_run: bool,
    force: bool,
    today: dt.date,
    now: dt.datetime,
) -> None:
    timeout = settings.config.notify.timeout_seconds
    waiting = deliveries.failed(con, channel.key)
    held = max((p.retry_at for p in waiting if p.retry_at is not None), default=None)
    if held is not None and held > now:  # its server asked to be left alone until then: not even new digests
        report.held.append((channel.key, held.astimezone(dt.UTC)))
        return
    for pending in waiting:  # a failed digest goes again, before anything new for its recipient
        if dry_run:
            report.planned.append(_sent(pending))
            continue
        if not _deliver(con, channel, deliveries.retry(con, pending), timeout, report, now):
            return  # the channel refused (throttled, down): nothing more to it in this run
    busy = {p.recipient for p in waiting} if dry_run else set()
    last = deliveries.last_sent(con, channel.key)
    for digest in _digests(con, channel, settings):
        if digest.recipient in busy:
            continue
        if not force and not _is_due(last.get(digest.recipient), channel.schedule, today):
            report.not_due.append((channel.key, digest.recipient))
        elif dry_run:
            report.planned.append(
                Sent(channel.key, digest.recipient, "", digest.alerts.height, digest.title, digest.body, 0)
            )
        else:
            pending = deliveries.claim(con, channel.key, digest.recipient, digest.title, digest.body, digest.alerts)
            if not _deliver(con, channel, pending, timeout, report, now):
                return


def send_due(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    *,
    dry_run: bool = False,
    force: bool = False,
    today: dt.date | None = None,
    now: dt.datetime | None = None,
) -> NotifyReport:
    """Send every digest that is due (``force``: whatever the schedule) on a writable connection.

    ``now`` (default: the clock) is what a channel's ``Retry-After`` is compared with, ``today`` (default: the UTC
    day of ``now``) what the schedule counts from; the digests themselves are about the published analysis date.
    """
    if not (table_exists(con, tables.ALERTS) and table_exists(con, tables.EGOS)):
        raise NotifyError("no alerts published in this warehouse yet: import something first (`tiepulse import PATH`)")
    channels = load_channels(settings, _egos(con))
    report = NotifyReport(channels=len(channels))
    if not dry_run:
        report.uncertain = deliveries.settle_interrupted(con)
    moment = now or dt.datetime.now(dt.UTC)
    day = today or moment.date()
    for channel in channels:
        _channel_run(con, channel, settings, report, dry_run=dry_run, force=force, today=day, now=moment)
    return report
