"""Retention by security level: the oldest data held per system against its level's minimum, and the
retention job that deletes lake partitions and search indices past their period.

A lake day holds the events of every system, so the job deletes a day of a table only when it is older
than that table's keep period (`retention.keep_months`, which must cover the longest level minimum);
each deletion is written to the table's hash chain first (so verify tells it from tampering) and printed.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path

from layers.audit.activity import Day
from layers.audit.output import Result
from layers.audit.scope import Scope
from socpipe.lakechain import record_deleted


def months_before(day: date, months: int) -> date:
    """The same day `months` calendar months earlier (the month's last day when it has fewer days)."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    month += 1
    for d in (day.day, 30, 29, 28):
        try:
            return date(year, month, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def retention(scope: Scope, activity: list[Day], minimum_months: dict[int, int]) -> Result:
    oldest: dict[str, date] = {}
    for day in activity:
        if day.system_id and (day.system_id not in oldest or day.day < oldest[day.system_id]):
            oldest[day.system_id] = day.day
    rows = []
    for system in sorted(scope.registry.systems.values(), key=lambda s: s.id):
        months = int(minimum_months.get(system.level, 0))
        since = months_before(scope.as_of, months)
        held = oldest.get(system.id)
        status = "no data" if held is None else ("ok" if held <= since else "short")
        rows.append([system.id, system.agency, system.level, months, since.isoformat(),
                     held.isoformat() if held else None, (scope.as_of - held).days + 1 if held else 0, status])
    summary = []
    for level in sorted({r[2] for r in rows}):
        mine = [r for r in rows if r[2] == level]
        summary.append([level, int(minimum_months.get(level, 0)), len(mine), sum(r[7] == "ok" for r in mine),
                        sum(r[7] == "short" for r in mine), sum(r[7] == "no data" for r in mine)])
    return Result("retention", "Retention by security level",
                  ["level", "minimum_months", "systems", "ok", "short", "no_data"], summary,
                  ["system_id", "agency_id", "level", "minimum_months", "required_since", "oldest_held",
                   "days_held", "status"], rows)


def purge_lake(lake: Path, keep_months: dict[str, int], as_of: date, apply: bool,
               say: Callable[[str], None] = print) -> list[str]:
    """Delete (or with apply=False only list) the `date=` partitions of each table older than its keep
    period. Returns the partitions, as TABLE/date=DAY."""
    deleted = []
    for table, months in sorted(keep_months.items()):
        cutoff = months_before(as_of, int(months)).isoformat()
        root = lake / table
        for partition in sorted(root.glob("date=*")) if root.is_dir() else []:
            if partition.name[len("date="):] >= cutoff:
                continue
            name = f"{table}/{partition.name}"
            files = sorted(partition.rglob("*.parquet"))
            say(f"{'deleted' if apply else 'would delete'} lake {name} ({len(files)} files, older than "
                f"{months} months before {as_of.isoformat()})")
            if apply:
                record_deleted(root, files, f"retention: older than {months} months before {as_of.isoformat()}")
                shutil.rmtree(partition)
            deleted.append(name)
    return deleted


def expired_indices(names: list[str], keep_months: dict[str, int], as_of: date) -> list[str]:
    """Daily search indices (`PREFIX-YYYY.MM.DD`) older than their prefix's keep period."""
    expired = []
    for name in sorted(names):
        prefix, _, day = name.rpartition("-")
        if prefix not in keep_months:
            continue
        try:
            when = date.fromisoformat(day.replace(".", "-"))
        except ValueError:
            continue
        if when < months_before(as_of, int(keep_months[prefix])):
            expired.append(name)
    return expired
