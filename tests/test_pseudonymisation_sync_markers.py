"""Pseudonymised API syncs store no clear identifier: Gmail, Google Calendar and Graph mail and calendar, synced
through the real client libraries against the fakes by `tiepulse sync` and by the partitioned Dagster assets, with a
marker in every header and field the APIs return (account addresses, message and thread ids, names, subjects,
locations, attendees, calendar and folder names, quarantined events, a failing account). A byte search of the
whole home, the Dagster instance's storage included, finds none of them; threading, removals and quarantine still
work."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest
import yaml
from click.testing import Result
from typer.testing import CliRunner

from tests.fakes.google_server import FakeGoogle, service_account_key
from tests.fakes.microsoft_server import FakeMicrosoft, address, event, message
from tests.privacy_scan import files_holding
from tiepulse.cli.app import app
from tiepulse.core.settings import Settings
from tiepulse.pipelines.assets.syncs import account_partition_key, provider_definitions
from tiepulse.pipelines.dagster_instance import cli_instance
from tiepulse.pipelines.providers import GOOGLE, MICROSOFT
from tiepulse.pipelines.resources import WarehouseResource

GACCT = "zqgacct@corp.example"
MACCT = "zqmacct@contoso.example"
GHOST = "zqmghost@contoso.example"  # a mailbox Graph does not know: its runs fail
CALENDAR = "zqgcalid@group.calendar.google.com"
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


def stamp(when: dt.datetime) -> str:
    return when.strftime("%a, %d %b %Y %H:%M:%S +0000")


def graph_time(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def gmail_mail(fake: FakeGoogle) -> list[str]:
    """A message, a reply to it, one without a usable sender (quarantined); their Gmail ids."""
    box = fake.mailbox(GACCT)
    first = NOW - dt.timedelta(days=3)
    headers = [
        ("From", "Zqgfromname Person <zqgfromaddr@partner.example>"),
        ("To", f"Zqgaccountname <{GACCT}>, Zqgtoname <zqgtoaddr@partner.example>"),
        ("Cc", "Zqgccname <zqgccaddr@partner.example>"),
        ("Bcc", "zqgbccaddr@partner.example"),
        ("Date", stamp(first)),
        ("Subject", "zqgsubject"),
        ("Message-ID", "<zqgmsgid.1@partner.example>"),
        ("In-Reply-To", "<zqginreplyto@partner.example>"),
        ("References", "<zqgrefs@partner.example> <zqginreplyto@partner.example>"),
        ("List-Id", "Zqglistname <zqglistid.partner.example>"),
        ("List-Unsubscribe", "<mailto:zqgunsub@partner.example>"),
    ]
    reply = [
        ("From", f"Zqgaccountname <{GACCT}>"),
        ("To", "Zqgfromname Person <zqgfromaddr@partner.example>"),
        ("Date", stamp(first + dt.timedelta(hours=2))),
        ("Subject", "Re: zqgsubject"),
        ("Message-ID", "<zqgreply.2@corp.example>"),
        ("In-Reply-To", "<zqgmsgid.1@partner.example>"),
        ("References", "<zqgmsgid.1@partner.example>"),
    ]
    bad = [("From", "Zqgbadname <zqgbadaddr>"), ("To", GACCT), ("Date", stamp(first))]  # no usable sender
    bad.append(("Message-ID", "<zqgbadmsgid@partner.example>"))
    labels = ("INBOX", "Label_zqglabel")
    ids = [box.add(headers, when=first, thread_id="zqgthread", labels=labels).id]
    ids.append(box.add(reply, when=first + dt.timedelta(hours=2), thread_id="zqgthread", labels=["SENT"]).id)
    ids.append(box.add(bad, when=first, labels=labels).id)
    return ids


def google_event(ident: str, start: dt.datetime, minutes: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": ident,
        "iCalUID": f"{ident}uid@google.com",
        "status": "confirmed",
        "summary": "zqgsummary",
        "description": "zqgdescription",
        "location": "Zqglocation's house 12 Secret Street",
        "start": {"dateTime": start.isoformat()},
        "end": {"dateTime": (start + dt.timedelta(minutes=minutes)).isoformat()},
        "organizer": {"email": GACCT, "displayName": "Zqgorgname"},
        "attendees": [
            {"email": GACCT, "responseStatus": "accepted", "self": True},
            {"email": "zqgattaddr@partner.example", "displayName": "Zqgattname", "responseStatus": "accepted"},
        ],
        "updated": graph_time(NOW),
        **extra,
    }


def google_calendars(fake: FakeGoogle) -> None:
    start = NOW - dt.timedelta(days=2)
    fake.calendar(GACCT).put(
        google_event(
            "zqgeventid", start, 45, recurringEventId="zqgseries", originalStartTime={"dateTime": start.isoformat()}
        )
    )
    fake.calendar(GACCT).put(google_event("zqgbackwards", start, -30))  # ends before it starts: quarantined
    fake.calendar(GACCT, CALENDAR).put(google_event("zqgsharedevent", start + dt.timedelta(days=1), 30))


def graph_data(fake: FakeMicrosoft) -> None:
    sent = NOW - dt.timedelta(days=4)
    people = {"to": ["zqmtoaddr@fabrikam.example"], "cc": ["zqmccaddr@fabrikam.example"]}
    headers = [
        {"name": "Message-ID", "value": "<zqmmsgid.1@fabrikam.example>"},
        {"name": "In-Reply-To", "value": "<zqminreplyto@fabrikam.example>"},
        {"name": "References", "value": "<zqmrefs@fabrikam.example> <zqminreplyto@fabrikam.example>"},
        {"name": "List-Id", "value": "Zqmlistname <zqmlistid.fabrikam.example>"},
        {"name": "List-Unsubscribe", "value": "<mailto:zqmunsub@fabrikam.example>"},
    ]
    first = message(
        "zqmitemid1",
        "zqmmsgid.1@fabrikam.example",
        "zqmfromaddr@fabrikam.example",
        [MACCT, *people["to"]],
        people["cc"],
        ["zqmbccaddr@fabrikam.example"],
        sent=graph_time(sent),
        subject="zqmsubject",
        conversation="zqmconv",
        headers=headers,
    )
    first["from"] = first["sender"] = address("zqmfromaddr@fabrikam.example", "Zqmfromname")
    reply = message(
        "zqmitemid2",
        "zqmreply.2@contoso.example",
        MACCT,
        ["zqmfromaddr@fabrikam.example"],
        sent=graph_time(sent + dt.timedelta(hours=1)),
        subject="RE: zqmsubject",
        conversation="zqmconv",
        headers=[
            {"name": "Message-ID", "value": "<zqmreply.2@contoso.example>"},
            {"name": "In-Reply-To", "value": "<zqmmsgid.1@fabrikam.example>"},
        ],
    )
    gone = message("zqmitemid3", "zqmgone@fabrikam.example", "zqmgoneaddr@fabrikam.example", [MACCT])
    fake.put_message(MACCT, "inbox", first)
    fake.put_message(MACCT, "inbox", {**gone, "sentDateTime": graph_time(sent), "receivedDateTime": graph_time(sent)})
    fake.put_message(MACCT, "sentitems", reply)
    fake.add_folder(MACCT, "zqmfolderid", "Zqmfoldername")
    fake.put_message(MACCT, "zqmfolderid", {**first, "id": "zqmitemid4"})
    start = NOW - dt.timedelta(days=1)
    meeting = event(
        "zqmeventid",
        "zqmuid",
        MACCT,
        [("zqmattaddr@fabrikam.example", "accepted")],
        start=start.strftime("%Y-%m-%dT%H:%M:%S.0000000"),
        end=(start + dt.timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%S.0000000"),
        subject="zqmsubject",
        kind="occurrence",
        series="zqmseries",
    )
    meeting["location"] = {"displayName": "Zqmlocation's flat 3 Hidden Lane"}
    meeting["attendees"][0]["emailAddress"]["name"] = "Zqmattname"
    meeting["organizer"] = address(MACCT, "Zqmorgname")
    fake.put_event(MACCT, meeting)
    backwards = event(
        "zqmbackwards",
        "zqmbackuid",
        MACCT,
        start=start.strftime("%Y-%m-%dT%H:%M:%S.0000000"),
        end=(start - dt.timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%S.0000000"),
    )
    fake.put_event(MACCT, backwards)  # ends before it starts: quarantined


@pytest.fixture
def fakes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeGoogle, FakeMicrosoft, Path]]:
    home = tmp_path / "home"
    with FakeGoogle() as google, FakeMicrosoft(tmp_path / "tls") as microsoft:
        config = {
            "google": {
                "users": [GACCT],
                "quota": {"gmail_units_per_minute": 1e9},
                "calendar": {"calendars": ["primary", CALENDAR]},
            },
            "microsoft": {"mailboxes": [MACCT, GHOST], "folders": "all", "page_size": 5, "timeout_seconds": 2.0},
        }
        (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
        for key, value in {
            "TIEPULSE_HOME": str(home),
            "TIEPULSE_CONFIG": str(tmp_path / "config.yaml"),
            "TIEPULSE_PSEUDONYM_KEY": "sync-marker-key",
            "TIEPULSE_GOOGLE_API_ENDPOINT": google.url,
            "TIEPULSE_GOOGLE_TOKEN_URI": google.token_uri,
            "TIEPULSE_GOOGLE_ALLOW_HTTP_LOOPBACK": "1",
            "TIEPULSE_GOOGLE_SERVICE_ACCOUNT_FILE": str(service_account_key(tmp_path / "service-account.json")),
            **microsoft.env(),
        }.items():
            monkeypatch.setenv(key, value)
        monkeypatch.delenv("TIEPULSE_AS_OF", raising=False)
        monkeypatch.delenv("DAGSTER_HOME", raising=False)  # the instance lives in the home, searched with it
        yield google, microsoft, home


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def materialise_every_partition(instance: dg.DagsterInstance, home: Path) -> dict[str, list[str]]:
    """As the daemon would: the sensors add the account partitions, then each partition's sync runs."""
    resources = {"warehouse": WarehouseResource(home=str(home))}
    keys: dict[str, list[str]] = {}
    for provider in (GOOGLE, MICROSOFT):
        defs = provider_definitions(provider)
        result = defs.sensor(dg.build_sensor_context(instance=instance))
        assert isinstance(result, dg.SensorResult)
        added = [k for request in result.dynamic_partitions_requests or [] for k in request.partition_keys or []]
        instance.add_dynamic_partitions(provider.partitions, added)
        keys[provider.key] = added
        for key in added:
            dg.materialize(defs.assets, partition_key=key, instance=instance, resources=resources, raise_on_error=False)
    return keys


def test_no_marker_of_a_synced_account_reaches_the_home(fakes: tuple[FakeGoogle, FakeMicrosoft, Path]) -> None:
    google, microsoft, home = fakes
    gmail_ids = gmail_mail(google)
    google_calendars(google)
    graph_data(microsoft)
    markers = sorted({*re.findall(r"zq[a-z]+", Path(__file__).read_text()), *gmail_ids})

    result = invoke("sync")
    assert result.exit_code == 2, result.output  # the ghost mailbox fails, alone
    assert "quality checks passed" in result.output
    assert "zqmghost" not in result.output.lower()  # pseudonymised, the terminal shows accounts by their ids too

    # the next sync reads only what changed: a Gmail deletion and a Graph removal find their hashed rows
    google.mailbox(GACCT).delete(gmail_ids[1])
    microsoft.delete_message(MACCT, "inbox", "zqmitemid3")
    assert invoke("sync", "--no-refresh").exit_code == 2

    settings = Settings()
    keys = materialise_every_partition(cli_instance(settings), home)
    assert keys == {
        "google": [account_partition_key(settings, GACCT)],
        "microsoft": [account_partition_key(settings, MACCT), account_partition_key(settings, GHOST)],
    }
    assert all(key.startswith("p~") for found in keys.values() for key in found)

    assert files_holding(home, *markers) == {}

    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        ghost = account_partition_key(settings, GHOST)
        failed = con.execute(
            "select summary->>'source', summary->'failed' from ops.runs where kind = 'sync' order by started_at"
        ).fetchall()
        ghost_only = f'["outlook:{ghost}","outlook_calendar:{ghost}"]'
        assert failed == [("google", "[]"), ("microsoft", ghost_only)] * 2  # the ghost alone fails, by its id
        accounts = con.execute("select distinct account from ops.sync_state").fetchall()
        assert accounts and all(a.startswith("p~") for (a,) in accounts)
        counts = dict(con.execute("select source, count(*) from raw.gmail_messages group by all").fetchall())
        assert counts == {"gmail": 1}  # the reply was deleted upstream; the bad one is quarantined
        assert con.execute("select count(*) from raw.graph_messages").fetchall() == [(2,)]
        reasons = con.execute("select source, reason from ops.quarantine order by all").fetchall()
        assert reasons == [
            ("gcal", "end_before_start"),
            ("gmail", "no_sender"),
            ("outlook_calendar", "end_before_start"),
        ]
        # threading still joins on the hashed ids: Graph's reply finds its parent
        replies = con.execute(
            "select count(*) from marts.fct_messages r join marts.fct_messages m on r.in_reply_to = m.message_id"
        ).fetchall()
        assert replies == [(1,)]
        assert con.execute("select count(*) from raw.gcal_events").fetchall() == [(2,)]
        assert con.execute("select count(*) from raw.graph_events where location like 'k~%'").fetchall() == [(1,)]
        labels = con.execute("select labels from raw.gmail_messages").fetchall()
        assert labels[0][0][0] == "INBOX" and labels[0][0][1].startswith("k~")  # system labels name no one

    # forget finds what the account stored, under its pseudonym: rows, cursors and quarantined records
    result = invoke("forget", "--account", GACCT, "--yes", "--no-refresh")
    assert result.exit_code == 0, result.output
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        left = con.execute(
            "select (select count(*) from raw.gmail_messages) + (select count(*) from raw.gcal_events), "
            "(select count(*) from ops.quarantine where source in ('gmail', 'gcal')), "
            "(select count(*) from ops.sync_state where source in ('gmail', 'gcal'))"
        ).fetchall()
    assert left == [(0, 0, 0)]
