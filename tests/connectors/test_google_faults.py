"""Every Google row of the fault table (docs/shared connector-facts.md) is survived with nothing lost or doubled."""

from __future__ import annotations

import email.utils
import itertools
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.clock import SimulatedClock
from tests.fakes.google_server import FakeGoogle
from tests.fakes.google_testbed import OWNER, Testbed, add_mail
from tiepulse.connectors.google.errors import GoogleAuthError
from tiepulse.connectors.http.retry import RetryPolicy
from tiepulse.pipelines.loader import LoadResult
from tiepulse.pipelines.providers.google import google_sources
from tiepulse.pipelines.sync import sync_account


@pytest.fixture
def fake() -> Iterator[FakeGoogle]:
    with FakeGoogle(slow_seconds=0.8) as server:
        yield server


@pytest.fixture
def bed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake: FakeGoogle) -> Iterator[Testbed]:
    testbed = Testbed(tmp_path, monkeypatch, fake)
    testbed.configure(gmail={"batch_size": 10, "list_page_size": 40, "commit_rows": 40})
    fake.generate_mailbox(OWNER, 120)
    yield testbed
    testbed.close()


def assert_exact(bed: Testbed) -> None:
    stored = bed.stored()
    assert set(stored) == bed.expected_ids()
    total, distinct = bed.con.execute(
        "select count(*), count(distinct (message_key, mailbox_owner)) from raw.gmail_messages"
    ).fetchall()[0]
    assert total == distinct == len(stored)


def has_page_token(query: dict[str, list[str]]) -> bool:
    return bool(query.get("pageToken"))


# (fault row, method, kind, options). Full-sync faults hit the first sync; history faults the incremental one.
FULL_SYNC_FAULTS: list[tuple[str, str, str, dict[str, Any]]] = [
    ("429 concurrency in batch parts", "gmail.messages.get", "429", {"times": 25, "skip": 3}),
    ("429 on the batch envelope", "gmail.batch", "429", {"times": 2}),
    ("403 userRateLimitExceeded on list", "gmail.messages.list", "403", {"times": 2}),
    ("403 userRateLimitExceeded in parts", "gmail.messages.get", "403", {"times": 12, "skip": 20}),
    ("403 rateLimitExceeded on list", "gmail.messages.list", "403_rate", {"times": 2}),
    ("403 rateLimitExceeded in parts", "gmail.messages.get", "403_rate", {"times": 12, "skip": 20}),
    ("429 quota in parts", "gmail.messages.get", "429_quota", {"times": 12, "skip": 5}),
    ("500 HTML on list", "gmail.messages.list", "500", {"times": 1, "where": has_page_token}),
    ("502 HTML on the batch", "gmail.batch", "502", {"times": 2, "skip": 1}),
    ("503 HTML in parts", "gmail.messages.get", "503", {"times": 4}),
    ("connection reset on the batch", "gmail.batch", "reset", {"times": 2, "skip": 2}),
    ("connection reset on getProfile", "gmail.getProfile", "reset", {"times": 1}),
    ("read timeout on list", "gmail.messages.list", "timeout", {"times": 1, "where": has_page_token}),
    ("read timeout on the batch", "gmail.batch", "timeout", {"times": 1, "skip": 4}),
    ("200 non-JSON on list", "gmail.messages.list", "non_json", {"times": 2}),
    ("200 non-JSON in parts", "gmail.messages.get", "non_json", {"times": 6}),
    ("batch reply not multipart", "gmail.batch", "not_multipart", {"times": 2, "skip": 1}),
    ("batch reply lacking a part", "gmail.batch", "missing_part", {"times": 3}),
    ("list page with a next token and no items", "gmail.messages.list", "empty_page", {"times": 1}),
    ("401 authError on list", "gmail.messages.list", "401", {"times": 1, "where": has_page_token}),
    ("401 authError inside a batch", "gmail.messages.get", "401", {"times": 1, "skip": 15}),
]


@pytest.mark.parametrize(
    ("method", "kind", "options"), [r[1:] for r in FULL_SYNC_FAULTS], ids=[r[0] for r in FULL_SYNC_FAULTS]
)
def test_full_sync_survives(bed: Testbed, fake: FakeGoogle, method: str, kind: str, options: dict[str, Any]) -> None:
    if kind == "timeout":
        # Only here may the client give up quickly (the fake answers after 0.8 s): a short timeout everywhere
        # would also cut ordinary answers that a busy machine is slow to give, and add retries the tests count.
        bed.configure(http={"timeout_seconds": 0.4})
    fault = fake.add_fault(method, kind, **options)
    bed.sync("gmail")
    assert fault.hits >= 1, "the fault was never injected"
    assert_exact(bed)
    assert bed.con.execute("select count(*) from ops.quarantine").fetchall()[0][0] == 0


HISTORY_FAULTS: list[tuple[str, str, dict[str, Any]]] = [
    ("429", "429", {"times": 2}),
    ("403 userRateLimitExceeded", "403", {"times": 1}),
    ("403 rateLimitExceeded", "403_rate", {"times": 1}),
    ("503 HTML", "503", {"times": 2}),
    ("reset", "reset", {"times": 1}),
    ("non-JSON", "non_json", {"times": 1}),
    ("replayed records", "replay_history", {"times": 3}),
]


@pytest.mark.parametrize(("kind", "options"), [r[1:] for r in HISTORY_FAULTS], ids=[r[0] for r in HISTORY_FAULTS])
def test_incremental_sync_survives(bed: Testbed, fake: FakeGoogle, kind: str, options: dict[str, Any]) -> None:
    bed.sync("gmail")
    box = fake.mailbox(OWNER)
    add_mail(box, 15)
    for ident in sorted(box.messages)[:4]:
        box.delete(ident)
    fault = fake.add_fault("gmail.history.list", kind, **options)
    bed.configure(gmail={"list_page_size": 6})
    bed.sync("gmail")
    assert fault.hits >= 1
    assert_exact(bed)


@pytest.mark.parametrize(
    "retry_after",
    ["2", "0.75", "http-date", None],
    ids=["integer", "fractional", "http-date", "missing"],
)
def test_retry_after_is_honoured(bed: Testbed, fake: FakeGoogle, retry_after: str | None) -> None:
    value = retry_after
    if retry_after == "http-date":
        value = email.utils.formatdate(time.time() + 60, usegmt=True)  # waits are recorded, not slept
    fake.add_fault("gmail.messages.list", "429", times=1, retry_after=value)
    fake.add_fault("gmail.messages.get", "429", times=3, retry_after=value)
    bed.sync("gmail")
    assert_exact(bed)
    assert len(bed.sleeps) >= 2
    if retry_after in ("2", "0.75"):
        assert bed.sleeps[0] == pytest.approx(float(retry_after))
        assert bed.sleeps[1] == pytest.approx(float(retry_after))
    elif retry_after == "http-date":
        assert 30.0 <= bed.sleeps[0] <= 60.5  # the date less the time the sync took to get there
    else:
        assert all(wait <= 0.05 for wait in bed.sleeps)  # exponential backoff with jitter (tiny in tests)


def test_persistent_concurrency_limit_shrinks_batches(bed: Testbed, fake: FakeGoogle) -> None:
    fake.max_batch_parts = 4  # every part past the 4th of a batch: 429 "Too many concurrent requests for user"
    bed.configure(gmail={"batch_size": 25})
    source = bed.sources("gmail")[0]
    sync_account(bed.con, source, pseudonym_key=None)
    assert_exact(bed)
    assert source.caller.batch_size in (4, 5)  # type: ignore[attr-defined]  # held at the limit, probing one more
    batches = fake.calls["gmail.batch"]
    assert batches <= 120 / 4 * 1.3  # one probe in GROW_AFTER + 1 batches is refused in part


def test_batches_grow_back_once_the_concurrency_limit_lifts(bed: Testbed, fake: FakeGoogle) -> None:
    fake.generate_mailbox(OWNER, 300, seed=3)
    fake.max_batch_parts = 4
    source = bed.sources("gmail")[0]
    sizes: list[int] = []  # the batch size after each committed page (the first page only fixes the history id)

    def on_page(stream: str, result: LoadResult) -> None:
        sizes.append(source.caller.batch_size)  # type: ignore[attr-defined]
        if len(sizes) == 2:
            fake.max_batch_parts = 50  # the burst of concurrent requests is over

    sync_account(bed.con, source, pseudonym_key=None, on_page=on_page)
    assert_exact(bed)
    assert sizes[0] == 10 and sizes[1] in (4, 5), sizes  # shrunk to what Gmail answered at once
    assert sizes[-1] == 10, sizes  # and grown back, one part at a time, to the configured size
    assert all(a <= b for a, b in itertools.pairwise(sizes[1:])), sizes


@pytest.mark.parametrize("status", [429, 403], ids=["429 quota", "403 userRateLimitExceeded"])
def test_quota_refusals_back_off_but_never_shrink_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, status: int
) -> None:
    # Gmail charges 20 units per messages.get while the config still says 5: the pacer lets four times too much
    # through and Gmail refuses the excess. Backing off is the cure; smaller batches spend the same units.
    # The fake's 1 s quota window runs on the clock the backoff sleeps on: with wall-clock time, how many rounds in
    # a row were refused depended on how fast each request went (a fast run fills the whole window at once and
    # then waits out a full second in jittered sleeps of 0.2 s on average, a slow one fills it gradually).
    clock = SimulatedClock()
    with FakeGoogle(
        quota_units=600, quota_period=1.0, quota_status=status, costs={"gmail.messages.get": 20}, clock=clock.time
    ) as fake:
        bed = Testbed(tmp_path, monkeypatch, fake)
        bed.configure(gmail={"batch_size": 10, "commit_rows": 100})
        fake.generate_mailbox(OWNER, 60)
        waits: list[float] = []

        def sleep(seconds: float) -> None:
            waits.append(seconds)
            clock.sleep(seconds)

        retry = RetryPolicy(max_attempts=12, base_delay=0.2, max_delay=0.4, sleep=sleep, rng=random.Random(0))
        source = google_sources(bed.settings, source="gmail", retry=retry)[0]
        sync_account(bed.con, source, pseudonym_key=None)
        assert_exact(bed)
        bed.close()
    assert fake.quota.rejections > 0  # the quota did bite
    assert source.caller.batch_size == 10  # type: ignore[attr-defined]
    assert fake.calls["gmail.batch"] <= 6 + len(waits) and len(waits) <= 20


def test_expired_access_token_is_refreshed_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Tokens live 0.3 s (on a simulated clock, so a busy machine cannot expire one mid-retry) but announce an hour:
    # the client only learns from the 401.
    clock = SimulatedClock()
    with FakeGoogle(token_lifetime=0.3, clock=clock.time) as fake:
        bed = Testbed(tmp_path, monkeypatch, fake)
        fake.generate_mailbox(OWNER, 60)
        bed.configure(gmail={"batch_size": 10, "commit_rows": 10})
        source = bed.sources("gmail")[0]

        def slow(stream: str, result: Any) -> None:
            clock.sleep(0.35)

        sync_account(bed.con, source, pseudonym_key=None, on_page=slow)
        assert_exact(bed)
        assert fake.calls["token"] >= 3  # refreshed after 401s, and the sync went on
        bed.close()


def test_revoked_grant_fails_with_reconnect_instructions(bed: Testbed, fake: FakeGoogle) -> None:
    bed.sync("gmail")
    fake.revoke_access_tokens()
    fake.refuse_refresh("invalid_grant")
    add_mail(fake.mailbox(OWNER), 3)
    with pytest.raises(GoogleAuthError, match="domain-wide delegation"):
        bed.sync("gmail")
    fake.refuse_refresh(None)
    bed.sync("gmail")
    assert_exact(bed)


def test_persistent_401_fails_clearly(bed: Testbed, fake: FakeGoogle) -> None:
    fake.add_fault("gmail.getProfile", "401", times=5)
    with pytest.raises(GoogleAuthError, match="TIEPULSE_GOOGLE_SERVICE_ACCOUNT_FILE"):
        bed.sync("gmail")
    assert fake.calls["token"] == 2  # the first grant and one refresh, no more


def test_token_endpoint_invalid_client_fails_clearly(bed: Testbed, fake: FakeGoogle) -> None:
    fake.add_fault("token", "token_401", times=1)
    with pytest.raises(GoogleAuthError, match="refused"):
        bed.sync("gmail")


@pytest.mark.parametrize("kind", ["token_429", "token_500"])
def test_token_endpoint_throttling_is_retried(bed: Testbed, fake: FakeGoogle, kind: str) -> None:
    fake.add_fault("token", kind, times=1, retry_after="0")
    bed.sync("gmail")
    assert_exact(bed)
    assert fake.calls["token"] >= 2


def test_a_list_page_that_stays_malformed_is_quarantined_and_resumed_later(bed: Testbed, fake: FakeGoogle) -> None:
    fault = fake.add_fault("gmail.messages.list", "non_json", times=99, where=has_page_token)
    bed.sync("gmail")  # does not raise
    reasons = bed.con.execute("select reason, source_position from ops.quarantine").fetchall()
    assert [r[0] for r in reasons] == ["malformed_response"] and reasons[0][1].startswith("messages.list:")
    assert 0 < len(bed.stored()) < 120
    cursor = bed.con.execute("select cursor from ops.sync_state where source = 'gmail'").fetchall()[0][0]
    assert '"mode": "full"' in cursor  # parked where it stopped
    fault.times = 0
    bed.sync("gmail")
    assert_exact(bed)
