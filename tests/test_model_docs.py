"""docs/data-model.md's column tables are the models' `.yml` written out (`make docs`), never a second copy."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tiepulse.pipelines.model_docs import column_table, documented_tables, modelled_tables, refreshed

DOC = Path(__file__).parents[1] / "docs" / "data-model.md"


def test_every_modelled_table_has_a_column_table_in_the_doc() -> None:
    documented = documented_tables(DOC.read_text(encoding="utf-8"))
    assert sorted(documented) == sorted(modelled_tables()) and len(documented) == len(set(documented))


def test_the_doc_is_what_make_docs_writes() -> None:
    doc = DOC.read_text(encoding="utf-8")
    assert refreshed(doc) == doc, "docs/data-model.md is stale: run `make docs` (edit the models' .yml, not the doc)"


def test_a_stale_table_is_written_again_and_the_prose_kept(tmp_path: Path) -> None:
    table = "marts.fct_messages"
    old_block = f"<!-- columns: {table} -->\n| column | meaning |\n| `gone` | old |\n<!-- /columns -->"
    stale = f"# Doc\n\nProse | stays.\n\n{old_block}\n"
    path = tmp_path / "data-model.md"
    path.write_text(stale, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "tiepulse.pipelines.model_docs", str(path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 2 and "no '<!-- columns: TABLE -->' block" in done.stderr  # every modelled table
    assert refreshed(stale) == f"# Doc\n\nProse | stays.\n\n{column_table(table)}\n"
    assert "| `message_key` | Key: lower-cased Message-ID" in column_table(table) and "`gone`" not in column_table(
        table
    )


def test_a_pipe_or_angle_bracket_in_a_description_stays_inside_its_cell() -> None:
    rows = column_table("marts.dim_person").splitlines()
    assert all(row.count(" | ") == 1 for row in rows if row.startswith("| `"))
    assert "p~\\<hmac>@domain" in "\n".join(rows)
