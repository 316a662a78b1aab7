"""compute_ties_monthly: each month equals compute_ties at that month's end; months compute independently."""

from __future__ import annotations

import datetime as dt
import random

import polars as pl
import pytest

from tests.analytics import builders as b
from tiepulse.pipelines.analytics.monthly import MONTHLY_COLUMNS, compute_ties_monthly, month_end
from tiepulse.pipelines.analytics.ties import compute_ties


def random_interactions(seed: int, n: int = 300) -> pl.DataFrame:
    rnd = random.Random(seed)
    rows = []
    for _ in range(n):
        channel = rnd.choice(["email", "email", "meeting", "call", "note"])
        actor = {"email": rnd.choice(["ego", "alter"]), "note": "ego"}.get(channel, "both")
        rows.append(
            {
                "ego_id": f"e{rnd.randint(0, 2)}@acme.com",
                "alter_id": f"p{rnd.randint(0, 12)}@x.com",
                "occurred_at": dt.datetime(2024, 1, 1, tzinfo=dt.UTC) + dt.timedelta(days=rnd.uniform(0, 800)),
                "channel": channel,
                "actor": actor,
                "group_size": rnd.randint(1, 5),
            }
        )
    return b.interactions(rows)


MONTHS = [dt.date(2024, m, 1) for m in (1, 2, 6, 12)] + [dt.date(2025, m, 15) for m in (1, 7, 12)]


@pytest.mark.parametrize("seed", [1, 2])
def test_every_month_matches_compute_ties_at_its_end(seed: int) -> None:
    inter = random_interactions(seed)
    monthly = compute_ties_monthly(inter, MONTHS)
    assert monthly.columns == MONTHLY_COLUMNS
    for month in MONTHS:
        ties = compute_ties(inter, b.persons([]), b.contacts([]), month_end(month))
        got = monthly.filter(pl.col("month") == month.replace(day=1))
        both = got.join(ties, on=["ego_id", "alter_id"], how="full", suffix="_t")
        assert got.height == ties.height == both.height
        assert (both["strength"] - both["strength_t"]).abs().max() < 1e-9  # type: ignore[operator]
        for col in ("tie_class", "days_since", "last_contact", "first_contact"):
            assert (both[col] == both[f"{col}_t"]).all(), col
        assert (both["n_interactions_total"] == both["n_interactions_t"]).all()


def test_one_new_month_equals_the_same_month_in_a_backfill() -> None:
    inter = random_interactions(3)
    backfill = compute_ties_monthly(inter, MONTHS)
    alone = compute_ties_monthly(inter, [dt.date(2025, 7, 1)])
    assert alone.equals(backfill.filter(pl.col("month") == dt.date(2025, 7, 1)))


def test_month_counts_are_of_the_month_itself() -> None:
    inter = b.interactions(
        [
            {"ego_id": "e@a.com", "alter_id": "p@x.com", "occurred_at": b.at("2026-01-10"), "channel": "email"},
            {
                "ego_id": "e@a.com",
                "alter_id": "p@x.com",
                "occurred_at": b.at("2026-01-20"),
                "channel": "meeting",
                "actor": "both",
                "group_size": 4,
            },
            {
                "ego_id": "e@a.com",
                "alter_id": "p@x.com",
                "occurred_at": b.at("2026-03-05"),
                "channel": "call",
                "actor": "both",
            },
        ]
    )
    got = compute_ties_monthly(
        inter, [dt.date(2025, 12, 1), dt.date(2026, 1, 1), dt.date(2026, 2, 1), dt.date(2026, 3, 1)]
    )
    # December precedes the first contact: no row. Volume: email 1 + meeting 2/sqrt(4) = 2; call 2.5
    assert got.select(
        "month", "n_interactions", "n_email", "n_meeting", "n_other", "volume", "n_interactions_total"
    ).rows() == [
        (dt.date(2026, 1, 1), 2, 1, 1, 0, 2.0, 2),
        (dt.date(2026, 2, 1), 0, 0, 0, 0, 0.0, 2),
        (dt.date(2026, 3, 1), 1, 0, 0, 1, 2.5, 3),
    ]
    assert compute_ties_monthly(inter, []).is_empty()


def test_the_running_month_is_evaluated_at_the_analysis_date() -> None:
    inter = random_interactions(4)
    as_of = dt.date(2025, 7, 9)  # mid-month: later July interactions exist and must not count
    assert inter.filter(pl.col("occurred_at").dt.date() > as_of).height > 0
    monthly = compute_ties_monthly(inter, [dt.date(2025, 6, 1), dt.date(2025, 7, 1)], as_of=as_of)
    july = monthly.filter(pl.col("month") == dt.date(2025, 7, 1))
    ties = compute_ties(inter, b.persons([]), b.contacts([]), as_of)
    both = july.join(ties, on=["ego_id", "alter_id"], how="full", suffix="_t")
    assert july.height == ties.height == both.height
    assert (both["strength"] - both["strength_t"]).abs().max() < 1e-9  # type: ignore[operator]
    assert (both["days_since"] == both["days_since_t"]).all() and (july["as_of"] == as_of).all()
    june = monthly.filter(pl.col("month") == dt.date(2025, 6, 1))
    assert (june["as_of"] == dt.date(2025, 6, 30)).all()  # a finished month keeps its last day
    with pytest.raises(ValueError, match="starts after the analysis date"):
        compute_ties_monthly(inter, [dt.date(2025, 8, 1)], as_of=as_of)
