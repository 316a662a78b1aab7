"""The sample organisation as tests use it: written to a folder, then imported into a fresh warehouse."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tiepulse.core.import_context import build_import_context
from tiepulse.core.settings import Settings
from tiepulse.core.warehouse import connect
from tiepulse.pipelines.config_tables import land_config
from tiepulse.pipelines.file_import import ImportReport, import_paths
from tiepulse.sample import generate_sample


def sample_environment(root: Path, **options: Any) -> tuple[dict[str, str], dict[str, Any]]:
    """Write a sample organisation to ``root/sample`` (``options``: generate_sample's); return the environment
    that analyses it in ``root/home`` at its analysis date, and its planted truth."""
    summary = generate_sample(root / "sample", **options)
    truth = json.loads(summary.truth.read_text())
    env = {
        "TIEPULSE_HOME": str(root / "home"),
        "TIEPULSE_CONFIG": str(summary.config),
        "TIEPULSE_AS_OF": str(truth["as_of"]),
    }
    return env, truth


def import_sample(root: Path) -> ImportReport:
    """Land the config and import ``root/sample`` into the warehouse the environment names."""
    settings = Settings()
    con = connect(settings.warehouse_path)
    try:
        land_config(con, settings.config, build_import_context(settings).normaliser())
        return import_paths(con, [root / "sample"], settings)
    finally:
        con.close()
