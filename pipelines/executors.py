"""How the steps of a sync run execute: in the run's process, in processes of their own, or on Celery workers.

The engines are Dagster's (in-process, multiprocess) and dagster-celery's; ``sync_executor`` only lets each run's
config pick one (``execution: config: {celery: {broker: ...}}``), and ``sync_run_config`` writes that config from
the ``execution`` settings, so one code location runs in one process on a laptop and on Celery workers elsewhere.
Partitions (accounts) run side by side as runs of their own, as many at once as the instance lets run
(docs/scaling.md); the engine spreads each run's steps.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster._core.definitions.executor_definition import IN_PROC_CONFIG, MULTI_PROC_CONFIG
from dagster_celery.executor import CELERY_CONFIG, CeleryExecutor, celery_executor

from tiepulse.core.settings import Settings

BROKER_VARIABLE = "TIEPULSE_CELERY_BROKER"
# A step is acknowledged when it ends, not when a worker takes it: a worker lost mid-step (killed, out of memory)
# puts it back on the queue, and another worker redoes it from the account's last committed page.
REDELIVER_LOST_STEPS = {"task_acks_late": True, "task_reject_on_worker_lost": True}
ENGINES: dict[str, dg.ExecutorDefinition] = {
    "in_process": dg.in_process_executor,
    "multiprocess": dg.multiprocess_executor,
    "celery": celery_executor,
}


def _requirements(config: Mapping[str, Any]) -> list[Any]:
    return [] if "in_process" in config else list(dg.multiple_process_executor_requirements())


@dg.executor(
    name="tiepulse_sync",
    config_schema=dg.Field(
        dg.Selector({"in_process": IN_PROC_CONFIG, "multiprocess": MULTI_PROC_CONFIG, "celery": CELERY_CONFIG}),
        default_value={"in_process": {}},
    ),
    requirements=_requirements,
)
def sync_executor(init_context: dg.InitExecutorContext) -> dg.Executor:
    """The engine the run's config names, built by its own executor definition."""
    ((kind, config),) = init_context.executor_config.items()
    assert isinstance(config, Mapping)
    engine = ENGINES[kind]
    chosen = dg.InitExecutorContext(
        job=init_context.job, executor_def=engine, executor_config=config, instance=init_context.instance
    )
    return engine.executor_creation_fn(chosen)  # type: ignore[misc]


def _broker(settings: Settings) -> str | dict[str, str]:
    """The broker URL, or (set in the environment, perhaps with a password) a pointer the run record keeps instead."""
    return {"env": BROKER_VARIABLE} if settings.celery_broker is not None else settings.config.execution.celery_broker


def sync_run_config(settings: Settings) -> dict[str, Any]:
    """The run config that runs a sync on the engine the settings choose."""
    options = settings.config.execution
    engine: dict[str, Any]
    if options.executor == "celery":
        broker = _broker(settings)
        backend = options.celery_backend or broker
        engine = {"celery": {"broker": broker, "backend": backend, "config_source": REDELIVER_LOST_STEPS}}
    elif options.executor == "multiprocess":
        engine = {"multiprocess": {"max_concurrent": options.max_processes}}
    else:
        engine = {"in_process": {}}
    return {"execution": {"config": engine}}


def celery_app_arguments(settings: Settings) -> dict[str, Any]:
    """What the workers' Celery app is built from: the broker and backend the runs' executor uses."""
    broker = settings.celery_broker.get_secret_value() if settings.celery_broker else None
    broker = broker or settings.config.execution.celery_broker
    backend = settings.config.execution.celery_backend or broker
    return CeleryExecutor.for_cli(broker=broker, backend=backend, config_source=REDELIVER_LOST_STEPS).app_args()
