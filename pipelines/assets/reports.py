"""The HTML reports as a Dagster asset: after every refresh of the marts, the organisation report and one per ego
are written under ``$TIEPULSE_HOME/reports`` (``pipelines.reporting``)."""

from __future__ import annotations

import dagster as dg

from tiepulse.pipelines import network_io as tables
from tiepulse.pipelines.reporting.write import write_all_reports
from tiepulse.pipelines.resources import WAREHOUSE_POOL, WarehouseResource

REPORTS_KEY = dg.AssetKey(["reports", "html"])


@dg.asset(
    key=REPORTS_KEY,
    deps=[
        dg.AssetKey(t.split("."))
        for t in (
            tables.TIES,
            tables.TIES_MONTHLY,
            tables.NETWORK_HEALTH,
            tables.ALERTS,
            tables.INTERACTIONS,
            tables.ORG_PEOPLE,
            tables.ORG_GROUPS,
            tables.GROUP_MATRIX,
            tables.ORG_SUMMARY,
        )
    ],
    group_name="reports",
    kinds={"html"},
    pool=WAREHOUSE_POOL,  # it reads the warehouse through the run's one connection
    description="Self-contained HTML reports (no network needed to open them): $TIEPULSE_HOME/reports/"
    "organisation.html and reports/egos/<ego>.html, one per ego (reports.personal, reports.max_personal), readable "
    "by their owner only. Only the reports whose inputs changed are rendered again.",
)
def html_reports(warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.connect() as con:
        written = write_all_reports(con, warehouse.settings())
    return dg.MaterializeResult(
        metadata={
            "folder": dg.MetadataValue.path(str(written.folder.resolve())),
            "organisation": dg.MetadataValue.path(str(written.organisation.resolve())),
            "personal_reports": len(written.personal),
            "rendered": written.rendered,
            **({"personal_left_out": written.left_out} if written.left_out else {}),
        }
    )
