"""Issue 13 figures on the shared Enron sent mail: copies folded, Houston working hours, lists and role
addresses (docs/metrics.md, "Trust on real mailboxes"; skips without ../shared)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import polars as pl
import pytest

from tests.conftest import ENRON, requires_enron
from tiepulse.connectors.addresses import AddressNormaliser
from tiepulse.core.settings import Config, Settings
from tiepulse.core.warehouse import connect
from tiepulse.pipelines.analytics import AnalyticsParams
from tiepulse.pipelines.config_tables import land_config
from tiepulse.pipelines.file_import import import_paths
from tiepulse.pipelines.models import all_models, build_model
from tiepulse.pipelines.network_io import interactions_from_staging

pytestmark = requires_enron


def _build(con: duckdb.DuckDBPyConnection) -> None:
    for model in all_models():
        build_model(con, model)


@pytest.fixture(scope="module")
def enron(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    home = tmp_path_factory.mktemp("enron_trust")
    settings = Settings(home=home, as_of=dt.date(2001, 12, 1), config_file=None)
    con = connect(settings.warehouse_path)
    import_paths(con, [ENRON / "sent_mail"], settings)
    land_config(con, Config(), AddressNormaliser())
    _build(con)
    return con


def _after_hours_share(con: duckdb.DuckDBPyConnection) -> float:
    interactions, _ = interactions_from_staging(con, AnalyticsParams())
    sent = (
        interactions.filter((pl.col("source") == "email") & (pl.col("actor") == "ego"))
        .group_by("ego_id", "source_key")
        .agg(pl.col("is_after_hours").any())
    )
    return float(sent.get_column("is_after_hours").mean())  # type: ignore[arg-type]


def test_copies_under_other_message_ids_are_folded(enron: duckdb.DuckDBPyConnection) -> None:
    by_gap = dict(
        enron.execute(
            "select minutes_apart, count(*) from intermediate.int_message_copies_matched group by 1"
        ).fetchall()
    )
    # same instant, and the Notes / Outlook zone error; copies of mail to the ego's own other addresses are mail to
    # no one else, so they are not folded (they carry no fingerprint): 5 fewer than before those addresses merged
    assert by_gap == {0: 108, 600: 232, 660: 212, 720: 7}
    assert enron.execute("select count(*) from marts.fct_messages").fetchall() == [(22_553 - 559,)]
    one_to_one = enron.execute(
        "select count(*) from intermediate.int_message_copies_matched c "
        "join marts.fct_messages m on m.message_key = c.folded_into where m.n_recipients = 1"
    ).fetchall()
    assert one_to_one == [(445,)]
    fernley = enron.execute(
        "select m.message_key, m.folded_keys, m.mailbox_count from marts.fct_messages m "
        "join marts.fct_message_recipients r using (message_key) "
        "where r.person_id = 'fernley.dyson@enron.com' and m.sent_at = timestamptz '2001-06-04 16:29:00+00'"
    ).fetchall()
    assert fernley == [
        ("13045969.1075845478152.javamail.evans@thyme", ["30495300.1075842081389.javamail.evans@thyme"], 2)
    ]


def test_after_hours_in_houston_time(enron: duckdb.DuckDBPyConnection) -> None:
    # the corpus rewrote every Date header to Pacific time: inference reads Los Angeles, not Houston
    zones = dict(enron.execute("select timezone, count(*) from marts.dim_ego group by 1").fetchall())
    assert zones == {"America/Los_Angeles": 69, "UTC": 7}
    assert round(_after_hours_share(enron), 3) == 0.732  # sent mail to people (not to the ego's own addresses)
    egos = [r[0] for r in enron.execute("select ego_id from marts.dim_ego").fetchall()]
    houston = Config.model_validate({"egos": [{"email": e, "timezone": "America/Chicago"} for e in egos]})
    land_config(enron, houston, AddressNormaliser())
    _build(enron)
    assert enron.execute("select count(*) from marts.dim_ego where timezone_source = 'config'").fetchall() == [(76,)]
    assert round(_after_hours_share(enron), 3) == 0.577  # 0.265 in UTC
    land_config(enron, Config(), AddressNormaliser())
    _build(enron)


def test_lists_and_role_addresses(enron: duckdb.DuckDBPyConnection) -> None:
    reasons = dict(
        enron.execute(
            "select coalesce(non_person_reason, 'person'), count(*) from marts.dim_person group by 1"
        ).fetchall()
    )
    stations = enron.execute(
        "select count(*), bool_and(non_person_reason = 'group_name') from marts.dim_person "
        "where person_id like 'team.%@enron.com'"
    ).fetchall()
    assert stations == [(25, True)]
    # no List-Id in this sample, and sent mail only: silence proves nothing, so no address is broadcast_only
    assert reasons == {"person": 6587, "group_name": 32}  # 26 addresses are the egos' own (below)
    assert enron.execute("select bool_and(is_person) from marts.dim_person where is_ego").fetchall() == [(True,)]


def test_the_egos_own_addresses_are_found_in_their_sent_mail(enron: duckdb.DuckDBPyConnection) -> None:
    # No display names in From / To here: the forms of an ego's own name they write to are the evidence
    merged = dict(enron.execute("select address, ego_id from intermediate.int_ego_addresses_inferred").fetchall())
    assert len(merged) == 26 and len(set(merged.values())) == 16
    assert {a: merged[a] for a in ("pallen70@hotmail.com", "sneal12@mindspring.com", "mhain@enron.com")} == {
        "pallen70@hotmail.com": "phillip.allen@enron.com",  # 28 mails to it alone
        "sneal12@mindspring.com": "scott.neal@enron.com",  # 60
        "mhain@enron.com": "mary.hain@enron.com",  # copied on her own mail
    }
    # relatives with the ego's last name and another first name stay contacts
    assert not {"kristi.giron@cfisd.net", "mark.mcconnell@enron.com", "rob.gay@enron.com"} & set(merged)
    assert enron.execute("select count(*) from marts.dim_ego").fetchall() == [(76,)]
    # the sent mail carries X.500 paths on 16 messages, none shared by two forms of an address
    assert enron.execute(
        "select count(*) from intermediate.int_x500_addresses_linked where address not like 'x500:%'"
    ).fetchall() == [(0,)]


def test_x500_paths_tie_the_forms_of_one_person_on_the_calendar_folders(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, as_of=dt.date(2001, 12, 1), config_file=None)
    con = connect(settings.warehouse_path)
    import_paths(con, [ENRON / "sent_mail", ENRON / "calendar"], settings)
    land_config(con, Config(), AddressNormaliser())
    _build(con)
    linked = dict(
        con.execute(
            "select address, person_address from intermediate.int_x500_addresses_linked where address not like 'x500:%'"
        ).fetchall()
    )
    assert linked == {
        "liz.taylor@enron.com": "m..taylor@enron.com",  # Taylor, Liz M.: whalley-l's Sent folder, whalley-g's calendar
        "j..lavorato@enron.com": "john.lavorato@enron.com",
        "timothy.heizenrader@enron.com": "tim.heizenrader@enron.com",
        "julia.young@enron.com": "julia.sudduth@enron.com",  # one mailbox, a new name
        "melissa.murphy@enron.com": "ann.murphy@enron.com",  # Murphy, Melissa Ann
        "c..hall@enron.com": "hall@enron.com",  # Hall, Steve C. (Legal): the export's own mangled form
        "palmer@enron.com": "s..palmer@enron.com",  # Palmer, Mark S. (ENW): likewise
    }
    # two mailbox owners who are one person: one ego
    owners = con.execute("select count(distinct mailbox_owner) from staging.stg_mail_sightings").fetchall()
    assert owners == [(130,)]
    assert con.execute("select count(*) from marts.dim_ego").fetchall() == [(129,)]
    con.close()
