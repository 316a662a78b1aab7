"""The inputs of the communities of practice, read from the warehouse (list posts, who received them, series)."""

from __future__ import annotations

import duckdb

from tiepulse.pipelines import network_io as tables
from tiepulse.pipelines.analytics.practice import PracticeInputs
from tiepulse.pipelines.marts_io import read_table

MAIL_SIGHTINGS = "staging.stg_mail_sightings"
MESSAGE_COPIES = "intermediate.int_message_copies_matched"

PRACTICE_INPUTS = (
    tables.MESSAGES,
    MAIL_SIGHTINGS,
    MESSAGE_COPIES,
    tables.ADDRESSES,
    tables.EVENTS,
    tables.EVENT_ATTENDEES,
    tables.PERSONS,
)
"""The tables ``read_practice_inputs`` reads."""

_POSTS = f"""(
    select list_id, message_key, message_id, sender_id, sent_at, in_reply_to,
        coalesce("references"[1], in_reply_to, message_id) as root_id
    from {tables.MESSAGES}
    where list_id is not null
) p"""
# an imported mailbox holding a list post: its owner receives the list (a copy folds into its message)
_RECEIPTS = f"""(
    select distinct s.list_id, coalesce(c.folded_into, s.message_key) as message_key, o.person_id
    from {MAIL_SIGHTINGS} s
    join {tables.ADDRESSES} o on o.address = s.mailbox_owner
    left join {MESSAGE_COPIES} c on c.message_key = s.message_key
    where s.list_id is not null
) r"""
_ATTENDANCE = f"""(
    select e.series_id, e.event_key, e.start_at, a.person_id, a.response, a.is_organizer
    from {tables.EVENTS} e
    join {tables.EVENT_ATTENDEES} a using (event_key)
    where e.series_id is not null and not e.is_cancelled and not e.is_all_day
) a"""
_PERSONS = f"""(
    select person_id, display_name, team, department
    from {tables.PERSONS}
    where is_person and not is_automated
) d"""


def read_practice_inputs(con: duckdb.DuckDBPyConnection) -> PracticeInputs:
    return PracticeInputs(
        posts=read_table(con, _POSTS),
        receipts=read_table(con, _RECEIPTS),
        attendance=read_table(con, _ATTENDANCE),
        persons=read_table(con, _PERSONS),
    )
