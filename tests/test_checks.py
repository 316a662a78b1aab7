"""Great Expectations suites behind the asset checks: they pass on good tables, name what is wrong on bad ones,
and a failing blocking check stops the assets downstream of it."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from tests.analytics.staged import AS_OF, publish_home, stage_home
from tiepulse.core.warehouse import connect
from tiepulse.pipelines.checks import MART_CHECKS, TableChecks, evaluate

TIES = next(c for c in MART_CHECKS if c.table == "marts.mart_ties")


def _ties(con: duckdb.DuckDBPyConnection, rows: str) -> None:
    con.execute("create schema if not exists staging; create schema if not exists marts").fetchall()
    con.execute(
        "create or replace table staging.dim_person as "
        "select * from (values ('a@x.com', false), ('b@x.com', false), ('noreply@x.com', true)) "
        "t(person_id, is_automated)"
    ).fetchall()
    con.execute(
        "create or replace table marts.mart_ties as select * from (values "
        + rows
        + ") t(ego_id, alter_id, strength, tie_class, last_contact, first_contact, reciprocity, initiation_share)"
    ).fetchall()


def test_good_ties_pass() -> None:
    con = duckdb.connect()
    _ties(con, "('a@x.com', 'b@x.com', 0.5, 'weak', timestamptz '2024-01-02', timestamptz '2023-01-01', 1.0, 0.5)")
    passed, details = evaluate(con, TIES, dt.date(2024, 6, 1))
    assert passed, details
    assert details["rows_checked"] == 1


def test_bad_ties_fail_with_the_reason() -> None:
    con = duckdb.connect()
    _ties(
        con,
        "('a@x.com', 'b@x.com', 1.5, 'weak', timestamptz '2024-01-02', timestamptz '1979-12-31', 1.0, 0.5),"
        "('a@x.com', 'b@x.com', 0.2, 'weak', timestamptz '2024-01-02', timestamptz '2023-01-01', 1.0, 0.5),"
        "('a@x.com', 'noreply@x.com', 0.2, 'weak', timestamptz '2024-01-02', timestamptz '2023-01-01', 1.0, 0.5)",
    )
    passed, details = evaluate(con, TIES, dt.date(2024, 6, 1))
    assert not passed
    failed = {k for k, v in details.items() if str(v).startswith("FAILED")}
    assert failed == {
        "compound_columns_to_be_unique[ego_id,alter_id]",
        "column_values_to_be_between[strength]",
        "column_values_to_be_in_set[rule_no_automated_alter]",
        "column_values_to_be_in_set[plausible_first_contact]",
    }


def test_single_key_not_null() -> None:
    con = duckdb.connect()
    con.execute("create table t as select * from (values (1), (1), (null)) v(k)").fetchall()
    passed, details = evaluate(con, TableChecks(table="main.t", unique=("k",), not_null=("k",)), dt.date(2024, 1, 1))
    assert not passed
    assert details["column_values_to_be_unique[k]"].startswith("FAILED")
    assert details["column_values_to_not_be_null[k]"] == "FAILED (1 rows)"


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small staged warehouse of tests.analytics.staged, with its marts published."""
    return publish_home(tmp_path_factory.mktemp("published"))


def _failed(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    checks = next(c for c in MART_CHECKS if c.table == table)
    passed, details = evaluate(con, checks, AS_OF)
    failed = {k for k, v in details.items() if str(v).startswith("FAILED")}
    assert passed is not failed
    return failed


def test_published_marts_pass_and_broken_shares_fail(published: Path, tmp_path: Path) -> None:
    shutil.copy(published / "warehouse.duckdb", tmp_path / "w.duckdb")
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    for checks in MART_CHECKS:
        assert _failed(con, checks.table) == set(), checks.table
    # the wrapped unsigned subtraction of the audit, and an out-of-range sub-score
    con.execute(
        "update marts.mart_network_health set email_reciprocity = -1.43e9, score_maintenance = 1.5 "
        "where period = 'current'"
    ).fetchall()
    assert _failed(con, "marts.mart_network_health") == {
        "column_values_to_be_between[email_reciprocity]",
        "column_values_to_be_between[score_maintenance]",
    }
    con.execute("update marts.mart_network_health set health_score = null where period = 'current'").fetchall()
    assert "column_values_to_be_in_set[rule_scored_when_active]" in _failed(con, "marts.mart_network_health")


def test_monthly_history_timestamps_are_checked(published: Path, tmp_path: Path) -> None:
    shutil.copy(published / "warehouse.duckdb", tmp_path / "w.duckdb")
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    month = "(select max(month) from marts.mart_ties_monthly)"
    con.execute(f"update marts.mart_ties_monthly set as_of = as_of + 40 where month = {month}").fetchall()
    con.execute(
        "update marts.mart_ties_monthly set first_contact = timestamptz '1979-12-31' "
        "where month = (select min(month) from marts.mart_ties_monthly)"
    ).fetchall()
    assert _failed(con, "marts.mart_ties_monthly") == {
        "column_values_to_be_in_set[plausible_first_contact]",
        "column_values_to_be_in_set[rule_as_of_in_its_month]",
    }


def test_a_failing_blocking_check_stops_everything_downstream(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIEPULSE_HOME", str(tmp_path))
    monkeypatch.setenv("TIEPULSE_AS_OF", AS_OF.isoformat())
    monkeypatch.delenv("TIEPULSE_CONFIG", raising=False)
    stage_home(tmp_path)
    con = connect(tmp_path / "warehouse.duckdb")  # a broken clock in staging: the interactions inherit it
    con.execute(
        "insert into staging.stg_messages by name select 'old' as message_key, 'old' as message_id, "
        "timestamptz '1985-01-01 10:00' as sent_at, 'me@acme.com' as sender_id, 1 as n_recipients, "
        '[]::varchar[] as "references", false as is_reply, false as is_forward, false as is_automated, '
        "1 as mailbox_count"
    ).fetchall()
    con.execute("insert into staging.stg_message_recipients values ('old', 'zed@acme.com', 'to')").fetchall()
    con.close()

    from tiepulse.pipelines.assets.analytics import analytics_assets
    from tiepulse.pipelines.definitions import defs

    keys = sorted(key for asset in analytics_assets for key in asset.keys)
    result = defs.resolve_job_def("refresh_warehouse").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), asset_selection=keys, raise_on_error=False
    )
    assert not result.success
    evaluations = {(e.asset_key.to_user_string(), e.check_name): e.passed for e in result.get_asset_check_evaluations()}
    assert evaluations[("marts/int_interactions", "quality")] is False
    from tiepulse.pipelines.refresh import describe_failure  # what `tiepulse refresh` prints for it

    assert [describe_failure(e) for e in result.get_asset_check_evaluations() if not e.passed] == [
        "marts.int_interactions:quality (column_values_to_be_in_set[plausible_occurred_at]: FAILED (1 rows))"
    ]
    materialised = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert materialised == {"marts/int_interactions", "marts/int_interaction_exclusions"}
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as check:
        assert check.execute("select count(*) from duckdb_tables() where schema_name = 'marts'").fetchone() == (2,)


def test_an_event_that_ends_before_it_starts_fails_the_staging_check() -> None:
    from tiepulse.pipelines import checks as table_checks

    events = next(c for c in table_checks._staging_checks() if c.table == "staging.stg_events")
    con = duckdb.connect()
    con.execute(
        "create schema staging; create table staging.stg_events as select * from (values "
        "('ok', timestamptz '2024-01-02 10:00', timestamptz '2024-01-02 11:00', 60.0),"
        "('back', timestamptz '2024-01-02 10:00', timestamptz '2024-01-02 09:00', -60.0)"
        ") t(event_key, start_at, end_at, duration_minutes)"
    ).fetchall()
    passed, details = evaluate(con, events, dt.date(2024, 6, 1))
    assert not passed
    assert {k for k, v in details.items() if str(v).startswith("FAILED")} == {
        "column_values_to_be_between[duration_minutes]"
    }
