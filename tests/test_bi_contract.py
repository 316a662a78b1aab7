"""The BI snapshot's contract: one flat, typed, commented object per question; Parquet/CSV export of exactly those
objects; privacy.person_level_bi; readable through SQLAlchemy (duckdb-engine, what Superset uses)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from tests.analytics.staged import AS_OF, BOB, EGO, publish_home
from tiepulse.cli.app import app
from tiepulse.core.settings import Settings
from tiepulse.core.warehouse import open_warehouse
from tiepulse.pipelines.bi_contract import BI_OBJECTS, BiObject, ContractError, person_level_bi, plan
from tiepulse.pipelines.bi_published import ABOUT_TABLES
from tiepulse.pipelines.bi_snapshot import publish_snapshot

ROOT = Path(__file__).resolve().parents[1]
TEMPORAL_NAMES = ("month", "as_of", "period", "analysis_date")
TEMPORAL_ENDINGS = ("_at", "_date", "_contact", "_until", "_seen", "_start", "_sent")


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = publish_home(tmp_path_factory.mktemp("bi"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TIEPULSE_HOME", str(home))
        mp.setenv("TIEPULSE_AS_OF", AS_OF.isoformat())
        mp.delenv("TIEPULSE_CONFIG", raising=False)
        mp.delenv("TIEPULSE_PSEUDONYM_KEY", raising=False)
        settings = Settings()
        with open_warehouse(settings.warehouse_path) as con:
            publish_snapshot(con, settings, "run-1")
    return home


@pytest.fixture
def env(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TIEPULSE_HOME", str(home))
    monkeypatch.setenv("TIEPULSE_AS_OF", AS_OF.isoformat())
    monkeypatch.delenv("TIEPULSE_CONFIG", raising=False)
    monkeypatch.delenv("TIEPULSE_PSEUDONYM_KEY", raising=False)
    return home


def snapshot(home: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(home / "bi.duckdb"), read_only=True)


def columns(home: Path) -> list[tuple[str, str, str, str | None]]:
    with snapshot(home) as con:
        return [
            (str(t), str(c), str(d), k)
            for t, c, d, k in con.execute(
                "select table_name, column_name, data_type, comment from duckdb_columns() "
                "where database_name = 'bi' order by table_name, column_index"
            ).fetchall()
        ]


def test_every_table_and_column_is_commented_flat_and_typed(home: Path) -> None:
    found = columns(home)
    assert found
    assert [(t, c) for t, c, _, comment in found if not (comment and comment.strip())] == []
    nested = [(t, c, d) for t, c, d, _ in found if "[" in d or d.startswith(("STRUCT", "MAP", "UNION"))]
    assert nested == []
    untyped = [
        (t, c)
        for t, c, d, _ in found
        if (c in TEMPORAL_NAMES or c.endswith(TEMPORAL_ENDINGS)) and d == "VARCHAR"  # a date kept as text
    ]
    assert untyped == []
    with snapshot(home) as con:
        tables = con.execute("select table_name, comment from duckdb_tables() where database_name = 'bi'").fetchall()
    assert tables and all(comment for _, comment in tables)


def test_current_and_monthly_are_never_mixed(home: Path) -> None:
    by_table: dict[str, dict[str, str]] = {}
    for table, column, kind, _ in columns(home):
        by_table.setdefault(table, {})[column] = kind
    assert not [t for t, cols in by_table.items() if "period" in cols]
    for table, cols in by_table.items():
        if table.endswith("_by_month"):
            assert cols["month"] == "DATE", table
        if table.endswith("_current"):
            assert "month" not in cols, table


def test_objects_are_the_contracts_with_the_egos_team_and_department(home: Path) -> None:
    with snapshot(home) as con:
        listed = con.execute("select object_name, is_present, absent_reason from snapshot_objects").fetchall()
        tables = {r[0] for r in con.execute("select table_name from duckdb_tables()").fetchall()}
        teams = con.execute("select distinct ego_id, ego_team, ego_department from ties order by 1").fetchall()
        health = con.execute("select count(*) from person_health_current").fetchall()
    assert [name for name, *_ in listed] == [o.name for o in BI_OBJECTS]
    assert tables == {name for name, present, _ in listed if present} | set(ABOUT_TABLES)
    assert {"people", "ties", "person_health_current", "person_health_by_month", "alerts"} <= tables
    assert all(reason for _, present, reason in listed if not present)
    assert teams == [(BOB, "core", "eng"), (EGO, "core", "eng")]
    assert health == [(2,)]


def test_person_level_bi_defaults_off_when_pseudonymised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TIEPULSE_CONFIG", raising=False)
    monkeypatch.delenv("TIEPULSE_PSEUDONYM_KEY", raising=False)
    assert person_level_bi(Settings())
    monkeypatch.setenv("TIEPULSE_PSEUDONYM_KEY", "k")
    assert not person_level_bi(Settings())
    config = tmp_path / "config.yaml"
    config.write_text("privacy:\n  person_level_bi: true\n")
    monkeypatch.setenv("TIEPULSE_CONFIG", str(config))
    assert person_level_bi(Settings())
    assert Settings().config.privacy.min_group_size == 5


def test_withheld_person_level_objects_are_listed_with_the_reason(
    env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("privacy:\n  person_level_bi: false\n")
    monkeypatch.setenv("TIEPULSE_CONFIG", str(config))
    settings = Settings()
    with open_warehouse(settings.warehouse_path) as con:
        published = publish_snapshot(con, settings, "run-private")
    person_level = {o.name for o in BI_OBJECTS if o.person_level_ona}
    assert person_level and {n: published.absent[n] for n in person_level} == dict.fromkeys(
        person_level, "withheld: privacy.person_level_bi is off"
    )
    monkeypatch.delenv("TIEPULSE_CONFIG")
    with open_warehouse(settings.warehouse_path) as con:
        publish_snapshot(con, Settings(), "run-1")  # the module's snapshot again, for the other tests


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_export_writes_the_snapshots_objects_and_nothing_else(env: Path, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / "export"
    result = CliRunner().invoke(app, ["export", "--format", fmt, str(out)])
    assert result.exit_code == 0, result.output
    with snapshot(env) as con:
        objects = dict(con.execute("select object_name, row_count from snapshot_objects where is_present").fetchall())
    files = {p.name for p in out.iterdir()}
    assert files == {f"{name}.{fmt}" for name in (*objects, *ABOUT_TABLES, "columns")}
    assert not [f for f in files if f.startswith(("raw", "stg_", "int_", "ops", "fct_", "dim_"))]
    reader = "read_parquet" if fmt == "parquet" else "read_csv"
    with duckdb.connect() as con:
        for name, rows in objects.items():
            assert con.execute(f"select count(*) from {reader}(?)", [str(out / f"{name}.{fmt}")]).fetchall() == [
                (rows,)
            ]
        described = con.execute(
            f"select count(*), count(description) from {reader}(?)", [str(out / f"columns.{fmt}")]
        ).fetchall()
    assert described[0][0] == described[0][1] > 0


def test_export_without_a_snapshot_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIEPULSE_HOME", str(tmp_path / "nothing"))
    result = CliRunner().invoke(app, ["export", str(tmp_path / "out")])
    assert result.exit_code == 2 and "No BI snapshot" in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(app, ["export", "--format", "xlsx", str(tmp_path / "out")])
    assert result.exit_code == 2 and "parquet or csv" in result.output


def test_sqlalchemy_reads_the_snapshot_through_duckdb_engine(home: Path) -> None:
    with snapshot(home) as con:
        present = {r[0] for r in con.execute("select object_name from snapshot_objects where is_present").fetchall()}
    engine = sa.create_engine(f"duckdb:///{home / 'bi.duckdb'}?access_mode=read_only")
    try:
        inspector = sa.inspect(engine)
        assert set(inspector.get_table_names()) == present | set(ABOUT_TABLES)
        assert inspector.get_table_comment("ties")["text"] == next(o.question for o in BI_OBJECTS if o.name == "ties")
        with engine.connect() as con:
            ties = con.execute(sa.text("select ego_team, count(*) from bi.ties group by 1")).fetchall()
            comment = con.execute(
                sa.text(
                    "select comment from duckdb_columns() where table_name = 'alerts' and column_name = 'episode_start'"
                )
            ).scalar_one()
    finally:
        engine.dispose()
    assert [team for team, _ in ties] == ["core"] and ties[0][1] > 0
    assert "first day of the episode" in comment


def test_the_contract_refuses_nested_or_undescribed_columns() -> None:
    with duckdb.connect() as con:
        con.execute("create schema marts").fetchall()
        con.execute("create table marts.mart_alerts (alert_id varchar, mystery integer)").fetchall()
        with pytest.raises(ContractError, match="mystery has no description"):
            plan(con, BiObject("alerts", "marts.mart_alerts", "q", "g"))
        con.execute("create or replace table marts.mart_alerts (alert_id varchar, nested struct(a int)[])").fetchall()
        with pytest.raises(ContractError, match="is nested"):
            plan(con, BiObject("alerts", "marts.mart_alerts", "q", "g"))


def test_docs_list_every_object_of_the_contract() -> None:
    documented = (ROOT / "docs" / "bi.md").read_text(encoding="utf-8")
    for obj in BI_OBJECTS:
        assert f"| `{obj.name}` | {obj.grain} | {obj.question} |" in documented, obj.name
