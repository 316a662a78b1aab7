"""What an installed tiepulse shows its user: a version, ``-h`` everywhere, and no module names of anyone else's."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tiepulse.cli.app import app

# Imports every layer (Dagster definitions, both providers' connectors), then checks that the user's own
# top-level modules are still theirs, then runs the command line with the remaining arguments.
USER_SCRIPT = """
import sys
import tiepulse.connectors.google, tiepulse.connectors.microsoft, tiepulse.pipelines.definitions
import connectors, pipelines
assert (connectors.OWNER, pipelines.OWNER) == ("user", "user"), (connectors.__file__, pipelines.__file__)
from tiepulse.cli.app import main
main()
"""


def test_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output == f"tiepulse {version('tiepulse')}\n"


@pytest.mark.parametrize("command", [[], ["import"], ["alerts"], ["alerts", "snooze"], ["connect", "google"]])
def test_short_help_everywhere(command: list[str]) -> None:
    short, long = (CliRunner().invoke(app, [*command, flag]) for flag in ("-h", "--help"))
    assert short.exit_code == long.exit_code == 0
    assert short.output == long.output and "Usage: " in short.output


def test_a_users_own_pipelines_and_connectors_modules_do_not_clash(tmp_path: Path) -> None:
    user = tmp_path / "project"
    user.mkdir()
    for name in ("pipelines", "connectors"):
        (user / f"{name}.py").write_text('OWNER = "user"\n')
    log = user / "calls.csv"
    log.write_text("date,person,channel,minutes\n2024-03-04,bo@acme.com,call,20\n2024-03-11,cy@acme.com,video,30\n")
    command = [sys.executable, "-c", USER_SCRIPT, "import", str(log), "--owner", "ana@acme.com", "--no-refresh"]
    env = {"PATH": "/usr/bin:/bin", "TIEPULSE_HOME": str(tmp_path / "home"), "PYTHONPATH": str(user), "COLUMNS": "200"}
    done = subprocess.run(command, cwd=user, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "rows added: raw.manual_interactions: 2;" in done.stdout, done.stdout
