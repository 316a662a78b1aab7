"""Alerts: detection, plain-language reasons, stable ids and the life-cycle across runs."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from tests.analytics import builders as b
from tiepulse.core.params import AnalyticsParams
from tiepulse.pipelines.analytics.alerts import ALERT_COLUMNS, STATE_SCHEMA, alert_id, compute_alerts, dismiss, snooze
from tiepulse.pipelines.analytics.health import compute_network_health
from tiepulse.pipelines.analytics.ties import compute_ties

EGO, ANA, ZED = "me@acme.com", "ana@client.com", "zed@acme.com"
START = dt.datetime(2024, 1, 1, 10, tzinfo=dt.UTC)
PERSONS = b.persons(
    [
        {"person_id": EGO, "team": "core", "department": "eng"},
        {"person_id": ANA, "display_name": "Ana Ruiz", "is_internal": False},
        {"person_id": ZED, "team": "core", "department": "eng"},
    ]
)


def history() -> list[dict[str, Any]]:
    """Ana: an email exchange every 12 days for two years (60 mails); Zed: four unanswered mails."""
    rows = [
        {
            "ego_id": EGO,
            "alter_id": ANA,
            "occurred_at": START + dt.timedelta(days=12 * k),
            "channel": "email",
            "actor": "ego" if k % 2 else "alter",
            "is_response": k % 2 == 1,
        }
        for k in range(60)
    ]
    rows += [
        {"ego_id": EGO, "alter_id": ZED, "occurred_at": START + dt.timedelta(days=700 + 5 * k), "channel": "email"}
        for k in range(4)
    ]
    return rows


LAST_ANA = START + dt.timedelta(days=12 * 59)


def run(
    rows: list[dict[str, Any]], day: dt.date, state: pl.DataFrame | None = None, params: AnalyticsParams | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    params = params or AnalyticsParams()
    inter = b.interactions(rows)
    ties = compute_ties(inter, PERSONS, b.contacts([]), day, params)
    health = compute_network_health(ties, inter, PERSONS, b.contacts([]), day, params)
    return compute_alerts(ties, health, PERSONS, day, params, state)


DAY = (LAST_ANA + dt.timedelta(days=64)).date()


def test_neglected_and_one_sided_alerts_explain_themselves() -> None:
    alerts, state = run(history(), DAY)
    assert alerts.columns == ALERT_COLUMNS
    assert state.schema == pl.Schema(STATE_SCHEMA)
    by_kind = {r["kind"]: r for r in alerts.iter_rows(named=True)}
    neglected = by_kind["neglected_tie"]
    assert neglected["reason"] == (
        "You and Ana Ruiz were in touch every 12 days for 2 years; nothing for 64 days. Last contact: email."
    )
    assert neglected["suggested_action"] == "Ana Ruiz: Suggest a call."
    assert neglected["alert_id"] == alert_id("neglected_tie", EGO, ANA)
    assert neglected["novelty"] == 1.0  # external domain
    # priority = 100 * (0.5 * past strength + 0.3 * (1 - 30 / 64) + 0.2 * novelty)
    expected = 100 * (0.5 * neglected["past_strength"] + 0.3 * (1 - 30 / 64) + 0.2 * 1.0)
    assert neglected["priority"] == pytest.approx(round(expected, 1))
    assert neglected["severity"] == "high"  # >= 60
    one_sided = by_kind["one_sided_tie"]
    assert one_sided["reason"] == "You reached out to zed@acme.com 4 times; they have never answered."
    assert one_sided["priority"] == 50.0 and one_sided["severity"] == "medium"  # 30 + 5 x 4
    assert set(alerts["status"]) == {"open"} and alerts["is_new"].all()


def test_rerun_gives_the_same_ids_and_no_duplicates() -> None:
    first, state = run(history(), DAY)
    again, state2 = run(history(), DAY, state)
    # Polars' parallel float sums may differ in the last digit between runs: compare values to 1e-12.
    assert_frame_equal(again.sort("alert_id"), first.sort("alert_id"), rel_tol=1e-12, abs_tol=1e-12)
    assert state2.drop("updated_at").equals(state.drop("updated_at"))
    later, state3 = run(history(), DAY + dt.timedelta(days=7), state2)
    tie_alerts = later.filter(pl.col("kind").is_in(["neglected_tie", "one_sided_tie"]))
    assert sorted(tie_alerts["alert_id"]) == sorted(first["alert_id"])
    assert not tie_alerts["is_new"].any()  # still open, opened a week ago
    assert state3.filter(pl.col("alert_id").is_in(first["alert_id"].implode()))["times_opened"].to_list() == [1, 1]


def test_snooze_is_honoured_until_its_date_then_re_raised() -> None:
    _alerts, state = run(history(), DAY)
    ana_alert = alert_id("neglected_tie", EGO, ANA)
    state = snooze(state, ana_alert, DAY + dt.timedelta(days=10))
    during, state = run(history(), DAY + dt.timedelta(days=5), state)
    assert during.filter(pl.col("alert_id") == ana_alert)["status"].to_list() == ["snoozed"]
    after, state = run(history(), DAY + dt.timedelta(days=10), state)
    row = after.filter(pl.col("alert_id") == ana_alert).row(0, named=True)
    assert (row["status"], row["is_new"]) == ("open", True)


def test_dismissed_alerts_are_never_raised_again() -> None:
    _, state = run(history(), DAY)
    ana_alert = alert_id("neglected_tie", EGO, ANA)
    state = dismiss(state, ana_alert)
    for extra in (1, 30, 300):
        alerts, state = run(history(), DAY + dt.timedelta(days=extra), state)
        assert alerts.filter(pl.col("alert_id") == ana_alert)["status"].to_list() == ["dismissed"]


def test_contact_resuming_resolves_and_a_new_silence_reopens() -> None:
    _, state = run(history(), DAY)
    ana_alert = alert_id("neglected_tie", EGO, ANA)
    back = [
        *history(),
        {
            "ego_id": EGO,
            "alter_id": ANA,
            "occurred_at": LAST_ANA + dt.timedelta(days=65),
            "channel": "call",
            "actor": "both",
        },
    ]
    resolved_day = DAY + dt.timedelta(days=2)
    alerts, state = run(back, resolved_day, state)
    assert ana_alert not in alerts["alert_id"].to_list()
    row = state.filter(pl.col("alert_id") == ana_alert).row(0, named=True)
    assert (row["status"], row["resolved_at"]) == ("resolved", resolved_day)
    silent_again = resolved_day + dt.timedelta(days=120)
    alerts, state = run(back, silent_again, state)
    row = state.filter(pl.col("alert_id") == ana_alert).row(0, named=True)
    assert (row["status"], row["opened_at"], row["times_opened"]) == ("open", silent_again, 2)


def test_snooze_and_dismiss_refuse_unknown_ids() -> None:
    _, state = run(history(), DAY)
    with pytest.raises(KeyError, match="no alert with id 'nope'"):
        snooze(state, "nope", DAY)
    with pytest.raises(KeyError):
        dismiss(state, "nope")


def burst(at: dt.datetime, tag: str, n: int = 25) -> list[dict[str, Any]]:
    """Calls with ``n`` brand-new people of ego's own team on one day."""
    return [
        {"ego_id": EGO, "alter_id": f"{tag}{i}@acme.com", "occurred_at": at, "channel": "call", "actor": "both"}
        for i in range(n)
    ]


def burst_persons(*tags: str) -> pl.DataFrame:
    people: list[dict[str, Any]] = [
        {"person_id": EGO, "team": "core"},
        {"person_id": "out@x.com", "is_internal": False},
        {"person_id": "out2@x.com", "is_internal": False},
    ]
    people += [{"person_id": f"{tag}{i}@acme.com", "team": "core"} for tag in tags for i in range(25)]
    return b.persons(people)


def network_run(
    rows: list[dict[str, Any]], day: dt.date, state: pl.DataFrame | None, persons: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    params = AnalyticsParams()
    inter = b.interactions(rows)
    ties = compute_ties(inter, persons, b.contacts([]), day, params)
    health = compute_network_health(ties, inter, persons, b.contacts([]), day, params)
    return compute_alerts(ties, health, persons, day, params, state)


def test_overload_and_narrowing_explain_themselves() -> None:
    day = dt.date(2026, 3, 31)
    # 25 new people met in 30 days, all in ego's own team; before that, ego spent its time outside the team
    rows = burst(dt.datetime(2026, 3, 30, tzinfo=dt.UTC), "p")
    rows += [
        {
            "ego_id": EGO,
            "alter_id": alter,
            "occurred_at": dt.datetime(2026, 3, 30, tzinfo=dt.UTC) - dt.timedelta(days=120 + k),
            "channel": "meeting",
            "actor": "both",
        }
        for k in range(10)
        for alter in ("out@x.com", "out2@x.com")  # outside contact across ties (one tie alone is a neglect)
    ]
    alerts, _ = network_run(rows, day, None, burst_persons("p"))
    by_kind = {r["kind"]: r for r in alerts.iter_rows(named=True)}
    # a network alert's period is the first day of its episode
    assert by_kind["overload"]["period"] == "2026-03-31"
    assert by_kind["overload"]["alert_id"] == alert_id("overload", EGO, None, "2026-03-31")
    # the rule counts people the ego reached (one-way), so the text does not say "two-way"
    assert by_kind["overload"]["reason"].startswith(
        "You wrote to, met or called 25 people for the first time in the last 30"
    )
    # own-team share: 100% now, 0% in the previous 90 days (and nothing in the 90 before those)
    assert by_kind["narrowing"]["reason"] == (
        "100% of your contact in the last 90 days was with your own team, up from at most 0% in the 180 days before."
    )
    assert by_kind["narrowing"]["alert_id"] == alert_id("narrowing", EGO, None, "2026-03-31")


def test_one_heavy_outside_tie_falling_silent_is_no_narrowing() -> None:
    day = dt.date(2026, 3, 31)
    at = dt.datetime(2026, 3, 30, tzinfo=dt.UTC)

    def contact(alter: str, ago: int, channel: str = "email") -> dict[str, Any]:
        return {
            "ego_id": EGO,
            "alter_id": alter,
            "occurred_at": at - dt.timedelta(days=ago),
            "channel": channel,
            "actor": "both",
        }

    team = [contact(f"p{i}@acme.com", ago) for i in range(3) for ago in range(10, 290, 30)]
    client = [contact("out2@x.com", ago) for ago in range(15, 285, 30)]  # monthly
    heavy = [contact("out@x.com", ago, "meeting") for ago in range(95, 285, 7)]  # weekly, silent for 95 days
    alerts, _ = network_run(team + client + heavy, day, None, burst_persons("p"))
    # the client is still there: the heavy tie's silence is a neglected tie (the old rule saw 0.14 of the outside
    # share left and flagged it)
    assert alerts.filter(pl.col("kind") == "narrowing").is_empty()
    alerts, _ = network_run(
        team + [c for c in client if c["occurred_at"] < at - dt.timedelta(days=90)] + heavy,
        day,
        None,
        burst_persons("p"),
    )
    assert alerts.filter(pl.col("kind") == "narrowing").height == 1  # both outside ties stopped: narrowing


def overload_row(alerts: pl.DataFrame) -> dict[str, Any] | None:
    rows = alerts.filter(pl.col("kind") == "overload").to_dicts()
    assert len(rows) <= 1
    return rows[0] if rows else None


def test_a_network_alert_keeps_its_id_and_snooze_while_the_condition_holds() -> None:
    start = dt.date(2026, 3, 20)
    first_burst = burst(dt.datetime(2026, 3, 19, tzinfo=dt.UTC), "p")
    persons = burst_persons("p", "q")
    alerts, state = network_run(first_burst, start, None, persons)
    first = overload_row(alerts)
    assert first is not None and first["status"] == "open"
    state = snooze(state, first["alert_id"], dt.date(2026, 5, 1))
    # next month, the same 25 people are still new (first contact 18 days ago): the same episode, still snoozed
    alerts, state = network_run(first_burst, dt.date(2026, 4, 6), state, persons)
    same = overload_row(alerts)
    assert same is not None and (same["alert_id"], same["status"]) == (first["alert_id"], "snoozed")
    assert state.filter(pl.col("alert_id") == first["alert_id"])["status"].to_list() == ["snoozed"]
    assert state.height == 1  # no second id for the same episode
    # the burst is 31 days old: the condition cleared, the episode is resolved
    alerts, state = network_run(first_burst, dt.date(2026, 4, 19), state, persons)
    assert overload_row(alerts) is None
    row = state.filter(pl.col("alert_id") == first["alert_id"]).row(0, named=True)
    assert (row["status"], row["resolved_at"]) == ("resolved", dt.date(2026, 4, 19))
    # a new burst later is a new episode: a new id, open, although the old snooze date has not passed
    both = first_burst + burst(dt.datetime(2026, 4, 25, tzinfo=dt.UTC), "q")
    alerts, state = network_run(both, dt.date(2026, 4, 26), state, persons)
    again = overload_row(alerts)
    assert again is not None and again["alert_id"] != first["alert_id"]
    assert (again["status"], again["is_new"], again["period"]) == ("open", True, "2026-04-26")
    assert again["alert_id"] == alert_id("overload", EGO, None, "2026-04-26")


def test_a_dismissed_network_alert_holds_for_its_episode_only() -> None:
    first_burst = burst(dt.datetime(2026, 3, 19, tzinfo=dt.UTC), "p")
    persons = burst_persons("p", "q")
    alerts, state = network_run(first_burst, dt.date(2026, 3, 20), None, persons)
    first = overload_row(alerts)
    assert first is not None
    state = dismiss(state, first["alert_id"])
    alerts, state = network_run(first_burst, dt.date(2026, 4, 6), state, persons)
    same = overload_row(alerts)
    assert same is not None and (same["alert_id"], same["status"]) == (first["alert_id"], "dismissed")
    _, state = network_run(first_burst, dt.date(2026, 4, 19), state, persons)
    assert state.filter(pl.col("alert_id") == first["alert_id"])["status"].to_list() == ["resolved"]
    both = first_burst + burst(dt.datetime(2026, 4, 25, tzinfo=dt.UTC), "q")
    alerts, _ = network_run(both, dt.date(2026, 4, 26), state, persons)
    again = overload_row(alerts)
    assert again is not None and again["alert_id"] != first["alert_id"] and again["status"] == "open"


def test_someone_who_answers_now_and_then_is_not_one_sided() -> None:
    rows = [
        {"ego_id": EGO, "alter_id": ZED, "occurred_at": START + dt.timedelta(days=d), "channel": "email"}
        for d in (100, 110, 120, 130)
    ]
    rows.append(
        {
            "ego_id": EGO,
            "alter_id": ZED,
            "occurred_at": START + dt.timedelta(days=90),
            "channel": "email",
            "actor": "alter",
        }
    )
    alerts, _ = run(rows, (START + dt.timedelta(days=131)).date())
    assert "one_sided_tie" not in alerts["kind"].to_list()


def test_one_sided_alerts_need_the_egos_inbound_mail_to_be_observed() -> None:
    inter = b.interactions(history())
    ties = compute_ties(inter, PERSONS, b.contacts([]), DAY)
    health = compute_network_health(ties, inter, PERSONS, b.contacts([]), DAY)
    since, until = START - dt.timedelta(days=1), dt.datetime.combine(DAY, dt.time(9), dt.UTC)
    seen = b.observation([{"ego_id": EGO, "data_start": since, "data_end": until, "inbound_start": since}])
    sent_only = b.observation([{"ego_id": EGO, "data_start": since, "data_end": until}])
    late_inbox = b.observation(
        [{"ego_id": EGO, "data_start": since, "data_end": until, "inbound_start": until - dt.timedelta(days=40)}]
    )
    kinds = {
        label: compute_alerts(ties, health, PERSONS, DAY, observation=frame)[0]["kind"].to_list()
        for label, frame in (("seen", seen), ("sent_only", sent_only), ("late_inbox", late_inbox))
    }
    assert "one_sided_tie" in kinds["seen"]
    # without an observed inbox, "never answered" cannot be told from "answers not imported"; neglect still counts
    assert kinds["sent_only"] == ["neglected_tie"]
    # an inbox that starts after the first contact with Zed cannot tell whether Zed answered before it
    assert kinds["late_inbox"] == ["neglected_tie"]
