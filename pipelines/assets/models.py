"""The SQL models as Dagster assets: one step per layer (staging, intermediate, marts), one asset per model file.

A layer's models are built in dependency order in one step, in one warehouse connection, and each model's checks
run right after it is built (``pipelines/checks.py``): a model whose blocking quality check fails stops the models
that read it, in this layer and (the step then fails) in the layers after it. Dagster still shows one asset per
``.sql`` file, with its checks, and can materialise any subset of them.
"""

from collections.abc import Iterator

import dagster as dg

from tiepulse.pipelines.checks import TableChecks, check_results, check_specs
from tiepulse.pipelines.models import LAYERS, Model, all_models, build_model
from tiepulse.pipelines.resources import WAREHOUSE_POOL, WarehouseResource


def _key(table: str) -> dg.AssetKey:
    return dg.AssetKey(table.split("."))


def _spec(model: Model) -> dg.AssetSpec:
    return dg.AssetSpec(
        key=_key(model.table),
        deps=[_key(table) for table in sorted(model.upstream)],
        group_name=model.schema,
        description=model.description,
        kinds={"duckdb", "sql"},
        metadata={"sql_file": str(model.path.relative_to(model.path.parents[2]))},
        skippable=True,
    )


def _layer_asset(layer: str, models: list[Model]) -> dg.AssetsDefinition:
    checked = {m.table: TableChecks(m.table, m.checks) for m in models if m.checks}

    @dg.multi_asset(
        name=f"{layer}_models",
        specs=[_spec(m) for m in models],
        check_specs=[spec for table in checked.values() for spec in check_specs(table)],
        can_subset=True,
        pool=WAREHOUSE_POOL,
    )
    def _build(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource
    ) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        as_of = warehouse.settings().as_of
        blocked: set[str] = set()
        with warehouse.connect() as con:
            for model in models:
                if _key(model.table) not in context.selected_asset_keys:
                    continue
                if model.upstream & blocked:
                    blocked.add(model.table)
                    continue
                rows = build_model(con, model)
                yield dg.MaterializeResult(asset_key=_key(model.table), metadata={"rows": rows})
                if model.table in checked:
                    results = check_results(con, checked[model.table], as_of, context)
                    yield from results
                    if any(r.passed is False and r.severity == dg.AssetCheckSeverity.ERROR for r in results):
                        blocked.add(model.table)

    return _build


model_assets = [_layer_asset(layer, [m for m in all_models() if m.schema == layer]) for layer in LAYERS]
