"""The analysis chain is written once: the marts the Dagster assets publish equal what ``analyse_network`` computes
from the same warehouse (what `tiepulse health --as-of` runs), frame for frame."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import polars as pl
from polars.testing import assert_frame_equal

from tests.analytics.staged import ANA, AS_OF, BOB, EGO, run_assets
from tiepulse.core.warehouse import open_warehouse
from tiepulse.pipelines import network_io as tables
from tiepulse.pipelines.analytics import AnalyticsParams, analyse_network
from tiepulse.pipelines.marts_io import read_table
from tiepulse.pipelines.network_io import read_network_inputs, read_observation


def test_published_marts_equal_the_chain(home: Path) -> None:
    run_assets()
    params = AnalyticsParams()
    with open_warehouse(home / "warehouse.duckdb", read_only=True) as con:
        inputs = read_network_inputs(con)
        published = {
            name: read_table(con, table, where)
            for name, table, where in (
                ("ties", tables.TIES, ""),
                ("health", tables.NETWORK_HEALTH, "where period = 'current'"),
                ("alerts", tables.ALERTS, ""),
                ("alert_state", tables.ALERT_STATE, ""),
            )
        }
    # the refresh started from no alert state: so does the chain
    analysis = analyse_network(dataclasses.replace(inputs, alert_state=None), AS_OF, params)
    assert analysis.ties.height == 4 and analysis.alerts.height == 2  # not trivially equal: there is something
    assert_frame_equal(published["ties"], analysis.ties)
    assert_frame_equal(published["health"].drop("period", "month"), analysis.health)
    assert_frame_equal(published["alerts"], analysis.alerts)
    assert_frame_equal(published["alert_state"].sort("alert_id"), analysis.alert_state.sort("alert_id"))


def test_one_egos_chain_is_their_part_of_everyones(home: Path) -> None:
    """`tiepulse health --ego X --as-of D` reads only X's interactions, contacts, alert state and mailbox."""
    run_assets()
    params = AnalyticsParams()
    with open_warehouse(home / "warehouse.duckdb", read_only=True) as con:
        observed = read_observation(con, AS_OF, params)
        everyone = analyse_network(read_network_inputs(con), AS_OF, params)
        one = analyse_network(read_network_inputs(con, EGO), AS_OF, params)
        mine = {ego: read_observation(con, AS_OF, params, ego) for ego in (EGO, BOB, ANA, "no.mailbox@acme.com")}
    for ego, seen in mine.items():  # one ego's observation is read from their own mailboxes alone
        assert_frame_equal(seen, observed.filter(pl.col("ego_id") == ego))
    assert mine[EGO].height == 1 and mine["no.mailbox@acme.com"].is_empty()
    for mine, all_of_them in ((one.ties, everyone.ties), (one.health, everyone.health), (one.alerts, everyone.alerts)):
        assert mine.height > 0
        assert_frame_equal(mine, all_of_them.filter(pl.col("ego_id") == EGO))
