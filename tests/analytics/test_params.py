"""AnalyticsParams: defaults, the thresholds mapping and its error messages."""

from __future__ import annotations

import pytest

from tiepulse.core.params import DEFAULT_CHANNEL_WEIGHTS, AnalyticsParams, AnalyticsParamsError


def test_defaults_match_the_documented_values() -> None:
    p = AnalyticsParams.from_thresholds(None)
    assert p.max_group_size == 18  # Viva's meaningful-interaction limit
    assert p.half_life_days == 90
    assert p.network_window_days == 28  # Viva's four weeks
    assert p.channel_weights == DEFAULT_CHANNEL_WEIGHTS
    assert sum(p.health_weights.values()) == pytest.approx(1.0)


def test_thresholds_override_and_merge_channel_weights() -> None:
    p = AnalyticsParams.from_thresholds({"half_life_days": 60, "channel_weights": {"email": 0.5}})
    assert p.half_life_days == 60
    assert p.channel_weights["email"] == 0.5
    assert p.channel_weights["meeting"] == DEFAULT_CHANNEL_WEIGHTS["meeting"]  # the rest keep their default


def test_unknown_key_is_rejected_with_a_suggestion_and_the_valid_keys() -> None:
    with pytest.raises(AnalyticsParamsError) as err:
        AnalyticsParams.from_thresholds({"half_life_dayz": 30, "colour": "red"})
    message = str(err.value)
    assert "thresholds.half_life_dayz: unknown key (did you mean 'half_life_days'?)" in message
    assert "thresholds.colour: unknown key" in message
    assert "valid keys:" in message and "max_group_size" in message


def test_bad_values_name_the_key_the_rule_and_the_input() -> None:
    with pytest.raises(AnalyticsParamsError) as err:
        AnalyticsParams.from_thresholds({"max_group_size": 0, "channel_weights": {"fax": 1.0}})
    message = str(err.value)
    assert "thresholds.max_group_size: Input should be greater than or equal to 1 (got 0)" in message
    assert "thresholds.channel_weights: unknown channel(s) ['fax']" in message


def test_cross_field_rule_is_explained() -> None:
    with pytest.raises(AnalyticsParamsError, match="severity_medium must not exceed severity_high"):
        AnalyticsParams.from_thresholds({"severity_medium": 80, "severity_high": 50})


def test_health_weights_and_bucket_plan_are_normalised() -> None:
    p = AnalyticsParams.from_thresholds(
        {"health_weights": {"engagement": 1.0}, "bucket_plan": {"clients": 3, "friends": 1}}
    )
    # engagement 1.0 + the other seven defaults (0.8 in all) = 1.8
    assert p.health_weights["engagement"] == pytest.approx(1.0 / 1.8)
    assert p.bucket_plan == {"clients": 0.75, "friends": 0.25}
    with pytest.raises(AnalyticsParamsError, match="unknown sub-score"):
        AnalyticsParams.from_thresholds({"health_weights": {"luck": 1.0}})
