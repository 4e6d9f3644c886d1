"""Coverage against the plan's targets: the share of agencies of each tier monitored in the period.

Monitored: at least one event from one of its systems on at least `monitored_days_percent` of the days
the agency existed in the period. An agency counts only while it existed; events that still name a
dissolved unit count for the unit that held its records that day, and each row names the unit that
reports the agency's history today (its successor), so a superseded agency is listed under it as well.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from layers.audit.activity import Day
from layers.audit.output import Result
from layers.audit.scope import Scope

TIER_ORDER = ("provincial", "district", "commune")


def coverage(scope: Scope, activity: list[Day], monitored_percent: float, targets: dict[str, float]) -> Result:
    in_period = set(scope.period.days)
    seen: dict[str, set[date]] = defaultdict(set)
    for day in activity:
        agency_id = day.agency_id or _system_agency(scope, day.system_id)
        if agency_id is None or day.day not in in_period:
            continue
        holder = scope.holder(agency_id, day.day)
        if holder is not None:
            seen[holder].add(day.day)
    rows = []
    counted: dict[str, list[bool]] = defaultdict(list)
    for agency in sorted(scope.registry.agencies.values(), key=lambda a: a.id):
        existing = scope.existing_days(agency)
        if not existing:
            continue
        monitored_days = len(seen[agency.id] & set(existing))
        share = round(100.0 * monitored_days / len(existing), 1)
        monitored = share >= monitored_percent
        tier = scope.tier(agency)
        counted[tier].append(monitored)
        rows.append([agency.id, agency.name, tier, agency.type, existing[0].isoformat(), existing[-1].isoformat(),
                     len(existing), monitored_days, share, "yes" if monitored else "no", scope.successor(agency.id)])
    summary = []
    for tier in TIER_ORDER:
        flags = counted.get(tier, [])
        share = round(100.0 * sum(flags) / len(flags), 1) if flags else None
        target = float(targets[tier])
        verdict = "n/a" if share is None else ("pass" if share >= target else "fail")
        summary.append([tier, len(flags), sum(flags), share, target, verdict])
    rows.sort(key=lambda r: (TIER_ORDER.index(r[2]), r[9], r[0]))
    return Result("coverage", "Coverage of agencies against the plan's targets",
                  ["tier", "agencies", "monitored", "share_percent", "target_percent", "result"], summary,
                  ["agency_id", "name", "tier", "type", "from", "to", "days_existing", "days_monitored",
                   "share_percent", "monitored", "reported_under"], rows,
                  {"monitored_days_percent": monitored_percent,
                   "not_monitored": [r[0] for r in rows if r[9] == "no"]})


def _system_agency(scope: Scope, system_id: str | None) -> str | None:
    system = scope.registry.systems.get(system_id or "")
    return system.agency if system else None
