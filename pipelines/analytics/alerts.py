"""Alerts: conditions worth action, ranked, explained in plain words, with a life-cycle that survives reruns.

Kinds: ``neglected_tie``, ``one_sided_tie`` (per ego and alter), ``overload``, ``narrowing`` (per ego and
episode). ``alert_id`` is a hash of (kind, ego, alter or '', period or ''), so the same condition always has the
same id. A network alert's period is the day its episode started: while the condition keeps holding, later runs
reuse the id (and its snooze or dismissal); once it clears the episode is resolved, and a later return is a new
episode with a new id.

Life-cycle (``ops.alert_state``), applied at each ``as_of``:

========================  ==========================  =========================================
previous status           condition holds             condition gone
========================  ==========================  =========================================
(none)                    open                        (no row)
open                      open                        resolved
snoozed, until > as_of    snoozed                     resolved
snoozed, until <= as_of   open (re-raised)            resolved
dismissed                 dismissed (never re-raised) dismissed (tie alerts); resolved (network)
resolved                  open (reopened)             resolved
========================  ==========================  =========================================

``snooze`` and ``dismiss`` are pure functions on the state frame.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import polars as pl

from tiepulse.core.params import AnalyticsParams
from tiepulse.pipelines.analytics.common import UTC_TS, Frame, as_of_date, as_of_instant, lazy
from tiepulse.pipelines.analytics.coverage import everything_observed
from tiepulse.pipelines.analytics.health import NARROWING_BASELINE_WINDOWS

TIE_KINDS = ("neglected_tie", "one_sided_tie")
NETWORK_KINDS = ("overload", "narrowing")
ALERT_KINDS = (*TIE_KINDS, *NETWORK_KINDS)
STATUSES = ("open", "snoozed", "dismissed", "resolved")

STATE_SCHEMA: dict[str, pl.DataType] = {
    "alert_id": pl.String(),
    "kind": pl.String(),
    "ego_id": pl.String(),
    "alter_id": pl.String(),
    "period": pl.String(),
    "status": pl.String(),
    "snoozed_until": pl.Date(),
    "first_seen": pl.Date(),
    "last_seen": pl.Date(),
    "opened_at": pl.Date(),
    "resolved_at": pl.Date(),
    "times_opened": pl.Int32(),
    "updated_at": pl.Date(),
}
"""Columns of ``ops.alert_state`` (one row per alert id ever raised)."""

ALERT_COLUMNS: list[str] = [
    "alert_id",
    "kind",
    "ego_id",
    "alter_id",
    "period",
    "as_of",
    "status",
    "is_new",
    "severity",
    "priority",
    "reason",
    "suggested_action",
    "alter_name",
    "days_since",
    "overdue_ratio",
    "past_strength",
    "novelty",
    "opened_at",
    "snoozed_until",
    "first_seen",
]
"""Columns of ``marts.mart_alerts``: every condition holding at ``as_of`` with its life-cycle status."""


def alert_id(kind: str, ego_id: str, alter_id: str | None = None, period: str | None = None) -> str:
    """Stable id: the first 16 hex digits of SHA-256 over ``kind|ego|alter|period``."""
    key = "|".join((kind, ego_id, alter_id or "", period or ""))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def empty_state() -> pl.DataFrame:
    return pl.DataFrame(schema=STATE_SCHEMA)


def compute_alerts(
    ties: Frame,
    health: Frame,
    persons: Frame,
    as_of: dt.date | dt.datetime,
    params: AnalyticsParams | None = None,
    previous_state: Frame | None = None,
    observation: Frame | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Alerts at ``as_of`` and the updated alert state.

    ``ties`` and ``health`` are :func:`compute_ties` and :func:`compute_network_health` at the same ``as_of``;
    ``previous_state`` is the last returned state (None or empty on the first run). ``observation`` is
    :func:`~pipelines.analytics.coverage.observe_egos` at ``as_of`` (None: everything observed for all time).
    An alert needs what it claims to have been observed: no alert at all for an ego with no recent data; a
    neglected tie only when its due date falls inside the ego's data; a one-sided tie only when the ego's
    inbound mail was observed from the tie's first contact to ``as_of``; overload only after
    ``overload_min_history_days`` of data, narrowing only with its window and its baseline's observed.
    """
    params = params or AnalyticsParams()
    day = as_of_date(as_of)
    prev = _typed_state(previous_state)
    # Polars 2.1 can fail an internal assertion formatting strings of a many-chunk frame (seen on compute_ties'
    # output at 10M interactions); one contiguous chunk avoids it.
    ties = ties.collect() if isinstance(ties, pl.LazyFrame) else ties
    ties = ties.rechunk()
    seen = lazy(observation if observation is not None else everything_observed(lazy(ties).select("ego_id")))
    current = seen.filter(pl.col("data_status") == "current")
    instant = pl.lit(as_of_instant(as_of), dtype=UTC_TS)
    observed_ties = lazy(ties).join(current, on="ego_id", how="inner")
    history = (instant - pl.col("data_start")).dt.total_days()
    egos = lazy(health).drop("data_start", strict=False).join(current.select("ego_id", "data_start"), on="ego_id")
    candidates = pl.concat(
        [
            _neglected(observed_ties.filter(pl.col("due_date") < pl.col("data_end").dt.date()), lazy(persons), params),
            _one_sided(
                observed_ties.filter(pl.col("inbound_observed") & (pl.col("inbound_start") <= pl.col("first_contact"))),
                params,
            ),
            _overload(egos.filter(history >= params.overload_min_history_days), params),
            _narrowing(egos.filter(history >= (NARROWING_BASELINE_WINDOWS + 1) * params.activity_window_days), params),
        ],
        how="vertical",
    ).collect()
    candidates = _with_ids(candidates, prev, day).with_columns(
        severity=pl.when(pl.col("priority") >= params.severity_high)
        .then(pl.lit("high"))
        .when(pl.col("priority") >= params.severity_medium)
        .then(pl.lit("medium"))
        .otherwise(pl.lit("low")),
        priority=pl.col("priority").round(1),
    )
    state = _advance_state(candidates, prev, day)
    alerts = (
        candidates.join(
            state.select("alert_id", "status", "opened_at", "snoozed_until", "first_seen"),
            on="alert_id",
            how="left",
        )
        .with_columns(
            as_of=pl.lit(day, dtype=pl.Date),
            is_new=(pl.col("status") == "open") & (pl.col("opened_at") == day),
        )
        .select(ALERT_COLUMNS)
        .sort(["ego_id", "priority", "alert_id"], descending=[False, True, False])
    )
    return alerts, state


def snooze(state: pl.DataFrame, alert_id: str, until: dt.date) -> pl.DataFrame:
    """The state with ``alert_id`` snoozed until ``until`` (it stays silent while ``until`` is after
    as_of)."""
    _require(state, alert_id)
    hit = pl.col("alert_id") == alert_id
    return state.with_columns(
        status=pl.when(hit).then(pl.lit("snoozed")).otherwise(pl.col("status")),
        snoozed_until=pl.when(hit).then(pl.lit(until, dtype=pl.Date)).otherwise(pl.col("snoozed_until")),
    )


def dismiss(state: pl.DataFrame, alert_id: str) -> pl.DataFrame:
    """The state with ``alert_id`` dismissed: never raised again (delete its state row to undo)."""
    _require(state, alert_id)
    hit = pl.col("alert_id") == alert_id
    return state.with_columns(
        status=pl.when(hit).then(pl.lit("dismissed")).otherwise(pl.col("status")),
        snoozed_until=pl.when(hit).then(pl.lit(None, dtype=pl.Date)).otherwise(pl.col("snoozed_until")),
    )


def _require(state: pl.DataFrame, alert_id: str) -> None:
    if state.filter(pl.col("alert_id") == alert_id).is_empty():
        raise KeyError(f"no alert with id {alert_id!r} in the alert state")


# --- detection ----------------------------------------------------------------------------------------------


def _span_phrase(days: pl.Expr) -> pl.Expr:
    """'45 days', '7 months', '2 years'."""
    months = (days / 30.44).round().cast(pl.Int64)
    years = (days / 365.25).round().cast(pl.Int64)
    return (
        pl.when(days < 60)
        .then(pl.format("{} days", days.round().cast(pl.Int64)))
        .when(days < 548)
        .then(pl.format("{} months", months))
        .when(years == 1)
        .then(pl.lit("a year"))
        .otherwise(pl.format("{} years", years))
    )


def _name() -> pl.Expr:
    return pl.coalesce("alter_name", "alter_id")


def _neglected(ties: pl.LazyFrame, persons: pl.LazyFrame, params: AnalyticsParams) -> pl.LazyFrame:
    """Ties that were strong enough (or planned) and are silent past max(cadence, k x usual gap, floor)."""
    egos = persons.select(ego_id="person_id", ego_team="team", ego_department="department", ego_domain="domain")
    external = ~pl.col("alter_is_internal").fill_null(False) | (pl.col("alter_domain") != pl.col("ego_domain"))
    other_department = pl.col("alter_department") != pl.col("ego_department")
    other_team = pl.col("alter_team") != pl.col("ego_team")
    # Novelty (Levin, Walter & Murnighan): reconnecting with someone from elsewhere brings the most new
    # information.
    novelty = (
        pl.when(external.fill_null(False))
        .then(1.0)
        .when(other_department.fill_null(False))
        .then(0.75)
        .when(other_team.fill_null(False))
        .then(0.5)
        .when(pl.col("alter_team").is_null() | pl.col("ego_team").is_null())
        .then(0.5)
        .otherwise(0.0)
    )
    urgency = 1.0 - pl.col("neglect_after_days") / pl.col("days_since")
    cadence_phrase = (
        pl.when(pl.col("cadence_days").is_not_null())
        .then(pl.format("You planned to be in touch with {} every {} days", _name(), pl.col("cadence_days")))
        .when(pl.col("usual_gap_days").is_not_null())
        .then(
            pl.format(
                "You and {} were in touch every {} days for {}",
                _name(),
                pl.col("usual_gap_days").round().cast(pl.Int64),
                _span_phrase(pl.col("span_days")),
            )
        )
        .otherwise(pl.format("You and {} were in touch", _name()))
    )
    channel = pl.col("last_channel")
    action = (
        pl.when(channel.is_in(["email", "chat", "note"]))
        .then(pl.lit("call"))
        .when(channel.is_in(["meeting", "video"]))
        .then(pl.lit("personal note"))
        .otherwise(pl.lit("note with something useful to them"))
    )
    suggestion = (
        pl.when(action == "call")
        .then(pl.lit("Suggest a call."))
        .when(action == "personal note")
        .then(pl.lit("Send a short personal note."))
        .otherwise(pl.lit("Send a note with something useful to them."))
    )
    return (
        ties.filter(pl.col("is_overdue"))
        .join(egos, on="ego_id", how="left")
        .with_columns(novelty=novelty, past_strength=pl.col("strength_at_last_contact"))
        .select(
            kind=pl.lit("neglected_tie"),
            ego_id="ego_id",
            alter_id="alter_id",
            period=pl.lit(None, dtype=pl.String),
            priority=100.0 * (0.5 * pl.col("past_strength") + 0.3 * urgency + 0.2 * pl.col("novelty")),
            # The suggestion goes in suggested_action only: the views print both lines.
            reason=pl.format(
                "{}; nothing for {} days. Last contact: {}.",
                cadence_phrase,
                pl.col("days_since"),
                channel.str.replace("_", " "),
            ),
            suggested_action=pl.format("{}: {}", _name(), suggestion),
            alter_name=_name(),
            days_since="days_since",
            overdue_ratio="overdue_ratio",
            past_strength="past_strength",
            novelty="novelty",
        )
    )


def _one_sided(ties: pl.LazyFrame, params: AnalyticsParams) -> pl.LazyFrame:
    """The ego reached out N times (within the window) and the alter never answered: no mail, meeting or call
    from them, ever. Someone who answers now and then is not one-sided, however long the current streak."""
    n = pl.col("n_unanswered")
    return ties.filter(
        pl.col("last_inbound_contact").is_null()
        & (n >= params.one_sided_min_attempts)
        & (pl.col("days_since") <= params.one_sided_window_days)
    ).select(
        kind=pl.lit("one_sided_tie"),
        ego_id="ego_id",
        alter_id="alter_id",
        period=pl.lit(None, dtype=pl.String),
        priority=(30.0 + 5.0 * n.clip(upper_bound=8)).cast(pl.Float64),
        reason=pl.format("You reached out to {} {} times; they have never answered.", _name(), n),
        suggested_action=pl.format("{}: pause the outreach, or try another channel or a mutual contact.", _name()),
        alter_name=_name(),
        days_since="days_since",
        overdue_ratio=pl.lit(None, dtype=pl.Float64),
        past_strength="strength_at_last_contact",
        novelty=pl.lit(None, dtype=pl.Float64),
    )


def _network_alert(kind: str) -> dict[str, pl.Expr]:
    """The key columns of a network alert; its period (the episode's first day) is set by :func:`_with_ids`."""
    return {
        "kind": pl.lit(kind),
        "ego_id": pl.col("ego_id"),
        "alter_id": pl.lit(None, dtype=pl.String),
        "period": pl.lit(None, dtype=pl.String),
    }


def _network_tail() -> dict[str, pl.Expr]:
    return {
        "alter_name": pl.lit(None, dtype=pl.String),
        "days_since": pl.lit(None, dtype=pl.Int32),
        "overdue_ratio": pl.lit(None, dtype=pl.Float64),
        "past_strength": pl.lit(None, dtype=pl.Float64),
        "novelty": pl.lit(None, dtype=pl.Float64),
    }


def _overload(health: pl.LazyFrame, params: AnalyticsParams) -> pl.LazyFrame:
    limit = params.overload_new_ties
    new = pl.col("new_ties_30d")
    return health.filter(new > limit).select(
        **_network_alert("overload"),
        priority=40.0 + 20.0 * ((new - limit) / limit).clip(upper_bound=1.0),
        reason=pl.format(
            "You wrote to, met or called {} people for the first time in the last {} days (more than {}). "
            "Deep ties need time, and new ones crowd it out.",
            new,
            pl.lit(params.new_tie_days),
            pl.lit(limit),
        ),
        suggested_action=pl.lit("Hold new introductions for a week and book time with two of your strongest ties."),
        **_network_tail(),
    )


def _narrowing(health: pl.LazyFrame, params: AnalyticsParams) -> pl.LazyFrame:
    now, before = pl.col("own_team_share"), pl.col("own_team_share_prev")
    rise = now - before
    # the contact outside the team, against its share in the ego's most inward window of the baseline
    outside_left = (1 - now) <= (1 - params.narrowing_outside_drop) * (1 - before)
    # ... and it fell across ties, not by one heavy tie's silence (that is a neglected tie)
    broadly = pl.col("outside_left_without_top_tie") <= 1 - params.narrowing_outside_drop
    return health.filter(
        (now >= params.narrowing_share) & (rise >= params.narrowing_min_increase) & outside_left & broadly
    ).select(
        **_network_alert("narrowing"),
        priority=40.0 + 40.0 * (rise / 0.3).clip(upper_bound=1.0),
        reason=pl.format(
            "{}% of your contact in the last {} days was with your own team, up from at most {}% in the {} days "
            "before.",
            (100 * now).round().cast(pl.Int64),
            pl.lit(params.activity_window_days),
            (100 * before).round().cast(pl.Int64),
            pl.lit(NARROWING_BASELINE_WINDOWS * params.activity_window_days),
        ),
        suggested_action=pl.lit(
            "Reach out to someone outside your team this week; a dormant tie in another department is a good start."
        ),
        **_network_tail(),
    )


def _with_ids(candidates: pl.DataFrame, prev: pl.DataFrame, day: dt.date) -> pl.DataFrame:
    """Ids and periods: a network alert continues the episode still unresolved in the state for its ego and
    kind, else starts one on ``day``."""
    episodes = (
        prev.filter(pl.col("kind").is_in(NETWORK_KINDS) & (pl.col("status") != "resolved"))
        .sort("last_seen", "opened_at", "alert_id", nulls_last=False)
        .unique(["kind", "ego_id"], keep="last", maintain_order=True)
        .select("kind", "ego_id", episode_id="alert_id", episode_period="period")
    )
    network = pl.col("kind").is_in(NETWORK_KINDS)
    keyed = candidates.join(episodes, on=["kind", "ego_id"], how="left").with_columns(
        period=pl.when(network).then(pl.coalesce("episode_period", pl.lit(day.isoformat()))).otherwise("period")
    )
    ids = [
        episode or alert_id(kind, ego, alter, period)
        for kind, ego, alter, period, episode in keyed.select(
            "kind", "ego_id", "alter_id", "period", "episode_id"
        ).iter_rows()
    ]
    return keyed.drop("episode_id", "episode_period").with_columns(alert_id=pl.Series(ids, dtype=pl.String))


# --- life-cycle ---------------------------------------------------------------------------------------------


def _typed_state(previous: Frame | None) -> pl.DataFrame:
    prev = lazy(previous).collect() if previous is not None else empty_state()
    return prev.select([pl.col(c).cast(t) for c, t in STATE_SCHEMA.items()])


def _advance_state(candidates: pl.DataFrame, prev: pl.DataFrame, day: dt.date) -> pl.DataFrame:
    current = candidates.select("alert_id", "kind", "ego_id", "alter_id", "period").with_columns(present=pl.lit(True))
    merged = prev.join(current, on="alert_id", how="full", coalesce=True, suffix="_new").with_columns(
        present=pl.col("present").fill_null(False),
        kind=pl.coalesce("kind", "kind_new"),
        ego_id=pl.coalesce("ego_id", "ego_id_new"),
        alter_id=pl.coalesce("alter_id", "alter_id_new"),
        period=pl.coalesce("period", "period_new"),
    )
    status, present = pl.col("status"), pl.col("present")
    today = pl.lit(day, dtype=pl.Date)
    snooze_active = (status == "snoozed") & (pl.col("snoozed_until") > today)
    # A dismissed tie alert stays dismissed for good; a dismissed network alert only for its episode.
    network = pl.col("kind").is_in(NETWORK_KINDS)
    new_status = (
        pl.when((status == "dismissed") & (present | ~network))
        .then(pl.lit("dismissed"))
        .when(~present)
        .then(pl.when(status.is_in(["open", "snoozed", "dismissed"])).then(pl.lit("resolved")).otherwise(status))
        .when(snooze_active)
        .then(pl.lit("snoozed"))
        .otherwise(pl.lit("open"))
    )
    opening = (pl.col("new_status") == "open") & (status.is_null() | (status != "open"))
    return (
        merged.with_columns(new_status=new_status)
        .with_columns(
            opened_at=pl.when(opening).then(today).otherwise(pl.col("opened_at")),
            times_opened=(pl.col("times_opened").fill_null(0) + opening.cast(pl.Int32)).cast(pl.Int32),
            resolved_at=pl.when((pl.col("new_status") == "resolved") & (status != "resolved"))
            .then(today)
            .otherwise(pl.col("resolved_at")),
            snoozed_until=pl.when(pl.col("new_status") == "snoozed").then(pl.col("snoozed_until")),
            first_seen=pl.coalesce("first_seen", pl.when(present).then(today)),
            last_seen=pl.when(present).then(today).otherwise(pl.col("last_seen")),
            updated_at=today,
            status=pl.col("new_status"),
        )
        .select(list(STATE_SCHEMA))
        .sort("alert_id")
    )
