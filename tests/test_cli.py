"""The command line as a user meets it: import, sql, status, and the errors that say what to do."""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.analytics.staged import AS_OF, publish_home, query
from tiepulse.cli import app as cli
from tiepulse.cli.app import app

MBOX = (Path(__file__).parent / "data" / "sent.mbox").read_text()  # also read by .ci/wheel_check.sh


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli_home: Path) -> Path:
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


def runs(env: Path) -> list[tuple[str, str, dict[str, object]]]:
    """(kind, status, summary) of every logged run, oldest first."""
    rows = query(env.parent / "home", "select kind, status, summary from ops.runs order by started_at")
    return [(kind, status, json.loads(summary)) for kind, status, summary in rows]


def test_a_run_that_exits_2_is_not_logged_success(env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    assert run("import", str(tmp_path / "notes.txt"))[0] == 2
    assert [(kind, status) for kind, status, _ in runs(env)] == [("import", "failure")]

    from tiepulse.pipelines import refresh as refreshing

    failed = refreshing.RefreshResult(False, {}, ["staging.stg_events:quality"], "run")
    monkeypatch.setattr(refreshing, "refresh", lambda **_: failed)
    code, out = run("import", str(env))
    assert code == 2 and "the refresh failed (staging.stg_events:quality)" in out
    kind, status, summary = runs(env)[-1]
    assert (kind, status, summary["refresh"]) == ("import", "partial", "failed: staging.stg_events:quality")
    assert summary["inserted"] == {"raw.mail_messages": 2}


PR_CAPBSET_DROP = 24
CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH = 1, 2


def _obey_file_permissions() -> None:
    """Run in the child before it starts: root drops its file-access override (from the capability bounding set,
    so the program it runs has none), and chmod 000 then holds for it as for any user."""
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def _mail(n: int, sender: str) -> str:
    return (
        f"Message-ID: <u{n}@acme.com>\nDate: Mon, 4 Mar 2024 09:{n:02d}:00 +0000\nFrom: {sender}\nTo: zed@acme.com\n\n"
    )


def test_unreadable_files_and_folders_are_reported_and_read_once_readable(env: Path, tmp_path: Path) -> None:
    """chmod 000 on a .mbox, a file of an .eml folder and a walked subfolder: each is named with the reason, the
    rest is imported, the run is partial and exits 2; once readable, the same import reads exactly them."""
    export = tmp_path / "export"
    (export / "emls").mkdir(parents=True)
    (export / "private").mkdir()
    (export / "ana.mbox").write_text(MBOX)
    (export / "locked.mbox").write_text(f"From x Mon Mar  4 09:00:00 2024\n{_mail(1, 'bo@acme.com')}")
    for n in (2, 3, 4):
        (export / "emls" / f"{n}.eml").write_text(_mail(n, "cy@acme.com"))
    (export / "private" / "x.mbox").write_text(f"From x Mon Mar  4 09:00:00 2024\n{_mail(5, 'dee@acme.com')}")
    locked = [export / "locked.mbox", export / "emls" / "3.eml", export / "private"]
    for path in locked:
        path.chmod(0)
    try:
        probe = subprocess.run(
            [sys.executable, "-c", f"open({str(locked[0])!r})"], preexec_fn=_obey_file_permissions, capture_output=True
        )
    except subprocess.SubprocessError:
        probe = None
    if probe is None or probe.returncode == 0:
        pytest.skip("cannot run a process that chmod 000 stops here (root without CAP_SETPCAP)")
    environment = {**os.environ, "TIEPULSE_HOME": str(env.parent / "home"), "TIEPULSE_AS_OF": "2024-04-01"}
    done = subprocess.run(
        [sys.executable, "-c", "from tiepulse.cli.app import main; main()", "import", str(export), "--no-refresh"],
        env={**environment, "COLUMNS": "200"},
        preexec_fn=_obey_file_permissions,
        capture_output=True,
        text=True,
        check=False,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 2 and "Traceback" not in out, out
    for what in (f"{export / 'locked.mbox'}", f"{export / 'emls'} (3.eml)", f"{export / 'private'}"):
        assert f"{what}: cannot read it: Permission denied" in out, out
    assert "Not recognised" not in out
    kind, status, summary = runs(env)[-1]
    assert (kind, status, len(summary["unreadable"])) == ("import", "partial", 3)
    assert query(env.parent / "home", "select count(*) from raw.mail_messages") == [(4,)]

    for path in locked:  # chmod changes neither size nor modification time: the fingerprints are the same
        path.chmod(0o755 if path.is_dir() else 0o644)
    code, out = run("import", str(export), "--no-refresh")
    assert code == 0 and "cannot read" not in out, out
    assert runs(env)[-1][:2] == ("import", "success")
    senders = query(
        env.parent / "home", "select list(distinct from_address order by from_address) from raw.mail_messages"
    )
    assert senders == [(["ana@acme.com", "bo@acme.com", "cy@acme.com", "dee@acme.com"],)]
    assert query(env.parent / "home", "select count(*) from raw.mail_messages") == [(7,)]


def test_the_demo_refuses_a_warehouse_holding_other_data(env: Path, tmp_path: Path) -> None:
    run("import", str(env), "--no-refresh")
    code, out = run("demo", "--dir", str(tmp_path / "sample"))
    assert code == 2 and "already holds other data" in out and not (tmp_path / "sample").exists()


def test_missing_path_and_bad_owner(env: Path) -> None:
    code, out = run("import", "/no/such/file.mbox")
    assert code == 2 and "no such file" in out
    code, out = run("import", str(env), "--owner", "not-an-address")
    assert code == 2 and "--owner" in out


PROBE = """
import json, sys
from tiepulse.cli.app import main
try:
    main()
except SystemExit as exc:
    code = exc.code
loaded = sorted({m.split(".")[0] for m in sys.modules} & {"dagster", "great_expectations"})
print("PROBE " + json.dumps({"code": code, "loaded": loaded}), file=sys.stderr)
"""
"""Runs `tiepulse ARGS` in this process, then names the heavy packages it loaded."""


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return publish_home(tmp_path_factory.mktemp("published"))


@pytest.mark.parametrize(
    "args",
    [
        ["health"],
        ["health", "--ego", "me@acme.com"],
        ["health", "--ego", "me@acme.com", "--as-of", "2026-02-01"],
        ["ties", "--ego", "me@acme.com"],
        ["alerts", "--format", "json"],
        ["alerts", "--as-of", "2026-02-01"],
        ["alerts", "snooze", "ALERT", "--days", "3"],
        ["alerts", "dismiss", "ALERT"],
        ["sql", "select count(*) from marts.mart_ties"],
        ["status"],
        ["report", "--ego", "me@acme.com", "--as-of", "2026-02-01", "--out", "OUT"],
    ],
    ids=" ".join,
)
def test_read_commands_load_neither_dagster_nor_great_expectations(published: Path, args: list[str]) -> None:
    alert = query(published, "select min(alert_id) from marts.mart_alerts")[0][0]
    env = {**os.environ, "TIEPULSE_HOME": str(published), "TIEPULSE_AS_OF": AS_OF.isoformat()}
    env.pop("TIEPULSE_CONFIG", None)
    out = str(published / "report.html")
    argv = [{"ALERT": alert, "OUT": out}.get(a, a) for a in args]
    done = subprocess.run([sys.executable, "-c", PROBE, *argv], env=env, capture_output=True, text=True, check=False)
    probe = json.loads(done.stderr.rsplit("PROBE ", 1)[-1])
    assert probe == {"code": 0, "loaded": []}, done.stdout + done.stderr
