"""The Celery app of tiepulse's workers: ``celery -A tiepulse.pipelines.celery_app worker``.

Each worker takes sync steps (one account's Gmail or Calendar, for instance) from the broker the ``execution``
settings name and runs them against the warehouse of its ``TIEPULSE_HOME`` / ``TIEPULSE_CONFIG``, which must be
the ones of the runs that submit them (docs/scaling.md).
"""

from __future__ import annotations

from dagster_celery.make_app import make_app
from dagster_celery.tasks import create_task

import tiepulse.pipelines.definitions  # noqa: F401  the code location loads once per worker, before its pool forks
from tiepulse.core.settings import Settings
from tiepulse.pipelines.executors import celery_app_arguments

app = make_app(celery_app_arguments(Settings()))
execute_plan = create_task(app)
