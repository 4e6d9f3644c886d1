"""Normalisation and context: what the pipeline adds to an event before the layers see it.

Detection keeps the native field names; this adds (a) Sysmon-style aliases on Security 4688 events so
process_creation rules read one set of names, and (b) the small common context used for search,
dashboards and routing, named after ECS: @timestamp, host.name, source.ip, user.name, agency.id,
system.id, system.level.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from socpipe.registry import Registry

from socpipe.events import SYSLOG, WEBSERVER, WINDOWS, Event, system_value

# Security 4688 field -> the Sysmon EventID 1 name rules use (added only when absent).
PROCESS_4688_ALIASES = {"NewProcessName": "Image", "ParentProcessName": "ParentImage"}
INTEGRITY_LABELS = {
    "S-1-16-4096": "Low",
    "S-1-16-8192": "Medium",
    "S-1-16-8448": "Medium",
    "S-1-16-12288": "High",
    "S-1-16-16384": "System",
}


class Context(NamedTuple):  # a tuple: made once per event, several times cheaper than a frozen dataclass
    timestamp: datetime | None
    host: str | None
    source_ip: str | None
    user: str | None
    agency_id: str | None
    system_id: str | None
    system_level: int | None


def normalise(event: Event) -> Event:
    """Add the Sysmon names to Security 4688 process-creation events."""
    f = event.fields
    if (event.kind != WINDOWS or system_value(f, "EventID") != "4688"
            or (system_value(f, "Channel") or "").lower() != "security"):
        return event
    fields = dict(f)
    for source, alias in PROCESS_4688_ALIASES.items():
        if source in f and alias not in f:
            fields[alias] = f[source]
    if "User" not in f and "SubjectUserName" in f:
        domain = f.get("SubjectDomainName")
        fields["User"] = f"{domain}\\{f['SubjectUserName']}" if domain else f["SubjectUserName"]
    if "IntegrityLevel" not in f and f.get("MandatoryLabel") in INTEGRITY_LABELS:
        fields["IntegrityLevel"] = INTEGRITY_LABELS[f["MandatoryLabel"]]
    return Event(fields, event.kind, event.origin)


@dataclass(frozen=True, slots=True)
class HostHint:
    """A file-path glob naming the host its records come from (access logs do not say it)."""

    path_glob: str
    host: str


def context(event: Event, registry: Registry | None, hints: tuple[HostHint, ...] = (),
            year: int | None = None) -> Context:
    """Timestamp, host, source IP, user and ownership of one event."""
    f = event.fields
    host, ip, user = _host_ip_user(event)
    if host is None:
        path = event.origin.rsplit(":", 1)[0]
        host = next((h.host for h in hints if fnmatch.fnmatch(path, h.path_glob)), None)
    owner = registry.locate(host, ip) if registry else None
    if owner is None and registry and (destination := f.get("destination.ip")):
        # A flow or sensor record from outside (a scan, a guessing source): the agency it reached.
        owner = registry.locate(None, destination)
    return Context(
        timestamp=event_time(event.kind, f, year),
        host=host,
        source_ip=ip,
        user=user,
        agency_id=owner.agency_id if owner else None,
        system_id=owner.system_id if owner else None,
        system_level=owner.level if owner else None,
    )


def _host_ip_user(event: Event) -> tuple[str | None, str | None, str | None]:
    f = event.fields
    if event.kind == WINDOWS:
        return system_value(f, "Computer"), _first_value(f, _WINDOWS_IPS), _first_value(f, _WINDOWS_USERS)
    if event.kind == SYSLOG:
        match = _SYSLOG_FROM.search(f.get("message", ""))
        user = _SYSLOG_USER.search(f.get("message", ""))
        return f.get("host"), match.group(1) if match else None, user.group(1) if user else None
    if event.kind == WEBSERVER:
        return f.get("cs-host"), f.get("c-ip"), f.get("cs-username")
    return f.get("host.name") or f.get("Computer"), f.get("source.ip"), f.get("user.name")


_WINDOWS_IPS = ("IpAddress", "SourceIp", "SourceAddress")
_WINDOWS_USERS = ("TargetUserName", "User", "SubjectUserName")


def _first_value(f: dict[str, str], names: tuple[str, ...]) -> str | None:
    """The value of the first of `names` that the event has, other than "-" (Windows' "none")."""
    for name in names:
        value = f.get(name)
        if value is not None and value != "-":
            return value
    return None


_SYSLOG_FROM = re.compile(r"\bfrom ([0-9a-fA-F:.]+)")
_SYSLOG_USER = re.compile(r"\b(?:for(?: invalid user)?|user)[ =]([\w.@-]+)")
_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)}


def event_time(kind: str, f: dict[str, str], year: int | None = None) -> datetime | None:
    """The event's own time in UTC, or None when it has none that can be read.

    RFC 3164 syslog carries no year: `year` supplies it (default: the current year).
    """
    try:
        if kind == WINDOWS and (created := system_value(f, "TimeCreated")):
            return _iso(created)
        if kind == WEBSERVER and "date" in f:
            return datetime.strptime(f["date"], "%d/%b/%Y:%H:%M:%S %z").astimezone(UTC)
        if kind == SYSLOG and "timestamp" in f:
            ts = f["timestamp"]
            if ts[:4].isdigit():
                return _iso(ts)
            month, day, clock = ts.split()
            h, m, s = (int(x) for x in clock.split(":"))
            return datetime(year or datetime.now(UTC).year, _MONTHS[month.lower()[:3]], int(day), h, m, s,
                            tzinfo=UTC)
        for name in ("@timestamp", "timestamp", "TimeCreated", "UtcTime", "event.start"):  # event.start: flows
            if name in f:
                return _iso(f[name])
    except (ValueError, KeyError):
        return None
    return None


def _iso(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
