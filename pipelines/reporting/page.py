"""One self-contained HTML page: sections of text, tables and Vega-Lite charts, with the Vega JavaScript inlined.

The page fetches nothing when opened (no CDN, no fonts): the Vega, Vega-Lite and vega-embed bundle comes from
vl-convert (the bundle Altair itself inlines) and sits in the page once, however many charts it holds. Charts are
drawn as SVG and take the width of their container, so one page reads on a laptop and on a phone.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import jinja2

from tiepulse.pipelines.reporting.charts import Plot

CHART_EMBED_OPTIONS = {"actions": False, "renderer": "svg"}


@functools.cache
def vega_bundle(cache_dir: Path | None = None) -> str:
    """The vega-embed bundle for Altair's Vega-Lite version (about 0.9 MB). vl-convert builds it in a few seconds;
    with ``cache_dir`` it is kept there, named by the versions it was built from, and built once per version."""
    import vl_convert
    from altair.utils._importers import vl_version_for_vl_convert

    vl_version = vl_version_for_vl_convert()
    cached = cache_dir / f"vega-embed-{vl_version}-vl-convert-{version('vl-convert-python')}.js" if cache_dir else None
    if cached is not None and cached.exists():
        return cached.read_text(encoding="utf-8")
    bundle = str(vl_convert.javascript_bundle(vl_version=vl_version))  # type: ignore[call-arg]  # snippet is optional
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(bundle, encoding="utf-8")
        tmp.replace(cached)  # another process building the same bundle at once writes the same bytes
    return bundle


@dataclass(frozen=True)
class Chart:
    plot: Plot
    caption: str = ""


@dataclass(frozen=True)
class Table:
    columns: Sequence[str]
    rows: Sequence[Sequence[Any]]
    caption: str = ""


@dataclass(frozen=True)
class Section:
    title: str
    intro: str = ""
    charts: Sequence[Chart] = ()
    tables: Sequence[Table] = ()
    lists: Sequence[tuple[str, Sequence[str]]] = ()
    """Titled bullet lists, e.g. ("Strengths", [...])."""
    note: str = ""
    """A plain note shown instead of (or below) the content, e.g. why a chart is missing."""


@dataclass(frozen=True)
class Figure:
    label: str
    value: str


@dataclass(frozen=True)
class Page:
    title: str
    subtitle: str
    figures: Sequence[Figure] = ()
    sections: Sequence[Section] = field(default_factory=list)
    footer: str = ""


def _script_json(value: Any) -> str:
    """JSON that is safe inside a <script> element (no ``</script>`` or ``<!--`` can close or confuse it)."""
    return json.dumps(value, separators=(",", ":"), default=str).replace("<", "\\u003c")


_TEMPLATE = jinja2.Environment(autoescape=True).from_string(
    """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ page.title }}</title>
<style>
  :root { color-scheme: light; --ink: #1f2933; --muted: #616e7c; --line: #e4e7eb; --accent: #2f6f9f; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
         background: #f5f7fa; }
  header, main, footer { max-width: 1080px; margin: 0 auto; padding: 0 16px; }
  header { padding-top: 20px; }
  h1 { font-size: 1.5em; margin: 0 0 4px; overflow-wrap: anywhere; }
  h2 { font-size: 1.15em; margin: 0 0 6px; }
  h3 { font-size: 1em; margin: 12px 0 4px; }
  .subtitle, .intro, .caption, footer { color: var(--muted); }
  .figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(140px, 1fr)); gap: 10px;
             margin: 16px 0; }
  .figure { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; }
  .figure .value { font-size: 1.5em; font-weight: 600; color: var(--accent); }
  .figure .label { font-size: 0.85em; color: var(--muted); }
  section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px;
            margin: 0 0 16px; }
  .chart { width: 100%; min-height: 60px; margin: 8px 0; }
  .chart .vega-embed { width: 100%; }
  .note { background: #fffbea; border-left: 3px solid #f0b429; padding: 8px 10px; margin: 8px 0; }
  .table-wrap { overflow-x: auto; }
  table { border-collapse: collapse; width: 100%; font-size: 0.9em; }
  th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
  th { color: var(--muted); font-weight: 600; }
  ul, ol { margin: 4px 0 8px; padding-left: 22px; }
  footer { font-size: 0.85em; padding-bottom: 24px; }
  @media (max-width: 640px) {  /* tables become one card per row, each cell named */
    thead { display: none; }
    tr { display: block; padding: 6px 0; border-bottom: 1px solid var(--line); }
    td { display: block; border: none; padding: 1px 0; }
    td::before { content: attr(data-label) ": "; color: var(--muted); font-weight: 600; }
  }
</style>
<script>{{ bundle | safe }}</script>
</head>
<body>
<header>
  <h1>{{ page.title }}</h1>
  <div class="subtitle">{{ page.subtitle }}</div>
  {% if page.figures %}<div class="figures">
  {% for f in page.figures %}<div class="figure"><div class="value">{{ f.value }}</div>
    <div class="label">{{ f.label }}</div></div>
  {% endfor %}</div>{% endif %}
</header>
<main>
{% for s in page.sections %}{% set si = loop.index0 %}
<section>
  <h2>{{ s.title }}</h2>
  {% if s.intro %}<p class="intro">{{ s.intro }}</p>{% endif %}
  {% for title, items in s.lists %}<h3>{{ title }}</h3>
  <ul>{% for item in items %}<li>{{ item }}</li>{% endfor %}</ul>{% endfor %}
  {% for c in s.charts %}{% if c.caption %}<h3>{{ c.caption }}</h3>{% endif %}
  <div class="chart" id="chart-{{ si }}-{{ loop.index0 }}"></div>{% endfor %}
  {% for t in s.tables %}<div class="table-wrap"><table>
    <thead><tr>{% for c in t.columns %}<th>{{ c }}</th>{% endfor %}</tr></thead>
    <tbody>{% for row in t.rows %}<tr>{% for v in row %}<td data-label="{{ t.columns[loop.index0] }}">{{ v }}</td>
    {%- endfor %}</tr>{% endfor %}</tbody>
  </table></div>{% if t.caption %}<div class="caption">{{ t.caption }}</div>{% endif %}{% endfor %}
  {% if s.note %}<p class="note">{{ s.note }}</p>{% endif %}
</section>
{% endfor %}
</main>
<footer>{{ page.footer }}</footer>
<script>
  const specs = {{ specs | safe }};
  const options = {{ options | safe }};
  // Settles when every chart is drawn (or has logged why not): tests and print wait on it.
  window.chartsDrawn = Promise.all(
    Object.entries(specs).map(([id, spec]) => vegaEmbed("#" + id, spec, options).catch((e) => console.error(id, e)))
  );
</script>
</body>
</html>
"""
)


def render_page(page: Page, cache_dir: Path | None = None) -> str:
    """The page as one HTML document (``cache_dir``: where the JavaScript bundle is kept between runs)."""
    specs = {
        f"chart-{si}-{ci}": chart.plot.spec()
        for si, section in enumerate(page.sections)
        for ci, chart in enumerate(section.charts)
    }
    return _TEMPLATE.render(
        page=page, bundle=vega_bundle(cache_dir), specs=_script_json(specs), options=_script_json(CHART_EMBED_OPTIONS)
    )
