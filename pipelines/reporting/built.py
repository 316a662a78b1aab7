"""What each HTML report was last written from, so a refresh renders again only the reports whose inputs changed.

A report's fingerprint digests the code (tiepulse version), the analysis date, the parameters and an
order-insensitive checksum of every frame the page draws. The fingerprints live beside the reports in
``reports/.built.json`` (mode 0600): an erasure deletes the folder, and with it what they were keyed by.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import polars as pl
from polars.datatypes import DataTypeClass

from tiepulse.core.private_files import write_private
from tiepulse.pipelines.analytics.fingerprint import checksum, digest
from tiepulse.pipelines.build_state import code_version

STATE_FILE = ".built.json"


def _rounded(value: pl.Expr, dtype: pl.DataType | DataTypeClass) -> pl.Expr:
    """``value`` with every float in it (in lists and records too) rounded to 9 decimals."""
    if dtype.is_float():
        return value.round(9)
    if isinstance(dtype, pl.Struct):
        return pl.struct(_rounded(value.struct.field(f.name), f.dtype).alias(f.name) for f in dtype.fields)
    if isinstance(dtype, pl.List):
        return value.list.eval(_rounded(pl.element(), dtype.inner))
    return value


def _checksum(frame: pl.DataFrame) -> str:
    """The frame's checksum, floats rounded first: a sum taken in another order (shares, weights) differs in its
    last bits, which no chart shows."""
    return checksum(frame.select(_rounded(pl.col(c), t).alias(c) for c, t in frame.schema.items()))


def inputs_fingerprint(inputs: object, *context: object) -> str:
    """A digest of ``context`` and of every field of the ``inputs`` dataclass (frames by their checksum)."""
    parts: list[object] = [code_version(), *context]
    for item in dataclasses.fields(inputs):  # type: ignore[arg-type]
        value = getattr(inputs, item.name)
        if isinstance(value, dict):
            parts.extend(f"{key}={_checksum(frame)}" for key, frame in sorted(value.items()))
        elif isinstance(value, pl.DataFrame):
            parts.append(_checksum(value))
        elif isinstance(value, frozenset):
            parts.append(sorted(value))
        else:
            parts.append(value)
    return digest(*parts)


def load(folder: Path) -> dict[str, str]:
    """File name -> fingerprint of the reports written last time (empty when unknown or unreadable)."""
    try:
        found = json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}


def save(folder: Path, fingerprints: dict[str, str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    write_private(folder / STATE_FILE, json.dumps(fingerprints, sort_keys=True))


def forget(folder: Path) -> None:
    (folder / STATE_FILE).unlink(missing_ok=True)
