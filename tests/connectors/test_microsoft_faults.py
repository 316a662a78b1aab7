"""Every Microsoft fault of the table survived (or failed clearly), resyncs clean, throttling limits kept."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.connectors.microsoft_support import (  # noqa: F401
    ANN,
    BOB,
    configure,
    fake_server,
    mailbox_rows,
    quick_policy,
    seed,
    sync,
)
from tests.fakes.microsoft_server import FakeMicrosoft, Throttle, message
from tiepulse.connectors.microsoft import MicrosoftAuthError
from tiepulse.connectors.microsoft.graph import GraphUnavailable
from tiepulse.pipelines.providers.microsoft import microsoft_connection


def clean_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake: FakeMicrosoft) -> list[tuple[Any, ...]]:
    """What an uninterrupted sync stores for the fake's current mail (owner, key, id, folder, from, to/cc)."""
    rows = []
    for owner, box in fake.mailboxes.items():
        for folder in ("inbox", "sentitems"):
            for item in box.folders[folder].current.values():
                people = [r["emailAddress"]["address"] for r in (*item["toRecipients"], *item["ccRecipients"])]
                key = item["internetMessageId"].strip("<>").lower()
                rows.append((owner, key, item["id"], folder, item["from"]["emailAddress"]["address"], people))
    return sorted(rows, key=lambda r: (r[0], r[1]))


FAULTS = [
    ("/messages/delta", "429", {"retry_after": "int", "code": "TooManyRequests"}),
    ("/messages/delta", "429", {"retry_after": "fraction", "code": "ApplicationThrottled"}),
    ("/messages/delta", "429", {"retry_after": "date"}),
    ("/messages/delta", "429", {"retry_after": None}),
    ("/messages/delta", "500", {}),
    ("/messages/delta", "502", {}),
    ("/messages/delta", "503", {"retry_after": "0.01"}),
    ("/messages/delta", "reset", {}),
    ("/messages/delta", "timeout", {"delay": 1.0}),
    ("/messages/delta", "non_json", {}),
    ("/messages/delta", "401", {}),
    ("/messages/delta", "expire_tokens", {}),
    ("/oauth2/v2.0/token", "token_429", {"retry_after": "0"}),
    ("/oauth2/v2.0/token", "503", {"retry_after": "0"}),
]


@pytest.mark.parametrize(("match", "kind", "params"), FAULTS, ids=[f"{k}-{p}" for _, k, p in FAULTS])
def test_each_fault_is_survived(
    fake: FakeMicrosoft,
    warehouse: duckdb.DuckDBPyConnection,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    match: str,
    kind: str,
    params: dict[str, Any],
) -> None:
    seed(fake, n=6)
    expected = clean_rows(tmp_path, monkeypatch, fake)
    fake.inject(match, kind, times=1 if kind in ("401", "expire_tokens") else 2, **params)
    # Only a timeout fault needs a client that gives up quickly (the fake answers after 1 s); elsewhere the usual
    # 2 s, so that a busy machine's slow answer is not taken for a fault.
    settings = configure(monkeypatch, tmp_path, fake, **({"timeout_seconds": 0.4} if kind == "timeout" else {}))
    sync(warehouse, settings, source="outlook")
    assert mailbox_rows(warehouse) == expected
    assert all(f.times == 0 for f in fake.faults), "the fault was never served"


def test_a_token_refused_twice_fails_with_how_to_reconnect(
    fake: FakeMicrosoft, warehouse: duckdb.DuckDBPyConnection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(fake, n=2)
    fake.inject("/messages/delta", "401", times=10)
    settings = configure(monkeypatch, tmp_path, fake, folders=["inbox"])
    with pytest.raises(MicrosoftAuthError, match="twice") as info:
        sync(warehouse, settings, source="outlook")
    assert "admin consent" in str(info.value)
    grants = [r for r in fake.token_requests if r.get("grant_type") == "client_credentials"]
    assert len(grants) == 2  # the first token, then exactly one refresh


def test_requests_refused_together_share_one_refresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeMicrosoft(tmp_path / "tls", latency=0.05) as server:
        seed(server, n=6)
        settings = configure(monkeypatch, tmp_path, server, mailboxes=[ANN], page_size=2)
        con = duckdb.connect(str(tmp_path / "w.duckdb"))
        from tiepulse.core.warehouse import migrate

        migrate(con)
        sync(con, settings, source="outlook")
        server.inject("/messages/delta", "expire_tokens", times=1)  # every token in flight is refused at once
        server.put_message(ANN, "inbox", message("ann-i-late", "late@x.org", "x@x.org", [ANN]))
        server.put_message(ANN, "sentitems", message("ann-s-late", "late2@x.org", ANN, ["x@x.org"]))
        result, _ = sync(con, settings, source="outlook")
        con.close()
        assert result.inserted == {"raw.graph_messages": 2}
        grants = [r for r in server.token_requests if r.get("grant_type") == "client_credentials"]
        assert len(grants) == 3  # a token per sync, and one refresh for both folders


def test_invalid_client_fails_clearly_without_the_secret(
    fake: FakeMicrosoft, warehouse: duckdb.DuckDBPyConnection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = configure(monkeypatch, tmp_path, fake)
    monkeypatch.setenv("TIEPULSE_MS_CLIENT_SECRET", "wrong-secret-value")
    with pytest.raises(MicrosoftAuthError, match="invalid_client") as info:
        sync(warehouse, settings, source="outlook")
    assert "wrong-secret-value" not in str(info.value)
    assert "TIEPULSE_MS_CLIENT_ID" in str(info.value)


@pytest.mark.parametrize("style", ["410", "syncStateNotFound", "SyncStateNotFound", "resyncRequired"])
def test_resync_restarts_the_folder_cleanly(
    fake: FakeMicrosoft,
    warehouse: duckdb.DuckDBPyConnection,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    style: str,
) -> None:
    seed(fake, n=8)
    fake.resync_style = style
    settings = configure(monkeypatch, tmp_path, fake, page_size=3)
    # Mid-paging: the state expires while the first full sync walks its nextLinks.
    fake.inject("$skiptoken=0.", "invalidate", times=1)
    _, sources = sync(warehouse, settings, source="outlook")
    # Ann's folders are read side by side: the one paging when the state expired resyncs, and the other too when
    # it was paging as well.
    assert sum(getattr(s, "resyncs", 0) for s in sources) in (1, 2)
    # After the sync: new mail and an expired deltaLink.
    fake.put_message(ANN, "inbox", message("ann-i-late", "late@x.org", "x@x.org", [ANN]))
    fake.invalidate_delta(ANN)
    _, sources = sync(warehouse, settings, source="outlook")
    assert sum(getattr(s, "resyncs", 0) for s in sources) == 2  # Ann's two folders
    assert mailbox_rows(warehouse) == clean_rows(tmp_path, monkeypatch, fake)
    dupes = warehouse.execute(
        "select count(*) - count(distinct (mailbox_owner, message_key)) from raw.graph_messages"
    ).fetchone()
    assert dupes == (0,)


@pytest.mark.parametrize("kind", ["410", "resyncRequired"])
def test_resync_answers_on_a_stored_link_are_followed(
    fake: FakeMicrosoft,
    warehouse: duckdb.DuckDBPyConnection,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    kind: str,
) -> None:
    seed(fake, n=4)
    settings = configure(monkeypatch, tmp_path, fake)
    sync(warehouse, settings, source="outlook")
    fake.inject("$deltatoken=", kind, times=1)
    _, sources = sync(warehouse, settings, source="outlook")
    assert sum(getattr(s, "resyncs", 0) for s in sources) == 1
    assert mailbox_rows(warehouse) == clean_rows(tmp_path, monkeypatch, fake)


def test_giving_up_after_retries_is_a_clear_typed_error(
    fake: FakeMicrosoft, warehouse: duckdb.DuckDBPyConnection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(fake, n=2)
    fake.inject("/users/ann@contoso.com/mailFolders/inbox", "503", times=100, retry_after="0")
    settings = configure(monkeypatch, tmp_path, fake, mailboxes=[ANN])
    with pytest.raises(GraphUnavailable) as info:
        sync(warehouse, settings, source="outlook", policy=quick_policy(max_attempts=3))
    assert info.value.status == 503
    text = str(info.value)
    assert "/users/ann@contoso.com/mailFolders/inbox/messages/delta" in info.value.request and "3 attempts" in text
    assert "sync again later" in text and "$skiptoken" not in text
    inbox = [p for _, p, _ in fake.requests if "/mailFolders/inbox/" in p]
    assert len(inbox) == 3
    state = warehouse.execute("select count(*) from ops.sync_state where status = 'complete'").fetchone()
    assert state == (0,)  # the mailbox is not marked up to date


def test_a_token_endpoint_that_keeps_failing_is_an_auth_error(
    fake: FakeMicrosoft, warehouse: duckdb.DuckDBPyConnection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.inject("/oauth2/v2.0/token", "reset", times=100)
    settings = configure(monkeypatch, tmp_path, fake, mailboxes=[ANN])
    with pytest.raises(MicrosoftAuthError, match="token endpoint kept failing"):
        sync(warehouse, settings, source="outlook", policy=quick_policy(max_attempts=2))


def test_concurrency_never_exceeds_four_per_mailbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeMicrosoft(tmp_path / "tls", latency=0.03, gate=4, throttle=Throttle(concurrency=4)) as server:
        seed(server, n=2)
        settings = configure(monkeypatch, tmp_path, server)
        conn = microsoft_connection(settings, retry=quick_policy())
        url = f"/users/{ANN}/mailFolders/inbox/messages/delta"
        errors: list[BaseException] = []

        def hammer() -> None:
            try:
                for _ in range(4):
                    conn.client.get(url, mailbox=ANN)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=hammer) for _ in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        stats = server.stats(ANN)
        assert not errors
        assert stats.requests == 48
        assert stats.max_inflight == 4 and stats.throttled_concurrency == 0


def test_request_budget_is_paced_not_hit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    throttle = Throttle(concurrency=4, rate=40.0, burst=5, retry_after="fraction")
    with FakeMicrosoft(tmp_path / "tls", throttle=throttle) as server:
        seed(server, n=20)
        # The client knows the budget: 40 requests a second per mailbox with bursts of 5 (paced 10 % under, so that
        # jitter on a loaded machine, with two folders in flight, stays inside the fake's slack).
        settings = configure(
            monkeypatch, tmp_path, server, page_size=2, requests_per_window=36, window_seconds=1.0, pace_burst=3
        )
        con = duckdb.connect(str(tmp_path / "paced.duckdb"))
        from tiepulse.core.warehouse import migrate

        migrate(con)
        sync(con, settings, source="outlook")
        assert len(mailbox_rows(con)) == 60
        con.close()
        for box in (ANN, BOB):
            stats = server.stats(box)
            assert stats.requests > 10
            assert stats.throttled_budget == 0 and stats.throttled_concurrency == 0
