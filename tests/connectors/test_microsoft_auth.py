"""msal against the fake authority: device code (personal), certificate (app-only), settings and options."""

from __future__ import annotations

import io
import os
import stat
import tempfile
from pathlib import Path

import duckdb
import pytest
import requests
import yaml
from rich.console import Console

from tests.connectors.microsoft_support import ANN, configure, fake_server, quick_policy, sync  # noqa: F401
from tests.fakes.microsoft_server import FakeMicrosoft, message
from tiepulse.cli.microsoft import connect_microsoft
from tiepulse.cli.sync_runner import sync_provider
from tiepulse.connectors.microsoft import MicrosoftAuthError, MicrosoftSettings
from tiepulse.connectors.microsoft.auth import CACHE_FILE, CONNECTION_FILE
from tiepulse.connectors.microsoft.transport import GraphSession, trust_bundle
from tiepulse.core.settings import ConfigError, Settings
from tiepulse.pipelines.providers import MICROSOFT
from tiepulse.pipelines.providers.microsoft import microsoft_connection, microsoft_options

ME = "me@contoso.com"


def personal_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fake: FakeMicrosoft) -> Settings:
    settings = configure(monkeypatch, tmp_path, fake)
    for key in ("TIEPULSE_MS_TENANT_ID", "TIEPULSE_MS_CLIENT_ID", "TIEPULSE_MS_CLIENT_SECRET"):
        monkeypatch.delenv(key)
    return settings


def test_device_code_sign_in_then_personal_sync(
    fake: FakeMicrosoft, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = personal_env(monkeypatch, tmp_path, fake)
    with pytest.raises(MicrosoftAuthError, match="tiepulse connect microsoft"):
        microsoft_connection(settings)
    out = io.StringIO()
    account = connect_microsoft("my-app", None, settings, Console(file=out, width=200))
    assert account == ME
    text = out.getvalue()
    assert "Mail.ReadBasic" in text and "Calendars.ReadBasic" in text and "FAKE-CODE" in text
    assert fake.device_polls == 2  # authorization_pending once, then the tokens
    for name in (CACHE_FILE, CONNECTION_FILE):
        mode = stat.S_IMODE((settings.home / name).stat().st_mode)
        assert mode == 0o600, (name, oct(mode))
    assert "at-" in (settings.home / CACHE_FILE).read_text()

    fake.put_message(ME, "inbox", message("p1", "p1@x.org", "x@x.org", [ME]))
    fake.put_message(ME, "sentitems", message("p2", "p2@x.org", ME, ["x@x.org"]))
    fake.expire_tokens()  # the cached access token is refused: the refresh token gets a new one
    summary = sync_provider(settings, MICROSOFT, "outlook", None, Console(file=io.StringIO()))
    assert summary["inserted"] == {"raw.graph_messages": 2} and summary["mailboxes"] == 1
    grants = [r["grant_type"] for r in fake.token_requests]
    assert grants[0] == "urn:ietf:params:oauth:grant-type:device_code" and "refresh_token" in grants
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    assert con.execute("select count(*) from ops.runs where kind = 'sync' and status = 'success'").fetchone() == (1,)
    con.close()


def test_certificate_credential(
    fake: FakeMicrosoft, warehouse: duckdb.DuckDBPyConnection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = configure(monkeypatch, tmp_path, fake, mailboxes=[ANN])
    app = rsa_certificate()
    pem = tmp_path / "app.pem"
    pem.write_bytes(app)
    monkeypatch.delenv("TIEPULSE_MS_CLIENT_SECRET")
    monkeypatch.setenv("TIEPULSE_MS_CERTIFICATE_PATH", str(pem))
    fake.put_message(ANN, "inbox", message("c1", "c1@x.org", "x@x.org", [ANN]))

    # Signed with a key whose certificate the app registration does not hold: refused (the signature is checked).
    fake.register_certificate(rsa_certificate())
    with pytest.raises(MicrosoftAuthError, match="AADSTS700027"):
        sync(warehouse, settings, source="outlook")

    fake.register_certificate(app)
    result, _ = sync(warehouse, settings, source="outlook")
    assert result.inserted == {"raw.graph_messages": 1}
    assertion = fake.token_requests[-1]
    assert assertion["grant_type"] == "client_credentials" and "client_assertion" in assertion
    assert "client_secret" not in assertion

    # A forged assertion (claims of one, the signature of another) is refused too.
    head, body, _ = assertion["client_assertion"].split(".")
    _, other, _ = fake.token_requests[0]["client_assertion"].split(".")
    forged = fake.authority(
        "POST",
        f"/{fake.tenant}/oauth2/v2.0/token",
        {**assertion, "client_assertion": f"{head}.{body}.{other}"},
    )
    assert forged[0] == 401 and b"AADSTS7000274" in forged[2]


def rsa_certificate() -> bytes:
    """An app certificate as Entra ID wants it: RSA key and self-signed certificate in one PEM."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tiepulse app")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    pem_key = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return pem_key + cert.public_bytes(serialization.Encoding.PEM)


def test_environment_names_and_option_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIEPULSE_GRAPH_ENDPOINT", "https://graph.example.test/")
    monkeypatch.setenv("TIEPULSE_CA_BUNDLE", "/etc/extra-ca.pem")
    monkeypatch.setenv("TIEPULSE_MS_AUTHORITY_HOST", "https://login.example.test")
    monkeypatch.setenv("TIEPULSE_MS_CLIENT_SECRET", "s3cret")
    ms = MicrosoftSettings()
    assert ms.graph_base == "https://graph.example.test/v1.0"
    assert ms.ca_bundle == Path("/etc/extra-ca.pem") and ms.authority_host == "https://login.example.test"
    assert "s3cret" not in repr(ms)
    monkeypatch.setenv("TIEPULSE_GRAPH_ENDPOINT", "http://plain.example.test")
    with pytest.raises(ValueError, match="https"):
        MicrosoftSettings()

    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"microsoft": {"page_size": 5000, "folders": "some", "colour": "red"}}))
    monkeypatch.setenv("TIEPULSE_CONFIG", str(config))
    with pytest.raises(ConfigError) as info:
        microsoft_options(Settings())
    message_text = str(info.value)
    assert "microsoft.page_size" in message_text and "microsoft.colour" in message_text
    assert "microsoft.folders" in message_text


def test_the_extra_certificate_authority_is_trusted_in_memory_only(
    fake: FakeMicrosoft, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    private = tmp_path / "tmp"
    private.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private))  # where a merged bundle file would have gone
    context = trust_bundle(fake.tls.cert_path)
    url = f"{fake.url}/{fake.tenant}/v2.0/.well-known/openid-configuration"
    assert GraphSession(verify=context, timeout=2.0).get(url).status_code == 200
    with pytest.raises(requests.exceptions.SSLError):  # without it, the fake's self-signed certificate is refused
        GraphSession(verify=trust_bundle(None), timeout=2.0).get(url)
    assert list(private.iterdir()) == []  # no bundle written
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("hello")
    with pytest.raises(ValueError, match="TIEPULSE_CA_BUNDLE"):
        trust_bundle(not_pem)


def test_signing_in_under_umask_000_keeps_the_home_private(
    fake: FakeMicrosoft, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = personal_env(monkeypatch, tmp_path, fake)
    settings = Settings(home=settings.home / "fresh")  # created by the sign-in
    before = os.umask(0)
    try:
        connect_microsoft("my-app", None, settings, Console(file=io.StringIO(), width=200))
    finally:
        os.umask(before)
    assert stat.S_IMODE(settings.home.stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in settings.home.iterdir()} == {0o600}
