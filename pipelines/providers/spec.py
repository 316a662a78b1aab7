"""What a provider declares once: its raw tables and their key policy, its sources, how its accounts are found and
its sources built, its partitions and schedule. ``tiepulse.pipelines.providers.PROVIDERS`` lists them.

A *provider* is one way in: the files (imported by content, no accounts), or one API sign-in (Google, Microsoft)
whose accounts are Dagster partitions. An API provider has one *source* per API it reads (Gmail and Google
Calendar), each landing in its own raw table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from tiepulse.connectors.http.retry import RetryPolicy
from tiepulse.connectors.sync_source import SyncSource
from tiepulse.core.settings import ConfigError, Settings

RESUME_HINT = (
    "the service kept failing or could not be reached, even after retries; nothing is lost: run `tiepulse sync` "
    "again later, it resumes after the last committed page"
)


class NotSetUp(ConfigError):
    """The provider has no account to sync (nothing connected or configured), or not the one asked for."""


@dataclass(frozen=True, slots=True)
class RawTable:
    """A raw table and how the loader keys it (``tiepulse.pipelines.loader``)."""

    name: str
    """``raw.<name>``; its Dagster asset key is ``["raw", <name>]``."""
    key: tuple[str, ...]
    policy: Literal["keep", "replace"]
    """``keep``: a row already stored stays (append-only sources); ``replace``: the newest row of a key wins."""
    owner: str | None = None
    """The column naming whose mailbox or calendar a row came from (removals and ``forget`` go by it)."""
    copied: bool = False
    """Removals name a copy of the row (``ops.item_copies``), not the row: the row goes with its last copy."""

    @property
    def short_name(self) -> str:
        return self.name.split(".", 1)[1]


@dataclass(frozen=True, slots=True)
class Source:
    """One API of a provider: the ``source`` value of its rows and cursors, and the raw table it fills."""

    name: str
    """``gmail``: the ``source`` column of its rows and of ``ops.sync_state``; ``--source`` takes it with ``-``
    for ``_`` (``outlook-calendar``)."""
    label: str
    """How a person calls it (``Gmail``), on progress bars."""
    table: RawTable
    description: str
    """The Dagster asset's description."""

    @property
    def cli_name(self) -> str:
        return self.name.replace("_", "-")


class BuildSources(Protocol):
    """The sync sources of every account (or only ``account``) and source (or only ``source``).

    Raises ``NotSetUp`` when ``account`` is not one to sync; ``retry`` replaces the provider's retry policy.
    """

    def __call__(
        self,
        settings: Settings,
        *,
        source: str | None = None,
        account: str | None = None,
        retry: RetryPolicy | None = None,
    ) -> list[SyncSource]: ...


@dataclass(frozen=True, slots=True)
class Schedule:
    """When the provider's accounts sync: one run per account partition at each tick."""

    cron: str
    running: bool
    """Whether the schedule runs without being switched on in the Dagster UI."""


@dataclass(frozen=True, slots=True)
class FileProvider:
    """Files imported by content (``tiepulse import``, the scheduled import): tables only, no accounts."""

    key: str
    tables: tuple[RawTable, ...]


@dataclass(frozen=True, slots=True)
class ApiProvider:
    """An API sign-in whose accounts sync one by one, each a partition of its sources' assets."""

    key: str
    """Lower case; names its Dagster job (``<key>_sync``), schedule and run keys."""
    name: str
    """How a person calls it (``Google``): summaries, failure lines, ``ops.runs``."""
    sources: tuple[Source, ...]
    partitions: str
    """The Dagster dynamic partitions holding its accounts (their sensor is ``<partitions>_sensor``)."""
    schedule: Schedule
    accounts: Callable[[Settings], list[str]]
    """Every account to sync, as the settings say (token files, config, directory, the API's user list)."""
    not_set_up: Callable[[Settings], str | None]
    """Why there is nothing to sync (how to set it up), or None."""
    build: BuildSources
    retry_policy: Callable[[Settings], RetryPolicy]
    """The policy ``build`` uses by default; the CLI wraps it to show waits on the progress bar."""
    retries: Callable[[SyncSource], int] = lambda _: 0
    """Retries made so far by the client behind a source (a counter the client may share between accounts)."""
    explain: Callable[[BaseException], str] = lambda _: ""
    """How to fix a failure, when its message does not say already."""
    accounts_key: str = "accounts"
    """Name of the account count in the run summary (Microsoft says ``mailboxes``)."""

    @property
    def tables(self) -> tuple[RawTable, ...]:
        return tuple(s.table for s in self.sources)

    @property
    def source_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.sources)

    def chosen(self, source: str | None) -> tuple[Source, ...]:
        """Its sources named by ``source`` (``outlook_calendar`` or ``outlook-calendar``); None: all of them."""
        if source is None:
            return self.sources
        found = tuple(s for s in self.sources if source in (s.name, s.cli_name))
        if not found:
            known = " or ".join(s.cli_name for s in self.sources)
            raise ConfigError(f"unknown {self.name} source {source!r}; use {known}")
        return found


Provider = FileProvider | ApiProvider
