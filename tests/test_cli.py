"""The command line as a user meets it: import, sql, status, and the errors that say what to do."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tiepulse.cli import app as cli
from tiepulse.cli.app import app

MBOX = (Path(__file__).parent / "data" / "sent.mbox").read_text()  # also read by .ci/wheel_check.sh


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TIEPULSE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TIEPULSE_AS_OF", "2024-04-01")
    monkeypatch.delenv("TIEPULSE_CONFIG", raising=False)
    monkeypatch.delenv("TIEPULSE_PSEUDONYM_KEY", raising=False)
    monkeypatch.setattr(cli.console, "width", 200)
    monkeypatch.setattr(cli.err, "width", 200)
    mbox = tmp_path / "sent.mbox"
    mbox.write_text(MBOX)
    return mbox


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_import_infers_owner_and_reimport_adds_nothing(env: Path) -> None:
    code, out = run("import", str(env), "--no-refresh")
    assert code == 0, out
    assert "ana@acme.com" in out and "sent_folder_sender" in out
    assert "raw.mail_messages: 2" in out and "quarantined: 1" in out
    code, out = run("import", str(env), "--no-refresh")
    assert code == 0 and "skipped" in out and "nothing new" in out


def test_sql_formats_and_read_only(env: Path) -> None:
    run("import", str(env), "--no-refresh")
    code, out = run("sql", "--format", "json", "select message_key from raw.mail_messages order by 1")
    assert code == 0 and json.loads(out) == [{"message_key": "1@acme.com"}, {"message_key": "2@acme.com"}]
    code, out = run("sql", "--format", "csv", "select reason, count(*) as n from ops.quarantine group by 1")
    assert out.splitlines() == ["reason,n", "implausible_date,1"]
    code, out = run("sql", "delete from raw.mail_messages")
    assert code == 2 and "read-only" in out.lower()
    code, out = run("sql", "select * from nowhere")
    assert code == 2 and "nowhere" in out
    code, out = run("sql", "  ; ")
    assert code == 2 and "the query is empty" in out


def test_status_and_missing_warehouse(env: Path) -> None:
    code, out = run("status")
    assert code == 2 and "No warehouse" in out
    run("import", str(env), "--no-refresh")
    code, out = run("status")
    assert code == 0 and "mail_messages" in out and "implausible_date" in out and "import" in out


def test_bad_config_is_explained(env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("egos:\n  - email: ana@acme.com\n    timezone: [1]\n")
    monkeypatch.setenv("TIEPULSE_CONFIG", str(config))
    code, out = run("import", str(env))
    assert code == 2 and str(config) in out.replace("\n", "") and "egos.0.timezone" in out


def test_nothing_importable_fails_and_skips_the_refresh(env: Path, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "empty").mkdir()
    for path in (tmp_path / "notes.txt", tmp_path / "empty"):
        code, out = run("import", str(path))
        assert code == 2 and "nothing to import" in out and "Refreshed" not in out


def test_the_demo_refuses_a_warehouse_holding_other_data(env: Path, tmp_path: Path) -> None:
    run("import", str(env), "--no-refresh")
    code, out = run("demo", "--dir", str(tmp_path / "sample"))
    assert code == 2 and "already holds other data" in out and not (tmp_path / "sample").exists()


def test_missing_path_and_bad_owner(env: Path) -> None:
    code, out = run("import", "/no/such/file.mbox")
    assert code == 2 and "no such file" in out
    code, out = run("import", str(env), "--owner", "not-an-address")
    assert code == 2 and "--owner" in out
