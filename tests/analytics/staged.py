"""A tiny staged warehouse for the asset and report tests: the staging tables the analytics assets read, written
from the hand-made frames of ``builders``, and a helper that materialises the analytics assets on it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import polars as pl
import pytest

from tests.analytics import builders as b
from tiepulse.core.warehouse import connect
from tiepulse.pipelines.assets.analytics import analytics_assets
from tiepulse.pipelines.assets.introductions import mart_introductions
from tiepulse.pipelines.assets.ona import ona_assets
from tiepulse.pipelines.resources import WarehouseResource

EGO, ANA, ZED, BOB = "me@acme.com", "ana@client.com", "zed@acme.com", "bob@acme.com"
NEWCOMER = "new@elsewhere.org"
"""Seen only in AS_OF's month, and only when staged with ``newcomer``."""
ANA_ALIAS = "ana.ruiz@client.com"
"""Another address of Ana's (identity resolution maps it to ANA)."""
AS_OF = dt.date(2026, 3, 12)
START = dt.datetime(2025, 9, 1, 10, tzinfo=dt.UTC)


def mail(key: str, at: dt.datetime, sender: str, to: str) -> tuple[dict[str, Any], tuple[str, str]]:
    return {"message_key": key, "sent_at": at, "sender_id": sender, "n_recipients": 1}, (key, to)


def corpus(extra: int = 0, newcomer: bool = False) -> list[tuple[dict[str, Any], tuple[str, str]]]:
    """Ana and me write every 6 days (alternately) until six weeks before AS_OF; Bob and me weekly to AS_OF;
    me writes Zed four times, unanswered. ``extra`` adds mails to Bob in AS_OF's month; ``newcomer`` a mail from
    NEWCOMER, never seen before, in AS_OF's month."""
    last_ana = AS_OF - dt.timedelta(days=42)
    rows = [
        mail(f"a{k}", START + dt.timedelta(days=6 * k), *((EGO, ANA) if k % 2 else (ANA, EGO)))
        for k in range((last_ana - START.date()).days // 6)
    ]
    rows += [
        mail(f"b{k}", START + dt.timedelta(days=7 * k + 1), *((EGO, BOB) if k % 2 else (BOB, EGO)))
        for k in range((AS_OF - START.date()).days // 7)
    ]
    rows += [mail(f"z{k}", START + dt.timedelta(days=150 + 5 * k), EGO, ZED) for k in range(4)]
    rows += [mail(f"x{k}", dt.datetime(2026, 3, 2 + k, 11, tzinfo=dt.UTC), EGO, BOB) for k in range(extra)]
    rows += [mail("n0", dt.datetime(2026, 3, 5, 9, tzinfo=dt.UTC), NEWCOMER, EGO)] if newcomer else []
    return rows


def people(bob_team: str = "core", newcomer: bool = False) -> pl.DataFrame:
    return b.persons(
        [
            {"person_id": EGO, "team": "core", "department": "eng", "is_ego": True},
            {"person_id": ANA, "display_name": "Ana Ruiz", "is_internal": False},
            {"person_id": ZED, "team": "core", "department": "eng"},
            {"person_id": BOB, "team": bob_team, "department": "eng", "is_ego": True},
            *([{"person_id": NEWCOMER, "is_internal": False}] if newcomer else []),
        ]
    )


def stage_home(home: Path) -> None:
    """A fresh warehouse under ``home`` with the staging tables written."""
    con = connect(home / "warehouse.duckdb")
    stage(con)
    con.close()


def stage(con: duckdb.DuckDBPyConnection, extra: int = 0, bob_team: str = "core", newcomer: bool = False) -> None:
    """Write the tables the analytics assets read (as the SQL models would)."""
    rows = corpus(extra, newcomer)
    messages = b.messages([m for m, _ in rows])
    sightings = pl.concat(
        [
            messages.select("message_key", mailbox_owner="sender_id", from_address="sender_id", sent_at="sent_at"),
            b.recipients([r for _, r in rows])
            .join(messages, on="message_key")
            .select("message_key", mailbox_owner="person_id", from_address="sender_id", sent_at="sent_at"),
        ]
    )
    tables = {
        "marts.fct_messages": messages,
        "marts.fct_message_recipients": b.recipients([r for _, r in rows]),
        "marts.fct_events": b.events([]),
        "marts.fct_event_attendees": b.attendees([]),
        "marts.fct_manual_interactions": b.manual([]),
        "marts.dim_ego": b.egos([{"ego_id": EGO}, {"ego_id": BOB}]),
        "marts.dim_contact": b.contacts([]),
        "marts.dim_person": people(bob_team, newcomer),
        "staging.stg_mail_sightings": sightings,
        "intermediate.int_observation_windows": mailbox_windows(sightings),
        "intermediate.int_addresses_resolved": pl.DataFrame(
            {"address": [EGO, ANA, ZED, BOB, ANA_ALIAS, NEWCOMER], "person_id": [EGO, ANA, ZED, BOB, ANA, NEWCOMER]}
        ),
    }
    for name, frame in tables.items():
        con.register("_frame", frame.to_arrow())
        con.execute(f"create or replace table {name} as select * from _frame").fetchall()
        con.unregister("_frame")


def mailbox_windows(sightings: pl.DataFrame) -> pl.DataFrame:
    """The observation windows ``intermediate.int_observation_windows`` holds for these sightings: one mailbox (no
    folders) per owner."""
    sent = pl.col("from_address") == pl.col("mailbox_owner")
    return (
        sightings.group_by(owner="mailbox_owner")
        .agg(
            first_item=pl.col("sent_at").min(),
            last_item=pl.col("sent_at").max(),
            n_items=pl.len().cast(pl.Int64),
            n_sent=sent.sum().cast(pl.Int64),
            n_received=(~sent).sum().cast(pl.Int64),
        )
        .with_columns(
            kind=pl.lit("mail"),
            source=pl.lit("mbox"),
            folder=pl.lit(None, dtype=pl.String),
            folder_role=pl.lit("mailbox"),
            direction=pl.when(pl.col("n_received") == 0)
            .then(pl.lit("sent_only"))
            .when(pl.col("n_sent") == 0)
            .then(pl.lit("received_only"))
            .otherwise(pl.lit("both")),
        )
        .sort("owner")
    )


def run_assets(instance: dg.DagsterInstance | None = None) -> dict[str, dict[str, Any]]:
    """Materialise the analytics, ONA and introductions assets; metadata per asset name."""
    assets = [*analytics_assets, *ona_assets, mart_introductions]
    result = dg.materialize(assets, instance=instance, resources={"warehouse": WarehouseResource()})
    assert result.success
    out = {}
    for event in result.get_asset_materialization_events():
        materialization = event.event_specific_data.materialization  # type: ignore[union-attr]
        out[materialization.asset_key.path[-1]] = {k: v.value for k, v in materialization.metadata.items()}
    return out


def query(home: Path, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


def restage(home: Path, **changes: Any) -> None:
    con = connect(home / "warehouse.duckdb")
    stage(con, **changes)
    con.close()


def publish_home(home: Path) -> Path:
    """``home`` staged and its analytics published as of AS_OF (the environment is restored afterwards)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TIEPULSE_HOME", str(home))
        mp.setenv("TIEPULSE_AS_OF", AS_OF.isoformat())
        mp.delenv("TIEPULSE_CONFIG", raising=False)
        stage_home(home)
        run_assets()
    return home
