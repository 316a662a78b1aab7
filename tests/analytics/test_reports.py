"""`tiepulse health | ties | alerts` on a small published warehouse: dates, aliases, snoozing, inactive egos,
and layouts that read well at 80 and at 140 columns."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from rich.console import Console
from typer.testing import CliRunner

from tests.analytics.staged import ANA, ANA_ALIAS, AS_OF, BOB, EGO, publish_home, query
from tiepulse.cli import app as cli
from tiepulse.cli.app import app
from tiepulse.cli.reports import render_organisation


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small staged warehouse of tests.analytics.staged, with its marts published."""
    return publish_home(tmp_path_factory.mktemp("published"))


@pytest.fixture
def env(published: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("TIEPULSE_HOME", str(published))
    monkeypatch.setenv("TIEPULSE_AS_OF", AS_OF.isoformat())
    monkeypatch.delenv("TIEPULSE_CONFIG", raising=False)
    monkeypatch.setattr(cli.err, "width", 200)
    monkeypatch.setattr(cli.console, "width", 140)  # restored after the test; run() changes it
    yield published


def run(*args: str, width: int = 140) -> tuple[int, str]:
    cli.console.width = width
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


@pytest.mark.parametrize("command", [["health"], ["alerts"], ["ties", "--ego", EGO], ["health", "--ego", EGO]])
def test_every_view_validates_the_date(env: Path, command: list[str]) -> None:
    code, out = run(*command, "--as-of", "2026-13-01")
    assert code == 2 and "--as-of must be a date like 2001-12-01, not '2026-13-01'" in out


def test_the_organisation_view_tells_unscored_active_egos_from_inactive_ones() -> None:
    # Sent folders alone: active egos get no score (too little observed), which is not "no contact"
    health = pl.DataFrame(
        {
            "ego_id": ["a@x.com", "b@x.com", "c@x.com"],
            "as_of": [AS_OF] * 3,
            "health_score": [None, None, None],
            "is_active": [True, False, True],
            "data_status": ["current", "current", "no_recent_data"],
        },
        schema_overrides={"health_score": pl.Float64},
    )
    console = Console(record=True, width=400)
    render_organisation(console, health, pl.DataFrame(schema={"ego_id": pl.String}))
    text = " ".join(re.sub("[│╭╮╰╯─]", " ", console.export_text()).split())
    assert f"3 egos as of {AS_OF}, none scored; 1 inactive (no contact in 90 days, not scored); 1 active" in text
    assert "too little observed for a score" in text and "; 1 with no recent data" in text


def test_the_organisation_view_honours_as_of(env: Path) -> None:
    code, now = run("health")
    assert code == 0 and f"2 egos as of {AS_OF}" in now
    code, before = run("health", "--as-of", "2026-01-20")
    assert code == 0 and "2 egos as of 2026-01-20" in before
    # Ana went quiet after 2026-01-29: her neglect alert exists now, not on 2026-01-20
    code, alerts_now = run("alerts", "--format", "csv")
    code, alerts_before = run("alerts", "--format", "csv", "--as-of", "2026-01-20")
    assert f"neglected_tie,{EGO},{ANA}" in alerts_now and f"neglected_tie,{EGO},{ANA}" not in alerts_before


def test_a_past_report_ends_its_history_at_its_own_score(env: Path) -> None:
    code, out = run("health", "--ego", EGO, "--as-of", "2026-02-10")
    assert code == 0, out
    score = re.search(r"(\d+)/100 network health as of 2026-02-10", out)
    line = re.search(r"Health by month: 2025-09 \.\. 2026-02 .* -> (\d+)", out)
    assert score and line and score.group(1) == line.group(1)


def test_ties_person_resolves_other_addresses(env: Path) -> None:
    code, out = run("ties", "--ego", EGO, "--person", ANA_ALIAS.upper())
    assert code == 0 and ANA in out and "Ana Ruiz" in out and BOB not in out
    code, out = run("ties", "--ego", EGO, "--person", "nobody@else.org")
    assert code == 2 and "has no tie with nobody@else.org" in out


def test_snooze_counts_from_the_analysis_date(env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copy(env / "warehouse.duckdb", tmp_path / "warehouse.duckdb")
    monkeypatch.setenv("TIEPULSE_HOME", str(tmp_path))
    monkeypatch.delenv("TIEPULSE_AS_OF")  # the wall clock, months after the analysis date
    ((alert_id,),) = query(tmp_path, f"select alert_id from marts.mart_alerts where alter_id = '{ANA}'")
    code, out = run("alerts", "snooze", alert_id, "--days", "10")
    assert code == 0 and f"snoozed until 2026-03-22: 10 days after the analysis date {AS_OF}" in out
    assert query(
        tmp_path, f"select status, snoozed_until::varchar from ops.alert_state where alert_id = '{alert_id}'"
    ) == [("snoozed", "2026-03-22")]


def test_an_ego_without_recent_contact_gets_one_line(env: Path) -> None:
    code, out = run("health", "--ego", EGO, "--as-of", "2026-09-01")
    assert code == 0
    # the mailbox's last item is the last contact: months of unobserved time are no silence to score
    assert " ".join(out.split()) == (
        f"No recent data: {EGO}'s data ends on 2026-03-03, 182 days before 2026-09-01, so there is no health "
        "score and no alert (silence after the data ends is not silence). Import newer mail, or look at an "
        "earlier date with --as-of."
    )


@pytest.mark.parametrize("width", [80, 140])
def test_reports_fit_the_terminal_without_cutting_words(env: Path, width: int) -> None:
    for command in (["health"], ["health", "--ego", EGO], ["ties", "--ego", EGO], ["alerts"]):
        code, out = run(*command, width=width)
        assert code == 0, out
        lines = out.splitlines()
        assert max(len(line.rstrip()) for line in lines) <= width, command
        assert "…" not in out, command
        assert "-0.00" not in out
    _, report = run("health", "--ego", EGO, width=width)
    items = [line for line in report.splitlines() if re.match(r"  (-|\d\.) ", line)]
    continued = [line for line in report.splitlines() if re.match(r" {4,5}\S", line)]
    assert items and all(not re.match(r"\S", line) for line in items + continued)


def test_ties_stack_name_over_address_when_one_line_per_tie_does_not_fit(env: Path) -> None:
    def header(out: str) -> str:
        return next(line for line in out.splitlines() if line.startswith("person"))

    _, wide = run("ties", "--ego", EGO, width=140)
    assert "last contact" in header(wide) and any(ANA in line and "Ana Ruiz" in line for line in wide.splitlines())
    _, narrow = run("ties", "--ego", EGO, width=60)
    lines = narrow.splitlines()
    assert "last contact" not in header(narrow) and max(len(line.rstrip()) for line in lines) <= 60
    name = next(i for i, line in enumerate(lines) if line.startswith("Ana Ruiz"))
    assert lines[name + 1].startswith(ANA)
