"""After Great Expectations passed a table, only its new or changed rows and the rows sharing their keys are sent
again (pipelines/checks.py), and what that finds is what validating the whole table finds."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import duckdb

from tiepulse.core.warehouse import connect
from tiepulse.pipelines import build_state, checks
from tiepulse.pipelines.checks import TableChecks, evaluate, remember_passed_rows, submit_quality, to_validate
from tiepulse.pipelines.expectations import Checks

AS_OF = dt.date(2024, 1, 1)
KEYED = TableChecks("main.t", Checks(unique=("k",), not_null=("v",), between={"v": (0, 1000)}))


def _validate(con: duckdb.DuckDBPyConnection, table: TableChecks) -> tuple[bool, dict[str, Any]] | None:
    """What a refresh's quality check does (``checks.start_checks``): None when nothing had to be sent."""
    sending = to_validate(con, table, AS_OF)
    if sending.query is None:
        return None
    passed, details = submit_quality(con, table, AS_OF, query=sending.query).result()
    if passed:
        remember_passed_rows(con, table, AS_OF, sending.moved)
        assert _recorded(con, table) == _every_row_hash(con, table)  # what hashing every row again records
    return passed, {**details, **sending.note}


def _recorded(con: duckdb.DuckDBPyConnection, table: TableChecks) -> list[int]:
    rows = con.execute(
        f"select row_hash from {build_state.VALIDATED_ROWS_TABLE} where target = ? order by 1",
        [f"checks/{table.table}"],
    ).fetchall()
    return [h for (h,) in rows]


def _every_row_hash(con: duckdb.DuckDBPyConnection, table: TableChecks) -> list[int]:
    rows = con.execute(f"select distinct hash(q) from ({checks._query(table, AS_OF)}) q order by 1").fetchall()
    return [h for (h,) in rows]


def _sent(con: duckdb.DuckDBPyConnection, table: TableChecks) -> list[tuple[Any, ...]]:
    query = to_validate(con, table, AS_OF).query
    return [] if query is None else sorted(con.execute(query).fetchall(), key=str)


def _failures(details: dict[str, Any]) -> dict[str, Any]:
    return {label: line for label, line in details.items() if str(line).startswith("FAILED")}


def test_new_rows_and_their_keys_are_validated_and_find_what_the_whole_table_finds(tmp_path: Path) -> None:
    con = connect(tmp_path / "warehouse.duckdb")
    con.execute("create table main.t as select i::varchar as k, i as v from range(50) r(i)").fetchall()
    first = _validate(con, KEYED)
    assert first is not None and first[0] and first[1]["rows_checked"] == 50  # never passed: the whole table
    assert _validate(con, KEYED) is None  # nothing new: nothing sent

    # an old key again, a missing value, an old row changed out of range
    con.execute("insert into main.t values ('3', 7), ('60', null)").fetchall()
    con.execute("update main.t set v = 5000 where k = '10'").fetchall()
    assert _sent(con, KEYED) == [("10", 5000), ("3", 3), ("3", 7), ("60", None)]
    changed = _validate(con, KEYED)
    whole = evaluate(con, KEYED, AS_OF)
    assert changed is not None and not changed[0] and not whole[0]
    assert (
        _failures(changed[1])
        == _failures(whole[1])
        == {
            "column_values_to_be_unique[k]": "FAILED (2 rows)",
            "column_values_to_not_be_null[v]": "FAILED (1 rows)",
            "column_values_to_be_between[v]": "FAILED (1 rows)",
        }
    )
    assert changed[1]["rows_checked"] == 52
    assert str(changed[1]["validated"]).startswith("3 new or changed rows and the rows sharing their keys")

    # a failure is not remembered: the same rows go again until they are put right
    assert len(_sent(con, KEYED)) == 4
    con.execute("delete from main.t where k = '3' and v = 7").fetchall()
    con.execute("update main.t set v = 10 where k = '10'").fetchall()  # back to the row that passed
    con.execute("update main.t set v = 1 where k = '60'").fetchall()
    assert _sent(con, KEYED) == [("60", 1)]
    fixed = _validate(con, KEYED)
    assert fixed is not None and fixed[0]

    con.execute("delete from main.t where k in ('1', '2')").fetchall()  # rows removed break nothing
    assert _validate(con, KEYED) is None


def test_other_checks_or_a_forgotten_record_validate_the_whole_table(tmp_path: Path) -> None:
    con = connect(tmp_path / "warehouse.duckdb")
    con.execute("create table main.t as select i::varchar as k, i as v from range(20) r(i)").fetchall()
    assert _validate(con, KEYED) is not None
    con.execute("insert into main.t values ('20', 20)").fetchall()
    stricter = TableChecks("main.t", Checks(unique=("k",), not_null=("v",), between={"v": (0, 10)}))
    assert len(_sent(con, stricter)) == 21  # passed with other checks: counts for nothing
    assert len(_sent(con, KEYED)) == 1
    build_state.forget(con)  # tiepulse refresh --full
    assert len(_sent(con, KEYED)) == 21
    assert con.execute("select count(*) from ops.validated_rows").fetchall() == [(0,)]


def test_without_a_unique_key_only_the_new_rows_are_sent(tmp_path: Path) -> None:
    con = connect(tmp_path / "warehouse.duckdb")
    unkeyed = TableChecks("main.t", Checks(not_null=("v",)))
    con.execute("create table main.t as select (i % 3)::varchar as k, i as v from range(9) r(i)").fetchall()
    assert _validate(con, unkeyed) is not None
    con.execute("insert into main.t values ('0', 100), ('1', null)").fetchall()
    assert _sent(con, unkeyed) == [(100,), (None,)]  # the check query's columns
    changed = _validate(con, unkeyed)
    assert changed is not None and _failures(changed[1]) == _failures(evaluate(con, unkeyed, AS_OF)[1])


def test_a_row_gone_and_back_under_a_key_taken_since_is_sent_again(tmp_path: Path) -> None:
    """The record after a pass drops the hashes of rows gone (``RowHashes.gone``), as hashing every row would: a row
    removed, its key taken by another row, and the row back again is a duplicate key that must be sent and fail."""
    con = connect(tmp_path / "warehouse.duckdb")
    con.execute("create table main.t as select i::varchar as k, i as v from range(5) r(i)").fetchall()
    assert _validate(con, KEYED) is not None
    con.execute("delete from main.t where k = '1'").fetchall()
    assert _validate(con, KEYED) is None  # nothing new: nothing recorded
    con.execute("insert into main.t values ('1', 100), ('5', 5)").fetchall()
    taken = _validate(con, KEYED)
    assert taken is not None and taken[0]
    con.execute("insert into main.t values ('1', 1)").fetchall()  # the row that passed first, back
    assert _sent(con, KEYED) == [("1", 1), ("1", 100)]
    back = _validate(con, KEYED)
    assert back is not None and _failures(back[1]) == {"column_values_to_be_unique[k]": "FAILED (2 rows)"}
