"""Every tunable number of the analytics core, in one validated object.

The config file's ``thresholds:`` mapping is read through :meth:`AnalyticsParams.from_thresholds`; unknown
keys are refused with the list of valid ones (and the closest match), so a typo never silently falls back to a
default. docs/metrics.md explains each default and why it was chosen.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

if TYPE_CHECKING:
    from tiepulse.core.settings import Settings

CHANNELS: tuple[str, ...] = ("email", "meeting", "call", "video", "chat", "in_person", "note")
"""Every interaction channel, in display order."""

SUB_SCORES: tuple[str, ...] = (
    "engagement",
    "breadth",
    "diversity",
    "brokerage",
    "reciprocity",
    "maintenance",
    "real_world",
    "stability",
)
"""The sub-scores of the health score, each in [0, 1]."""

DEFAULT_CHANNEL_WEIGHTS: dict[str, float] = {
    "email": 1.0,
    "chat": 0.5,
    "note": 0.5,
    "meeting": 2.0,
    "video": 2.5,
    "call": 2.5,
    "in_person": 3.0,
}

DEFAULT_HEALTH_WEIGHTS: dict[str, float] = {
    "engagement": 0.20,
    "breadth": 0.10,
    "diversity": 0.15,
    "brokerage": 0.10,
    "reciprocity": 0.15,
    "maintenance": 0.15,
    "real_world": 0.10,
    "stability": 0.05,
}


class AnalyticsParamsError(ValueError):
    """Invalid ``thresholds:`` in the config; the message names each key and what is expected."""


class AnalyticsParams(BaseModel):
    """Parameters of interactions, ties, health and alerts. Defaults are documented in docs/metrics.md."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # --- interactions -------------------------------------------------------------------------------------
    max_group_size: int = Field(default=18, ge=1)
    """Mail with more recipients, meetings with more invitees are broadcasts, not ties (Viva: 18)."""
    meeting_minutes_cap: float = Field(default=240.0, gt=0)
    """Meeting minutes are capped here (Viva counts meetings up to 4 hours)."""

    # --- tie strength -------------------------------------------------------------------------------------
    half_life_days: float = Field(default=90.0, ge=14, le=3650)
    """An interaction counts half as much after this many days."""
    channel_weights: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_CHANNEL_WEIGHTS))
    """Richness of each channel; missing channels keep their default."""
    intimacy_exponent: float = Field(default=0.5, ge=0, le=2)
    """An interaction shared with g others weighs g ** -exponent (0.5: 1/sqrt(g))."""
    one_way_credit: float = Field(default=0.1, ge=0, le=1)
    """Share of the unanswered (one-way) volume that still counts towards strength."""
    strength_scale: float = Field(default=15.0, gt=0)
    """Saturation: strength = 1 - exp(-effective volume / scale)."""
    duration_floor: float = Field(default=0.6, gt=0, le=1)
    """Multiplier for a brand-new tie; grows linearly to 1 at ``duration_full_days`` of history."""
    duration_full_days: float = Field(default=730.0, gt=0)
    strong_threshold: float = Field(default=0.5, gt=0, lt=1)
    """Strength at or above which a tie is strong."""
    dormant_days: int = Field(default=180, ge=1)
    """A tie with no contact for this many days is dormant."""
    new_tie_days: int = Field(default=30, ge=1)
    """A tie whose first contact is this recent is new."""
    trend_window_days: int = Field(default=90, ge=7)
    """trend_90d compares the last window with the one before."""

    # --- neglect and one-sided alerts ---------------------------------------------------------------------
    neglect_min_strength: float = Field(default=0.4, gt=0, lt=1)
    """A tie must have had at least this strength at its last contact to be worth a neglect alert."""
    neglect_gap_multiplier: float = Field(default=2.0, ge=1)
    """Overdue after this many usual gaps."""
    neglect_gap_quantile: float = Field(default=0.9, ge=0.5, le=1)
    """The tie's long pause: this quantile of the gaps between its contact days (the median understates it)."""
    neglect_floor_days: int = Field(default=30, ge=1)
    """Never overdue before this many days of silence."""
    neglect_min_contact_days: int = Field(default=3, ge=2)
    """A usual gap needs at least this many distinct contact days."""
    one_sided_min_attempts: int = Field(default=3, ge=1)
    """Ego outreach to someone who never answered that makes a one-sided alert."""
    one_sided_window_days: int = Field(default=180, ge=1)
    """Only outreach whose latest attempt lies in this window counts."""

    # --- network health -----------------------------------------------------------------------------------
    network_window_days: int = Field(default=28, ge=1)
    """Network size: alters with reciprocal contact in this window (Viva: 4 weeks)."""
    network_window_long_days: int = Field(default=90, ge=1)
    """The second, steadier network size."""
    activity_window_days: int = Field(default=90, ge=7)
    """Window for diversity, channel mix, concentration, reciprocity balance, brokerage and bucket shares."""
    # --- observation windows ---------------------------------------------------------------------------------
    stale_data_days: int = Field(default=30, ge=1)
    """An ego whose last observed item is older than this has no recent data: not scored, no alerts."""
    overload_min_history_days: int = Field(default=120, ge=0)
    """Days of observation an ego needs before "new contact" means new (overload, stability)."""
    overload_new_ties: int = Field(default=20, ge=1)
    """More new reciprocal ties in 30 days than this is overload."""
    narrowing_share: float = Field(default=0.6, gt=0, le=1)
    """Own-team share of volume that, once passed, can raise a narrowing alert."""
    narrowing_min_increase: float = Field(default=0.1, ge=0, le=1)
    """...when it is at least this much above the highest share of the two windows before..."""
    narrowing_outside_drop: float = Field(default=2 / 3, gt=0, lt=1)
    """...and the share of contact outside the team fell by at least this fraction against that baseline."""
    target_strong_ties: int = Field(default=15, ge=1)
    """Strong ties for a full engagement sub-score (Dunbar's sympathy group, about 15)."""
    target_network_size: int = Field(default=50, ge=1)
    """Reciprocal 90-day contacts for a full breadth sub-score."""
    target_blau: float = Field(default=0.8, gt=0, le=1)
    """Blau index of communities for a full diversity sub-score."""
    target_real_world_share: float = Field(default=0.2, gt=0, le=1)
    """Share of interactions in person or by phone for a full real-world sub-score."""
    bucket_plan: dict[str, float] = Field(default_factory=dict)
    """Planned share of attention per contact bucket; empty: derived from the contacts' cadences."""
    health_weights: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_HEALTH_WEIGHTS))
    """Weights of the sub-scores in the 0-100 health score; normalised to sum to 1."""

    # --- alert ranking ------------------------------------------------------------------------------------
    health_min_measured_weight: float = Field(default=0.5, ge=0, le=1)
    """No health score when the measured sub-scores carry less than this share of the weight (they are shown)."""
    severity_high: float = Field(default=60.0, ge=0, le=100)
    severity_medium: float = Field(default=40.0, ge=0, le=100)

    @field_validator("channel_weights")
    @classmethod
    def _channel_weights(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(CHANNELS))
        if unknown:
            raise ValueError(f"unknown channel(s) {unknown}; channels are {list(CHANNELS)}")
        if any(w < 0 for w in value.values()):
            raise ValueError("channel weights must be >= 0")
        return {**DEFAULT_CHANNEL_WEIGHTS, **value}

    @field_validator("health_weights")
    @classmethod
    def _health_weights(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(SUB_SCORES))
        if unknown:
            raise ValueError(f"unknown sub-score(s) {unknown}; sub-scores are {list(SUB_SCORES)}")
        merged = {**DEFAULT_HEALTH_WEIGHTS, **value}
        if any(w < 0 for w in merged.values()) or sum(merged.values()) <= 0:
            raise ValueError("health weights must be >= 0 with a positive sum")
        total = sum(merged.values())
        return {k: w / total for k, w in merged.items()}

    @field_validator("bucket_plan")
    @classmethod
    def _bucket_plan(cls, value: dict[str, float]) -> dict[str, float]:
        if any(w < 0 for w in value.values()):
            raise ValueError("bucket shares must be >= 0")
        total = sum(value.values())
        if value and total <= 0:
            raise ValueError("bucket shares must have a positive sum")
        return {k: w / total for k, w in value.items()}

    @model_validator(mode="after")
    def _ordered(self) -> AnalyticsParams:
        if self.severity_medium > self.severity_high:
            raise ValueError("severity_medium must not exceed severity_high")
        if self.network_window_days > self.network_window_long_days:
            raise ValueError("network_window_days must not exceed network_window_long_days")
        return self

    @classmethod
    def from_thresholds(cls, thresholds: Mapping[str, Any] | None) -> AnalyticsParams:
        """Build from the config's ``thresholds:`` mapping, explaining every problem in one message."""
        data = dict(thresholds or {})
        valid = sorted(cls.model_fields)
        problems = []
        for key in sorted(set(data) - set(valid)):
            close = difflib.get_close_matches(key, valid, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(f"thresholds.{key}: unknown key{hint}")
        if problems:
            raise AnalyticsParamsError(
                "invalid thresholds in the config: " + "; ".join(problems) + "; valid keys: " + ", ".join(valid)
            )
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            for err in exc.errors():
                field = "".join(f".{p}" for p in err["loc"])
                message = err["msg"].removeprefix("Value error, ")
                got = "" if not err["loc"] else f" (got {err.get('input')!r})"
                problems.append(f"thresholds{field}: {message}{got}")
            raise AnalyticsParamsError("invalid thresholds in the config: " + "; ".join(problems)) from None

    def channel_weight(self, channel: str) -> float:
        return self.channel_weights[channel]


def params_for(settings: Settings) -> AnalyticsParams:
    """The parameters the config file's ``thresholds:`` set (defaults elsewhere)."""
    return AnalyticsParams.from_thresholds(settings.config.thresholds)
