"""Analytics over a generated warehouse, against a floor measured in the same run on the same interactions.

The floor is one DuckDB ``GROUP BY ego_id, alter_id`` over ``marts.fct_interactions`` computing the count and the
latest timestamp of each pair (materialised as a temp table): the least any per-pair analytics must do. Each stage
of the analytics (read into Polars, ``compute_ties``, write-back of ``mart_ties``, ``cooccurrence_edges``,
``compute_network_health``, ``compute_alerts``, ``compute_ties_monthly`` for one new month) is timed on its own
and set against that floor. The stages run in a fresh subprocess, so its peak RSS is the analytics' alone (not
the generator's). Run: ``python -m benchmarks.bench_analytics [--interactions N]``.

The synthetic warehouse is deterministic (seeded numpy, vectorised): 2,000 egos among 50,000 people; each ego's
alters are drawn half from a Zipf-like popularity over everyone and half from its own neighbourhood of
colleagues (about 400,000 pairs); contacts are records (mail, meetings, the manual log) over two years, each
touching one or more of the ego's alters chosen by a heavy-tailed (Pareto) pair weight. Rows follow the contract
of ``build_interaction_records`` (an inbound mail is one row with its sender; an outbound mail or a meeting one row per
other participant), and a participants table (``source``, ``source_key``, ``person_id``) lists everyone in each
mail and meeting, as ``record_participants`` would.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import polars as pl

from benchmarks.common import markdown_table, peak_rss_mb, timed
from tiepulse.core.params import CHANNELS
from tiepulse.core.warehouse import connect
from tiepulse.pipelines.analytics import (
    INTERACTION_SCHEMA,
    AnalyticsParams,
    compute_alerts,
    compute_network_health,
    cooccurrence_edges,
)
from tiepulse.pipelines.analytics.common import weight_expr
from tiepulse.pipelines.ego_marts import EgoRun, refresh_ties, refresh_ties_monthly, shards_of
from tiepulse.pipelines.ego_refresh import EgoRefresh
from tiepulse.pipelines.ego_shards import SHARD_INTERACTIONS, EgoShard
from tiepulse.pipelines.marts_io import publish, read_table

AS_OF = dt.date(2026, 10, 31)
DAYS = 730
DAY_US = 86_400_000_000
INTERNAL_DOMAIN = "acme.example"
EXTERNAL_DOMAINS = ["globex.example", "initech.example", "gmail.com", "umbrella.example", "hooli.example"]
PARTICIPANTS_TABLE = "marts.bench_participants"
FLOOR_SQL = (
    "create or replace temp table bench_floor as "
    "select ego_id, alter_id, count(*) as n, max(occurred_at) as last_at from marts.fct_interactions group by all"
)

# Channel codes follow CHANNELS: email, meeting, call, video, chat, in_person, note.
_CHANNEL_P = [0.66, 0.22, 0.03, 0.03, 0.04, 0.01, 0.01]
_EMAIL_GROUP = ([1, 2, 3, 4, 5, 6, 8, 10, 14, 18], [0.55, 0.15, 0.09, 0.06, 0.05, 0.03, 0.03, 0.02, 0.01, 0.01])
_MEETING_GROUP = (
    [1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 18],
    [0.30, 0.15, 0.12, 0.10, 0.08, 0.07, 0.06, 0.05, 0.03, 0.02, 0.02],
)
_MEETING_MINUTES = [15, 30, 30, 30, 45, 60, 60, 90, 120, 480]
_MANUAL_MINUTES = {2: 15.0, 3: 30.0, 5: 60.0}  # call, video, in_person; chat and note have none


# --- generation --------------------------------------------------------------------------------------------


def _people(rng: np.random.Generator, n_people: int, n_internal: int) -> tuple[np.ndarray, np.ndarray]:
    """Person ids (sortable: the zero-padded number decides the order) and their domains."""
    external = rng.choice(EXTERNAL_DOMAINS, n_people - n_internal)
    domains = np.concatenate([np.full(n_internal, INTERNAL_DOMAIN), external]).astype(str)
    return np.char.add(np.char.mod("p%06d@", np.arange(n_people)), domains), domains


def _pairs(
    rng: np.random.Generator, n_egos: int, n_people: int, n_internal: int, mean_alters: int
) -> tuple[np.ndarray, np.ndarray]:
    """(ego, alter) index pairs sorted by ego then alter: half popular people (Zipf), half the ego's neighbours."""
    degree = np.clip(rng.lognormal(np.log(mean_alters) - 0.32, 0.8, n_egos), 5, 4_000).astype(np.int64)
    draws = (degree * 1.15).astype(np.int64) + 1
    ego = np.repeat(np.arange(n_egos), draws)
    rank_p = 1.0 / np.arange(1, n_people + 1) ** 0.9
    popular = rng.permutation(n_people)[rng.choice(n_people, ego.size, p=rank_p / rank_p.sum())]
    home = ego * (n_internal // n_egos)
    near = (home + np.round(rng.normal(0, 80, ego.size)).astype(np.int64)) % n_internal
    alter = np.where(rng.random(ego.size) < 0.5, popular, near)
    keys = np.unique(ego * n_people + alter)
    pair_ego, pair_alter = keys // n_people, keys % n_people
    keep = pair_ego != pair_alter
    return pair_ego[keep], pair_alter[keep]


@dataclass(frozen=True)
class _World:
    """Everything shared by the blocks: the people, the ego-alter pairs and their weights, each ego's activity."""

    person_ids: np.ndarray
    pair_ego: np.ndarray
    pair_alter: np.ndarray
    cum: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    ego_p: np.ndarray


def generate_blocks(
    n_rows: int,
    seed: int = 7,
    n_egos: int = 2_000,
    n_people: int = 50_000,
    mean_alters: int = 200,
    block_rows: int = 1_000_000,
) -> tuple[dict[str, pl.DataFrame], Iterator[dict[str, pl.DataFrame]]]:
    """``dim_person`` and ``dim_contact``, and the interactions with their participants as blocks of consecutive
    egos of about ``block_rows`` rows each (so that no more than a block is in memory at once).

    The interactions follow ``INTERACTION_SCHEMA``, sorted as ``build_interaction_records`` sorts them: by ego across
    blocks (a person id's zero-padded number decides its order), then alter, time and record within a block.
    Each block draws from its own seeded generator, so the data depend on ``seed`` and ``block_rows``.
    """
    rng = np.random.default_rng(seed)
    n_internal = 15_000
    person_ids, domains = _people(rng, n_people, n_internal)
    pair_ego, pair_alter = _pairs(rng, n_egos, n_people, n_internal, mean_alters)
    pair_w = rng.pareto(1.3, pair_ego.size) + 1.0
    starts = np.searchsorted(pair_ego, np.arange(n_egos), side="left")
    ends = np.searchsorted(pair_ego, np.arange(n_egos), side="right")
    ego_p = (ends - starts) * rng.lognormal(0.0, 0.5, n_egos)
    world = _World(person_ids, pair_ego, pair_alter, np.cumsum(pair_w), starts, ends, ego_p / ego_p.sum())
    dims = {
        "dim_person": _dim_person(person_ids, domains, n_egos, n_internal, rng),
        "dim_contact": _contacts(rng, pair_ego, pair_alter, pair_w, person_ids),
    }
    # Egos in order, cut where the expected rows reach a block; each block's rows are its share of n_rows.
    expected = np.cumsum(world.ego_p) * n_rows
    block_of = np.minimum((expected - world.ego_p * n_rows) // block_rows, n_egos).astype(np.int64)
    cuts = np.flatnonzero(np.r_[True, block_of[1:] != block_of[:-1], True])
    row_cuts = np.r_[0, np.round(expected[cuts[1:] - 1]).astype(np.int64)]
    row_cuts[-1] = n_rows

    def blocks() -> Iterator[dict[str, pl.DataFrame]]:
        first_record = 0
        for b in range(cuts.size - 1):
            block_rng = np.random.default_rng([seed, b])
            frames, first_record = _block(
                block_rng, world, int(cuts[b]), int(cuts[b + 1]), int(row_cuts[b + 1] - row_cuts[b]), first_record
            )
            yield frames

    return dims, blocks()


def _block(
    rng: np.random.Generator, world: _World, ego_lo: int, ego_hi: int, n_rows: int, first_record: int
) -> tuple[dict[str, pl.DataFrame], int]:
    """The interactions and participants of egos ``ego_lo`` to ``ego_hi - 1``: about ``n_rows`` rows, records
    numbered from ``first_record``; returns them and the next record number."""
    pair_ego, pair_alter, cum, starts, ends = world.pair_ego, world.pair_alter, world.cum, world.starts, world.ends
    n_pairs = pair_ego.size

    # Records: one mail, meeting or log entry of one ego; about 2.1 interaction rows each.
    n_records = int(n_rows / 2.0 * 1.12) + 1_000
    block_p = world.ego_p[ego_lo:ego_hi]
    rec_ego = ego_lo + rng.choice(ego_hi - ego_lo, n_records, p=block_p / block_p.sum())
    channel = rng.choice(len(CHANNELS), n_records, p=_CHANNEL_P)
    is_email, is_meeting = channel == 0, channel == 1
    size = np.ones(n_records, dtype=np.int64)
    size[is_email] = rng.choice(_EMAIL_GROUP[0], int(is_email.sum()), p=_EMAIL_GROUP[1])
    size[is_meeting] = rng.choice(_MEETING_GROUP[0], int(is_meeting.sum()), p=_MEETING_GROUP[1])
    inbound = is_email & (rng.random(n_records) < 0.5)

    # Participants other than the ego: drawn from the ego's alters by pair weight, duplicates within a record
    # dropped (first draw kept, so an inbound mail's sender is its first participant).
    slot_rec = np.repeat(np.arange(n_records), size)
    e = rec_ego[slot_rec]
    lo = np.where(starts[e] > 0, cum[np.maximum(starts[e] - 1, 0)], 0.0)
    hi = cum[ends[e] - 1]
    slot_pair = np.searchsorted(cum, lo + rng.random(slot_rec.size) * (hi - lo), side="right")
    slot_pair = np.clip(slot_pair, starts[e], ends[e] - 1)
    _, first_index = np.unique(slot_rec * n_pairs + slot_pair, return_index=True)
    first_index.sort()
    slot_rec, slot_pair = slot_rec[first_index], slot_pair[first_index]
    is_first = np.r_[True, slot_rec[1:] != slot_rec[:-1]]
    others = np.bincount(slot_rec, minlength=n_records)

    # Interaction rows; records cut where the rows reach n_rows.
    row_mask = ~inbound[slot_rec] | is_first
    rows_per_rec = np.bincount(slot_rec[row_mask], minlength=n_records)
    kept_records = int(np.searchsorted(np.cumsum(rows_per_rec), n_rows, side="right"))
    row_mask &= slot_rec < kept_records
    slot_keep = slot_rec < kept_records
    rec = slot_rec[row_mask]
    pair = slot_pair[row_mask]
    first = is_first[row_mask]

    # Record attributes: time (weekdays, working hours mostly), reply, organiser, place, minutes.
    day_w = np.where((np.arange(DAYS) + _weekday_offset()) % 7 < 5, 1.0, 0.12) * np.linspace(0.8, 1.2, DAYS)
    rec_day = rng.choice(DAYS, n_records, p=day_w / day_w.sum())
    seconds = np.clip(rng.normal(13.0, 2.8, n_records), 0.0, 23.99) * 3600
    seconds = np.where(is_meeting, np.round(seconds / 900) * 900, seconds)
    start_us = int(dt.datetime.combine(AS_OF - dt.timedelta(days=DAYS - 1), dt.time(), tzinfo=dt.UTC).timestamp())
    rec_t = start_us * 1_000_000 + rec_day * DAY_US + (seconds * 1_000_000).astype(np.int64)
    rec_t += np.where(is_meeting, 0, rng.integers(0, 1_000_000, n_records))
    is_response = is_email & (rng.random(n_records) < 0.35)
    organiser = rng.choice(3, n_records, p=[0.3, 0.4, 0.3])  # ego, the first other participant, someone else
    in_person = (is_meeting & (rng.random(n_records) < 0.15)) | (channel == 5)
    minutes = np.full(n_records, np.nan)
    minutes[is_meeting] = np.minimum(rng.choice(_MEETING_MINUTES, int(is_meeting.sum())), 240)
    for code, mean in _MANUAL_MINUTES.items():
        hit = channel == code
        minutes[hit] = np.round(rng.exponential(mean, int(hit.sum())) + 1)

    ch = channel[rec]
    ego_idx, alter_idx = pair_ego[pair], pair_alter[pair]
    t = rec_t[rec]
    local_day = t // DAY_US
    hour = (t % DAY_US) / 3_600_000_000
    after_hours = ((local_day + 3) % 7 >= 5) | (hour < 8) | (hour >= 17)
    # actor: 0 ego, 1 alter, 2 both; direction: 0 ego_initiated, 1 alter_initiated, 2 mutual
    actor = np.where(ch == 0, np.where(inbound[rec], 1, 0), np.where(ch == 6, 0, 2))
    started_by_ego = (actor == 0) != is_response[rec]
    meeting_dir = np.where(organiser[rec] == 0, 0, np.where((organiser[rec] == 1) & first, 1, 2))
    direction = np.where(
        ch == 0, np.where(started_by_ego, 0, 1), np.where(ch == 1, meeting_dir, np.where(ch == 6, 0, 2))
    )
    source = np.where(ch == 0, 0, np.where(ch == 1, 1, 2))
    group = np.maximum(others[rec], 1)
    mins = minutes[rec]
    shared = np.where(ch == 1, mins / group, mins)

    order = np.lexsort((rec, t, alter_idx, ego_idx))
    people = pl.Series(world.person_ids)

    def labels(values: list[str], codes: np.ndarray) -> pl.Series:
        return pl.Series(values).gather(pl.Series(codes[order].astype(np.uint32)))

    src_names = ["email", "calendar", "manual"]
    prefix = {0: "msg-", 1: "evt-", 2: "log-"}
    source_key = pl.DataFrame({"s": source[order], "r": first_record + rec[order]}).select(
        pl.concat_str(
            pl.col("s").replace_strict(prefix, return_dtype=pl.String), pl.col("r").cast(pl.String).str.zfill(9)
        )
    )
    interactions = (
        pl.DataFrame(
            {
                "ego_id": people.gather(pl.Series(ego_idx[order])),
                "alter_id": people.gather(pl.Series(alter_idx[order])),
                "occurred_at": pl.Series(t[order]).cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
                "channel": labels(list(CHANNELS), ch),
                "direction": labels(["ego_initiated", "alter_initiated", "mutual"], direction),
                "actor": labels(["ego", "alter", "both"], actor),
                "is_response": is_response[rec][order],
                "group_size": group[order].astype(np.int32),
                "minutes": mins[order],
                "shared_minutes": shared[order],
                "is_in_person": in_person[rec][order],
                "is_after_hours": after_hours[order],
                "source": labels(src_names, source),
                "source_key": source_key.to_series(),
            }
        )
        .with_columns(pl.col("minutes", "shared_minutes").fill_nan(None))
        .with_columns(weight=weight_expr(AnalyticsParams()))
        .select([pl.col(c).cast(tp) for c, tp in INTERACTION_SCHEMA.items()])
    )

    # Everyone in each kept mail and meeting: the ego, then the other participants (the manual log has none).
    rec_source = np.where(is_email, 0, np.where(is_meeting, 1, 2))
    slot_rec, slot_pair = slot_rec[slot_keep], slot_pair[slot_keep]
    part_rec = np.concatenate([np.arange(kept_records), slot_rec])
    part_person = np.concatenate([rec_ego[:kept_records], pair_alter[slot_pair]])
    listed = rec_source[part_rec] < 2
    part_rec, part_person = part_rec[listed], part_person[listed]
    participants = pl.DataFrame(
        {"s": rec_source[part_rec], "r": first_record + part_rec, "person_id": people.gather(pl.Series(part_person))}
    ).select(
        source=pl.col("s").replace_strict(dict(enumerate(src_names)), return_dtype=pl.String),
        source_key=pl.concat_str(
            pl.col("s").replace_strict(prefix, return_dtype=pl.String), pl.col("r").cast(pl.String).str.zfill(9)
        ),
        person_id="person_id",
    )
    return {"interactions": interactions, "participants": participants}, first_record + kept_records


def _weekday_offset() -> int:
    """Weekday (Monday 0) of the first generated day."""
    return (AS_OF - dt.timedelta(days=DAYS - 1)).weekday()


def _dim_person(
    person_ids: np.ndarray, domains: np.ndarray, n_egos: int, n_internal: int, rng: np.random.Generator
) -> pl.DataFrame:
    n = person_ids.size
    idx = np.arange(n)
    internal = idx < n_internal
    return pl.DataFrame(
        {
            "person_id": person_ids,
            "display_name": np.char.mod("Person %d", idx),
            "addresses": [[a] for a in person_ids.tolist()],
            "domain": domains,
            "is_internal": internal,
            "team": np.char.mod("team-%03d", idx // 25),
            "department": np.char.mod("dept-%02d", idx // 750),
            "org_unit": None,
            "location": rng.choice(["Berlin", "London", "Paris", "Remote"], n),
            "manager_id": person_ids[(idx // 25) * 25],
            "is_automated": False,
            "automated_reason": None,
            "is_ego": idx < n_egos,
            "is_unresolved": False,
            "messages_sent": None,
            "first_sent": None,
            "last_sent": None,
        },
        schema_overrides={
            "org_unit": pl.String,
            "automated_reason": pl.String,
            "messages_sent": pl.Int32,
            "first_sent": pl.Datetime("us", "UTC"),
            "last_sent": pl.Datetime("us", "UTC"),
        },
    ).with_columns(
        team=pl.when(pl.col("is_internal")).then(pl.col("team")),
        department=pl.when(pl.col("is_internal")).then(pl.col("department")),
        manager_id=pl.when(pl.col("is_internal")).then(pl.col("manager_id")),
    )


def _contacts(
    rng: np.random.Generator, pair_ego: np.ndarray, pair_alter: np.ndarray, pair_w: np.ndarray, person_ids: np.ndarray
) -> pl.DataFrame:
    """Contact book: a third of the egos keep their ten heaviest alters in a bucket with a cadence."""
    frame = pl.DataFrame({"e": pair_ego, "a": pair_alter, "w": pair_w})
    keepers = np.flatnonzero(rng.random(int(pair_ego.max()) + 1) < 1 / 3)
    top = (
        frame.filter(pl.col("e").is_in(keepers))
        .sort("w", descending=True)
        .group_by("e", maintain_order=True)
        .head(10)
        .sort("e", "a")
    )
    e, a = top.get_column("e").to_numpy(), top.get_column("a").to_numpy()
    return pl.DataFrame(
        {
            "ego_id": person_ids[e],
            "person_id": person_ids[a],
            "bucket": rng.choice(["client", "prospect", "colleague", "mentor", "friend"], top.height),
            "cadence_days": rng.choice([14, 30, 60, 90], top.height).astype(np.int32),
        }
    )


def write_warehouse(
    path: Path, dims: dict[str, pl.DataFrame], blocks: Iterator[dict[str, pl.DataFrame]]
) -> dict[str, int]:
    """The generated tables in a warehouse at ``path``, block after block; returns the rows written per frame."""
    con = connect(path)
    counts = {"interactions": 0, "participants": 0}
    try:
        publish(con, "marts.dim_person", dims["dim_person"])
        publish(con, "marts.dim_contact", dims["dim_contact"])
        for block in blocks:
            for name, table in (("interactions", "marts.fct_interactions"), ("participants", PARTICIPANTS_TABLE)):
                frame = block[name]
                con.register("_block", frame.to_arrow())
                try:
                    con.execute(f"create table if not exists {table} as select * from _block limit 0").fetchall()
                    con.execute(f"insert into {table} select * from _block").fetchall()
                finally:
                    con.unregister("_block")
                counts[name] += frame.height
        con.execute("checkpoint").fetchall()
    finally:
        con.close()
    return counts


# --- measurement (in a fresh process) ----------------------------------------------------------------------


def _peak_mb() -> float:
    """Peak resident memory of this process since it started or since the last :func:`_reset_peak`, in MB.

    Read from ``VmHWM``: ``getrusage`` would also count the parent's pages at the fork that started us.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return peak_rss_mb()


def _reset_peak() -> bool:
    """Start a new peak (Linux: writing 5 to clear_refs resets VmHWM); False where that is not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def measure(path: Path, floor_runs: int, shard_rows: int) -> dict[str, Any]:
    """Every stage in turn, timed; returns seconds, rows and the process's peak RSS after each stage."""
    params = AnalyticsParams()
    con = connect(path)
    stages: list[dict[str, Any]] = []

    per_stage = _reset_peak()
    floors, floor_cpu = [], []
    for _ in range(floor_runs):
        cpu = time.process_time()
        _, took = timed(lambda: con.execute(FLOOR_SQL).fetchall())
        floors.append(took)
        floor_cpu.append(time.process_time() - cpu)
    floor_pairs = int(con.execute("select count(*) from bench_floor").fetchall()[0][0])
    con.execute("drop table bench_floor").fetchall()
    floor_peak = _peak_mb()
    overall = floor_peak

    def stage(name: str, fn: Any, rows: Any) -> Any:
        nonlocal overall
        _reset_peak()
        cpu = time.process_time()
        value, took = timed(fn)
        cpu = time.process_time() - cpu
        peak = _peak_mb()
        overall = max(overall, peak)
        stages.append({"stage": name, "seconds": took, "cpu": cpu, "rows": rows(value), "peak_mb": peak})
        return value

    def written(done: EgoRefresh) -> int:
        return done.rows_written

    shards = stage("ego shards (DuckDB count per ego)", lambda: shards_of(con, shard_rows), len)
    stage(TIES_STAGE, lambda: refresh_ties(EgoRun(con, AS_OF, params, shards, full=True)), written)
    stage(
        "ties again, nothing changed (fingerprints only)",
        lambda: refresh_ties(EgoRun(con, AS_OF, params, shards)),
        written,
    )
    stage("network health by shard (co-occurrence edges, health)", lambda: _health(con, shards, params), len)
    stage("compute_alerts (all ties and health)", lambda: _alerts(con, params), len)
    day_before = AS_OF - dt.timedelta(days=1)
    stage(
        "monthly history, full rebuild (every month, by shard)",
        lambda: refresh_ties_monthly(EgoRun(con, day_before, params, shards, full=True)),
        written,
    )
    stage(
        "monthly history, next day (incremental: the running month)",
        lambda: refresh_ties_monthly(EgoRun(con, AS_OF, params, shards)),
        written,
    )
    interactions = int(con.execute("select count(*) from marts.fct_interactions").fetchall()[0][0])
    con.close()
    return {
        "interactions": interactions,
        "shards": len(shards),
        "shard_rows": shard_rows,
        "floor_runs": floors,
        "floor_cpu": floor_cpu,
        "floor_pairs": floor_pairs,
        "floor_peak_mb": floor_peak,
        "stages": stages,
        "peak_mb": max(overall, _peak_mb()),
        "per_stage_peaks": per_stage,
    }


def _health(con: duckdb.DuckDBPyConnection, shards: list[EgoShard], params: AnalyticsParams) -> pl.DataFrame:
    """Network health shard by shard, as ``ego_marts.refresh_network_health`` runs it, with the benchmark's
    participants table standing in for the messages and meetings."""
    persons, contacts = read_table(con, "marts.dim_person"), read_table(con, "marts.dim_contact")
    frames = []
    for shard in shards:
        where, args = shard.where()
        inter = read_table(con, "marts.fct_interactions", where, args)
        participants = read_table(
            con,
            PARTICIPANTS_TABLE,
            f"where source_key in (select source_key from marts.fct_interactions {where})",
            args,
        )
        edges = cooccurrence_edges(inter, participants, AS_OF, params)
        ties = read_table(con, "marts.mart_ties", where, args)
        frames.append(compute_network_health(ties, inter, persons, contacts, AS_OF, params, edges))
    health = pl.concat(frames)
    publish(con, "marts.bench_health", health)
    return health


def _alerts(con: duckdb.DuckDBPyConnection, params: AnalyticsParams) -> pl.DataFrame:
    ties, health = read_table(con, "marts.mart_ties"), read_table(con, "marts.bench_health")
    return compute_alerts(ties, health, read_table(con, "marts.dim_person"), AS_OF, params)[0]


# --- report ----------------------------------------------------------------------------------------------

TIES_STAGE = "ties by shard (read, compute_ties, write mart_ties)"


def report(result: dict[str, Any], generation: dict[str, Any], load: str, after: str) -> str:
    floor, floor_cpu = min(result["floor_runs"]), min(result["floor_cpu"])
    peak_header = "process peak RSS during stage (MB)" if result["per_stage_peaks"] else "peak RSS so far (MB)"
    rows: list[list[object]] = [
        [
            "**floor**: DuckDB group by ego, alter (count, max time)",
            f"{floor:.2f}",
            "1.0x",
            f"{floor_cpu:.2f}",
            "1.0x",
            f"{result['floor_pairs']:,} pairs",
            f"{result['floor_peak_mb']:,.0f}",
        ]
    ]
    for s in result["stages"]:
        count = f"{s['rows']:,}" if s["rows"] is not None else ""
        rows.append(
            [
                s["stage"],
                f"{s['seconds']:.2f}",
                f"{s['seconds'] / floor:.1f}x",
                f"{s['cpu']:.2f}",
                f"{s['cpu'] / floor_cpu:.1f}x",
                count,
                f"{s['peak_mb']:,.0f}",
            ]
        )
    everything = sum(s["seconds"] for s in result["stages"])
    everything_cpu = sum(s["cpu"] for s in result["stages"])
    rows.append(
        [
            "all stages",
            f"{everything:.2f}",
            f"{everything / floor:.1f}x",
            f"{everything_cpu:.2f}",
            f"{everything_cpu / floor_cpu:.1f}x",
            "",
            "",
        ]
    )
    runs = ", ".join(f"{f:.2f}" for f in result["floor_runs"])
    lines = [
        f"\nAnalytics, {result['interactions']:,} interactions ({generation['pairs']:,} pairs, "
        f"{generation['egos']:,} egos, {generation['participants']:,} participant rows), as of {AS_OF}, "
        f"{result['shards']} ego shards of about {result['shard_rows']:,} interactions, {os.cpu_count()} cores, "
        f"load average before the run {load}\n",
        markdown_table(["stage", "seconds", "/ floor", "CPU s", "CPU / floor CPU", "rows out", peak_header], rows),
        "",
        f"Floor: best of {len(result['floor_runs'])} runs ({runs} s; CPU seconds of all the process's threads, "
        f"best {floor_cpu:.2f}). Peak RSS of the analytics process: "
        f"{result['peak_mb']:,.0f} MB. Generating and loading the warehouse (another process, not measured "
        f"against the floor): {generation['seconds']:.1f} s, peak RSS {generation['peak_mb']:,.0f} MB. "
        f"Load average after the run: {after}.",
    ]
    return "\n".join(lines)


def _generate_into(path: Path, n_rows: int, seed: int) -> dict[str, Any]:
    started = time.perf_counter()
    counts = write_warehouse(path, *generate_blocks(n_rows, seed=seed))
    con = connect(path)
    try:
        pairs, egos = con.execute(
            "select count(*), count(distinct ego_id) "
            "from (select distinct ego_id, alter_id from marts.fct_interactions)"
        ).fetchall()[0]
    finally:
        con.close()
    return {**counts, "pairs": pairs, "egos": egos, "seconds": time.perf_counter() - started, "peak_mb": _peak_mb()}


def _child(*args: str) -> dict[str, Any]:
    """Run this module with ``args`` in a fresh interpreter; its last stdout line is JSON."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_analytics", *args],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--interactions", type=int, default=10_000_000, help="interaction rows to generate")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--floor-runs", type=int, default=3)
    parser.add_argument("--shard-rows", type=int, default=SHARD_INTERACTIONS, help="interactions per ego shard")
    # internal: the two child processes (generate a warehouse; measure on it)
    parser.add_argument("--generate", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate:
        print(json.dumps(_generate_into(args.generate, args.interactions, args.seed)))
        return
    if args.measure:
        print(json.dumps(measure(args.measure, args.floor_runs, args.shard_rows)))
        return
    load = _load()
    with tempfile.TemporaryDirectory(prefix="tiepulse-bench-analytics-") as tmp:
        path = Path(tmp) / "warehouse.duckdb"
        generation = _child("--generate", str(path), "--interactions", str(args.interactions), "--seed", str(args.seed))
        result = _child(
            "--measure", str(path), "--floor-runs", str(args.floor_runs), "--shard-rows", str(args.shard_rows)
        )
    print(report(result, generation, load, _load()))


def _load() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
