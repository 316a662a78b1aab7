"""Keyed incremental marts (pipelines/keyed_models.py) give what a full rebuild gives: after new mail, a late old
message, a copy of a message in another mailbox, a copy under another Message-ID, a new address that makes two
identities one, and an erasure, every SQL model equals its full rebuild, row for row, both ways; and a day of new
mail rebuilds only the keys it touched, on both warehouse backends."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from tests.test_incremental import _build_all, _differences, _equals_full_rebuild, _mail, _meeting
from tests.test_staging_models import _load
from tiepulse.connectors.addresses import AddressNormaliser
from tiepulse.core.keyed_hash import database_home, identity_key
from tiepulse.core.settings import Config
from tiepulse.core.warehouse import connect
from tiepulse.pipelines import build_state, keyed_models
from tiepulse.pipelines.config_tables import land_config
from tiepulse.pipelines.erasure import erase_from_warehouse, find_person
from tiepulse.pipelines.models import InputFingerprints, all_models, build_model

KEYED = {"marts.fct_messages", "marts.fct_message_recipients", "marts.fct_events", "marts.fct_event_attendees"}


@pytest.fixture
def con(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A small warehouse built once: a DuckDB file, or the file ``request.param`` names (a DuckLake)."""
    warehouse = connect(tmp_path / getattr(request, "param", "warehouse.duckdb"))
    land_config(warehouse, Config.model_validate({"egos": [{"email": "ana@acme.com"}]}), AddressNormaliser())
    _load(
        warehouse,
        "raw.mail_messages",
        [
            _mail("m1", "ana@acme.com", "ana@acme.com", ["bo@acme.com", "cy@acme.com"]),
            _mail("m2", "ana@acme.com", "bo@acme.com", ["ana@acme.com"], days=1),
            _mail("m3", "ana@acme.com", "ana.example@home.net", ["ana@acme.com"], days=1),
        ],
    )
    _load(warehouse, "raw.calendar_events", [_meeting("e1", ["bo@acme.com", "cy@acme.com"])])
    assert set(_build_all(warehouse).values()) == {"rebuilt"}
    yield warehouse
    warehouse.close()


@pytest.mark.parametrize("con", ["warehouse.duckdb", "warehouse.ducklake"], indirect=True)
def test_new_mail_a_late_message_and_a_copy_in_another_mailbox_rebuild_only_their_keys(
    con: duckdb.DuckDBPyConnection,
) -> None:
    _load(
        con,
        "raw.mail_messages",
        [
            _mail("m4", "ana@acme.com", "cy@acme.com", ["ana@acme.com", "bo@acme.com"], days=3),
            _mail("m0", "ana@acme.com", "ana@acme.com", ["cy@acme.com"], days=-730),  # sent two years ago
            _mail("m1", "bo@acme.com", "ana@acme.com", ["bo@acme.com", "cy@acme.com"]),  # m1 seen in bo's mailbox
        ],
    )
    _load(con, "raw.calendar_events", [_meeting("e2", ["cy@acme.com"], days=3)])
    done = _equals_full_rebuild(con)
    assert {table: done[table] for table in KEYED} == dict.fromkeys(KEYED, "keyed")
    assert done["intermediate.int_message_copies_matched"] == "keyed"
    assert done["staging.stg_observation_months"] == "keyed"  # a new owner, an old month and the running one
    assert done["intermediate.int_ego_sent_offsets"] == "keyed"
    assert con.execute("select mailbox_count from marts.fct_messages where message_key = 'm1'").fetchall() == [(2,)]


def test_a_copy_under_another_message_id_folds_as_a_full_rebuild_would(con: duckdb.DuckDBPyConnection) -> None:
    copy = dict(_mail("m1-copy", "bo@acme.com", "ana@acme.com", ["bo@acme.com", "cy@acme.com"]), folder="Inbox")
    copy["sent_at"] += dt.timedelta(hours=1)  # a misread time zone
    original = con.execute("select subject_digest from raw.mail_messages where message_key = 'm1'").fetchall()
    _load(con, "raw.mail_messages", [{**copy, "subject_digest": original[0][0]}])
    _equals_full_rebuild(con)
    folded = con.execute("select folded_keys from marts.fct_messages where message_key = 'm1'").fetchall()
    assert folded in ([(["m1-copy"],)], [([],)])  # folded when the fingerprint matched, as in a full rebuild


def test_a_late_message_refolds_copies_up_to_a_day_after_it_as_a_full_rebuild_would(
    con: duckdb.DuckDBPyConnection,
) -> None:
    """c matches b, 11 hours before it, and folds into what b matched: a late a, 22 hours before c, redoes c's
    copies row although nothing of c was imported."""

    def copy(key: str, owner: str, hours: int) -> dict[str, object]:
        row = _mail(key, owner, "ana@acme.com", ["bo@acme.com", "cy@acme.com"], days=10)
        return {**row, "sent_at": row["sent_at"] + dt.timedelta(hours=hours), "subject_digest": "weekly-note"}

    _load(con, "raw.mail_messages", [copy("x-b", "bo@acme.com", 11), copy("x-c", "cy@acme.com", 22)])
    _equals_full_rebuild(con)
    _load(con, "raw.mail_messages", [copy("x-a", "ana@acme.com", 0)])
    done = _equals_full_rebuild(con)
    assert done["intermediate.int_message_copies_matched"] == "keyed"
    folded = "select message_key, folded_into from intermediate.int_message_copies_matched order by message_key"
    assert con.execute(folded).fetchall() == [("x-b", "x-a"), ("x-c", "x-a")]


@pytest.mark.parametrize("con", ["warehouse.duckdb", "warehouse.ducklake"], indirect=True)
def test_new_addresses_alone_leave_the_marts_keyed(con: duckdb.DuckDBPyConnection) -> None:
    """A day's mail from and to people never seen before adds their addresses to int_addresses_resolved (rebuilt
    whole, every old row kept): its keyed readers still redo only the new mail's keys, and equal a full rebuild."""
    _load(
        con,
        "raw.mail_messages",
        [
            _mail("m11", "ana@acme.com", "dee@outside.org", ["ana@acme.com", "eve@outside.org"], days=8),
            _mail("m12", "ana@acme.com", "ana@acme.com", ["fay@elsewhere.net"], days=8),
        ],
    )
    _load(con, "raw.calendar_events", [_meeting("e3", ["bo@acme.com", "gus@elsewhere.net"], days=8)])
    done = _build_all(con)
    grown = build_state.stored(con, "intermediate.int_addresses_resolved")
    assert grown is not None and grown.output_before is not None  # every old row kept, only new addresses added
    assert set(_equals_full_rebuild(con).values()) == {"unchanged"}  # and the tables are a full rebuild's
    assert {table: done[table] for table in KEYED} == dict.fromkeys(KEYED, "keyed")
    assert done["intermediate.int_message_copies_matched"] == done["intermediate.int_ego_sent_offsets"] == "keyed"
    assert done["intermediate.int_addresses_resolved"] == "rebuilt"
    people = "select count(*) from marts.dim_person where person_id in ('dee@outside.org', 'gus@elsewhere.net')"
    assert con.execute(people).fetchall() == [(2,)]


def test_an_address_that_makes_two_identities_one_rebuilds_whole(con: duckdb.DuckDBPyConnection) -> None:
    people = "select count(*) from marts.dim_person"
    before = con.execute(people).fetchall()[0][0]
    # ana writes alone to an address made of her own name: her own other address (int_ego_addresses_inferred)
    _load(con, "raw.mail_messages", [_mail("m5", "ana@acme.com", "ana@acme.com", ["ana.example@home.net"], days=4)])
    done = _equals_full_rebuild(con)
    assert done["marts.fct_messages"] == "rebuilt"  # an address held before now resolves to another person
    assert done["staging.stg_observation_months"] == "keyed"  # what was observed does not depend on identities
    assert con.execute(people).fetchall()[0][0] == before - 1


def test_after_an_erasure_and_new_mail_the_marts_equal_a_full_rebuild(con: duckdb.DuckDBPyConnection) -> None:
    home = database_home(con)
    assert home is not None
    erase_from_warehouse(con, find_person(con, "cy@acme.com"), identity_key(home))
    assert set(_equals_full_rebuild(con).values()) == {"rebuilt"}  # the erasure dropped every derived table
    _load(con, "raw.mail_messages", [_mail("m6", "ana@acme.com", "bo@acme.com", ["ana@acme.com"], days=5)])
    done = _equals_full_rebuild(con)
    assert done["marts.fct_messages"] == done["staging.stg_observation_months"] == "keyed"


@pytest.mark.parametrize("con", ["warehouse.duckdb", "warehouse.ducklake"], indirect=True)
def test_a_late_message_splits_a_silence_across_months_as_a_full_rebuild_would(con: duckdb.DuckDBPyConnection) -> None:
    """Silences are kept per month and put together across months: a message 80 days on opens a silence that spans
    two months, and a late one in between, imported later, cuts it in two, redoing only the months it falls in."""
    log = {"row_key": "l1", "owner": "ana@acme.com", "person_address": "bo@acme.com", "channel": "call"}
    _load(con, "raw.mail_messages", [_mail("m8", "ana@acme.com", "bo@acme.com", ["ana@acme.com"], days=80)])
    _load(con, "raw.manual_interactions", [{**log, "occurred_at": _mail("", "", "a@b.c", [])["sent_at"]}])
    assert _equals_full_rebuild(con)["staging.stg_observation_months"] == "keyed"
    inbox = "select gaps from intermediate.int_observation_windows where kind = 'mail' and owner = 'ana@acme.com'"
    assert [len(g) for (g,) in con.execute(inbox).fetchall()] == [1]
    _load(con, "raw.mail_messages", [_mail("m9", "ana@acme.com", "cy@acme.com", ["ana@acme.com"], days=40)])
    months = "select count(distinct month) from staging.stg_observation_months"
    before = con.execute(months).fetchall()
    assert _equals_full_rebuild(con)["staging.stg_observation_months"] == "keyed"
    assert con.execute(months).fetchall()[0][0] == before[0][0] + 1
    gaps = con.execute(inbox).fetchall()[0][0]
    assert [(g["gap_end"] - g["gap_start"]).days for g in gaps] == [39, 40]  # from the messages of day 1


def test_an_old_raw_row_changed_in_place_rebuilds_the_months_whole(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("update raw.mail_messages set folder = 'Archive' where message_key = 'm1'").fetchall()
    _load(con, "raw.mail_messages", [_mail("m10", "ana@acme.com", "bo@acme.com", ["ana@acme.com"], days=7)])
    assert _equals_full_rebuild(con)["staging.stg_observation_months"] == "rebuilt"


def test_a_keyed_mart_whose_upstream_mart_was_rebuilt_whole_is_rebuilt_whole(con: duckdb.DuckDBPyConnection) -> None:
    _load(con, "raw.mail_messages", [_mail("m7", "ana@acme.com", "bo@acme.com", ["ana@acme.com"], days=6)])
    inputs = InputFingerprints(con)
    done = {}
    for model in all_models():
        if model.table == "marts.fct_message_recipients":
            model = dataclasses.replace(model, keyed=None)  # as if it could only be rebuilt whole
        done[model.table] = build_model(con, model, inputs)
    assert done["marts.fct_message_recipients"] == done["marts.fct_messages"] == "rebuilt"
    assert build_state.stored(con, "marts.fct_messages") is not None


def test_a_keyed_model_built_whole_a_batch_of_keys_at_a_time_equals_one_statement(
    con: duckdb.DuckDBPyConnection,
) -> None:
    """What an organisation-year's first build does (``keyed_models.build_whole``), here one key per batch: copies in
    other mailboxes (groups), messages a day apart (near) and months apart (month keys) give the same rows."""
    _load(
        con,
        "raw.mail_messages",
        [
            _mail("m1", "bo@acme.com", "ana@acme.com", ["bo@acme.com", "cy@acme.com"]),  # m1 seen in bo's mailbox
            _mail("m4", "ana@acme.com", "cy@acme.com", ["ana@acme.com"], days=40),
            _mail("m5", "cy@acme.com", "cy@acme.com", ["ana@acme.com"], days=40),
            _mail("m0", "ana@acme.com", "ana@acme.com", ["cy@acme.com"], days=-95),
        ],
    )

    def copy(key: str, owner: str, hours: int) -> dict[str, object]:  # one message under three Message-IDs
        row = _mail(key, owner, "ana@acme.com", ["bo@acme.com", "cy@acme.com"], days=10)
        return {**row, "sent_at": row["sent_at"] + dt.timedelta(hours=hours), "subject_digest": "weekly-note"}

    _load(con, "raw.mail_messages", [copy("x-a", "ana@acme.com", 0), copy("x-b", "bo@acme.com", 11)])
    _load(con, "raw.mail_messages", [copy("x-c", "cy@acme.com", 22)])
    _load(con, "raw.calendar_events", [_meeting("e2", ["bo@acme.com"], days=70)])
    _build_all(con)
    folded = "select message_key, folded_into from intermediate.int_message_copies_matched order by message_key"
    assert con.execute(folded).fetchall() == [("x-b", "x-a"), ("x-c", "x-a")]  # a group across batches
    keyed = [model for model in all_models() if model.keyed is not None]
    assert KEYED | {"staging.stg_observation_months", "intermediate.int_ego_sent_offsets"} <= {m.table for m in keyed}
    keys = {}
    for model in keyed:
        assert model.keyed is not None
        keyed_models.build_whole(con, "main.batched", model.sql, model.keyed, batch_rows=1)
        assert _differences(con, model.table, "main.batched") == (0, 0), model.table
        keys[model.table] = con.execute(f"select count(distinct {model.keyed.key}) from {model.table}").fetchall()[0][0]
    assert all(keys[table] >= 2 for table in KEYED | {"staging.stg_observation_months"}), keys  # several batches


def test_the_keys_near_the_affected_ones_are_those_every_pair_compared_finds() -> None:
    """``near``: the keys redone (within a day after an affected key) and read (within a day before one), found
    through merged intervals, equal those found by comparing every key with every affected key (the reference), on
    keys whose sightings overlap in chains (several intervals make one) and span hours."""
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    rng = random.Random(16)
    start = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    sightings = [
        (f"k{k}", start + dt.timedelta(hours=rng.uniform(0, 24 * 30) + shift))
        for k in range(300)
        for shift in (0, rng.uniform(0, 30))[: rng.randint(1, 2)]
    ]
    con.execute("create table items (k varchar, seen_at timestamptz)")
    con.executemany("insert into items values (?, ?)", sightings)
    times: dict[str, tuple[dt.datetime, dt.datetime]] = {}
    for key, at in sightings:
        lo, hi = times.get(key, (at, at))
        times[key] = (min(lo, at), max(hi, at))
    day = dt.timedelta(hours=24)
    spec = keyed_models.KeyedSpec(
        key="k", inputs={"main.items": "k"}, near=keyed_models.Near("main.items", "seen_at", 24)
    )
    for size in (1, 5, 40, 120):
        touched = rng.sample(sorted(times), size)
        con.execute(
            f"create or replace temp table {keyed_models._NEW} as select unnest(?::varchar[]) as key", [touched]
        )
        keyed_models._near_times(con, spec)
        read = keyed_models._affected(con, spec)
        redone = {
            k for k, lo_hi in times.items() if any(_overlap(lo_hi, (times[x][0], times[x][1] + day)) for x in touched)
        }
        redone |= set(touched)
        needed = redone | {
            k for k, lo_hi in times.items() if any(_overlap(lo_hi, (times[a][0] - day, times[a][1])) for a in redone)
        }
        assert {k for (k,) in con.execute(f"select key from {keyed_models.AFFECTED}").fetchall()} == redone, size
        assert {k for (k,) in con.execute(f"select key from {read}").fetchall()} == needed, size
        assert len(needed) > len(redone) > size or size == 120  # the widening did something


def _overlap(a: tuple[dt.datetime, dt.datetime], b: tuple[dt.datetime, dt.datetime]) -> bool:
    return a[1] >= b[0] and a[0] <= b[1]
