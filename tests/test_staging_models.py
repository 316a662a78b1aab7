"""SQL models on hand-made raw rows: identity resolution, one row per message/event, automation flags."""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb
import pytest

from tiepulse.connectors.addresses import AddressNormaliser
from tiepulse.connectors.base import Page
from tiepulse.connectors.raw_schemas import to_table
from tiepulse.core.settings import Config
from tiepulse.pipelines.config_tables import land_config
from tiepulse.pipelines.expectations import Checks
from tiepulse.pipelines.loader import commit_page
from tiepulse.pipelines.models import ModelError, all_models, build_model, declared_checks, load_model

UTC = dt.UTC
T0 = dt.datetime(2024, 3, 4, 9, 0, tzinfo=UTC)


def _msg(key: str, owner: str, sender: str, *recipients: tuple[str, str], **extra: Any) -> dict[str, Any]:
    return {
        "message_key": key,
        "mailbox_owner": owner,
        "source": "mbox",
        "from_address": sender,
        "sent_at": T0,
        "recipients": [{"kind": k, "address": a, "name": None} for k, a in recipients],
        "bad_address_count": 0,
        **extra,
    }


def _event(key: str, owner: str, organizer: str, *attendees: tuple[str, str], **extra: Any) -> dict[str, Any]:
    return {
        "event_key": key,
        "calendar_owner": owner,
        "source": "ics",
        "start_at": T0,
        "end_at": T0 + dt.timedelta(minutes=30),
        "is_all_day": False,
        "organizer_address": organizer,
        "attendees": [
            {"address": a, "name": None, "response": r, "role": "req_participant", "is_resource": a.startswith("room")}
            for a, r in attendees
        ],
        **extra,
    }


def _load(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict[str, Any]]) -> None:
    commit_page(con, Page(rows={table: to_table(table, rows)}), source="test", account="t", stream=table)


@pytest.fixture
def built(warehouse: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    con = warehouse
    config = Config.model_validate(
        {
            "egos": [{"email": "ana@acme.com", "addresses": ["ana.ruiz@acme.com"]}],
            "aliases": {"bo@acme.com": ["bo.li@oldco.com"]},
        }
    )
    land_config(con, config, AddressNormaliser())
    _load(
        con,
        "raw.directory",
        [
            {
                "email": "cy@acme.com",
                "other_emails": ["x500:/o=acme/ou=na/cn=recipients/cn=cy"],
                "name": "Cy Dir",
                "team": "Sales",
                "department": "Revenue",
                "manager_email": "ana.ruiz@acme.com",
                "is_internal": True,
            },
        ],
    )
    _load(
        con,
        "raw.mail_messages",
        [
            # the same message in the sender's Sent and the recipient's Inbox: one message
            _msg(
                "m1",
                "ana@acme.com",
                "ana.ruiz@acme.com",
                ("to", "bo.li@oldco.com"),
                ("cc", "cy@acme.com"),
                ("bcc", "ana@acme.com"),
                from_name="Ana Ruiz",
            ),
            _msg("m1", "bo@acme.com", "ana.ruiz@acme.com", ("to", "bo.li@oldco.com"), ("cc", "cy@acme.com")),
            _msg(
                "m2",
                "ana@acme.com",
                "bo@acme.com",
                ("to", "x500:/o=acme/ou=na/cn=recipients/cn=cy"),
                ("to", "ana@acme.com"),
            ),
            _msg("m3", "ana@acme.com", "team@lists.example.org", ("to", "ana@acme.com"), list_id="<news.example>"),
            _msg("m4", "ana@acme.com", "noreply@shop.example", ("to", "ana@acme.com")),
        ],
    )
    _load(
        con,
        "raw.calendar_events",
        [
            _event(
                "e1",
                "ana@acme.com",
                "ana@acme.com",
                ("bo@acme.com", "needs_action"),
                ("room1@acme.com", "accepted"),
                sequence=1,
            ),
            _event("e1", "bo@acme.com", "ana@acme.com", ("bo@acme.com", "declined"), sequence=1),
        ],
    )
    for model in all_models():
        build_model(con, model)
    return con


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[Any, ...]]:
    return con.execute(sql).fetchall()


def test_message_seen_in_two_mailboxes_is_one_message(built: duckdb.DuckDBPyConnection) -> None:
    assert _rows(built, "select message_key, mailbox_count from marts.fct_messages order by 1") == [
        ("m1", 2),
        ("m2", 1),
        ("m3", 1),
        ("m4", 1),
    ]


def test_aliases_merge_into_one_person(built: duckdb.DuckDBPyConnection) -> None:
    # ego address (config), explicit alias (config) and X.500 path (directory) all resolve
    assert _rows(built, "select sender_id from marts.fct_messages where message_key = 'm1'") == [("ana@acme.com",)]
    recipients = _rows(
        built, "select person_id, kind from marts.fct_message_recipients where message_key = 'm1' order by 1"
    )
    # ana herself (Bcc on her own message) is not a recipient; bo via alias; cy once
    assert recipients == [("bo@acme.com", "to"), ("cy@acme.com", "cc")]
    assert _rows(built, "select person_id from marts.fct_message_recipients where message_key = 'm2' order by 1") == [
        ("ana@acme.com",),
        ("cy@acme.com",),
    ]


def test_dim_person_flags(built: duckdb.DuckDBPyConnection) -> None:
    people = {
        r[0]: r[1:]
        for r in _rows(
            built,
            "select person_id, is_ego, is_internal, is_automated, automated_reason, team, manager_id, display_name "
            "from marts.dim_person",
        )
    }
    assert people["ana@acme.com"][:3] == (True, True, False)
    assert people["ana@acme.com"][6] == "Ana Ruiz"
    assert people["cy@acme.com"] == (False, True, False, None, "Sales", "ana@acme.com", "Cy Dir")
    assert people["noreply@shop.example"][2:4] == (True, "automated_address")
    assert people["team@lists.example.org"][2:4] == (True, "list_id")
    assert people["bo@acme.com"][1] is True  # same domain as the egos, no directory row
    assert "bo.li@oldco.com" not in people and "x500:/o=acme/ou=na/cn=recipients/cn=cy" not in people


def test_events_one_row_each_with_responses_from_own_calendar(built: duckdb.DuckDBPyConnection) -> None:
    assert _rows(built, "select event_key, n_attendees, calendar_count, duration_minutes from marts.fct_events") == [
        ("e1", 2, 2, 30.0)
    ]
    assert _rows(built, "select person_id, response, is_organizer from marts.fct_event_attendees order by 1") == [
        ("ana@acme.com", "accepted", True),
        ("bo@acme.com", "declined", False),  # bo's own calendar says declined; rooms are not people
    ]


def test_egos_from_config_and_mailboxes(built: duckdb.DuckDBPyConnection) -> None:
    assert _rows(built, "select ego_id from marts.dim_ego order by 1") == [("ana@acme.com",), ("bo@acme.com",)]


def test_upstream_tables_come_from_the_sql(tmp_path) -> None:  # type: ignore[no-untyped-def]
    models = {m.table: m for m in all_models()}
    assert models["marts.fct_messages"].upstream == {
        "staging.stg_mail_sightings",
        "intermediate.int_addresses_resolved",
        "intermediate.int_message_copies_matched",
        "marts.fct_message_recipients",
    }
    order = [m.table for m in all_models()]
    assert order.index("marts.fct_message_recipients") < order.index("marts.fct_messages")
    bad = tmp_path / "staging" / "bad.sql"
    bad.parent.mkdir()
    bad.write_text("select 1")
    with pytest.raises(ModelError, match="description"):
        load_model(bad)
    bad.with_suffix(".yml").write_text("description: x\nchecks:\n  unique: [a]\n  distinct: [a]\n")
    with pytest.raises(ModelError, match="unknown checks"):
        load_model(bad)
    bad.with_suffix(".yml").write_text("description: x\n")
    bad.write_text("select * from mail_messages")
    with pytest.raises(ModelError, match="schema-qualified"):
        load_model(bad)


def test_checks_are_declared_beside_the_models() -> None:
    checks = declared_checks()
    assert checks["marts.fct_messages"] == Checks(
        unique=("message_key",), not_null=("message_key", "sent_at", "sender_id"), plausible_timestamps=("sent_at",)
    )
    # the Polars marts have no SQL file, only their checks
    assert checks["marts.mart_alerts"].between == {"priority": (0.0, 100.0)}
    assert {m.table for m in all_models()} >= set(checks) - {
        "marts.fct_interactions",
        "marts.mart_ties",
        "marts.mart_ties_monthly",
        "marts.mart_network_health",
        "marts.mart_alerts",
        "marts.mart_org_people",
        "marts.mart_org_groups",
        "marts.mart_group_matrix",
        "marts.mart_org_summary",
        "marts.mart_introductions",
        "marts.mart_communities_of_practice",
        "marts.mart_community_vitality",
    }
