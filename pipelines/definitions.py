"""The Dagster code location: every asset, check, resource, job and schedule, assembled in one place."""

from __future__ import annotations

import dagster as dg

from pipelines.assets.models import model_assets
from pipelines.assets.raw import api_tables, raw_config, raw_files
from pipelines.checks import build_checks
from pipelines.resources import WarehouseResource

all_assets: list[dg.AssetsDefinition | dg.AssetSpec] = [raw_config, raw_files, *api_tables, *model_assets]

refresh_job = dg.define_asset_job(
    "refresh_warehouse",
    selection=dg.AssetSelection.all(),
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
    asset_checks=build_checks(extra=[]),
    jobs=[refresh_job],
    schedules=[daily_refresh],
    resources={"warehouse": WarehouseResource()},
)
