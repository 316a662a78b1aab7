"""`tiepulse notify`: send the alert digests that are due (docs/notifications.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

if TYPE_CHECKING:
    from rich.console import Console

    from tiepulse.pipelines.notify.run import NotifyReport


def notify_command(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the digests that are due; send nothing")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Send now whatever the schedule (each alert still goes once)")
    ] = False,
    resend: Annotated[
        str | None,
        typer.Option(
            metavar="ID", help="Send again the digest with this delivery id (one reported as uncertain), same id"
        ),
    ] = None,
) -> None:
    """Send alert digests by email and chat to the channels in notify.channels and TIEPULSE_NOTIFY_URLS."""
    from tiepulse.cli.app import _fail, _settings, console
    from tiepulse.core.runlog import record_run
    from tiepulse.core.warehouse import WarehouseError, open_warehouse
    from tiepulse.pipelines.notify import NotifyError, deliveries
    from tiepulse.pipelines.notify.run import send_due

    settings = _settings()
    if not settings.notify_urls and not settings.config.notify.channels:
        raise _fail(
            "no notify channel: set TIEPULSE_NOTIFY_URLS (apprise URLs, space-separated) or notify.channels in "
            "the config file (docs/notifications.md)"
        )
    if not settings.warehouse_path.exists():
        raise _fail(f"no warehouse at {settings.warehouse_path}: import something first (`tiepulse import PATH`)")
    try:
        with open_warehouse(settings.warehouse_path) as con:  # writable: brings an older warehouse's schema up
            if resend and not deliveries.resend(con, resend):
                raise _fail(f"no uncertain or failed digest {resend!r} in ops.notify_deliveries")
            if dry_run:
                report = send_due(con, settings, dry_run=True, force=force)
            else:
                with record_run(con, "notify") as summary:
                    report = send_due(con, settings, force=force or bool(resend))
                    summary.update(
                        digests=len(report.sent), alerts=sum(s.alerts for s in report.sent), failed=len(report.failed)
                    )
                    summary.status = "partial" if report.failed else "success"
    except (NotifyError, WarehouseError) as exc:
        raise _fail(str(exc)) from None
    print_report(console, report, dry_run=dry_run)
    if report.failed:
        raise _fail(
            f"{len(report.failed)} digest(s) could not be delivered (above); each is sent again, same id, "
            "on the next run"
        )


def print_report(console: Console, report: NotifyReport, *, dry_run: bool) -> None:
    for delivery_id, channel, recipient in report.uncertain:
        console.print(
            f"[yellow]Uncertain:[/yellow] digest {delivery_id} to {channel} for {recipient} was being sent when "
            "its process stopped; it may or may not have arrived and is not sent again. If it never came: "
            f"`tiepulse notify --resend {delivery_id}`."
        )
    if dry_run:
        for digest in report.planned:
            console.rule(f"{digest.channel} for {digest.recipient}: {digest.alerts} alert(s)")
            console.print(digest.title, markup=False, highlight=False)
            console.print(digest.body, markup=False, highlight=False)
        console.print(f"Dry run: {len(report.planned)} digest(s) would be sent; nothing was sent.")
    sent = report.sent + report.failed
    if sent:
        table = Table(title="Digests")
        for column in ("channel", "for", "alerts", "attempt", "result"):
            table.add_column(column, justify="right" if column in ("alerts", "attempt") else "left", overflow="fold")
        for s in sent:
            table.add_row(s.channel, s.recipient, str(s.alerts), str(s.attempt), "[red]failed" if s.error else "sent")
        console.print(table)
    for s in report.failed:
        console.print(f"Failed: {s.channel} for {s.recipient}: {s.error}", soft_wrap=True, markup=False)
    for channel, until in report.held:
        console.print(
            f"Waiting: {channel} asked (Retry-After) to be left alone until {until:%Y-%m-%d %H:%M:%S} UTC; its "
            "digests go on the first run after that.",
            soft_wrap=True,
            markup=False,
        )
    waiting = len(report.not_due)
    if waiting:
        console.print(f"{waiting} digest(s) wait for their schedule (daily or weekly); --force sends them now.")
    if not sent and not waiting and not report.planned and not report.held:
        console.print(f"Nothing new to send on {report.channels} channel(s): every open alert has been delivered.")
