"""Which incidents must be reported to the national centre, and by when.

Decree 331/2026 Art 31.2.d: a first notice within 24 h of detecting a serious incident, a report on cause,
scope and remediation within 72 h; both clocks run from detection (the incident's `@timestamp`). What is
serious is the province's choice (`national.select`): incident levels, the affected system's security
level, rule tags (ransomware, defacement, ...) and the analysts' decision (a verdict, or status escalated).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

STAGES = ("initial", "full")


@dataclass(frozen=True)
class Selection:
    levels: frozenset[str]
    system_level_from: int | None
    tags: tuple[str, ...]
    verdicts: frozenset[str]
    hours: Mapping[str, float]

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> Selection:
        select = section["select"]
        return cls(frozenset(select["levels"]), select["system_level_from"],
                   tuple(t.lower() for t in select["tags"]), frozenset(select["verdicts"]),
                   {stage: float(section["deadline_hours"][stage]) for stage in STAGES})

    def reasons(self, incident: Mapping[str, Any], decisions: Iterable[Mapping[str, Any]] = ()) -> list[str]:
        """Why an incident must be reported (empty: it need not be). `decisions` are the `after` objects of
        its verdict and status actions, oldest first."""
        why = []
        level = incident.get("level") or (incident.get("rule") or {}).get("level")
        if level in self.levels:
            why.append(f"level {level}")
        system_level = incident.get("system.level")
        if self.system_level_from is not None and isinstance(system_level, int) \
                and system_level >= self.system_level_from:
            why.append(f"system level {system_level}")
        tags = [str(t).lower() for t in (incident.get("rule") or {}).get("tags") or []]
        matched = sorted({want for want in self.tags for tag in tags if want in tag})
        why.extend(f"tag {t}" for t in matched)
        for after in decisions:
            if after.get("verdict") in self.verdicts:
                why.append(f"verdict {after['verdict']}")
            if after.get("status") == "escalated":
                why.append("escalated by an analyst")
        return why

    def deadlines(self, detected: datetime) -> dict[str, datetime]:
        return {stage: detected + timedelta(hours=self.hours[stage]) for stage in STAGES}
