"""Shared set-up for the Microsoft connector tests: the fake, settings pointing at it, quick retries."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from tests.fakes.microsoft_server import FakeMicrosoft, message
from tiepulse.connectors.http.retry import RetryPolicy
from tiepulse.connectors.sync_source import SyncSource
from tiepulse.core.settings import Settings
from tiepulse.pipelines.loader import LoadResult
from tiepulse.pipelines.providers.microsoft import microsoft_sources
from tiepulse.pipelines.sync import sync_account

ANN = "ann@contoso.com"
BOB = "bob@contoso.com"
AS_OF = dt.date(2024, 6, 1)


def quick_policy(max_attempts: int = 6) -> RetryPolicy:
    """Backoff and Retry-After honoured in shape but capped at 50 ms, so tests never wait for real."""
    return RetryPolicy(
        max_attempts=max_attempts, base_delay=0.01, max_delay=0.05, sleep=lambda s: time.sleep(min(s, 0.05))
    )


@pytest.fixture(name="fake")
def fake_server(tmp_path: Path) -> Iterator[FakeMicrosoft]:
    with FakeMicrosoft(tmp_path / "tls") as server:
        yield server


def configure(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fake: FakeMicrosoft, **microsoft: Any) -> Settings:
    """Environment for app-only access through ``fake`` and a config file with the ``microsoft`` options."""
    options: dict[str, Any] = {"mailboxes": [ANN, BOB], "page_size": 5, "timeout_seconds": 2.0, **microsoft}
    config = tmp_path / "tiepulse.yaml"
    config.write_text(yaml.safe_dump({"microsoft": options}))
    for key, value in fake.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("TIEPULSE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TIEPULSE_CONFIG", str(config))
    monkeypatch.setenv("TIEPULSE_AS_OF", AS_OF.isoformat())
    return Settings()


def sync(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    *,
    source: str | None = None,
    account: str | None = None,
    policy: RetryPolicy | None = None,
) -> tuple[LoadResult, list[SyncSource]]:
    total = LoadResult()
    sources = microsoft_sources(settings, source=source, account=account, retry=policy or quick_policy())
    for src in sources:
        total.add(sync_account(con, src, pseudonym_key=settings.hmac_key))
    return total, sources


def mailbox_rows(con: duckdb.DuckDBPyConnection, owner: str | None = None) -> list[tuple[Any, ...]]:
    where = "where mailbox_owner = ?" if owner else ""
    return con.execute(
        "select mailbox_owner, message_key, source_position, folder, from_address, "
        "[r.address for r in recipients] from raw.graph_messages "
        f"{where} order by mailbox_owner, message_key",
        [owner] if owner else [],
    ).fetchall()


def seed(fake: FakeMicrosoft, n: int = 12) -> None:
    """Ann writes Bob ``n`` messages (Ann's Sent, Bob's Inbox); Bob answers half of them."""
    for i in range(n):
        mid = f"m{i}@contoso.com"
        sent = f"2024-03-{1 + i % 28:02d}T09:00:00Z"
        fake.put_message(ANN, "sentitems", message(f"ann-s-{i}", mid, ANN, [BOB], ["carol@fabrikam.com"], sent=sent))
        fake.put_message(BOB, "inbox", message(f"bob-i-{i}", mid, ANN, [BOB], ["carol@fabrikam.com"], sent=sent))
        if i % 2 == 0:
            rid = f"r{i}@contoso.com"
            reply = message(f"bob-s-{i}", rid, BOB, [ANN], sent=sent.replace("09:", "10:"), subject="RE: plan")
            fake.put_message(BOB, "sentitems", reply)
            fake.put_message(ANN, "inbox", {**reply, "id": f"ann-i-{i}"})
