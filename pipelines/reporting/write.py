"""Rendering reports to files: the organisation's and one per ego under ``$TIEPULSE_HOME/reports``, each readable
by its owner only (0600), each replaced atomically so a browser never opens half a file."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from tiepulse.core.params import params_for
from tiepulse.core.private_files import write_private
from tiepulse.core.settings import Settings
from tiepulse.pipelines.reporting.organisation import organisation_page
from tiepulse.pipelines.reporting.page import render_page
from tiepulse.pipelines.reporting.personal import personal_page
from tiepulse.pipelines.reporting.sources import read_organisation_inputs, read_personal_inputs

ORGANISATION_FILE = "organisation.html"


def write_report(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` with mode 0600, replacing any earlier file in one rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_private(path, text)


def ego_file_name(ego_id: str) -> str:
    """A file name for an ego's report: the address, with anything a file system may dislike replaced."""
    return re.sub(r"[^A-Za-z0-9@._+~-]", "_", ego_id) + ".html"


@dataclass(frozen=True)
class WrittenReports:
    organisation: Path
    personal: list[Path]

    @property
    def folder(self) -> Path:
        return self.organisation.parent


def reports_folder(settings: Settings) -> Path:
    return settings.home / "reports"


def bundle_cache(settings: Settings) -> Path:
    """Where the charts' JavaScript bundle is kept between runs."""
    return settings.home / "cache"


def existing_reports(settings: Settings) -> WrittenReports | None:
    """The reports the last refresh wrote, or None when there are none."""
    folder = reports_folder(settings)
    if not (folder / ORGANISATION_FILE).exists():
        return None
    return WrittenReports(folder / ORGANISATION_FILE, sorted((folder / "egos").glob("*.html")))


def write_all_reports(con: duckdb.DuckDBPyConnection, settings: Settings) -> WrittenReports:
    """The organisation report and every ego's, as of the analysis date, under ``settings.home / 'reports'``."""
    folder = reports_folder(settings)
    params = params_for(settings)
    cache = bundle_cache(settings)
    org = write_report(
        folder / ORGANISATION_FILE,
        render_page(
            organisation_page(read_organisation_inputs(con, settings.as_of), settings.config.privacy.min_group_size),
            cache,
        ),
    )
    everyone = read_personal_inputs(con, settings.as_of, params)
    written = [
        write_report(
            folder / "egos" / ego_file_name(ego), render_page(personal_page(everyone.for_ego(ego), ego, params), cache)
        )
        for ego in sorted(everyone.health.get_column("ego_id").to_list())
    ]
    _remove_stale(folder / "egos", {p.name for p in written})
    return WrittenReports(org, written)


def _remove_stale(folder: Path, keep: set[str]) -> None:
    """Reports of egos no longer in the warehouse (forgotten accounts) go with them."""
    for old in folder.glob("*.html"):
        if old.name not in keep:
            old.unlink()
