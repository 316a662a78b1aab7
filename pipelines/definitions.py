"""The Dagster code location: every asset, check, resource, job and schedule, assembled in one place."""

from __future__ import annotations

import dagster as dg

from tiepulse.pipelines.assets.analytics import analytics_assets, new_alerts_sensor, record_alerts_job
from tiepulse.pipelines.assets.introductions import mart_introductions
from tiepulse.pipelines.assets.models import model_assets
from tiepulse.pipelines.assets.notify import alert_digests_job, alert_digests_sensor
from tiepulse.pipelines.assets.ona import ona_assets
from tiepulse.pipelines.assets.practice import communities_of_practice_marts
from tiepulse.pipelines.assets.publication import publication_asset
from tiepulse.pipelines.assets.raw import raw_config, raw_files
from tiepulse.pipelines.assets.reports import html_reports
from tiepulse.pipelines.assets.syncs import sync_definitions
from tiepulse.pipelines.resources import WarehouseResource


def build_definitions() -> dg.Definitions:
    """The code location, with one set of sync definitions per API provider of the registry as it is now."""
    syncs = sync_definitions()
    sync_assets = [asset for provider in syncs for asset in provider.assets]
    all_assets: list[dg.AssetsDefinition | dg.AssetSpec] = [
        raw_config,
        raw_files,
        *sync_assets,
        *model_assets,
        *analytics_assets,
        html_reports,
        *ona_assets,
        mart_introductions,
        communities_of_practice_marts,
    ]
    marts = [k for a in all_assets if isinstance(a, dg.AssetsDefinition) for k in a.keys if k.path[0] == "marts"]
    all_assets.append(publication_asset(marts))

    # API syncs are partitioned per account and have their own jobs; the refresh rebuilds everything else.
    refresh_job = dg.define_asset_job(
        "refresh_warehouse",
        selection=dg.AssetSelection.all() - dg.AssetSelection.assets(*sync_assets),
        description="Import new files, rebuild staging and marts, run the quality checks.",
    )

    daily_refresh = dg.ScheduleDefinition(
        name="daily_refresh",
        job=refresh_job,
        cron_schedule="0 6 * * *",
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )

    return dg.Definitions(
        assets=all_assets,
        jobs=[refresh_job, record_alerts_job, alert_digests_job, *(p.job for p in syncs)],
        schedules=[daily_refresh, *(p.schedule for p in syncs)],
        sensors=[*(p.sensor for p in syncs), new_alerts_sensor, alert_digests_sensor],
        resources={"warehouse": WarehouseResource()},
        # Steps write one DuckDB file one at a time anyway; running them in the run's own process spares a Python
        # start-up (Dagster, Polars, Great Expectations imports) per step.
        executor=dg.in_process_executor,
    )


defs = build_definitions()
