"""The messages and meetings of a recent window, copied once per refresh for every ego shard to read.

Brokerage needs the participants of each record (message, meeting) an ego's interactions name. Read shard by shard
with a semi-join against the whole fact tables, every shard scans ``fct_message_recipients`` and ``fct_messages``
whole: at 1,000 people x 12 months, 35 shards x about 2 s, most of a day's network health (docs/benchmarks.md).
Here the rows of the records with any interaction after ``after`` (the activity window of the analysis date) are
copied once into temporary tables, which DuckDB keeps out of core under its memory limit; each shard then semi-joins
its own records' keys against those.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import duckdb
import polars as pl

from tiepulse.pipelines.analytics.common import UTC_TS
from tiepulse.pipelines.network_io import EVENT_ATTENDEES, INTERACTIONS, MESSAGE_RECIPIENTS, MESSAGES, Records

_COPIES = {
    # name of the copy: (table, its record key, the interactions' source, the columns the brokerage reads)
    "messages": (MESSAGES, "message_key", "email", "message_key, sender_id"),
    "message_recipients": (MESSAGE_RECIPIENTS, "message_key", "email", "message_key, person_id"),
    "event_attendees": (EVENT_ATTENDEES, "event_key", "calendar", "event_key, person_id, response"),
}


@dataclass(frozen=True)
class RecordWindow:
    """The records with an interaction after ``after``, copied."""

    con: duckdb.DuckDBPyConnection
    after: dt.datetime

    @classmethod
    def copy(cls, con: duckdb.DuckDBPyConnection, after: dt.datetime) -> RecordWindow:
        """Copy the records, outside any transaction: DuckDB scans rows a transaction has not committed yet (its
        local storage) about twice as slowly, and every shard scans these."""
        for name, (table, key, source, columns) in _COPIES.items():
            named = f"select source_key from {INTERACTIONS} where source = '{source}' and occurred_at > ?"
            con.execute(
                f"create or replace temp table {_temp(name)} as select {columns} from {table} where {key} in ({named})",
                [after],
            ).fetchall()
        return cls(con, after)

    def covers(self, after: dt.datetime | None) -> bool:
        """Whether the records with an interaction after ``after`` are all in the copies."""
        return after is not None and after >= self.after

    def records_of(self, interactions: pl.DataFrame, after: dt.datetime) -> Records:
        """The messages, recipients and attendees of the records ``interactions`` name after ``after`` (which the
        window must cover): those a semi-join of the fact tables on the same interactions would read."""
        if not self.covers(after):
            raise ValueError(f"the window starts at {self.after}, after {after}")
        recent = interactions.filter(pl.col("occurred_at") > pl.lit(after, dtype=UTC_TS))
        frames = {}
        for name, (_, key, source, _columns) in _COPIES.items():
            keys = recent.filter(pl.col("source") == source).select(key=pl.col("source_key")).unique()
            frames[name] = self._semi_join(f"temp.{_temp(name)}", key, keys)
        return Records(**frames)

    def _semi_join(self, table: str, key: str, keys: pl.DataFrame) -> pl.DataFrame:
        _keys = keys.to_arrow()  # read by DuckDB's replacement scan of this local variable (not registered)
        sql = f"select * from {table} where {key} in (select key from _keys)"
        return pl.DataFrame(self.con.execute(sql).fetch_record_batch())

    def drop(self) -> None:
        """Drop the copies (after their last use)."""
        for name in _COPIES:
            self.con.execute(f"drop table if exists temp.{_temp(name)}").fetchall()


@contextmanager
def copied(con: duckdb.DuckDBPyConnection, after: dt.datetime) -> Iterator[RecordWindow]:
    """``RecordWindow.copy`` for the block, dropped at its end."""
    window = RecordWindow.copy(con, after)
    try:
        yield window
    finally:
        window.drop()


def _temp(name: str) -> str:
    return f"tiepulse_window_{name}"
