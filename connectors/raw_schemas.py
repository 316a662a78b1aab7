"""Arrow schemas of the raw tables (``sql/migrations``), so every connector hands the loader the same shape.

The loader inserts by column name; columns with defaults in the DDL (``imported_at``) are left out here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pyarrow as pa

UTC_TS = pa.timestamp("us", tz="UTC")
NON_PERSON_ADDRESSES = pa.list_(pa.struct([("address", pa.string()), ("reason", pa.string())]))
"""The record's addresses that the import classified as not people, with the reason (migration 018)."""

MAIL_MESSAGES = pa.schema(
    [
        ("message_key", pa.string()),
        ("mailbox_owner", pa.string()),
        ("source", pa.string()),
        ("source_file", pa.string()),
        ("source_position", pa.string()),
        ("message_id", pa.string()),
        ("sent_at", UTC_TS),
        ("from_address", pa.string()),
        ("from_name", pa.string()),
        (
            "recipients",
            pa.list_(pa.struct([("kind", pa.string()), ("address", pa.string()), ("name", pa.string())])),
        ),
        ("bad_address_count", pa.int32()),
        ("in_reply_to", pa.string()),
        ("references", pa.list_(pa.string())),
        ("is_reply", pa.bool_()),
        ("is_forward", pa.bool_()),
        ("subject_hash", pa.string()),
        ("thread_id", pa.string()),
        ("labels", pa.list_(pa.string())),
        ("folder", pa.string()),
        ("list_id", pa.string()),
        ("has_list_unsubscribe", pa.bool_()),
        ("precedence", pa.string()),
        ("auto_submitted", pa.string()),
        ("utc_offset_minutes", pa.int32()),
        ("subject_digest", pa.string()),
        ("x500_sender", pa.string()),
        (
            "x500_recipients",
            pa.list_(pa.struct([("kind", pa.string()), ("x500", pa.string()), ("address", pa.string())])),
        ),
        ("non_person_addresses", NON_PERSON_ADDRESSES),
    ]
)

CALENDAR_EVENTS = pa.schema(
    [
        ("event_key", pa.string()),
        ("calendar_owner", pa.string()),
        ("source", pa.string()),
        ("source_file", pa.string()),
        ("source_position", pa.string()),
        ("uid", pa.string()),
        ("recurrence_id", pa.string()),
        ("start_at", UTC_TS),
        ("end_at", UTC_TS),
        ("is_all_day", pa.bool_()),
        ("timezone", pa.string()),
        ("status", pa.string()),
        ("organizer_address", pa.string()),
        ("organizer_name", pa.string()),
        (
            "attendees",
            pa.list_(
                pa.struct(
                    [
                        ("address", pa.string()),
                        ("name", pa.string()),
                        ("response", pa.string()),
                        ("role", pa.string()),
                        ("is_resource", pa.bool_()),
                    ]
                )
            ),
        ),
        ("location", pa.string()),
        ("is_online", pa.bool_()),
        ("title_hash", pa.string()),
        ("series_id", pa.string()),
        ("updated_at", UTC_TS),
        ("sequence", pa.int32()),
        ("non_person_addresses", NON_PERSON_ADDRESSES),
    ]
)

GRAPH_EVENTS = CALENDAR_EVENTS.append(pa.field("show_as", pa.string()))
"""Graph events also keep ``showAs`` (free / busy / ...), which .ics and Google Calendar do not carry."""

MANUAL_INTERACTIONS = pa.schema(
    [
        ("row_key", pa.string()),
        ("owner", pa.string()),
        ("source_file", pa.string()),
        ("source_position", pa.string()),
        ("occurred_at", UTC_TS),
        ("person_address", pa.string()),
        ("person_name", pa.string()),
        ("channel", pa.string()),
        ("minutes", pa.float64()),
    ]
)

DIRECTORY = pa.schema(
    [
        ("email", pa.string()),
        ("other_emails", pa.list_(pa.string())),
        ("name", pa.string()),
        ("team", pa.string()),
        ("department", pa.string()),
        ("org_unit", pa.string()),
        ("manager_email", pa.string()),
        ("location", pa.string()),
        ("is_internal", pa.bool_()),
        ("source_file", pa.string()),
    ]
)

CONTACTS = pa.schema(
    [
        ("owner", pa.string()),
        ("email", pa.string()),
        ("bucket", pa.string()),
        ("cadence_days", pa.int32()),
        ("source_file", pa.string()),
    ]
)

SCHEMAS: dict[str, pa.Schema] = {
    "raw.mail_messages": MAIL_MESSAGES,
    "raw.gmail_messages": MAIL_MESSAGES,
    "raw.graph_messages": MAIL_MESSAGES,
    "raw.calendar_events": CALENDAR_EVENTS,
    "raw.gcal_events": CALENDAR_EVENTS,
    "raw.graph_events": GRAPH_EVENTS,
    "raw.manual_interactions": MANUAL_INTERACTIONS,
    "raw.directory": DIRECTORY,
    "raw.contacts": CONTACTS,
}


def to_table(table: str, rows: Iterable[Mapping[str, Any]]) -> pa.Table:
    """Rows (dicts) as an Arrow table of the raw table's schema; missing keys become nulls."""
    return pa.Table.from_pylist(list(rows), schema=SCHEMAS[table])
