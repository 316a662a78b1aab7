"""Byte search of a whole folder: which files hold any of the given markers (case-insensitive)."""

from __future__ import annotations

from pathlib import Path

import duckdb


def files_holding(folder: Path, *markers: str) -> dict[str, list[str]]:
    """Per marker, the files under ``folder`` whose bytes contain it (ASCII case folded). The folder may belong to a
    running server: a file it removes between the listing and the read (PostgreSQL's relation cache file
    ``pg_internal.init``, a finished temporary file) holds nothing any more and is passed over."""
    needles = {m: m.lower().encode() for m in markers}
    found: dict[str, list[str]] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()):
        try:
            data = path.read_bytes().lower()
        except FileNotFoundError:
            continue
        if path.suffix == ".parquet":  # a lake's data file: its pages are compressed, so its values are read too
            data += str(duckdb.sql(f"select * from read_parquet('{path}')").fetchall()).lower().encode()
        for marker, needle in needles.items():
            if needle in data:
                found.setdefault(marker, []).append(str(path.relative_to(folder)))
    return found
