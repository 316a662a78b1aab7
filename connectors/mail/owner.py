"""Whose mailbox a file is, from the first messages when the user did not say.

Sample the first ``SAMPLE`` messages that parse (quarantined ones are ignored):
- Takeout: the address present (as sender or recipient) in the most messages: ``takeout_account``.
- One sender writes at least ``SENT_SHARE`` of them (a Sent folder): that sender: ``sent_folder_sender``.
- Otherwise the address present in the most messages: ``most_frequent_address``. ``share`` is the fraction of
  sampled messages that support the guess. Ties go to the address seen first.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from connectors.base import OwnerGuess
from connectors.mail.records import FROM, RECIPIENTS, Row

SAMPLE = 1_000
SENT_SHARE = 0.8


def guess_owner(rows: Iterable[Row], *, takeout: bool) -> OwnerGuess | None:
    senders: Counter[str] = Counter()
    present: Counter[str] = Counter()
    total = 0
    for row in rows:
        total += 1
        sender = row[FROM]
        senders[sender] += 1
        present.update({sender, *(r[1] for r in row[RECIPIENTS])})
    if not total:
        return None
    if not takeout:
        sender, count = senders.most_common(1)[0]
        if count / total >= SENT_SHARE:
            return OwnerGuess(sender, "sent_folder_sender", count / total)
    address, count = present.most_common(1)[0]
    return OwnerGuess(address, "takeout_account" if takeout else "most_frequent_address", count / total)
