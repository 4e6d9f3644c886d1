"""A self-contained HTML report of one batch run: alerts by level and by agency, and the alert list.

No server and no JavaScript: inline SVG bar charts, so the file opens anywhere and can be archived as
the record of a run.
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from alerting.alerts import LEVELS, agency_key

LEVEL_COLOURS = {
    "critical": "#7f1d1d", "high": "#dc2626", "medium": "#f59e0b", "low": "#3b82f6", "informational": "#9ca3af",
}


def bar_chart(title: str, rows: Sequence[tuple[str, int]], colours: dict[str, str] | None = None) -> str:
    """A horizontal bar chart as inline SVG."""
    width, label_w, bar_h, gap = 640, 260, 22, 6
    top = max((v for _, v in rows), default=0) or 1
    height = len(rows) * (bar_h + gap) + 10
    bars = []
    for i, (label, value) in enumerate(rows):
        y = i * (bar_h + gap) + 5
        w = int((width - label_w - 60) * value / top)
        colour = (colours or {}).get(label, "#2563eb")
        bars.append(
            f'<text x="{label_w - 8}" y="{y + 16}" text-anchor="end">{html.escape(label)}</text>'
            f'<rect x="{label_w}" y="{y}" width="{max(w, 1)}" height="{bar_h}" fill="{colour}"/>'
            f'<text x="{label_w + max(w, 1) + 6}" y="{y + 16}">{value}</text>'
        )
    return (f"<h2>{html.escape(title)}</h2>"
            f'<svg width="{width}" height="{height}" font-family="sans-serif" font-size="13" role="img" '
            f'aria-label="{html.escape(title)}">{"".join(bars)}</svg>')


def _agencies(alert: dict[str, Any]) -> list[str]:
    """The alert's agency, or every agency of a cross-agency correlation."""
    agency = alert.get("agency") or {}
    return [agency["id"]] if agency.get("id") else list(agency.get("ids") or [])


def render(summary_lines: list[str], alerts: list[dict[str, Any]], agency_names: dict[str, str]) -> str:
    by_level = Counter(a["rule"]["level"] for a in alerts)
    by_agency = Counter(agency_key(a) for a in alerts)
    level_rows = [(lvl, by_level[lvl]) for lvl in LEVELS if by_level[lvl]]
    agency_rows = [(agency_names.get(a, a), n) for a, n in sorted(by_agency.items(), key=lambda kv: (-kv[1], kv[0]))]
    severity = {lvl: i for i, lvl in enumerate(LEVELS)}
    ranked = sorted(alerts, key=lambda a: (severity.get(a["rule"]["level"], len(LEVELS)), a.get("@timestamp") or ""))
    by_rule: dict[str, list[dict[str, Any]]] = {}
    for a in ranked:
        by_rule.setdefault(a["rule"]["id"], []).append(a)
    rule_rows = "".join(
        _row((group[0]["rule"]["level"], group[0]["rule"]["title"], len(group),
              len({a.get("host", {}).get("name") for a in group}), group[0]["@timestamp"] or "",
              group[-1]["@timestamp"] or ""))
        for group in sorted(by_rule.values(), key=lambda g: (severity.get(g[0]["rule"]["level"], 9), -len(g)))
    )
    rows = "".join(
        _row((a.get("@timestamp") or "", a["rule"]["level"], a["rule"]["title"], a.get("host", {}).get("name", ""),
              ", ".join(agency_names.get(i, i) for i in _agencies(a)),
              a.get("system", {}).get("id", ""), a["alert_id"]))
        for a in ranked
    )
    return f"""<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><title>socpipe report</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1200px}}table{{border-collapse:collapse;font-size:13px}}
td,th{{border:1px solid #ddd;padding:4px 8px;text-align:left}}pre{{background:#f5f5f5;padding:1em}}</style>
</head><body>
<h1>socpipe batch detection report</h1>
<pre>{html.escape(chr(10).join(summary_lines))}</pre>
{bar_chart("Alerts by level", level_rows, LEVEL_COLOURS)}
{bar_chart("Alerts by agency", agency_rows)}
<h2>Rules that fired</h2>
<table><tr><th>level</th><th>rule</th><th>alerts</th><th>hosts</th><th>first (UTC)</th><th>last (UTC)</th></tr>
{rule_rows}</table>
<h2>Alerts, most severe first</h2>
<table><tr><th>time (UTC)</th><th>level</th><th>rule</th><th>host</th><th>agency</th><th>system</th>
<th>alert id</th></tr>{rows}</table>
</body></html>
"""


def _row(cells: tuple[object, ...]) -> str:
    return "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>"


def write_report(path: Path, summary_lines: list[str], alerts: list[dict[str, Any]],
                 agency_names: dict[str, str]) -> None:
    path.write_text(render(summary_lines, alerts, agency_names), encoding="utf-8")
