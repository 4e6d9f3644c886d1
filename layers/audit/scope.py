"""What an audit is about: the day it is made as of, the period it covers, and the registry as it stood.

The 2025 reform dissolved units mid-period, so every question about an agency is asked per day: did it
exist that day, and if its id no longer did, which unit took its records over (superseded_by).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml

from socpipe.registry import Agency, Registry

# Agency types by the plan's tiers (province -> districts -> communes; departments are provincial level).
TIERS = {"province": "provincial", "department": "provincial", "district": "district", "commune": "commune",
         "ward": "commune", "special_zone": "commune"}


@dataclass(frozen=True)
class Period:
    """Both days inclusive."""

    start: date
    end: date

    @classmethod
    def parse(cls, text: str) -> Period:
        """FROM..TO, e.g. 2026-01-01..2026-03-31."""
        start, sep, end = text.partition("..")
        try:
            period = cls(date.fromisoformat(start), date.fromisoformat(end))
        except ValueError:
            raise ValueError(f"--period {text!r}: expected FROM..TO as YYYY-MM-DD..YYYY-MM-DD") from None
        if not sep or period.end < period.start:
            raise ValueError(f"--period {text!r}: expected FROM..TO with FROM on or before TO")
        return period

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1)]

    def __str__(self) -> str:
        return f"{self.start.isoformat()}..{self.end.isoformat()}"


@dataclass(frozen=True)
class Scope:
    """An audit's fixed inputs: as-of day, period, the registry file's content and the validated registry."""

    as_of: date
    period: Period
    registry_data: Mapping[str, Any]
    registry: Registry

    @classmethod
    def load(cls, as_of: date, period: Period, registry_path: Path) -> Scope:
        with open(registry_path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle) or {}
        return cls.from_dict(as_of, period, data)

    @classmethod
    def from_dict(cls, as_of: date, period: Period, data: Mapping[str, Any]) -> Scope:
        """Systems without a level or an owner are what the classification query reports: the registry for
        the other queries is built without them, so one unclassified system does not stop the audit."""
        if period.end > as_of:
            raise ValueError(f"--period {period} ends after --as-of {as_of}: an audit reports on the past only")
        agencies = {str(a.get("id")) for a in data.get("agencies") or [] if isinstance(a, Mapping)}
        usable = [s for s in data.get("systems") or [] if isinstance(s, Mapping) and _classified(s, agencies)]
        return cls(as_of, period, data, Registry.from_dict({**data, "systems": usable}))

    def tier(self, agency: Agency) -> str:
        return TIERS[agency.type]

    def existing_days(self, agency: Agency) -> list[date]:
        return [d for d in self.period.days if agency.active_on(d)]

    def holder(self, agency_id: str, day: date) -> str | None:
        """The agency that held `agency_id`'s records on `day`: itself while it existed, else its successor
        (followed through every step of superseded_by); None when no unit of the chain existed that day."""
        seen: set[str] = set()
        current: str | None = agency_id
        while current is not None and current not in seen:
            agency = self.registry.agencies.get(current)
            if agency is None:
                return None
            if agency.active_on(day):
                return current
            seen.add(current)
            current = agency.superseded_by
        return None

    def successor(self, agency_id: str) -> str:
        """The unit that reports a superseded agency's history today: the end of its superseded_by chain."""
        seen = {agency_id}
        current = agency_id
        while (nxt := self.registry.agencies[current].superseded_by) is not None and nxt not in seen:
            seen.add(nxt)
            current = nxt
        return current


def _classified(system: Mapping[str, Any], agencies: set[str]) -> bool:
    level = system.get("level")
    return (isinstance(level, int) and not isinstance(level, bool) and 1 <= level <= 5
            and str(system.get("agency")) in agencies)
