"""Records in batches, and a batch of header blocks -> an Arrow table of ``raw.mail_messages`` rows plus the rejects.

This is the unit of work for both the in-process path and the worker processes (an Arrow table travels
between processes as compact buffers, much cheaper than pickled row tuples). Within a batch, a Message-ID seen
twice keeps its first row; across batches the page builder (and the loader's insert-or-ignore) does the same.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

from ..base import ImportContext, Reject
from ..raw_schemas import MAIL_MESSAGES
from . import owner
from .reading import ReadProblems, Record, iter_records
from .records import COLUMNS, KEY, MessageParser, Row

BATCH = 20_000
"""Messages per unit of work (a worker batch, at most a page); pages are made of whole batches' results."""
Item = tuple[str, bytes, str | None]
"""(position, header block, folder)"""
Batch = tuple[pa.Table, list[Reject]]

_SENT_AT = COLUMNS.index("sent_at")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)


def batch_size(ctx: ImportContext) -> int:
    return max(1, min(BATCH, ctx.page_size))


def batched(records: Iterator[Record], size: int) -> Iterator[tuple[list[Item], str]]:
    """Records in batches of ``size``, each with the cursor after its last record."""
    while batch := list(itertools.islice(records, size)):
        yield [(position, block, folder) for position, block, folder, _ in batch], batch[-1][3]


def head_batches(path: Path, fmt: str, size: int, problems: ReadProblems | None = None) -> list[tuple[list[Item], str]]:
    """The first ``owner.SAMPLE`` messages of a file (owner inference reads them), in batches of ``size``."""
    return list(batched(itertools.islice(iter_records(path, fmt, None, problems), owner.SAMPLE), size))


def rows_table(rows: list[Row]) -> pa.Table:
    """Row tuples (schema order) as an Arrow table of ``raw.mail_messages``."""
    if not rows:
        return MAIL_MESSAGES.empty_table()
    columns: list[list[object]] = [list(col) for col in zip(*rows, strict=True)]
    # Timestamps as integer microseconds: pyarrow converts them without per-value timezone handling.
    columns[_SENT_AT] = [(d - _EPOCH) // _MICROSECOND for d in columns[_SENT_AT]]  # type: ignore[operator]
    return pa.Table.from_arrays(
        [pa.array(col, type=field.type) for col, field in zip(columns, MAIL_MESSAGES, strict=True)],
        schema=MAIL_MESSAGES,
    )


def parse_batch(parser: MessageParser, items: list[Item]) -> Batch:
    rows: list[Row] = []
    rejects: list[Reject] = []
    seen: set[str] = set()
    parse = parser.parse
    for position, block, folder in items:
        result = parse(position, block, folder)
        if isinstance(result, Reject):
            rejects.append(result)
        elif result[KEY] not in seen:
            seen.add(result[KEY])
            rows.append(result)
    return rows_table(rows), rejects
