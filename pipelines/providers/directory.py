"""The internal people of the directory CSV: the accounts an organisation syncs when told ``directory``."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from tiepulse.connectors.base import ImportContext
from tiepulse.connectors.csv_files import CsvFileSource


def internal_people(path: Path, ctx: ImportContext, domains: Collection[str] = ()) -> list[str]:
    """Addresses of the rows whose ``is_internal`` is not false (and, when ``domains`` is given, whose domain is
    one of them), in file order, once each."""
    found: list[str] = []
    for page in CsvFileSource(path, "directory").pages("", ctx, None):
        table = page.rows.get("raw.directory")
        if table is None:
            continue
        for row in table.select(["email", "is_internal"]).to_pylist():
            email = row["email"]
            if not email or row["is_internal"] is False:
                continue
            if domains and email.rsplit("@", 1)[-1] not in domains:
                continue
            found.append(email)
    return list(dict.fromkeys(found))
