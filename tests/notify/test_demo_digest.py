"""The issue's finish line on a sample organisation: `TIEPULSE_NOTIFY_URLS=json://127.0.0.1:PORT/... tiepulse notify`
delivers its digest once, and a second run delivers nothing new."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakes.webhook import webhook_receiver
from tiepulse.sample import generate_sample

pytestmark = pytest.mark.slow


def tiepulse(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    code = f"from tiepulse.cli.app import app; app({list(args)!r})"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)


def test_the_demo_digest_is_delivered_once(tmp_path: Path) -> None:
    summary = generate_sample(tmp_path / "sample", people=60, externals=100, months=15)
    env = {
        **os.environ,
        "TIEPULSE_HOME": str(tmp_path / "home"),
        "TIEPULSE_CONFIG": str(summary.config),
        "TIEPULSE_AS_OF": str(json.loads(summary.truth.read_text())["as_of"]),
    }
    env.pop("TIEPULSE_NOTIFY_URLS", None)
    imported = tiepulse(env, "import", str(tmp_path / "sample"))
    assert imported.returncode == 0, imported.stderr
    with webhook_receiver() as receiver:
        env["TIEPULSE_NOTIFY_URLS"] = receiver.url("tiepulse/digest")
        first, second = tiepulse(env, "notify"), tiepulse(env, "notify", "--force")
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    [digest] = receiver.received
    assert digest.path == "/tiepulse/digest" and "new alerts in the organisation" in digest.payload["title"]
    assert "Nothing new to send" in second.stdout
