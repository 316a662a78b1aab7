"""Tiny staging frames for hand-computed tests: give only the columns a case is about."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

from tiepulse.pipelines.analytics.interactions import INTERACTION_SCHEMA

UTC = dt.UTC
TS = pl.Datetime("us", "UTC")


def at(day: str, hour: int = 10, minute: int = 0) -> dt.datetime:
    """``at("2026-03-02", 9)`` -> 2026-03-02 09:00 UTC."""
    d = dt.date.fromisoformat(day)
    return dt.datetime(d.year, d.month, d.day, hour, minute, tzinfo=UTC)


def _frame(rows: list[dict[str, Any]], schema: dict[str, Any], defaults: dict[str, Any]) -> pl.DataFrame:
    full = [{**defaults, **row} for row in rows]
    return pl.DataFrame(full, schema=schema, orient="row") if full else pl.DataFrame(schema=schema)


MESSAGE_SCHEMA = {
    "message_key": pl.String,
    "message_id": pl.String,
    "sent_at": TS,
    "sender_id": pl.String,
    "n_recipients": pl.Int32,
    "in_reply_to": pl.String,
    "references": pl.List(pl.String),
    "is_reply": pl.Boolean,
    "is_forward": pl.Boolean,
    "subject_hash": pl.String,
    "thread_id": pl.String,
    "list_id": pl.String,
    "is_automated": pl.Boolean,
    "mailbox_count": pl.Int32,
}


def messages(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Rows need message_key, sent_at, sender_id, n_recipients; message_id defaults to the key."""
    defaults: dict[str, Any] = {
        "in_reply_to": None,
        "references": [],
        "is_reply": False,
        "is_forward": False,
        "subject_hash": None,
        "thread_id": None,
        "list_id": None,
        "is_automated": False,
        "mailbox_count": 1,
    }
    full = [{"message_id": r["message_key"], **r} for r in rows]
    return _frame(full, MESSAGE_SCHEMA, defaults)


def recipients(rows: list[tuple[str, str]] | list[tuple[str, str, str]]) -> pl.DataFrame:
    """(message_key, person_id[, kind])."""
    data = [{"message_key": r[0], "person_id": r[1], "kind": r[2] if len(r) > 2 else "to"} for r in rows]
    return _frame(data, {"message_key": pl.String, "person_id": pl.String, "kind": pl.String}, {})


EVENT_SCHEMA = {
    "event_key": pl.String,
    "series_id": pl.String,
    "start_at": TS,
    "end_at": TS,
    "duration_minutes": pl.Float64,
    "is_all_day": pl.Boolean,
    "status": pl.String,
    "is_cancelled": pl.Boolean,
    "organizer_id": pl.String,
    "is_online": pl.Boolean,
    "has_location": pl.Boolean,
    "n_attendees": pl.Int32,
}


def events(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Rows need event_key, start_at, duration_minutes, organizer_id, n_attendees."""
    defaults = {
        "series_id": None,
        "is_all_day": False,
        "status": "confirmed",
        "is_cancelled": False,
        "is_online": True,
        "has_location": False,
    }
    full = [{"end_at": r["start_at"] + dt.timedelta(minutes=r["duration_minutes"]), **r} for r in rows]
    return _frame(full, EVENT_SCHEMA, defaults)


def attendees(rows: list[tuple[Any, ...]]) -> pl.DataFrame:
    """(event_key, person_id, response[, is_organizer])."""
    data = [
        {
            "event_key": r[0],
            "person_id": r[1],
            "response": r[2],
            "is_organizer": r[3] if len(r) > 3 else False,
            "is_optional": False,
        }
        for r in rows
    ]
    schema = {
        "event_key": pl.String,
        "person_id": pl.String,
        "response": pl.String,
        "is_organizer": pl.Boolean,
        "is_optional": pl.Boolean,
    }
    return _frame(data, schema, {})


def manual(rows: list[dict[str, Any]]) -> pl.DataFrame:
    schema = {
        "row_key": pl.String,
        "ego_id": pl.String,
        "person_id": pl.String,
        "occurred_at": TS,
        "channel": pl.String,
        "minutes": pl.Float64,
    }
    return _frame(rows, schema, {"minutes": None})


def egos(rows: list[dict[str, Any]]) -> pl.DataFrame:
    schema = {
        "ego_id": pl.String,
        "name": pl.String,
        "timezone": pl.String,
        "work_start_hour": pl.Int32,
        "work_end_hour": pl.Int32,
        "work_days": pl.List(pl.Int32),
    }
    defaults = {
        "name": None,
        "timezone": "UTC",
        "work_start_hour": 8,
        "work_end_hour": 17,
        "work_days": [0, 1, 2, 3, 4],
    }
    return _frame(rows, schema, defaults)


PERSON_SCHEMA = {
    "person_id": pl.String,
    "display_name": pl.String,
    "domain": pl.String,
    "is_internal": pl.Boolean,
    "team": pl.String,
    "department": pl.String,
    "org_unit": pl.String,
    "manager_id": pl.String,
    "is_automated": pl.Boolean,
    "non_person_reason": pl.String,
    "is_person": pl.Boolean,
    "is_ego": pl.Boolean,
    "is_unresolved": pl.Boolean,
}


def persons(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Rows need person_id; domain defaults to the address's domain."""
    defaults = {
        "display_name": None,
        "is_internal": True,
        "team": None,
        "department": None,
        "org_unit": None,
        "manager_id": None,
        "is_automated": False,
        "is_ego": False,
        "is_unresolved": False,
    }
    full = []
    for r in rows:
        reason = r.get("non_person_reason", "automated" if r.get("is_automated") else None)
        full.append(
            {"domain": r["person_id"].split("@")[-1], "non_person_reason": reason, "is_person": reason is None, **r}
        )
    return _frame(full, PERSON_SCHEMA, defaults)


def contacts(rows: list[dict[str, Any]]) -> pl.DataFrame:
    schema = {"ego_id": pl.String, "person_id": pl.String, "bucket": pl.String, "cadence_days": pl.Int32}
    return _frame(rows, schema, {"bucket": None, "cadence_days": None})


def interactions(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Interaction rows for tie tests; rows need ego_id, alter_id, occurred_at, channel."""
    defaults = {
        "direction": "ego_initiated",
        "actor": "ego",
        "is_response": False,
        "group_size": 1,
        "minutes": None,
        "shared_minutes": None,
        "is_in_person": False,
        "is_after_hours": False,
        "source": "email",
        "weight": None,
    }
    full = [{"source_key": f"k{i}", **row} for i, row in enumerate(rows)]
    return _frame(full, INTERACTION_SCHEMA, defaults)


def observation(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """``observe_egos`` rows: ``ego_id``, ``data_start``, ``data_end``; inbound mail observed over the same span
    as ``inbound_start`` (default none: a sent folder only); calendar from ``calendar_end``."""
    from tiepulse.pipelines.analytics.coverage import OBSERVATION_SCHEMA

    filled = [
        {
            "inbound_end": r["data_end"] if r.get("inbound_start") else None,
            "calendar_end": None,
            "data_status": "current",
            "inbound_observed": bool(r.get("inbound_start")),
            "inbound_start": None,
            **r,
        }
        for r in rows
    ]
    return pl.DataFrame(filled, schema=OBSERVATION_SCHEMA)
