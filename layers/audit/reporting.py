"""Reporting to the national centre: the share of 24 h / 72 h deadlines met, what was sent, when, with what
receipt, and the health of each export transport. Export actions (kind `export`) carry in `detail` the
`stage` (initial, full), `transport`, `outcome` (sent, failed), `destination` and `receipt`."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from layers.audit.incidents import IncidentFacts, end_of
from layers.audit.output import Result
from layers.audit.scope import Scope
from layers.national.select import STAGES, Selection


def reporting(scope: Scope, facts: list[IncidentFacts], selection: Selection) -> Result:
    end = end_of(scope)
    rows = []
    met: dict[str, list[bool]] = defaultdict(list)
    health: dict[str, dict[str, Any]] = defaultdict(lambda: {"sent": 0, "failed": 0, "last_sent": None})
    for f in facts:
        for export in f.exports:
            detail = export["detail"]
            entry = health[str(detail.get("transport"))]
            outcome = "sent" if detail.get("outcome") == "sent" else "failed"
            entry[outcome] += 1
            if outcome == "sent":
                entry["last_sent"] = max(filter(None, [entry["last_sent"], export["at"].isoformat()]))
        why = selection.reasons(f.document, f.decisions)
        if not why:
            continue
        deadlines = selection.deadlines(f.detected)
        row = [f.document["incident_id"], f.document.get("agency.id"), f.document.get("level"), "; ".join(why),
               f.detected.isoformat()]
        for stage in STAGES:
            sent = [e for e in f.exports if e["detail"].get("stage") == stage and e["detail"].get("outcome") == "sent"]
            first = sent[0] if sent else None
            if first is not None:
                status = "met" if first["at"] <= deadlines[stage] else "late"
            else:
                status = "overdue" if end > deadlines[stage] else "pending"
            if status != "pending":
                met[stage].append(status == "met")
            row += [deadlines[stage].isoformat(), first["at"].isoformat() if first else None, status,
                    _receipt(first["detail"]) if first else None]
        rows.append(row)
    summary = []
    for stage in STAGES:
        flags = met.get(stage, [])
        summary.append([stage, f"{selection.hours[stage]:g} h", len(flags), sum(flags),
                        round(100.0 * sum(flags) / len(flags), 1) if flags else None])
    return Result("reporting", "Reports to the national centre against the 24 h / 72 h clocks",
                  ["stage", "deadline", "due", "met", "share_percent"], summary,
                  ["incident_id", "agency_id", "level", "why_reported", "detected",
                   "initial_deadline", "initial_sent", "initial", "initial_receipt",
                   "full_deadline", "full_sent", "full", "full_receipt"], rows,
                  {"export_health": {t: health[t] for t in sorted(health)}})


def _receipt(detail: dict[str, Any]) -> str:
    receipt = detail.get("receipt")
    return receipt if isinstance(receipt, str) else "" if receipt is None else str(receipt)
