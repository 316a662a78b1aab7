"""Issue 13 rules on hand-made mailboxes, both ways: copies folded or kept, zones inferred, non-person addresses,
an ego's own other addresses merged or kept apart (docs/metrics.md, docs/data-model.md)."""

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
from tiepulse.pipelines.loader import commit_page
from tiepulse.pipelines.models import all_models, build_model

UTC = dt.UTC
T0 = dt.datetime(2024, 3, 4, 15, 0, tzinfo=UTC)
HOUR = dt.timedelta(hours=1)


def msg(key: str, owner: str, sender: str, *to: str, at: dt.datetime = T0, **extra: Any) -> dict[str, Any]:
    names = extra.pop("names", {})
    return {
        "message_key": key,
        "mailbox_owner": owner,
        "source": "mbox",
        "from_address": sender,
        "from_name": extra.pop("from_name", None),
        "sent_at": at,
        "recipients": [{"kind": "to", "address": a, "name": names.get(a)} for a in to],
        "bad_address_count": 0,
        "subject_digest": extra.pop("digest", "d1"),
        "folder": extra.pop("folder", "Sent"),
        **extra,
    }


def event(key: str, owner: str, zone: str) -> dict[str, Any]:
    return {
        "event_key": key,
        "calendar_owner": owner,
        "source": "ics",
        "start_at": T0,
        "end_at": T0 + HOUR,
        "is_all_day": False,
        "timezone": zone,
        "organizer_address": owner,
        "attendees": [
            {"address": "bo@acme.com", "name": None, "response": "accepted", "role": None, "is_resource": False}
        ],
    }


def build(
    con: duckdb.DuckDBPyConnection,
    rows: list[dict[str, Any]],
    config: dict[str, Any] | None = None,
    events: list[dict[str, Any]] = (),  # type: ignore[assignment]
) -> None:
    land_config(con, Config.model_validate(config or {}), AddressNormaliser())
    page = Page(
        rows={
            "raw.mail_messages": to_table("raw.mail_messages", rows),
            "raw.calendar_events": to_table("raw.calendar_events", list(events)),
        }
    )
    commit_page(con, page, source="test", account="t", stream="mail")
    for model in all_models():
        build_model(con, model)


def rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[Any, ...]]:
    return con.execute(sql).fetchall()


# ------------------------------------------------------------------------------------------------ copies


def test_a_copy_under_another_message_id_hours_apart_in_another_folder_is_one_message(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    build(
        warehouse,
        [
            msg("outlook-1", "ana@acme.com", "ana@acme.com", "bo@acme.com", at=T0, folder="Sent Items"),
            msg("notes-1", "ana@acme.com", "ana@acme.com", "bo@acme.com", at=T0 - 11 * HOUR, folder="sent mail"),
            # the same sender writing the same subject to the same person in the same instant: one message
            msg("dup-a", "cy@acme.com", "cy@acme.com", "bo@acme.com", at=T0, folder="Sent"),
            msg("dup-b", "cy@acme.com", "cy@acme.com", "bo@acme.com", at=T0, folder="Sent"),
        ],
    )
    assert rows(
        warehouse,
        "select message_key, folded_into, minutes_apart from intermediate.int_message_copies_matched order by 1",
    ) == [
        ("dup-b", "dup-a", 0),
        ("outlook-1", "notes-1", 660),
    ]
    assert rows(warehouse, "select message_key, folded_keys, mailbox_count from marts.fct_messages order by 1") == [
        ("dup-a", ["dup-b"], 1),
        ("notes-1", ["outlook-1"], 1),
    ]
    assert rows(warehouse, "select message_key, person_id from marts.fct_message_recipients order by 1") == [
        ("dup-a", "bo@acme.com"),
        ("notes-1", "bo@acme.com"),
    ]


@pytest.mark.parametrize(
    ("why", "second"),
    [
        ("another subject", {"digest": "d2"}),
        ("another recipient", {"to": "cy@acme.com"}),
        ("minutes apart, not a zone apart", {"at": T0 + 10 * HOUR + dt.timedelta(minutes=7), "folder": "other"}),
        ("more than 12 hours apart", {"at": T0 + 13 * HOUR, "folder": "other"}),
        ("sent twice from one folder", {"at": T0 + 2 * HOUR}),
        ("no subject to compare", {"digest": None, "first_digest": None}),
        ("a reply, not the message", {"is_reply": True}),
    ],
)
def test_messages_that_are_not_copies_stay_apart(
    warehouse: duckdb.DuckDBPyConnection, why: str, second: dict[str, Any]
) -> None:
    first_digest = second.pop("first_digest", "d1")
    to = second.pop("to", "bo@acme.com")
    build(
        warehouse,
        [
            msg("m1", "ana@acme.com", "ana@acme.com", "bo@acme.com", digest=first_digest),
            msg("m2", "ana@acme.com", "ana@acme.com", to, **second),
        ],
    )
    assert rows(warehouse, "select count(*) from marts.fct_messages") == [(2,)], why
    assert rows(warehouse, "select count(*) from intermediate.int_message_copies_matched") == [(0,)], why


# ------------------------------------------------------------------------------------------------ time zones


def sent_with_offsets(owner: str, offsets: list[tuple[dt.datetime, int]]) -> list[dict[str, Any]]:
    return [
        msg(f"{owner}-{i}", owner, owner, "bo@acme.com", at=at, utc_offset_minutes=offset, digest=f"s{i}")
        for i, (at, offset) in enumerate(offsets)
    ]


def test_zones_come_from_config_else_own_sent_mail_else_utc(warehouse: duckdb.DuckDBPyConnection) -> None:
    winter, summer = dt.datetime(2024, 1, 10, 15, tzinfo=UTC), dt.datetime(2024, 7, 10, 15, tzinfo=UTC)
    madrid = [(winter + i * HOUR * 24, 60) for i in range(6)] + [(summer + i * HOUR * 24, 120) for i in range(6)]
    chicago = [(winter + i * HOUR * 24, -360) for i in range(6)] + [(summer + i * HOUR * 24, -300) for i in range(6)]
    build(
        warehouse,
        sent_with_offsets("ana@acme.com", madrid)
        + sent_with_offsets("cy@acme.com", chicago)
        # configured: the config wins over what the mail says
        + sent_with_offsets("dee@acme.com", chicago)
        # too little mail to tell
        + sent_with_offsets("eve@acme.com", chicago[:5]),
        {"egos": [{"email": "dee@acme.com", "timezone": "Asia/Tokyo"}]},
    )
    assert rows(warehouse, "select ego_id, timezone, timezone_source from marts.dim_ego order by 1") == [
        ("ana@acme.com", "Europe/Paris", "sent_mail"),
        ("cy@acme.com", "America/Chicago", "sent_mail"),
        ("dee@acme.com", "Asia/Tokyo", "config"),
        ("eve@acme.com", "UTC", "default"),
    ]


def test_the_calendar_zone_breaks_ties_and_stands_in_for_missing_mail(warehouse: duckdb.DuckDBPyConnection) -> None:
    winter, summer = dt.datetime(2024, 1, 10, 15, tzinfo=UTC), dt.datetime(2024, 7, 10, 15, tzinfo=UTC)
    eastern = [(winter + i * HOUR * 24, -300) for i in range(6)] + [(summer + i * HOUR * 24, -240) for i in range(6)]
    build(
        warehouse,
        sent_with_offsets("ana@acme.com", eastern),
        events=[event(f"e{i}", "ana@acme.com", "America/Toronto") for i in range(3)]
        + [event(f"f{i}", "cy@acme.com", "Europe/Berlin") for i in range(3)]
        + [event(f"g{i}", "dee@acme.com", "Not/AZone") for i in range(3)],
    )
    assert rows(
        warehouse, "select ego_id, timezone, source, share from intermediate.int_ego_timezones_inferred order by 1"
    ) == [
        ("ana@acme.com", "America/Toronto", "sent_mail", 1.0),  # the same offsets as New York: the calendar says which
        ("cy@acme.com", "Europe/Berlin", "calendar", 1.0),
    ]


def test_mixed_offsets_infer_no_zone(warehouse: duckdb.DuckDBPyConnection) -> None:
    travelling = [(T0 + i * 24 * HOUR, offset) for i, offset in enumerate([60, -300, 330, 540, -480] * 3)]
    build(warehouse, sent_with_offsets("ana@acme.com", travelling))
    assert rows(warehouse, "select timezone, timezone_source from marts.dim_ego") == [("UTC", "default")]


# ------------------------------------------------------------------------------------------------ non-person addresses


def test_lists_and_role_addresses_are_not_people(warehouse: duckdb.DuckDBPyConnection) -> None:
    inbox = [
        msg(f"l{i}", "ana@acme.com", "bo@acme.com", "dev@lists.acme.com", list_id="dev.lists.acme.com", digest=f"l{i}")
        for i in range(2)
    ] + [msg(f"d{i}", "ana@acme.com", "bo@acme.com", "ana@acme.com", digest=f"d{i}") for i in range(3)]
    sent = [
        msg("t1", "ana@acme.com", "ana@acme.com", "team.houston@acme.com", digest="t1"),
        msg("t2", "ana@acme.com", "ana@acme.com", "teamwork.lead@acme.com", digest="t2"),  # a person's name
        msg("t3", "ana@acme.com", "ana@acme.com", "sales@acme.com", "info.desk@acme.com", digest="t3"),
        msg("t4", "ana@acme.com", "ana@acme.com", "all.staff@acme.com", digest="t4"),
    ]
    build(warehouse, inbox + sent, {"identity": {"people": ["all.staff@acme.com"]}})
    assert rows(warehouse, "select person_id, non_person_reason, is_person from marts.dim_person order by 1") == [
        ("all.staff@acme.com", None, True),  # declared a person in the config: the rules' way back
        ("ana@acme.com", None, True),
        ("bo@acme.com", None, True),
        ("dev@lists.acme.com", "list_id", False),
        ("info.desk@acme.com", None, True),
        ("sales@acme.com", "group_name", False),
        ("team.houston@acme.com", "group_name", False),
        ("teamwork.lead@acme.com", None, True),
    ]


def test_a_silent_address_always_among_many_is_a_list_only_where_inboxes_are_seen(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    crowd = [f"p{i}@acme.com" for i in range(5)]
    broadcast = [
        msg(f"b{i}", "ana@acme.com", "ana@acme.com", "hub@acme.com", *crowd, digest=f"b{i}") for i in range(10)
    ]
    inbox = [msg(f"i{i}", "ana@acme.com", "p0@acme.com", "ana@acme.com", digest=f"i{i}") for i in range(10)]
    build(warehouse, broadcast)
    assert rows(warehouse, "select non_person_reason from marts.dim_person where person_id = 'hub@acme.com'") == [
        (None,)  # a Sent folder only: hub may well answer in mail we cannot see
    ]
    build(warehouse, broadcast + inbox)
    assert rows(warehouse, "select non_person_reason from marts.dim_person where person_id = 'hub@acme.com'") == [
        ("broadcast_only",)
    ]
    assert rows(warehouse, "select non_person_reason from marts.dim_person where person_id = 'p0@acme.com'") == [
        (None,)
    ]


# ------------------------------------------------------------------------------------------------ one identity


def test_a_personal_address_the_ego_writes_to_under_their_own_name_is_the_ego(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    build(
        warehouse,
        [
            msg(
                "s1",
                "ana@acme.com",
                "ana@acme.com",
                "ana.r@gmail.com",
                from_name="Ana Ruiz",
                names={"ana.r@gmail.com": "Ana Ruiz"},
            ),
            # someone else's name on a single recipient: a contact, not the ego
            msg(
                "s2",
                "ana@acme.com",
                "ana@acme.com",
                "bo@gmail.com",
                from_name="Ana Ruiz",
                names={"bo@gmail.com": "Bo Li"},
            ),
            # the ego's name on a recipient among others: not self-addressed
            msg(
                "s3",
                "ana@acme.com",
                "ana@acme.com",
                "cy@acme.com",
                "dee@acme.com",
                from_name="Ana Ruiz",
                names={"cy@acme.com": "Ana Ruiz"},
                digest="x",
            ),
        ],
    )
    assert rows(warehouse, "select address, ego_id, evidence from intermediate.int_ego_addresses_inferred") == [
        ("ana.r@gmail.com", "ana@acme.com", ["self_addressed"])
    ]
    assert rows(
        warehouse, "select person_id from marts.dim_person where list_contains(addresses, 'ana.r@gmail.com')"
    ) == [("ana@acme.com",)]
    assert rows(warehouse, "select count(*) from marts.fct_message_recipients where person_id = 'ana@acme.com'") == [
        (0,)
    ]


def test_mailboxes_owned_by_two_forms_of_one_address_are_one_ego(warehouse: duckdb.DuckDBPyConnection) -> None:
    mail = [
        msg("a1", "phillip.allen@acme.com", "phillip.allen@acme.com", "bo@acme.com"),
        msg("a2", "pallen@acme.com", "bo@acme.com", "pallen@acme.com", digest="a2"),
        # two people: p.smith writes to paul.smith, so they are not one person
        msg("b1", "paul.smith@acme.com", "paul.smith@acme.com", "bo@acme.com", digest="b1"),
        msg("b2", "p.smith@acme.com", "p.smith@acme.com", "paul.smith@acme.com", digest="b2"),
    ]
    build(warehouse, mail)
    assert rows(warehouse, "select address, ego_id, evidence from intermediate.int_ego_addresses_inferred") == [
        ("pallen@acme.com", "phillip.allen@acme.com", ["owner_form"])
    ]
    egos = [r[0] for r in rows(warehouse, "select ego_id from marts.dim_ego order by 1")]
    assert egos == ["p.smith@acme.com", "paul.smith@acme.com", "phillip.allen@acme.com"]
    # the config undoes a merge
    build(warehouse, mail, {"identity": {"keep_separate": ["pallen@acme.com"]}})
    assert rows(warehouse, "select count(*) from intermediate.int_ego_addresses_inferred") == [(0,)]
    assert "pallen@acme.com" in [r[0] for r in rows(warehouse, "select ego_id from marts.dim_ego")]


def test_the_egos_own_forms_of_their_name_in_their_sent_mail_are_the_ego(
    warehouse: duckdb.DuckDBPyConnection,
) -> None:
    # No display names, as in the Enron sent mail: the address's local part is the evidence.
    ego = "ana.ruiz@acme.com"
    build(
        warehouse,
        [
            msg("s1", ego, ego, "aruiz77@gmail.com"),  # an initial form, written to alone: her home address
            msg("s2", ego, ego, "bo@acme.com", "a.ruiz@acme.com", digest="s2"),  # a copy to herself at work
            msg("s3", ego, ego, "bo@acme.com", "ana.m.ruiz@other.org", digest="s3"),  # a full form, among others
            # not her: an initial form elsewhere among others (a relative?), another first name, another person's
            # name on the address, the last name alone
            msg("n1", ego, ego, "bo@acme.com", "aruiz@yahoo.com", digest="n1"),
            msg("n2", ego, ego, "andrea.ruiz@gmail.com", digest="n2"),
            msg("n3", ego, ego, "alruiz@gmail.com", names={"alruiz@gmail.com": "Alberto Ruiz"}, digest="n3"),
            msg("n4", ego, ego, "ruiz@gmail.com", digest="n4"),
            # someone else's mailbox writing to an initial form of Ana's address: no evidence about Ana
            msg("n5", "cy@acme.com", "cy@acme.com", "aruiz@hotmail.com", digest="n5"),
        ],
    )
    assert rows(
        warehouse, "select address, ego_id, evidence from intermediate.int_ego_addresses_inferred order by 1"
    ) == [
        ("a.ruiz@acme.com", ego, ["self_form"]),
        ("ana.m.ruiz@other.org", ego, ["self_form"]),
        ("aruiz77@gmail.com", ego, ["self_form"]),
    ]
    assert rows(
        warehouse, "select count(*) from marts.fct_message_recipients where person_id = 'ana.ruiz@acme.com'"
    ) == [(0,)]
    # the config undoes a merge
    build(warehouse, [], {"identity": {"keep_separate": ["aruiz77@gmail.com"]}})
    assert rows(warehouse, "select address from intermediate.int_ego_addresses_inferred order by 1") == [
        ("a.ruiz@acme.com",),
        ("ana.m.ruiz@other.org",),
    ]
