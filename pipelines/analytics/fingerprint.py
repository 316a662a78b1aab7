"""Fingerprints of what each ego's history was computed from, so an incremental run recomputes exactly the (ego, month)
whose inputs changed (``pipelines.ego_refresh``).

The fingerprint of an ego's month covers its cut-off day (the month end, or the analysis date for the month still
running), an order-insensitive checksum of the ego's interactions up to that cut-off, a ``context`` string for the
inputs that weigh on every ego alike (the analytics parameters, the people's attributes, the contacts), and
optionally a digest of other inputs of that ego at that cut-off. The context also holds a digest of the analysis
code itself (``rules_digest``: the modules of this package that the caller imports, directly or through each other),
so a release that changes a rule the marts run (the narrowing rule, a weight, a default) recomputes the history on
the next ordinary refresh, as a changed threshold does, while a change to a module they do not run (the ONA's, the
introductions') does not, nor does one to comments or docstrings. Changing a threshold, those rules, the directory
or an identity merge therefore changes every month of every ego; new mail of one ego in the latest month changes that
ego's latest month only. The checksum sums the two 32-bit halves of each row's Polars hash (stable within one Polars
version: an upgrade recomputes the history once); the sums add up across ego shards.
"""

from __future__ import annotations

import ast
import datetime as dt
import hashlib
import json
from pathlib import Path

import polars as pl

from tiepulse.core.params import AnalyticsParams
from tiepulse.pipelines.analytics.common import UTC_TS, Frame, as_of_instant, lazy
from tiepulse.pipelines.analytics.monthly import month_end, month_start

PERSON_ATTRIBUTES = ("person_id", "domain", "is_internal", "team", "department")
"""The columns of ``dim_person`` that history depends on (not the per-person message counts, which move daily)."""

_HALF = 2**32
PACKAGE = "tiepulse.pipelines.analytics"
PACKAGE_DIR = Path(__file__).parent


def rules_digest(root: Path, package: Path = PACKAGE_DIR) -> str:
    """A digest of the rules the module at ``root`` runs: the code of its ``rules_modules`` (name and syntax tree, in
    name order; comments, docstrings and layout left out, so only a change to what runs changes it)."""
    sha = hashlib.sha256()
    for module, tree in sorted(_rules(root, package).items()):
        sha.update(module.encode("utf-8") + b"\0" + ast.dump(_Prose().visit(tree)).encode("utf-8") + b"\0")
    return sha.hexdigest()[:16]


def rules_modules(root: Path, package: Path = PACKAGE_DIR) -> list[str]:
    """The modules of ``package`` that the module at ``root`` imports, directly or through each other, in name
    order. Importing the package itself counts as importing all its modules."""
    return sorted(_rules(root, package))


def _rules(root: Path, package: Path) -> dict[str, ast.Module]:
    """``rules_modules`` with their syntax trees."""
    trees: dict[str, ast.Module] = {}
    pending = [root]
    while pending:
        path = pending.pop()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if path.parent.resolve() == package.resolve():
            trees[path.stem] = tree
        for name in _package_imports(tree):
            names = [f.stem for f in package.glob("*.py")] if name == "__init__" else [name]
            # ``from <package> import name`` also offers names that are not modules
            for module in {n for n in names if (package / f"{n}.py").is_file()} - {*trees, *(p.stem for p in pending)}:
                pending.append(package / f"{module}.py")
    return trees


class _Prose(ast.NodeTransformer):
    """Drops the statements that are only a string (docstrings, the notes under constants): they never run."""

    def visit_Expr(self, node: ast.Expr) -> ast.Expr | None:
        return None if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str) else node


def _package_imports(tree: ast.Module) -> set[str]:
    """The modules of the analytics package that ``tree`` imports (``__init__`` for the package itself)."""
    dotted = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            dotted |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            dotted |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
    inside = {name.removeprefix(PACKAGE).lstrip(".").split(".")[0] for name in dotted if _within(name)}
    return {name or "__init__" for name in inside}


def _within(name: str) -> bool:
    return name == PACKAGE or name.startswith(PACKAGE + ".")


def _sums(frame: pl.LazyFrame, *keys: str) -> pl.LazyFrame:
    """Row count and the summed low and high halves of each row's hash, per ``keys`` (or overall)."""
    value_columns = [c for c in frame.collect_schema().names() if c not in keys]
    hashed = frame.select(*keys, h=pl.struct(value_columns).hash())
    sums = {"n": pl.len(), "lo": (pl.col("h") % _HALF).sum(), "hi": (pl.col("h") // _HALF).sum()}
    return hashed.group_by(*keys).agg(**sums) if keys else hashed.select(**sums)


def checksum(frame: Frame) -> str:
    """Order-insensitive checksum of a whole frame (equal rows in any order, equal checksum)."""
    n, lo, hi = _sums(lazy(frame)).collect().row(0)
    return f"{n}:{lo}:{hi}"


def digest(*parts: object) -> str:
    """One short digest of ``parts`` (their text, in order)."""
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).hexdigest()[:32]


def history_context(rules: str, params: AnalyticsParams, *frames: Frame) -> str:
    """One digest of the analysis ``rules`` (``rules_digest``), the parameters and the frames every month depends
    on."""
    parts = [rules, json.dumps(params.model_dump(), sort_keys=True), *(checksum(f) for f in frames)]
    return hashlib.sha256("|".join(parts).encode("utf-8")).hexdigest()[:16]


def history_months(interactions: Frame, as_of: dt.date) -> list[dt.date]:
    """Month starts from the first interaction's month (at or before ``as_of``) to the month holding ``as_of``."""
    first = (
        lazy(interactions)
        .filter(pl.col("occurred_at") <= pl.lit(as_of_instant(as_of), dtype=UTC_TS))
        .select(pl.col("occurred_at").min())
        .collect()
        .item()
    )
    return months_since(None if first is None else first.date(), as_of)


def months_since(first: dt.date | None, as_of: dt.date) -> list[dt.date]:
    """Month starts from the month holding ``first`` to the month holding ``as_of`` (none without ``first``)."""
    if first is None:
        return []
    months, month = [], month_start(first)
    while month <= as_of:
        months.append(month)
        month = month_end(month) + dt.timedelta(days=1)
    return months


def ego_month_sums(interactions: Frame, as_of: dt.date) -> pl.DataFrame:
    """Per ego and month: the interactions' count and hash sums up to ``as_of`` (add up across ego shards)."""
    return _sums(
        lazy(interactions)
        .filter(pl.col("occurred_at") <= pl.lit(as_of_instant(as_of), dtype=UTC_TS))
        .with_columns(month=pl.col("occurred_at").dt.truncate("1mo").dt.date()),
        "ego_id",
        "month",
    ).collect()


def ego_month_fingerprints(sums: Frame, as_of: dt.date, context: str, extra: Frame | None = None) -> pl.DataFrame:
    """``ego_id``, ``month``, ``fingerprint`` for every month of every ego, from its first interaction's month to
    the month holding ``as_of``: ``context|cut-off|count|hash sums`` of its interactions up to the month's cut-off,
    then the ``extra`` string of that ego and month when given (``ego_id``, ``month``, ``extra``: other inputs
    of one ego at one month's cut-off).

    The running month's fingerprint (cut-off ``as_of``) also covers the ego's state as of ``as_of``.
    """
    running = month_start(as_of)
    grid = (
        lazy(sums)
        .group_by("ego_id")
        .agg(month=pl.date_ranges(pl.col("month").min(), pl.lit(running), interval="1mo"))
        .explode("month")
    )
    cutoff = pl.min_horizontal(pl.col("month").dt.month_end(), pl.lit(as_of, dtype=pl.Date))
    if extra is not None:
        grid = grid.join(lazy(extra), on=["ego_id", "month"], how="left")
    else:
        grid = grid.with_columns(extra=pl.lit(None, dtype=pl.String))
    return (
        grid.join(lazy(sums), on=["ego_id", "month"], how="left")
        .sort("ego_id", "month")
        .with_columns(pl.col(c).fill_null(0).cum_sum().over("ego_id") for c in ("n", "lo", "hi"))
        .select(
            "ego_id",
            "month",
            fingerprint=pl.concat_str(
                pl.lit(context), cutoff.cast(pl.String), "n", "lo", "hi", pl.col("extra").fill_null(""), separator="|"
            ),
        )
        .collect()
    )
