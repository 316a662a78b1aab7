"""Import throughput (messages/s) against a floor measured in the same run on the same bytes.

The floor is `connectors.mail.bare_split`: a loop that only finds message boundaries and splits each header block
from its body. tiepulse's import does that plus header parsing, address normalisation, quarantine and the DuckDB
load (pages committed with their cursor). Run: `python -m benchmarks.bench_import [--messages N] [--skip-enron]`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
from pathlib import Path

from benchmarks.common import markdown_table, peak_rss_mb, timed
from benchmarks.gen_mbox import write_mbox
from tiepulse.connectors.mail import bare_split
from tiepulse.core.settings import Settings
from tiepulse.core.warehouse import connect
from tiepulse.pipelines.file_import import ImportReport, import_paths

ENRON = Path(__file__).resolve().parents[2] / "shared" / "data" / "enron" / "sent_mail"


def _measure(label: str, target: Path, files: list[Path], work: Path) -> list[object]:
    messages, floor = timed(lambda: sum(bare_split(f) for f in files))
    settings = Settings(home=work, as_of=dt.date(2026, 11, 1))

    def load() -> ImportReport:
        # Closing is part of the import: it checkpoints what the WAL still holds.
        con = connect(settings.warehouse_path)
        try:
            return import_paths(con, [target], settings)
        finally:
            con.close()

    report, took = timed(load)
    total = report.total
    loaded = total.inserted.get("raw.mail_messages", 0) + total.quarantined
    return [
        label,
        f"{messages:,}",
        f"{loaded:,}",
        f"{floor:.2f}",
        f"{took:.2f}",
        f"{messages / took:,.0f}",
        f"{took / floor:.1f}x",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=1_000_000, help="size of the generated mbox")
    parser.add_argument("--skip-enron", action="store_true")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="tiepulse-bench-") as tmp:
        root = Path(tmp)
        if not args.skip_enron and ENRON.is_dir():
            files = sorted(ENRON.glob("*.mbox"))
            rows.append(_measure("Enron sent mail (78 mbox)", ENRON, files, root / "enron"))
        generated = root / "generated.mbox"
        size = write_mbox(generated, args.messages)
        rows.append(_measure(f"generated mbox ({size / 1e6:,.0f} MB)", generated, [generated], root / "generated"))
    print(f"\nImport throughput, {os.cpu_count()} cores, peak RSS {peak_rss_mb():,.0f} MB\n")
    print(
        markdown_table(
            ["input", "messages", "rows + quarantined", "floor s", "import s", "messages/s", "import / floor"],
            rows,
        )
    )


if __name__ == "__main__":
    main()
