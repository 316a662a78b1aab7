"""Batches of ``(position, header block, folder)`` -> the rows and rejects ``batches.parse_batch`` gives for each.

``parse_batches`` parses several batches (of one import: the same context) in one columnar pass, so many small
files cost one pass, not one each; when they hold fewer than ``COLUMNAR_MIN`` messages in all, ``MessageParser``
parses them instead (the columnar pass has a fixed cost of about 80 Polars operations, which small batches do not
earn back). In the columnar pass a row is taken from the columns only when every check ``MessageParser`` makes
passes (a sender, a plausible date, a usable recipient when recipients are named, a Message-ID) on exactly read
fields; every other row is parsed by its batch's ``MessageParser``, in order, so rejects and their excerpts are its
own. Rows keep batch order; within a batch a Message-ID seen twice keeps its first row.
"""

from __future__ import annotations

from bisect import bisect_right
from itertools import accumulate, chain

import polars as pl

from ...base import Reject
from ...raw_schemas import MAIL_MESSAGES
from .. import batches
from ..batches import Batch, Item, rows_table
from ..records import COLUMNS, MessageParser, Row
from .addresses import address_columns
from .dates import sent_at, utc_offset
from .fields import header_fields
from .non_person import non_person_column
from .text import block_text, null_if_empty
from .values import labels, lower, message_id, references, subject_columns

Part = tuple[MessageParser, list[Item]]
COLUMNAR_MIN = 1_500
"""Messages (in all parts) from which the columnar pass is faster than ``MessageParser`` on one core."""


def _per_item(parts: list[Part], value: list[str]) -> pl.Expr:
    """A per-batch constant, per item (by the item's batch number ``g``)."""
    return pl.lit(pl.Series(value, dtype=pl.String)).gather(pl.col("g"))


def _columns(parts: list[Part], items: list[Item]) -> tuple[pl.DataFrame, pl.Series]:
    """Every item's ``raw.mail_messages`` columns (plus ``r``, ``g``) as far as they are exact, and which are not."""
    parser = parts[0][0]
    positions, blocks, folders = (list(column) for column in zip(*items, strict=True))
    text, unsafe = block_text(blocks)
    fields, inexact = header_fields(text)
    addresses = address_columns(fields, parser.lists)
    sizes = pl.Series([len(batch) for _, batch in parts], dtype=pl.UInt32)
    extra = [
        sent_at(fields["date"]),
        utc_offset(fields["date"]),
        labels(fields["x-gmail-labels"]).alias("labels"),
        pl.Series("source_position", positions, pl.String),
        pl.Series("item_folder", folders, pl.String),
        pl.Series("g", range(len(parts)), pl.UInt32).repeat_by(sizes).explode(),
    ]
    frame = pl.concat(
        [fields, addresses.drop("r"), subject_columns(fields["subject"], parser.ctx.subject_key, parser.ctx.copy_key)],
        how="horizontal",
    ).with_columns(extra)
    window = parser.ctx.plausibility
    mid = message_id(pl.col("message-id"))
    exact = (
        ~pl.lit(unsafe)
        & ~pl.lit(inexact)
        & pl.col("from_address").is_not_null()
        & pl.col("sent_at").is_between(window.earliest, window.latest).fill_null(False)
        & ~((pl.col("recipients").list.len() == 0) & (pl.col("recipient_bad") > 0))
        & mid.is_not_null()
        # an Exchange X.500 path in X-From / X-To / X-cc: MessageParser reads those (exchange.py)
        & ~pl.any_horizontal(pl.col(f).str.contains("(?i)/o=").fill_null(False) for f in ("x-from", "x-to", "x-cc"))
    )
    rows = frame.select(
        "r",
        "g",
        exact.alias("exact"),
        mid.str.to_lowercase().alias("message_key"),
        _per_item(parts, [p.owner for p, _ in parts]).alias("mailbox_owner"),
        _per_item(parts, [p.source for p, _ in parts]).alias("source"),
        _per_item(parts, [p.source_file for p, _ in parts]).alias("source_file"),
        "source_position",
        mid.alias("message_id"),
        "sent_at",
        "from_address",
        "from_name",
        "recipients",
        (pl.col("from_bad") + pl.col("recipient_bad")).cast(pl.Int32).alias("bad_address_count"),
        message_id(pl.col("in-reply-to")).alias("in_reply_to"),
        references(pl.col("references")).alias("references"),
        "is_reply",
        "is_forward",
        "subject_hash",
        null_if_empty(pl.col("x-gm-thrid")).alias("thread_id"),
        "labels",
        pl.coalesce(null_if_empty(pl.col("item_folder")), null_if_empty(pl.col("x-folder"))).alias("folder"),
        lower(message_id(pl.col("list-id"))).alias("list_id"),
        (pl.col("list-unsubscribe").str.len_bytes() > 0).fill_null(False).alias("has_list_unsubscribe"),
        lower(pl.col("precedence")).alias("precedence"),
        lower(pl.col("auto-submitted")).alias("auto_submitted"),
        "utc_offset_minutes",
        "subject_digest",
        pl.lit(None, pl.String).alias("x500_sender"),
        pl.lit(None, pl.List(pl.Struct({"kind": pl.String, "x500": pl.String, "address": pl.String}))).alias(
            "x500_recipients"
        ),
    )
    taken = rows.filter("exact").drop("exact")
    taken = taken.join(non_person_column(taken, parser.lists.normaliser), on="r", how="left", maintain_order="left")
    return taken, ~rows["exact"]


def parse_batches(parts: list[Part]) -> list[Batch]:
    """``batches.parse_batch(parser, items)`` of every part: in one columnar pass, or by ``MessageParser`` when few."""
    if sum(len(items) for _, items in parts) < COLUMNAR_MIN:
        return [batches.parse_batch(parser, items) for parser, items in parts]
    return parse_columnar(parts)


def parse_columnar(parts: list[Part]) -> list[Batch]:
    """``batches.parse_batch(parser, items)`` of every part, computed together (one import: one context)."""
    if any(parser.ctx != parts[0][0].ctx for parser, _ in parts):
        raise ValueError("parse_columnar: every part must come from the same import context")
    items = list(chain.from_iterable(batch for _, batch in parts))
    if not items:
        return [(MAIL_MESSAGES.empty_table(), []) for _ in parts]
    rows, inexact = _columns(parts, items)
    rejects: list[list[Reject]] = [[] for _ in parts]
    others: list[Row] = []
    numbers: list[int] = []
    starts = list(accumulate((len(batch) for _, batch in parts), initial=0))
    for i in inexact.arg_true().to_list():
        g = bisect_right(starts, i) - 1
        result = parts[g][0].parse(*items[i])
        if isinstance(result, Reject):
            rejects[g].append(result)
        else:
            others.append(result)
            numbers.append(i)
    if others:
        parsed = pl.from_arrow(rows_table(others))
        assert isinstance(parsed, pl.DataFrame)
        g_of = [bisect_right(starts, i) - 1 for i in numbers]
        numbered = parsed.with_columns(pl.Series("r", numbers, pl.UInt32), pl.Series("g", g_of, pl.UInt32))
        rows = pl.concat([rows, numbered.select(rows.columns)]).sort("r")
    rows = rows.filter(pl.struct("g", "message_key").is_first_distinct())
    counts = rows["g"].value_counts(sort=False).sort("g")
    per_part = dict(zip(counts["g"].to_list(), counts["count"].to_list(), strict=True))
    table = rows.select(COLUMNS).to_arrow().cast(MAIL_MESSAGES)
    out: list[Batch] = []
    offset = 0
    for g in range(len(parts)):
        n = per_part.get(g, 0)
        out.append((table.slice(offset, n), rejects[g]))
        offset += n
    return out


def parse_batch(parser: MessageParser, items: list[Item]) -> Batch:
    """Rows (an Arrow table of ``raw.mail_messages``) and rejects of ``items``, as ``batches.parse_batch``."""
    return parse_batches([(parser, items)])[0]
