"""A published warehouse copied for each test, and the environment that points tiepulse at it."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.analytics.staged import AS_OF, publish_home


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return publish_home(tmp_path_factory.mktemp("published"))


@pytest.fixture
def home(published: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(published / "warehouse.duckdb", home / "warehouse.duckdb")
    monkeypatch.setenv("TIEPULSE_HOME", str(home))
    monkeypatch.setenv("TIEPULSE_AS_OF", AS_OF.isoformat())
    for name in ("TIEPULSE_CONFIG", "TIEPULSE_NOTIFY_URLS", "TIEPULSE_PSEUDONYM_KEY"):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def configure(home: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[dict[str, Any]], Path]:
    """Write ``{"notify": ...}`` as the config file and point TIEPULSE_CONFIG at it."""

    def write(notify: dict[str, Any]) -> Path:
        path = home / "config.yaml"
        path.write_text(yaml.safe_dump({"notify": notify}))
        monkeypatch.setenv("TIEPULSE_CONFIG", str(path))
        return path

    return write
