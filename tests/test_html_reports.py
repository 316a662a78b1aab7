"""The HTML reports, opened in a real browser: written by the refresh and by `tiepulse report`, every chart drawn,
no console error, nothing fetched, readable at phone width; screenshots saved as test artefacts."""

from __future__ import annotations

import datetime as dt
import stat
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from rich.console import Console
from typer.testing import CliRunner

from tests.browser import Browser, artefact
from tests.sample_org import import_sample, sample_environment
from tiepulse.cli.app import app
from tiepulse.cli.demo import name_reports
from tiepulse.core.params import AnalyticsParams
from tiepulse.core.settings import ReportOptions, Settings
from tiepulse.core.warehouse import connect
from tiepulse.pipelines import network_io as tables
from tiepulse.pipelines import refresh_gate
from tiepulse.pipelines.analytics.brokerage import activity_window, cooccurrence_edges, record_participants
from tiepulse.pipelines.marts_io import read_table
from tiepulse.pipelines.record_window import RecordWindow
from tiepulse.pipelines.refresh import refresh
from tiepulse.pipelines.reporting.sources import read_personal_inputs
from tiepulse.pipelines.reporting.write import existing_reports, personal_egos

pytestmark = pytest.mark.slow

LAPTOP, PHONE = 1280, 390

CHARTS_DRAWN = """window.chartsDrawn.then(() => [...document.querySelectorAll('.chart')].map(d => {
  const svg = d.querySelector('svg');
  return svg ? svg.querySelectorAll('path, rect, line, circle, text').length : 0;
}))"""
"""Per chart container, how many drawn SVG elements it holds once vega-embed has finished."""


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A small sample organisation, imported and refreshed (the refresh writes the reports)."""
    root = tmp_path_factory.mktemp("reports")
    env, truth = sample_environment(root, people=60, months=15, externals=200)
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        import_sample(root)
        result = refresh()
        assert result.success, result.failed_checks
        yield {"home": root / "home", "as_of": truth["as_of"], "root": root}


def _egos(home: Path) -> list[str]:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        return [
            r[0]
            for r in con.execute(
                "select ego_id from marts.mart_network_health where period = 'current' "
                "order by health_score desc nulls last, ego_id"
            ).fetchall()
        ]


def _check_in_browser(browser: Browser, path: Path, name: str) -> list[int]:
    """Open ``path`` at laptop and phone width; no errors, every chart drawn, nothing fetched, nothing wider
    than the phone's screen. Returns the drawn elements per chart."""
    drawn: list[int] = []
    for width, device in ((LAPTOP, "laptop"), (PHONE, "phone")):
        page = browser.open(path, width=width, mobile=width == PHONE)
        drawn = browser.evaluate(page, CHARTS_DRAWN)
        overflow = browser.evaluate(page, "document.documentElement.scrollWidth - window.innerWidth")
        browser.screenshot(page, artefact(f"{name}-{device}.png"))
        assert page.errors == [], page.errors
        assert drawn and all(n > 0 for n in drawn), drawn
        assert [u for u in page.requests if not u.startswith(("file:", "data:", "about:"))] == []
        assert overflow <= 0, f"{name} is {overflow}px wider than a {width}px screen"
    return drawn


def test_the_refresh_writes_private_reports_for_the_organisation_and_every_ego(org: dict[str, Any]) -> None:
    reports = org["home"] / "reports"
    personal = sorted((reports / "egos").glob("*.html"))
    assert {p.name.removesuffix(".html") for p in personal} == set(_egos(org["home"]))
    for path in [reports / "organisation.html", *personal]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert not list(reports.rglob("*.tmp"))


def test_a_refresh_with_nothing_new_renders_no_report_again(org: dict[str, Any]) -> None:
    reports = sorted((org["home"] / "reports").rglob("*.html"))
    before = {path: path.stat().st_mtime_ns for path in reports}
    with connect(org["home"] / "warehouse.duckdb") as con:  # else Dagster would not run at all (refresh_gate)
        refresh_gate.forget(con)
    result = refresh()
    assert result.unchanged_since is None
    assert result.success, result.failed_checks
    assert {path: path.stat().st_mtime_ns for path in sorted((org["home"] / "reports").rglob("*.html"))} == before


def test_which_egos_get_a_personal_report_at_each_refresh() -> None:
    egos = ["a@x.com", "b@x.com", "c@x.com"]
    assert personal_egos(egos, ReportOptions()) == (egos, None)
    assert personal_egos(egos, ReportOptions(personal="none")) == ([], "reports.personal is none")
    assert personal_egos(egos, ReportOptions(max_personal=2)) == ([], "3 egos, more than reports.max_personal = 2")
    chosen = personal_egos(egos, ReportOptions(personal=["B@x.com"]))
    assert chosen == (["b@x.com"], "reports.personal lists the egos that get one")


def _most_alerted(home: Path) -> str:
    """The ego with the most open alerts: the report with the most to show (fading ties, alerts)."""
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        rows = con.execute(
            "select ego_id from marts.mart_alerts where status = 'open' and kind = 'neglected_tie' "
            "group by ego_id order by count(*) desc, ego_id limit 1"
        ).fetchall()
    return str(rows[0][0])


def test_a_personal_report_draws_every_chart_in_a_real_browser(org: dict[str, Any], browser: Browser) -> None:
    ego = _most_alerted(org["home"])
    path = org["home"] / "reports" / "egos" / f"{ego}.html"
    html = path.read_text()
    for heading in ("Health over time", "Ties", "Channels", "Buckets", "Your network", "Open alerts"):
        assert f"<h2>{heading}" in html, heading
    assert "Next actions" in html and "Strengths" in html and "Fading ties" in html and "neglected tie" in html
    drawn = _check_in_browser(browser, path, "personal")
    assert len(drawn) >= 8  # score, sub-scores, distribution, strongest and fading, channels, real world, network
    for width, device in ((LAPTOP, "laptop"), (PHONE, "phone")):
        page = browser.open(path, width=width, mobile=width == PHONE)
        names = browser.evaluate(page, NETWORK_NAMES)
        browser.screenshot(
            page, artefact(f"personal-network-{device}.png"), selector="#" + browser.evaluate(page, NETWORK_CHART_ID)
        )
        # the fading ties and the strongest are named, and no name covers another
        assert "you" in [n["text"] for n in names] and len(names) >= 4, names
        overlaps = [(a["text"], b["text"]) for i, a in enumerate(names) for b in names[i + 1 :] if _overlap(a, b)]
        assert overlaps == [], f"{device}: {overlaps}"


NETWORK_NAMES = """window.chartsDrawn.then(() => {
  const section = [...document.querySelectorAll('section')]
    .find(s => s.querySelector('h2').textContent === 'Your network');
  return [...section.querySelectorAll('.chart svg .role-mark.mark-text text')].map(t => {
    const r = t.getBoundingClientRect();
    return {text: t.textContent, left: r.left, top: r.top, right: r.right, bottom: r.bottom};
  });
})"""
"""The names drawn in the personal report's network picture, with their boxes on screen."""
NETWORK_CHART_ID = """[...document.querySelectorAll('section')]
  .find(s => s.querySelector('h2').textContent === 'Your network').querySelector('.chart').id"""


def _overlap(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a["left"] < b["right"] and b["left"] < a["right"] and a["top"] < b["bottom"] and b["top"] < a["bottom"]


def test_the_organisation_report_draws_the_network_marts(org: dict[str, Any], browser: Browser) -> None:
    """The refresh's organisation report, drawn from the ONA marts the same refresh built."""
    path = org["home"] / "reports" / "organisation.html"
    html = path.read_text()
    for heading in ("The network", "Between teams", "Silos", "Trends"):
        assert f"<h2>{heading}" in html, heading
    assert "The organisational network marts are not built" not in html
    drawn = _check_in_browser(browser, path, "organisation")
    assert len(drawn) == 6  # health, trend, network trend, network, heatmap, silos
    for width, device in ((LAPTOP, "laptop"), (PHONE, "phone")):
        page = browser.open(path, width=width, mobile=width == PHONE)
        heatmap = browser.evaluate(page, HEATMAP_TEXTS)
        names = [t for t in heatmap["texts"] if t["text"] not in ("from", "to", "messages")]
        overlaps = [(a["text"], b["text"]) for i, a in enumerate(names) for b in names[i + 1 :] if _overlap(a, b)]
        assert overlaps == [], f"{device}: {overlaps}"
        outside = [t["text"] for t in heatmap["texts"] if t["bottom"] > heatmap["bottom"] + 0.5]
        assert outside == [], f"{device}: drawn below the chart's edge: {outside}"


HEATMAP_TEXTS = """window.chartsDrawn.then(() => {
  const section = [...document.querySelectorAll('section')]
    .find(s => s.querySelector('h2').textContent.startsWith('Between'));
  const svg = section.querySelector('.chart svg');
  const texts = [...svg.querySelectorAll('.role-axis-label text, .role-axis-title text')].map(t => {
    const r = t.getBoundingClientRect();
    return {text: t.textContent, left: r.left, top: r.top, right: r.right, bottom: r.bottom};
  });
  return {texts: texts, bottom: svg.getBoundingClientRect().bottom};
})"""
"""The group names and titles on the organisation report's heatmap axes, with their boxes, and the chart's edge."""


def test_report_command_writes_a_personal_report_at_another_date(
    org: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, browser: Browser
) -> None:
    monkeypatch.setenv("TIEPULSE_HOME", str(org["home"]))
    ego = _egos(org["home"])[0]
    out = tmp_path / "earlier.html"
    result = CliRunner().invoke(app, ["report", "--ego", ego.upper(), "--as-of", "2026-03-01", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert "as of 01 March 2026" in out.read_text()
    _check_in_browser(browser, out, "personal-earlier")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--org", "--ego", "x@y.com"], "--org takes neither"),
        (["--ego", "nobody@nowhere.example"], "is not an ego"),
        (["--as-of", "March"], "--as-of must be a date"),
    ],
)
def test_report_command_errors_are_one_line(
    org: dict[str, Any], monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    monkeypatch.setenv("TIEPULSE_HOME", str(org["home"]))
    result = CliRunner().invoke(app, ["report", *args])
    assert result.exit_code == 2 and message in result.output, result.output
    assert "Traceback" not in result.output


ONA_MARTS = ("marts.mart_org_people", "marts.mart_org_groups", "marts.mart_group_matrix", "marts.mart_org_summary")


def test_the_organisation_report_without_network_marts_says_so(
    org: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, browser: Browser
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "warehouse.duckdb").write_bytes((org["home"] / "warehouse.duckdb").read_bytes())
    with duckdb.connect(str(home / "warehouse.duckdb")) as con:
        for table in ONA_MARTS:
            con.execute(f"drop table {table}")
    monkeypatch.setenv("TIEPULSE_HOME", str(home))
    out = tmp_path / "org.html"
    result = CliRunner().invoke(app, ["report", "--org", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "The organisational network marts are not built" in out.read_text()
    _check_in_browser(browser, out, "organisation-without-ona")


def test_the_demo_ends_by_naming_the_reports(org: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIEPULSE_HOME", str(org["home"]))
    console = Console(record=True, width=100)
    name_reports(console, existing_reports(Settings()))
    lines = console.export_text().splitlines()
    assert lines[-2].strip() == str((org["home"] / "reports" / "organisation.html").resolve())
    assert f"{len(_egos(org['home']))} personal reports, one per ego" in lines[-1]


def test_personal_inputs_read_a_few_egos_at_a_time_equal_everyone_s(org: dict[str, Any]) -> None:
    """The refresh reads the reports' inputs a batch of egos at a time (bounded memory): each ego's inputs are the
    rows read for everyone at once, the alter-alter ties from only the batch's messages and meetings included, and
    from a copy of the window's messages and meetings (``RecordWindow``) as from the fact tables."""
    as_of, params = dt.date.fromisoformat(str(org["as_of"])), AnalyticsParams()
    with closing(connect(org["home"] / "warehouse.duckdb", read_only=True)) as con:
        everyone = read_personal_inputs(con, as_of, params)
        egos = sorted(everyone.health.get_column("ego_id").to_list())
        batch = egos[1:6]
        some = read_personal_inputs(con, as_of, params, batch)
        window = RecordWindow.copy(con, activity_window(as_of, params)[0])  # as the refresh reads many batches
        copied = read_personal_inputs(con, as_of, params, batch, window)
        window.drop()
    assert_frame_equal(copied.alter_edges.sort(pl.all()), some.alter_edges.sort(pl.all()))
    assert some.observed_egos == everyone.observed_egos
    assert_frame_equal(some.names.sort(pl.all()), everyone.names.sort(pl.all()))
    assert some.alter_edges.height and set(some.health.get_column("ego_id")) == set(batch)
    for ego in batch:
        mine, theirs = some.for_ego(ego), everyone.for_ego(ego)
        for field in ("health", "monthly_health", "ties", "ties_monthly", "alerts", "alter_edges"):
            assert_frame_equal(getattr(mine, field).sort(pl.all()), getattr(theirs, field).sort(pl.all()))


def test_the_reports_alter_ties_read_only_the_activity_window_and_equal_the_whole_history_s(
    org: dict[str, Any],
) -> None:
    """The reports read the interactions, messages and meetings of the activity window only; the alter-alter ties
    are those computed from every row of the warehouse."""
    as_of, params = dt.date.fromisoformat(str(org["as_of"])), AnalyticsParams()
    start, _ = activity_window(as_of, params)
    with closing(connect(org["home"] / "warehouse.duckdb", read_only=True)) as con:
        before = con.execute(f"select count(*) from {tables.INTERACTIONS} where occurred_at <= ?", [start]).fetchall()
        read = read_personal_inputs(con, as_of, params).alter_edges
        whole = cooccurrence_edges(
            read_table(con, tables.INTERACTIONS),
            record_participants(
                read_table(con, tables.MESSAGES),
                read_table(con, tables.MESSAGE_RECIPIENTS),
                read_table(con, tables.EVENT_ATTENDEES),
            ),
            as_of,
            params,
        )
    assert before[0][0] > 0 and read.height > 0  # most of the history is outside the window
    assert_frame_equal(read.sort(pl.all()), whole.sort(pl.all()))
