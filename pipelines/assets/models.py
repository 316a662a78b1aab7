"""One Dagster asset per SQL model file; upstream assets come from the tables the SQL reads."""

from __future__ import annotations

import dagster as dg

from tiepulse.pipelines.models import Model, all_models, build_model
from tiepulse.pipelines.resources import WAREHOUSE_POOL, WarehouseResource


def _model_asset(model: Model) -> dg.AssetsDefinition:
    @dg.asset(
        key=[model.schema, model.name],
        deps=[dg.AssetKey(table.split(".")) for table in sorted(model.upstream)],
        group_name=model.schema,
        description=model.description,
        kinds={"duckdb", "sql"},
        pool=WAREHOUSE_POOL,
        metadata={"sql_file": str(model.path.relative_to(model.path.parents[2]))},
    )
    def _build(warehouse: WarehouseResource) -> dg.MaterializeResult:
        with warehouse.connect() as con:
            rows = build_model(con, model)
        return dg.MaterializeResult(metadata={"rows": rows})

    return _build


model_assets = [_model_asset(m) for m in all_models()]
