"""The same end-to-end run on both warehouse backends (issue 16, item 6): a small organisation's mailboxes imported
and refreshed through the CLI, imported again (nothing new, nothing doubled), then read through `health`, `ties`,
`alerts`, `org` and `sql`. The DuckLake runs on a SQLite catalog with its data files in the test's folder.

The organisation: ten people of two teams; Mia and Leo are egos with a mailbox each. Mia writes with Ana (outside)
every six days until six weeks before the analysis date (a fading tie), with everyone but Zed weekly to the end, and
four times to Zed, who never answers (one-sided); Leo also writes weekly to Noa.
"""

from __future__ import annotations

import datetime as dt
import json
import mailbox
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tiepulse.cli.app import app

pytestmark = pytest.mark.slow

AS_OF = dt.date(2026, 3, 12)
START = dt.datetime(2025, 9, 1, 10, tzinfo=dt.UTC)
MIA, LEO, ANA, ZED = "mia@acme.com", "leo@acme.com", "ana@client.com", "zed@acme.com"
NOA = "noa@acme.com"
CORE = [MIA, LEO, NOA, "eli@acme.com", "ida@acme.com"]
SALES = [ZED, "kim@acme.com", "max@acme.com", "ron@acme.com", "sam@acme.com"]
Mail = tuple[str, dt.datetime, str, str]


def _mails() -> list[Mail]:
    faded = AS_OF - dt.timedelta(days=42)
    rows = [
        (f"ana{k}", START + dt.timedelta(days=6 * k), *((MIA, ANA) if k % 2 else (ANA, MIA)))
        for k in range((faded - START.date()).days // 6)
    ]
    weeks = (AS_OF - START.date()).days // 7
    for n, other in enumerate(CORE[1:] + SALES[1:]):
        pairs = [(MIA, other), (other, MIA)]
        rows += [
            (f"{other[:3]}{k}", START + dt.timedelta(days=7 * k + n % 7, hours=1), *pairs[k % 2]) for k in range(weeks)
        ]
    rows += [(f"zed{k}", START + dt.timedelta(days=150 + 5 * k), MIA, ZED) for k in range(4)]
    rows += [(f"leo-noa{k}", START + dt.timedelta(days=7 * k + 3, hours=2), LEO, NOA) for k in range(weeks)]
    return rows


def _write_mbox(path: Path, mails: list[Mail]) -> None:
    box = mailbox.mbox(path)
    for key, at, sender, to in mails:
        message = EmailMessage()
        message["Message-ID"] = f"<{key}@acme.com>"
        message["Date"] = format_datetime(at)
        message["From"] = sender
        message["To"] = to
        box.add(message)
    box.flush()
    box.close()


def _organisation(root: Path, backend: str) -> Path:
    """Mailboxes, directory and config under ``root/org``; the config names ``backend``."""
    org = root / "org"
    (org / "mail").mkdir(parents=True)
    mails = _mails()
    _write_mbox(org / "mail" / "mia.mbox", [m for m in mails if MIA in (m[2], m[3])])
    _write_mbox(org / "mail" / "leo.mbox", [m for m in mails if LEO in (m[2], m[3])])
    people = [(p, "Core", "Engineering") for p in CORE] + [(p, "Sales", "Commercial") for p in SALES]
    lines = ["email,name,team,department,internal"]
    lines += [f"{p},{p.split('@')[0].title()} Example,{team},{dept},true" for p, team, dept in people]
    (org / "directory.csv").write_text("\n".join(lines) + "\n")
    config = [
        "egos:",
        f"- email: {MIA}",
        f"- email: {LEO}",
        "warehouse:",
        f"  backend: {backend}",
    ]
    (org / "config.yaml").write_text("\n".join(config) + "\n")
    return org


def run(*args: str) -> str:
    result = CliRunner().invoke(app, list(args), terminal_width=400)
    if result.exit_code != 0:  # the whole output, which an assertion's message would shorten
        pytest.fail(f"{args}: exit {result.exit_code}\n{result.output}", pytrace=False)
    return result.output


@pytest.fixture(params=["duckdb", "ducklake"])
def org(request: pytest.FixtureRequest, cli_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = _organisation(tmp_path, request.param)
    monkeypatch.setenv("TIEPULSE_CONFIG", str(folder / "config.yaml"))
    monkeypatch.setenv("TIEPULSE_AS_OF", AS_OF.isoformat())
    return folder


def test_import_refresh_and_read_commands_agree_on_both_backends(org: Path, cli_home: Path) -> None:
    imported = run("import", str(org))
    mails = _mails()
    copies = sum(ego in m[2:] for m in mails for ego in (MIA, LEO))  # a mail between the egos is in both mailboxes
    assert f"raw.mail_messages: {copies}" in imported and "raw.directory: 10" in imported, imported
    lake = (org / "config.yaml").read_text().endswith("ducklake\n")
    assert (cli_home / "warehouse.ducklake").is_file() is lake
    assert (cli_home / "warehouse.duckdb").exists() is not lake
    assert "nothing new" in run("import", str(org), "--no-refresh")

    counts = "select (select count(*) from raw.mail_messages) as raw, (select count(distinct message_key) from "
    counts += "raw.mail_messages) as keys, (select count(*) from marts.fct_messages) as messages"
    assert json.loads(run("sql", "--format", "json", counts)) == [
        {"raw": copies, "keys": len(mails), "messages": len(mails)}
    ]
    ties = json.loads(run("sql", "--format", "json", f"select alter_id from marts.mart_ties where ego_id = '{MIA}'"))
    assert sorted(t["alter_id"] for t in ties) == sorted([ANA, *CORE[1:], *SALES])
    shown = run("ties", "--ego", MIA).splitlines()
    assert next(line for line in shown if line.startswith(ANA)).split()[3:5] == ["2026-01-23", "48"]

    alerts = json.loads(run("alerts", "--ego", MIA, "--format", "json"))
    assert {(a["kind"], a["alter_id"]) for a in alerts} == {("neglected_tie", ANA), ("one_sided_tie", ZED)}
    assert "network health as of 2026-03-12" in run("health", "--ego", MIA)
    view = json.loads(run("org", "--format", "json"))
    assert view["group_type"] == "team" and (view["summary"]["nodes"], view["summary"]["edges"]) == (10, 10)
    assert sorted(g["group_name"] for g in view["most_siloed"]) == ["Core", "Sales"]
    assert view["brokers"][0]["person_id"] == MIA
