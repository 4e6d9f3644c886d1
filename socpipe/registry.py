"""The agency registry: who owns a host or an address, at what security level.

Alerts are routed to the agency that owns the asset (layer 1) and auditors count coverage by agency and
level (layer 3), so every event must be placed in the tree of administrative units. That tree changes
over time (the 2025 reform removed districts), hence the validity dates and superseded_by links: old alerts
keep pointing at units that no longer exist.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

AGENCY_TYPES = frozenset({"province", "department", "district", "commune", "ward", "special_zone"})
LEVELS = range(1, 6)
# Duties a contact holds for an agency (layer 1): who is told first, who next, who owns a system.
ROLES = frozenset({"on_site", "head", "system_owner", "operating_unit", "soc_duty"})
LANGUAGES = frozenset({"vi", "en"})
# What a system is to the network rules, beyond its level: `vpn` marks the province's remote-access gateways,
# whose addresses the VPN brute-force rule watches on 443 (rules/starter/network/net_vpn_short_connection.yml).
SYSTEM_ROLES = frozenset({"vpn"})
DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"
DEFAULT_ESCALATION = ("on_site", "head", "soc_duty")

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class RegistryError(ValueError):
    """The registry file is inconsistent; the message names the agency or system at fault."""


@dataclass(frozen=True, slots=True)
class Agency:
    """An administrative unit, valid from/to the given days (None = open-ended)."""

    id: str
    name: str
    type: str
    parent: str | None = None
    valid_from: date | None = None
    valid_to: date | None = None
    superseded_by: str | None = None
    duties: Duties | None = None

    def active_on(self, day: date) -> bool:
        """True if the unit existed on that day (both bounds inclusive)."""
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_to is None or day <= self.valid_to
        )


@dataclass(frozen=True, slots=True)
class Contact:
    """A person (or a shared mailbox) that notifications reach; `language` picks the template (vi or en)."""

    id: str
    name: str
    email: str | None = None
    phone: str | None = None
    chat: str | None = None  # a Matrix user or room, or a Zalo chat id
    webhook: str | None = None
    language: str = "vi"


@dataclass(frozen=True, slots=True)
class WorkingHours:
    """Office hours in a time zone: medium-level deadlines count only these hours."""

    timezone: str = DEFAULT_TIMEZONE
    days: tuple[int, ...] = (1, 2, 3, 4, 5)  # ISO weekdays, Monday = 1
    start: time = time(7, 30)
    end: time = time(17, 0)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def contains(self, moment: datetime) -> bool:
        local = moment.astimezone(self.zone)
        return local.isoweekday() in self.days and self.start <= local.time() < self.end


@dataclass(frozen=True, slots=True)
class Duties:
    """An agency's own roles (role -> contact ids), escalation chain (roles, in order) and office hours.
    Anything left out is inherited from the parent agency, so the province can set the SOC duty officer once."""

    roles: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    escalation: tuple[str, ...] | None = None
    working_hours: WorkingHours | None = None


@dataclass(frozen=True, slots=True)
class InformationSystem:
    """A classified information system: its owner agency, security level, host names and networks."""

    id: str
    name: str
    agency: str
    level: int
    hosts: tuple[str, ...] = ()
    networks: tuple[IPNetwork, ...] = ()
    owners: tuple[str, ...] = ()  # contact ids of the system owner, told besides the agency's contacts
    role: str | None = None  # one of SYSTEM_ROLES


@dataclass(frozen=True, slots=True)
class Ownership:
    """Where an event's asset belongs: what enrichment adds as agency.id, system.id, system.level."""

    agency_id: str
    system_id: str
    level: int
    role: str | None = None


LOCATE_CACHE = 100_000


class Registry:
    """Validated agencies and systems, with look-ups by host name and IP address."""

    def __init__(self, agencies: Iterable[Agency], systems: Iterable[InformationSystem],
                 contacts: Iterable[Contact] = ()) -> None:
        self.agencies: dict[str, Agency] = _index(agencies, "agency")
        self.systems: dict[str, InformationSystem] = _index(systems, "system")
        self.contacts: dict[str, Contact] = _index(contacts, "contact")
        self._validate_agencies()
        self._validate_duties()
        self._exact_hosts: dict[str, InformationSystem] = {}
        self._wildcards: list[tuple[str, InformationSystem]] = []
        self._networks: list[tuple[IPNetwork, InformationSystem]] = []
        for system in self.systems.values():
            self._add_system(system)
        # Longest suffix / longest prefix first, so the first match is the most specific one.
        self._wildcards.sort(key=lambda item: -len(item[0]))
        self._networks.sort(key=lambda item: -item[0].prefixlen)
        self._located: dict[tuple[str | None, str | None], Ownership | None] = {}

    @classmethod
    def load(cls, path: Path | str) -> Registry:
        """Read and validate a registry YAML file (keys `agencies` and `systems`)."""
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle) or {}
        if not isinstance(data, Mapping):
            raise RegistryError(f"{path}: expected a mapping with 'agencies' and 'systems'")
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Registry:
        """Build from parsed YAML, so tests and callers with their own source need no file."""
        agencies = [_parse_agency(item) for item in data.get("agencies") or []]
        systems = [_parse_system(item) for item in data.get("systems") or []]
        contacts = [_parse_contact(item) for item in data.get("contacts") or []]
        return cls(agencies, systems, contacts)

    def locate(self, host: str | None, ip: str | None) -> Ownership | None:
        """The owner of a host or address: a host match wins over an IP match; the longest prefix wins.
        Answers are remembered (a source sends many events), up to LOCATE_CACHE pairs."""
        key = (host, ip)
        if key in self._located:
            return self._located[key]
        if len(self._located) >= LOCATE_CACHE:
            self._located.clear()
        owner = self._located[key] = self._locate(host, ip)
        return owner

    def _locate(self, host: str | None, ip: str | None) -> Ownership | None:
        system = self._by_host(host) if host else None
        if system is None and ip:
            system = self._by_ip(ip)
        if system is None:
            return None
        return Ownership(agency_id=system.agency, system_id=system.id, level=system.level, role=system.role)

    def ancestors(self, agency_id: str) -> list[Agency]:
        """The path from the agency itself up to the root of the tree."""
        if agency_id not in self.agencies:
            raise KeyError(agency_id)
        path: list[Agency] = []
        current: str | None = agency_id
        while current is not None:
            agency = self.agencies[current]
            path.append(agency)
            current = agency.parent
        return path

    def common_ancestor(self, agency_ids: Iterable[str]) -> str | None:
        """The lowest agency whose subtree holds all these (known) agencies: whose people may see an alert
        about all of them, as a cross-agency correlation. None when they share no root or none is known."""
        paths = [[a.id for a in self.ancestors(i)] for i in agency_ids if i in self.agencies]
        if not paths:
            return None
        shared = set(paths[0]).intersection(*map(set, paths[1:]))
        return next((i for i in paths[0] if i in shared), None)

    def successor(self, agency_id: str) -> Agency:
        """The unit that took over an agency's records: superseded_by followed to its end (itself if none)."""
        agency = self.agencies[agency_id]
        while agency.superseded_by is not None:
            agency = self.agencies[agency.superseded_by]
        return agency

    def in_subtree(self, agency_id: str, root: str) -> bool:
        """True if the agency is `root` or lies below it (unknown agencies lie nowhere)."""
        return agency_id in self.agencies and any(a.id == root for a in self.ancestors(agency_id))

    def role_contacts(self, agency_id: str, role: str) -> list[Contact]:
        """The contacts holding a role for an agency: its own, else its nearest ancestor's."""
        for agency in self.ancestors(agency_id):
            ids = agency.duties.roles.get(role) if agency.duties else None
            if ids:
                return [self.contacts[i] for i in ids]
        return []

    def escalation_chain(self, agency_id: str) -> tuple[str, ...]:
        """The roles told one after another while nobody acknowledges (own chain, else inherited)."""
        for agency in self.ancestors(agency_id):
            if agency.duties and agency.duties.escalation:
                return agency.duties.escalation
        return DEFAULT_ESCALATION

    def working_hours(self, agency_id: str) -> WorkingHours:
        for agency in self.ancestors(agency_id):
            if agency.duties and agency.duties.working_hours:
                return agency.duties.working_hours
        return WorkingHours()

    def subtree(self, agency_id: str) -> list[str]:
        """An agency's access scope: itself, the units under it, and the former units whose records it took
        over (superseded_by), with theirs, so old alerts stay visible to their successor."""
        if agency_id not in self.agencies:
            raise KeyError(agency_id)
        scope, todo = [agency_id], [agency_id]
        while todo:
            current = todo.pop()
            for agency in self.agencies.values():
                if agency.id not in scope and current in (agency.parent, agency.superseded_by):
                    scope.append(agency.id)
                    todo.append(agency.id)
        return scope

    def active(self, on: date) -> list[Agency]:
        """The agencies that existed on the given day, in file order."""
        return [agency for agency in self.agencies.values() if agency.active_on(on)]

    def _by_host(self, host: str) -> InformationSystem | None:
        name = host.strip().rstrip(".").lower()
        if name in self._exact_hosts:
            return self._exact_hosts[name]
        for suffix, system in self._wildcards:
            if name.endswith(suffix):
                return system
        return None

    def _by_ip(self, ip: str) -> InformationSystem | None:
        try:
            address = ipaddress.ip_address(ip.strip())
        except ValueError:
            return None  # events carry "-" or empty addresses; those simply have no owner
        for network, system in self._networks:
            if address.version == network.version and address in network:
                return system
        return None

    def _validate_agencies(self) -> None:
        for agency in self.agencies.values():
            if agency.type not in AGENCY_TYPES:
                known = ", ".join(sorted(AGENCY_TYPES))
                raise RegistryError(f"agency {agency.id!r}: unknown type {agency.type!r} (known: {known})")
            if agency.parent is not None and agency.parent not in self.agencies:
                raise RegistryError(f"agency {agency.id!r}: parent {agency.parent!r} does not exist")
            if agency.superseded_by is not None:
                if agency.superseded_by not in self.agencies:
                    raise RegistryError(
                        f"agency {agency.id!r}: superseded_by {agency.superseded_by!r} does not exist"
                    )
                if agency.superseded_by == agency.id:
                    raise RegistryError(f"agency {agency.id!r}: superseded by itself")
            if agency.valid_from and agency.valid_to and agency.valid_to < agency.valid_from:
                raise RegistryError(f"agency {agency.id!r}: valid_to is before valid_from")
        for agency in self.agencies.values():
            seen = {agency.id}
            current = agency.parent
            while current is not None:
                if current in seen:
                    raise RegistryError(f"agency {agency.id!r}: parent chain has a cycle through {current!r}")
                seen.add(current)
                current = self.agencies[current].parent

    def _validate_duties(self) -> None:
        for agency in self.agencies.values():
            if agency.duties is None:
                continue
            for role, ids in agency.duties.roles.items():
                if role not in ROLES:
                    known = ", ".join(sorted(ROLES))
                    raise RegistryError(f"agency {agency.id!r}: unknown role {role!r} (known: {known})")
                for ident in ids:
                    if ident not in self.contacts:
                        raise RegistryError(f"agency {agency.id!r}: role {role!r} names unknown contact {ident!r}")
            for role in agency.duties.escalation or ():
                if role not in ROLES:
                    raise RegistryError(f"agency {agency.id!r}: escalation step {role!r} is not a role")
        for system in self.systems.values():
            for ident in system.owners:
                if ident not in self.contacts:
                    raise RegistryError(f"system {system.id!r}: owner {ident!r} is not a contact")

    def _add_system(self, system: InformationSystem) -> None:
        if system.agency not in self.agencies:
            raise RegistryError(f"system {system.id!r}: agency {system.agency!r} does not exist")
        if system.level not in LEVELS:
            raise RegistryError(f"system {system.id!r}: level {system.level} is not between 1 and 5")
        for host in system.hosts:
            if host.startswith("*."):
                self._wildcards.append((host[1:], system))
            elif host in self._exact_hosts:
                other = self._exact_hosts[host].id
                raise RegistryError(f"system {system.id!r}: host {host!r} is already claimed by {other!r}")
            else:
                self._exact_hosts[host] = system
        for network in system.networks:
            for known, other in self._networks:
                if known == network:
                    raise RegistryError(
                        f"system {system.id!r}: network {network} is already claimed by {other.id!r}"
                    )
            self._networks.append((network, system))


_Item = TypeVar("_Item", Agency, InformationSystem, Contact)


def _index(items: Iterable[_Item], what: str) -> dict[str, _Item]:
    index: dict[str, _Item] = {}
    for item in items:
        if item.id in index:
            raise RegistryError(f"{what} {item.id!r}: duplicate id")
        index[item.id] = item
    return index


def _parse_agency(item: Any) -> Agency:
    data = _require(item, "agency", ("id", "name", "type"))
    ident = str(data["id"])
    return Agency(
        id=ident,
        name=str(data["name"]),
        type=str(data["type"]),
        parent=_optional_str(data.get("parent")),
        valid_from=_date(data.get("valid_from"), f"agency {ident!r}: valid_from"),
        valid_to=_date(data.get("valid_to"), f"agency {ident!r}: valid_to"),
        superseded_by=_optional_str(data.get("superseded_by")),
        duties=_parse_duties(data, f"agency {ident!r}"),
    )


def _parse_contact(item: Any) -> Contact:
    data = _require(item, "contact", ("id", "name"))
    ident = str(data["id"])
    language = str(data.get("language") or "vi")
    if language not in LANGUAGES:
        raise RegistryError(f"contact {ident!r}: language {language!r} is not vi or en")
    email = _optional_str(data.get("email"))
    if email is not None and not re.fullmatch(r"[^@\s]+@[^@\s]+", email):
        raise RegistryError(f"contact {ident!r}: email {email!r} is not an address")
    return Contact(id=ident, name=str(data["name"]), email=email, phone=_optional_str(data.get("phone")),
                   chat=_optional_str(data.get("chat")), webhook=_optional_str(data.get("webhook")),
                   language=language)


def _parse_duties(data: Mapping[str, Any], where: str) -> Duties | None:
    roles, escalation, hours = data.get("roles"), data.get("escalation"), data.get("working_hours")
    if roles is None and escalation is None and hours is None:
        return None
    if roles is not None and not isinstance(roles, Mapping):
        raise RegistryError(f"{where}: roles must map a role to contact ids")
    parsed_roles = {str(role): tuple(str(i) for i in (ids if isinstance(ids, list) else [ids]))
                    for role, ids in (roles or {}).items()}
    if escalation is not None and not isinstance(escalation, list):
        raise RegistryError(f"{where}: escalation must be a list of roles")
    return Duties(roles=parsed_roles, escalation=tuple(str(r) for r in escalation) if escalation else None,
                  working_hours=_parse_hours(hours, where) if hours is not None else None)


def _parse_hours(data: Any, where: str) -> WorkingHours:
    if not isinstance(data, Mapping):
        raise RegistryError(f"{where}: working_hours must be a mapping (timezone, days, start, end)")
    zone = str(data.get("timezone") or DEFAULT_TIMEZONE)
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise RegistryError(f"{where}: unknown time zone {zone!r}") from None
    days = tuple(int(d) for d in data.get("days") or (1, 2, 3, 4, 5))
    if any(d not in range(1, 8) for d in days):
        raise RegistryError(f"{where}: working_hours days must be ISO weekdays 1..7, got {list(days)}")
    try:
        start = time.fromisoformat(str(data.get("start") or "07:30"))
        end = time.fromisoformat(str(data.get("end") or "17:00"))
    except ValueError as exc:
        raise RegistryError(f"{where}: working_hours start/end must be HH:MM ({exc})") from None
    if end <= start:
        raise RegistryError(f"{where}: working_hours end {end} is not after start {start}")
    return WorkingHours(timezone=zone, days=days, start=start, end=end)


def _parse_system(item: Any) -> InformationSystem:
    data = _require(item, "system", ("id", "name", "agency", "level"))
    ident = str(data["id"])
    level = data["level"]
    if isinstance(level, bool) or not isinstance(level, int):
        raise RegistryError(f"system {ident!r}: level {level!r} is not an integer between 1 and 5")
    networks: list[IPNetwork] = []
    for text in data.get("networks") or []:
        try:
            networks.append(ipaddress.ip_network(str(text), strict=True))
        except ValueError as exc:
            raise RegistryError(f"system {ident!r}: invalid network {text!r}: {exc}") from None
    hosts = tuple(str(host).strip().rstrip(".").lower() for host in data.get("hosts") or [])
    for host in hosts:
        if "*" in host and (not host.startswith("*.") or "*" in host[1:]):
            raise RegistryError(f"system {ident!r}: host pattern {host!r} must be a name or '*.suffix'")
    role = _optional_str(data.get("role"))
    if role is not None and role not in SYSTEM_ROLES:
        raise RegistryError(f"system {ident!r}: unknown role {role!r} (known: {', '.join(sorted(SYSTEM_ROLES))})")
    return InformationSystem(
        id=ident,
        name=str(data["name"]),
        agency=str(data["agency"]),
        level=level,
        hosts=hosts,
        networks=tuple(networks),
        owners=tuple(str(o) for o in data.get("owners") or []),
        role=role,
    )


def _require(item: Any, what: str, keys: tuple[str, ...]) -> Mapping[str, Any]:
    if not isinstance(item, Mapping):
        raise RegistryError(f"{what} entry {item!r} is not a mapping")
    missing = [key for key in keys if item.get(key) in (None, "")]
    if missing:
        raise RegistryError(f"{what} {item.get('id', '?')!r}: missing {', '.join(missing)}")
    return item


def _optional_str(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def _date(value: Any, where: str) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise RegistryError(f"{where}: {value!r} is not a date (YYYY-MM-DD)") from None
