"""Whose mailbox a file is, from the first messages when the user did not say.

Sample the first ``SAMPLE`` messages that parse (quarantined ones are ignored):
- A configured ego (any of their addresses) present in at least ``EGO_SHARE`` of them: ``configured_ego``.
- Takeout: the address present (as sender or recipient) in the most messages: ``takeout_account``.
- One sender writes at least ``SENT_SHARE`` of them (a Sent folder): that sender: ``sent_folder_sender``.
- Otherwise the address present in the most messages: ``most_frequent_address``. ``share`` is the fraction of
  sampled messages that support the guess. Ties go to the address seen first.
"""

from __future__ import annotations

from collections import Counter

import pyarrow as pa

from ..base import OwnerGuess

SAMPLE = 1_000
SENT_SHARE = 0.8
EGO_SHARE = 0.5
UNCERTAIN_SHARE = 0.6
"""Below this share of supporting messages a guess is reported as uncertain (pass --owner)."""


def guess_owner(sample: pa.Table, *, takeout: bool, egos: tuple[tuple[str, str], ...] = ()) -> OwnerGuess | None:
    """The owner of a mailbox from a sample of its parsed ``raw.mail_messages`` rows (at most ``SAMPLE``)."""
    total = sample.num_rows
    if not total:
        return None
    senders_column = sample.column("from_address").to_pylist()
    recipients_column = sample.column("recipients").to_pylist()
    senders: Counter[str] = Counter(senders_column)
    present: Counter[str] = Counter()
    for sender, recipients in zip(senders_column, recipients_column, strict=True):
        present.update(
            list(dict.fromkeys([sender, *(r["address"] for r in recipients)]))
        )  # ordered: ties go first-seen
    if egos:
        by_ego: Counter[str] = Counter()
        for address, ego in egos:
            by_ego[ego] = max(by_ego[ego], present[address])
        # The most present ego; among equals the one who sent the most (a Sent folder that cc's a colleague).
        ego = max(by_ego, key=lambda e: (by_ego[e], senders[e]))
        if by_ego[ego] / total >= EGO_SHARE:
            return OwnerGuess(ego, "configured_ego", by_ego[ego] / total)
    if not takeout:
        sender, count = senders.most_common(1)[0]
        if count / total >= SENT_SHARE:
            return OwnerGuess(sender, "sent_folder_sender", count / total)
    address, count = present.most_common(1)[0]
    return OwnerGuess(address, "takeout_account" if takeout else "most_frequent_address", count / total)
