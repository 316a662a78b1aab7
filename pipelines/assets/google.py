"""Gmail and Google Calendar as Dagster assets, one partition per account.

``raw/gmail_messages`` and ``raw/gcal_events`` share the dynamic partitions ``google_accounts``; materialising a
partition syncs that account (``tiepulse.pipelines.google_sync``), committing page by page, so one failing account fails
only its own run and shows red on its own partition. ``google_accounts_sensor`` keeps the partitions equal to the
accounts tiepulse knows (personal tokens, ``google.users``; no call to Google), and ``google_sync_schedule``
requests one run per account every morning, before the daily refresh rebuilds staging and marts.

Wiring (``pipelines/definitions.py``): add ``*google_assets`` to the assets (in place of the placeholder specs of
these two keys), ``google_sync_job`` to the jobs, ``google_sync_schedule`` to the schedules and
``google_accounts_sensor`` to the sensors; keep ``GOOGLE_ASSET_KEYS`` out of the unpartitioned refresh selection.
"""

from collections.abc import Sequence

import dagster as dg
from dagster import AssetExecutionContext

from tiepulse.connectors.google import google_sources, list_accounts
from tiepulse.core.settings import Settings
from tiepulse.pipelines.google_sync import sync_google_source
from tiepulse.pipelines.loader import LoadResult
from tiepulse.pipelines.resources import WAREHOUSE_POOL, WarehouseResource

google_accounts = dg.DynamicPartitionsDefinition(name="google_accounts")

GOOGLE_ASSET_KEYS = (dg.AssetKey(["raw", "gmail_messages"]), dg.AssetKey(["raw", "gcal_events"]))


def _sync(context: AssetExecutionContext, warehouse: WarehouseResource, source: str) -> dg.MaterializeResult:
    settings = warehouse.settings()
    account = context.partition_key
    total = LoadResult()
    sources = google_sources(settings, source=source, account=account)
    with warehouse.connect() as con:
        for built in sources:

            def on_page(stream: str, result: LoadResult) -> None:
                context.log.debug(f"{account} {stream}: page committed, {sum(result.inserted.values())} rows added")

            total.add(sync_google_source(con, built, on_page=on_page))
    table = f"raw.{'gmail_messages' if source == 'gmail' else 'gcal_events'}"
    return dg.MaterializeResult(
        metadata={
            "account": account,
            "rows_added": total.inserted.get(table, 0),
            "rows_removed": total.removed.get(table, 0),
            "quarantined": total.quarantined,
            "pages": total.pages,
        }
    )


@dg.asset(
    key=["raw", "gmail_messages"],
    group_name="raw",
    kinds={"duckdb"},
    partitions_def=google_accounts,
    pool=WAREHOUSE_POOL,
    description="raw.gmail_messages: Gmail metadata (headers and labels, never bodies), one partition per account",
)
def gmail_messages(context: AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Full sync the first time, then Gmail's history; see docs/connectors/google.md."""
    return _sync(context, warehouse, "gmail")


@dg.asset(
    key=["raw", "gcal_events"],
    group_name="raw",
    kinds={"duckdb"},
    partitions_def=google_accounts,
    pool=WAREHOUSE_POOL,
    description="raw.gcal_events: Google Calendar events (no descriptions, titles only hashed), one partition per "
    "account",
)
def gcal_events(context: AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Full sync the first time, then sync tokens; see docs/connectors/google.md."""
    return _sync(context, warehouse, "gcal")


google_assets = [gmail_messages, gcal_events]

google_sync_job = dg.define_asset_job(
    "google_sync",
    selection=dg.AssetSelection.assets(*google_assets),
    partitions_def=google_accounts,
    description="Sync one Google account's Gmail and Calendar (one run per account partition).",
)


def account_partition_requests(instance: dg.DagsterInstance, settings: Settings | None = None) -> list[str]:
    """Register every known Google account as a partition; return the ones added."""
    known = [a.address for a in list_accounts(settings or Settings())]
    present = set(instance.get_dynamic_partitions(google_accounts.name or "google_accounts"))
    new = [a for a in known if a not in present]
    if new:
        instance.add_dynamic_partitions(google_accounts.name or "google_accounts", new)
    return new


@dg.sensor(
    name="google_accounts_sensor",
    minimum_interval_seconds=600,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Adds a partition for each Google account tiepulse can sync (tokens and google.users).",
)
def google_accounts_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    known = [a.address for a in list_accounts(Settings())]
    present = set(context.instance.get_dynamic_partitions("google_accounts"))
    new = [a for a in known if a not in present]
    requests = [google_accounts.build_add_request(new)] if new else []
    return dg.SensorResult(dynamic_partitions_requests=requests)


@dg.schedule(
    name="google_sync_schedule",
    job=google_sync_job,
    cron_schedule="0 5 * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="One Google sync run per account, an hour before the daily refresh.",
)
def google_sync_schedule(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
    accounts = context.instance.get_dynamic_partitions("google_accounts")
    return account_run_requests(accounts, context.scheduled_execution_time.isoformat())


def account_run_requests(accounts: Sequence[str], stamp: str) -> list[dg.RunRequest]:
    """One run per account partition, keyed so a tick never requests the same account twice."""
    return [dg.RunRequest(partition_key=account, run_key=f"google-{account}-{stamp}") for account in accounts]
