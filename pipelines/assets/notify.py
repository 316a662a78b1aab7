"""Alert digests after each refresh: a sensor on marts.mart_alerts runs a job that logs the new alerts in
ops.alert_log and sends the digests that are due (``pipelines.notify``). The sensor is on by default when a
notify channel is configured (``notify.channels`` or ``TIEPULSE_NOTIFY_URLS``), else off.
"""

import dagster as dg

from tiepulse.core.settings import ConfigError, Settings
from tiepulse.pipelines import network_io as tables
from tiepulse.pipelines.assets.analytics import record_new_alerts
from tiepulse.pipelines.resources import WAREHOUSE_POOL, WarehouseResource


@dg.op(pool=WAREHOUSE_POOL, ins={"after": dg.In(dg.Nothing)})
def send_alert_digests(context: dg.OpExecutionContext, warehouse: WarehouseResource) -> int:
    """Send every digest that is due; fails (after sending what it could) when a channel refused one."""
    from tiepulse.pipelines.notify.run import send_due

    with warehouse.connect() as con:
        report = send_due(con, warehouse.settings())
    for delivery_id, channel, recipient in report.uncertain:
        context.log.warning(f"digest {delivery_id} to {channel} for {recipient} is uncertain (docs/notifications.md)")
    for channel, until in report.held:
        context.log.info(f"{channel} asked (Retry-After) to be left alone until {until:%Y-%m-%d %H:%M} UTC")
    context.add_output_metadata(
        {"digests": len(report.sent), "alerts": sum(s.alerts for s in report.sent), "failed": len(report.failed)}
    )
    if report.failed:
        lines = [f"{f.channel} for {f.recipient}: {f.error}" for f in report.failed]
        raise dg.Failure(
            description="Some digests could not be delivered; they are sent again on the next run.",
            metadata={"failures": "\n".join(lines)},
        )
    return len(report.sent)


@dg.job(description="Log newly opened alerts, then send the alert digests that are due.")
def alert_digests_job() -> None:
    send_alert_digests(after=record_new_alerts())


def channels_configured() -> bool:
    try:
        settings = Settings()
        return bool(settings.notify_urls or settings.config.notify.channels)
    except (ConfigError, ValueError):
        return False


@dg.asset_sensor(
    asset_key=dg.AssetKey(tables.ALERTS.split(".")),
    job=alert_digests_job,
    default_status=dg.DefaultSensorStatus.RUNNING if channels_configured() else dg.DefaultSensorStatus.STOPPED,
)
def alert_digests_sensor(context: dg.SensorEvaluationContext, asset_event: dg.EventLogEntry) -> dg.RunRequest:
    """After each refresh of mart_alerts, log its new alerts and send the digests that are due."""
    return dg.RunRequest(run_key=asset_event.run_id)
