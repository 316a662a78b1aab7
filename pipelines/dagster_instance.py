"""The Dagster instance every CLI run records into, so the UI shows what the CLI did.

It lives under ``$TIEPULSE_HOME/dagster`` (or ``DAGSTER_HOME`` when set, as `make dev` and production set it), with
the settings in ``pipelines/dagster.yaml``: runs one at a time, the warehouse pool of one, no telemetry.
"""

from __future__ import annotations

import os
import shutil
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

from tiepulse.core.settings import Settings

if TYPE_CHECKING:
    import dagster as dg

INSTANCE_SETTINGS = Path(str(files("tiepulse.pipelines").joinpath("dagster.yaml")))


def instance_dir(settings: Settings) -> Path:
    configured = os.environ.get("DAGSTER_HOME")
    return Path(configured) if configured else settings.home / "dagster"


def ensure_instance_dir(folder: Path) -> Path:
    """The folder, with tiepulse's instance settings in it unless someone has put their own there."""
    folder.mkdir(parents=True, exist_ok=True)
    settings_file = folder / "dagster.yaml"
    if not settings_file.exists():
        shutil.copyfile(INSTANCE_SETTINGS, settings_file)
    return folder


def cli_instance(settings: Settings) -> dg.DagsterInstance:
    import dagster as dg

    return dg.DagsterInstance.from_config(str(ensure_instance_dir(instance_dir(settings))))
