"""The `tiepulse` command line."""

from __future__ import annotations

import atexit
import csv
import datetime as dt
import gc
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from pydantic import ValidationError
from rich.progress import TaskID
from rich.table import Table

from tiepulse.cli.erase import erase_command
from tiepulse.cli.help_labels import use_plain_labels
from tiepulse.cli.notify import notify_command
from tiepulse.cli.progress import work_progress
from tiepulse.cli.sample import sample_command
from tiepulse.cli.terminal import console, err, reader_left
from tiepulse.core.private_files import tighten_umask
from tiepulse.core.runlog import note_blocked_run
from tiepulse.core.settings import EARLIEST_AS_OF, LATEST_AS_OF, ConfigError, Settings, environment_problem
from tiepulse.core.warehouse import WarehouseBusy, WarehouseError, open_warehouse, transaction

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection

    from tiepulse.connectors.files import FileSource
    from tiepulse.pipelines.file_import import FileOutcome, ImportReport

_View = TypeVar("_View")

use_plain_labels()
app = typer.Typer(
    help="tiepulse: measure and tend your professional network from email and calendar metadata.",
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},  # inherited by every command and sub-command
)


def _print_version(requested: bool) -> None:
    if requested:
        from importlib.metadata import version

        typer.echo(f"tiepulse {version('tiepulse')}")
        raise typer.Exit()


@app.callback()
def _options(
    show_version: Annotated[
        bool, typer.Option("--version", help="Print the version and exit.", callback=_print_version, is_eager=True)
    ] = False,
) -> None:
    pass


def _fail(message: str) -> typer.Exit:
    err.print(f"[bold red]error:[/bold red] {message}", soft_wrap=True)  # one line, however long
    return typer.Exit(code=2)


def _settings() -> Settings:
    try:
        settings = Settings()
        _ = settings.config  # validate the config file now, with a readable message
    except ConfigError as exc:
        raise _fail(str(exc)) from None
    except ValidationError as exc:
        raise _fail(environment_problem(exc)) from None
    return settings


@app.command("import")
def import_command(
    paths: Annotated[
        list[Path], typer.Argument(help="Files or folders: mbox, Takeout, .mbox.gz, maildir, .eml, .ics, CSV")
    ],
    owner: Annotated[
        str | None, typer.Option(metavar="EMAIL", help="Whose mailbox/calendar these are (else inferred per file)")
    ] = None,
    refresh_after: Annotated[bool, typer.Option("--refresh/--no-refresh", help="Rebuild staging and marts")] = True,
) -> None:
    """Import exports into the warehouse, then refresh everything downstream."""
    settings = _settings()
    started = time.monotonic()
    try:
        report, run_id = _run_import(settings, paths, owner)
    except WarehouseBusy as exc:
        note_blocked_run(settings.home, "import", dt.datetime.now(dt.UTC), str(exc))
        raise _fail(str(exc)) from None
    except (FileNotFoundError, ValueError, WarehouseError) as exc:
        raise _fail(str(exc)) from None
    _print_import_report(report)
    if not report.files:
        raise _fail(
            "nothing to import: no mail (mbox, Takeout, .mbox.gz, maildir, .eml), calendar (.ics) or CSV file "
            f"(interaction log, directory, contacts) in {', '.join(map(str, paths))}. See `tiepulse import --help`."
        )
    if refresh_after:
        _run_refresh(run_id, landed=report.total.inserted)
    if report.unreadable:
        raise _fail(
            f"{len(report.unreadable)} file(s) or folder(s) could not be read (listed above); everything else is "
            "imported. Make them readable and run the same import again: it reads them then."
        )
    console.print(f"Done in {time.monotonic() - started:.1f} s. Warehouse: {settings.warehouse_path}")


def _import_status(report: ImportReport) -> str:
    """How an import run ends: ``failure`` when nothing was importable, ``partial`` when something could not be
    read (the command then exits 2), else ``success``."""
    if not report.files:
        return "failure"
    return "partial" if report.unreadable else "success"


def _run_import(settings: Settings, paths: list[Path], owner: str | None) -> tuple[ImportReport, str]:
    from tiepulse.core.import_context import build_import_context
    from tiepulse.core.runlog import record_run
    from tiepulse.pipelines.config_tables import land_config
    from tiepulse.pipelines.file_import import import_paths

    with (
        open_warehouse(settings.warehouse_path) as con,
        work_progress(err, transient=True) as progress,
    ):
        tasks: dict[Path, TaskID] = {}
        counts: dict[Path, int] = {}

        def on_page(source: FileSource, reached: int, total: int | None) -> None:
            if source.path not in tasks:
                tasks[source.path] = progress.add_task(source.path.name[:40], total=total, rows="")
            counts[source.path] = counts.get(source.path, 0) + 1
            progress.update(tasks[source.path], completed=reached, rows=f"{counts[source.path]} pages")

        with record_run(con, "import") as summary:
            land_config(con, settings.config, build_import_context(settings).normaliser())
            report = import_paths(con, paths, settings, owner=owner, on_page=on_page)
            total = report.total
            summary.update(files=len(report.files), inserted=total.inserted, quarantined=total.quarantined)
            if report.unreadable:  # pseudonymised, the run log names no path
                unreadable = [f"{what}: {why}" for what, why in report.unreadable]
                summary.update(unreadable=len(unreadable) if settings.hmac_key else unreadable)
            summary.status = _import_status(report)
    return report, summary.run_id


def _print_files(report: ImportReport, uncertain: list[FileOutcome]) -> None:
    table = Table(title="Imported files")
    for column in ("file", "format", "owner", "owner from", "status", "rows added", "quarantined"):
        table.add_column(column, justify="right" if column in ("rows added", "quarantined") else "left")
    shown = report.files if len(report.files) <= 30 else report.files[:25]
    for f in shown:
        table.add_row(
            f.path.name,
            f.format,
            f.owner or "-",
            f.owner_method + (f" ({f.owner_share:.0%})" if f in uncertain else ""),
            f.status,
            f"{sum(f.result.inserted.values()):,}",
            f"{f.result.quarantined:,}",
        )
    console.print(table)
    if len(report.files) > len(shown):
        console.print(f"... and {len(report.files) - len(shown)} more files")
    total = report.total
    added = ", ".join(f"{t}: {n:,}" for t, n in sorted(total.inserted.items())) or "nothing new"
    console.print(f"[bold]{len(report.files)} files[/bold]; rows added: {added}; quarantined: {total.quarantined:,}")


def _print_import_report(report: ImportReport) -> None:
    from tiepulse.connectors.files import EMPTY, NOT_A_FILE, NOT_OURS
    from tiepulse.connectors.mail.owner import UNCERTAIN_SHARE

    uncertain = [f for f in report.files if f.owner and f.owner_share < UNCERTAIN_SHARE]
    if report.files:
        _print_files(report, uncertain)
    if uncertain:
        err.print(
            f"[yellow]Owner uncertain for {len(uncertain)} file(s): the guessed owner is in fewer than "
            f'{UNCERTAIN_SHARE:.0%} of the sampled messages. Check them (tiepulse sql "select * from '
            'marts.dim_ego") and re-import with --owner EMAIL if wrong:[/yellow] '
            + ", ".join(f"{f.path.name} -> {f.owner}" for f in uncertain[:5])
        )
    no_owner = [f.path.name for f in report.files if f.status == "no_owner"]
    if no_owner:
        err.print(
            f"[yellow]Skipped {len(no_owner)} file(s) whose owner could not be told; pass --owner EMAIL:[/yellow] "
            + ", ".join(no_owner[:5])
        )
    all_bad = [f.path.name for f in report.files if f.status == "quarantined"]
    if all_bad:
        err.print(
            f"[yellow]Every record of {len(all_bad)} file(s) is quarantined (`tiepulse status` shows why):[/yellow] "
            + ", ".join(all_bad[:5])
        )
    for what, why in report.unreadable:
        err.print(f"[red]Not imported (read again next time):[/red] {what}: {why}", soft_wrap=True)
    for left in report.unclaimed:
        if left.reason in (EMPTY, NOT_A_FILE):
            err.print(f"[yellow]Left alone:[/yellow] {left.path}: {left.reason}", soft_wrap=True)
        elif not left.unreadable and left.reason != NOT_OURS:
            err.print(f"[red]Not imported:[/red] {left.path}: {left.reason}", soft_wrap=True)
    others = [left.path.name for left in report.unclaimed if left.reason == NOT_OURS]
    if others:
        err.print(f"[yellow]Not recognised, left alone ({len(others)}):[/yellow] " + ", ".join(others[:5]))


def _run_refresh(*amend: str, full: bool = False, landed: dict[str, int] | None = None) -> None:
    """Refresh staging and marts (everything with ``full``); when it fails, the runs ``amend`` (the import, sync or
    forget before it) are logged ``partial``, as the command exits 2."""
    from tiepulse.core.runlog import amend_run
    from tiepulse.pipelines import expectations, refresh_gate

    try:
        # Great Expectations' import (seconds) starts on the other core before this process asks the refresh gate
        # and loads the pipelines; a refresh with nothing to do ends the worker unused.
        expectations.start()
        since = None if full else refresh_gate.logged_if_unchanged(Settings())
        if since is not None:
            expectations.release()
            console.print(
                f"Nothing changed since the refresh of {since:%Y-%m-%d %H:%M:%S %Z}: every table is as that refresh "
                "left it, with all its quality checks passed."
            )
            return
        from tiepulse.pipelines.refresh import refresh

        with console.status("Refreshing staging and marts (Dagster, in-process)..."):
            result = refresh(full=full, landed=landed, gate=False)  # asked just above
    except WarehouseError as exc:
        raise _fail(str(exc)) from None
    if not result.success:
        failed = ", ".join(result.failed_checks) or "see the Dagster log above"
        if amend:
            with open_warehouse(Settings().warehouse_path) as con:
                for run_id in amend:
                    amend_run(con, run_id, "partial", refresh=f"failed: {failed}")
        from tiepulse.pipelines.dagster_instance import instance_dir

        raise _fail(
            f"the refresh failed ({failed}): what was loaded is kept, but the marts still show the previous refresh. "
            f"The Dagster UI shows the run (`DAGSTER_HOME={instance_dir(Settings())} dagster dev -m "
            "tiepulse.pipelines.definitions`); fix the cause, then run `tiepulse refresh`."
        )
    console.print(f"Refreshed {len(result.rows)} tables; all quality checks passed.")
    if "TIEPULSE_AS_OF" not in os.environ:
        _warn_if_data_ended()


def _warn_if_data_ended() -> None:
    """Without TIEPULSE_AS_OF the analysis date is today: say so when the data ended long before."""
    from tiepulse.cli.insights import stale_data_note

    settings = Settings()
    with open_warehouse(settings.warehouse_path, read_only=True) as con:
        note = stale_data_note(con, settings.as_of)
    if note:
        err.print(f"[yellow]Note:[/yellow] {note}")


connect_app = typer.Typer(help="Connect a Google or Microsoft account (OAuth / device code).", no_args_is_help=True)
app.add_typer(connect_app, name="connect")


def _source_option(value: str | None) -> str | None:
    """``--source`` (``outlook-calendar``) as the provider registry names the source (``outlook_calendar``); None:
    all sources."""
    from tiepulse.pipelines.providers import sources

    if value is None:
        return None
    by_option = {s.cli_name: s.name for s in sources()}
    if value not in by_option:
        raise _fail(f"--source must be one of {', '.join(by_option)}, not {value!r}")
    return by_option[value]


SourceOption = Annotated[
    str | None,
    typer.Option(metavar="SOURCE", help="Only this API source, e.g. gmail or outlook-calendar (default: all)"),
]


@connect_app.command("google")
def connect_google_command(
    client_secrets: Annotated[
        Path, typer.Option(metavar="FILE", help="OAuth client file (Desktop app) from the Google Cloud console")
    ],
) -> None:
    """Sign in to Google (installed-app flow); the token is kept (0600) under TIEPULSE_HOME."""
    from tiepulse.cli.google import connect_google

    settings = _settings()
    try:
        connect_google(client_secrets, settings, console)
    except (OSError, ValueError, RuntimeError) as exc:
        raise _fail(str(exc)) from None


@connect_app.command("microsoft")
def connect_microsoft_command(
    client_id: Annotated[
        str, typer.Option(metavar="ID", help="Application (client) id of your Entra ID app registration")
    ],
    tenant: Annotated[str | None, typer.Option(metavar="TENANT", help="Tenant id or domain (default: common)")] = None,
) -> None:
    """Sign in to Microsoft 365 (device code flow); the token cache is kept (0600) under TIEPULSE_HOME."""
    from tiepulse.cli.microsoft import connect_microsoft

    settings = _settings()
    try:
        connect_microsoft(client_id, tenant, settings, console)
    except (OSError, ValueError, RuntimeError) as exc:
        raise _fail(str(exc)) from None


@app.command()
def sync(
    source: SourceOption = None,
    account: Annotated[str | None, typer.Option(metavar="EMAIL", help="Only this mailbox / calendar")] = None,
    refresh_after: Annotated[bool, typer.Option("--refresh/--no-refresh", help="Rebuild staging and marts")] = True,
) -> None:
    """Sync connected accounts (full the first time, incremental after), then refresh everything downstream.

    Each account syncs on its own: when some fail, the others still sync and are refreshed, the failures are
    listed with how to fix them, and the command exits with status 2.
    """
    from tiepulse.cli.sync_runner import SyncReport, describe, sync_provider
    from tiepulse.cli.sync_summary import print_failures, print_whole, summary_table
    from tiepulse.pipelines.providers import NotSetUp, api_providers

    wanted = _source_option(source)
    settings = _settings()
    reports: list[SyncReport] = []
    problems: list[str] = []
    not_set_up: list[str] = []
    for provider in api_providers():
        if wanted is not None and wanted not in provider.source_names:
            continue
        try:
            reports.append(sync_provider(settings, provider, wanted, account, console))
        except NotSetUp as exc:
            not_set_up.append(f"{provider.name}: {exc}")
        except WarehouseError as exc:
            raise _fail(str(exc)) from None
        except Exception as exc:  # a provider that cannot start is reported; the others go on
            problems.append(f"{provider.name}: {describe(exc)}")
    outcomes = [o for r in reports for o in r.outcomes]
    if not outcomes and not problems:
        if source is not None or account is not None:
            raise _fail("; ".join(not_set_up))
        raise _fail(
            "nothing to sync: connect an account first (`tiepulse connect google|microsoft`), "
            "or configure service accounts (docs/connectors/)."
        )
    if source is None and account is None:
        for line in not_set_up:  # a provider nobody set up is not news: one quiet line
            console.print(f"[dim]{line.split(':', 1)[0]}: not set up, skipped[/dim]")
    if outcomes:
        print_whole(console, summary_table(outcomes))
    failed = [o for o in outcomes if not o.ok]
    print_failures(err, failed)
    for problem in problems:
        err.print(f"[red]{problem}[/red]", soft_wrap=True)
    if refresh_after and any(o.ok for o in outcomes):
        _run_refresh(*(r.run_id for r in reports))
    if failed or problems:
        what = [f"{len(failed)} of {len(outcomes)} account syncs failed"] if failed else []
        what += [f"{len(problems)} provider(s) could not start"] if problems else []
        ok = "; the others are up to date" if any(o.ok for o in outcomes) else ""
        raise _fail(f"{' and '.join(what)}{ok}. Fix the above and run `tiepulse sync` again.")


@app.command()
def forget(
    account: Annotated[str, typer.Option(metavar="EMAIL", help="The mailbox / calendar whose synced data to delete")],
    source: SourceOption = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation")] = False,
    refresh_after: Annotated[bool, typer.Option("--refresh/--no-refresh", help="Rebuild staging and marts")] = True,
) -> None:
    """Delete what the API syncs stored for an account (rows, cursors, quarantined records), then refresh.

    The account stays connected: the next `tiepulse sync` reads it again from scratch unless you disconnect it.
    """
    from tiepulse.core.import_context import build_import_context
    from tiepulse.core.keyed_hash import identity_key, keyed_hash
    from tiepulse.core.runlog import record_run
    from tiepulse.pipelines.forget import forget_account
    from tiepulse.pipelines.providers import sources as api_sources

    wanted = _source_option(source)
    sources = [wanted] if wanted else [s.name for s in api_sources()]
    settings = _settings()
    target = account.strip().lower()
    owners = {target, build_import_context(settings).normaliser().normalise(target) or target}
    if not yes:
        typer.confirm(f"Delete everything synced from {', '.join(sources)} for {target}?", abort=True)
    try:
        with open_warehouse(settings.warehouse_path) as con, record_run(con, "forget") as summary:
            deleted = forget_account(con, owners, sources)
            # the run log keeps a keyed hash of the account, never its address
            account_id = keyed_hash(identity_key(settings.home), target)[:16]
            summary.update(account_id=account_id, sources=sources, deleted=deleted)
            if not any(deleted.values()):
                summary.status = "failure"  # the command exits 2
    except WarehouseError as exc:
        raise _fail(str(exc)) from None
    if not any(deleted.values()):
        raise _fail(f"nothing stored for {target} from {', '.join(sources)}; check the address (`tiepulse status`)")
    console.print(f"Forgot {target}: " + ", ".join(f"{table}: {n:,}" for table, n in deleted.items() if n))
    console.print(
        "It is still connected: the next `tiepulse sync` reads it again. To stop that, disconnect it "
        "(docs/connectors/google.md and microsoft.md, Revoking access)."
    )
    if refresh_after:
        _run_refresh(summary.run_id)


app.command("erase")(erase_command)


@app.command()
def refresh(
    full: Annotated[bool, typer.Option("--full", help="Rebuild everything, not only what new data touches")] = False,
) -> None:
    """Bring staging and marts up to date with the raw layer (the same graph the daily schedule runs)."""
    _settings()
    _run_refresh(full=full)


@app.command()
def sql(
    query: Annotated[str, typer.Argument(help='SQL to run read-only, e.g. "select * from marts.dim_person"')],
    output: Annotated[str, typer.Option("--format", metavar="FORMAT", help="table | csv | json")] = "table",
) -> None:
    """Run read-only SQL on the warehouse's tables (sandboxed: no files, environment, extensions or settings)."""
    import duckdb

    from tiepulse.core.sandbox import REFUSAL, is_refusal, run_sandboxed

    if output not in ("table", "csv", "json"):
        raise _fail(f"--format must be table, csv or json, not {output!r}")
    if not query.strip().strip(";").strip():
        raise _fail('the query is empty; try tiepulse sql "select * from marts.dim_person limit 10"')
    settings = _settings()
    try:
        with open_warehouse(settings.warehouse_path, read_only=True) as con:
            cursor = run_sandboxed(con, query)
            columns = [d[0] for d in cursor.description or []]
            rows = cursor.fetchall() if columns else []
    except WarehouseError as exc:
        raise _fail(str(exc)) from None
    except duckdb.Error as exc:
        if is_refusal(exc):
            raise _fail(f"{REFUSAL}: {str(exc).strip().splitlines()[0]}") from None
        raise _fail(f"{exc}".strip()) from None
    if output == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        writer.writerows(rows)
    elif output == "json":
        print(json.dumps([dict(zip(columns, r, strict=True)) for r in rows], default=str, indent=1))
    else:
        from tiepulse.cli.sql_view import render_result

        render_result(console, columns, rows)


@app.command()
def status() -> None:
    """Rows per table, quarantine by reason, last runs."""
    from tiepulse.cli.snapshot_status import render_snapshot
    from tiepulse.cli.summary import render_counts, render_quarantine, render_runs
    from tiepulse.core.runlog import blocked_runs

    settings = _settings()
    try:  # shown once all of it could be read: a damaged warehouse gives its one error line, not half a report
        with open_warehouse(settings.warehouse_path, read_only=True) as con, console.capture() as report:
            console.print(f"Warehouse: {settings.warehouse_path}")
            render_counts(console, con)
            render_quarantine(console, con)
            render_runs(console, con, blocked_runs(settings.home))
            render_snapshot(console, settings, con)
    except WarehouseError as exc:
        raise _fail(str(exc)) from None
    sys.stdout.write(report.get())


@app.command()
def export(
    directory: Annotated[Path, typer.Argument(help="Folder to write the files into (created when missing)")],
    fmt: Annotated[str, typer.Option("--format", metavar="FORMAT", help="parquet or csv")] = "parquet",
) -> None:
    """The BI snapshot's objects (marts only) as Parquet or CSV files, one per object (docs/bi.md)."""
    from tiepulse.cli.export import export_snapshot
    from tiepulse.pipelines.bi_published import SnapshotError

    if fmt not in ("parquet", "csv"):
        raise _fail(f"--format must be parquet or csv, not {fmt!r}")
    try:
        written = export_snapshot(_settings(), directory, "csv" if fmt == "csv" else "parquet")
    except (SnapshotError, OSError) as exc:
        raise _fail(str(exc).splitlines()[0]) from None
    console.print(f"Wrote {len(written)} {fmt} files to {directory} (columns.{fmt} describes every column).")


AsOf = Annotated[
    str | None, typer.Option("--as-of", metavar="DATE", help="Analysis date YYYY-MM-DD (default: the last refresh's)")
]
Ego = Annotated[
    str | None, typer.Option(metavar="EMAIL", help="Whose network (any of their addresses); default: the only ego")
]


def _as_of(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise _fail(f"--as-of must be a date like 2001-12-01, not {value!r}") from None
    if not EARLIEST_AS_OF <= day <= LATEST_AS_OF:
        raise _fail(f"--as-of must lie between {EARLIEST_AS_OF} and {LATEST_AS_OF}, not {value}")
    return day


@app.command()
def health(ego: Ego = None, as_of: AsOf = None) -> None:
    """A network report: size, tie classes, diversity, brokerage, reciprocity, channels, score and next actions."""
    from tiepulse.cli.insights import InsightError, ego_view, organisation, resolve_ego
    from tiepulse.cli.reports import render_health, render_organisation
    from tiepulse.core.params import params_for

    day = _as_of(as_of)
    settings = _settings()
    try:
        with open_warehouse(settings.warehouse_path, read_only=True) as con:
            who = resolve_ego(con, settings, ego)
            if who is None:
                render_organisation(console, *organisation(con, settings, day), params_for(settings))
                return
            render_health(console, ego_view(con, settings, who, day), params_for(settings))
    except (InsightError, WarehouseError) as exc:
        raise _fail(str(exc)) from None


@app.command()
def org(
    as_of: AsOf = None,
    group: Annotated[
        str | None, typer.Option(metavar="TYPE", help="Group type: team, department, org_unit, location or community")
    ] = None,
    output: Annotated[
        str, typer.Option("--format", metavar="FORMAT", help="table, csv (the groups) or json")
    ] = "table",
) -> None:
    """The organisation's network: summary, most siloed groups, brokers and key-person risks (privacy-safe)."""
    from tiepulse.cli.org import org_view, render_org

    _check_format(output)
    day = _as_of(as_of)
    render_org(console, _read_view(lambda con, settings: org_view(con, settings, day, group)), output)


@app.command()
def introductions(
    ego: Ego = None,
    as_of: AsOf = None,
    limit: Annotated[int, typer.Option(metavar="N", min=1, max=20, help="How many suggestions (1-20)")] = 5,
    output: Annotated[str, typer.Option("--format", metavar="FORMAT", help="table, csv or json")] = "table",
) -> None:
    """People two steps away, in circles you do not reach, and the contact who can introduce you."""
    from tiepulse.cli.introductions import introductions_view, render_introductions

    _check_format(output)
    day = _as_of(as_of)
    view = _read_view(lambda con, settings: introductions_view(con, settings, ego, day, limit))
    render_introductions(console, view, output)


def _check_format(output: str) -> None:
    if output not in ("table", "csv", "json"):
        raise _fail(f"--format must be table, csv or json, not {output!r}")


def _read_view(build: Callable[[DuckDBPyConnection, Settings], _View]) -> _View:
    """What ``build`` reads from the warehouse (read-only); an insight or warehouse error as one line, exit 2."""
    from tiepulse.cli.insights import InsightError

    settings = _settings()
    try:
        with open_warehouse(settings.warehouse_path, read_only=True) as con:
            return build(con, settings)
    except (InsightError, WarehouseError) as exc:
        raise _fail(str(exc)) from None


@app.command()
def ties(
    ego: Ego = None,
    person: Annotated[str | None, typer.Option(metavar="EMAIL", help="Only the tie with this person")] = None,
    as_of: AsOf = None,
    limit: Annotated[int, typer.Option(metavar="N", help="How many ties to show")] = 25,
) -> None:
    """The ties ranked by strength, with last contact, usual gap, channel mix and trend."""
    import polars as pl

    from tiepulse.cli.insights import InsightError, ego_view, resolve_ego, resolve_person
    from tiepulse.cli.reports import data_notice, render_ties

    day = _as_of(as_of)
    settings = _settings()
    try:
        with open_warehouse(settings.warehouse_path, read_only=True) as con:
            who = resolve_ego(con, settings, ego)
            if who is None:
                raise InsightError("Several egos here: name one with --ego EMAIL (see `tiepulse health`).")
            view = ego_view(con, settings, who, day)
            alter = resolve_person(con, person) if person else None
    except (InsightError, WarehouseError) as exc:
        raise _fail(str(exc)) from None
    shown = view.ties
    if alter is not None:
        shown = shown.filter(pl.col("alter_id") == alter)
        if shown.height == 0:
            known_as = f" (known as {alter})" if alter != (person or "").strip().lower() else ""
            raise _fail(f"{who} has no tie with {person}{known_as} as of {view.as_of}")
    if notice := data_notice(view):
        console.print(notice, markup=False, highlight=False)
    render_ties(console, shown, limit)


@app.command()
def report(
    ego: Ego = None,
    org: Annotated[bool, typer.Option("--org", help="The organisation report instead of a personal one")] = False,
    as_of: AsOf = None,
    out: Annotated[
        Path | None, typer.Option(metavar="FILE", help="HTML file to write (default: tiepulse-WHO-DATE.html here)")
    ] = None,
) -> None:
    """Write a self-contained HTML report with charts and a network picture (opens offline, on any screen)."""
    from tiepulse.cli.insights import InsightError
    from tiepulse.cli.report import organisation_report, personal_report

    if org and (ego or as_of):
        raise _fail("--org takes neither --ego nor --as-of: the organisation report is as of the last refresh")
    day = _as_of(as_of)
    settings = _settings()
    try:
        with open_warehouse(settings.warehouse_path, read_only=True) as con:
            path = organisation_report(con, settings, out) if org else personal_report(con, settings, ego, day, out)
    except (InsightError, WarehouseError) as exc:
        raise _fail(str(exc)) from None
    except OSError as exc:
        raise _fail(f"cannot write the report to {out}: {exc.strerror}; choose another --out") from None
    console.print(f"Report written: {path.resolve()}")


alerts_app = typer.Typer(help="Open alerts, most important first; snooze or dismiss them.")
app.add_typer(alerts_app, name="alerts")


@alerts_app.callback(invoke_without_command=True)
def alerts(
    ctx: typer.Context,
    ego: Ego = None,
    output: Annotated[str, typer.Option("--format", metavar="FORMAT", help="table | csv | json")] = "table",
    as_of: AsOf = None,
    kind: Annotated[
        str | None,
        typer.Option(metavar="KIND", help="Only this kind: neglected_tie, one_sided_tie, overload or narrowing"),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(min=0, metavar="N", help="Show at most N (default: 20 in a table, all in csv/json; 0: all)"),
    ] = None,
) -> None:
    """List open alerts (every ego's when there are several and no --ego)."""
    if ctx.invoked_subcommand is not None:
        return
    from tiepulse.cli.insights import InsightError, ego_view, organisation, resolve_ego
    from tiepulse.cli.reports import data_notice, render_alerts
    from tiepulse.pipelines.analytics.alerts import ALERT_KINDS

    if output not in ("table", "csv", "json"):
        raise _fail(f"--format must be table, csv or json, not {output!r}")
    if kind is not None and kind not in ALERT_KINDS:
        raise _fail(f"--kind must be one of {', '.join(ALERT_KINDS)}, not {kind!r}")
    shown = (20 if output == "table" else None) if limit is None else (limit or None)
    day = _as_of(as_of)
    settings = _settings()
    try:
        with open_warehouse(settings.warehouse_path, read_only=True) as con:
            who = resolve_ego(con, settings, ego)
            view = None if who is None else ego_view(con, settings, who, day)
            frame = organisation(con, settings, day)[1] if view is None else view.alerts
    except (InsightError, WarehouseError) as exc:
        raise _fail(str(exc)) from None
    if view is not None and output == "table" and (notice := data_notice(view)):
        console.print(notice, markup=False, highlight=False)
    if kind is not None:
        frame = frame.filter(frame["kind"] == kind)
    render_alerts(console, frame, output, limit=shown)


def _change_alert(alert_id: str, action: str, days: int = 0) -> None:
    settings = _settings()
    try:
        _write_alert_change(settings, alert_id, action, days)
    except WarehouseError as exc:
        raise _fail(str(exc)) from None


def _write_alert_change(settings: Settings, alert_id: str, action: str, days: int) -> None:
    import polars as pl

    from tiepulse.cli.insights import published_as_of
    from tiepulse.pipelines import network_io as tables
    from tiepulse.pipelines.analytics import dismiss, snooze
    from tiepulse.pipelines.marts_io import read_table

    with open_warehouse(settings.warehouse_path) as con:
        state = read_table(con, tables.ALERT_STATE)
        # Counted from the analysis date the alerts were computed at, not from the wall clock.
        analysed = published_as_of(con) or settings.as_of
        try:
            if action == "snooze":
                until = analysed + dt.timedelta(days=days)
                state = snooze(state, alert_id, until)
            else:
                state = dismiss(state, alert_id)
        except KeyError:
            raise _fail(f"no alert {alert_id!r}; list them with `tiepulse alerts`") from None
        row = state.filter(pl.col("alert_id") == alert_id)
        con.register("_changed", row.to_arrow())
        with transaction(con):
            con.execute(f"delete from {tables.ALERT_STATE} where alert_id = ?", [alert_id]).fetchall()
            con.execute(f"insert into {tables.ALERT_STATE} by name select * from _changed").fetchall()
            con.execute(
                f"update {tables.ALERTS} set status = ?, snoozed_until = ? where alert_id = ?",
                [row["status"][0], row["snoozed_until"][0], alert_id],
            ).fetchall()
    what = (
        f"snoozed until {row['snoozed_until'][0]}: {days} days after the analysis date {analysed}"
        if action == "snooze"
        else "dismissed"
    )
    console.print(f"Alert {alert_id} {what}.")


@alerts_app.command("snooze")
def alerts_snooze(
    alert_id: Annotated[str, typer.Argument(help="The alert's id (after its number in `tiepulse alerts`)")],
    days: Annotated[
        int,
        typer.Option(
            min=1, metavar="N", help="Keep it quiet for this many days after the analysis date (the last refresh's)"
        ),
    ] = 14,
) -> None:
    """Silence an alert until a date; it comes back afterwards if the condition still holds."""
    _change_alert(alert_id, "snooze", days)


@alerts_app.command("dismiss")
def alerts_dismiss(alert_id: Annotated[str, typer.Argument(help="The alert's id")]) -> None:
    """Dismiss an alert for good; it is never raised again."""
    _change_alert(alert_id, "dismiss")


app.command("notify")(notify_command)


app.command("sample")(sample_command)


@app.command()
def demo(
    dir: Annotated[Path, typer.Option(metavar="DIR", help="Where the sample organisation is written")] = Path(
        ".tiepulse/sample"
    ),
) -> None:
    """Generate the sample organisation, import it, run the pipeline, and summarise."""
    from tiepulse.cli.demo import run_demo

    try:
        run_demo(console, dir)
    except (ConfigError, WarehouseError, ValueError) as exc:
        raise _fail(str(exc)) from None


def main() -> None:  # pragma: no cover - console entry point
    # Registered first, so it runs after every other exit handler: the process's objects are left to the operating
    # system instead of collected one by one (0.5 s at exit once Dagster is loaded); streams and files close as
    # before.
    atexit.register(gc.freeze)
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    tighten_umask()  # everything tiepulse writes is its user's only (docs/operations.md, Files and permissions)
    try:
        app()
    except SystemExit as exc:
        if exc.code == 1 and reader_left():
            raise SystemExit(0) from None
        raise
