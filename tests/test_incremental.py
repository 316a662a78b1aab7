"""Incremental builds give what a full rebuild gives: after a sequence of imports (new mail, a late-arriving old
message, a duplicate copy, an erased person) every SQL model equals its full rebuild, row for row, both ways."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import duckdb
import pytest

from tests.test_staging_models import T0, _event, _load, _msg
from tiepulse.connectors.addresses import AddressNormaliser
from tiepulse.core.keyed_hash import database_home, identity_key
from tiepulse.core.settings import Config
from tiepulse.pipelines import build_state
from tiepulse.pipelines.config_tables import land_config
from tiepulse.pipelines.erasure import erase_from_warehouse, find_person
from tiepulse.pipelines.models import all_models, build_model


def _mail(key: str, owner: str, sender: str, to: list[str], days: int = 0) -> dict[str, Any]:
    name = sender.split("@")[0].title() + " Example"
    return _msg(key, owner, sender, *(("to", a) for a in to), sent_at=T0 + dt.timedelta(days=days), from_name=name)


def _meeting(key: str, attendees: list[str], days: int = 0) -> dict[str, Any]:
    start = T0 + dt.timedelta(days=days)
    accepted = ((a, "accepted") for a in attendees)
    return _event(key, "ana@acme.com", "ana@acme.com", *accepted, start_at=start, end_at=start + dt.timedelta(hours=1))


def _build_all(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return {model.table: build_model(con, model) for model in all_models()}


def _differences(con: duckdb.DuckDBPyConnection, table: str, copy: str) -> tuple[int, int]:
    """Rows of ``table`` missing from ``copy`` and rows of ``copy`` missing from ``table`` (as multisets)."""

    def missing(left: str, right: str) -> int:
        sql = f"select count(*) from (select * from {left} except all select * from {right})"
        return int(con.execute(sql).fetchall()[0][0])

    return missing(table, copy), missing(copy, table)


def _equals_full_rebuild(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Build incrementally, then rebuild everything from scratch: every table must be the same; what the
    incremental build did, per table."""
    done = _build_all(con)
    con.execute("create schema if not exists incremental").fetchall()
    for table in done:
        con.execute(f"create or replace table incremental.{table.split('.')[1]} as from {table}").fetchall()
    build_state.forget(con)
    assert set(_build_all(con).values()) == {"rebuilt"}
    for table in done:
        assert _differences(con, table, f"incremental.{table.split('.')[1]}") == (0, 0), (table, done[table])
    return done


@pytest.fixture
def con(warehouse: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    config = Config.model_validate({"egos": [{"email": "ana@acme.com"}], "aliases": {"bo@acme.com": ["b@old.com"]}})
    land_config(warehouse, config, AddressNormaliser())
    return warehouse


def test_incremental_builds_equal_a_full_rebuild_after_imports_a_late_message_a_copy_and_an_erasure(
    con: duckdb.DuckDBPyConnection,
) -> None:
    _load(
        con,
        "raw.mail_messages",
        [
            _mail("m1", "ana@acme.com", "ana@acme.com", ["bo@acme.com", "cy@acme.com"]),
            _mail("m2", "ana@acme.com", "bo@acme.com", ["ana@acme.com"], days=1),
            _mail("m3", "ana@acme.com", "dee@acme.com", ["ana@acme.com", "cy@acme.com"], days=2),
        ],
    )
    _load(con, "raw.calendar_events", [_meeting("e1", ["bo@acme.com", "dee@acme.com"])])
    assert set(_build_all(con).values()) == {"rebuilt"}
    assert set(_build_all(con).values()) == {"unchanged"}  # nothing new: nothing built

    # new mail, a message sent two years ago arriving late, a copy of m1 in bo's mailbox, and m2 again (ignored)
    _load(
        con,
        "raw.mail_messages",
        [
            _mail("m4", "ana@acme.com", "cy@acme.com", ["ana@acme.com", "b@old.com"], days=3),
            _mail("m0", "ana@acme.com", "ana@acme.com", ["dee@acme.com"], days=-730),
            _mail("m1", "bo@acme.com", "ana@acme.com", ["bo@acme.com", "cy@acme.com"]),
            _mail("m2", "ana@acme.com", "bo@acme.com", ["ana@acme.com"], days=1),
        ],
    )
    second = _build_all(con)
    assert second["staging.stg_mail_sightings"] == "appended"
    assert second["staging.stg_event_sightings"] == "unchanged"
    assert second["marts.fct_messages"] == "keyed"  # no new address: the touched messages only
    assert con.execute("select count(*) from staging.stg_mail_sightings").fetchall() == [(6,)]

    home = database_home(con)
    assert home is not None
    erase_from_warehouse(con, find_person(con, "dee@acme.com"), identity_key(home))
    assert set(_build_all(con).values()) == {"rebuilt"}  # the erasure dropped every derived table

    _load(con, "raw.mail_messages", [_mail("m5", "ana@acme.com", "bo@acme.com", ["ana@acme.com"], days=4)])
    _load(con, "raw.calendar_events", [_meeting("e2", ["cy@acme.com"], days=4)])
    last = _equals_full_rebuild(con)
    assert last["staging.stg_mail_sightings"] == last["staging.stg_event_sightings"] == "appended"
    assert con.execute("select count(*) from marts.dim_person where person_id = 'dee@acme.com'").fetchall() == [(0,)]


def test_a_removed_or_changed_raw_row_and_a_changed_model_rebuild(con: duckdb.DuckDBPyConnection) -> None:
    _load(con, "raw.mail_messages", [_mail("m1", "ana@acme.com", "ana@acme.com", ["bo@acme.com"])])
    _build_all(con)
    # a row changed in place below the watermark (an erasure's scrub, a cancellation): appending cannot do
    con.execute("update raw.mail_messages set from_name = null").fetchall()
    assert _build_all(con)["staging.stg_mail_sightings"] == "rebuilt"
    # the model's SQL changed (a new release): rebuilt whatever its inputs
    model = next(m for m in all_models() if m.table == "marts.fct_messages")
    assert build_model(con, model) == "unchanged"
    assert build_model(con, dataclasses.replace(model, sql=model.sql + "\n-- changed")) == "rebuilt"
