"""What was observed of each mailbox folder, calendar and log (intermediate.int_observation_windows), and what the
analysis makes of it: no alert about silence that was not observed, no score from what was not measured."""

from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl

from tests.test_staging_models import T0, _event, _load, _msg
from tiepulse.core.params import AnalyticsParams
from tiepulse.pipelines.analytics.coverage import observe_egos
from tiepulse.pipelines.models import all_models, build_model

DAY = dt.timedelta(days=1)
ANA, BO = "ana@acme.com", "bo@acme.com"


def _build(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    for model in all_models():
        build_model(con, model)
    return pl.DataFrame(con.sql("select * from intermediate.int_observation_windows order by kind, owner, folder"))


def test_folders_get_a_role_and_a_direction(warehouse: duckdb.DuckDBPyConnection) -> None:
    sent = "\\ana_jun2001\\Notes Folders\\'sent mail"
    _load(
        warehouse,
        "raw.mail_messages",
        [
            # Ana's Sent folder holds her mail and one her assistant sent for her: still a Sent folder
            _msg("s1", ANA, ANA, ("to", BO), folder=sent),
            _msg("s2", ANA, "pa@acme.com", ("to", "cy@acme.com"), folder=sent, sent_at=T0 + 40 * DAY),
            _msg("i1", BO, ANA, ("to", BO), folder="Inbox"),
            _msg("i2", BO, "cy@acme.com", ("to", BO), folder="Inbox", sent_at=T0 + 5 * DAY),
            _msg("n1", ANA, "cy@acme.com", ("to", ANA), folder="\\ExMerge - Ana\\Calendar"),
        ],
    )
    _load(warehouse, "raw.calendar_events", [_event("e1", BO, ANA, (BO, "accepted"))])
    got = _build(warehouse).select(
        "kind", "owner", "folder", "folder_role", "direction", "n_sent", "n_received", "longest_gap_days", "gaps"
    )
    assert got.rows() == [
        ("calendar", BO, None, "calendar", "both", 0, 1, None, []),
        ("mail", ANA, "calendar", "calendar", "calendar_notices", 0, 1, None, []),
        ("mail", ANA, "sent mail", "sent", "sent_only", 1, 1, 40.0, [{"gap_start": T0, "gap_end": T0 + 40 * DAY}]),
        ("mail", BO, "inbox", "inbox", "received_only", 0, 2, 5.0, []),
    ]


def _windows(rows: list[tuple[str, str, str, dt.datetime, dt.datetime, int]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={
            "kind": pl.String,
            "owner": pl.String,
            "folder_role": pl.String,
            "first_item": pl.Datetime("us", "UTC"),
            "last_item": pl.Datetime("us", "UTC"),
            "n_received": pl.Int64,
        },
        orient="row",
    )


def test_what_was_observed_of_each_ego_at_a_date() -> None:
    t = dt.datetime(2001, 1, 1, tzinfo=dt.UTC)
    windows = _windows(
        [
            ("mail", "ana.old@acme.com", "sent", t, t + 200 * DAY, 3),  # a Sent folder never shows inbound mail
            ("mail", ANA, "inbox", t + 10 * DAY, t + 400 * DAY, 50),
            ("calendar", ANA, "calendar", t, t + 100 * DAY, 5),
            ("mail", BO, "sent", t, t + 150 * DAY, 0),
            ("mail", "cy@acme.com", "mailbox", t + 300 * DAY, t + 400 * DAY, 9),  # starts after the date
        ]
    )
    addresses = pl.DataFrame({"address": ["ana.old@acme.com", ANA], "person_id": [ANA, ANA]})
    got = observe_egos(windows, addresses, (t + 250 * DAY).date(), AnalyticsParams())
    end_of_day = t + 251 * DAY - dt.timedelta(microseconds=1)  # a date means the end of that day
    assert got.rows() == [
        (ANA, t, end_of_day, t + 10 * DAY, end_of_day, t + 100 * DAY, "current", True),
        # Bo's data ends 100 days before the date (more than stale_data_days): no recent data; sent only
        (BO, t, t + 150 * DAY, None, None, None, "no_recent_data", False),
    ]


def _analyse(observation: pl.DataFrame | None, day: dt.date) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Health and alerts of the alerts tests' history (a fading tie with Ana, four unanswered mails to Zed)."""
    from tests.analytics import builders as b
    from tests.analytics.test_alerts import PERSONS, history
    from tiepulse.pipelines.analytics.alerts import compute_alerts
    from tiepulse.pipelines.analytics.health import compute_network_health
    from tiepulse.pipelines.analytics.ties import compute_ties

    inter = b.interactions(history())
    ties = compute_ties(inter, PERSONS, b.contacts([]), day)
    health = compute_network_health(ties, inter, PERSONS, b.contacts([]), day, observation=observation)
    return health, compute_alerts(ties, health, PERSONS, day, observation=observation)[0]


def test_no_alert_and_no_score_where_the_data_ended() -> None:
    from tests.analytics import builders as b
    from tests.analytics.test_alerts import DAY as ALERT_DAY
    from tests.analytics.test_alerts import EGO, START

    everything, alerts = _analyse(None, ALERT_DAY)
    assert set(alerts["kind"]) == {"neglected_tie", "one_sided_tie"}
    # the export ends ten days after the last mail to Zed: the silence with Ana is past its due date inside the
    # data, but the data ends 70 days before the date: no recent data, nothing to alert about, no score
    zed_last = START + dt.timedelta(days=715)
    ended = b.observation(
        [{"ego_id": EGO, "data_start": START, "data_end": zed_last + 10 * DAY, "inbound_start": START}]
    ).with_columns(data_status=pl.lit("no_recent_data"))
    health, alerts = _analyse(ended, ALERT_DAY)
    assert alerts.is_empty()
    row = health.row(0, named=True)
    assert (row["data_status"], row["health_score"], row["measured_parts"]) == ("no_recent_data", None, None)
    assert everything.row(0, named=True)["health_score"] is not None


def test_a_sent_folder_measures_only_what_the_ego_did() -> None:
    from tests.analytics import builders as b
    from tests.analytics.test_alerts import DAY as ALERT_DAY
    from tests.analytics.test_alerts import EGO, START

    until = dt.datetime.combine(ALERT_DAY, dt.time(9), dt.UTC)
    sent_only = b.observation([{"ego_id": EGO, "data_start": START, "data_end": until}])
    health, alerts = _analyse(sent_only, ALERT_DAY)
    row = health.row(0, named=True)
    # engagement, breadth and reciprocity need the other side's mail; real-world contact a calendar or log
    assert row["measured_parts"] == ["diversity", "brokerage", "maintenance", "stability"]
    assert row["score_reciprocity"] is None and row["score_real_world"] is None
    assert row["inbound_observed"] is False
    assert list(alerts["kind"]) == ["neglected_tie"]


def test_overload_waits_for_enough_history() -> None:
    """In the first months of an export every contact looks new: no overload before overload_min_history_days."""
    from tests.analytics import builders as b
    from tests.analytics.test_alerts import EGO, burst, burst_persons
    from tiepulse.pipelines.analytics.alerts import compute_alerts
    from tiepulse.pipelines.analytics.health import compute_network_health
    from tiepulse.pipelines.analytics.ties import compute_ties

    day, at = dt.date(2026, 3, 31), dt.datetime(2026, 3, 30, tzinfo=dt.UTC)
    persons = burst_persons("p")
    inter = b.interactions(burst(at, "p"))
    ties = compute_ties(inter, persons, b.contacts([]), day)

    def kinds(history_days: int) -> list[str]:
        seen = b.observation(
            [{"ego_id": EGO, "data_start": at - history_days * DAY, "data_end": at, "inbound_start": at}]
        )
        health = compute_network_health(ties, inter, persons, b.contacts([]), day, observation=seen)
        return compute_alerts(ties, health, persons, day, observation=seen)[0]["kind"].to_list()

    assert kinds(200) == ["overload"]
    assert kinds(60) == []
