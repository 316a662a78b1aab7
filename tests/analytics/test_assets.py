"""The analytics assets in Dagster on a tiny staged warehouse: incremental history, the running month, and the
new-alerts sensor and job."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pytest

from tests.analytics.staged import AS_OF, query, restage, run_assets
from tiepulse.pipelines import ego_marts
from tiepulse.pipelines.analytics.fingerprint import PACKAGE_DIR, rules_digest
from tiepulse.pipelines.assets.analytics import new_alerts_sensor


def test_history_is_recomputed_exactly_when_its_inputs_change(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = run_assets()
    months = first["mart_ties_monthly"]["months"]
    assert months == 7  # 2025-09 .. 2026-03
    assert first["mart_ties_monthly"]["months_recomputed"] == months
    assert first["mart_network_health"]["months_recomputed"] == months

    unchanged = run_assets()
    assert unchanged["mart_ties_monthly"]["months_recomputed"] == 0
    assert unchanged["mart_network_health"]["months_recomputed"] == 0

    restage(home, extra=3)  # new mail in the running month only
    newer = run_assets()
    assert newer["mart_ties_monthly"]["months_recomputed"] == 1
    assert newer["mart_network_health"]["months_recomputed"] == 1

    restage(home, extra=3, bob_team="ops")  # the directory moved Bob: health depends on teams, ties do not
    moved = run_assets()
    assert moved["mart_ties_monthly"]["months_recomputed"] == 0
    assert moved["mart_network_health"]["months_recomputed"] == months

    config = home / "config.yaml"
    config.write_text("thresholds:\n  half_life_days: 30\n")
    monkeypatch.setenv("TIEPULSE_CONFIG", str(config))
    tuned = run_assets()
    assert tuned["mart_ties_monthly"]["months_recomputed"] == months
    assert tuned["mart_network_health"]["months_recomputed"] == months
    # the stored history now follows the new half-life: the running month equals mart_ties, tie by tie
    gaps = query(
        home,
        "select count(*), max(abs(m.strength - t.strength)), bool_and(m.as_of = t.as_of) "
        "from marts.mart_ties t join marts.mart_ties_monthly m using (ego_id, alter_id) where m.month = '2026-03-01'",
    )
    assert gaps[0][0] == 4 and gaps[0][1] < 1e-9 and gaps[0][2] is True


def test_the_running_months_health_is_the_current_health(home: Path) -> None:
    run_assets()
    rows = query(
        home,
        "select period, as_of, health_score, email_reciprocity from marts.mart_network_health "
        "where month = '2026-03-01' and ego_id = 'me@acme.com' order by period",
    )
    (current, month) = rows
    assert current[0] == "current" and month[0] == "month"
    assert current[1:] == month[1:] and current[1] == AS_OF
    low, high = query(home, "select min(email_reciprocity), max(email_reciprocity) from marts.mart_network_health")[0]
    assert 0.0 <= low <= high <= 1.0


def test_new_alerts_sensor_runs_the_job_that_logs_them(home: Path) -> None:
    instance = dg.DagsterInstance.ephemeral()
    run_assets(instance)
    opened = query(
        home, "select alert_id, kind, severity from marts.mart_alerts where is_new and status = 'open' order by 1"
    )
    assert {k for _, k, _ in opened} == {"neglected_tie", "one_sided_tie"}  # Ana silent six weeks, Zed unanswered

    from tiepulse.pipelines.definitions import defs

    context = dg.build_sensor_context(instance=instance, definitions=defs)
    requests = list(new_alerts_sensor(context) or [])  # type: ignore[arg-type, call-overload]
    assert len(requests) == 1 and isinstance(requests[0], dg.RunRequest)
    job = defs.resolve_job_def(new_alerts_sensor.job_name)
    for _ in range(2):  # the job is idempotent: a second run logs nothing twice
        assert job.execute_in_process(instance=instance, tags=requests[0].tags).success
    logged = query(home, "select alert_id, kind, severity from ops.alert_log order by 1")
    assert logged == opened
    assert {s for _, _, s in logged} <= {"high", "medium", "low"}


def test_a_new_rule_or_threshold_recomputes_the_history_on_the_next_refresh(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    months = run_assets()["mart_network_health"]["months_recomputed"]
    assert run_assets()["mart_network_health"]["months_recomputed"] == 0

    # a narrowing threshold in the config: every month of every ego again, then nothing
    config = home / "config.yaml"
    config.write_text("thresholds:\n  narrowing_outside_drop: 0.5\n")
    monkeypatch.setenv("TIEPULSE_CONFIG", str(config))
    assert run_assets()["mart_network_health"]["months_recomputed"] == months
    assert run_assets()["mart_network_health"]["months_recomputed"] == 0

    # a release whose analysis code differs (here: one rule's text edited in a copy of the package)
    copy = tmp_path / "analytics"
    shutil.copytree(PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    alerts = copy / "alerts.py"
    alerts.write_text(alerts.read_text(encoding="utf-8").replace("<= 1 - params.narrowing", "< 1 - params.narrowing"))
    root = Path(ego_marts.__file__)
    assert rules_digest(root, copy) != ego_marts.rules()
    assert rules_digest(root) == ego_marts.rules()  # the installed code, unchanged
    changed = rules_digest(root, copy)
    monkeypatch.setattr(ego_marts, "rules", lambda: changed)
    redone = run_assets()
    assert redone["mart_network_health"]["months_recomputed"] == months
    assert redone["mart_ties_monthly"]["months_recomputed"] == redone["mart_ties_monthly"]["months"]
    assert run_assets()["mart_network_health"]["months_recomputed"] == 0
