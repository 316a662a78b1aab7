"""The Dagster code location: every asset, check, resource, job and schedule, assembled in one place."""

from __future__ import annotations

import dagster as dg

from tiepulse.pipelines.assets.analytics import analytics_assets, new_alerts_sensor, record_alerts_job
from tiepulse.pipelines.assets.google import (
    google_accounts_sensor,
    google_assets,
    google_sync_job,
    google_sync_schedule,
)
from tiepulse.pipelines.assets.microsoft import microsoft_assets, microsoft_jobs, microsoft_schedules
from tiepulse.pipelines.assets.models import model_assets
from tiepulse.pipelines.assets.raw import raw_config, raw_files
from tiepulse.pipelines.checks import python_table_checks
from tiepulse.pipelines.resources import WarehouseResource

all_assets: list[dg.AssetsDefinition | dg.AssetSpec] = [
    raw_config,
    raw_files,
    *google_assets,
    *microsoft_assets,
    *model_assets,
    *analytics_assets,
]

# API syncs are partitioned per account and have their own jobs; the refresh rebuilds everything else.
api_syncs = dg.AssetSelection.assets(*google_assets, *microsoft_assets)
refresh_job = dg.define_asset_job(
    "refresh_warehouse",
    selection=dg.AssetSelection.all() - api_syncs,
    description="Import new files, rebuild staging and marts, run the quality checks.",
)

daily_refresh = dg.ScheduleDefinition(
    name="daily_refresh",
    job=refresh_job,
    cron_schedule="0 6 * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)

defs = dg.Definitions(
    assets=all_assets,
    asset_checks=python_table_checks(),
    jobs=[refresh_job, record_alerts_job, google_sync_job, *microsoft_jobs],
    schedules=[daily_refresh, google_sync_schedule, *microsoft_schedules],
    sensors=[google_accounts_sensor, new_alerts_sensor],
    resources={"warehouse": WarehouseResource()},
    # Steps write one DuckDB file one at a time anyway; running them in the run's own process spares a Python
    # start-up (Dagster, Polars, Great Expectations imports) per step.
    executor=dg.in_process_executor,
)
