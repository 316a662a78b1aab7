"""With TIEPULSE_PSEUDONYM_KEY set, no clear address or name reaches the warehouse, and identities still join."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from tiepulse.connectors.addresses import AddressNormaliser
from tiepulse.core.settings import Settings
from tiepulse.core.warehouse import connect
from tiepulse.pipelines.file_import import import_paths
from tiepulse.pipelines.models import all_models, build_model

KEY = "test-only-pseudonym-key"

MBOX = """From ann@example.com Mon Mar  4 09:00:00 2024
Message-ID: <1@example.com>
Date: Mon, 4 Mar 2024 09:00:00 +0000
From: Ann Example <ann.example@example.com>
To: Bob Builder <bob@example.com>, /o=Example/ou=Exchange Administrative Group/cn=Recipients/cn=ann
Subject: plan

never read

From noreply@shop.example Tue Mar  5 09:00:00 2024
Message-ID: <2@shop.example>
Date: Tue, 5 Mar 2024 09:00:00 +0000
From: Shop <noreply@shop.example>
To: ann@example.com
Subject: your order

never read
"""

DIRECTORY = (
    "email,aliases,name,team\n"
    "ann@example.com,ann.example@example.com;/o=Example/ou=Exchange Administrative Group/cn=Recipients/cn=ann,"
    "Ann Example,Platform\n"
    "bob@example.com,,Bob Builder,Platform\n"
)


@pytest.fixture
def warehouse_with_key(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    (tmp_path / "sent.mbox").write_text(MBOX)
    (tmp_path / "directory.csv").write_text(DIRECTORY)
    settings = Settings(home=tmp_path / "home", as_of=dt.date(2024, 4, 1), pseudonym_key=KEY)
    con = connect(settings.warehouse_path)
    import_paths(con, [tmp_path / "sent.mbox", tmp_path / "directory.csv"], settings)
    for model in all_models():
        build_model(con, model)
    return con


def test_no_clear_address_or_name_is_stored(warehouse_with_key: duckdb.DuckDBPyConnection) -> None:
    con = warehouse_with_key
    dump = " ".join(
        str(row)
        for table in ("raw.mail_messages", "raw.directory", "marts.dim_person", "marts.fct_message_recipients")
        for row in con.execute(f"select * from {table}").fetchall()
    ).lower()
    for clear in ("ann@", "ann.example@", "bob@", "cn=ann", "bob builder"):
        assert clear not in dump
    assert "p~" in dump and "@example.com" in dump  # the domain stays


def test_tokens_are_consistent_and_aliases_still_merge(warehouse_with_key: duckdb.DuckDBPyConnection) -> None:
    token = AddressNormaliser(hmac_key=KEY.encode()).normalise
    ann, bob = token("ann@example.com"), token("bob@example.com")
    con = warehouse_with_key
    # Ann sent from her alias; the directory (pseudonymised with the same key) merges it into her canonical id
    assert con.execute("select sender_id from marts.fct_messages where not is_automated").fetchall() == [(ann,)]
    # the X.500 path addressed to herself is Ann, so it is not a recipient; Bob is
    recipients = con.execute(
        "select r.person_id from marts.fct_message_recipients r join marts.fct_messages m using (message_key)"
        " where not m.is_automated"
    ).fetchall()
    assert recipients == [(bob,)]
    assert con.execute("select team, display_name from marts.dim_person where person_id = ?", [bob]).fetchall() == [
        ("Platform", None)  # directory attributes join; names are dropped
    ]


def test_automated_senders_are_still_recognised(warehouse_with_key: duckdb.DuckDBPyConnection) -> None:
    rows = warehouse_with_key.execute(
        "select person_id, is_automated, automated_reason from marts.dim_person where person_id like '%@shop.example'"
    ).fetchall()
    assert len(rows) == 1 and rows[0][0].startswith("p~auto~") and "noreply" not in rows[0][0]
    assert rows[0][1:] == (True, "automated_address")
