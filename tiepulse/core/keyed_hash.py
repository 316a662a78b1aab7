"""Keyed hashes of identifiers (HMAC-SHA-256): the erasure list and the ids the run log keeps instead of addresses.

The key is random, created once (0600) beside the warehouse, so whatever holds a connection (the loader) finds it
without the settings. A lake whose catalog is in PostgreSQL has no folder every machine shares: its key is the
secret ``TIEPULSE_IDENTITY_KEY``, the same on every machine (``warehouse_identity_key``). The same HMAC is installed
in DuckDB as a SQL macro, so whole columns are hashed set-wise.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

import duckdb

from tiepulse.core.warehouse import WarehouseError

_BLOCK = 64  # SHA-256 block size: the HMAC pads (or hashes) the key to it


KEY_FILE = "identity_hmac.key"
SHARED_KEY_VARIABLE = "TIEPULSE_IDENTITY_KEY"
_CHECK_TEXT = "tiepulse identity key check"


class IdentityKeyError(WarehouseError):
    """The identity key is missing, or is not the one the erasure list was made with; the message says what to set."""


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


def warehouse_identity_key(con: duckdb.DuckDBPyConnection) -> bytes | None:
    """The identity key of the warehouse ``con`` works on: the file beside it, or for a lake whose catalog is in
    PostgreSQL the shared ``TIEPULSE_IDENTITY_KEY``; None when there is none (yet)."""
    home = database_home(con)
    if home is not None:
        return existing_identity_key(home)
    shared = os.environ.get(SHARED_KEY_VARIABLE, "").strip()
    return shared.encode() if shared else None


def new_or_warehouse_identity_key(con: duckdb.DuckDBPyConnection) -> bytes:
    """``warehouse_identity_key``, the file made on first use; a lake on PostgreSQL without the shared key raises
    ``IdentityKeyError`` (no machine may make its own)."""
    home = database_home(con)
    if home is not None:
        return identity_key(home)
    if (shared := warehouse_identity_key(con)) is not None:
        return shared
    raise IdentityKeyError(
        f"this lake's catalog is in PostgreSQL, so its identity key (for the erasure list) must be the same on "
        f"every machine: set {SHARED_KEY_VARIABLE} to one long random secret (for example `openssl rand -hex 32`) "
        "in the environment of every machine that imports, syncs or erases, then run again"
    )


def key_check(key: bytes) -> str:
    """A short value that tells keys apart and says nothing of what they hash (kept beside the erasure list)."""
    return keyed_hash(key, _CHECK_TEXT)[:16]


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
