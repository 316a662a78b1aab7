"""Keyed hashes of identifiers (HMAC-SHA-256): the erasure list and the ids the run log keeps instead of addresses.

The key is random, created once (0600) beside the warehouse, so whatever holds a connection (the loader) finds it
without the settings. The same HMAC is installed in DuckDB as a SQL macro, so whole columns are hashed set-wise.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

import duckdb

_BLOCK = 64  # SHA-256 block size: the HMAC pads (or hashes) the key to it


KEY_FILE = "identity_hmac.key"


def existing_identity_key(home: Path) -> bytes | None:
    """The home's identity key, or None when none was created yet."""
    path = home / KEY_FILE
    return path.read_text().strip().encode() if path.exists() else None


def identity_key(home: Path) -> bytes:
    """The home's identity key, created on first use (random, readable by its owner only)."""
    path = home / KEY_FILE
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it a moment ago
            return path.read_text().strip().encode()
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text().strip().encode()


def database_home(con: duckdb.DuckDBPyConnection) -> Path | None:
    """The folder of the database file ``con`` works on: a DuckLake's SQLite catalog file (not the ``sqlite:``
    catalog string DuckDB names the lake by); None in memory or with a catalog in PostgreSQL."""
    row = con.execute(
        "select coalesce(catalog.path, db.path) from duckdb_databases() db "
        "left join duckdb_databases() catalog on db.type = 'ducklake' "
        "and catalog.database_name = '__ducklake_metadata_' || db.database_name and catalog.type = 'sqlite' "
        "where db.database_name = current_database() and (db.type <> 'ducklake' or catalog.path is not null)"
    ).fetchone()
    return Path(row[0]).parent if row and row[0] else None


def keyed_hash(key: bytes, value: str) -> str:
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def install_keyed_hash(con: duckdb.DuckDBPyConnection, key: bytes, name: str = "tp_keyed_hash") -> None:
    """Create the temporary SQL macro ``name(text)``: the same hex HMAC as :func:`keyed_hash`, computed by DuckDB."""
    padded = (hashlib.sha256(key).digest() if len(key) > _BLOCK else key).ljust(_BLOCK, b"\0")
    inner = bytes(b ^ 0x36 for b in padded).hex()
    outer = bytes(b ^ 0x5C for b in padded).hex()
    con.execute(
        f"create or replace temp macro {name}(value) as "
        f"sha256(unhex('{outer}') || unhex(sha256(unhex('{inner}') || encode(value))))"
    ).fetchall()
