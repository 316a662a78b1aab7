"""The raw layer as Dagster assets: the config file's identity facts and the files listed in the config."""

from __future__ import annotations

import dagster as dg

from tiepulse.core.import_context import build_import_context
from tiepulse.pipelines.config_tables import land_config
from tiepulse.pipelines.file_import import import_paths
from tiepulse.pipelines.providers import FILES
from tiepulse.pipelines.resources import WAREHOUSE_POOL, WarehouseResource

FILE_TABLES = tuple(table.short_name for table in FILES.tables)
CONFIG_TABLES = ("config_egos", "config_aliases", "config_identity")


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            ["raw", name],
            group_name="raw",
            kinds={"duckdb"},
            description=f"raw.{name}: landed from files (see docs/data-model.md)",
        )
        for name in FILE_TABLES
    ],
    pool=WAREHOUSE_POOL,
    can_subset=False,
)
def raw_files(warehouse: WarehouseResource):
    """Import new or changed files from the config's import_paths, directory_file and contacts_file."""
    settings = warehouse.settings()
    config = settings.config
    paths = [p for p in (*config.import_paths, config.directory_file, config.contacts_file) if p is not None]
    with warehouse.connect() as con:
        report = import_paths(con, paths, settings) if paths else None
    total = report.total if report else None
    for name in FILE_TABLES:
        yield dg.MaterializeResult(
            asset_key=["raw", name],
            metadata={
                "rows_added": (total.inserted.get(f"raw.{name}", 0) if total else 0),
                "files": len(report.files) if report else 0,
                "quarantined": total.quarantined if total else 0,
            },
        )


@dg.multi_asset(
    specs=[
        dg.AssetSpec(["raw", name], group_name="raw", kinds={"duckdb"}, description=f"raw.{name}: from the config file")
        for name in CONFIG_TABLES
    ],
    pool=WAREHOUSE_POOL,
    can_subset=False,
)
def raw_config(warehouse: WarehouseResource):
    """Egos, aliases, internal domains and automation patterns as the config file says now."""
    settings = warehouse.settings()
    with warehouse.connect() as con:
        land_config(con, settings.config, build_import_context(settings).normaliser())
    for name in CONFIG_TABLES:
        yield dg.MaterializeResult(asset_key=["raw", name])
