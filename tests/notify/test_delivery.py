"""Digests delivered once per channel: a real local SMTP server and a local webhook receiver, with their faults."""

from __future__ import annotations

import datetime as dt
import email.utils
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.analytics.staged import EGO, query
from tests.fakes.smtp import PASSWORD, USER, smtp_server
from tests.fakes.webhook import Reply, webhook_receiver
from tiepulse.cli.app import app
from tiepulse.core.settings import Settings
from tiepulse.core.warehouse import connect
from tiepulse.pipelines.notify.run import NotifyReport, send_due

TODAY = dt.date(2026, 12, 6)
Configure = Callable[[dict[str, Any]], Path]


def notify(**options: Any) -> NotifyReport:
    settings = Settings()
    con = connect(settings.warehouse_path)
    try:
        today = options.pop("today", TODAY)
        # the run's clock on that day (unless a test sets it): digests are recorded as sent by it
        now = options.pop("now", dt.datetime.combine(today, dt.time(12), dt.UTC))
        return send_due(con, settings, today=today, now=now, **options)
    finally:
        con.close()


def deliveries(home: Path) -> list[tuple[Any, ...]]:
    return query(home, "select delivery_id, status, attempts, alerts from ops.notify_deliveries order by created_at")


def test_a_personal_digest_goes_once_with_its_idempotency_key(home: Path, configure: Configure) -> None:
    with webhook_receiver() as receiver:
        configure({"channels": [{"url": receiver.url(), "for": EGO}]})
        first = notify()
        again = notify(force=True)  # whatever the schedule: nothing is new
    open_alerts = query(home, f"select count(*) from marts.mart_alerts where status = 'open' and ego_id = '{EGO}'")
    assert [s.alerts for s in first.sent] == [open_alerts[0][0]] and not first.failed
    assert again.sent == [] and again.planned == [] and again.not_due == []
    [got] = receiver.received
    [(delivery_id, status, attempts, _)] = deliveries(home)
    assert (status, attempts) == ("sent", 1)
    assert got.headers["idempotency-key"] == got.payload["delivery_id"] == delivery_id
    assert "Snooze or dismiss" in got.payload["message"]
    assert max(len(line) for line in got.payload["message"].splitlines()) <= 80


@pytest.mark.parametrize(
    ("reply", "explained"),
    [
        (Reply(429), "error=429"),
        (Reply(500), "error=500"),
        (Reply(hold=True), "timed out"),
    ],
    ids=["429", "500", "timeout"],
)
def test_a_refused_webhook_digest_is_sent_again_next_run_with_the_same_id(
    home: Path, configure: Configure, reply: Reply, explained: str
) -> None:
    with webhook_receiver() as receiver:
        configure({"timeout_seconds": 1, "channels": [{"url": receiver.url(), "for": EGO}]})
        receiver.script = [reply]
        failed = notify()
        assert [f.error for f in failed.failed] and explained in failed.failed[0].error
        assert [row[1:3] for row in deliveries(home)] == [("failed", 1)]
        retried = notify()
        after = notify(force=True)
    assert [s.attempt for s in retried.sent] == [2] and not retried.failed
    assert after.sent == [] and after.failed == []
    keys = [r.headers["idempotency-key"] for r in receiver.received]
    assert len(keys) == 2 and len(set(keys)) == 1
    assert len(receiver.delivered()) == 1
    assert [row[1:3] for row in deliveries(home)] == [("sent", 2)]


def http_date(moment: dt.datetime) -> str:
    return email.utils.format_datetime(moment.astimezone(dt.UTC), usegmt=True)


@pytest.mark.parametrize(
    ("status", "form"), [(429, "seconds"), (429, "http-date"), (503, "seconds"), (429, "ten days")]
)
def test_a_webhook_that_asks_to_wait_gets_nothing_before_the_time_it_asked(
    home: Path, configure: Configure, status: int, form: str
) -> None:
    asked = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(hours=1)
    value = {"seconds": "120", "http-date": http_date(asked), "ten days": str(10 * 86400)}[form]
    with webhook_receiver() as receiver:
        configure({"channels": [{"url": receiver.url(), "for": EGO}]})
        receiver.script = [Reply(status, {"Retry-After": value})]
        before = dt.datetime.now(dt.UTC)
        refused = notify()
        after = dt.datetime.now(dt.UTC)
        [(retry_at,)] = query(home, "select retry_at from ops.notify_deliveries")
        held = notify(force=True)  # --force is about the schedule; the server's wish still holds
        cli = CliRunner().invoke(app, ["notify"])
        on_time = notify(now=retry_at + dt.timedelta(seconds=1))
        nothing = notify(force=True, now=retry_at + dt.timedelta(days=1))
    wait = {"seconds": dt.timedelta(seconds=120), "ten days": dt.timedelta(hours=24)}.get(form)
    if wait is None:
        assert retry_at == asked
    else:
        assert before + wait <= retry_at <= after + wait
    assert len(refused.failed) == 1 and f"error={status}" in refused.failed[0].error
    assert held.held == [(receiver.url(), retry_at)] and held.sent == held.failed == []
    assert cli.exit_code == 0 and "Waiting: " in cli.output and "asked (Retry-After)" in cli.output
    assert [s.attempt for s in on_time.sent] == [2] and nothing.sent == nothing.failed == []
    assert len(receiver.received) == 2  # the refused try and the one after the wait: nothing in between
    assert len(receiver.delivered()) == 1
    assert len({r.headers["idempotency-key"] for r in receiver.received}) == 1
    assert query(home, "select status, retry_at from ops.notify_deliveries") == [("sent", None)]


@pytest.mark.parametrize(
    ("refusal", "code"), [("451 4.3.0 mailbox busy, try later", "451"), ("554 5.7.1 message refused", "554")]
)
def test_smtp_refusals_are_retried_next_run_and_mail_is_plain_text(
    home: Path, configure: Configure, refusal: str, code: str
) -> None:
    with smtp_server() as (mailbox, port):
        url = f"mailto://{USER}:{PASSWORD}@127.0.0.1:{port}?to={{ego}}&from=tiepulse@acme.com"
        configure({"channels": [{"url": url, "for": "each_ego"}]})
        mailbox.refusals = [refusal]
        failed = notify()
        assert len(failed.failed) == 1 and code in failed.failed[0].error
        retried = notify()
        nothing = notify(force=True)
    assert len(retried.sent) == len({s.recipient for s in retried.sent}) >= 1
    assert nothing.sent == [] and nothing.failed == []
    recipients = sorted(m["To"] for m in mailbox.messages)
    assert recipients == sorted(s.recipient for s in retried.sent)
    mail = mailbox.messages[0]
    assert mail.get_content_type() == "text/plain" and mail["Idempotency-Key"]
    assert mail["Idempotency-Key"] in {row[0] for row in deliveries(home)}
    assert PASSWORD not in str(query(home, "select * from ops.notify_deliveries"))


def test_an_smtp_timeout_fails_and_is_retried(home: Path, configure: Configure) -> None:
    import threading

    with smtp_server() as (mailbox, port):
        configure(
            {
                "timeout_seconds": 1,
                "channels": [
                    {"url": f"mailto://{USER}:{PASSWORD}@127.0.0.1:{port}?to={EGO}&from=tp@acme.com", "for": EGO}
                ],
            }
        )
        mailbox.hold = threading.Event()
        failed = notify()
        mailbox.hold.set()
        mailbox.hold = None
        retried = notify()
    assert len(failed.failed) == 1 and "timed out" in failed.failed[0].error
    assert len(retried.sent) == 1 and len(mailbox.messages) == 1


CRASHING = """
import os, sys
open(sys.argv[1], "w").write(str(os.getpid()))
from tiepulse.cli.app import app
app(["notify"])
"""


def test_a_crash_between_send_and_record_never_doubles_the_digest(
    home: Path, configure: Configure, tmp_path: Path
) -> None:
    pid_file = tmp_path / "notify.pid"
    with webhook_receiver() as receiver:
        configure({"channels": [{"url": receiver.url(), "for": EGO}]})
        receiver.script = [Reply(kill_pid_file=pid_file)]
        done = subprocess.run([sys.executable, "-c", CRASHING, str(pid_file)], env=os.environ, check=False)
        assert done.returncode == -9  # killed by the receiver once it had the digest, before tiepulse recorded it
        [(delivery_id, status, _, _)] = deliveries(home)
        assert status == "sending"
        after = notify(force=True)
        assert [u[0] for u in after.uncertain] == [delivery_id]
        assert after.sent == [] and len(receiver.received) == 1
        assert deliveries(home)[0][1] == "uncertain"
        assert notify(force=True).uncertain == []  # reported once
        # the person says it never came: sent again, same id
        resent = CliRunner().invoke(app, ["notify", "--resend", delivery_id])
    assert resent.exit_code == 0, resent.output
    assert [r.headers["idempotency-key"] for r in receiver.received] == [delivery_id, delivery_id]
    assert deliveries(home)[0][1] == "sent"


def test_weekly_and_daily_schedules_count_from_the_last_digest(home: Path, configure: Configure) -> None:
    with webhook_receiver() as receiver:
        configure({"schedule": "weekly", "channels": [{"url": receiver.url(), "for": EGO}]})
        assert len(notify(today=TODAY).sent) == 1
        # an alert that reopens is news again
        con = connect(home / "warehouse.duckdb")
        con.execute(
            f"update marts.mart_alerts set opened_at = opened_at + 1 where alert_id = "
            f"(select min(alert_id) from marts.mart_alerts where ego_id = '{EGO}' and status = 'open')"
        ).fetchall()
        con.close()
        assert notify(today=TODAY + dt.timedelta(days=6)).not_due == [(receiver.url(), EGO)]
        assert notify(dry_run=True, today=TODAY + dt.timedelta(days=7)).planned[0].alerts == 1
        later = notify(today=TODAY + dt.timedelta(days=7))
    assert [s.alerts for s in later.sent] == [1] and len(receiver.received) == 2
