"""Run the API sync sources of one provider account by account: a failing account never stops the others.

Provider-neutral: ``sync_provider`` takes any ``ApiProvider`` of the registry (``tiepulse.pipelines.providers``:
how to build its sources, how to read their retry count, how to explain a failure). Each account gets a progress
bar whose note tells rows added, the phase, and any retry wait as it happens; the run is recorded in ``ops.runs``
as ``success``, ``partial`` (some accounts failed) or ``failure`` (all failed); one ``AccountOutcome`` per account
comes back for the summary (``tiepulse/cli/sync_summary.py``).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import duckdb
from rich.console import Console
from rich.progress import Progress, TaskID

from tiepulse.cli.progress import work_progress
from tiepulse.connectors.addresses import AddressNormaliser
from tiepulse.connectors.http.retry import RetryableError, RetryPolicy
from tiepulse.connectors.sync_source import SyncSource
from tiepulse.core.import_context import address_normaliser
from tiepulse.core.runlog import record_run
from tiepulse.core.settings import ConfigError, Settings
from tiepulse.core.warehouse import open_warehouse
from tiepulse.pipelines.loader import LoadResult
from tiepulse.pipelines.providers import RESUME_HINT, ApiProvider, NotSetUp, source_named
from tiepulse.pipelines.sync import sync_account

log = logging.getLogger(__name__)


class Progressing(Protocol):
    """What a source may report for its bar (``tiepulse.connectors.google.SyncProgress``)."""

    total: int | None
    done: int
    phase: str


@dataclass(slots=True)
class AccountOutcome:
    """How one account and source fared."""

    account: str
    source: str
    ok: bool = True
    inserted: int = 0
    updated: int = 0
    removed: int = 0
    quarantined: int = 0
    retries: int = 0
    resyncs: int = 0
    seconds: float = 0.0
    error: str = ""
    hint: str = ""


@dataclass
class SyncReport(Mapping[str, Any]):
    """The outcomes of one provider's run; as a mapping, the summary written to ``ops.runs``."""

    provider: str
    outcomes: list[AccountOutcome]
    total: LoadResult
    accounts_key: str = "accounts"
    run_id: str = ""
    """The run's id in ``ops.runs`` (a failed refresh after it amends it)."""
    summary: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.summary = {
            "source": self.provider.lower(),
            self.accounts_key: len({o.account for o in self.outcomes}),
            "failed": [f"{o.source}:{o.account}" for o in self.failed],
            "inserted": dict(self.total.inserted),
            "updated": dict(self.total.updated),
            "removed": dict(self.total.removed),
            "quarantined": self.total.quarantined,
            "pages": self.total.pages,
            "resyncs": sum(o.resyncs for o in self.outcomes),
            "retries": sum(o.retries for o in self.outcomes),
        }

    @property
    def failed(self) -> list[AccountOutcome]:
        return [o for o in self.outcomes if not o.ok]

    @property
    def status(self) -> str:
        if not self.failed:
            return "success"
        return "failure" if len(self.failed) == len(self.outcomes) else "partial"

    def __getitem__(self, key: str) -> Any:
        return self.summary[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.summary)

    def __len__(self) -> int:
        return len(self.summary)


class RetryWatch:
    """Tells the bar of the account being synced that its client is waiting (a retry backoff, or pacing).

    ``wrap`` gives a copy of a retry policy whose ``sleep`` first reports the wait; connectors sleep through their
    policy before every retry.
    """

    def __init__(self) -> None:
        self._listener: Callable[[float], None] | None = None
        self._lock = threading.Lock()

    def wrap(self, policy: RetryPolicy) -> RetryPolicy:
        sleep = policy.sleep

        def reporting_sleep(seconds: float) -> None:
            with self._lock:
                listener = self._listener
            if listener is not None:
                listener(seconds)
            sleep(seconds)

        return dataclasses.replace(policy, sleep=reporting_sleep)

    @contextmanager
    def listening(self, listener: Callable[[float], None]) -> Iterator[None]:
        with self._lock:
            self._listener = listener
        try:
            yield
        finally:
            with self._lock:
                self._listener = None


def describe(exc: BaseException) -> str:
    """An error as one line for a person: our own errors by their message, anything else with its type."""
    if isinstance(exc, RuntimeError | RetryableError | ConfigError):
        return str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {exc}"


class _AccountRun:
    """One account's bar and counters while it syncs."""

    def __init__(
        self, provider: ApiProvider, source: SyncSource, bars: Progress, normaliser: AddressNormaliser
    ) -> None:
        self.provider = provider
        self.source = source
        self.normaliser = normaliser
        self.bars = bars
        self.total = LoadResult()
        self.retries_before = provider.retries(source)
        label = f"{source_named(source.source).label} {source.account}"
        self.task: TaskID = bars.add_task(label, total=None, rows="starting")
        self.waited = 0.0

    @property
    def state(self) -> Progressing | None:
        # read each time: a source may start a fresh one (a Gmail full resync does)
        state: Progressing | None = getattr(self.source, "progress", None)
        return state

    @property
    def retries(self) -> int:
        return self.provider.retries(self.source) - self.retries_before

    def done(self) -> int:
        state = self.state
        return state.done if state is not None else self.total.pages

    def note(self) -> str:
        state = self.state
        parts = []
        if state is not None:
            parts.append(f"{state.done:,}/{state.total:,}" if state.total is not None else f"{state.done:,}")
        else:
            parts.append(f"{self.total.pages:,} pages")
        parts.append(f"{sum(self.total.inserted.values()):,} new")
        if state is not None and state.phase:
            parts.append(state.phase)
        retries = self.retries
        if retries:
            parts.append(f"{retries} {'retry' if retries == 1 else 'retries'} ({self.waited:.1f} s waited)")
        return " · ".join(parts)

    def on_page(self, stream: str, result: LoadResult) -> None:
        self.total.add(result)
        state = self.state
        total = state.total if state is not None else None
        self.bars.update(self.task, completed=self.done(), total=total, rows=self.note())

    def on_wait(self, seconds: float) -> None:
        self.waited += seconds
        self.bars.update(self.task, rows=f"{self.note()} · waiting {seconds:.1f} s")
        self.bars.refresh()  # show it now, not after the wait

    def finish(self, error: BaseException | None, seconds: float) -> AccountOutcome:
        total = self.total
        outcome = AccountOutcome(
            self.source.account,
            self.source.source,
            ok=error is None,
            inserted=sum(total.inserted.values()),
            updated=sum(total.updated.values()),
            removed=sum(total.removed.values()),
            quarantined=total.quarantined,
            retries=self.retries,
            resyncs=int(getattr(self.source, "resyncs", 0)),
            seconds=seconds,
        )
        if error is None:
            end = max(self.done(), 1)  # the bar ends full, whatever the estimate was
            self.bars.update(self.task, total=end, completed=end, rows=f"{self.note()} · up to date")
        else:
            # pseudonymised, the addresses an API error or a hint names are shown as the accounts are: pseudonyms
            outcome.error = self.normaliser.redact(describe(error))
            hint = self.provider.explain(error) or (RESUME_HINT if isinstance(error, RetryableError) else "")
            outcome.hint = self.normaliser.redact(hint)
            self.bars.update(self.task, rows=f"{self.note()} · [red]failed[/red]")
        return outcome


def sync_provider(
    settings: Settings,
    provider: ApiProvider,
    source: str | None,
    account: str | None,
    console: Console,
    *,
    retry: RetryPolicy | None = None,
) -> SyncReport:
    """Sync ``provider``'s sources (or only ``source``) for every account (or only ``account``); one failing account
    does not stop the rest. ``retry`` replaces the provider's retry policy.

    Raises ``NotSetUp`` when the provider has no account to sync, or ``account`` is not one of them.
    """
    problem = provider.not_set_up(settings)
    if problem is not None:
        raise NotSetUp(problem)
    watch = RetryWatch()
    policy = watch.wrap(retry or provider.retry_policy(settings))
    sources = provider.build(settings, source=source, account=account, retry=policy)
    return run_sync(settings, provider, sources, console, watch)


def run_sync(
    settings: Settings, provider: ApiProvider, sources: list[SyncSource], console: Console, watch: RetryWatch
) -> SyncReport:
    """Sync every source in turn, each on its own: any error of one account (after its retries) becomes that
    account's failed outcome and the next account goes on. Only the warehouse failing stops the run."""
    outcomes: list[AccountOutcome] = []
    total = LoadResult()
    normaliser = address_normaliser(settings)
    with (
        open_warehouse(settings.warehouse_path) as con,
        work_progress(console) as bars,
        record_run(con, "sync") as run,
    ):
        for source in sources:
            account = _AccountRun(provider, source, bars, normaliser)
            started = time.monotonic()
            error: BaseException | None = None
            try:
                with watch.listening(account.on_wait):
                    sync_account(con, source, pseudonym_key=settings.hmac_key, on_page=account.on_page)
            except duckdb.Error:
                raise
            except Exception as exc:  # any other error is this account's failure, never the run's
                log.debug("%s %s failed", source.source, source.account, exc_info=True)
                error = exc
            outcomes.append(account.finish(error, time.monotonic() - started))
            total.add(account.total)
        report = SyncReport(provider.name, outcomes, total, provider.accounts_key, run.run_id)
        run.update(report.summary)
        run.status = report.status
    return report
