"""Connecting a personal account (installed-app flow), accounts and options, and the CLI-facing sync loop.

The `tiepulse sync` command itself is tested in tests/test_cli_sync.py.
"""

from __future__ import annotations

import io
import json
import stat
import threading
import webbrowser
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from rich.console import Console

from tests.fakes.google_server import FakeGoogle
from tests.fakes.google_testbed import OWNER, Testbed
from tiepulse.cli.google import connect_google
from tiepulse.cli.sync_runner import sync_provider
from tiepulse.connectors.google.auth import GoogleAuthError, load_personal_credentials
from tiepulse.connectors.google.settings import GoogleSettings
from tiepulse.core.settings import ConfigError
from tiepulse.pipelines.providers import GOOGLE, NotSetUp
from tiepulse.pipelines.providers.google import google_options, google_sources, list_accounts

PERSONAL = "jo.personal@gmail.com"


class _FollowingBrowser(webbrowser.BaseBrowser):
    """A 'browser' that consents at once: follows the fake's redirect back to the flow's local server."""

    def open(self, url: str, new: int = 0, autoraise: bool = True) -> bool:
        def visit() -> None:
            session = requests.Session()
            session.trust_env = False
            session.get(url, timeout=10)

        threading.Thread(target=visit, daemon=True).start()
        return True


@pytest.fixture
def fake() -> Iterator[FakeGoogle]:
    with FakeGoogle() as server:
        yield server


@pytest.fixture
def bed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake: FakeGoogle) -> Iterator[Testbed]:
    testbed = Testbed(tmp_path, monkeypatch, fake)
    yield testbed
    testbed.close()


def test_connect_stores_a_private_token_and_syncs_with_it(
    bed: Testbed, fake: FakeGoogle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the fake token endpoint is plain http
    monkeypatch.delenv("TIEPULSE_GOOGLE_SERVICE_ACCOUNT_FILE")
    bed.configure(users=[])
    fake.consent_user = PERSONAL
    fake.generate_mailbox(PERSONAL, 30)
    secrets_file = bed.tmp / "client_secret.json"
    secrets_file.write_text(
        json.dumps(
            {
                "installed": {
                    "client_id": "test-client.apps.googleusercontent.com",
                    "client_secret": "test-secret",
                    "auth_uri": fake.url + "/o/oauth2/auth",
                    "token_uri": "https://oauth2.googleapis.com/token",
                    "redirect_uris": ["http://localhost"],
                }
            }
        )
    )
    webbrowser.register("tiepulse-fake-consent", None, _FollowingBrowser())
    out = io.StringIO()
    account = connect_google(secrets_file, bed.settings, Console(file=out, width=200), browser="tiepulse-fake-consent")
    assert account == PERSONAL
    text = out.getvalue()
    assert "gmail.metadata" in text and "calendar.readonly" in text and "bodies" in text
    token_file = bed.home / "google" / f"token-{PERSONAL}.json"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(token_file.parent.stat().st_mode) == 0o700
    saved = json.loads(token_file.read_text())
    assert saved["account"] == PERSONAL and saved["authorized_user"]["refresh_token"].startswith("1//")
    assert "token" not in saved["authorized_user"]  # no access token on disk

    assert [a.address for a in list_accounts(bed.settings)] == [PERSONAL]
    bed.sync("gmail", account=PERSONAL)
    assert len(bed.stored(PERSONAL)) == 30


def test_personal_and_delegated_accounts_are_listed_without_calling_google(bed: Testbed, fake: FakeGoogle) -> None:
    (bed.home / "google").mkdir(parents=True)
    token = {
        "account": PERSONAL,
        "scopes": [],
        "authorized_user": {"refresh_token": "x", "client_id": "c", "client_secret": "s"},
    }
    (bed.home / "google" / f"token-{PERSONAL}.json").write_text(json.dumps(token))
    bed.configure(users=[OWNER, "Bob@Corp.Example"])
    accounts = list_accounts(bed.settings)
    assert [(a.address, a.kind) for a in accounts] == [
        (PERSONAL, "personal"),
        (OWNER, "delegated"),
        ("bob@corp.example", "delegated"),
    ]
    assert fake.calls == {}
    sources = google_sources(bed.settings, source="gcal")
    assert [(s.source, s.account) for s in sources] == [("gcal", a.address) for a in accounts]
    with pytest.raises(NotSetUp, match=r"stranger@corp\.example is not a Google account tiepulse knows"):
        google_sources(bed.settings, account="stranger@corp.example")


def test_users_from_the_directory(bed: Testbed) -> None:
    directory = bed.tmp / "directory.csv"
    directory.write_text(
        "email,name,team,is_internal\n"
        "ann@corp.example,Ann,Sales,true\n"
        "vendor@partner.example,Vic,,false\n"
        "cy@corp.example,Cy,Ops,\n"
    )
    bed.google["users"] = "directory"
    bed.write_config(directory_file=str(directory), identity={"internal_domains": ["corp.example"]})
    assert [a.address for a in list_accounts(bed.settings)] == ["ann@corp.example", "cy@corp.example"]


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"gmail": {"batch_size": 500}}, "google.gmail.batch_size"),
        ({"users": ["not-an-address"]}, "google.users"),
        ({"calender": {}}, "google.calender"),
        ({"calendar": {"calendars": "some"}}, "google.calendar.calendars"),
    ],
)
def test_bad_options_name_the_field(section: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        google_options(data=section)


def test_endpoints_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIEPULSE_GOOGLE_API_ENDPOINT", "http://127.0.0.1:9/")
    monkeypatch.delenv("TIEPULSE_GOOGLE_TOKEN_URI", raising=False)
    monkeypatch.setenv("TIEPULSE_GOOGLE_ALLOW_HTTP_LOOPBACK", "1")
    endpoints = GoogleSettings()
    assert endpoints.gmail_endpoint == "http://127.0.0.1:9/"
    assert endpoints.calendar_endpoint == "http://127.0.0.1:9/calendar/v3/"
    assert endpoints.gmail_batch_uri == "http://127.0.0.1:9/batch/gmail/v1"
    monkeypatch.delenv("TIEPULSE_GOOGLE_API_ENDPOINT")
    assert GoogleSettings().calendar_endpoint == "https://www.googleapis.com/calendar/v3/"


def test_sync_loop_reports_each_account_and_goes_on_after_a_failure(bed: Testbed, fake: FakeGoogle) -> None:
    fake.generate_mailbox(OWNER, 20)
    bed.configure(users=["ghost@corp.example", OWNER])  # the ghost is unknown to Google: its grant fails
    summary = sync_provider(bed.settings, GOOGLE, None, None, Console(file=io.StringIO(), width=200), retry=bed.retry())
    by = {(a.source, a.account): a for a in summary.outcomes}
    assert by[("gmail", OWNER)].ok and by[("gmail", OWNER)].inserted == 20
    assert by[("gcal", OWNER)].ok
    ghost = by[("gmail", "ghost@corp.example")]
    assert not ghost.ok and "domain-wide delegation" in ghost.error
    assert summary.status == "partial" and summary["failed"] == ["gmail:ghost@corp.example", "gcal:ghost@corp.example"]
    runs = bed.con.execute("select kind, status, summary from ops.runs").fetchall()
    assert runs[0][:2] == ("sync", "partial") and json.loads(runs[0][2])["inserted"] == {"raw.gmail_messages": 20}


def test_an_unusable_token_file_fails_only_its_own_account(bed: Testbed, fake: FakeGoogle) -> None:
    fake.generate_mailbox(OWNER, 7)
    (bed.home / "google").mkdir(parents=True)
    (bed.home / "google" / f"token-{PERSONAL}.json").write_text(json.dumps({"account": PERSONAL, "scopes": []}))
    sources = google_sources(bed.settings, retry=bed.retry())  # building reads no credentials
    assert [(s.account, s.source) for s in sources][:2] == [(PERSONAL, "gmail"), (PERSONAL, "gcal")]
    summary = sync_provider(bed.settings, GOOGLE, "gmail", None, Console(file=io.StringIO()), retry=bed.retry())
    by = {a.account: a for a in summary.outcomes}
    assert not by[PERSONAL].ok and "not a usable tiepulse Google token" in by[PERSONAL].error
    assert by[OWNER].ok and by[OWNER].inserted == 7 and len(bed.stored()) == 7


@pytest.mark.parametrize(
    ("variable", "url", "loopback"),
    [
        ("TIEPULSE_GOOGLE_TOKEN_URI", "http://oauth2.example.com/token", "1"),  # plain http off this machine: never
        ("TIEPULSE_GOOGLE_TOKEN_URI", "http://127.0.0.1:9/token", "0"),  # to this machine: only with the switch
        ("TIEPULSE_GOOGLE_API_ENDPOINT", "http://localhost:9", "0"),
        ("TIEPULSE_GOOGLE_TOKEN_URI", "ftp://127.0.0.1/token", "1"),
    ],
)
def test_endpoints_must_be_https(monkeypatch: pytest.MonkeyPatch, variable: str, url: str, loopback: str) -> None:
    monkeypatch.delenv("TIEPULSE_GOOGLE_TOKEN_URI", raising=False)
    monkeypatch.delenv("TIEPULSE_GOOGLE_API_ENDPOINT", raising=False)
    monkeypatch.setenv(variable, url)
    monkeypatch.setenv("TIEPULSE_GOOGLE_ALLOW_HTTP_LOOPBACK", loopback)
    with pytest.raises(ValueError, match=f"{variable} must be an https:// URL"):
        GoogleSettings()


def test_a_token_file_naming_a_plain_http_token_uri_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TIEPULSE_GOOGLE_TOKEN_URI", raising=False)
    monkeypatch.delenv("TIEPULSE_GOOGLE_ALLOW_HTTP_LOOPBACK", raising=False)
    token = tmp_path / "token.json"
    user = {"refresh_token": "r", "client_id": "c", "client_secret": "s", "token_uri": "http://evil.example/token"}
    token.write_text(json.dumps({"authorized_user": user}))
    with pytest.raises(GoogleAuthError, match=r"token_uri in .*token.json must be an https:// URL"):
        load_personal_credentials(token, GoogleSettings(), [])
