"""Fixtures of the analytics tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.analytics.staged import AS_OF, stage_home


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """TIEPULSE_HOME with a staged warehouse (tests.analytics.staged), analysed as of AS_OF, no config file."""
    monkeypatch.setenv("TIEPULSE_HOME", str(tmp_path))
    monkeypatch.setenv("TIEPULSE_AS_OF", AS_OF.isoformat())
    monkeypatch.delenv("TIEPULSE_CONFIG", raising=False)
    stage_home(tmp_path)
    yield tmp_path
