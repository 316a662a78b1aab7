"""The real Enron sent mail through the whole foundation: import, staging, identity (skips without ../shared)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

from tests.analytics.ona_reference import assert_matches_networkx
from tests.conftest import ENRON, requires_enron
from tiepulse.core.settings import Settings
from tiepulse.core.warehouse import connect
from tiepulse.pipelines.analytics import AnalyticsParams
from tiepulse.pipelines.analytics.ona import communities as communities_of
from tiepulse.pipelines.analytics.org_graph import build_org_graph, period_window
from tiepulse.pipelines.file_import import import_paths
from tiepulse.pipelines.marts_io import read_table
from tiepulse.pipelines.models import all_models, build_model
from tiepulse.pipelines.network_io import interactions_from_staging
from tiepulse.pipelines.org_ties import WindowTies

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


def test_every_sent_message_is_a_message_a_copy_or_quarantined(enron: duckdb.DuckDBPyConnection) -> None:
    messages = _one(enron, "select count(*) from marts.fct_messages")
    copies = _one(enron, "select count(*) from intermediate.int_message_copies_matched")
    quarantined = _one(enron, "select count(*) from ops.quarantine where kind = 'message'")
    assert messages + copies + quarantined == 22_553  # type: ignore[operator]
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


def _analyse(enron: duckdb.DuckDBPyConnection, as_of: dt.date) -> tuple[Any, pl.DataFrame]:
    from tiepulse.pipelines.analytics import analyse_network
    from tiepulse.pipelines.marts_io import publish
    from tiepulse.pipelines.network_io import (
        INTERACTIONS,
        interactions_from_staging,
        read_network_inputs,
        read_observation,
    )

    params = AnalyticsParams()
    interactions, _ = interactions_from_staging(enron, params)
    publish(enron, INTERACTIONS, interactions)
    return analyse_network(read_network_inputs(enron), as_of, params), read_observation(enron, as_of, params)


def test_analytics_as_of_2001_12_01_cover_every_owner(enron: duckdb.DuckDBPyConnection) -> None:
    from tiepulse.pipelines.analytics import describe_network

    as_of = dt.date(2001, 12, 1)
    analysis, observation = _analyse(enron, as_of)
    health, ties, alerts = analysis.health, analysis.ties, analysis.alerts
    egos = {r[0] for r in enron.execute("select ego_id from marts.dim_ego").fetchall()}
    owners_with_mail_before = {
        r[0]
        for r in enron.execute(
            "select distinct sender_id from marts.fct_messages where sent_at < timestamptz '2001-12-01'"
        ).fetchall()
    } & egos
    assert set(health.get_column("ego_id").to_list()) == owners_with_mail_before
    # most exports end in mid-2001: those egos have no recent data (not scored, reported as such), and no alert
    # is raised about any of them ("nothing for 282 days" was the export ending, not silence)
    ended = set(observation.filter(pl.col("data_status") == "no_recent_data").get_column("ego_id"))
    assert len(ended) >= 70
    assert health.filter(pl.col("ego_id").is_in(list(ended))).get_column("health_score").is_null().all()
    assert not set(alerts.get_column("ego_id")) & ended
    # a Sent folder measures only what the ego did: too little of the weight for an overall score
    current = health.filter(~pl.col("ego_id").is_in(list(ended)) & pl.col("is_active"))
    assert current.height >= 1
    for row in current.iter_rows(named=True):
        assert not {"engagement", "breadth", "reciprocity", "real_world"} & set(row["measured_parts"])
    text = describe_network(current, ties, alerts, inbound_observed=False).render()
    assert "Only mail you sent is visible here" in text
    assert "Only 0" not in text and "n/a" not in text and " 0 departments" not in text and " 0 two-way" not in text
    assert ties.get_column("strength").is_between(0, 1).all()
    # sent mail only: nobody's inbound mail is observed, so "they never answered" would be an artefact
    assert not observation.get_column("inbound_observed").any()


def test_no_one_sided_alert_for_sent_folders_as_of_2001_06_15(enron: duckdb.DuckDBPyConnection) -> None:
    """The issue counted 136 one-sided alerts for four egos whose data is a Sent folder (assistants' mail to them
    sits in it); every Enron folder here is a Sent folder."""
    roles = enron.execute("select distinct folder_role from intermediate.int_observation_windows").fetchall()
    assert roles == [("sent",)]
    analysis, observation = _analyse(enron, dt.date(2001, 6, 15))
    assert "one_sided_tie" not in analysis.alerts.get_column("kind").to_list()
    ended = set(observation.filter(pl.col("data_status") == "no_recent_data").get_column("ego_id"))
    assert not set(analysis.alerts.get_column("ego_id")) & ended
    # darrell.schoolcraft's export starts on 2001-05-24: every contact looks new, which is no overload
    assert "darrell.schoolcraft@enron.com" not in analysis.alerts.get_column("ego_id").to_list()


@pytest.mark.slow
def test_a_past_analysis_date_refreshes_cleanly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`TIEPULSE_AS_OF=2001-05-31 tiepulse import` used to fail a check on the 17 messages dated July 2002."""
    from tiepulse.pipelines.refresh import refresh

    monkeypatch.setenv("TIEPULSE_HOME", str(tmp_path))
    monkeypatch.setenv("TIEPULSE_AS_OF", "2001-05-31")
    monkeypatch.delenv("TIEPULSE_CONFIG", raising=False)
    settings = Settings()
    con = connect(settings.warehouse_path)
    import_paths(con, [ENRON / "sent_mail"], settings)
    later = con.execute("select count(*) from raw.mail_messages where sent_at > timestamptz '2002-07-01'").fetchall()
    con.close()
    assert later[0][0] > 0  # kept by the importer ...
    result = refresh()
    assert result.success, result.failed_checks  # ... and ignored by the analysis, not a failed check
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as db:
        (last,) = db.execute("select max(last_contact) from marts.mart_ties").fetchall()[0]
        assert last < dt.datetime(2001, 6, 1, tzinfo=dt.UTC)


def test_org_metrics_equal_networkx_on_enron(enron: duckdb.DuckDBPyConnection) -> None:
    """The organisation graph of the two years to the analysis date: every metric equals networkx's to 1e-9."""
    interactions, _ = interactions_from_staging(enron, AnalyticsParams())
    start, end = period_window(dt.date(2001, 12, 1), 730)
    egos = [r[0] for r in enron.execute("select ego_id from marts.dim_ego").fetchall()]
    ties = WindowTies.of_frame(interactions).ties(start, end)
    graph = build_org_graph(ties, read_table(enron, "marts.dim_person"), egos, "exclude")
    assert graph.n >= 37  # the internal people with a tie (37 in the last 90 days alone)
    communities = pl.Series(communities_of(graph.graph, seed=42)[0]).cast(pl.String)
    assert_matches_networkx(graph, communities)
