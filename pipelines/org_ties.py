"""The organisation graph's ties of one window, folded and summed by DuckDB from the interactions, out of core.

An interaction row is one ego's view of a contact; its ``actor`` gives the direction (the ego wrote: ego -> alter,
the alter wrote: alter -> ego, both took part: both). The same message or meeting seen from several observed
mailboxes is counted once per direction (folded on source, source key, sender and receiver). Only the window's rows
are read and only one row per person pair comes back (weight, messages, meeting minutes), so Polars and igraph hold
a people-sized edge list whatever the number of interactions (docs/architecture.md, "Memory model").
"""

from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl

_HALF = 2**32
_CONTACT = "{'channel': channel, 'weight': weight, 'shared_minutes': shared_minutes}"
_ROW_HASH = "hash(ego_id, alter_id, actor, source, source_key, occurred_at, channel, weight, shared_minutes)"
_SUMS = f"coalesce(sum(h % {_HALF}), 0), coalesce(sum(h // {_HALF}), 0)"


class WindowTies:
    """The person-to-person ties of any window (exclusive start, inclusive end) of ``relation``'s interactions."""

    def __init__(self, con: duckdb.DuckDBPyConnection, relation: str) -> None:
        self.con = con
        self.relation = relation

    @classmethod
    def of_frame(cls, interactions: pl.DataFrame) -> WindowTies:
        """The ties of an interactions frame already in memory (a private in-memory DuckDB reads it)."""
        con = duckdb.connect()
        con.execute("set TimeZone = 'UTC'")
        con.register("interactions", interactions.to_arrow())
        return cls(con, "interactions")

    def _in_window(self) -> str:
        return f"{self.relation} where occurred_at > $start and occurred_at <= $stop"

    def ties(self, start: dt.datetime, stop: dt.datetime) -> pl.DataFrame:
        """One row per directed person pair (``src``, ``dst``) with an interaction in the window: ``weight`` (summed),
        ``messages`` (emails) and ``meeting_minutes`` (shared minutes of meetings), each message or meeting once."""
        rows = self._in_window()
        sql = f"""
            select src, dst, coalesce(sum(c.weight), 0)::double as weight,
                count(*) filter (where c.channel = 'email') as messages,
                coalesce(sum(c.shared_minutes) filter (where c.channel = 'meeting'), 0)::double as meeting_minutes
            from (
                select src, dst, any_value(contact) as c from (
                    select ego_id as src, alter_id as dst, source, source_key, {_CONTACT} as contact
                    from {rows} and actor in ('ego', 'both')
                    union all
                    select alter_id, ego_id, source, source_key, {_CONTACT}
                    from {rows} and actor in ('alter', 'both')
                ) group by src, dst, source, source_key
            ) group by src, dst
        """
        frame = pl.DataFrame(self.con.execute(sql, {"start": start, "stop": stop}).fetch_arrow_table())
        return frame.cast({"messages": pl.Int64})

    def checksum(self, start: dt.datetime, stop: dt.datetime) -> str:
        """Order-insensitive checksum of the window's interaction rows (the columns the ties are built from)."""
        sql = f"select count(*), {_SUMS} from (select {_ROW_HASH} as h from {self._in_window()})"
        n, lo, hi = self.con.execute(sql, {"start": start, "stop": stop}).fetchone() or (0, 0, 0)
        return f"{n}:{lo}:{hi}"

    def checksums(self, windows: list[tuple[dt.datetime, dt.datetime]]) -> list[str]:
        """``checksum`` of each window. Windows of whole UTC days (``period_window``'s: each month's 90 days) are
        summed from one scan's sums per day, not each scanned again (the sums add up exactly)."""
        if not windows or not all(_day_end(start) and _day_end(stop) for start, stop in windows):
            return [self.checksum(start, stop) for start, stop in windows]
        sql = f"""
            select timezone('UTC', occurred_at)::date as day, count(*) as n, {_SUMS}
            from (select occurred_at, {_ROW_HASH} as h from {self._in_window()}) group by day
        """
        first, last = min(start for start, _ in windows), max(stop for _, stop in windows)
        days = self.con.execute(sql, {"start": first, "stop": last}).fetchall()
        found = []
        for start, stop in windows:
            after, until = start.astimezone(dt.UTC).date(), stop.astimezone(dt.UTC).date()
            inside = [row[1:] for row in days if after < row[0] <= until]
            found.append(":".join(str(sum(part)) for part in zip(*inside, strict=True)) if inside else "0:0:0")
        return found

    def first_day(self, until: dt.datetime) -> dt.date | None:
        """The UTC day of the first interaction at or before ``until``."""
        sql = f"select min(occurred_at) from {self.relation} where occurred_at <= $until"
        first = (self.con.execute(sql, {"until": until}).fetchone() or (None,))[0]
        if first is None:
            return None
        return first.astimezone(dt.UTC).date() if first.tzinfo else first.date()


def _day_end(instant: dt.datetime) -> bool:
    """True for the last microsecond of a UTC day (``as_of_instant``'s)."""
    after = (instant + dt.timedelta(microseconds=1)).astimezone(dt.UTC)
    return after.time() == dt.time()
