"""A fake Google on 127.0.0.1: Gmail, Calendar and the OAuth token endpoint, over real HTTP.

It speaks the wire format the client library expects (response shapes as in the bundled discovery documents
``gmail.v1.json`` and ``calendar.v3.json``), so tests drive the real ``googleapiclient`` / ``google-auth`` stack
through ``TIEPULSE_GOOGLE_API_ENDPOINT`` and ``TIEPULSE_GOOGLE_TOKEN_URI``:

- Gmail: ``users.getProfile``, ``users.messages.list`` (keyset page tokens, SPAM/TRASH hidden unless
  ``includeSpamTrash``, ``labelIds`` = has all), ``users.messages.get`` (``format=metadata`` with
  ``metadataHeaders``; ``full``/``raw`` and ``q`` refused under the metadata scope, as Google does),
  ``users.history.list`` (history ids, 404 ``notFound`` below the oldest kept id), multipart batches at
  ``/batch/gmail/v1``.
- Calendar: ``calendarList.list``, ``events.list`` with page tokens and sync tokens (410 ``fullSyncRequired`` when
  expired; parameters Google refuses alongside a sync token answer 400).
- OAuth: ``/token`` for refresh-token, service-account (JWT bearer; ``aud`` is not checked) and authorization-code
  grants; ``/o/oauth2/auth`` redirects straight back with a code (installed-app flow). Access tokens can live less
  than the ``expires_in`` they announce, to provoke 401s.
- A quota meter per user (units per method, a budget per sliding window) answering 429 ``rateLimitExceeded``
  ("Quota exceeded for quota metric ...") or 403 ``userRateLimitExceeded`` when exceeded; batch parts beyond
  ``max_batch_parts`` answer 429 "Too many concurrent requests for user".
- Injectable faults (``Fault``): 429 (concurrency or quota) / 403 (``userRateLimitExceeded`` or
  ``rateLimitExceeded``) rate limits (optionally with ``Retry-After`` in any form) also inside
  batch parts, 401 ``authError``, 410 mid-paging, 500/502/503 with an HTML body, connection reset, read timeout,
  a 200 with a non-JSON body, a batch reply that is not multipart or lacks a part, a page with a next token and
  no items, replayed history records, and token-endpoint 401 ``invalid_client`` / 429 / 5xx.

Every response is written with one ``sendall`` on a ``TCP_NODELAY`` socket (see connector-facts.md).
Run standalone (``python -m tests.fakes.google_server``) it prints its URL and takes commands at ``/_fake/control``.
"""

from __future__ import annotations

import base64
import bisect
import collections
import datetime as dt
import json
import math
import random
import secrets
import socket
import struct
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

GMAIL_METADATA = "https://www.googleapis.com/auth/gmail.metadata"
GMAIL_SCOPES = frozenset(
    {
        GMAIL_METADATA,
        "https://www.googleapis.com/auth/gmail.readonly",
        "https://www.googleapis.com/auth/gmail.modify",
        "https://mail.google.com/",
    }
)
CALENDAR_SCOPES = frozenset(
    {
        "https://www.googleapis.com/auth/calendar.readonly",
        "https://www.googleapis.com/auth/calendar.events.readonly",
        "https://www.googleapis.com/auth/calendar",
    }
)
COSTS: dict[str, float] = {
    "gmail.getProfile": 1,
    "gmail.messages.list": 5,
    "gmail.messages.get": 5,
    "gmail.history.list": 2,
    "calendar.calendarList.list": 1,
    "calendar.events.list": 1,
}
REASONS = {200: "OK", 302: "Found", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found"}
REASONS |= {410: "Gone", 429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway"}
REASONS |= {503: "Service Unavailable"}
HOLD_LIMIT_SECONDS = 120  # a held request is let go by then even if its test forgot to
HISTORY_TYPES = ("messageAdded", "messageDeleted", "labelAdded", "labelRemoved")
CONCURRENCY_MESSAGE = "Too many concurrent requests for user"
QUOTA_MESSAGE = (
    "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user' of service "
    "'gmail.googleapis.com' for consumer 'project_number:100000000001'."
)


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json; charset=UTF-8"
    headers: dict[str, str] = field(default_factory=dict)
    action: str | None = None
    """``reset`` (abort the connection) or ``timeout`` (answer only after the client gave up)."""


def json_response(status: int, payload: Any, **headers: str) -> Response:
    return Response(status, json.dumps(payload, separators=(",", ":")).encode(), headers=dict(headers))


def google_error(status: int, message: str, reason: str, domain: str = "global", **headers: str) -> Response:
    statuses = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND"}
    statuses |= {410: "ABORTED", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}
    error = {"domain": domain, "reason": reason, "message": message}
    body = {"error": {"code": status, "message": message, "errors": [error], "status": statuses.get(status, "")}}
    return json_response(status, body, **headers)


def html_error(status: int) -> Response:
    text = f"<html><head><title>{status}</title></head><body><h1>{status} {REASONS.get(status, '')}</h1></body></html>"
    return Response(status, text.encode(), content_type="text/html; charset=UTF-8")


# ------------------------------------------------------------------------------------------------ faults


@dataclass
class Fault:
    """Answer matching requests wrongly, ``times`` times, after letting ``skip`` of them through.

    ``method``: a method name (``gmail.messages.get``, ``gmail.messages.list``, ``gmail.history.list``,
    ``gmail.getProfile``, ``gmail.batch`` (the envelope), ``calendar.events.list``, ``token``) or ``*``.
    ``kind``: ``429`` (concurrency), ``429_quota``, ``403`` (``userRateLimitExceeded``), ``403_rate``
    (``rateLimitExceeded``), ``401``, ``410``, ``500``/``502``/``503`` (HTML body), ``reset``, ``timeout``,
    ``non_json``, ``not_multipart``, ``missing_part`` (batch envelope only), ``empty_page`` (list pages),
    ``replay_history``, ``token_401``, ``token_429``, ``token_500``, ``hold`` (the request waits, with ``held``
    set, until the test sets ``release``, then is answered as usual: a caller caught mid-way, to kill it there).
    ``where``: an extra predicate on the request's query parameters (e.g. only requests with a ``pageToken``);
    the request path is under the key ``_path``. ``hold_seconds``: a held request is let go by then anyway.
    """

    method: str
    kind: str
    times: int = 1
    skip: int = 0
    retry_after: str | None = None
    where: Callable[[dict[str, list[str]]], bool] | None = None
    hold_seconds: float = HOLD_LIMIT_SECONDS
    hits: int = 0
    seen: int = 0
    held: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    def matches(self, method: str, query: dict[str, list[str]]) -> bool:
        if self.method not in ("*", method) or self.hits >= self.times:
            return False
        if self.where is not None and not self.where(query):
            return False
        self.seen += 1
        if self.seen <= self.skip:
            return False
        self.hits += 1
        return True


# ------------------------------------------------------------------------------------------------ mailboxes


@dataclass
class FakeMessage:
    id: str
    thread_id: str
    internal_date: int
    """Epoch milliseconds."""
    labels: list[str]
    history_id: int
    headers: list[tuple[str, str]] | None = None
    seed: int = 0
    """Synthetic messages build their headers from this number on demand (big mailboxes stay small)."""


PEOPLE = [f"person{n:03d}@example.org" for n in range(200)]
SUBJECTS = ["Quarterly plan", "Re: Lunch?", "Fwd: slides", "Re: Re: contract", "Intro", "[team] weekly notes"]


def synthetic_headers(message: FakeMessage, owner: str) -> list[tuple[str, str]]:
    n = message.seed
    when = dt.datetime.fromtimestamp(message.internal_date / 1000, tz=dt.UTC)
    sender = owner if n % 3 == 0 else PEOPLE[n % len(PEOPLE)]
    to = ", ".join(PEOPLE[(n * 7 + k) % len(PEOPLE)] for k in range(1 + n % 3)) if sender == owner else owner
    headers = [
        ("From", f'"Person {n % 97}" <{sender}>'),
        ("To", to),
        ("Date", when.strftime("%a, %d %b %Y %H:%M:%S +0000")),
        ("Subject", SUBJECTS[n % len(SUBJECTS)]),
        ("Message-ID", f"<m{n}.{message.id}@mail.example.org>"),
    ]
    if n % 4 == 1:
        headers.append(("Cc", PEOPLE[(n * 3) % len(PEOPLE)]))
    if n % 5 == 2:
        headers.append(("In-Reply-To", f"<m{n - 1}@mail.example.org>"))
        headers.append(("References", f"<m{n - 2}@mail.example.org> <m{n - 1}@mail.example.org>"))
    if n % 11 == 3:
        headers.append(("List-Id", "Team list <team.example.org>"))
        headers.append(("List-Unsubscribe", "<mailto:leave@example.org>"))
    return headers


class Mailbox:
    """One Gmail mailbox: messages, labels and the history of changes."""

    def __init__(self, email: str, *, first_id: int = 0x18C0000000000000, first_history: int = 5000) -> None:
        self.email = email
        self.messages: dict[str, FakeMessage] = {}
        self.next_id = first_id
        self.history_id = first_history
        self.oldest_history = first_history
        self.history: list[dict[str, Any]] = []
        """Records in id order: {"id", "type", "message": FakeMessage snapshot dict, "labels": changed ids}."""
        self._keys: list[tuple[int, int]] | None = None
        self._order: list[str] = []

    # -- changes

    def _record(self, kind: str, message: FakeMessage, labels: Iterable[str] = ()) -> None:
        self.history_id += 1 + (self.history_id % 3 == 0)  # ids increase but are not contiguous
        message.history_id = self.history_id
        ref = {"id": message.id, "threadId": message.thread_id, "labelIds": list(message.labels)}
        self.history.append({"id": self.history_id, "type": kind, "message": ref, "labels": list(labels)})

    def add(
        self,
        headers: list[tuple[str, str]] | None = None,
        *,
        when: dt.datetime | None = None,
        labels: Iterable[str] = ("INBOX", "UNREAD"),
        thread_id: str | None = None,
        seed: int | None = None,
        record: bool = True,
    ) -> FakeMessage:
        self.next_id += 1 + (self.next_id % 7 == 0)
        ident = f"{self.next_id:016x}"
        stamp = when or dt.datetime.now(dt.UTC)
        message = FakeMessage(
            ident,
            thread_id or ident,
            int(stamp.timestamp() * 1000),
            list(labels),
            self.history_id,
            headers,
            seed if seed is not None else len(self.messages),
        )
        self.messages[ident] = message
        self._keys = None
        if record:
            self._record("messageAdded", message)
        return message

    def delete(self, ident: str) -> None:
        message = self.messages.pop(ident)
        self._keys = None
        self._record("messageDeleted", message)

    def relabel(self, ident: str, *, add: Iterable[str] = (), remove: Iterable[str] = ()) -> None:
        message = self.messages[ident]
        added = [label for label in add if label not in message.labels]
        removed = [label for label in remove if label in message.labels]
        message.labels = [label for label in message.labels if label not in removed] + added
        if added:
            self._record("labelAdded", message, added)
        if removed:
            self._record("labelRemoved", message, removed)

    def expire_history(self) -> None:
        """Forget every history record: a client's stored startHistoryId now answers 404."""
        self.history_id += 10
        self.oldest_history = self.history_id
        self.history.clear()

    def headers_of(self, message: FakeMessage) -> list[tuple[str, str]]:
        return message.headers if message.headers is not None else synthetic_headers(message, self.email)

    def visible(self, message: FakeMessage) -> bool:
        return not ({"SPAM", "TRASH"} & set(message.labels))

    # -- listing

    def ordered(self) -> tuple[list[tuple[int, int]], list[str]]:
        """Messages newest first by internalDate (then id), with bisectable keys."""
        if self._keys is None:
            items = sorted(self.messages.values(), key=lambda m: (-m.internal_date, -int(m.id, 16)))
            self._keys = [(-m.internal_date, -int(m.id, 16)) for m in items]
            self._order = [m.id for m in items]
        return self._keys, self._order


@dataclass
class FakeCalendar:
    id: str
    time_zone: str = "Europe/Berlin"
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    changed: dict[str, int] = field(default_factory=dict)
    seq: int = 100
    token_floor: int = 0

    def put(self, event: dict[str, Any]) -> dict[str, Any]:
        self.seq += 1
        stored = {"kind": "calendar#event", "etag": f'"{self.seq}"', **event}
        stored.setdefault("updated", dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"))
        self.events[event["id"]] = stored
        self.changed[event["id"]] = self.seq
        return stored

    def delete(self, event_id: str) -> None:
        """A deleted event: only its id and status survive (as Google guarantees no more)."""
        self.seq += 1
        self.events[event_id] = {
            "kind": "calendar#event",
            "etag": f'"{self.seq}"',
            "id": event_id,
            "status": "cancelled",
        }
        self.changed[event_id] = self.seq

    def expire_tokens(self) -> None:
        self.token_floor = self.seq + 1


@dataclass
class FakeAccount:
    email: str
    mailbox: Mailbox
    calendars: dict[str, FakeCalendar]


# ------------------------------------------------------------------------------------------------ quota


class QuotaMeter:
    """Units per user in a sliding window; a call that would exceed the budget is refused and costs nothing."""

    def __init__(
        self,
        budget: float | None,
        period: float,
        costs: dict[str, float],
        status: int = 429,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.budget = budget
        self.period = period
        self.costs = costs
        self.status = status
        self.clock = clock
        self.log: dict[str, collections.deque[tuple[float, float]]] = collections.defaultdict(collections.deque)
        self.window_sum: dict[str, float] = collections.defaultdict(float)
        self.spent: dict[str, float] = collections.defaultdict(float)
        self.rejections = 0
        self.peak = 0.0

    def take(self, user: str, method: str) -> bool:
        cost = self.costs.get(method, 1.0)
        now = self.clock()
        if self.budget is not None:
            log = self.log[user]
            while log and log[0][0] <= now - self.period:
                self.window_sum[user] -= log.popleft()[1]
            if self.window_sum[user] + cost > self.budget + 1e-9:
                self.rejections += 1
                return False
            log.append((now, cost))
            self.window_sum[user] += cost
            self.peak = max(self.peak, self.window_sum[user])
        self.spent[user] += cost
        return True

    def refusal(self) -> Response:
        if self.status == 403:
            return google_error(403, "User Rate Limit Exceeded", "userRateLimitExceeded", "usageLimits")
        return google_error(429, QUOTA_MESSAGE, "rateLimitExceeded", "usageLimits")


# ------------------------------------------------------------------------------------------------ the server


@dataclass
class Token:
    user: str
    scopes: frozenset[str]
    expires: float


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")


def _unb64(text: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    return result


class FakeGoogle:
    """State and behaviour of the fake; ``start()`` serves it on 127.0.0.1 in a background thread."""

    def __init__(
        self,
        *,
        quota_units: float | None = None,
        quota_period: float = 60.0,
        quota_status: int = 429,
        costs: dict[str, float] | None = None,
        max_batch_parts: int = 50,
        token_lifetime: float = 3600.0,
        expires_in: int = 3600,
        slow_seconds: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.clock = clock
        """What the quota window and token lifetimes are measured by: a test passes a simulated clock (the one its
        retry policy sleeps on) so that neither depends on how fast the machine runs."""
        self.accounts: dict[str, FakeAccount] = {}
        self.quota = QuotaMeter(quota_units, quota_period, {**COSTS, **(costs or {})}, quota_status, clock)
        self.max_batch_parts = max_batch_parts
        self.token_lifetime = token_lifetime
        self.expires_in = expires_in
        self.slow_seconds = slow_seconds
        self.faults: list[Fault] = []
        self.tokens: dict[str, Token] = {}
        self.refresh_tokens: dict[str, tuple[str, frozenset[str]]] = {}
        self.clients: dict[str, str] = {"test-client.apps.googleusercontent.com": "test-secret"}
        self.codes: dict[str, tuple[str, frozenset[str]]] = {}
        self.consent_user: str | None = None
        self.refusing_refresh: str | None = None
        self.calls: collections.Counter[str] = collections.Counter()
        self.requests: list[tuple[str, dict[str, list[str]]]] = []
        self.keep_requests = True
        self.lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle

    def start(self, port: int = 0) -> FakeGoogle:
        fake = self

        class Handler(_Handler):
            owner = fake

        server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="fake-google", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeGoogle:
        return self.start() if self._server is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def token_uri(self) -> str:
        return self.url + "/token"

    # -- set-up

    def account(self, email: str) -> FakeAccount:
        with self.lock:
            if email not in self.accounts:
                seed = sum(email.encode())
                mailbox = Mailbox(email, first_id=0x18C0000000000000 + seed * 0x100000000)
                self.accounts[email] = FakeAccount(email, mailbox, {email: FakeCalendar(email)})
            return self.accounts[email]

    def mailbox(self, email: str) -> Mailbox:
        return self.account(email).mailbox

    def calendar(self, email: str, calendar_id: str | None = None) -> FakeCalendar:
        account = self.account(email)
        key = calendar_id or email
        with self.lock:
            return account.calendars.setdefault(key, FakeCalendar(key))

    def generate_mailbox(
        self, email: str, count: int, *, days: int = 700, seed: int = 1, spam_every: int = 0
    ) -> Mailbox:
        """``count`` synthetic messages spread over the last ``days`` days (headers made on demand)."""
        mailbox = self.mailbox(email)
        rng = random.Random(seed)
        now = dt.datetime.now(dt.UTC)
        with self.lock:
            for n in range(count):
                when = now - dt.timedelta(seconds=rng.uniform(60, days * 86400))
                number = seed * 10_000_000 + n
                labels = ["SENT"] if number % 3 == 0 else ["INBOX"]
                if spam_every and n % spam_every == spam_every - 1:
                    labels = ["SPAM"]
                mailbox.add(None, when=when, labels=labels, seed=number, record=False)
        return mailbox

    def issue_refresh_token(self, email: str, scopes: Iterable[str]) -> str:
        token = "1//rt-" + secrets.token_urlsafe(12)
        with self.lock:
            self.account(email)
            self.refresh_tokens[token] = (email, frozenset(scopes))
        return token

    def add_fault(self, method: str, kind: str, **options: Any) -> Fault:
        fault = Fault(method, kind, **options)
        with self.lock:
            self.faults.append(fault)
        return fault

    def revoke_access_tokens(self) -> None:
        """Every access token issued so far answers 401 from now on (a refresh gets a working one)."""
        with self.lock:
            for token in self.tokens.values():
                token.expires = -math.inf

    def refuse_refresh(self, error: str | None = "invalid_grant") -> None:
        """From now on the token endpoint refuses every grant with ``error`` (None: accept again)."""
        self.refusing_refresh = error

    def units_spent(self, email: str) -> float:
        return self.quota.spent.get(email, 0.0)

    # -- dispatch

    def _fault(self, method: str, query: dict[str, list[str]], kinds: Iterable[str] | None = None) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if (kinds is None or fault.kind in kinds) and fault.matches(method, query):
                    return fault
        return None

    def _fault_response(self, fault: Fault) -> Response | None:
        headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
        kind = fault.kind
        if kind == "429":
            return google_error(429, CONCURRENCY_MESSAGE, "rateLimitExceeded", "usageLimits", **headers)
        if kind == "429_quota":
            return google_error(429, QUOTA_MESSAGE, "rateLimitExceeded", "usageLimits", **headers)
        if kind == "403":
            return google_error(403, "User Rate Limit Exceeded", "userRateLimitExceeded", "usageLimits", **headers)
        if kind == "403_rate":
            return google_error(403, "Rate Limit Exceeded", "rateLimitExceeded", "usageLimits", **headers)
        if kind == "401":
            return google_error(401, "Invalid Credentials", "authError")
        if kind == "410":
            return google_error(410, "Sync token is no longer valid, a full sync is required.", "fullSyncRequired")
        if kind in ("500", "502", "503"):
            response = html_error(int(kind))
            response.headers.update(headers)
            return response
        if kind == "non_json":
            return Response(200, b"<html><body>Temporarily unavailable, try later</body></html>", "text/html")
        if kind in ("reset", "timeout"):
            return Response(0, action=kind)
        return None

    def _auth(self, headers: dict[str, str]) -> Token | Response:
        value = headers.get("authorization", "")
        token = self.tokens.get(value[7:]) if value.startswith("Bearer ") else None
        if token is None or token.expires < self.clock():
            return google_error(401, "Invalid Credentials", "authError")
        return token

    def handle(
        self, verb: str, target: str, headers: dict[str, str], body: bytes, *, in_batch: bool = False
    ) -> Response:
        parsed = urllib.parse.urlsplit(target)
        path = parsed.path
        query = urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
        if path == "/token" and verb == "POST":
            return self._token(body)
        if path == "/o/oauth2/auth":
            return self._authorize(query)
        if path == "/_fake/control" and verb == "POST":
            return self._control(body)
        if path == "/batch/gmail/v1" and verb == "POST":
            return self._batch(headers, body)
        method, params = _route(verb, path)
        if method is None:
            return google_error(404, f"Not found: {verb} {path}", "notFound")
        with self.lock:
            self.calls[method] += 1
            if self.keep_requests:
                self.requests.append((method, query))
        fault = self._fault(
            method,
            {**query, "_path": [path]},
            None if not in_batch else ("429", "429_quota", "403", "403_rate", "401", "non_json", "500", "503"),
        )
        if fault is not None and fault.kind == "hold":
            fault.held.set()
            fault.release.wait(fault.hold_seconds)
        elif fault is not None:
            if fault.kind == "401":
                self.revoke_access_tokens()
            response = self._fault_response(fault)
            if response is not None:
                return response
        auth = self._auth(headers)
        if isinstance(auth, Response):
            return auth
        with self.lock:
            user = auth.user if params.get("user") in ("me", auth.user) else None
            if user is None:
                return google_error(403, "Delegation denied for " + auth.user, "forbidden")
            if method.startswith("gmail.") and not (auth.scopes & GMAIL_SCOPES):
                return google_error(403, "Request had insufficient authentication scopes.", "insufficientPermissions")
            if method.startswith("calendar.") and not (auth.scopes & CALENDAR_SCOPES):
                return google_error(403, "Request had insufficient authentication scopes.", "insufficientPermissions")
            if not self.quota.take(user, method):
                return self.quota.refusal()
            account = self.account(user)
            metadata_only = GMAIL_METADATA in auth.scopes
            if method == "gmail.getProfile":
                return self._profile(account)
            if method == "gmail.messages.list":
                return self._list(account, query, metadata_only, fault)
            if method == "gmail.messages.get":
                return self._get(account, params["id"], query, metadata_only)
            if method == "gmail.history.list":
                return self._history(account, query, fault)
            if method == "calendar.calendarList.list":
                return self._calendar_list(account)
            return self._events(account, params["calendar"], query, fault)

    # -- Gmail

    def _profile(self, account: FakeAccount) -> Response:
        box = account.mailbox
        return json_response(
            200,
            {
                "emailAddress": account.email,
                "messagesTotal": len(box.messages),
                "threadsTotal": len({m.thread_id for m in box.messages.values()}),
                "historyId": str(box.history_id),
            },
        )

    def _list(
        self, account: FakeAccount, query: dict[str, list[str]], metadata_only: bool, fault: Fault | None
    ) -> Response:
        if metadata_only and query.get("q"):
            return google_error(403, "Metadata scope does not support 'q' parameter", "forbidden")
        box = account.mailbox
        size = min(int(query.get("maxResults", ["100"])[0]), 500)
        spam_trash = query.get("includeSpamTrash", ["false"])[0] == "true"
        wanted = set(query.get("labelIds", []))
        keys, order = box.ordered()
        start = 0
        token = query.get("pageToken", [None])[0]
        if token:
            try:
                after = _unb64(token)
            except ValueError:
                return google_error(400, "Invalid pageToken", "invalidArgument")
            start = bisect.bisect_right(keys, (after["d"], after["n"]))
        if fault is not None and fault.kind == "empty_page" and start < len(order):
            return json_response(
                200, {"nextPageToken": token or _b64({"d": -(10**15), "n": 0}), "resultSizeEstimate": 0}
            )
        found: list[dict[str, str]] = []
        position = start
        while position < len(order) and len(found) < size:
            message = box.messages[order[position]]
            position += 1
            if not spam_trash and not box.visible(message):
                continue
            if wanted and not wanted.issubset(message.labels):
                continue
            found.append({"id": message.id, "threadId": message.thread_id})
        body: dict[str, Any] = {"resultSizeEstimate": len(found)}
        if found:
            body["messages"] = found
        if position < len(order):
            body["nextPageToken"] = _b64({"d": keys[position - 1][0], "n": keys[position - 1][1]})
        return json_response(200, body)

    def _get(self, account: FakeAccount, ident: str, query: dict[str, list[str]], metadata_only: bool) -> Response:
        form = query.get("format", ["full"])[0]
        if metadata_only and form in ("full", "raw"):
            return google_error(403, f"Metadata scope doesn't allow format {form.upper()}", "forbidden")
        message = account.mailbox.messages.get(ident)
        if message is None:
            return google_error(404, "Requested entity was not found.", "notFound")
        headers = account.mailbox.headers_of(message)
        if form == "metadata":
            wanted = {h.lower() for h in query.get("metadataHeaders", [])}
            headers = [h for h in headers if not wanted or h[0].lower() in wanted]
        else:
            headers = []
        return json_response(
            200,
            {
                "id": message.id,
                "threadId": message.thread_id,
                "labelIds": message.labels,
                "historyId": str(message.history_id),
                "internalDate": str(message.internal_date),
                "sizeEstimate": 2048,
                "payload": {
                    "partId": "",
                    "mimeType": "text/plain",
                    "filename": "",
                    "headers": [{"name": name, "value": value} for name, value in headers],
                },
            },
        )

    def _history(self, account: FakeAccount, query: dict[str, list[str]], fault: Fault | None) -> Response:
        box = account.mailbox
        try:
            start = int(query["startHistoryId"][0])
        except (KeyError, ValueError):
            return google_error(400, "Invalid startHistoryId", "invalidArgument")
        if start < box.oldest_history:
            return google_error(404, "Requested entity was not found.", "notFound")
        token = query.get("pageToken", [None])[0]
        if token:
            state = _unb64(token)
            snapshot, after = state["s"], state["a"]
        else:
            snapshot, after = box.history_id, start
        size = min(int(query.get("maxResults", ["100"])[0]), 500)
        types = set(query.get("historyTypes", [])) or set(HISTORY_TYPES)
        ids = [r["id"] for r in box.history]
        position = bisect.bisect_right(ids, after)
        records = []
        while position < len(box.history) and box.history[position]["id"] <= snapshot and len(records) < size:
            record = box.history[position]
            position += 1
            if record["type"] not in types:
                continue
            records.append(_history_record(record))
        if fault is not None and fault.kind == "replay_history" and records:
            records = records + records[: max(1, len(records) // 2)]
        body: dict[str, Any] = {"historyId": str(snapshot)}
        if records:
            body["history"] = records
        more = position < len(box.history) and box.history[position]["id"] <= snapshot
        if more:
            body["nextPageToken"] = _b64({"s": snapshot, "a": box.history[position - 1]["id"]})
        return json_response(200, body)

    def _batch(self, headers: dict[str, str], body: bytes) -> Response:
        with self.lock:
            self.calls["gmail.batch"] += 1
        fault = self._fault("gmail.batch", {})
        if fault is not None and fault.kind in (
            "429",
            "429_quota",
            "403",
            "403_rate",
            "500",
            "502",
            "503",
            "reset",
            "timeout",
            "non_json",
            "401",
        ):
            if fault.kind == "401":
                self.revoke_access_tokens()
            response = self._fault_response(fault)
            assert response is not None
            return response
        content_type = headers.get("content-type", "")
        if "boundary=" not in content_type:
            return google_error(400, "Batch request must be multipart/mixed", "badRequest")
        boundary = content_type.split("boundary=", 1)[1].strip().strip('"')
        parts = _split_multipart(body.decode("utf-8"), boundary)
        if len(parts) > 100:
            return google_error(400, "Too many requests in a batch (max 100)", "badRequest")
        answers: list[tuple[str, Response]] = []
        for index, (part_headers, inner) in enumerate(parts):
            content_id = part_headers.get("content-id", "")
            verb, target, inner_headers, inner_body = _parse_inner_request(inner)
            if index >= self.max_batch_parts:
                answer = google_error(429, CONCURRENCY_MESSAGE, "rateLimitExceeded", "usageLimits")
            else:
                answer = self.handle(verb, target, inner_headers, inner_body, in_batch=True)
            answers.append((content_id, answer))
        if fault is not None and fault.kind == "missing_part" and len(answers) > 1:
            answers.pop(len(answers) // 2)
        if fault is not None and fault.kind == "not_multipart":
            return json_response(200, {"note": "this is not a multipart reply"})
        out_boundary = "batch_" + secrets.token_hex(8)
        chunks = []
        for content_id, answer in answers:
            response_id = content_id.replace("<", "<response-", 1) if content_id.startswith("<") else content_id
            chunks.append(
                f"--{out_boundary}\r\nContent-Type: application/http\r\nContent-ID: {response_id}\r\n\r\n"
                f"HTTP/1.1 {answer.status} {REASONS.get(answer.status, 'Status')}\r\n"
                f"Content-Type: {answer.content_type}\r\n"
                + "".join(f"{k}: {v}\r\n" for k, v in answer.headers.items())
                + f"\r\n{answer.body.decode('utf-8')}\r\n"
            )
        chunks.append(f"--{out_boundary}--\r\n")
        return Response(200, "".join(chunks).encode(), content_type=f"multipart/mixed; boundary={out_boundary}")

    # -- Calendar

    def _calendar_list(self, account: FakeAccount) -> Response:
        items = [
            {
                "kind": "calendar#calendarListEntry",
                "id": cid,
                "summary": cid,
                "timeZone": cal.time_zone,
                "accessRole": "owner" if cid == account.email else "reader",
                **({"primary": True} if cid == account.email else {}),
            }
            for cid, cal in account.calendars.items()
        ]
        return json_response(200, {"kind": "calendar#calendarList", "items": items})

    def _events(
        self, account: FakeAccount, calendar_id: str, query: dict[str, list[str]], fault: Fault | None
    ) -> Response:
        cid = account.email if calendar_id == "primary" else calendar_id
        calendar = account.calendars.get(cid)
        if calendar is None:
            return google_error(404, "Not Found", "notFound")
        sync = query.get("syncToken", [None])[0]
        if sync is not None:
            bad = [p for p in ("timeMin", "timeMax", "q", "orderBy", "updatedMin", "iCalUID") if p in query]
            if bad or query.get("showDeleted", ["true"])[0] == "false":
                return google_error(400, f"Parameter not allowed with syncToken: {bad or ['showDeleted']}", "invalid")
        token = query.get("pageToken", [None])[0]
        size = min(int(query.get("maxResults", ["250"])[0]), 2500)
        show_deleted = query.get("showDeleted", ["false"])[0] == "true" or sync is not None
        try:
            state = _unb64(token) if token else None
            since = int(sync[2:]) if sync else None
        except ValueError:
            return google_error(400, "Invalid token", "invalid")
        if state is not None:
            since = state.get("i")
        if since is not None and since < calendar.token_floor:
            return google_error(410, "Sync token is no longer valid, a full sync is required.", "fullSyncRequired")
        snapshot = state["s"] if state else calendar.seq
        offset = state["o"] if state else 0
        if since is None:
            time_min = query.get("timeMin", [None])[0]
            pool = [e for e in calendar.events.values() if show_deleted or e.get("status") != "cancelled"]
            if time_min:
                pool = [e for e in pool if _event_end(e) is None or _event_end(e) >= time_min]
        else:
            pool = [calendar.events[i] for i, seq in calendar.changed.items() if since < seq <= snapshot]
        pool.sort(key=lambda e: (_event_start(e) or "", e["id"]))
        items = pool[offset : offset + size]
        body: dict[str, Any] = {
            "kind": "calendar#events",
            "summary": cid,
            "timeZone": calendar.time_zone,
            "items": items,
        }
        if offset + size < len(pool):
            body["nextPageToken"] = _b64(
                {"s": snapshot, "o": offset + size, **({"i": since} if since is not None else {})}
            )
        else:
            body["nextSyncToken"] = f"s:{snapshot}"
        if fault is not None and fault.kind == "empty_page" and "nextPageToken" in body:
            body["items"] = []
            body["nextPageToken"] = token or _b64(
                {"s": snapshot, "o": 0, **({"i": since} if since is not None else {})}
            )
        return json_response(200, body)

    # -- OAuth

    def _issue(self, user: str, scopes: frozenset[str]) -> dict[str, Any]:
        access = "ya29.fake-" + secrets.token_urlsafe(16)
        self.tokens[access] = Token(user, scopes, self.clock() + self.token_lifetime)
        return {
            "access_token": access,
            "expires_in": self.expires_in,
            "token_type": "Bearer",
            "scope": " ".join(sorted(scopes)),
        }

    def _token(self, body: bytes) -> Response:
        form = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode()).items()}
        with self.lock:
            self.calls["token"] += 1
        fault = self._fault("token", {})
        if fault is not None:
            headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            if fault.kind == "token_401":
                return json_response(
                    401, {"error": "invalid_client", "error_description": "The OAuth client was not found."}
                )
            if fault.kind == "token_429":
                return json_response(
                    429, {"error": "rate_limit_exceeded", "error_description": "Rate limit exceeded"}, **headers
                )
            if fault.kind == "token_500":
                response = html_error(500)
                response.headers.update(headers)
                return response
        if self.refusing_refresh:
            return json_response(
                400, {"error": self.refusing_refresh, "error_description": "Token has been expired or revoked."}
            )
        grant = form.get("grant_type")
        with self.lock:
            if grant == "refresh_token":
                if self.clients.get(form.get("client_id", "")) != form.get("client_secret"):
                    return json_response(401, {"error": "invalid_client", "error_description": "Unauthorized"})
                known = self.refresh_tokens.get(form.get("refresh_token", ""))
                if known is None:
                    return json_response(400, {"error": "invalid_grant", "error_description": "Bad Request"})
                return json_response(200, self._issue(*known))
            if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
                try:
                    claims = _unb64(form["assertion"].split(".")[1])
                except (KeyError, IndexError, ValueError):
                    return json_response(400, {"error": "invalid_grant", "error_description": "Invalid JWT"})
                user = claims.get("sub")
                if user not in self.accounts:
                    return json_response(
                        400, {"error": "invalid_grant", "error_description": "Invalid email or User ID"}
                    )
                return json_response(200, self._issue(user, frozenset(str(claims.get("scope", "")).split())))
            if grant == "authorization_code":
                known = self.codes.pop(form.get("code", ""), None)
                if known is None:
                    return json_response(400, {"error": "invalid_grant", "error_description": "Malformed auth code."})
                answer = self._issue(*known)
                refresh = "1//rt-" + secrets.token_urlsafe(12)
                self.refresh_tokens[refresh] = known
                return json_response(200, {**answer, "refresh_token": refresh})
        return json_response(400, {"error": "unsupported_grant_type", "error_description": str(grant)})

    def _authorize(self, query: dict[str, list[str]]) -> Response:
        """Consent at once as ``consent_user`` and redirect back to the app's local server."""
        user = self.consent_user or next(iter(self.accounts), "me@example.com")
        scopes = frozenset(query.get("scope", [""])[0].split())
        code = "4/code-" + secrets.token_urlsafe(8)
        with self.lock:
            self.account(user)
            self.codes[code] = (user, scopes)
        redirect = query["redirect_uri"][0]
        params = urllib.parse.urlencode(
            {"code": code, "state": query.get("state", [""])[0], "scope": " ".join(sorted(scopes))}
        )
        return Response(302, b"", "text/plain", {"Location": f"{redirect}?{params}"})

    # -- control (standalone mode)

    def _control(self, body: bytes) -> Response:
        command = json.loads(body)
        op, args = command["op"], command.get("args", {})
        if op == "generate_mailbox":
            box = self.generate_mailbox(args["email"], args["count"], seed=args.get("seed", 1))
            return json_response(200, {"messages": len(box.messages)})
        if op == "add_mail":
            box = self.mailbox(args["email"])
            with self.lock:
                for n in range(args["count"]):
                    box.add(None, seed=args.get("seed", 99) * 10_000_000 + n)
            return json_response(200, {"messages": len(box.messages)})
        if op == "refresh_token":
            return json_response(200, {"refresh_token": self.issue_refresh_token(args["email"], args["scopes"])})
        if op == "quota":
            costs = {**COSTS, **args.get("costs", {})}
            self.quota = QuotaMeter(args.get("units"), args.get("period", 60.0), costs, clock=self.clock)
            return json_response(200, {})
        if op == "stats":
            return json_response(
                200,
                {
                    "calls": dict(self.calls),
                    "spent": dict(self.quota.spent),
                    "rejections": self.quota.rejections,
                    "peak": self.quota.peak,
                },
            )
        if op == "keep_requests":
            self.keep_requests = bool(args["on"])
            return json_response(200, {})
        return json_response(400, {"error": f"unknown op {op}"})


def _history_record(record: dict[str, Any]) -> dict[str, Any]:
    message = record["message"]
    ref = {"id": message["id"], "threadId": message["threadId"]}
    out: dict[str, Any] = {"id": str(record["id"]), "messages": [ref]}
    kind = record["type"]
    if kind == "messageAdded":
        out["messagesAdded"] = [{"message": message}]
    elif kind == "messageDeleted":
        out["messagesDeleted"] = [{"message": message}]
    elif kind == "labelAdded":
        out["labelsAdded"] = [{"message": message, "labelIds": record["labels"]}]
    else:
        out["labelsRemoved"] = [{"message": message, "labelIds": record["labels"]}]
    return out


def _event_start(event: dict[str, Any]) -> str | None:
    start = event.get("start") or event.get("originalStartTime") or {}
    return start.get("dateTime") or start.get("date")


def _event_end(event: dict[str, Any]) -> str | None:
    end = event.get("end") or {}
    return end.get("dateTime") or end.get("date")


def _route(verb: str, path: str) -> tuple[str | None, dict[str, str]]:
    parts = [urllib.parse.unquote(p) for p in path.strip("/").split("/")]
    if verb != "GET":
        return None, {}
    if parts[:3] == ["gmail", "v1", "users"] and len(parts) >= 5:
        user, rest = parts[3], parts[4:]
        if rest == ["profile"]:
            return "gmail.getProfile", {"user": user}
        if rest == ["messages"]:
            return "gmail.messages.list", {"user": user}
        if len(rest) == 2 and rest[0] == "messages":
            return "gmail.messages.get", {"user": user, "id": rest[1]}
        if rest == ["history"]:
            return "gmail.history.list", {"user": user}
    if parts[:2] == ["calendar", "v3"]:
        rest = parts[2:]
        if rest == ["users", "me", "calendarList"]:
            return "calendar.calendarList.list", {"user": "me"}
        if len(rest) == 3 and rest[0] == "calendars" and rest[2] == "events":
            return "calendar.events.list", {"user": "me", "calendar": rest[1]}
    return None, {}


def _split_multipart(text: str, boundary: str) -> list[tuple[dict[str, str], str]]:
    parts = []
    for chunk in text.split("--" + boundary)[1:]:
        if chunk.startswith("--"):
            break
        chunk = chunk.lstrip("\r\n")
        head, _, rest = chunk.replace("\r\n", "\n").partition("\n\n")
        headers = {}
        for line in head.split("\n"):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        parts.append((headers, rest))
    return parts


def _parse_inner_request(text: str) -> tuple[str, str, dict[str, str], bytes]:
    head, _, body = text.partition("\n\n")
    lines = head.split("\n")
    verb, target, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return verb, target, headers, body.strip().encode()


class _Handler(BaseHTTPRequestHandler):
    owner: FakeGoogle
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            response = self.owner.handle(self.command, self.path, headers, body)
        except Exception as exc:  # the fake itself failed: say so loudly in the reply
            response = html_error(500)
            response.body = f"fake google crashed: {type(exc).__name__}: {exc}".encode()
            print(f"fake google crashed: {exc!r}", file=sys.stderr)
        if response.action == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return
        if response.action == "timeout":
            time.sleep(self.owner.slow_seconds)
            self.close_connection = True
            response = html_error(503)
        head = [f"HTTP/1.1 {response.status} {REASONS.get(response.status, 'Status')}"]
        head.append(f"Content-Type: {response.content_type}")
        head.append(f"Content-Length: {len(response.body)}")
        head += [f"{k}: {v}" for k, v in response.headers.items()]
        if self.close_connection:
            head.append("Connection: close")
        payload = ("\r\n".join(head) + "\r\n\r\n").encode() + response.body
        try:
            self.wfile.write(payload)  # one write: headers and body leave in the same segment
        except OSError:
            self.close_connection = True

    do_GET = _serve
    do_POST = _serve


def main() -> None:  # pragma: no cover - used by the benchmark
    import argparse

    parser = argparse.ArgumentParser(description="Serve the fake Google on 127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--quota-units", type=float, default=None)
    parser.add_argument("--quota-period", type=float, default=60.0)
    args = parser.parse_args()
    fake = FakeGoogle(quota_units=args.quota_units, quota_period=args.quota_period).start(args.port)
    print(f"READY {fake.url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":  # pragma: no cover
    main()


# ------------------------------------------------------------------------------------------------ test helpers

_KEY_PEM: str | None = None


def service_account_key(path: Any, *, email: str = "tiepulse-sync@fake-project.iam.gserviceaccount.com") -> Any:
    """Write a service-account key file (a fresh RSA key, generated once per process) to ``path``."""
    global _KEY_PEM
    if _KEY_PEM is None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        _KEY_PEM = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
    info = {
        "type": "service_account",
        "project_id": "fake-project",
        "private_key_id": "0123456789abcdef",
        "private_key": _KEY_PEM,
        "client_email": email,
        "client_id": "100000000000000000001",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    path.write_text(json.dumps(info))
    return path
