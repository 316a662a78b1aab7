"""Credentials: a personal OAuth token (installed-app flow, saved 0600 under TIEPULSE_HOME) or a service account
with domain-wide delegation acting as each user.

Scopes are the narrowest that work: ``gmail.metadata`` (headers and labels, never bodies) and
``calendar.readonly``. The token endpoint can be redirected with ``TIEPULSE_GOOGLE_TOKEN_URI`` (tests).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import google_auth_httplib2
import httplib2
from google.auth.credentials import Credentials
from google.oauth2 import service_account
from google.oauth2.credentials import Credentials as UserCredentials

from .errors import GoogleAuthError
from .settings import GoogleSettings

GMAIL_SCOPE = "https://www.googleapis.com/auth/gmail.metadata"
CALENDAR_SCOPE = "https://www.googleapis.com/auth/calendar.readonly"
SCOPES: dict[str, str] = {"gmail": GMAIL_SCOPE, "gcal": CALENDAR_SCOPE}

SCOPE_REASONS: dict[str, str] = {
    GMAIL_SCOPE: "Gmail metadata: senders, recipients, dates, Message-ID, labels. It cannot read bodies or "
    "attachments, and Google refuses full-message requests made with it.",
    CALENDAR_SCOPE: "Calendar, read-only: event times, organizer, attendees and their answers, whether a call "
    "link exists. tiepulse never stores descriptions, and titles only as an optional keyed hash.",
}

TOKEN_DIR = "google"


@dataclass(frozen=True, slots=True)
class Account:
    """One mailbox/calendar to sync and how to authenticate as it."""

    address: str
    kind: str
    """``personal`` (a saved OAuth token) or ``delegated`` (service account acting as the user)."""
    token_file: Path | None = None


def token_dir(home: Path) -> Path:
    return home / TOKEN_DIR


def token_path(home: Path, account: str) -> Path:
    return token_dir(home) / f"token-{account}.json"


def personal_accounts(home: Path) -> list[Account]:
    """Accounts connected with `tiepulse connect google`, from their token files."""
    folder = token_dir(home)
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.glob("token-*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and isinstance(data.get("account"), str):
            found.append(Account(data["account"], "personal", path))
    return found


def write_private(path: Path, text: str) -> None:
    """Write ``text`` atomically to ``path`` with mode 0600 (the folder 0700)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_personal_token(home: Path, account: str, credentials: UserCredentials) -> Path:
    """Store the refresh token (and client id/secret needed to use it) for ``account``; mode 0600."""
    info = json.loads(credentials.to_json())
    info.pop("token", None)  # the short-lived access token is not worth keeping on disk
    info.pop("expiry", None)
    data = {"account": account, "scopes": list(credentials.scopes or []), "authorized_user": info}
    path = token_path(home, account)
    write_private(path, json.dumps(data, indent=1))
    return path


def load_personal_credentials(path: Path, endpoints: GoogleSettings, scopes: Sequence[str]) -> UserCredentials:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        info: dict[str, Any] = data["authorized_user"]
        refresh_token = info["refresh_token"]
        client_id, client_secret = info["client_id"], info["client_secret"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise GoogleAuthError(
            f"{path}: not a usable tiepulse Google token ({type(exc).__name__}). "
            "Run `tiepulse connect google --client-secrets FILE` again."
        ) from None
    granted = set(data.get("scopes") or info.get("scopes") or [])
    missing = [s for s in scopes if granted and s not in granted]
    if missing:
        raise GoogleAuthError(
            f"{path}: the saved token does not grant {', '.join(missing)}. "
            "Run `tiepulse connect google --client-secrets FILE` again and allow it."
        )
    try:
        token_uri = endpoints.token_endpoint(info.get("token_uri"), path)
    except ValueError as exc:
        raise GoogleAuthError(str(exc)) from None
    return UserCredentials(
        token=None,
        refresh_token=refresh_token,
        token_uri=token_uri,
        client_id=client_id,
        client_secret=client_secret,
        scopes=list(scopes),
    )


def delegated_credentials(endpoints: GoogleSettings, user: str, scopes: Sequence[str]) -> service_account.Credentials:
    """The service account acting as ``user`` (domain-wide delegation)."""
    path = endpoints.service_account_file
    if path is None:
        raise GoogleAuthError("TIEPULSE_GOOGLE_SERVICE_ACCOUNT_FILE is not set")
    try:
        info = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise GoogleAuthError(f"{path}: cannot read the service-account key ({exc})") from None
    if not isinstance(info, dict) or info.get("type") != "service_account":
        raise GoogleAuthError(f'{path}: not a service-account key file (expected "type": "service_account")')
    try:
        info = {**info, "token_uri": endpoints.token_endpoint(info.get("token_uri"), Path(path))}
        credentials = service_account.Credentials.from_service_account_info(info, scopes=list(scopes))
    except (ValueError, KeyError) as exc:
        raise GoogleAuthError(f"{path}: unusable service-account key ({exc})") from None
    return credentials.with_subject(user)


def authorized_http(credentials: Credentials, timeout: float) -> google_auth_httplib2.AuthorizedHttp:
    """An httplib2 transport with a timeout on every call that refreshes the token once on a 401."""
    return google_auth_httplib2.AuthorizedHttp(credentials, http=httplib2.Http(timeout=timeout), max_refresh_attempts=1)


def run_installed_app_flow(
    client_secrets: Path,
    scopes: Sequence[str],
    endpoints: GoogleSettings,
    *,
    open_browser: bool = True,
    browser: str | None = None,
    port: int = 0,
    timeout_seconds: int | None = 300,
) -> UserCredentials:
    """The OAuth installed-app flow (a local redirect server on 127.0.0.1) for ``scopes``."""
    from google_auth_oauthlib.flow import InstalledAppFlow

    try:
        config = json.loads(client_secrets.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise GoogleAuthError(f"{client_secrets}: cannot read the OAuth client file ({exc})") from None
    kind = "installed" if "installed" in config else "web" if "web" in config else None
    if kind is None:
        raise GoogleAuthError(
            f"{client_secrets}: not an OAuth client file; download the JSON of a Desktop app client "
            "(APIs & Services > Credentials)"
        )
    try:
        config[kind] = {
            **config[kind],
            "token_uri": endpoints.token_endpoint(config[kind].get("token_uri"), client_secrets),
        }
    except ValueError as exc:
        raise GoogleAuthError(str(exc)) from None
    flow = InstalledAppFlow.from_client_config(config, scopes=list(scopes))
    credentials = flow.run_local_server(
        host="127.0.0.1",
        port=port,
        open_browser=open_browser,
        browser=browser,
        timeout_seconds=timeout_seconds,
        authorization_prompt_message="If no browser opened, visit this URL to authorise tiepulse:\n{url}",
        success_message="tiepulse is connected. You can close this tab.",
        access_type="offline",
        prompt="consent",
    )
    if not isinstance(credentials, UserCredentials) or not credentials.refresh_token:
        raise GoogleAuthError("Google returned no refresh token; run the command again and approve the access")
    return credentials
