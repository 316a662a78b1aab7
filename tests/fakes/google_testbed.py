"""A fake Google plus a warehouse and the settings that point tiepulse at it, for the Google connector tests.

Nothing of ours is patched: the connector reads ``TIEPULSE_GOOGLE_API_ENDPOINT`` / ``TIEPULSE_GOOGLE_TOKEN_URI`` /
``TIEPULSE_GOOGLE_SERVICE_ACCOUNT_FILE`` and the config file like in production; only the retry policy's sleep is
injected (recorded, not slept) so backoffs cost no test time.
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from tests.fakes.google_server import FakeGoogle, Mailbox, service_account_key
from tiepulse.connectors.http.retry import RetryPolicy
from tiepulse.connectors.sync_source import SyncSource
from tiepulse.pipelines.loader import LoadResult

OWNER = "ann@corp.example"


class Testbed:
    __test__ = False

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake: FakeGoogle) -> None:
        self.tmp = tmp_path
        self.fake = fake
        self.monkeypatch = monkeypatch
        self.sleeps: list[float] = []
        self.google: dict[str, Any] = {"users": [OWNER], "quota": {"gmail_units_per_minute": 1e9}}
        self.key = service_account_key(tmp_path / "service-account.json")
        self.home = tmp_path / "home"
        monkeypatch.setenv("TIEPULSE_HOME", str(self.home))
        monkeypatch.setenv("TIEPULSE_CONFIG", str(tmp_path / "config.yaml"))
        monkeypatch.setenv("TIEPULSE_GOOGLE_API_ENDPOINT", fake.url)
        monkeypatch.setenv("TIEPULSE_GOOGLE_TOKEN_URI", fake.token_uri)
        monkeypatch.setenv("TIEPULSE_GOOGLE_ALLOW_HTTP_LOOPBACK", "1")  # the fake serves plain http
        monkeypatch.setenv("TIEPULSE_GOOGLE_SERVICE_ACCOUNT_FILE", str(self.key))
        self.write_config()
        self._con: duckdb.DuckDBPyConnection | None = None

    def write_config(self, **extra: Any) -> None:
        data = {"google": self.google, **extra}
        (self.tmp / "config.yaml").write_text(yaml.safe_dump(data))

    def configure(self, **google: Any) -> None:
        """Merge ``google:`` options (one level deep) and rewrite the config file."""
        for key, value in google.items():
            if isinstance(value, dict) and isinstance(self.google.get(key), dict):
                self.google[key] = {**self.google[key], **value}
            else:
                self.google[key] = value
        self.write_config()

    @property
    def settings(self) -> Any:
        from tiepulse.core.settings import Settings

        return Settings()

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            from tiepulse.core.warehouse import connect

            self._con = connect(self.settings.warehouse_path)
        return self._con

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None

    def retry(self) -> RetryPolicy:
        return RetryPolicy(max_attempts=8, base_delay=0.01, max_delay=0.05, sleep=self.sleeps.append)

    def sources(self, source: str | None = None, account: str | None = None) -> list[SyncSource]:
        from tiepulse.pipelines.providers.google import google_sources

        return google_sources(self.settings, source=source, account=account, retry=self.retry())

    def sync(self, source: str | None = None, account: str | None = None) -> LoadResult:
        from tiepulse.pipelines.sync import sync_account

        total = LoadResult()
        for built in self.sources(source, account):
            total.add(sync_account(self.con, built, pseudonym_key=self.settings.hmac_key))
        return total

    # -- what the warehouse should hold

    def stored(self, owner: str = OWNER) -> dict[str, tuple[Any, ...]]:
        rows = self.con.execute(
            "select source_position, message_key, from_address, sent_at, labels, thread_id "
            "from raw.gmail_messages where mailbox_owner = ? order by source_position",
            [owner],
        ).fetchall()
        return {r[0]: tuple(r[1:]) for r in rows}

    def expected_ids(self, owner: str = OWNER, *, window_days: int = 730) -> set[str]:
        box = self.fake.mailbox(owner)
        start = (dt.datetime.now(dt.UTC) - dt.timedelta(days=window_days)).timestamp() * 1000
        return {
            m.id
            for m in box.messages.values()
            if box.visible(m) and "DRAFT" not in m.labels and m.internal_date >= start
        }

    def table(self, name: str, *, exclude: str = "imported_at") -> list[tuple[Any, ...]]:
        """Every row of a table except ``exclude`` columns, sorted (to compare warehouses)."""
        rows = self.con.execute(f"select * exclude ({exclude}) from {name}").fetchall()
        return sorted(rows, key=repr)


def add_mail(box: Mailbox, count: int, *, seed: int = 5, start: int = 0) -> list[str]:
    """``count`` new messages arriving now, with ordinary headers."""
    rng = random.Random(seed)
    ids = []
    for n in range(start, start + count):
        when = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=rng.randint(1, 600))
        headers = [
            ("From", f"Friend {n} <friend{n % 13}@partner.example>"),
            ("To", f"{box.email}, colleague{n % 5}@corp.example"),
            ("Date", when.strftime("%a, %d %b %Y %H:%M:%S +0000")),
            ("Subject", "Re: news" if n % 2 else "news"),
            ("Message-ID", f"<new-{seed}-{n}@partner.example>"),
        ]
        ids.append(box.add(headers, when=when).id)
    return ids
