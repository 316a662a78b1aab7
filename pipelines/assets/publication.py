"""Publication: after the marts are rebuilt and their checks pass, the BI snapshot ``bi.duckdb`` is replaced whole.

The asset depends on every mart, so Dagster runs it only when all of them materialised in the run and no blocking
check failed: a failed refresh leaves the last good snapshot published.
"""

from collections.abc import Sequence

import dagster as dg

from tiepulse.pipelines.bi_snapshot import publish_snapshot
from tiepulse.pipelines.resources import WAREHOUSE_POOL, WarehouseResource

SNAPSHOT_KEY = dg.AssetKey(["bi", "snapshot"])


def publication_asset(marts: Sequence[dg.AssetKey]) -> dg.AssetsDefinition:
    """The publication asset, downstream of ``marts`` (every ``marts`` asset of the code location)."""

    @dg.asset(
        key=SNAPSHOT_KEY,
        deps=list(marts),
        group_name="bi",
        kinds={"duckdb"},
        pool=WAREHOUSE_POOL,
        description="The BI snapshot $TIEPULSE_HOME/bi.duckdb: the bi schema (one object per question, flat, "
        "commented; docs/bi.md), written beside the published file and swapped in atomically.",
    )
    def bi_snapshot(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
        with warehouse.connect() as con:
            published = publish_snapshot(con, warehouse.settings(), context.run_id)
        return dg.MaterializeResult(
            metadata={
                "rows": sum(published.rows.values()),
                "path": dg.MetadataValue.path(str(published.path)),
                "objects": len(published.rows),
                **{f"rows:{name}": count for name, count in published.rows.items()},
                **{f"absent:{name}": reason for name, reason in published.absent.items()},
            }
        )

    return bi_snapshot
