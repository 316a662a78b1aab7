"""``MailFileSource``: one mail file or folder as pages of ``raw.mail_messages`` rows, rejects and a cursor.

``source`` is ``takeout`` for Google Takeout, ``mbox`` for plain and gzip mbox, else the format (maildir,
eml). ``source_file`` is the resolved path, so the same file named two ways quarantines nothing twice. The head
(the first ``owner.SAMPLE`` messages) of an mbox file of an import with a ``ParseAhead`` (``ctx.workers`` > 1)
comes parsed from it. Past the head, files smaller than ``PARALLEL_MIN_BYTES`` (or with ``ctx.workers`` = 1) are
parsed in this process; larger mbox files are framed here and parsed in the import's worker processes (without a
``ParseAhead``, in ``ctx.workers`` processes of their own).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from ..base import ImportContext, OwnerGuess, Page, Reject, Unreadable
from ..raw_schemas import MAIL_MESSAGES
from . import owner as owner_guess
from .batches import Batch, Item, batch_size, batched, head_batches
from .columnar import parse_batch
from .reading import MBOX_FORMATS, ReadProblems, iter_records
from .records import MessageParser
from .workers import ParsePool

if TYPE_CHECKING:
    from .ahead import ParseAhead

TABLE = "raw.mail_messages"
PARALLEL_MIN_BYTES = 8 * 1024 * 1024
FORMATS = ("mbox", "takeout", "mbox.gz", "maildir", "eml")
_OWNER = MAIL_MESSAGES.get_field_index("mailbox_owner")
_OWNER_FIELD = MAIL_MESSAGES.field(_OWNER)


class MailFileSource:
    """A claimed mail path (see ``tiepulse.connectors.mail.claims``) as a ``tiepulse.connectors.files.FileSource``."""

    def __init__(self, path: Path, format: str) -> None:
        if format not in FORMATS:
            raise ValueError(f"unknown mail format {format!r}; expected one of {FORMATS}")
        self.path = path
        self.format = format
        self.source = "mbox" if format == "mbox.gz" else format
        self._head: tuple[ImportContext, list[tuple[Batch, str]], list[Unreadable]] | None = None
        self.ahead: ParseAhead | None = None
        """Set by the import's ``ParseAhead`` while it runs."""

    @property
    def source_file(self) -> str:
        return str(self.path.resolve())

    def _parser(self, ctx: ImportContext) -> MessageParser:
        # Rows are parsed without an owner (it is set per page), so the batch read for owner inference is reused.
        return MessageParser(ctx, owner="", source=self.source, source_file=self.source_file)

    def _head_batches(self, ctx: ImportContext) -> tuple[list[tuple[Batch, str]], list[Unreadable]]:
        """The file's first ``owner.SAMPLE`` messages, parsed once in page-sized batches, and the message files
        among them that could not be read: owner inference reads them, and ``pages`` from the start of the file
        reuses them."""
        if self._head is None or self._head[0] != ctx:
            parsed = self.ahead.head(self, ctx) if self.ahead is not None else None  # mbox: no message files
            problems = ReadProblems()
            if parsed is None:
                parser = self._parser(ctx)
                head = head_batches(self.path, self.format, batch_size(ctx), problems)
                parsed = [(parse_batch(parser, items), after) for items, after in head]
            self._head = (ctx, parsed, problems.unreadable)
        return self._head[1], self._head[2]

    def infer_owner(self, ctx: ImportContext) -> OwnerGuess | None:
        tables = [table for (table, _), _ in self._head_batches(ctx)[0]]
        if not tables:
            return None
        return owner_guess.guess_owner(
            pa.concat_tables(tables), takeout=self.format == "takeout", egos=ctx.ego_addresses
        )

    def _parallel(self, ctx: ImportContext) -> bool:
        if ctx.workers <= 1 or self.format not in MBOX_FORMATS:
            return False
        return self.path.stat().st_size >= PARALLEL_MIN_BYTES

    def _parse(self, batches: Iterator[tuple[list[Item], str]], ctx: ImportContext) -> Iterator[tuple[Batch, str]]:
        if self.ahead is not None and self._parallel(ctx):
            yield from self.ahead.pool.parse_in_workers(batches, source=self.source, source_file=self.source_file)
        elif self._parallel(ctx):
            with ParsePool(ctx) as pool:
                yield from pool.parse_in_workers(batches, source=self.source, source_file=self.source_file)
        else:
            parser = self._parser(ctx)
            for items, after in batches:
                yield parse_batch(parser, items), after

    def pages(self, owner: str, ctx: ImportContext, cursor: str | None) -> Iterator[Page]:
        """Pages of rows and rejects; then, when something could not be read, a page that quarantines where an
        mbox broke off and names the message files and folders that could not be opened."""
        problems = ReadProblems()
        head: list[tuple[Batch, str]] = []
        if cursor is None:
            head, unreadable = self._head_batches(ctx)
            if head:
                cursor = head[-1][1]
                problems.unreadable.extend(unreadable)
        batches = batched(iter_records(self.path, self.format, cursor, problems), batch_size(ctx))
        rest = self._parse(batches, ctx)
        last = cursor
        for page in self._paginate(itertools.chain(head, rest), ctx.page_size, owner):
            last = page.cursor
            yield page
        if problems.broken or problems.unreadable:
            rejects = [self._broken(problem, last) for problem in problems.broken]
            # A part after the head's last record is met again by the read after it: name it once.
            yield Page(rejects=rejects, unreadable=list(dict.fromkeys(problems.unreadable)), cursor=last)

    def _broken(self, problem: str, cursor: str | None) -> Reject:
        return Reject(
            kind="message",
            source=self.source,
            source_file=self.source_file,
            position=cursor or "0",
            reason="unreadable_file",
            detail=f"reading stopped here: {problem}",
        )

    def _paginate(self, parsed: Iterable[tuple[Batch, str]], page_size: int, owner: str) -> Iterator[Page]:
        tables: list[pa.Table] = []
        rejects: list[Reject] = []
        count = 0
        last: str | None = None
        for (table, batch_rejects), after in parsed:
            if tables:  # a Message-ID repeated across batches of a page: keep the first
                seen = pa.concat_arrays([t.column("message_key").combine_chunks() for t in tables])
                table = table.filter(pc.invert(pc.is_in(table.column("message_key"), value_set=seen)))
            tables.append(table)
            rejects.extend(batch_rejects)
            count += table.num_rows + len(batch_rejects)
            last = after
            if count >= page_size:
                yield self._page(tables, rejects, after, owner)
                tables, rejects, count = [], [], 0
        if tables or rejects:
            yield self._page(tables, rejects, last, owner)

    @staticmethod
    def _page(tables: list[pa.Table], rejects: list[Reject], cursor: str | None, owner: str) -> Page:
        rows = pa.concat_tables(tables) if tables else MAIL_MESSAGES.empty_table()
        rows = rows.set_column(_OWNER, _OWNER_FIELD, pa.repeat(pa.scalar(owner, pa.string()), rows.num_rows))
        return Page(rows={TABLE: rows}, rejects=rejects, cursor=cursor)
