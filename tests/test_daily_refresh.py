"""The daily refresh gives what a full rebuild gives: a sample organisation's year is refreshed, its next day
imported and refreshed incrementally, and every derived table then equals its full rebuild on the same data, row
for row, sorted; so after an identity merge and a changed parameter.

The SQL models and interactions are compared exactly (both ways of ``EXCEPT ALL``). The per-ego marts are compared
sorted by their key, their floats to 1e-12 relative: a day's interactions are appended after the year's, so Polars
adds an ego's values in another order than a full rebuild does, which moves the last bits of a float sum."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from polars.testing import assert_frame_equal

from tests.sample_org import import_sample, sample_environment
from tiepulse.core.import_context import build_import_context
from tiepulse.core.params import AnalyticsParams, params_for
from tiepulse.core.settings import Config, Settings
from tiepulse.core.warehouse import connect
from tiepulse.pipelines import build_state, ego_refresh
from tiepulse.pipelines import network_io as tables
from tiepulse.pipelines.config_tables import land_config
from tiepulse.pipelines.ego_marts import EgoRun, refresh_network_health, refresh_ties, refresh_ties_monthly, shards_of
from tiepulse.pipelines.file_import import import_paths
from tiepulse.pipelines.interaction_records import EXCLUSION_RECORDS, InteractionRefresh, refresh_interactions
from tiepulse.pipelines.marts_io import read_table
from tiepulse.pipelines.models import all_models, build_model
from tiepulse.sample import Volume, generate_next_day

pytestmark = pytest.mark.slow

SIZE = {
    "people": 60,
    "externals": 140,
    "months": 12,
    "seed": 5,
    "volume": Volume(mails_per_day=1.0, meetings_per_day=0.5),
}
EXACT = (tables.INTERACTIONS, tables.INTERACTION_EXCLUSIONS, EXCLUSION_RECORDS)
PER_EGO = {
    tables.TIES: ("ego_id", "alter_id"),
    tables.TIES_MONTHLY: ("ego_id", "alter_id", "month"),
    tables.NETWORK_HEALTH: ("ego_id", "period", "month"),
}


def _refresh(
    con: duckdb.DuckDBPyConnection, as_of: dt.date, params: AnalyticsParams, *, full: bool = False
) -> InteractionRefresh:
    """What a refresh computes (the SQL models, interactions, the per-ego marts); what interactions did."""
    if full:
        build_state.forget(con)
        con.execute(f"delete from {ego_refresh.STATE}").fetchall()
    for model in all_models():
        build_model(con, model)
    done = refresh_interactions(con, params)
    run = EgoRun(con, as_of, params, shards_of(con, 20_000))
    refresh_ties(run)
    refresh_ties_monthly(run)
    refresh_network_health(run)
    return done


def _derived() -> list[str]:
    return [*(m.table for m in all_models()), *EXACT]


def _differences(con: duckdb.DuckDBPyConnection, table: str, copy: str) -> tuple[int, int]:
    def missing(left: str, right: str) -> int:
        return int(con.execute(f"select count(*) from ({left} except all {right})").fetchall()[0][0])

    return missing(f"select * from {table}", f"select * from {copy}"), missing(
        f"select * from {copy}", f"select * from {table}"
    )


def _assert_equal_to_a_full_rebuild(con: duckdb.DuckDBPyConnection, as_of: dt.date, params: AnalyticsParams) -> None:
    con.execute("create schema if not exists incremental").fetchall()
    for table in _derived():
        con.execute(f"create or replace table incremental.{table.replace('.', '__')} as from {table}").fetchall()
    per_ego = {table: read_table(con, table).sort(keys) for table, keys in PER_EGO.items()}
    _refresh(con, as_of, params, full=True)
    different = {
        table: diff
        for table in _derived()
        if (diff := _differences(con, table, f"incremental.{table.replace('.', '__')}")) != (0, 0)
    }
    assert not different, different
    for table, keys in PER_EGO.items():
        assert_frame_equal(per_ego[table], read_table(con, table).sort(keys), rel_tol=1e-12, abs_tol=1e-12)


@pytest.fixture(scope="module")
def organisation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    root = tmp_path_factory.mktemp("daily")
    env, truth = sample_environment(root, **SIZE)
    generate_next_day(root / "next-day", **SIZE)
    yield root, {**env, "AS_OF": truth["as_of"]}


def test_the_next_day_refreshed_incrementally_equals_a_full_rebuild(
    organisation: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, env = organisation
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    import_sample(root)
    settings = Settings()
    params = params_for(settings)
    year = dt.date.fromisoformat(env["AS_OF"])
    con = connect(settings.warehouse_path)
    try:
        everything = _refresh(con, year, params).records_rebuilt
        assert _refresh(con, year, params) == InteractionRefresh(False, 0, 0)  # nothing new: nothing rebuilt
        import_paths(con, [root / "next-day"], settings)
        day = year + dt.timedelta(days=1)
        rebuilt = _refresh(con, day, params)
        assert not rebuilt.whole and 0 < rebuilt.records_rebuilt < everything / 20, (rebuilt, everything)
        _assert_equal_to_a_full_rebuild(con, day, params)

        # an identity merge changes person ids in old records: the records it touches are rebuilt
        alter = con.execute(
            f"select alter_id from {tables.INTERACTIONS} where alter_id not in (select ego_id from {tables.EGOS}) "
            "group by alter_id order by count(*) desc, alter_id limit 2"
        ).fetchall()
        config = settings.config.model_copy(update={"aliases": {alter[0][0]: [alter[1][0]]}})
        land_config(con, Config.model_validate(config.model_dump()), build_import_context(settings).normaliser())
        merged = _refresh(con, day, params)
        assert not merged.whole and 0 < merged.records_rebuilt < everything, (merged, everything)
        assert not con.execute(f"select 1 from {tables.INTERACTIONS} where alter_id = ?", [alter[1][0]]).fetchall()
        _assert_equal_to_a_full_rebuild(con, day, params)

        # a changed parameter weighs on every record: everything is rebuilt
        heavier = params.model_copy(update={"max_group_size": params.max_group_size - 1})
        assert _refresh(con, day, heavier).whole
        _assert_equal_to_a_full_rebuild(con, day, heavier)
    finally:
        con.close()
