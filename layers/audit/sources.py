"""Log-source silence per system: last event seen, the longest run of silent days in the period, the
number of silent days, and the systems that never sent anything up to the as-of day."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime

from layers.audit.activity import Day
from layers.audit.output import Result
from layers.audit.scope import Scope


def sources(scope: Scope, activity: list[Day]) -> Result:
    days_seen: dict[str, set[date]] = defaultdict(set)
    last: dict[str, datetime] = {}
    for day in activity:
        if day.system_id is None:
            continue
        days_seen[day.system_id].add(day.day)
        if day.last is not None and (day.system_id not in last or day.last > last[day.system_id]):
            last[day.system_id] = day.last
    period = scope.period.days
    rows = []
    for system in sorted(scope.registry.systems.values(), key=lambda s: s.id):
        seen = days_seen.get(system.id, set())
        silent = [d not in seen for d in period]
        status = "never" if not seen else ("silent" if any(silent) else "ok")
        seen_at = last.get(system.id)
        rows.append([system.id, system.agency, system.level, seen_at.isoformat() if seen_at else None,
                     _longest_run(silent), sum(silent), status])
    never = [r[0] for r in rows if r[6] == "never"]
    summary = [["systems", len(rows)], ["sending every day", sum(r[6] == "ok" for r in rows)],
               ["with silent days", sum(r[6] == "silent" for r in rows)], ["never sent", len(never)]]
    return Result("sources", "Log-source silence per system", ["measure", "systems"], summary,
                  ["system_id", "agency_id", "level", "last_event", "longest_gap_days", "days_silent", "status"],
                  rows, {"never_sent": never, "days": len(period), "period": str(scope.period),
                         "heatmap": _heatmap(scope, activity)})


def _longest_run(flags: list[bool]) -> int:
    best = run = 0
    for flag in flags:
        run = run + 1 if flag else 0
        best = max(best, run)
    return best


def _heatmap(scope: Scope, activity: list[Day]) -> dict[str, list[int]]:
    """System -> events per day of the period (the report's silence chart)."""
    index = {d: i for i, d in enumerate(scope.period.days)}
    grid = {s: [0] * len(index) for s in sorted(scope.registry.systems)}
    for day in activity:
        if day.system_id in grid and day.day in index:
            grid[day.system_id][index[day.day]] += day.events
    return grid
