"""`tiepulse demo`: the whole pipeline on the built-in sample organisation, then a readable summary."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
from rich.console import Console
from rich.panel import Panel

from tiepulse.cli.insights import organisation
from tiepulse.cli.reports import render_alerts, render_organisation
from tiepulse.cli.summary import EXAMPLE_QUERIES, render_counts, render_quarantine
from tiepulse.core.settings import Settings
from tiepulse.core.warehouse import open_warehouse

if TYPE_CHECKING:
    from tiepulse.pipelines.reporting.write import WrittenReports


def _refuse_other_data(con: duckdb.DuckDBPyConnection, sample_dir: Path, warehouse: Path) -> None:
    """The demo never mixes the sample organisation into a warehouse that holds someone's own data."""
    root = str(sample_dir.resolve())
    others = con.execute("select count(*) from ops.sync_state where not starts_with(stream, ?)", [root]).fetchall()[0][
        0
    ]
    if others:
        raise ValueError(
            f"{warehouse} already holds other data ({others} imported files or synced accounts); "
            "the demo will not mix the sample organisation into it. Run it with TIEPULSE_HOME set to another "
            "folder (`make demo` uses ./.tiepulse in the repository)."
        )


def run_demo(console: Console, sample_dir: Path) -> None:
    from tiepulse.core.import_context import build_import_context
    from tiepulse.core.runlog import record_run
    from tiepulse.pipelines.config_tables import land_config
    from tiepulse.pipelines.file_import import import_paths
    from tiepulse.pipelines.refresh import refresh
    from tiepulse.pipelines.reporting.write import existing_reports
    from tiepulse.sample import generate_sample

    started = time.monotonic()
    warehouse = Settings().warehouse_path
    if warehouse.exists():
        with open_warehouse(warehouse, read_only=True) as con:
            _refuse_other_data(con, sample_dir, warehouse)
    truth_file = sample_dir / "truth.json"
    if not truth_file.exists():
        with console.status(f"Generating the sample organisation in {sample_dir} ..."):
            generate_sample(sample_dir)
    truth = json.loads(truth_file.read_text())
    # The demo analyses the sample as of the day after its last data, whatever today is.
    os.environ["TIEPULSE_CONFIG"] = str((sample_dir / "config.yaml").resolve())
    os.environ["TIEPULSE_AS_OF"] = str(truth["as_of"])
    settings = Settings()
    console.print(f"Sample organisation: {sample_dir} (analysis date {settings.as_of})")

    with open_warehouse(settings.warehouse_path) as con, record_run(con, "demo") as summary:
        land_config(con, settings.config, build_import_context(settings).normaliser())
        with console.status("Importing mail, calendars, the manual log, directory and contacts ..."):
            report = import_paths(con, [sample_dir], settings)
        total = report.total
        summary.update(files=len(report.files), inserted=total.inserted, quarantined=total.quarantined)
    console.print(
        f"Imported {len(report.files)} files: "
        + ", ".join(f"{t} +{n:,}" for t, n in sorted(total.inserted.items()))
        + f"; quarantined +{total.quarantined:,}"
    )
    with console.status("Running the Dagster graph in-process (staging, marts, quality checks) ..."):
        result = refresh(landed=total.inserted)
    if not result.success:
        raise ValueError(f"the pipeline failed: {', '.join(result.failed_checks) or 'see the log above'}")

    with open_warehouse(settings.warehouse_path, read_only=True) as con:
        render_counts(console, con)
        render_quarantine(console, con)
        health, alerts = organisation(con)
    render_organisation(console, health, alerts)
    render_alerts(console, alerts, "table", limit=5)
    took = time.monotonic() - started
    examples = "\n".join(f'  tiepulse sql "{q}"' for q in EXAMPLE_QUERIES)
    console.print(
        Panel(
            f"Done in {took:.1f} s. Warehouse: {settings.warehouse_path.resolve()}\n"
            f"All {len(result.rows)} tables rebuilt; quality checks passed.\n\n"
            f"Try (with TIEPULSE_HOME={settings.home}):\n{examples}\n\n"
            "  tiepulse health --ego EMAIL    tiepulse ties --ego EMAIL    tiepulse alerts --ego EMAIL\n\n"
            f"The analysis date is {settings.as_of}, the day after the sample's last data; the read commands "
            "use it by themselves. A refresh needs it said again, or it recomputes as of today:\n"
            f"  TIEPULSE_HOME={settings.home} TIEPULSE_CONFIG={os.environ['TIEPULSE_CONFIG']} "
            f"TIEPULSE_AS_OF={settings.as_of} tiepulse refresh\n\n"
            "In the repository, `make dev` opens the Dagster UI on this home with that config and date.",
            title="tiepulse demo",
        )
    )
    name_reports(console, existing_reports(settings))


def name_reports(console: Console, reports: WrittenReports | None) -> None:
    """The last lines of the demo: the HTML reports the refresh wrote."""
    if reports is None:
        console.print("No HTML reports were written (see the Dagster asset reports/html).")
        return
    console.print("HTML reports (self-contained: open them in any browser, offline):")
    console.print(f"  {reports.organisation.resolve()}", soft_wrap=True, highlight=False)
    if reports.personal:
        console.print(
            f"  {reports.personal[0].parent.resolve()}/  ({len(reports.personal)} personal reports, one per ego, "
            f"e.g. {reports.personal[0].name})",
            soft_wrap=True,
            highlight=False,
        )
