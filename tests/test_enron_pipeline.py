"""The real Enron sent mail through the whole foundation: import, staging, identity (skips without ../shared)."""

from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl
import pytest

from tests.analytics.ona_reference import assert_matches_networkx
from tests.conftest import ENRON, requires_enron
from tiepulse.core.settings import Settings
from tiepulse.core.warehouse import connect
from tiepulse.pipelines.analytics import AnalyticsParams
from tiepulse.pipelines.analytics.ona import communities as communities_of
from tiepulse.pipelines.analytics.org_graph import build_org_graph, directed_interactions, period_window
from tiepulse.pipelines.file_import import import_paths
from tiepulse.pipelines.marts_io import read_table
from tiepulse.pipelines.models import all_models, build_model
from tiepulse.pipelines.network_io import interactions_from_staging

pytestmark = requires_enron


@pytest.fixture(scope="module")
def enron(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    home = tmp_path_factory.mktemp("enron")
    settings = Settings(home=home, as_of=dt.date(2001, 12, 1), config_file=None)
    con = connect(settings.warehouse_path)
    first = import_paths(con, [ENRON / "sent_mail"], settings)
    assert len(first.files) == 78
    again = import_paths(con, [ENRON / "sent_mail"], settings)
    assert {f.status for f in again.files} == {"skipped"}
    assert sum(again.total.inserted.values()) == 0
    for model in all_models():
        build_model(con, model)
    return con


def _one(con: duckdb.DuckDBPyConnection, sql: str) -> object:
    row = con.execute(sql).fetchone()
    assert row is not None
    return row[0]


def test_every_sent_message_is_a_message_or_quarantined(enron: duckdb.DuckDBPyConnection) -> None:
    messages = _one(enron, "select count(*) from marts.fct_messages")
    quarantined = _one(enron, "select count(*) from ops.quarantine where kind = 'message'")
    assert messages + quarantined == 22_553  # type: ignore[operator]
    assert quarantined == 0  # no header date of this sample is implausible (checked in the importer tests)


def test_cc_duplicated_in_bcc_counts_once(enron: duckdb.DuckDBPyConnection) -> None:
    assert _one(enron, "select count(*) from marts.fct_message_recipients where kind = 'bcc'") == 0
    duplicates = _one(
        enron,
        "select count(*) from (select message_key, person_id from marts.fct_message_recipients "
        "group by all having count(*) > 1)",
    )
    assert duplicates == 0


def test_owners_are_egos_and_internal(enron: duckdb.DuckDBPyConnection) -> None:
    # 78 files; two people's mail appears as the main sender of two files each
    owners = _one(enron, "select count(distinct mailbox_owner) from staging.stg_mail_sightings")
    assert owners == _one(enron, "select count(*) from marts.dim_ego") == 76
    assert _one(enron, "select bool_and(is_internal) from marts.dim_person where is_ego") is True
    # enron.com is the egos' domain: colleagues are internal, outsiders are not
    assert _one(enron, "select is_internal from marts.dim_person where person_id = 'johnniebrown@juno.com'") is False


def test_sent_dates_are_plausible(enron: duckdb.DuckDBPyConnection) -> None:
    low, high = enron.execute("select min(sent_at), max(sent_at) from marts.fct_messages").fetchone()  # type: ignore[misc]
    assert low.year >= 1997 and high.year <= 2002


def test_analytics_as_of_2001_12_01_cover_every_owner(enron: duckdb.DuckDBPyConnection) -> None:
    from tiepulse.pipelines.analytics import analyse_network, describe_network
    from tiepulse.pipelines.marts_io import publish
    from tiepulse.pipelines.network_io import (
        INTERACTIONS,
        interactions_from_staging,
        read_network_inputs,
        read_observed_inboxes,
    )

    as_of = dt.date(2001, 12, 1)
    interactions, _ = interactions_from_staging(enron, AnalyticsParams())
    publish(enron, INTERACTIONS, interactions)
    inboxes = read_observed_inboxes(enron, as_of, AnalyticsParams())
    analysis = analyse_network(read_network_inputs(enron, inbound_observed=inboxes), as_of)
    health, ties, alerts = analysis.health, analysis.ties, analysis.alerts
    egos = {r[0] for r in enron.execute("select ego_id from marts.dim_ego").fetchall()}
    owners_with_mail_before = {
        r[0]
        for r in enron.execute(
            "select distinct sender_id from marts.fct_messages where sent_at < timestamptz '2001-12-01'"
        ).fetchall()
    } & egos
    assert set(health.get_column("ego_id").to_list()) == owners_with_mail_before
    # by the end of 2001 the sent folders have gone quiet: one ego wrote in the last 90 days; the others are
    # inactive and get no score (not a misleading 20/100 from "nothing overdue")
    active = health.filter(pl.col("is_active"))
    assert active.height == 1 and active.get_column("health_score").is_between(0, 100).all()
    inactive = health.filter(~pl.col("is_active"))
    assert inactive.get_column("health_score").is_null().all() and inactive.height == health.height - 1
    text = describe_network(active, ties, alerts, inbound_observed=False).render()
    assert "Only mail you sent is visible here" in text
    assert "Only 0" not in text and "n/a" not in text and " 0 departments" not in text and " 0 two-way" not in text
    assert ties.get_column("strength").is_between(0, 1).all()
    # sent mail only: nobody's inbound mail is observed, so "they never answered" would be an artefact
    assert inboxes.is_empty()
    assert alerts.height > 0 and "one_sided_tie" not in alerts.get_column("kind").to_list()


def test_org_metrics_equal_networkx_on_enron(enron: duckdb.DuckDBPyConnection) -> None:
    """The organisation graph of the two years to the analysis date: every metric equals networkx's to 1e-9."""
    interactions, _ = interactions_from_staging(enron, AnalyticsParams())
    start, end = period_window(dt.date(2001, 12, 1), 730)
    egos = [r[0] for r in enron.execute("select ego_id from marts.dim_ego").fetchall()]
    directed = directed_interactions(interactions)
    graph = build_org_graph(directed, read_table(enron, "marts.dim_person"), egos, start, end, "exclude")
    assert graph.n >= 37  # the internal people with a tie (37 in the last 90 days alone)
    communities = pl.Series(communities_of(graph.graph, seed=42)[0]).cast(pl.String)
    assert_matches_networkx(graph, communities)
