"""The SQL models as Dagster assets: one step per layer (staging, intermediate, marts), one asset per model file.

A layer's models are built in dependency order in one step, in one warehouse connection, and each model's checks
start right after it is built (``pipelines/checks.py``): Great Expectations validates it in its worker process while
the step builds the next models, and a model waits for the results of the checks of the models it reads. A model
whose blocking quality check fails stops the models that read it, in this layer and (the step then fails) in the
layers after it. Dagster still shows one asset per
``.sql`` file, with its checks, and can materialise any subset of them. A build is incremental (``models.build_model``:
``unchanged``, ``appended`` or ``rebuilt``, in the materialisation's ``build``); the checks run on every table either
way.
"""

from collections.abc import Iterator

import dagster as dg

from tiepulse.pipelines.assets.table_metadata import table_metadata
from tiepulse.pipelines.checks import PendingChecks, TableChecks, check_specs, start_checks
from tiepulse.pipelines.models import LAYERS, InputFingerprints, Model, all_models, build_model
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
        pending: dict[str, PendingChecks] = {}

        def settle(table: str) -> Iterator[dg.AssetCheckResult]:
            results = pending.pop(table).results()
            yield from results
            if any(r.passed is False and r.severity == dg.AssetCheckSeverity.ERROR for r in results):
                blocked.add(table)

        with warehouse.connect() as con:
            inputs = InputFingerprints(con)
            for model in models:
                if _key(model.table) not in context.selected_asset_keys:
                    continue
                for table in sorted(model.upstream & pending.keys()):
                    yield from settle(table)
                if model.upstream & blocked:
                    blocked.add(model.table)
                    continue
                built = build_model(con, model, inputs)
                metadata = {**table_metadata(con, model.table), "build": built}
                yield dg.MaterializeResult(asset_key=_key(model.table), metadata=metadata)
                if model.table in checked:
                    pending[model.table] = start_checks(con, checked[model.table], as_of, context)
            for table in list(pending):
                yield from settle(table)

    return _build


model_assets = [_layer_asset(layer, [m for m in all_models() if m.schema == layer]) for layer in LAYERS]
