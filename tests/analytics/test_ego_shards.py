"""The analytics by ego shard and incremental by ego: equal to the whole-table computation and to a full rebuild."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from benchmarks.bench_analytics import AS_OF, generate_blocks, write_warehouse
from tests.analytics import builders as b
from tests.analytics.staged import AS_OF as STAGED_AS_OF
from tests.analytics.staged import BOB, EGO, ZED, stage
from tiepulse.core.params import AnalyticsParams
from tiepulse.core.warehouse import connect
from tiepulse.pipelines.analytics import compute_ties, compute_ties_monthly, network_health
from tiepulse.pipelines.analytics.common import as_of_instant
from tiepulse.pipelines.analytics.fingerprint import history_months
from tiepulse.pipelines.analytics.monthly import month_cutoff
from tiepulse.pipelines.ego_marts import EgoRun, refresh_network_health, refresh_ties, refresh_ties_monthly, shards_of
from tiepulse.pipelines.ego_refresh import recomputed_egos
from tiepulse.pipelines.marts_io import publish, read_table
from tiepulse.pipelines.network_io import INTERACTIONS, interactions_from_staging, read_network_inputs
from tiepulse.pipelines.record_window import RecordWindow

PARAMS = AnalyticsParams()
SAME = {"rel_tol": 1e-12, "abs_tol": 1e-12}
"""Equal, up to the last bits of a float sum: Polars adds a group's values in an order that depends on how the
rows were split among its threads, which differs between a shard and the whole table."""
SHARD = 4_000
"""Interactions per shard in these tests: the generated case has about 30,000, so eight shards or so."""


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pl.DataFrame]:
    """A small generated organisation (the analytics benchmark's generator): 40 egos, 30,000 interactions."""
    path = tmp_path_factory.mktemp("generated") / "warehouse.duckdb"
    write_warehouse(path, *generate_blocks(30_000, seed=3, n_egos=40, block_rows=7_000))
    with connect(path, read_only=True) as con:
        return {
            t: pl.DataFrame(con.sql(f"select * from marts.{t}"))
            for t in ("fct_interactions", "dim_person", "dim_contact")
        }


def _warehouse(path: Path, frames: dict[str, pl.DataFrame]) -> duckdb.DuckDBPyConnection:
    con = connect(path)
    for table, frame in frames.items():
        publish(con, f"marts.{table}", frame)
    return con


def _sorted(con: duckdb.DuckDBPyConnection, table: str, *keys: str) -> pl.DataFrame:
    return read_table(con, table).sort(*keys)


def test_ties_and_history_by_shard_equal_the_whole_table(tmp_path: Path, generated: dict[str, pl.DataFrame]) -> None:
    con = _warehouse(tmp_path / "w.duckdb", generated)
    shards = shards_of(con, SHARD)
    assert len(shards) >= 5 and sum(s.interactions for s in shards) == generated["fct_interactions"].height
    refresh_ties(EgoRun(con, AS_OF, PARAMS, shards))
    refresh_ties_monthly(EgoRun(con, AS_OF, PARAMS, shards))

    inter, persons, contacts = generated["fct_interactions"], generated["dim_person"], generated["dim_contact"]
    whole_ties = compute_ties(inter, persons, contacts, AS_OF, PARAMS)
    whole_history = compute_ties_monthly(inter, history_months(inter, AS_OF), PARAMS, AS_OF)
    assert_frame_equal(_sorted(con, "marts.mart_ties", "ego_id", "alter_id"), whole_ties, **SAME)
    assert_frame_equal(_sorted(con, "marts.mart_ties_monthly", "ego_id", "alter_id", "month"), whole_history, **SAME)
    con.close()


def _import(frames: dict[str, pl.DataFrame], interactions: pl.DataFrame) -> dict[str, pl.DataFrame]:
    return {**frames, "fct_interactions": interactions.sort("ego_id", "alter_id", "occurred_at")}


def test_incremental_refreshes_equal_a_full_rebuild(tmp_path: Path, generated: dict[str, pl.DataFrame]) -> None:
    everything = generated["fct_interactions"]
    egos = everything.get_column("ego_id").unique().sort()
    early, late = egos.head(30), egos.tail(10)
    first_day, second_day = AS_OF - dt.timedelta(days=75), AS_OF - dt.timedelta(days=3)
    seen_by = pl.col("occurred_at").dt.date() <= first_day
    steps = [
        # the first import: thirty egos' mail up to an earlier day
        (first_day, everything.filter(pl.col("ego_id").is_in(early.implode()) & seen_by)),
        # two months on: their newer mail and ten more egos' mailboxes
        (second_day, everything.filter(pl.col("occurred_at").dt.date() <= second_day)),
        # the same day, a late import of one ego's old mail, found only now
        (second_day, everything.filter(pl.col("occurred_at").dt.date() <= second_day)),
        # the analysis date: the rest, one ego erased, one contact book changed
        (AS_OF, everything.filter(pl.col("ego_id") != late[0])),
    ]
    lost = everything.filter((pl.col("ego_id") == early[3]) & (pl.col("occurred_at").dt.date() < first_day)).head(40)
    steps[1] = (second_day, steps[1][1].join(lost, on=everything.columns, how="anti"))
    contacts = generated["dim_contact"]
    changed = contacts.with_columns(
        cadence_days=pl.when(pl.col("ego_id") == early[5]).then(7).otherwise("cadence_days")
    )

    con = _warehouse(tmp_path / "w.duckdb", generated)
    recomputed = []
    for i, (day, interactions) in enumerate(steps):
        frames = _import({**generated, "dim_contact": changed if i == 3 else contacts}, interactions)
        for table, frame in frames.items():
            publish(con, f"marts.{table}", frame)
        shards = shards_of(con, SHARD)
        started = con.execute("select now()").fetchall()[0][0]
        recomputed.append(refresh_ties(EgoRun(con, day, PARAMS, shards)).egos_recomputed)
        assert len(recomputed_egos(con, "marts.mart_ties", started)) == recomputed[-1]
        refresh_ties_monthly(EgoRun(con, day, PARAMS, shards))
    incremental = {t: _sorted(con, t, *k) for t, k in _KEYS.items()}
    shards = shards_of(con, SHARD)
    refresh_ties(EgoRun(con, AS_OF, PARAMS, shards, full=True))
    refresh_ties_monthly(EgoRun(con, AS_OF, PARAMS, shards, full=True))
    for table, keys in _KEYS.items():
        assert_frame_equal(incremental[table], _sorted(con, table, *keys), **SAME)
    # the late import on the same day recomputed the one ego it touched, the others were left as they were
    assert recomputed[:3] == [30, 40, 1]
    con.close()


_KEYS = {"marts.mart_ties": ("ego_id", "alter_id"), "marts.mart_ties_monthly": ("ego_id", "alter_id", "month")}


def _restage(con: duckdb.DuckDBPyConnection, **changes: object) -> None:
    """The staged tables (tests.analytics.staged) and the interactions built from them."""
    stage(con, **changes)  # type: ignore[arg-type]
    publish(con, INTERACTIONS, interactions_from_staging(con, PARAMS)[0])


def test_network_health_by_shard_and_incremental(tmp_path: Path) -> None:
    con = connect(tmp_path / "warehouse.duckdb")
    _restage(con)
    shards = shards_of(con, 3)
    assert len(shards) == 2  # one shard per ego
    refresh_ties(EgoRun(con, STAGED_AS_OF, PARAMS, shards))
    refresh_network_health(EgoRun(con, STAGED_AS_OF, PARAMS, shards))
    inputs = read_network_inputs(con)
    months = history_months(inputs.interactions, STAGED_AS_OF)
    whole = pl.concat(
        [
            network_health(inputs, STAGED_AS_OF, PARAMS, read_table(con, "marts.mart_ties")).with_columns(
                period=pl.lit("current"), month=pl.lit(months[-1])
            ),
            *(
                network_health(inputs, month_cutoff(m, STAGED_AS_OF), PARAMS).with_columns(
                    period=pl.lit("month"), month=pl.lit(m)
                )
                for m in months
            ),
        ],
        how="vertical_relaxed",
    )
    keys = ("period", "month", "ego_id")
    assert_frame_equal(_sorted(con, "marts.mart_network_health", *keys), whole.sort(*keys), **SAME)
    # brokerage reads the records of the activity window only: narrowed to them, the same health
    after = as_of_instant(STAGED_AS_OF) - dt.timedelta(days=PARAMS.activity_window_days)
    recent = read_network_inputs(con, records_after=after)
    assert 0 < recent.messages.height < inputs.messages.height
    assert 0 < recent.message_recipients.height < inputs.message_recipients.height
    assert_frame_equal(
        network_health(recent, STAGED_AS_OF, PARAMS), network_health(inputs, STAGED_AS_OF, PARAMS), **SAME
    )

    _restage(con, extra=3)  # new mail between me and Bob in the running month
    shards = shards_of(con, 3)
    refresh_ties(EgoRun(con, STAGED_AS_OF, PARAMS, shards))
    done = refresh_network_health(EgoRun(con, STAGED_AS_OF, PARAMS, shards))
    assert (done.egos_recomputed, done.months_recomputed) == (2, 1)
    incremental = _sorted(con, "marts.mart_network_health", *keys)
    refresh_network_health(EgoRun(con, STAGED_AS_OF, PARAMS, shards, full=True))
    assert_frame_equal(incremental, _sorted(con, "marts.mart_network_health", *keys), **SAME)
    assert incremental.filter(pl.col("ego_id") == BOB).height > 0
    con.close()


def test_the_window_copy_reads_each_shards_records_as_the_fact_tables_do(tmp_path: Path) -> None:
    con = connect(tmp_path / "warehouse.duckdb")
    stage(con)
    start = as_of_instant(STAGED_AS_OF) - dt.timedelta(days=PARAMS.activity_window_days)
    # meetings of me, Bob and Zed (who declined) every 15 days, before and in the window
    starts = [start + dt.timedelta(days=d) for d in range(-40, PARAMS.activity_window_days, 15)]
    keys = [f"m{k}" for k in range(len(starts))]
    events = [
        {"event_key": k, "start_at": at, "duration_minutes": 30, "organizer_id": EGO, "n_attendees": 3}
        for k, at in zip(keys, starts, strict=True)
    ]
    answers = [(k, EGO, "accepted", True) for k in keys] + [(k, BOB, "tentative") for k in keys]
    publish(con, "marts.fct_events", b.events(events))
    publish(con, "marts.fct_event_attendees", b.attendees([*answers, *((k, ZED, "declined") for k in keys)]))
    publish(con, INTERACTIONS, interactions_from_staging(con, PARAMS)[0])
    window = RecordWindow.copy(con, start)
    try:
        assert window.covers(start) and not window.covers(start - dt.timedelta(seconds=1))
        with pytest.raises(ValueError, match="the window starts"):
            window.records_of(read_table(con, INTERACTIONS), start - dt.timedelta(days=1))
        read = {"messages": 0, "message_recipients": 0, "event_attendees": 0}
        for shard in shards_of(con, 3):
            inter = read_table(con, INTERACTIONS, *shard.where())
            for after in (start, start + dt.timedelta(days=20)):
                direct = read_network_inputs(con, shard, inter, records_after=after)
                for name, frame in window.records_of(inter, after)._asdict().items():
                    expected = getattr(direct, name).select(frame.columns)
                    assert_frame_equal(frame.sort(frame.columns), expected.sort(frame.columns))
                    read[name] += frame.height
        assert all(read.values()), read
    finally:
        window.drop()
    assert not con.sql("select * from duckdb_tables() where table_name like 'tiepulse_window%'").fetchall()
    con.close()


def test_a_person_first_seen_this_month_leaves_closed_months_and_a_changed_team_redoes_them(tmp_path: Path) -> None:
    """Health reads a person as an ego or an alter: a new outside person in this month's mail redoes the running
    month only; another team for Bob, seen since September, redoes every month. Each equals a full rebuild."""
    con = connect(tmp_path / "warehouse.duckdb")
    _restage(con)
    shards = shards_of(con, 3)
    keys = ("period", "month", "ego_id")
    months = len(history_months(read_table(con, INTERACTIONS), STAGED_AS_OF))

    def refresh(full: bool = False) -> tuple[int, int]:
        refresh_ties(EgoRun(con, STAGED_AS_OF, PARAMS, shards, full=full))
        done = refresh_network_health(EgoRun(con, STAGED_AS_OF, PARAMS, shards, full=full))
        return done.egos_recomputed, done.months_recomputed

    refresh()
    for changes, expected in (({"newcomer": True}, (2, 1)), ({"newcomer": True, "bob_team": "platform"}, (2, months))):
        _restage(con, **changes)
        assert refresh() == expected
        incremental = _sorted(con, "marts.mart_network_health", *keys)
        refresh(full=True)
        assert_frame_equal(incremental, _sorted(con, "marts.mart_network_health", *keys), **SAME)
    con.close()


def _observed_until(con: duckdb.DuckDBPyConnection, owner: str, kind: str, last_item: dt.datetime) -> None:
    """``owner``'s window of ``kind`` (a calendar is added from the mailbox's first item) now ends at
    ``last_item``: what a new day's import shows of a scope."""
    windows = read_table(con, "intermediate.int_observation_windows")
    mailbox = windows.filter((pl.col("owner") == owner) & (pl.col("kind") == "mail"))
    scope = mailbox.with_columns(kind=pl.lit(kind), folder_role=pl.lit(kind if kind != "mail" else "mailbox"))
    others = windows.filter((pl.col("owner") != owner) | (pl.col("kind") != kind))
    scope = scope.with_columns(last_item=pl.lit(last_item, dtype=windows.schema["last_item"]))
    con.register("_windows", pl.concat([others, scope.select(windows.columns)]).to_arrow())
    con.execute("create or replace table intermediate.int_observation_windows as from _windows").fetchall()
    con.unregister("_windows")


def test_a_closed_month_is_redone_only_when_what_its_health_reads_of_the_observation_changed(tmp_path: Path) -> None:
    """A day after a month's end: the scopes observed past the month's end change the month's observation at its
    cut-off; the month's health is redone only if that changes what the health reads (its ``data_end``, not the
    calendar's end), and then equals a full rebuild."""
    con = connect(tmp_path / "warehouse.duckdb")
    _restage(con)
    shards = shards_of(con, 3)
    march_1, march_2 = dt.date(2026, 3, 1), dt.date(2026, 3, 2)
    keys = ("period", "month", "ego_id")

    def refresh(day: dt.date, full: bool = False) -> tuple[int, int]:
        refresh_ties(EgoRun(con, day, PARAMS, shards, full=full))
        done = refresh_network_health(EgoRun(con, day, PARAMS, shards, full=full))
        return done.egos_recomputed, done.months_recomputed

    _observed_until(con, BOB, "mail", dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC))
    _observed_until(con, BOB, "calendar", dt.datetime(2026, 2, 20, 9, tzinfo=dt.UTC))
    _observed_until(con, EGO, "mail", dt.datetime(2026, 2, 27, 9, tzinfo=dt.UTC))
    refresh(march_1)
    # Bob's calendar now runs past February: its end at February's cut-off moves, what the health reads does not
    _observed_until(con, BOB, "calendar", dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC))
    assert refresh(march_2) == (2, 1)  # the running month of both egos, not February
    # my mailbox too: February's data_end moves to its last instant, so February is redone for me (and March,
    # whose data_end moves to the new item)
    _observed_until(con, EGO, "mail", dt.datetime(2026, 3, 2, 10, tzinfo=dt.UTC))
    assert refresh(march_2) == (1, 2)
    incremental = _sorted(con, "marts.mart_network_health", *keys)
    february = incremental.filter((pl.col("ego_id") == EGO) & (pl.col("month") == dt.date(2026, 2, 1)))
    assert february.get_column("data_end").dt.date().to_list() == [dt.date(2026, 2, 28)]
    refresh(march_2, full=True)
    assert_frame_equal(incremental, _sorted(con, "marts.mart_network_health", *keys), **SAME)
    con.close()
