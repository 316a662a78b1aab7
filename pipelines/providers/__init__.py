"""The provider registry: every way data comes in, declared once (``spec.py`` says what a provider declares).

The loader takes its key policies from here, ``forget`` its tables, the Dagster factory its assets, partitions,
jobs, schedules and sensors (``tiepulse.pipelines.assets.syncs``), the CLI its ``--source`` values and labels.
Adding a provider is one module here and one entry in ``PROVIDERS`` (docs/adding-a-connector.md). Everything
reads ``PROVIDERS`` when called, never a copy taken at import.
"""

from __future__ import annotations

from tiepulse.pipelines.providers.files import FILES
from tiepulse.pipelines.providers.google import GOOGLE
from tiepulse.pipelines.providers.microsoft import MICROSOFT
from tiepulse.pipelines.providers.spec import (
    RESUME_HINT,
    ApiProvider,
    FileProvider,
    NotSetUp,
    Provider,
    RawTable,
    Schedule,
    Source,
)

PROVIDERS: tuple[Provider, ...] = (FILES, GOOGLE, MICROSOFT)


def api_providers() -> list[ApiProvider]:
    """The providers whose accounts sync (in the order `tiepulse sync` runs them)."""
    return [p for p in PROVIDERS if isinstance(p, ApiProvider)]


def sources() -> list[Source]:
    """Every API source, provider by provider."""
    return [s for p in api_providers() for s in p.sources]


def source_named(name: str) -> Source:
    """The source called ``name`` (``outlook_calendar``, or as ``--source`` spells it: ``outlook-calendar``)."""
    for source in sources():
        if name in (source.name, source.cli_name):
            return source
    raise KeyError(name)


def raw_table(name: str) -> RawTable:
    """The declaration of raw table ``name`` (``raw.gmail_messages``)."""
    for provider in PROVIDERS:
        for table in provider.tables:
            if table.name == name:
                return table
    known = sorted(t.name for p in PROVIDERS for t in p.tables)
    raise ValueError(f"unknown raw table {name!r}; known: {known}")


__all__ = [
    "FILES",
    "GOOGLE",
    "MICROSOFT",
    "PROVIDERS",
    "RESUME_HINT",
    "ApiProvider",
    "FileProvider",
    "NotSetUp",
    "Provider",
    "RawTable",
    "Schedule",
    "Source",
    "api_providers",
    "raw_table",
    "source_named",
    "sources",
]
