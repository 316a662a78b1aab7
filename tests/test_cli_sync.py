"""`tiepulse sync` as a user runs it, against the HTTPS Microsoft fake (settings from the environment)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from tests.connectors.microsoft_support import ANN, BOB, configure, fake_server, seed
from tests.fakes.microsoft_server import FakeMicrosoft
from tiepulse import cli
from tiepulse.cli import app

__all__ = ["fake_server"]  # the fixture, re-exported for pytest


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_sync_outlook_full_then_incremental_then_refresh(
    fake: FakeMicrosoft, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli.console, "width", 200)
    settings = configure(monkeypatch, tmp_path, fake)
    seed(fake, n=6)
    code, out = run("sync", "--source", "outlook")
    assert code == 0, out
    assert "2 mailbox(es)" in out and "raw.graph_messages" in out and "quality checks passed" in out
    code, out = run("sync", "--source", "outlook", "--no-refresh")
    assert code == 0 and "nothing new" in out
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    owners = {r[0] for r in con.execute("select distinct mailbox_owner from raw.graph_messages").fetchall()}
    # Ann's Sent and Bob's Inbox hold the same messages: one row each in staging
    sightings, messages = con.execute(
        "select (select count(*) from raw.graph_messages), (select count(*) from staging.stg_messages)"
    ).fetchone()  # type: ignore[misc]
    con.close()
    assert owners == {ANN, BOB}
    assert messages < sightings


def test_sync_rejects_unknown_source_and_unconfigured_provider(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIEPULSE_HOME", str(tmp_path))
    monkeypatch.delenv("TIEPULSE_CONFIG", raising=False)
    for key in ("TIEPULSE_MS_TENANT_ID", "TIEPULSE_MS_CLIENT_ID", "TIEPULSE_MS_CLIENT_SECRET"):
        monkeypatch.delenv(key, raising=False)
    code, out = run("sync", "--source", "yahoo")
    assert code == 2 and "outlook-calendar" in out and "yahoo" in out
    code, out = run("sync", "--source", "outlook")
    assert code == 2 and "connect microsoft" in " ".join(out.split())
