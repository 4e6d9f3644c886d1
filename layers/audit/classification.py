"""Classification completeness: systems without a security level, an owner or contacts (the plan: 100%
of provincial and district systems identified and classified by level).

Read from the registry file itself, since the validated registry cannot hold an unclassified system. A
system's contacts are its own `contacts` or its owning agency's."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from layers.audit.output import Result
from layers.audit.scope import TIERS, Scope


def classification(scope: Scope, target_percent: float) -> Result:
    agencies = {str(a["id"]): a for a in scope.registry_data.get("agencies") or [] if isinstance(a, Mapping)}
    rows = []
    for system in sorted((s for s in scope.registry_data.get("systems") or [] if isinstance(s, Mapping)),
                         key=lambda s: str(s.get("id"))):
        owner = agencies.get(str(system.get("agency")))
        level = system.get("level")
        problems = []
        if not (isinstance(level, int) and not isinstance(level, bool) and 1 <= level <= 5):
            problems.append("no security level")
        if owner is None:
            problems.append("no owner")
        if not (system.get("contacts") or (owner or {}).get("contacts")):
            problems.append("no contacts")
        tier = TIERS.get(str((owner or {}).get("type")), "unknown")
        rows.append([str(system.get("id")), str(system.get("agency") or ""), tier,
                     level if isinstance(level, int) else None, "; ".join(problems) or "complete"])
    scoped = [r for r in rows if r[2] in ("provincial", "district")]
    classified = [r for r in scoped if r[3] is not None and "no owner" not in r[4]]
    share = round(100.0 * len(classified) / len(scoped), 1) if scoped else None
    verdict = "n/a" if share is None else ("pass" if share >= target_percent else "fail")
    summary = [["provincial and district systems classified by level", len(scoped), len(classified), share,
                float(target_percent), verdict],
               ["systems with every record (level, owner, contacts)", len(rows),
                sum(r[4] == "complete" for r in rows), _share(rows), None, None]]
    return Result("classification", "Classification of information systems",
                  ["measure", "systems", "complete", "share_percent", "target_percent", "result"], summary,
                  ["system_id", "agency_id", "tier", "level", "problems"], rows)


def _share(rows: list[list[Any]]) -> float | None:
    return round(100.0 * sum(r[4] == "complete" for r in rows) / len(rows), 1) if rows else None
