"""The vectorised header parser: a batch of header blocks -> the same Arrow table and rejects as ``MessageParser``.

``parse_batches`` (in ``batch.py``) takes the blocks of its batches as one Arrow/Polars string column and extracts
fields, dates, address lists and subject flags with column expressions (Rust regular expressions over the whole
column), normalising only the batch's distinct raw addresses and names through ``AddressNormaliser``. Every row
it cannot do exactly (non-ASCII or NUL bytes, repeated To/Cc/Bcc lines, a date or address list of an unusual
shape that leaves the row without a sender or date, no Message-ID, any row that would be quarantined) goes to
``MessageParser``, the reference implementation, so rows and rejects are identical to it; so are batches too small
to earn the columnar pass's fixed cost. Tests compare both.
"""

from __future__ import annotations

from .batch import parse_batch, parse_batches

__all__ = ["parse_batch", "parse_batches"]
