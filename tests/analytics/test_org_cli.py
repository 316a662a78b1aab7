"""`tiepulse org` on the tiny staged organisation: under the privacy threshold, and a directory without teams."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.analytics.staged import publish_home, query
from tiepulse.cli.app import app
from tiepulse.core.warehouse import connect


@pytest.fixture
def published(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = publish_home(tmp_path / "home")
    monkeypatch.setenv("TIEPULSE_HOME", str(home))
    monkeypatch.delenv("TIEPULSE_CONFIG", raising=False)
    monkeypatch.delenv("TIEPULSE_AS_OF", raising=False)
    return home


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_an_organisation_under_the_threshold_shows_no_group_and_says_why(published: Path) -> None:
    assert query(published, "select count(*) from marts.mart_org_groups") == [(0,)]
    assert query(published, "select count(*) from marts.mart_group_matrix") == [(0,)]
    comment = query(published, "select comment from duckdb_tables() where table_name = 'mart_org_groups'")[0][0]
    assert "fewer than privacy.min_group_size = 5 people" in comment
    code, out = run("org")
    assert code == 0, out
    assert "The organisation has 3 people, fewer than privacy.min_group_size = 5" in " ".join(out.split())
    assert "Most siloed" not in out


def test_without_teams_the_groups_are_communities_with_a_note(published: Path, tmp_path: Path) -> None:
    con = connect(published / "warehouse.duckdb")
    con.execute("update marts.dim_person set team = null").fetchall()
    con.close()
    config = tmp_path / "config.yaml"
    config.write_text("privacy:\n  min_group_size: 1\n")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TIEPULSE_CONFIG", str(config))
        code, out = run("org", "--as-of", "2026-03-10", "--format", "json")
    assert code == 0, out
    shown = json.loads(out)
    assert shown["group_type"] == "community"
    assert any("no team column" in note for note in shown["notes"])
    assert shown["min_group_size"] == 1 and shown["most_siloed"]


def test_a_bad_format_is_one_line_and_exit_2(published: Path) -> None:
    code, out = run("org", "--format", "xml")
    assert code == 2 and "--format must be table, csv or json" in out
