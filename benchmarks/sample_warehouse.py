"""The sample organisation loaded into a warehouse in process: generated, imported, every SQL model built.

Shared by the planted-pattern test and the ONA broker benchmark (the refresh's analysis chain without Dagster).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from tiepulse.core.import_context import build_import_context
from tiepulse.core.settings import Settings
from tiepulse.core.warehouse import connect
from tiepulse.pipelines.config_tables import land_config
from tiepulse.pipelines.file_import import import_paths
from tiepulse.pipelines.models import all_models, build_model
from tiepulse.sample import generate_sample


@dataclass(frozen=True)
class SampleWarehouse:
    truth: dict[str, Any]
    settings: Settings
    con: duckdb.DuckDBPyConnection


@contextmanager
def sample_warehouse(root: Path, seed: int) -> Iterator[SampleWarehouse]:
    """The sample of ``seed`` under ``root/sample`` in a warehouse under ``root/home``, its models built.

    While the block runs, TIEPULSE_HOME, TIEPULSE_CONFIG and TIEPULSE_AS_OF point at it (as the CLI would see
    them); they are put back afterwards and the connection is closed.
    """
    summary = generate_sample(root / "sample", seed=seed)
    truth = json.loads(summary.truth.read_text(encoding="utf-8"))
    wanted = {
        "TIEPULSE_HOME": str(root / "home"),
        "TIEPULSE_CONFIG": str(summary.config),
        "TIEPULSE_AS_OF": truth["as_of"],
    }
    before = {name: os.environ.get(name) for name in wanted}
    os.environ.update(wanted)
    try:
        settings = Settings()
        with closing(connect(settings.warehouse_path)) as con:
            land_config(con, settings.config, build_import_context(settings).normaliser())
            import_paths(con, [summary.out_dir], settings)
            for model in all_models():
                build_model(con, model)
            yield SampleWarehouse(truth, settings, con)
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
