"""Self-contained HTML reports (personal and organisation) with Vega-Lite charts and network pictures."""
