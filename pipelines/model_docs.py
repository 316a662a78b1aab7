"""The column tables of docs/data-model.md, written from the models' ``.yml`` (the one place column descriptions
live; Dagster's column schemas and the BI snapshot's comments read the same files).

In the doc, each modelled table's columns sit between two markers; everything around them is prose kept by hand::

    <!-- columns: marts.fct_messages -->
    | column | meaning |
    ...
    <!-- /columns -->

`make docs` (``python -m tiepulse.pipelines.model_docs docs/data-model.md``) rewrites the blocks;
tests/test_model_docs.py fails when the doc is stale or a modelled table has no block.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from tiepulse.pipelines.models import LAYERS, MODELS_DIR, column_descriptions

BLOCK = re.compile(r"<!-- columns: (?P<table>[\w.]+) -->\n.*?<!-- /columns -->", re.DOTALL)


def modelled_tables() -> list[str]:
    """Every ``schema.table`` with a ``.yml`` beside its model, by layer then name."""
    return [f"{layer}.{yml.stem}" for layer in LAYERS for yml in sorted((MODELS_DIR / layer).glob("*.yml"))]


def column_table(table: str) -> str:
    """The marked block of one table: a Markdown table of its columns in the order of its ``.yml``."""
    rows = [f"| `{column}` | {_cell(text)} |" for column, text in column_descriptions(table).items()]
    return "\n".join(
        [f"<!-- columns: {table} -->", "| column | meaning |", "| --- | --- |", *rows, "<!-- /columns -->"]
    )


def _cell(text: str) -> str:
    """A description as one Markdown table cell: a pipe would end the cell, ``<word>`` would read as an HTML tag."""
    return text.replace("|", "\\|").replace("<", "\\<")


def refreshed(doc: str) -> str:
    """The doc with every marked block written again from the ``.yml`` it names."""
    return BLOCK.sub(lambda match: column_table(match["table"]), doc)


def documented_tables(doc: str) -> list[str]:
    return [match["table"] for match in BLOCK.finditer(doc)]


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tiepulse.pipelines.model_docs docs/data-model.md", file=sys.stderr)
        return 2
    path = Path(argv[0])
    doc = path.read_text(encoding="utf-8")
    missing = sorted(set(modelled_tables()) - set(documented_tables(doc)))
    if missing:
        print(f"error: {path} has no '<!-- columns: TABLE -->' block for {', '.join(missing)}", file=sys.stderr)
        return 2
    new = refreshed(doc)
    if new != doc:
        path.write_text(new, encoding="utf-8")
    print(f"{path}: {len(documented_tables(new))} column tables {'rewritten' if new != doc else 'up to date'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
