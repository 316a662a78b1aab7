"""Outlook mail and calendar as Dagster assets: one dynamic partition per mailbox, synced by ``sync_account``.

``microsoft_sync_schedule`` registers the configured mailboxes as partitions and asks for one run per mailbox;
each run commits page by page with its cursor (a run killed half-way resumes where it stopped).
"""

# No `from __future__ import annotations`: Dagster reads the context annotation at definition time.

from collections.abc import Iterator
from typing import Any

import dagster as dg

from tiepulse.pipelines.resources import WAREHOUSE_POOL, WarehouseResource
from tiepulse.pipelines.sync import sync_account

mailbox_partitions = dg.DynamicPartitionsDefinition(name="microsoft_mailboxes")


def _sync(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, source: str, table: str
) -> dg.MaterializeResult:
    from tiepulse.connectors.microsoft.sources import microsoft_sources

    settings = warehouse.settings()
    sources = microsoft_sources(settings, source=source, account=context.partition_key)
    inserted = removed = quarantined = pages = 0
    with warehouse.connect() as con:
        for src in sources:
            result = sync_account(con, src)
            inserted += result.inserted.get(table, 0)
            removed += result.removed.get(table, 0)
            quarantined += result.quarantined
            pages += result.pages
            context.log.info(f"{src.source} {src.account}: {inserted} new rows, {removed} removed")
    metadata: dict[str, Any] = {
        "rows_added": inserted,
        "rows_removed": removed,
        "quarantined": quarantined,
        "pages": pages,
        "resyncs": sum(int(getattr(s, "resyncs", 0)) for s in sources),
    }
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    key=["raw", "graph_messages"],
    group_name="raw",
    kinds={"duckdb"},
    partitions_def=mailbox_partitions,
    pool=WAREHOUSE_POOL,
    description="raw.graph_messages: Outlook mail headers through Microsoft Graph (delta per folder)",
)
def graph_messages(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    return _sync(context, warehouse, "outlook", "raw.graph_messages")


@dg.asset(
    key=["raw", "graph_events"],
    group_name="raw",
    kinds={"duckdb"},
    partitions_def=mailbox_partitions,
    pool=WAREHOUSE_POOL,
    description="raw.graph_events: Outlook calendar events through Microsoft Graph (calendarView delta)",
)
def graph_events(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    return _sync(context, warehouse, "outlook_calendar", "raw.graph_events")


microsoft_assets = [graph_messages, graph_events]

microsoft_sync_job = dg.define_asset_job(
    "microsoft_sync",
    selection=dg.AssetSelection.assets(*microsoft_assets),
    partitions_def=mailbox_partitions,
    description="Sync one mailbox's Outlook mail and calendar (one partition per mailbox).",
)


def configured_mailboxes() -> list[str]:
    """The mailboxes the settings name (app-only: config / directory / Graph; personal: the connected one)."""
    from tiepulse.connectors.microsoft.sources import connect, mailboxes
    from tiepulse.core.import_context import build_import_context
    from tiepulse.core.settings import Settings

    settings = Settings()
    return mailboxes(settings, connect(settings), build_import_context(settings))


@dg.schedule(
    job=microsoft_sync_job,
    cron_schedule="15 * * * *",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Every hour: register the configured mailboxes as partitions and sync each one.",
)
def microsoft_sync_schedule(context: dg.ScheduleEvaluationContext) -> Iterator[dg.RunRequest | dg.SkipReason]:
    try:
        boxes = configured_mailboxes()
    except Exception as exc:  # not configured yet, or the directory cannot be read: say so in the UI
        yield dg.SkipReason(f"Microsoft sync not possible: {exc}")
        return
    known = set(context.instance.get_dynamic_partitions(mailbox_partitions.name or ""))
    new = [m for m in boxes if m not in known]
    if new:
        context.instance.add_dynamic_partitions(mailbox_partitions.name or "", new)
    for mailbox in boxes:
        yield dg.RunRequest(partition_key=mailbox)


microsoft_jobs = [microsoft_sync_job]
microsoft_schedules = [microsoft_sync_schedule]
