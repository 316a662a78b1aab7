"""Great Expectations suites behind the asset checks: they pass on good tables and name what is wrong on bad ones."""

from __future__ import annotations

import datetime as dt

import duckdb

from pipelines.checks import MART_CHECKS, TableChecks, evaluate

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
