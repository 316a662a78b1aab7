"""Files: mail exports, calendars and CSVs, imported by content (``tiepulse.pipelines.file_import``)."""

from __future__ import annotations

from tiepulse.pipelines.providers.spec import FileProvider, RawTable

FILES = FileProvider(
    key="files",
    tables=(
        RawTable("raw.mail_messages", ("message_key", "mailbox_owner"), "keep", owner="mailbox_owner"),
        RawTable("raw.calendar_events", ("event_key", "calendar_owner"), "replace", owner="calendar_owner"),
        RawTable("raw.manual_interactions", ("row_key",), "keep"),
        # snapshots: the newest file says what is true now
        RawTable("raw.directory", ("email",), "replace"),
        RawTable("raw.contacts", ("owner", "email"), "replace"),
    ),
)
