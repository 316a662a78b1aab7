"""The API syncs as Dagster definitions, one pattern for every provider of the registry.

Per ``ApiProvider`` (``tiepulse.pipelines.providers``):

- one asset per source, keyed ``["raw", <table>]`` and partitioned by the provider's dynamic partitions (one per
  account): materialising a partition syncs that account, committing page by page, so one failing account fails
  only its own run and shows red on its own partition. A partition's key is made by ``account_partition_key``
  alone: the address without a pseudonym key, the account's pseudonym with one (so neither partitions, run tags,
  metadata nor log lines hold an address then); the sync maps it back to the address to call the API;
- the job ``<key>_sync`` over those assets, whose steps run on the engine its run config names
  (``pipelines/executors.py``: in-process by default, or multiprocess, or Celery workers);
- the sensor ``<partitions>_sensor``, which keeps the partitions equal to the accounts the settings name;
- the schedule ``<key>_sync_schedule``, one run per account partition at each tick of the provider's cron, on the
  engine the ``execution`` settings choose.

API syncs stay out of the unpartitioned refresh; ``definitions.py`` assembles what ``sync_definitions`` gives.
"""

# No `from __future__ import annotations`: Dagster reads the context annotation at definition time.

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

import dagster as dg

from tiepulse.connectors.sync_source import SyncSource
from tiepulse.core.import_context import address_normaliser
from tiepulse.core.settings import Settings
from tiepulse.pipelines.executors import sync_executor, sync_run_config
from tiepulse.pipelines.loader import LoadResult
from tiepulse.pipelines.providers import ApiProvider, Source, api_providers
from tiepulse.pipelines.providers.accounts import account_partition_key, account_partitions
from tiepulse.pipelines.resources import WAREHOUSE_POOL, WarehouseResource
from tiepulse.pipelines.sync import sync_account

if TYPE_CHECKING:
    from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition


@dataclass(frozen=True)
class ProviderDefinitions:
    """What one provider adds to the code location."""

    partitions: dg.DynamicPartitionsDefinition
    assets: list[dg.AssetsDefinition]
    job: "UnresolvedAssetJobDefinition"
    schedule: dg.ScheduleDefinition
    sensor: dg.SensorDefinition


def partition_account(provider: ApiProvider, settings: Settings, partition_key: str) -> str:
    """The address of the account whose partition key is ``partition_key``."""
    if settings.hmac_key is None:
        return partition_key  # the key is the address
    address = account_partitions(provider, settings).get(partition_key)
    if address is None:
        raise dg.Failure(
            f"partition {partition_key} is no longer a {provider.name} account tiepulse syncs (removed from the "
            "config, the directory or the tenant?); delete the partition in the Dagster UI if it is gone for good"
        )
    return address


def _synced(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, provider: ApiProvider, source: Source
) -> tuple[LoadResult, list[SyncSource]]:
    settings = warehouse.settings()
    account = context.partition_key
    sources = provider.build(settings, source=source.name, account=partition_account(provider, settings, account))
    total = LoadResult()
    with warehouse.connect() as con:
        for built in sources:

            def on_page(stream: str, result: LoadResult) -> None:
                context.log.debug(f"{account}: page committed, {sum(result.inserted.values())} rows added")

            total.add(sync_account(con, built, pseudonym_key=settings.hmac_key, on_page=on_page))
    return total, sources


def _sync(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, provider: ApiProvider, source: Source
) -> dg.MaterializeResult:
    try:
        total, sources = _synced(context, warehouse, provider, source)
    except Exception as exc:
        settings = warehouse.settings()
        if settings.hmac_key is None or isinstance(exc, dg.Failure):
            raise
        # Dagster stores the run's error: pseudonymised, without the addresses its message names (API paths do)
        message = address_normaliser(settings).redact(f"{type(exc).__name__}: {exc}")
        raise dg.Failure(f"{provider.name} sync of {context.partition_key} failed: {message}") from None
    table = source.table.name
    return dg.MaterializeResult(
        metadata={
            "account": context.partition_key,
            "rows_added": total.inserted.get(table, 0),
            "rows_removed": total.removed.get(table, 0),
            "quarantined": total.quarantined,
            "pages": total.pages,
            "resyncs": sum(int(getattr(s, "resyncs", 0)) for s in sources),
        }
    )


def _asset(provider: ApiProvider, source: Source, partitions: dg.DynamicPartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        key=["raw", source.table.short_name],
        group_name="raw",
        kinds={"duckdb"},
        partitions_def=partitions,
        pool=WAREHOUSE_POOL,
        description=source.description,
    )
    def sync_source(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
        return _sync(context, warehouse, provider, source)

    return sync_source


def account_run_requests(
    provider: ApiProvider, accounts: Sequence[str], stamp: str, run_config: dict[str, Any] | None = None
) -> list[dg.RunRequest]:
    """One run per account partition (``accounts`` are partition keys), keyed so a tick never requests the same
    account twice."""
    return [
        dg.RunRequest(partition_key=a, run_key=f"{provider.key}-{a}-{stamp}", run_config=run_config or {})
        for a in accounts
    ]


def _sensor(provider: ApiProvider, partitions: dg.DynamicPartitionsDefinition) -> dg.SensorDefinition:
    name = partitions.name or provider.partitions

    @dg.sensor(
        name=f"{name}_sensor",
        minimum_interval_seconds=600,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Adds a partition for each {provider.name} account tiepulse can sync.",
    )
    def accounts_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
        settings = Settings()
        try:
            known = list(account_partitions(provider, settings))
        except Exception as exc:  # not configured yet, or the directory cannot be read: say so in the UI
            return dg.SkipReason(f"{provider.name} sync not possible: {address_normaliser(settings).redact(str(exc))}")
        present = set(context.instance.get_dynamic_partitions(name))
        new = [a for a in known if a not in present]
        return dg.SensorResult(dynamic_partitions_requests=[partitions.build_add_request(new)] if new else [])

    return accounts_sensor


def _schedule(
    provider: ApiProvider, partitions: dg.DynamicPartitionsDefinition, job: "UnresolvedAssetJobDefinition"
) -> dg.ScheduleDefinition:
    name = partitions.name or provider.partitions
    status = dg.DefaultScheduleStatus.RUNNING if provider.schedule.running else dg.DefaultScheduleStatus.STOPPED

    @dg.schedule(
        name=f"{provider.key}_sync_schedule",
        job=job,
        cron_schedule=provider.schedule.cron,
        default_status=status,
        description=f"One {provider.name} sync run per account partition.",
    )
    def sync_schedule(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
        accounts = context.instance.get_dynamic_partitions(name)
        stamp = context.scheduled_execution_time.isoformat()
        return account_run_requests(provider, accounts, stamp, sync_run_config(Settings()))

    return sync_schedule


@cache
def provider_definitions(provider: ApiProvider) -> ProviderDefinitions:
    """The partitions, assets, job, sensor and schedule of one provider (built once per provider)."""
    partitions = dg.DynamicPartitionsDefinition(name=provider.partitions)
    assets = [_asset(provider, source, partitions) for source in provider.sources]
    labels = " and ".join(s.label for s in provider.sources)
    job = dg.define_asset_job(
        f"{provider.key}_sync",
        selection=dg.AssetSelection.assets(*assets),
        partitions_def=partitions,
        executor_def=sync_executor,
        description=f"Sync one {provider.name} account's {labels} (one run per account partition).",
    )
    return ProviderDefinitions(
        partitions, assets, job, _schedule(provider, partitions, job), _sensor(provider, partitions)
    )


def sync_definitions() -> list[ProviderDefinitions]:
    """The definitions of every API provider now in the registry."""
    return [provider_definitions(p) for p in api_providers()]


__all__ = [
    "ProviderDefinitions",
    "account_partition_key",
    "account_partitions",
    "account_run_requests",
    "partition_account",
    "provider_definitions",
    "sync_definitions",
]
