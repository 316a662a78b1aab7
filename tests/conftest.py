"""Shared fixtures: a fresh warehouse per test, the shared data folder, an import context."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, settings

from tiepulse.connectors.base import ImportContext, Plausibility
from tiepulse.core.settings import Settings
from tiepulse.core.warehouse import connect

# Property tests are judged by their examples, never by how fast a busy machine generates or runs them.
settings.register_profile("any_speed", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("any_speed")

SHARED = Path(__file__).resolve().parents[2] / "shared"
ENRON = SHARED / "data" / "enron"

requires_enron = pytest.mark.skipif(
    not (ENRON / "sent_mail").is_dir(),
    reason=f"real-data test: the Enron sample is not at {ENRON} (it sits beside the repo in CI)",
)


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = connect(tmp_path / "warehouse.duckdb")
    yield con
    con.close()


@pytest.fixture
def cli_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The environment of a CLI test: a fresh TIEPULSE_HOME (not created yet), analysis date 2024-04-01, no config,
    no pseudonym key."""
    monkeypatch.setenv("TIEPULSE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TIEPULSE_AS_OF", "2024-04-01")
    monkeypatch.delenv("TIEPULSE_CONFIG", raising=False)
    monkeypatch.delenv("TIEPULSE_PSEUDONYM_KEY", raising=False)
    return tmp_path / "home"


def make_context(**overrides: object) -> ImportContext:
    utc = dt.UTC
    values: dict[str, object] = {
        "plausibility": Plausibility(dt.datetime(1990, 1, 1, tzinfo=utc), dt.datetime(2030, 1, 1, tzinfo=utc)),
        "calendar_window": (dt.datetime(2020, 1, 1, tzinfo=utc), dt.datetime(2027, 1, 1, tzinfo=utc)),
    }
    values.update(overrides)
    return ImportContext(**values)  # type: ignore[arg-type]


def home_with_workers(root: Path, workers: int, as_of: dt.date) -> Settings:
    """The settings of a new home under ``root`` whose imports use ``workers`` processes; every such home has the same
    subject key, so that their title and subject digests compare."""
    home = root / f"home{workers}"
    home.mkdir()
    (home / "config.yaml").write_text(f"imports:\n  workers: {workers}\n")
    (home / "subject_hmac.key").write_text("0" * 64)
    return Settings(home=home, config_file=home / "config.yaml", as_of=as_of)


@pytest.fixture
def ctx() -> ImportContext:
    return make_context()


pytest_plugins = ["tests.browser"]  # the headless Chromium fixture, for any test that opens a page
