"""One settings object: environment variables plus an optional YAML config file.

Environment (prefix ``TIEPULSE_``): ``HOME``, ``CONFIG``, ``AS_OF``, ``PSEUDONYM_KEY``,
``NOTIFY_URLS``; ``IDENTITY_KEY`` (a lake whose catalog is in PostgreSQL) is read by ``core.keyed_hash``.
The YAML file (``TIEPULSE_CONFIG``) holds everything a user tunes: egos and their addresses, aliases,
the directory and contacts files, identity rules, thresholds and privacy options.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tiepulse.connectors.addresses import AddressNormaliser

EARLIEST_AS_OF = dt.date(1900, 1, 1)
LATEST_AS_OF = dt.date(2999, 12, 31)
"""The analysis dates tiepulse accepts (every window around them stays inside the calendar)."""


class ConfigError(ValueError):
    """A configuration problem explained for a person: which file, which field, what is expected."""


def _address(value: str) -> str:
    if AddressNormaliser().normalise(value) is None:
        raise ValueError(f"{value!r} is not a valid email address (expected e.g. ana@acme.com)")
    return value.strip()


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Ego(_Strict):
    """A person whose mailbox or calendar is read, with every address they send from."""

    email: str
    addresses: list[str] = Field(default_factory=list)
    name: str | None = None
    timezone: str = "UTC"
    working_hours: tuple[int, int] = (8, 17)
    """Start and end hour (0-24) in ``timezone``; interactions outside are after hours."""
    working_days: list[int] = Field(default_factory=lambda: [0, 1, 2, 3, 4])
    """Weekdays that are working days, Monday = 0."""

    @field_validator("email")
    @classmethod
    def _valid_email(cls, value: str) -> str:
        return _address(value)

    @field_validator("addresses")
    @classmethod
    def _valid_addresses(cls, value: list[str]) -> list[str]:
        return [_address(v) for v in value]

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError("expected an IANA time zone such as Europe/Madrid or America/New_York") from None
        return value

    @model_validator(mode="after")
    def _sane_hours(self) -> Ego:
        start, end = self.working_hours
        if not 0 <= start < end <= 24:
            raise ValueError(f"working_hours must be [start, end] with 0 <= start < end <= 24, got [{start}, {end}]")
        if any(not 0 <= d <= 6 for d in self.working_days):
            raise ValueError("working_days must be weekday numbers 0 (Monday) to 6 (Sunday)")
        return self


class IdentityOptions(_Strict):
    fold_gmail: bool = True
    """Fold dots and ``+tags`` of gmail.com / googlemail.com addresses (Gmail ignores both)."""
    internal_domains: list[str] = Field(default_factory=list)
    """Domains that count as inside the organisation when the directory does not say."""
    automated_patterns: list[str] = Field(
        default_factory=lambda: [
            r"^(no-?reply|do-?not-?reply|noreply|mailer-daemon|postmaster|bounces?|notifications?)([+._-].*)?@",
            r"^(calendar-notification|alerts?|newsletter|news|updates|digest)@",
        ]
    )
    """Regular expressions on the normalised address that mark automated senders."""
    group_patterns: list[str] = Field(
        default_factory=lambda: [
            r"^(team|all|everyone|staff|dl|list|group)[._-]",
            r"^(all|everyone|staff|info|sales|support|admin|office|helpdesk|enquiries|billing|accounts|careers|hr)@",
        ]
    )
    """Regular expressions on the address that mark distribution lists and role addresses (not people)."""
    people: list[str] = Field(default_factory=list)
    """Addresses that are people whatever the list and group rules say (the rules' way back)."""
    keep_separate: list[str] = Field(default_factory=list)
    """Addresses never merged into an ego by the identity inference (docs/data-model.md, int_ego_addresses_inferred)."""


class PrivacyOptions(_Strict):
    keep_subject_hash: bool = False
    """Keep an HMAC of the normalised subject / event title (for thread grouping). Off by default."""
    min_group_size: int = Field(default=5, ge=1)
    """No group-level row (organisation groups, group matrix) describes fewer people than this; smaller groups are
    merged into "other", and "other" is suppressed when it is still smaller (docs/metrics.md, ONA; docs/bi.md)."""
    person_level_bi: bool | None = None
    """Publish person-level organisational network metrics in the BI snapshot. Unset: off when addresses are
    pseudonymised (an organisation's deployment, where a BI audience must not rank named or re-identifiable
    colleagues), on otherwise (one's own network). docs/bi.md."""


class OrgOptions(_Strict):
    """The organisation graph (ONA, docs/metrics.md)."""

    window_days: int = Field(default=90, ge=7, le=3650)
    """Each period's graph holds the interactions of this many days up to its end (as_of, or a month's end)."""
    outside_contacts: Literal["exclude", "by_domain"] = "exclude"
    """People outside the organisation: left out, or one node per outside domain."""
    exact_betweenness_max_nodes: int = Field(default=3000, ge=10)
    """Betweenness and harmonic centrality are exact up to this many people, estimated from pivots beyond."""
    pivots: int = Field(default=500, ge=10)
    """Pivot people (sources of shortest paths) for the estimate on larger graphs."""
    seed: int = 42
    """Seed of the community detection and the pivot sample (runs are reproducible)."""


class NotifyChannel(_Strict):
    """Where digests go: an apprise URL and who it is for (docs/notifications.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    url: SecretStr
    """An apprise URL (mailto://, mailtos://, slack://, msteams://, workflows://, json://, ...); may hold ``{ego}``."""
    audience: str = Field(alias="for")
    """``organisation``, ``each_ego`` (a digest per ego; ``{ego}`` in the URL is their address), or an ego."""
    name: str | None = None
    """A stable name for the channel (else its URL with the secrets masked identifies it)."""
    schedule: Literal["daily", "weekly"] | None = None
    """Overrides ``notify.schedule`` for this channel."""
    include_people: bool = False
    """An organisation channel lists each person's alerts instead of counts per team (off: counts only)."""

    @model_validator(mode="after")
    def _known_audience(self) -> NotifyChannel:
        if self.audience in ("organisation", "each_ego"):
            if self.audience == "each_ego" and "{ego}" not in self.url.get_secret_value():
                raise ValueError(
                    "a channel for each_ego needs {ego} in its URL (e.g. mailtos://user:pass@smtp.host?to={ego}); "
                    "to send everyone's alerts to one place use for: organisation with include_people: true"
                )
            return self
        _address(self.audience)
        return self


class NotifyOptions(_Strict):
    """Alert digests by email and chat (docs/notifications.md)."""

    channels: list[NotifyChannel] = Field(default_factory=list)
    schedule: Literal["daily", "weekly"] = "daily"
    """How often a channel gets a digest: daily (at most one per UTC day) or weekly (one per 7 days)."""
    env_audience: str = "auto"
    """Who the ``TIEPULSE_NOTIFY_URLS`` channels are for: ``auto`` (the ego when there is one, else the
    organisation), ``organisation``, ``each_ego`` or an ego's address."""
    max_items: int = Field(default=20, ge=1, le=200)
    """Alerts listed in one digest (by priority); the rest follow in the next digests."""
    timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    """Connect and read timeout of each send."""

    @field_validator("env_audience")
    @classmethod
    def _known_env_audience(cls, value: str) -> str:
        return value if value in ("auto", "organisation", "each_ego") else _address(value)


class ImportOptions(_Strict):
    calendar_window_days_back: int = Field(default=730, ge=0, le=36_500)
    calendar_window_days_ahead: int = Field(default=30, ge=0, le=3_650)
    earliest_plausible_date: dt.date = Field(default=dt.date(1990, 1, 1), ge=dt.date(1900, 1, 1))
    future_tolerance_days: int = Field(default=2, ge=0, le=3_650)
    """How far past today (or a later analysis date) a timestamp may lie before it is implausible."""
    workers: int = Field(default=0, ge=0, le=256)
    """Processes for parsing mail; 0 means one per core."""

    @model_validator(mode="after")
    def _plausible_range(self) -> ImportOptions:
        latest = dt.date.today() + dt.timedelta(days=self.future_tolerance_days)
        if self.earliest_plausible_date >= latest:
            raise ValueError(
                f"earliest_plausible_date ({self.earliest_plausible_date}) must lie before today plus "
                f"future_tolerance_days ({latest}): no timestamp could be plausible"
            )
        return self


MEMORY_SIZE = r"^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$"
"""A size DuckDB understands: "512MB", "3GB", "2.5GiB"."""


class DuckLakeOptions(_Strict):
    """Where a DuckLake warehouse keeps its catalog and its data files (docs/ducklake.md)."""

    catalog: str | None = None
    """``postgres:`` and a libpq connection string (``postgres:dbname=tiepulse host=db.internal user=tiepulse``;
    the password from PGPASSWORD or ~/.pgpass) for many machines, or a SQLite file; unset: ``warehouse.ducklake``
    in TIEPULSE_HOME (SQLite, one machine)."""
    data_path: str | None = None
    """A folder or an ``s3://bucket/prefix/`` URL for the Parquet data files; unset: ``warehouse.ducklake.files/``
    in TIEPULSE_HOME. Read when the lake is created (the catalog remembers it)."""
    s3_endpoint: str | None = None
    """``host:port`` of an S3-compatible server (MinIO, Ceph, ...); unset: AWS. Credentials from AWS_ACCESS_KEY_ID
    and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN)."""
    s3_region: str = "us-east-1"
    s3_url_style: Literal["vhost", "path"] = "vhost"
    s3_use_ssl: bool = True
    commit_attempts: int = Field(default=30, ge=1, le=100)
    """How often a write whose commit collides with another writer's (or finds the catalog locked) is tried."""


class WarehouseOptions(_Strict):
    lock_wait_seconds: float = Field(default=30.0, ge=0, le=86_400)
    """How long a writer waits for another process to let go of the warehouse before it stops and names that
    process; the environment variable TIEPULSE_LOCK_WAIT_SECONDS wins over this."""
    memory_limit: str | None = Field(default=None, pattern=MEMORY_SIZE)
    """DuckDB's memory cap for every warehouse connection, as "3GB" (docs/architecture.md, "Memory model"):
    joins, sorts and aggregations spill to ``warehouse.duckdb.tmp`` in the home beyond it. Default: a quarter of
    the machine's memory, at most 3 GB; TIEPULSE_DUCKDB_MEMORY_LIMIT wins over this."""
    threads: int = Field(default=0, ge=0, le=1024)
    """DuckDB's worker threads; 0: the cores this process may run on."""

    backend: Literal["duckdb", "ducklake"] = "duckdb"
    """``duckdb``: one file, one writer at a time. ``ducklake``: a catalog database plus Parquet files; readers never
    block writers and several processes or machines write side by side (docs/ducklake.md)."""
    ducklake: DuckLakeOptions = Field(default_factory=DuckLakeOptions)


class ReportOptions(_Strict):
    """The HTML reports each refresh writes under $TIEPULSE_HOME/reports (docs/operations.md, "Reports")."""

    personal: Literal["all", "none"] | list[str] = "all"
    """Which egos get a personal report at each refresh: all, none, or a list of their addresses."""
    max_personal: int = Field(default=200, ge=0, le=1_000_000)
    """With ``personal: all``, an organisation of more egos than this gets no personal reports from the refresh
    (each is about 1 MB); `tiepulse report --ego EMAIL` still writes any one on demand."""

    @field_validator("personal")
    @classmethod
    def _addresses_lowercase(cls, value: Literal["all", "none"] | list[str]) -> Literal["all", "none"] | list[str]:
        return value if isinstance(value, str) else [_address(a).lower() for a in value]


class ExecutionOptions(_Strict):
    """How the steps of a sync run execute (``pipelines/executors.py``; docs/scaling.md)."""

    executor: Literal["in_process", "multiprocess", "celery"] = "in_process"
    """``in_process``: in the run's process; ``multiprocess``: a process per step on this machine; ``celery``: on
    Celery workers (dagster-celery) reading the broker below."""
    max_processes: int = Field(default=0, ge=0, le=1024)
    """``multiprocess``: steps of one run at a time (0: one per CPU)."""
    celery_broker: str = "redis://127.0.0.1:6379/0"
    """``celery``: the broker's URL (TIEPULSE_CELERY_BROKER wins, for a URL with a password)."""
    celery_backend: str | None = None
    """``celery``: where workers put results (default: the broker)."""


class Config(_Strict):
    """The YAML config file. Every section is optional."""

    egos: list[Ego] = Field(default_factory=list)
    import_paths: list[Path] = Field(default_factory=list)
    """Files and folders the scheduled pipeline imports (new or changed files only)."""
    aliases: dict[str, list[str]] = Field(default_factory=dict)
    """Canonical address -> other addresses of the same person."""
    directory_file: Path | None = None
    contacts_file: Path | None = None
    identity: IdentityOptions = Field(default_factory=IdentityOptions)
    privacy: PrivacyOptions = Field(default_factory=PrivacyOptions)
    org: OrgOptions = Field(default_factory=OrgOptions)
    imports: ImportOptions = Field(default_factory=ImportOptions)
    warehouse: WarehouseOptions = Field(default_factory=WarehouseOptions)
    notify: NotifyOptions = Field(default_factory=NotifyOptions)
    reports: ReportOptions = Field(default_factory=ReportOptions)
    execution: ExecutionOptions = Field(default_factory=ExecutionOptions)
    google: dict[str, Any] = Field(default_factory=dict)
    """Gmail / Google Calendar options, validated by ``tiepulse.connectors.google`` (see docs/connectors/google.md)."""
    microsoft: dict[str, Any] = Field(default_factory=dict)
    """Outlook mail / calendar options, validated by ``connectors.microsoft`` (docs/connectors/microsoft.md)."""
    thresholds: dict[str, Any] = Field(default_factory=dict)
    """Analytics parameters (see docs/metrics.md); unknown keys are rejected by the analytics settings."""

    @field_validator("aliases")
    @classmethod
    def _aliases_lowercase(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        return {_address(k).lower(): [_address(a).lower() for a in v] for k, v in value.items()}


def _parsed(text: str) -> Any:
    """The YAML document, by libyaml's parser when present: a refresh reads the config about twenty times (each
    Settings), and its list of egos grows with the organisation (PyYAML's own parser: 24 ms at 100 people, libyaml's
    3 ms)."""
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}


def load_config(path: Path) -> Config:
    """Read and validate the YAML config, failing with the file, the field and what is expected."""
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found (TIEPULSE_CONFIG). Create it or unset the variable.")
    try:
        data = _parsed(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text file (TIEPULSE_CONFIG must name a YAML config file)") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file (TIEPULSE_CONFIG): {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {' '.join(str(exc).split())}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of sections (egos, aliases, ...) at the top level")
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{path}: invalid configuration: {_problems(exc, _config_field)}") from None
    base = path.parent
    config = config.model_copy(
        update={
            "directory_file": _relative_to(base, config.directory_file),
            "contacts_file": _relative_to(base, config.contacts_file),
            "import_paths": [base / p if not p.is_absolute() else p for p in config.import_paths],
        }
    )
    for name in ("directory_file", "contacts_file"):
        file = getattr(config, name)
        if file is not None and not file.is_file():
            raise ConfigError(
                f"{path}: invalid configuration\n  {name}: no such file {file} (relative paths are "
                "relative to the config file)"
            )
    if config.thresholds:
        _check_thresholds(path, config.thresholds)
    return config


def _problems(exc: ValidationError, name: Callable[[tuple[int | str, ...]], str]) -> str:
    """Each problem of ``exc`` as ``field: what is wrong (got value)``, on one line."""
    problems = []
    for err in exc.errors():
        got = err.get("input")
        message = err["msg"].removeprefix("Value error, ")
        problems.append(f"{name(err['loc'])}: {message}" + ("" if isinstance(got, dict) else f" (got {got!r})"))
    return "; ".join(problems)


def _config_field(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


def _variable(loc: tuple[int | str, ...]) -> str:
    name = str(loc[0]).upper() if loc else "*"
    return name if name.startswith("TIEPULSE_") else f"TIEPULSE_{name}"


def environment_problem(exc: ValidationError) -> str:
    """A bad ``TIEPULSE_*`` variable, named as the user set it, with what is expected."""
    return f"bad environment setting: {_problems(exc, _variable)}"


def _check_thresholds(path: Path, thresholds: dict[str, Any]) -> None:
    from tiepulse.core.params import AnalyticsParams, AnalyticsParamsError

    try:
        AnalyticsParams.from_thresholds(thresholds)
    except AnalyticsParamsError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _relative_to(base: Path, value: Path | None) -> Path | None:
    if value is None or value.is_absolute():
        return value
    return base / value


class Settings(BaseSettings):
    """Process-wide settings. Build with ``Settings()``; read the config through ``.config``."""

    model_config = SettingsConfigDict(env_prefix="TIEPULSE_", frozen=True, populate_by_name=True)

    home: Path = Path(".tiepulse")
    config_file: Path | None = Field(default=None, validation_alias="TIEPULSE_CONFIG")
    as_of: dt.date = Field(default_factory=dt.date.today, ge=EARLIEST_AS_OF, le=LATEST_AS_OF)
    pseudonym_key: SecretStr | None = None
    lock_wait_seconds: float | None = Field(default=None, ge=0, le=86_400)
    """Overrides the config's ``warehouse.lock_wait_seconds`` (TIEPULSE_LOCK_WAIT_SECONDS)."""
    duckdb_memory_limit: str | None = Field(default=None, pattern=MEMORY_SIZE)
    """Overrides the config's ``warehouse.memory_limit`` (TIEPULSE_DUCKDB_MEMORY_LIMIT, as "2GB")."""

    @field_validator("home")
    @classmethod
    def _home_is_a_folder(cls, value: Path) -> Path:
        if value.exists() and not value.is_dir():
            raise ValueError(f"{value} is a file, not a folder; point it at a folder (created if missing)")
        return value

    @property
    def lock_wait(self) -> float:
        """Seconds a writer waits for the warehouse (environment first, then the config file)."""
        return self.config.warehouse.lock_wait_seconds if self.lock_wait_seconds is None else self.lock_wait_seconds

    @property
    def duckdb_limits(self) -> tuple[str | None, int]:
        """DuckDB's memory cap (None: the automatic one) and threads (0: every core), environment first."""
        options = self.config.warehouse
        limit = options.memory_limit if self.duckdb_memory_limit is None else self.duckdb_memory_limit
        return limit, options.threads

    notify_urls: SecretStr | None = None
    """``TIEPULSE_NOTIFY_URLS``: apprise URLs, space-separated, for ``notify.env_audience``."""
    celery_broker: SecretStr | None = None
    """``TIEPULSE_CELERY_BROKER``: the Celery broker's URL (it may hold a password), over
    ``execution.celery_broker``."""

    @property
    def warehouse_path(self) -> Path:
        """The DuckDB file, or for the DuckLake backend the name its catalog goes by (its SQLite file by default)."""
        return self.home / ("warehouse.ducklake" if self.config.warehouse.backend == "ducklake" else "warehouse.duckdb")

    @cached_property
    def config(self) -> Config:
        config = load_config(self.config_file) if self.config_file else Config()
        if self.as_of < config.imports.earliest_plausible_date:
            where = f"{self.config_file}: " if self.config_file else ""
            raise ConfigError(
                f"{where}TIEPULSE_AS_OF={self.as_of} is before imports.earliest_plausible_date "
                f"({config.imports.earliest_plausible_date}): set a later analysis date or an earlier plausible date"
            )
        return config

    @property
    def hmac_key(self) -> bytes | None:
        """The pseudonymisation key as bytes, or None when addresses are kept in clear."""
        if self.pseudonym_key is None or not self.pseudonym_key.get_secret_value():
            return None
        return self.pseudonym_key.get_secret_value().encode("utf-8")
