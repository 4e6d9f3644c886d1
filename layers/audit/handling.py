"""Handling times against the deadlines: time to acknowledge and to close, by level and agency, the
incidents over a deadline (late, or still open past it on the as-of day), and escalations."""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from alerting.alerts import LEVELS
from layers.audit.incidents import IncidentFacts, end_of
from layers.audit.output import Result
from layers.audit.scope import Scope


def _status(done: datetime | None, deadline: datetime, end: datetime) -> str:
    if done is not None:
        return "met" if done <= deadline else "late"
    return "overdue" if end > deadline else "open"


def handling(scope: Scope, facts: list[IncidentFacts], deadlines: dict[str, dict[str, float]]) -> Result:
    end = end_of(scope)
    rows = []
    for f in facts:
        level = f.document.get("level", "informational")
        limits = deadlines[level]
        ack_by = f.detected + timedelta(minutes=float(limits["acknowledge_minutes"]))
        close_by = f.detected + timedelta(hours=float(limits["close_hours"]))
        tta = round((f.acknowledged - f.detected).total_seconds() / 60, 1) if f.acknowledged else None
        ttc = round((f.closed - f.detected).total_seconds() / 3600, 2) if f.closed else None
        rows.append([f.document["incident_id"], level, f.document.get("agency.id"), f.detected.isoformat(),
                     tta, _status(f.acknowledged, ack_by, end), ttc, _status(f.closed, close_by, end),
                     f.escalations])
    groups: dict[tuple[str, str], list[list[Any]]] = defaultdict(list)
    for row in rows:
        groups[(row[1], row[2] or "")].append(row)
    summary = []
    for (level, agency), mine in sorted(groups.items(), key=lambda g: (LEVELS.index(g[0][0]), g[0][1])):
        tta = [r[4] for r in mine if r[4] is not None]
        ttc = [r[6] for r in mine if r[6] is not None]
        summary.append([level, agency, len(mine), len(tta), _median(tta), _p90(tta), len(ttc), _median(ttc),
                        sum(r[5] in ("late", "overdue") for r in mine), sum(r[7] in ("late", "overdue") for r in mine),
                        sum(r[8] for r in mine)])
    over = [r[0] for r in rows if r[5] in ("late", "overdue") or r[7] in ("late", "overdue")]
    by_level = {level: _median([r[4] for r in rows if r[1] == level and r[4] is not None]) for level in LEVELS}
    return Result("handling", "Incident handling against the deadlines",
                  ["level", "agency_id", "incidents", "acknowledged", "tta_median_min", "tta_p90_min", "closed",
                   "ttc_median_h", "over_ack_deadline", "over_close_deadline", "escalations"], summary,
                  ["incident_id", "level", "agency_id", "detected", "tta_min", "acknowledge", "ttc_h", "close",
                   "escalations"], rows,
                  {"over_deadline": over, "deadlines": deadlines, "tta_median_min_by_level": by_level})


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


def _p90(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))], 2)
