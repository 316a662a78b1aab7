"""Pseudonymised, no clear identifier reaches the home: every header and field of crafted files carries a marker,
and a byte search of the whole home (warehouse, Dagster storage, logs, reports) finds none of them."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

from tests.privacy_scan import files_holding
from tests.test_cli import env, run  # noqa: F401 - the CLI test environment (TIEPULSE_HOME, AS_OF) and runner

MBOX = """From zqfromaddr@example.com Mon Mar  4 09:00:00 2024
Message-ID: <zqmsgid.1@example.com>
Date: Mon, 4 Mar 2024 09:00:00 +0000
From: Zqfromname Person <zqfromaddr@example.com>
To: Zqtoname Person <zqtoaddr@example.com>, zqowner@example.com
Cc: Zqccname Person <zqccaddr@example.com>
Bcc: zqbccaddr@example.com
In-Reply-To: <zqinreplyto@example.com>
References: <zqrefs.1@example.com> <zqinreplyto@example.com>
Subject: Re: zqsubject
X-Folder: \\Zqxfolder\\Sent
X-Gmail-Labels: Zqlabel,Sent
X-GM-THRID: zqthrid
List-Id: Zqlistname <zqlistid.example.com>
List-Unsubscribe: <mailto:zqunsub@example.com>

zqbody

From zqowner@example.com Tue Mar  5 09:00:00 2024
Message-ID: <zqreply.2@example.com>
Date: Tue, 5 Mar 2024 09:00:00 +0000
From: Zqownername Person <zqowner@example.com>
To: Zqfromname Person <zqfromaddr@example.com>
In-Reply-To: <zqmsgid.1@example.com>
References: <zqmsgid.1@example.com>
Subject: Re: zqsubject

zqbody

From zqbadaddr@example.com Wed Mar  6 09:00:00 2024
Message-ID: <zqbadmsgid@example.com>
Date: Mon, 31 Dec 1979 09:00:00 +0000
From: Zqbadname Person <zqbadaddr@example.com>
To: zqowner@example.com
Subject: zqsubject

zqbody
"""

EML = """Message-ID: <zqemlmsgid@example.com>
Date: Thu, 7 Mar 2024 09:00:00 +0000
From: Zqemlname Person <zqemladdr@example.com>
To: zqowner@example.com
Subject: zqsubject

zqbody
"""

ICS = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:test
BEGIN:VEVENT
UID:zquid@example.com
DTSTART:20240305T100000Z
DTEND:20240305T110000Z
SUMMARY:zqsummary
DESCRIPTION:zqdescription
LOCATION:Zqlocation's house 12 Secret Street
ORGANIZER;CN=Zqorgname Person:mailto:zqowner@example.com
ATTENDEE;CN=Zqattname Person:mailto:zqattaddr@example.com
END:VEVENT
END:VCALENDAR
"""

LOG = "date,person,channel,minutes,name\n2024-03-07,zqlogperson@example.com,call,20,Zqlogname Person\n"

FILES = {"zqmboxfile.mbox": MBOX, "zqemlfile.eml": EML, "zqicsfile.ics": ICS, "zqlogfile.csv": LOG}
MARKERS = sorted({*re.findall(r"zq[a-z]+", "".join([*FILES, *FILES.values()]).lower()), "zqdirpath"})


@pytest.fixture
def crafted(env: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:  # noqa: F811 - the imported fixture
    monkeypatch.setenv("TIEPULSE_PSEUDONYM_KEY", "marker-test-key")
    (env.parent / "home" / "dagster").mkdir(parents=True)  # the Dagster instance's storage is searched too
    monkeypatch.setenv("DAGSTER_HOME", str(env.parent / "home" / "dagster"))
    folder = env.parent / "zqdirpath"
    folder.mkdir()
    for name, text in FILES.items():
        (folder / name).write_text(text)
    return folder, env.parent / "home"


def test_no_marker_reaches_the_home(crafted: tuple[Path, Path]) -> None:
    folder, home = crafted
    code, out = run("import", str(folder), "--owner", "zqowner@example.com")
    assert code == 0, out
    assert files_holding(home, *MARKERS) == {}
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        # everything still landed and joins: the reply threads onto the first message, the event has a location
        assert con.execute("select count(*) from raw.mail_messages").fetchall() == [(3,)]
        assert con.execute("select count(*) from ops.quarantine").fetchall() == [(1,)]
        replies = con.execute(
            "select count(*) from marts.fct_messages r join marts.fct_messages m on r.in_reply_to = m.message_id"
        ).fetchall()
        assert replies == [(1,)]
        assert con.execute("select has_location from marts.fct_events").fetchall() == [(True,)]
        assert con.execute("select count(*) from raw.manual_interactions").fetchall() == [(1,)]
    # a second import of the same files adds nothing (the streams are found under their hashed names)
    code, out = run("import", str(folder), "--owner", "zqowner@example.com")
    assert code == 0, out
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("select count(*) from raw.mail_messages").fetchall() == [(3,)]
        assert con.execute("select status from ops.sync_state").fetchall() == [("complete",)] * 4
