"""Identity facts kept at import, with and without a pseudonym key: Exchange X.500 paths of X-From / X-To / X-cc
tie the forms of one person together (the folders of one export agree on one owner), and addresses that are not
people are classified while they are in clear (docs/data-model.md, "One person, one identity" and "Added in
version 018"; docs/metrics.md, "Addresses that are not people")."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tiepulse.connectors.addresses import AddressNormaliser
from tiepulse.core.settings import IdentityOptions, Settings
from tiepulse.core.warehouse import connect
from tiepulse.pipelines.config_tables import land_config
from tiepulse.pipelines.file_import import import_paths
from tiepulse.pipelines.models import all_models, build_model

KEY = "test-only-pseudonym-key"
ANA = "ana.ruiz@corp.example"


def _message(n: int, sender: str, to: str, **headers: str) -> str:
    extra = "".join(f"{name}: {value}\n" for name, value in headers.items())
    return (
        f"From {sender} Mon Mar  4 09:00:00 2024\n"
        f"Message-ID: <{n}@corp.example>\n"
        f"Date: Mon, {4 + n % 20} Mar 2024 09:{n % 60:02d}:00 +0000\n"
        f"From: {sender}\nTo: {to}\nSubject: s{n}\n{extra}\nnever read\n\n"
    )


SENT = "".join(
    [
        _message(1, ANA, "team.platform@corp.example, bo@corp.example"),
        _message(2, ANA, "support@vendor.example"),
        _message(3, ANA, "bo@corp.example", **{"X-From": "Ruiz, Ana </O=CORP/OU=NA/CN=RECIPIENTS/CN=ARUIZ>"}),
        _message(4, ANA, "bo@corp.example, cy@corp.example"),
        _message(5, ANA, "dev@lists.corp.example"),
    ]
)
"""Ana's Sent folder: a group address, a role address, her X.500 path, people, a list."""

INBOX = "".join(
    [
        _message(
            10,
            "bo@corp.example",
            "ana.outlook@corp.example",
            **{"X-To": "Ruiz, Ana </O=CORP/OU=NA/CN=RECIPIENTS/CN=Aruiz>"},
        ),
        _message(
            11,
            "cy@corp.example",
            "ana.outlook@corp.example, bo@corp.example",
            **{
                "X-To": "Ruiz, Ana </o=CORP/ou=NA/cn=Recipients/cn=ARUIZ>, Bo, Ben </O=CORP/OU=NA/CN=RECIPIENTS/CN=BBO>"
            },
        ),
        # an entry the exporter glued to a path-less one ("Outlook Team, Lee, Cy"): no pairing, no merge
        _message(
            12,
            "dee@corp.example",
            "cy.outlook@corp.example",
            **{"X-To": "Outlook Team, Lee, Cy </O=CORP/OU=NA/CN=RECIPIENTS/CN=CLEE>"},
        ),
        _message(13, "noreply@shop.example", "ana.outlook@corp.example"),
        _message(15, "eve@corp.example", "ana.outlook@corp.example"),
        _message(14, "bo@corp.example", "dev@lists.corp.example", **{"List-Id": "Dev list <dev.lists.corp.example>"}),
    ]
)
"""Her Outlook inbox, exported under another form of her address (whose owner is told from its mail)."""


def _warehouse(tmp_path: Path, key: str | None, config: str = "") -> duckdb.DuckDBPyConnection:
    (tmp_path / "export").mkdir(exist_ok=True)
    (tmp_path / "export" / "sent.mbox").write_text(SENT)
    (tmp_path / "export" / "inbox.mbox").write_text(INBOX)
    (tmp_path / "config.yaml").write_text(config)
    settings = Settings(
        home=tmp_path / ("home-key" if key else "home"),
        as_of=dt.date(2024, 4, 1),
        pseudonym_key=key,
        config_file=tmp_path / "config.yaml",
    )
    con = connect(settings.warehouse_path)
    import_paths(con, [tmp_path / "export"], settings)
    land_config(con, settings.config, AddressNormaliser(hmac_key=settings.hmac_key))
    for model in all_models():
        build_model(con, model)
    return con


def _normalise(key: str | None) -> Any:
    """Addresses as the import stores them (pseudonyms keep the automated-sender mark, ``p~auto~``)."""
    patterns = tuple(IdentityOptions().automated_patterns)
    return AddressNormaliser(hmac_key=key.encode() if key else None, automated_patterns=patterns).normalise


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[Any, ...]]:
    return con.execute(sql).fetchall()


def test_x500_paths_are_kept_beside_the_addresses_they_stand_for(tmp_path: Path) -> None:
    con = _warehouse(tmp_path, None)
    ana_path = "x500:/o=corp/ou=na/cn=recipients/cn=aruiz"
    assert _rows(con, "select x500_sender from raw.mail_messages where x500_sender is not null") == [(ana_path,)]
    assert _rows(
        con,
        "select r.kind, r.x500, r.address from (select unnest(x500_recipients) as r from raw.mail_messages) "
        "order by all",
    ) == [
        ("to", ana_path, "ana.outlook@corp.example"),
        ("to", ana_path, "ana.outlook@corp.example"),
        ("to", "x500:/o=corp/ou=na/cn=recipients/cn=bbo", "bo@corp.example"),
        ("to", "x500:/o=corp/ou=na/cn=recipients/cn=clee", None),
    ]
    con.close()


@pytest.mark.parametrize("key", [None, KEY])
def test_folders_owned_by_two_forms_sharing_a_path_are_one_ego(tmp_path: Path, key: str | None) -> None:
    con = _warehouse(tmp_path, key)
    normalise = _normalise(key)
    smtp = "address not like 'x500:%' and address not like '%@x500.invalid'"
    assert _rows(
        con, f"select address, person_address, evidence from intermediate.int_x500_addresses_linked where {smtp}"
    ) == [(normalise("ana.outlook@corp.example"), normalise(ANA), ["x_to"])]
    assert _rows(con, "select ego_id from marts.dim_ego") == [(normalise(ANA),)]
    # mail to her Outlook form is mail to her; cy.outlook (no certain pairing) stays a contact of its own
    assert _rows(con, f"select count(*) from marts.fct_message_recipients where person_id = '{normalise(ANA)}'") == [
        (4,)
    ]
    assert _rows(
        con, f"select count(*) from marts.dim_person where person_id = '{normalise('cy.outlook@corp.example')}'"
    ) == [(1,)]
    con.close()


def test_the_config_undoes_an_x500_merge(tmp_path: Path) -> None:
    con = _warehouse(tmp_path, None, "identity:\n  keep_separate: [ana.outlook@corp.example]\n")
    assert sorted(_rows(con, "select ego_id from marts.dim_ego")) == [("ana.outlook@corp.example",), (ANA,)]
    con.close()


@pytest.mark.parametrize("key", [None, KEY])
def test_non_person_addresses_are_the_same_with_and_without_a_key(tmp_path: Path, key: str | None) -> None:
    con = _warehouse(tmp_path, key)
    normalise = _normalise(key)
    expected = {
        "team.platform@corp.example": "group_name",
        "support@vendor.example": "group_name",
        "dev@lists.corp.example": "list_id",
        "noreply@shop.example": "automated",
    }
    found = dict(_rows(con, "select person_id, non_person_reason from marts.dim_person where not is_person"))
    assert found == {normalise(address): reason for address, reason in expected.items()}
    people = {r[0] for r in _rows(con, "select person_id from marts.dim_person where is_person")}
    assert {normalise(a) for a in ("bo@corp.example", "cy@corp.example", ANA)} <= people
    con.close()
