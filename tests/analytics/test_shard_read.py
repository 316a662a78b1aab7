"""The ego shard read streams the executed result (``read_table`` with parameters): the rows and types are those of
the whole table, and the ties refreshed shard by shard equal ``compute_ties`` on the hand-built frame."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from polars.testing import assert_frame_equal

from tests.analytics.builders import at, contacts, interactions, persons
from tiepulse.core.params import AnalyticsParams
from tiepulse.core.warehouse import connect
from tiepulse.pipelines.analytics import compute_ties
from tiepulse.pipelines.ego_marts import EgoRun, refresh_ties, shards_of
from tiepulse.pipelines.ego_shards import EgoShard
from tiepulse.pipelines.marts_io import publish, read_table
from tiepulse.pipelines.network_io import CONTACTS, INTERACTIONS, PERSONS

AS_OF = at("2026-06-30").date()
ANN, BEN = "ann@acme.example", "ben@acme.example"
CAL, DEV, EVE = "cal@acme.example", "dev@globex.example", "eve@acme.example"

# Two egos; pairs with several channels, equal timestamps (ties), the same day twice, and gaps across months.
ROWS = [
    {"ego_id": ANN, "alter_id": CAL, "occurred_at": at("2026-01-05", 9), "channel": "email"},
    {"ego_id": ANN, "alter_id": CAL, "occurred_at": at("2026-01-05", 9), "channel": "meeting", "actor": "both",
     "direction": "mutual", "source": "calendar", "group_size": 3, "minutes": 30.0, "shared_minutes": 10.0},
    {"ego_id": ANN, "alter_id": CAL, "occurred_at": at("2026-01-05", 15), "channel": "email", "actor": "alter",
     "direction": "alter_initiated", "is_response": True},
    {"ego_id": ANN, "alter_id": CAL, "occurred_at": at("2026-03-20", 11), "channel": "call", "actor": "both",
     "source": "manual", "minutes": 15.0, "is_after_hours": True},
    {"ego_id": ANN, "alter_id": CAL, "occurred_at": at("2026-06-01", 8), "channel": "email"},
    {"ego_id": ANN, "alter_id": DEV, "occurred_at": at("2026-02-27", 10), "channel": "email", "group_size": 2},
    {"ego_id": ANN, "alter_id": DEV, "occurred_at": at("2026-05-02", 10), "channel": "in_person", "actor": "both",
     "source": "manual", "is_in_person": True, "minutes": 60.0},
    {"ego_id": BEN, "alter_id": EVE, "occurred_at": at("2025-12-31", 23), "channel": "chat", "actor": "both",
     "source": "manual"},
    {"ego_id": BEN, "alter_id": EVE, "occurred_at": at("2026-01-31", 7), "channel": "email", "actor": "alter",
     "direction": "alter_initiated"},
    {"ego_id": BEN, "alter_id": EVE, "occurred_at": at("2026-01-31", 7), "channel": "video", "actor": "both",
     "source": "manual", "minutes": 45.0},
    {"ego_id": BEN, "alter_id": ANN, "occurred_at": at("2026-04-10", 12), "channel": "note", "source": "manual"},
    {"ego_id": BEN, "alter_id": ANN, "occurred_at": at("2026-07-02", 12), "channel": "email"},  # after as_of
]  # fmt: skip


def _warehouse(path: Path) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    inter = interactions(ROWS).sort("ego_id", "alter_id", "occurred_at")
    people = persons([{"person_id": p, "display_name": p.split("@")[0]} for p in (ANN, BEN, CAL, DEV, EVE)])
    planned = contacts([{"ego_id": ANN, "person_id": CAL, "bucket": "core", "cadence_days": 30}])
    with connect(path) as con:
        for table, frame in ((INTERACTIONS, inter), (PERSONS, people), (CONTACTS, planned)):
            publish(con, table, frame)
    return inter, people, planned


def test_a_shard_read_returns_the_rows_and_types_of_the_table(tmp_path: Path) -> None:
    inter, _, _ = _warehouse(tmp_path / "w.duckdb")
    with connect(tmp_path / "w.duckdb") as con:
        for shard in (EgoShard.one(ANN), EgoShard(ANN, BEN), EgoShard.one("nobody@acme.example")):
            read = read_table(con, INTERACTIONS, *shard.where())
            expected = inter.filter(pl.col("ego_id").is_between(pl.lit(shard.first), pl.lit(shard.last)))
            assert read.schema == inter.schema
            assert_frame_equal(read.sort("source_key"), expected.sort("source_key"))


def test_ties_refreshed_by_shard_equal_compute_ties_on_the_frame(tmp_path: Path) -> None:
    inter, people, planned = _warehouse(tmp_path / "w.duckdb")
    params = AnalyticsParams()
    with connect(tmp_path / "w.duckdb") as con:
        shards = shards_of(con, 1)
        assert [s.first for s in shards] == [ANN, BEN]
        refresh_ties(EgoRun(con, AS_OF, params, shards))
        stored = read_table(con, "marts.mart_ties").sort("ego_id", "alter_id")
    expected = compute_ties(inter, people, planned, AS_OF, params)
    assert expected.height == 4
    assert_frame_equal(stored, expected, rel_tol=1e-12, abs_tol=1e-12)
