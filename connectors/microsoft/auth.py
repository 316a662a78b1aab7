"""Tokens for Graph through msal: app-only (client credentials) and personal (device code, cached 0600).

A token provider has two calls: ``token()`` (a valid access token, from msal's cache when it can) and
``refresh()`` (drop the cached token and get a new one; the Graph client calls it once after a 401
``InvalidAuthenticationToken``). Errors are :class:`MicrosoftAuthError` with what to do, never a secret.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import msal
import requests

from ..http.retry import RetryableError
from .settings import MicrosoftSettings

APP_SCOPES = ["https://graph.microsoft.com/.default"]
DELEGATED_SCOPES = ["https://graph.microsoft.com/Mail.ReadBasic", "https://graph.microsoft.com/Calendars.ReadBasic"]
PERMISSIONS_WHY = {
    "Mail.ReadBasic": "read who wrote to whom and when (sender, recipients, dates, message ids); never bodies "
    "or attachments",
    "Calendars.ReadBasic": "read your meetings' times, organizer, attendees and responses; never descriptions "
    "or attachments",
    "offline_access": "keep syncing without asking you to sign in again (a refresh token kept in a 0600 file)",
}
CACHE_FILE = "microsoft_token_cache.json"
CONNECTION_FILE = "microsoft_connection.json"


class MicrosoftAuthError(RuntimeError):
    """Authentication failed; the message says how to fix it."""


class TokenProvider(Protocol):
    def token(self) -> str: ...

    def refresh(self) -> str: ...


def _acquire(call: Callable[[], dict[str, Any] | None], hint: str) -> str:
    """The access token of an msal call, or :class:`MicrosoftAuthError` saying why there is none."""
    try:
        result = call()
    except RetryableError as exc:  # the session's retries ran out on resets, timeouts or 429/5xx
        raise MicrosoftAuthError(
            f"the Microsoft token endpoint kept failing ({exc}). Check TIEPULSE_MS_AUTHORITY_HOST and the network, "
            "then sync again."
        ) from None
    return _check(result, hint)


def _check(result: dict[str, Any] | None, hint: str) -> str:
    if result and "access_token" in result:
        return str(result["access_token"])
    if not result:
        raise MicrosoftAuthError(f"no token could be obtained. {hint}")
    code = result.get("error", "unknown_error")
    description = str(result.get("error_description", "")).splitlines()[0][:300]
    raise MicrosoftAuthError(f"the Microsoft token endpoint refused ({code}: {description}). {hint}")


def _load_certificate(path: Path, password: str | None) -> dict[str, str]:
    """msal's certificate credential from a PEM holding the private key and the certificate."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization

    data = path.read_bytes()
    try:
        cert = x509.load_pem_x509_certificate(data)
        key = serialization.load_pem_private_key(data, password.encode() if password else None)
    except ValueError as exc:
        raise MicrosoftAuthError(
            f"{path}: expected a PEM file holding both the private key and the certificate ({exc})"
        ) from None
    from cryptography.hazmat.primitives.asymmetric import rsa

    if not isinstance(key, rsa.RSAPrivateKey):
        raise MicrosoftAuthError(f"{path}: Entra ID app certificates need an RSA key, not {type(key).__name__}")
    pem_key = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return {
        "private_key": pem_key,
        "thumbprint": cert.fingerprint(hashes.SHA1()).hex(),  # Entra ID names a certificate by its SHA-1
        "public_certificate": cert.public_bytes(serialization.Encoding.PEM).decode(),
    }


class AppTokenProvider:
    """App-only tokens (client secret or certificate) for an organisation's mailboxes."""

    def __init__(self, settings: MicrosoftSettings, http_client: requests.Session) -> None:
        if not settings.app_only:
            raise MicrosoftAuthError(
                "app-only access needs TIEPULSE_MS_TENANT_ID, TIEPULSE_MS_CLIENT_ID and TIEPULSE_MS_CLIENT_SECRET "
                "(or TIEPULSE_MS_CERTIFICATE_PATH)"
            )
        credential: Any
        if settings.client_secret is not None:
            credential = settings.client_secret.get_secret_value()
        else:
            assert settings.certificate_path is not None
            password = settings.certificate_password.get_secret_value() if settings.certificate_password else None
            credential = _load_certificate(settings.certificate_path, password)
        self._app = msal.ConfidentialClientApplication(
            settings.client_id,
            client_credential=credential,
            authority=f"{settings.authority_host}/{settings.tenant_id}",
            instance_discovery=False,
            http_client=http_client,
        )
        self._lock = threading.Lock()
        self._hint = (
            "Check TIEPULSE_MS_TENANT_ID, TIEPULSE_MS_CLIENT_ID and the client secret or certificate, and that an "
            "administrator granted consent (docs/connectors/microsoft.md)."
        )

    def token(self) -> str:
        with self._lock:
            return _acquire(lambda: self._app.acquire_token_for_client(APP_SCOPES), self._hint)

    def refresh(self) -> str:
        with self._lock:
            self._app.remove_tokens_for_client()
            return _acquire(lambda: self._app.acquire_token_for_client(APP_SCOPES), self._hint)


@dataclass(frozen=True, slots=True)
class Connection:
    """What ``tiepulse connect microsoft`` remembers besides the token cache (no secret)."""

    client_id: str
    tenant: str
    account: str

    @classmethod
    def load(cls, home: Path) -> Connection | None:
        path = home / CONNECTION_FILE
        if not path.is_file():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(data["client_id"], data["tenant"], data["account"])

    def save(self, home: Path) -> None:
        write_private(
            home / CONNECTION_FILE,
            json.dumps({"client_id": self.client_id, "tenant": self.tenant, "account": self.account}),
        )


def write_private(path: Path, text: str) -> None:
    """Write a file readable by its owner only (0600), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(tmp, 0o600)
    tmp.replace(path)


class DelegatedTokenProvider:
    """Personal (delegated) tokens from the device-code flow, the cache persisted under ``$TIEPULSE_HOME``."""

    def __init__(
        self, settings: MicrosoftSettings, http_client: requests.Session, home: Path, client_id: str, tenant: str
    ) -> None:
        self.cache_path = home / CACHE_FILE
        self.cache = msal.SerializableTokenCache()
        if self.cache_path.is_file():
            self.cache.deserialize(self.cache_path.read_text(encoding="utf-8"))
        self.app = msal.PublicClientApplication(
            client_id,
            authority=f"{settings.authority_host}/{tenant}",
            instance_discovery=False,
            http_client=http_client,
            token_cache=self.cache,
        )
        self._lock = threading.Lock()
        self.hint = f"Run `tiepulse connect microsoft --client-id {client_id} --tenant {tenant}` again to reconnect."

    def save(self) -> None:
        if self.cache.has_state_changed:
            write_private(self.cache_path, self.cache.serialize())
            self.cache.has_state_changed = False

    def _silent(self, force: bool) -> str:
        accounts = self.app.get_accounts()
        if not accounts:
            raise MicrosoftAuthError(f"not connected to Microsoft (no account in {self.cache_path}). {self.hint}")
        try:
            return _acquire(
                lambda: self.app.acquire_token_silent_with_error(DELEGATED_SCOPES, accounts[0], force_refresh=force),
                self.hint,
            )
        finally:
            self.save()

    def token(self) -> str:
        with self._lock:
            return self._silent(False)

    def refresh(self) -> str:
        with self._lock:
            return self._silent(True)

    def device_flow(self, show: Callable[[str], None]) -> dict[str, Any]:
        """Run the device-code flow: ``show`` gets msal's instruction; returns the token result's claims."""
        flow = self.app.initiate_device_flow(scopes=DELEGATED_SCOPES)
        if "user_code" not in flow:
            raise MicrosoftAuthError(
                f"could not start the device-code sign-in ({flow.get('error')}: {flow.get('error_description')})"
            )
        show(str(flow["message"]))
        result = self.app.acquire_token_by_device_flow(flow)
        _check(result, self.hint)
        self.save()
        claims = result.get("id_token_claims") or {}
        return dict(claims)
