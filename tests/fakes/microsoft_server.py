"""A fake Microsoft identity platform and Graph API over HTTPS on 127.0.0.1, for offline tests and benchmarks.

It serves:
- the authority: ``/{tenant}/v2.0/.well-known/openid-configuration``, ``/{tenant}/oauth2/v2.0/token`` (client
  credentials with a secret or a certificate assertion -- a JWT whose signature, thumbprint, audience, issuer and
  expiry are checked against the certificates registered with :meth:`FakeMicrosoft.register_certificate` --,
  device code, refresh token) and ``.../devicecode``;
- Graph ``/v1.0``: per-folder message delta (well-known folders answer to their name and to an opaque id, as in
  Graph), folder delta, single folders, ``calendarView/delta``, single messages (for ``internetMessageHeaders``),
  ``/users`` with the simple ``$filter`` clauses (``endsWith`` only as an advanced query: ``ConsistencyLevel:
  eventual`` and ``$count=true``) and JSON ``$batch`` -- with paging by ``Prefer: odata.maxpagesize``, nextLink /
  deltaLink, ``@removed`` items, ``$select`` projection, and resync on invalidated delta state;
- per-mailbox throttling: a concurrency limit (excess requests get 429 ``ApplicationThrottled``) and a request
  budget as a token bucket (``TooManyRequests`` with ``Retry-After``), each counted in :class:`MailboxStats`;
- injectable faults (:meth:`FakeMicrosoft.inject`): every Microsoft row of the fault table in
  docs connector-facts.md.

Every response is written with one ``sendall`` on a socket with ``TCP_NODELAY`` (no Nagle / delayed-ACK stalls).
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import email.utils
import json
import re
import socket
import ssl
import struct
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.fakes.tls import SelfSigned, make_self_signed

Reply = tuple[int, dict[str, str], bytes]


def _json_reply(status: int, body: Any, headers: dict[str, str] | None = None) -> Reply:
    return status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(body).encode()


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Reply:
    return _json_reply(status, {"error": {"code": code, "message": message}}, headers)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# -- test data ---------------------------------------------------------------------------------------------------


def address(addr: str, name: str | None = None) -> dict[str, Any]:
    return {"emailAddress": {"address": addr, "name": name if name is not None else addr.split("@")[0].title()}}


def message(
    ident: str,
    internet_id: str,
    sender: str,
    to: Iterable[str] = (),
    cc: Iterable[str] = (),
    bcc: Iterable[str] = (),
    *,
    sent: str = "2024-03-04T09:00:00Z",
    subject: str = "Quarterly plan",
    draft: bool = False,
    conversation: str = "conv-1",
    headers: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    """A Graph message as the server holds it (body included: the client must never ask for it)."""
    return {
        "id": ident,
        "internetMessageId": f"<{internet_id}>",
        "from": address(sender),
        "sender": address(sender),
        "toRecipients": [address(a) for a in to],
        "ccRecipients": [address(a) for a in cc],
        "bccRecipients": [address(a) for a in bcc],
        "sentDateTime": sent,
        "receivedDateTime": sent,
        "conversationId": conversation,
        "isDraft": draft,
        "subject": subject,
        "body": {"contentType": "text", "content": "SECRET BODY"},
        "bodyPreview": "SECRET BODY",
        "internetMessageHeaders": headers or [{"name": "Message-ID", "value": f"<{internet_id}>"}],
    }


def event(
    ident: str,
    uid: str,
    organizer: str,
    attendees: Iterable[tuple[str, str]] = (),
    *,
    start: str = "2024-03-05T10:00:00.0000000",
    end: str = "2024-03-05T10:30:00.0000000",
    subject: str = "Sync",
    cancelled: bool = False,
    online: bool = False,
    kind: str = "singleInstance",
    series: str | None = None,
) -> dict[str, Any]:
    return {
        "id": ident,
        "iCalUId": uid,
        "subject": subject,
        "body": {"contentType": "html", "content": "<p>SECRET AGENDA</p>"},
        "bodyPreview": "SECRET AGENDA",
        "start": {"dateTime": start, "timeZone": "UTC"},
        "end": {"dateTime": end, "timeZone": "UTC"},
        "originalStartTimeZone": "W. Europe Standard Time",
        "isAllDay": False,
        "isCancelled": cancelled,
        "showAs": "busy",
        "type": kind,
        "seriesMasterId": series,
        "isOnlineMeeting": online,
        "onlineMeetingProvider": "teamsForBusiness" if online else "unknown",
        "location": {"displayName": "Room 1"},
        "organizer": address(organizer),
        "attendees": [
            {**address(a), "type": "required", "status": {"response": r, "time": "2024-03-01T00:00:00Z"}}
            for a, r in attendees
        ],
        "lastModifiedDateTime": "2024-03-01T12:00:00Z",
    }


# -- state -------------------------------------------------------------------------------------------------------


class Collection:
    """A folder or a calendar: current items plus a change log, so any delta window can be replayed."""

    def __init__(self, clock: Any) -> None:
        self._seq = clock
        self.log: list[tuple[int, str, dict[str, Any] | None]] = []
        self.current: dict[str, dict[str, Any]] = {}
        self._cache: dict[tuple[int, int], list[dict[str, Any]]] = {}

    def put(self, item: dict[str, Any]) -> None:
        self.current[item["id"]] = item
        self.log.append((self._seq(), item["id"], item))
        self._cache.clear()

    def delete(self, ident: str) -> None:
        self.current.pop(ident, None)
        self.log.append((self._seq(), ident, None))
        self._cache.clear()

    def changes(self, base: int, end: int) -> list[dict[str, Any]]:
        """Items whose latest change in (base, end] is an upsert, and ``@removed`` ones when ``base`` > 0."""
        key = (base, end)
        if key not in self._cache:
            last: dict[str, tuple[int, dict[str, Any] | None]] = {}
            for seq, ident, item in self.log:
                if base < seq <= end:
                    last[ident] = (seq, item)
            out = []
            for ident, (_, item) in sorted(last.items(), key=lambda kv: kv[1][0]):
                if item is not None:
                    out.append(item)
                elif base > 0:
                    out.append({"id": ident, "@removed": {"reason": "deleted"}})
            self._cache[key] = out
        return self._cache[key]


@dataclass
class MailboxStats:
    requests: int = 0
    inflight: int = 0
    max_inflight: int = 0
    throttled_budget: int = 0
    throttled_concurrency: int = 0


WELL_KNOWN_FOLDERS = {"inbox": "Inbox", "sentitems": "Sent Items"}
"""The well-known folders every fake mailbox has (name -> display name)."""


@dataclass
class Mailbox:
    address: str
    folders: dict[str, Collection]
    """By the name tests use: a well-known name (``inbox``) or a custom folder's id."""
    folder_names: dict[str, str]
    folder_ids: dict[str, str]
    """Name -> the opaque id Graph lists (a custom folder's id is its name)."""
    calendar: Collection
    enabled: bool = True
    """``accountEnabled`` of the user."""
    generation: int = 0
    stats: MailboxStats = field(default_factory=MailboxStats)
    tokens: float = 0.0
    stamp: float = 0.0


@dataclass
class Fault:
    match: str
    """Substring of the request path (``token`` for the token endpoint, ``$batch`` for batches)."""
    kind: str
    times: int = 1
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Throttle:
    concurrency: int = 4
    rate: float | None = None
    """Requests per second per mailbox (token bucket); None: no budget."""
    burst: float = 10.0
    retry_after: str | None = "int"
    """How budget 429s say when to come back: ``int``, ``fraction``, ``date`` or None (no header)."""


class FakeMicrosoft:
    """The fake; use as a context manager. ``url`` serves as both authority host and Graph endpoint."""

    def __init__(
        self,
        folder: Path,
        *,
        tenant: str = "contoso",
        client_id: str = "app-id",
        client_secret: str = "app-secret",
        token_lifetime: float = 3600.0,
        throttle: Throttle | None = None,
        latency: float = 0.0,
        gate: int = 0,
        replays: bool = False,
    ) -> None:
        self.tls: SelfSigned = make_self_signed(folder)
        self.tenant = tenant
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_lifetime = token_lifetime
        self.throttle = throttle or Throttle()
        self.latency = latency
        self.gate = gate
        """Hold a mailbox's first requests until this many are in flight at once (0: off), so a test sees a client's
        concurrency reached however slow the machine is."""
        self._gate_open = threading.Condition()
        self.replays = replays
        self.resync_style = "410"
        """How stale delta state answers: ``410``, ``syncStateNotFound``, ``SyncStateNotFound``, ``resyncRequired``."""
        self.mailboxes: dict[str, Mailbox] = {}
        self.certificates: list[x509.Certificate] = []
        self.faults: list[Fault] = []
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.token_requests: list[dict[str, str]] = []
        self.issued: dict[str, float] = {}
        self.device_pending = 1
        self.device_polls = 0
        self._seq = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # -- lifecycle -------------------------------------------------------------------------------------------------
    def __enter__(self) -> FakeMicrosoft:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.tls.cert_path, self.tls.key_path)
        fake = self

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 64

            def get_request(self) -> tuple[Any, Any]:
                sock, addr = self.socket.accept()
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                return context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # resets and client timeouts are part of the game

        class Handler(_Handler):
            owner = fake

        self._server = Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"https://127.0.0.1:{self._server.server_address[1]}"

    def env(self) -> dict[str, str]:
        """Environment for app-only access through this fake."""
        return {
            "TIEPULSE_MS_TENANT_ID": self.tenant,
            "TIEPULSE_MS_CLIENT_ID": self.client_id,
            "TIEPULSE_MS_CLIENT_SECRET": self.client_secret,
            "TIEPULSE_MS_AUTHORITY_HOST": self.url,
            "TIEPULSE_GRAPH_ENDPOINT": self.url,
            "TIEPULSE_CA_BUNDLE": str(self.tls.cert_path),
        }

    # -- state -----------------------------------------------------------------------------------------------------
    def _next(self) -> int:
        self._seq += 1
        return self._seq

    def mailbox(self, addr: str) -> Mailbox:
        addr = addr.lower()
        if addr not in self.mailboxes:
            folders = {name: Collection(self._next) for name in WELL_KNOWN_FOLDERS}
            ids = {name: "AAMk" + _b64url(f"{addr}/{name}".encode()) for name in WELL_KNOWN_FOLDERS}
            box = Mailbox(addr, folders, dict(WELL_KNOWN_FOLDERS), ids, Collection(self._next))
            self.mailboxes[addr] = box
        return self.mailboxes[addr]

    def add_folder(self, addr: str, folder_id: str, name: str) -> None:
        with self._lock:
            box = self.mailbox(addr)
            box.folders[folder_id] = Collection(self._next)
            box.folder_names[folder_id] = name
            box.folder_ids[folder_id] = folder_id

    def disable_user(self, addr: str) -> None:
        with self._lock:
            self.mailbox(addr).enabled = False

    def register_certificate(self, pem: bytes) -> None:
        """Accept client assertions signed by the key of this certificate (the app's uploaded certificate)."""
        with self._lock:
            self.certificates.append(x509.load_pem_x509_certificate(pem))

    def put_message(self, addr: str, folder: str, item: dict[str, Any]) -> None:
        with self._lock:
            self.mailbox(addr).folders[folder].put(item)

    def put_messages(self, addr: str, folder: str, items: Iterable[dict[str, Any]]) -> None:
        with self._lock:
            collection = self.mailbox(addr).folders[folder]
            for item in items:
                collection.put(item)

    def delete_message(self, addr: str, folder: str, ident: str) -> None:
        with self._lock:
            self.mailbox(addr).folders[folder].delete(ident)

    def put_event(self, addr: str, item: dict[str, Any]) -> None:
        with self._lock:
            self.mailbox(addr).calendar.put(item)

    def delete_event(self, addr: str, ident: str) -> None:
        with self._lock:
            self.mailbox(addr).calendar.delete(ident)

    def invalidate_delta(self, addr: str) -> None:
        """Every delta link of the mailbox expires (the next use answers 410 / syncStateNotFound)."""
        with self._lock:
            self.mailbox(addr).generation += 1

    def expire_tokens(self) -> None:
        with self._lock:
            self.issued.clear()

    def inject(self, match: str, kind: str, times: int = 1, **params: Any) -> Fault:
        fault = Fault(match, kind, times, params)
        with self._lock:
            self.faults.append(fault)
        return fault

    def stats(self, addr: str) -> MailboxStats:
        return self.mailbox(addr).stats

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.times > 0 and fault.match in path:
                    fault.times -= 1
                    return fault
        return None

    # -- authority -------------------------------------------------------------------------------------------------
    def _issue(self) -> str:
        token = "at-" + uuid.uuid4().hex
        with self._lock:
            self.issued[token] = time.monotonic() + self.token_lifetime
        return token

    def _id_token(self) -> str:
        now = int(time.time())
        claims = {
            "iss": f"{self.url}/{self.tenant}/v2.0",
            "aud": self.client_id,
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "sub": "subject-1",
            "oid": "user-oid-1",
            "tid": "tenant-tid-1",
            "preferred_username": "me@contoso.com",
            "name": "Me Myself",
        }
        return ".".join(
            [_b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode()), _b64url(json.dumps(claims).encode()), ""]
        )

    def _user_tokens(self) -> dict[str, Any]:
        return {
            "token_type": "Bearer",
            "scope": "https://graph.microsoft.com/Mail.ReadBasic https://graph.microsoft.com/Calendars.ReadBasic",
            "expires_in": 3600,
            "ext_expires_in": 3600,
            "access_token": self._issue(),
            "refresh_token": "rt-" + uuid.uuid4().hex,
            "id_token": self._id_token(),
            "client_info": _b64url(json.dumps({"uid": "user-oid-1", "utid": "tenant-tid-1"}).encode()),
        }

    def authority(self, method: str, path: str, form: dict[str, str]) -> Reply:
        parts = path.strip("/").split("/")
        tenant = parts[0]
        base = f"{self.url}/{tenant}"
        if method == "GET" and path.endswith("/v2.0/.well-known/openid-configuration"):
            return _json_reply(
                200,
                {
                    "issuer": f"{base}/v2.0",
                    "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                    "token_endpoint": f"{base}/oauth2/v2.0/token",
                    "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                    "jwks_uri": f"{base}/discovery/v2.0/keys",
                    "response_types_supported": ["code", "id_token", "token"],
                    "subject_types_supported": ["pairwise"],
                    "id_token_signing_alg_values_supported": ["RS256"],
                    "tenant_region_scope": "EU",
                },
            )
        if method == "POST" and path.endswith("/oauth2/v2.0/devicecode"):
            return _json_reply(
                200,
                {
                    "device_code": "device-code-1",
                    "user_code": "FAKE-CODE",
                    "verification_uri": f"{self.url}/devicelogin",
                    "expires_in": 900,
                    "interval": 1,
                    "message": f"To sign in, open {self.url}/devicelogin and enter the code FAKE-CODE.",
                },
            )
        if method == "POST" and path.endswith("/oauth2/v2.0/token"):
            with self._lock:
                self.token_requests.append(dict(form))
            grant = form.get("grant_type", "")
            if grant == "client_credentials":
                refusal = self._client_refusal(form, f"{base}/oauth2/v2.0/token")
                if refusal is not None:
                    return _json_reply(401, {"error": "invalid_client", "error_description": refusal})
                return _json_reply(
                    200,
                    {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": self._issue()},
                )
            if grant == "urn:ietf:params:oauth:grant-type:device_code":
                with self._lock:
                    self.device_polls += 1
                    pending = self.device_polls <= self.device_pending
                if pending:
                    return _json_reply(
                        400,
                        {"error": "authorization_pending", "error_description": "AADSTS70016: pending."},
                    )
                return _json_reply(200, self._user_tokens())
            if grant == "refresh_token":
                return _json_reply(200, self._user_tokens())
            return _json_reply(400, {"error": "unsupported_grant_type", "error_description": grant})
        return _error(404, "NotFound", path)

    def _client_refusal(self, form: dict[str, str], token_url: str) -> str | None:
        """Why Entra ID would refuse these client credentials (None: accepted)."""
        if form.get("client_id") != self.client_id:
            return "AADSTS700016: Application not found in the directory."
        if "client_assertion" not in form:
            if form.get("client_secret") == self.client_secret:
                return None
            return "AADSTS7000215: Invalid client secret provided."
        if not form.get("client_assertion_type", "").endswith("jwt-bearer"):
            return "AADSTS7000219: 'client_assertion_type' must be jwt-bearer."
        return self._assertion_refusal(form["client_assertion"], token_url)

    def _assertion_refusal(self, assertion: str, token_url: str) -> str | None:
        """Check a client assertion as Entra ID does: a registered certificate's thumbprint, its signature, claims."""
        try:
            head, body, signature = assertion.split(".")
            header, claims = json.loads(_b64decode(head)), json.loads(_b64decode(body))
            signed = _b64decode(signature)
        except ValueError:
            return "AADSTS50027: JWT token is invalid or malformed."
        with self._lock:
            certificates = list(self.certificates)
        cert = next(
            (
                c
                for c in certificates
                if str(header.get("x5t")).rstrip("=") == _b64url(c.fingerprint(hashes.SHA1()))
                or str(header.get("x5t#S256")).rstrip("=") == _b64url(c.fingerprint(hashes.SHA256()))
            ),
            None,
        )
        if cert is None:
            return "AADSTS700027: The certificate with identifier used to sign the client assertion is not registered."
        schemes: dict[str, padding.AsymmetricPadding] = {
            "RS256": padding.PKCS1v15(),
            "PS256": padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=hashes.SHA256.digest_size),
        }
        scheme = schemes.get(str(header.get("alg")))
        key = cert.public_key()
        if scheme is None or not isinstance(key, rsa.RSAPublicKey):
            return f"AADSTS5002730: unsupported client assertion algorithm {header.get('alg')!r}."
        try:
            key.verify(signed, f"{head}.{body}".encode(), scheme, hashes.SHA256())
        except InvalidSignature:
            return "AADSTS7000274: Client assertion contains an invalid signature."
        if claims.get("aud") != token_url:
            return f"AADSTS700024: Client assertion audience {claims.get('aud')!r} is not {token_url!r}."
        if claims.get("iss") != self.client_id or claims.get("sub") != self.client_id:
            return "AADSTS700021: Client assertion issuer and subject must be the client id."
        if float(claims.get("exp", 0)) <= time.time():
            return "AADSTS700024: Client assertion is not within its valid time range."
        return None

    # -- graph -----------------------------------------------------------------------------------------------------
    def _authorised(self, headers: dict[str, str]) -> bool:
        auth = headers.get("authorization", "")
        token = auth[7:] if auth.lower().startswith("bearer ") else ""
        with self._lock:
            expiry = self.issued.get(token)
        return expiry is not None and expiry > time.monotonic()

    def _budget(self, box: Mailbox) -> Reply | None:
        throttle = self.throttle
        if throttle.rate is None:
            return None
        with self._lock:
            now = time.monotonic()
            if box.stamp == 0.0:
                box.tokens, box.stamp = throttle.burst, now
            box.tokens = min(throttle.burst, box.tokens + (now - box.stamp) * throttle.rate)
            box.stamp = now
            if box.tokens >= 1.0:
                box.tokens -= 1.0
                return None
            box.stats.throttled_budget += 1
            wait = (1.0 - box.tokens) / throttle.rate
        return self._throttled("TooManyRequests", throttle.retry_after, wait)

    def _throttled(self, code: str, style: str | None, wait: float) -> Reply:
        headers: dict[str, str] = {}
        if style == "int":
            headers["Retry-After"] = str(max(1, int(wait + 0.999)))
        elif style == "fraction":
            headers["Retry-After"] = f"{wait:.3f}"
        elif style == "date":
            headers["Retry-After"] = email.utils.formatdate(time.time() + wait, usegmt=True)
        elif style is not None:
            headers["Retry-After"] = style
        return _error(429, code, "Application is over its MailboxConcurrency limit or request budget.", headers)

    def graph(self, method: str, path: str, query: str, headers: dict[str, str], body: bytes) -> Reply:
        """One Graph request (also used for each item of a ``$batch``)."""
        if not self._authorised(headers):
            return _error(401, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired.")
        rel = path[len("/v1.0") :]
        if method == "POST" and rel == "/$batch":
            return self._batch(headers, body)
        parts = [unquote(p) for p in rel.strip("/").split("/")]
        if parts[0] == "users" and len(parts) == 1:
            return self._users(query, headers)
        if parts[0] != "users" or len(parts) < 3:
            return _error(400, "BadRequest", f"unsupported path {path}")
        box = self.mailboxes.get(parts[1].lower())
        if box is None:
            return _error(404, "MailboxNotEnabledForRESTAPI", f"mailbox {parts[1]} not found")
        with self._lock:
            box.stats.requests += 1
            box.stats.inflight += 1
            box.stats.max_inflight = max(box.stats.max_inflight, box.stats.inflight)
            over = box.stats.inflight > self.throttle.concurrency
            if over:
                box.stats.throttled_concurrency += 1
        try:
            if over:
                return self._throttled("ApplicationThrottled", "int", 1.0)
            limited = self._budget(box)
            if limited is not None:
                return limited
            self._pass_gate(box)
            if self.latency:
                time.sleep(self.latency)
            return self._mailbox(box, parts[2:], query, headers)
        finally:
            with self._lock:
                box.stats.inflight -= 1

    def _pass_gate(self, box: Mailbox) -> None:
        if not self.gate:
            return
        with self._gate_open:  # each arrival wakes the waiters; past the timeout the test's assertion says what failed
            self._gate_open.notify_all()
            self._gate_open.wait_for(lambda: box.stats.max_inflight >= self.gate, timeout=60)

    def _users(self, query: str, headers: dict[str, str]) -> Reply:
        params = {k: v[0] for k, v in parse_qs(query).items()}
        advanced = headers.get("consistencylevel", "").lower() == "eventual" and params.get("$count") == "true"
        try:
            keep = _user_filter(params.get("$filter"), advanced)
        except ValueError as exc:
            return _error(400, "Request_UnsupportedQuery", str(exc))
        with self._lock:
            users = [u for u, box in sorted(self.mailboxes.items()) if keep(u, box.enabled)]
        offset = int(params.get("$skiptoken", "0"))
        page = users[offset : offset + 2]
        reply: dict[str, Any] = {"value": [{"mail": u, "userPrincipalName": u} for u in page]}
        if advanced:
            reply["@odata.count"] = len(users)
        if offset + 2 < len(users):
            rest = {k: v for k, v in params.items() if k != "$skiptoken"}
            reply["@odata.nextLink"] = f"{self.url}/v1.0/users?" + "&".join(
                [*(f"{k}={quote(v, safe='$,()@')}" for k, v in rest.items()), f"$skiptoken={offset + 2}"]
            )
        return _json_reply(200, reply)

    def _page_size(self, headers: dict[str, str]) -> int:
        for part in headers.get("prefer", "").split(","):
            name, _, value = part.strip().partition("=")
            if name.strip() == "odata.maxpagesize":
                return max(1, int(value))
        return 10

    def _mailbox(self, box: Mailbox, parts: list[str], query: str, headers: dict[str, str]) -> Reply:
        params = {k: v[0] for k, v in parse_qs(query, keep_blank_values=True).items()}
        base_url = f"{self.url}/v1.0/users/{quote(box.address, safe='@')}"
        if parts == ["mailFolders", "delta"]:
            value = [{"id": box.folder_ids[key], "displayName": name} for key, name in box.folder_names.items()]
            return _json_reply(200, {"value": value, "@odata.deltaLink": f"{base_url}/mailFolders/delta?$deltatoken=1"})
        if len(parts) == 2 and parts[0] == "mailFolders":
            key = _folder_key(box, parts[1])
            if key is None:
                return _error(404, "ErrorItemNotFound", "The specified folder could not be found in the store.")
            folder = {"id": box.folder_ids[key], "displayName": box.folder_names[key]}
            return _json_reply(200, _project(folder, params.get("$select")))
        if len(parts) == 4 and parts[0] == "mailFolders" and parts[2:] == ["messages", "delta"]:
            key = _folder_key(box, parts[1])
            if key is None:
                return _error(404, "ErrorItemNotFound", "folder not found")
            collection = box.folders[key]
            link = f"{base_url}/mailFolders/{quote(parts[1], safe='')}/messages/delta"
            return self._delta(box, collection, link, params, headers, select=params.get("$select"))
        if parts == ["calendarView", "delta"]:
            fresh = not params.get("$skiptoken") and not params.get("$deltatoken")
            if fresh and (not params.get("startDateTime") or not params.get("endDateTime")):
                return _error(400, "ErrorInvalidParameter", "startDateTime and endDateTime are required")
            return self._delta(box, box.calendar, f"{base_url}/calendarView/delta", params, headers, select=None)
        if len(parts) == 2 and parts[0] == "messages":
            for collection in box.folders.values():
                item = collection.current.get(parts[1])
                if item is not None:
                    return _json_reply(200, _project(item, params.get("$select")))
            return _error(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        return _error(400, "BadRequest", f"unsupported path {'/'.join(parts)}")

    def _delta(
        self,
        box: Mailbox,
        collection: Collection,
        link: str,
        params: dict[str, str],
        headers: dict[str, str],
        *,
        select: str | None,
    ) -> Reply:
        window = None
        if "startDateTime" in params:
            window = (params["startDateTime"], params["endDateTime"])
        token = params.get("$skiptoken") or params.get("$deltatoken")
        with self._lock:
            if token:
                try:
                    gen, base, end, offset = _parse_token(token, params.get("$deltatoken") is not None, self._seq)
                except ValueError:
                    return _error(400, "BadRequest", "malformed token")
                if gen != box.generation:
                    if self.resync_style == "410":
                        return _error(
                            410,
                            "SyncStateNotFound",
                            "The sync state generation is old.",
                            {"Location": f"{link}?$deltatoken="},
                        )
                    return _error(400, self.resync_style, "Resync required: the delta token is no longer valid.")
            else:
                base, offset = 0, 0
                end = self._seq
            items = collection.changes(base, end)
            if window is not None:
                items = [i for i in items if "@removed" in i or _overlaps(i, window)]
        size = self._page_size(headers)
        chunk = list(items[offset : offset + size])
        if self.replays and offset > 0:
            chunk = [*items[max(0, offset - 2) : offset], *chunk]
            if chunk:
                chunk.append(chunk[-1])
        extra = ""
        if select:
            extra += f"&$select={select}"
        if window is not None:
            extra += f"&startDateTime={window[0]}&endDateTime={window[1]}"
        reply: dict[str, Any] = {"value": [_project(i, select) for i in chunk]}
        if offset + size < len(items):
            reply["@odata.nextLink"] = f"{link}?$skiptoken={box.generation}.{base}.{end}.{offset + size}{extra}"
        else:
            reply["@odata.deltaLink"] = f"{link}?$deltatoken={box.generation}.{end}{extra}"
        return _json_reply(200, reply)

    def _batch(self, headers: dict[str, str], body: bytes) -> Reply:
        try:
            requests = json.loads(body)["requests"]
        except (ValueError, KeyError, TypeError):
            return _error(400, "BadRequest", "batch body is not JSON with requests")
        if len(requests) > 20:
            return _error(400, "BadRequest", "A maximum of 20 requests is allowed in a batch.")
        ids = [r.get("id") for r in requests]
        if len(set(ids)) != len(ids):
            return _error(400, "BadRequest", "Batch request ids must be unique.")
        fault = self._take_fault("$batch")
        if fault is not None and fault.kind == "not_json":
            return 200, {"Content-Type": "text/html"}, b"<html>proxy error</html>"
        responses = []
        throttle_items = int(fault.params.get("items", 1)) if fault is not None and fault.kind == "item_429" else 0
        for n, request in enumerate(requests):
            url = urlsplit(str(request.get("url", "")))
            if n < throttle_items:
                status, head, data = self._throttled(
                    "TooManyRequests", fault.params.get("retry_after", "fraction") if fault else "int", 0.05
                )
            else:
                status, head, data = self.graph(
                    str(request.get("method", "GET")), "/v1.0" + url.path, url.query, headers, b""
                )
            responses.append({"id": request.get("id"), "status": status, "headers": head, "body": json.loads(data)})
        if fault is not None and fault.kind == "missing_part" and responses:
            responses.pop()
        return _json_reply(200, {"responses": responses})


def _folder_key(box: Mailbox, name_or_id: str) -> str | None:
    """The fake's key of a folder named by its well-known name (any case) or its id; None if there is none."""
    if name_or_id in box.folders:
        return name_or_id
    if name_or_id.lower() in WELL_KNOWN_FOLDERS:
        return name_or_id.lower()
    return next((key for key, ident in box.folder_ids.items() if ident == name_or_id), None)


_CLAUSE = re.compile(
    r"^(?:(?P<flag>accountEnabled) eq (?P<bool>true|false)"
    r"|(?P<eqprop>mail|userPrincipalName) eq '(?P<eqval>[^']*)'"
    r"|(?P<fn>startsWith|endsWith)\((?P<fnprop>mail|userPrincipalName),\s*'(?P<fnval>[^']*)'\))$",
    re.IGNORECASE,
)


def _user_filter(text: str | None, advanced: bool) -> Callable[[str, bool], bool]:
    """A predicate (address, enabled) for the ``$filter`` clauses the docs use, joined by ``and``."""
    clauses: list[tuple[str, str]] = []
    for clause in re.split(r"\s+and\s+", text.strip(), flags=re.IGNORECASE) if text else []:
        match = _CLAUSE.match(clause.strip())
        if match is None:
            raise ValueError(f"Unsupported or invalid query filter clause {clause!r}.")
        if match["flag"]:
            clauses.append(("enabled", match["bool"].lower()))
        elif match["eqprop"]:
            clauses.append(("eq", match["eqval"].lower()))
        elif match["fn"].lower() == "endswith" and not advanced:
            raise ValueError(
                "Unsupported or invalid query filter clause specified for property 'mail' of resource 'User' "
                "(endsWith needs ConsistencyLevel: eventual and $count=true)."
            )
        else:
            clauses.append((match["fn"].lower(), match["fnval"].lower()))

    def keep(addr: str, enabled: bool) -> bool:
        checks: dict[str, Callable[[str], bool]] = {
            "enabled": lambda value: enabled == (value == "true"),
            "eq": lambda value: addr == value,
            "startswith": addr.startswith,
            "endswith": addr.endswith,
        }
        return all(checks[kind](value) for kind, value in clauses)

    return keep


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _parse_token(token: str, is_delta: bool, now: int) -> tuple[int, int, int, int]:
    """(generation, base, end, offset): a deltatoken ``gen.end`` opens the window (end, now]."""
    parts = [int(p) for p in token.split(".")]
    if is_delta:
        gen, end = parts
        return gen, end, now, 0
    gen, base, end, offset = parts
    return gen, base, end, offset


def _project(item: dict[str, Any], select: str | None) -> dict[str, Any]:
    if "@removed" in item or not select:
        return dict(item)
    wanted = {s.strip() for s in select.split(",")} | {"id"}
    return {k: v for k, v in item.items() if k in wanted}


def _overlaps(item: dict[str, Any], window: tuple[str, str]) -> bool:
    def parse(text: str) -> dt.datetime:
        text = text.split(".")[0].rstrip("Z")
        return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)

    start, end = parse(item["start"]["dateTime"]), parse(item["end"]["dateTime"])
    return start < parse(window[1]) and end > parse(window[0])


class _Handler(BaseHTTPRequestHandler):
    owner: FakeMicrosoft
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, reply: Reply) -> None:
        status, headers, body = reply
        head = [f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}"]
        headers = {**headers, "Content-Length": str(len(body)), "Date": email.utils.formatdate(usegmt=True)}
        head += [f"{k}: {v}" for k, v in headers.items()]
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)

    def _reset(self) -> None:
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.close()

    def _handle(self, method: str) -> None:
        fake = self.owner
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        path, query = split.path, split.query
        headers = {k.lower(): v for k, v in self.headers.items()}
        with fake._lock:
            fake.requests.append((method, self.path, headers))
        fault = fake._take_fault(self.path if "$batch" not in path else "")
        if fault is not None:
            applied = _apply_fault(self, fault, path)
            if applied is not None:
                if applied is _RESET:
                    self._reset()
                    return
                self._send(applied)  # type: ignore[arg-type]
                return
        if path.startswith("/v1.0/"):
            reply = fake.graph(method, path, query, headers, body)
        else:
            form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
            reply = fake.authority(method, path, form)
        self._send(reply)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")


_RESET = object()


def _apply_fault(handler: _Handler, fault: Fault, path: str) -> Reply | object | None:
    """The faulty reply for ``fault`` (None: serve normally, after any delay)."""
    kind, params = fault.kind, fault.params
    if kind == "429":
        code = params.get("code", "TooManyRequests")
        return handler.owner._throttled(code, params.get("retry_after", "int"), float(params.get("wait", 0.05)))
    if kind == "410":
        return _error(410, "SyncStateNotFound", "Gone", {"Location": path + "?$deltatoken="})
    if kind in ("syncStateNotFound", "SyncStateNotFound", "resyncRequired"):
        return _error(400, kind, "The sync state is not valid; resync.")
    if kind == "invalidate":  # expire the mailbox's delta state, then serve (the request itself gets the answer)
        box = path.split("/users/")[1].split("/")[0]
        handler.owner.invalidate_delta(unquote(box))
        return None
    if kind == "401":
        return _error(401, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired.")
    if kind == "expire_tokens":
        handler.owner.expire_tokens()
        return None
    if kind in ("500", "502", "503"):
        headers = {"Content-Type": "text/html"}
        if "retry_after" in params:
            headers["Retry-After"] = str(params["retry_after"])
        return int(kind), headers, b"<html><body><h1>Service Unavailable</h1></body></html>"
    if kind == "reset":
        return _RESET
    if kind == "timeout":
        time.sleep(float(params.get("delay", 1.0)))
        return None
    if kind == "non_json":
        return 200, {"Content-Type": "text/html"}, b"<html>Sign in to the proxy</html>"
    if kind == "empty_with_next":
        split = urlsplit(handler.path)
        return _json_reply(200, {"value": [], "@odata.nextLink": handler.owner.url + split.path + "?" + split.query})
    if kind == "invalid_client":
        return _json_reply(
            401, {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret."}
        )
    if kind == "token_429":
        return _json_reply(
            429,
            {"error": "temporarily_unavailable", "error_description": "throttled"},
            {"Retry-After": str(params.get("retry_after", "1"))},
        )
    raise ValueError(f"unknown fault {kind!r}")
