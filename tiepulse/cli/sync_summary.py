"""What `tiepulse sync` prints at the end: one table row per account and source, then what failed and how to fix it."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table

from tiepulse.cli.sync_runner import AccountOutcome

NUMBERS = ("added", "updated", "removed", "quarantined", "retries", "seconds")


def _status(outcome: AccountOutcome) -> str:
    status = "ok" if outcome.ok else "[red]failed[/red]"
    if outcome.resyncs:
        status += f" ({outcome.resyncs} full resync{'s' if outcome.resyncs > 1 else ''})"
    return status


def summary_table(outcomes: list[AccountOutcome]) -> Table:
    table = Table(title="Sync")
    table.add_column("account", no_wrap=True)
    table.add_column("source", no_wrap=True)
    table.add_column("status")
    for column in NUMBERS:
        table.add_column(column, justify="right", no_wrap=True)
    for o in outcomes:
        numbers = (o.inserted, o.updated, o.removed, o.quarantined, o.retries)
        table.add_row(o.account, o.source, _status(o), *(f"{n:,}" for n in numbers), f"{o.seconds:.1f}")
    return table


def print_whole(console: Console, table: Table) -> None:
    """Print ``table`` without cutting any cell: a terminal wraps what does not fit, other output (a pipe, a file,
    where Rich assumes 80 columns) gets the width the table needs."""
    if console.is_terminal:
        console.print(table)
        return
    needed = Measurement.get(console, console.options.update(max_width=10_000), table).maximum
    width = console.width
    console.width = max(width, needed)
    try:
        console.print(table)
    finally:
        console.width = width


def print_failures(err: Console, failed: list[AccountOutcome], *, named: int = 5) -> None:
    """What went wrong, one line per distinct error (a shared cause, such as a refused app secret, is said once
    for all the accounts it hit), and how to fix it when the message does not say."""
    causes: dict[tuple[str, str], list[AccountOutcome]] = {}
    for o in failed:
        causes.setdefault((o.error, o.hint), []).append(o)
    for (error, hint), hit in causes.items():
        who = ", ".join(f"{o.source} {o.account}" for o in hit[:named])
        if len(hit) > named:
            who += f" and {len(hit) - named} more"
        err.print(f"[red]{escape(who)} failed:[/red] {escape(error)}", soft_wrap=True)
        if hint:
            err.print(f"  how to fix: {escape(hint)}", soft_wrap=True)
