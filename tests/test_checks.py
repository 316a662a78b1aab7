"""Great Expectations suites behind the asset checks: they pass on good tables, name what is wrong on bad ones,
and a failing blocking check stops the assets downstream of it."""

from __future__ import annotations

import datetime as dt
import shutil
import signal
import subprocess
import sys
from concurrent.futures import Future
from pathlib import Path

import dagster as dg
import duckdb
import pyarrow as pa
import pytest

from tests.analytics.staged import AS_OF, publish_home, stage_home
from tiepulse.connectors.base import Page
from tiepulse.connectors.raw_schemas import to_table
from tiepulse.core.warehouse import connect
from tiepulse.pipelines import expectations
from tiepulse.pipelines.analytics.health import HEALTH_COLUMNS
from tiepulse.pipelines.checks import CHECKED_TABLES, TableChecks, evaluate
from tiepulse.pipelines.expectations import Checks
from tiepulse.pipelines.loader import commit_page
from tiepulse.pipelines.refresh import refresh

TIES = next(c for c in CHECKED_TABLES if c.table == "marts.mart_ties")
# The communities of practice read the message facts and copies this staged warehouse does not model; their checks
# run on the whole pipeline's warehouse (tests/test_pipeline_e2e.py).
PRACTICE_MARTS = ("marts.mart_communities_of_practice", "marts.mart_community_vitality")
POLARS_MARTS = [
    c
    for c in CHECKED_TABLES
    if (c.table == "marts.fct_interactions" or c.table.startswith("marts.mart_")) and c.table not in PRACTICE_MARTS
]


def test_every_share_of_health_is_checked_in_unit_range() -> None:
    health = next(c for c in CHECKED_TABLES if c.table == "marts.mart_network_health").checks
    shares = [
        c
        for c in HEALTH_COLUMNS
        if c.startswith(("score_", "share_"))
        or c.endswith(("_share", "_share_prev", "_blau", "_balance", "_reciprocity"))
        or c in ("gini", "efficiency", "bucket_gap")
    ]
    assert {c: health.between.get(c) for c in shares} == dict.fromkeys(shares, (0.0, 1.0))


def _ties(con: duckdb.DuckDBPyConnection, rows: str) -> None:
    con.execute("create schema if not exists marts").fetchall()
    con.execute(
        "create or replace table marts.dim_person as "
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
    passed, details = evaluate(con, TableChecks("main.t", Checks(unique=("k",), not_null=("k",))), dt.date(2024, 1, 1))
    assert not passed
    assert details["column_values_to_be_unique[k]"].startswith("FAILED")
    assert details["column_values_to_not_be_null[k]"] == "FAILED (1 rows)"


@pytest.mark.parametrize("unique", [("k",), ("k", "j"), ()])
def test_a_big_table_validated_in_batches_gives_what_it_gives_whole(unique: tuple[str, ...]) -> None:
    """Split by a hash of the key, duplicates meet in one batch: the batches together find what the whole finds."""
    con = duckdb.connect()
    con.execute(
        "create table t as select (i % 40)::varchar as k, (i % 2)::varchar as j, "
        "case when i % 17 = 0 then null else i end as v from range(100) r(i)"
    ).fetchall()
    checks = TableChecks(
        "main.t", Checks(unique=unique, not_null=("v",), between={"v": (0, 90)}, rules={"small_k": "k::int < 35"})
    )
    whole = evaluate(con, checks, dt.date(2024, 1, 1))
    batched = evaluate(con, checks, dt.date(2024, 1, 1), batch_rows=15)
    assert batched == whole and not whole[0]
    assert whole[1]["rows_checked"] == 100 and whole[1]["column_values_to_not_be_null[v]"] == "FAILED (6 rows)"
    failed = {label for label, line in whole[1].items() if str(line).startswith("FAILED")}
    assert any("unique" in label for label in failed) == bool(unique)


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small staged warehouse of tests.analytics.staged, with its marts published."""
    return publish_home(tmp_path_factory.mktemp("published"))


def _failed(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    checks = next(c for c in CHECKED_TABLES if c.table == table)
    passed, details = evaluate(con, checks, AS_OF)
    failed = {k for k, v in details.items() if str(v).startswith("FAILED")}
    assert passed is not failed
    return failed


def test_published_marts_pass_and_broken_shares_fail(published: Path, tmp_path: Path) -> None:
    shutil.copy(published / "warehouse.duckdb", tmp_path / "w.duckdb")
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    for checks in POLARS_MARTS:
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
    # a score for an ego whose data ended (or who had no contact) is a score of unobserved time
    con.execute(
        "update marts.mart_network_health set data_status = 'no_recent_data' "
        "where period = 'current' and health_score is not null"
    ).fetchall()
    failed = _failed(con, "marts.mart_network_health")
    assert "column_values_to_be_in_set[rule_scored_only_when_active_and_current]" in failed


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
        "insert into marts.fct_messages by name select 'old' as message_key, 'old' as message_id, "
        "timestamptz '1985-01-01 10:00' as sent_at, 'me@acme.com' as sender_id, 1 as n_recipients, "
        '[]::varchar[] as "references", false as is_reply, false as is_forward, false as is_automated, '
        "1 as mailbox_count"
    ).fetchall()
    con.execute("insert into marts.fct_message_recipients values ('old', 'zed@acme.com', 'to')").fetchall()
    con.close()

    from tiepulse.pipelines.assets.analytics import analytics_assets
    from tiepulse.pipelines.definitions import defs

    keys = sorted(key for asset in analytics_assets for key in asset.keys)
    result = defs.resolve_job_def("refresh_warehouse").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), asset_selection=keys, raise_on_error=False
    )
    assert not result.success
    evaluations = {(e.asset_key.to_user_string(), e.check_name): e.passed for e in result.get_asset_check_evaluations()}
    assert evaluations[("marts/fct_interactions", "quality")] is False
    from tiepulse.pipelines.refresh import describe_failure  # what `tiepulse refresh` prints for it

    assert [describe_failure(e) for e in result.get_asset_check_evaluations() if not e.passed] == [
        "marts.fct_interactions:quality (column_values_to_be_in_set[plausible_occurred_at]: FAILED (1 rows))"
    ]
    materialised = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert materialised == {"marts/fct_interactions", "marts/mart_interaction_exclusions"}
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as check:
        published = check.execute("select table_name from duckdb_tables() where schema_name = 'marts'").fetchall()
        assert {t for (t,) in published if t.startswith("mart_")} == {"mart_interaction_exclusions"}


def _raw_home(home: Path, monkeypatch: pytest.MonkeyPatch, *sent: dt.datetime) -> None:
    """A warehouse under ``home`` whose raw layer holds one message per ``sent`` time, ana to bo."""
    monkeypatch.setenv("TIEPULSE_HOME", str(home))
    monkeypatch.setenv("TIEPULSE_AS_OF", AS_OF.isoformat())
    monkeypatch.delenv("TIEPULSE_CONFIG", raising=False)
    rows = [
        {
            "message_key": f"m{i}",
            "mailbox_owner": "ana@acme.com",
            "source": "mbox",
            "from_address": "ana@acme.com",
            "sent_at": at,
            "recipients": [{"kind": "to", "address": "bo@acme.com", "name": None}],
            "bad_address_count": 0,
        }
        for i, at in enumerate(sent)
    ]
    con = connect(home / "warehouse.duckdb")
    table = "raw.mail_messages"
    commit_page(con, Page(rows={table: to_table(table, rows)}), source="test", account="t", stream=table)
    con.close()


def test_a_failing_model_check_stops_the_models_that_read_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A blocking check inside a layer's step: the models after it in the layer and every later step are skipped."""
    _raw_home(tmp_path, monkeypatch, dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC), dt.datetime(1985, 1, 1, tzinfo=dt.UTC))
    result = refresh()
    assert not result.success
    assert result.failed_checks == [
        "marts.fct_messages:quality (column_values_to_be_in_set[plausible_sent_at]: FAILED (1 rows))"
    ]
    assert {"staging.stg_mail_sightings", "intermediate.int_addresses_resolved", "marts.fct_message_recipients"} <= set(
        result.rows
    )
    # fct_messages was built (and failed its check); what reads it was not
    assert "marts.fct_messages" in result.rows
    assert not {"marts.dim_person", "marts.fct_interactions", "marts.mart_ties", "marts.mart_alerts"} & set(result.rows)


def test_every_check_runs_once_per_refresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _raw_home(
        tmp_path, monkeypatch, dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC), dt.datetime(2026, 3, 9, 9, tzinfo=dt.UTC)
    )
    validated: list[str] = []
    submit = expectations.submit

    def counted(rows: pa.Table, checks: Checks, name: str) -> Future[tuple[bool, dict[str, object]]]:
        validated.append(name)
        return submit(rows, checks, name)

    monkeypatch.setattr(expectations, "submit", counted)
    result = refresh()
    assert result.success, result.failed_checks
    assert sorted(validated) == sorted(c.table.replace(".", "_") for c in CHECKED_TABLES)
    # the same rows again: the checks pass on record without Great Expectations seeing them twice
    # (tests/test_check_reuse.py: what is recorded, and that changed rows are validated anew)
    validated.clear()
    result = refresh()
    assert result.success, result.failed_checks
    assert validated == []


def test_an_event_that_ends_before_it_starts_fails_the_events_check() -> None:
    events = next(c for c in CHECKED_TABLES if c.table == "marts.fct_events")
    con = duckdb.connect()
    con.execute(
        "create schema marts; create table marts.fct_events as select * from (values "
        "('ok', timestamptz '2024-01-02 10:00', timestamptz '2024-01-02 11:00', 60.0),"
        "('back', timestamptz '2024-01-02 10:00', timestamptz '2024-01-02 09:00', -60.0)"
        ") t(event_key, start_at, end_at, duration_minutes)"
    ).fetchall()
    passed, details = evaluate(con, events, dt.date(2024, 6, 1))
    assert not passed
    assert {k for k, v in details.items() if str(v).startswith("FAILED")} == {
        "column_values_to_be_between[duration_minutes]"
    }


RELEASE_WORKER = """
import multiprocessing
import sys

import pyarrow as pa

from tiepulse.pipelines import expectations
from tiepulse.pipelines.expectations import Checks

if __name__ == "__main__":
    expectations.start()
    if sys.argv[1] == "ready":
        expectations.submit(pa.table({"x": [1]}), Checks(unique=("x",)), "warm").result()
    (worker,) = multiprocessing.active_children()
    expectations.release()  # "loading": long before its Great Expectations import can have ended
    worker.join(timeout=0 if sys.argv[1] == "ready" else 120)
    after = expectations.submit(pa.table({"x": [1, 1]}), Checks(unique=("x",)), "after").result()
    print(worker.exitcode, after.passed, after.unexpected)
"""


def _released(tmp_path: Path, state: str) -> str:
    """What a process that started the worker and released it (``loading`` or ``ready``) saw: the worker's exit
    code (None: still running) and a validation sent after."""
    script = tmp_path / "release.py"
    script.write_text(RELEASE_WORKER)
    done = subprocess.run([sys.executable, str(script), state], capture_output=True, text=True, check=True, timeout=300)
    return done.stdout.strip()


def test_a_worker_released_while_loading_is_ended_at_once(tmp_path: Path) -> None:
    """A refresh that turns out to have nothing to do must not wait for Great Expectations' import at exit; a
    validation asked for later gets a new worker."""
    unique = "{'column_values_to_be_unique[x]': 2}"
    assert _released(tmp_path, "loading") == f"{-signal.SIGKILL} False {unique}"


def test_a_released_ready_worker_is_kept(tmp_path: Path) -> None:
    unique = "{'column_values_to_be_unique[x]': 2}"
    assert _released(tmp_path, "ready") == f"None False {unique}"
