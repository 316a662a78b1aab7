"""Channels from the config and the environment, secrets that never show, privacy of organisation digests, the
command's errors, and the Dagster sensor that sends after each refresh."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from typer.testing import CliRunner

from tests.analytics.staged import EGO, query
from tests.fakes.webhook import Reply, webhook_receiver
from tiepulse.cli.app import app
from tiepulse.core.warehouse import connect
from tiepulse.pipelines.assets.notify import alert_digests_job, alert_digests_sensor, channels_configured
from tiepulse.pipelines.resources import WarehouseResource

Configure = Callable[[dict[str, Any]], Path]
TOKEN = "S3cret-Token-987zq"


def tiepulse(*args: str) -> subprocess.CompletedProcess[str]:
    code = f"from tiepulse.cli.app import app; app({list(args)!r})"
    return subprocess.run([sys.executable, "-c", code], env=os.environ, capture_output=True, text=True, check=False)


def test_secrets_in_urls_never_reach_output_or_ops(home: Path, configure: Configure) -> None:
    with webhook_receiver() as receiver:
        configure({"channels": [{"url": receiver.url(auth=f"hook:{TOKEN}@"), "for": EGO}]})
        receiver.script = [Reply(500)]
        runs = [tiepulse("notify", "--dry-run"), tiepulse("notify"), tiepulse("notify", "--force")]
    assert [r.returncode for r in runs] == [0, 2, 0]
    assert "could not be delivered" in runs[1].stderr and "error=500" in runs[1].stdout
    for run in runs:
        assert TOKEN not in run.stdout + run.stderr and "Traceback" not in run.stderr
        assert "hook:****@127.0.0.1" in run.stdout
    stored = query(home, "select * from ops.notify_deliveries") + query(home, "select * from ops.runs")
    assert stored and TOKEN not in str(stored)


def test_an_organisation_digest_names_nobody_and_hides_small_teams(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with webhook_receiver() as receiver:
        monkeypatch.setenv("TIEPULSE_NOTIFY_URLS", receiver.url())  # two egos: for the organisation
        done = tiepulse("notify")
    assert done.returncode == 0, done.stderr
    [got] = receiver.received
    text = got.payload["title"] + got.payload["message"]
    names = query(home, "select ego_id, alter_name from marts.mart_alerts where status = 'open'")
    assert not any(name and name in text for row in names for name in row)
    assert "No team is large enough" in text and "Teams under 5 people (2 people in all)" in text


def test_one_persons_alerts_reach_another_only_when_configured(home: Path, configure: Configure) -> None:
    with webhook_receiver() as receiver:
        configure({"channels": [{"url": receiver.url(), "for": "organisation", "include_people": True}]})
        assert tiepulse("notify").returncode == 0
    ego_name = query(home, f"select display_name from marts.dim_person where person_id = '{EGO}'")[0][0] or EGO
    assert ego_name in receiver.received[0].payload["message"]


@pytest.mark.parametrize(
    ("notify", "expected"),
    [
        ({"channels": [{"url": "json://127.0.0.1:9/x", "for": "each_ego"}]}, "needs {ego} in its URL"),
        ({"channels": [{"url": "nosuch://x", "for": "organisation"}]}, "not a URL apprise can use"),
        ({"channels": [{"url": "json://127.0.0.1:9/x", "for": "everyone"}]}, "not a valid email address"),
        ({"schedule": "hourly"}, "notify.schedule"),
        ({"channels": [{"url": "json://127.0.0.1:9/x", "for": "nobody@acme.com"}]}, "not an ego of this warehouse"),
        (
            {
                "channels": [
                    {"url": "json://a:one@127.0.0.1:9/x", "for": EGO},
                    {"url": "json://a:two@127.0.0.1:9/x", "for": EGO},
                ]
            },
            "give them distinct names",
        ),
    ],
)
def test_bad_channels_fail_in_one_line(home: Path, configure: Configure, notify: dict[str, Any], expected: str) -> None:
    configure(notify)
    result = CliRunner().invoke(app, ["notify"])
    said = " ".join(result.output.split())  # the console wraps at its width
    assert result.exit_code == 2 and expected in said, said
    assert said.startswith("error:") and "Traceback" not in said


def test_no_channel_and_no_alerts_are_explained(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = CliRunner().invoke(app, ["notify"])
    assert result.exit_code == 2 and "TIEPULSE_NOTIFY_URLS" in result.output
    monkeypatch.setenv("TIEPULSE_NOTIFY_URLS", "json://127.0.0.1:9/x")
    monkeypatch.setenv("TIEPULSE_HOME", str(home / "elsewhere"))
    result = CliRunner().invoke(app, ["notify"])
    assert result.exit_code == 2 and "no warehouse at" in result.output
    connect(home / "elsewhere" / "warehouse.duckdb").close()  # a warehouse with nothing imported yet
    result = CliRunner().invoke(app, ["notify", "--dry-run"])
    assert result.exit_code == 2 and "no alerts published" in " ".join(result.output.split())


def test_the_sensor_is_on_when_a_channel_is_configured_and_its_job_sends(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert not channels_configured()
    assert alert_digests_sensor.default_status == dg.DefaultSensorStatus.STOPPED  # nothing configured here
    instance = dg.DagsterInstance.ephemeral()
    with webhook_receiver() as receiver:
        monkeypatch.setenv("TIEPULSE_NOTIFY_URLS", receiver.url(auth=f"hook:{TOKEN}@"))
        assert channels_configured()
        monkeypatch.setenv("TIEPULSE_CONFIG", str(home / "config.yaml"))
        (home / "config.yaml").write_text(f"notify:\n  env_audience: {EGO}\n")
        receiver.script = [Reply(500)]
        runs = [
            alert_digests_job.execute_in_process(
                resources={"warehouse": WarehouseResource()}, instance=instance, raise_on_error=False
            )
            for _ in range(2)
        ]
    assert [run.success for run in runs] == [False, True]  # refused, then sent again on the next run
    keys = {r.headers["idempotency-key"] for r in receiver.received}
    assert len(receiver.received) == 2 and len(keys) == 1
    assert query(home, "select count(*) from ops.alert_log")[0][0] > 0
    logged = " ".join(str(e) for run in runs for e in instance.all_logs(run.run_id))
    assert "error=500" in logged and "hook:****@" in logged and TOKEN not in logged
