"""The routing tree: which incidents go to whom, grouped how, and when (Prometheus Alertmanager's model).

A route matches on agency (and its subtree), system, level and rule tags; children inherit the keys they
leave out and the first matching child wins unless it says `continue`. Recipients are never named in a
route: they are the roles of the incident's own agency (its successor if it was superseded), so a contact
only ever hears of their agency's incidents.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from socpipe.registry import Registry

INHERITED = ("group_by", "group_wait", "group_interval", "repeat_interval", "roles", "channels", "quiet_hours",
             "digest")
CHANNELS = ("email", "webhook", "matrix")


def value(doc: Mapping[str, Any], name: str) -> Any:
    """A field by dotted name, flat (`agency.id` as the key) or nested (`rule` -> `id`)."""
    if name in doc:
        return doc[name]
    head, _, rest = name.partition(".")
    inner = doc.get(head)
    return value(inner, rest) if rest and isinstance(inner, Mapping) else None


@dataclass(frozen=True)
class Route:
    """One node of the tree with its inherited settings filled in; `path` names it in group keys."""

    path: str
    match: Mapping[str, Any] = field(default_factory=dict)
    cont: bool = False
    group_by: tuple[str, ...] = ("agency.id", "rule.id")
    group_wait: float = 30
    group_interval: float = 300
    repeat_interval: float = 14400
    roles: tuple[str, ...] = ("on_site",)
    channels: tuple[str, ...] = ("email",)
    quiet_hours: Mapping[str, str] | None = None
    digest: bool = False
    children: tuple[Route, ...] = ()

    def matches(self, incident: Mapping[str, Any], registry: Registry) -> bool:
        for key, wanted in self.match.items():
            options = wanted if isinstance(wanted, list) else [wanted]
            if key == "agency":
                agency = value(incident, "agency.id")
                if not any(registry.in_subtree(str(agency), str(root)) for root in options):
                    return False
            elif key == "tags":
                if not set(options) & set(value(incident, "rule.tags") or []):
                    return False
            elif key in ("level", "system"):
                got = value(incident, "level") or value(incident, "rule.level") if key == "level" else \
                    value(incident, "system.id")
                if got not in options:
                    return False
            else:
                raise ValueError(f"route {self.path}: unknown match key {key!r} (agency, system, level, tags)")
        return True

    def in_quiet_hours(self, moment: datetime, zone: ZoneInfo) -> bool:
        if not self.quiet_hours:
            return False
        local = moment.astimezone(zone).time()
        start, end = time.fromisoformat(self.quiet_hours["start"]), time.fromisoformat(self.quiet_hours["end"])
        return start <= local or local < end if start > end else start <= local < end


def parse_route(data: Mapping[str, Any], parent: Route | None = None, path: str = "root") -> Route:
    """Build the tree from configuration (notify.route), children inheriting from their parent."""
    if not isinstance(data, Mapping):
        raise ValueError(f"route {path}: expected a mapping")
    unknown = set(data) - {*INHERITED, "match", "continue", "routes"}
    if unknown:
        raise ValueError(f"route {path}: unknown keys {', '.join(sorted(unknown))}")
    base = parent or Route(path)
    settings = {k: tuple(data[k]) if k in ("group_by", "roles", "channels") else data[k]
                for k in INHERITED if k in data}
    for channel in settings.get("channels", ()):
        if channel not in CHANNELS:
            raise ValueError(f"route {path}: unknown channel {channel!r} ({', '.join(CHANNELS)})")
    route = replace(base, path=path, match=dict(data.get("match") or {}), cont=bool(data.get("continue")),
                    children=(), **settings)
    children = tuple(parse_route(child, route, f"{path}.{i}") for i, child in enumerate(data.get("routes") or []))
    return replace(route, children=children)


def channels_used(tree: Route) -> set[str]:
    """Every channel some route of the tree sends on."""
    return set(tree.channels).union(*(channels_used(child) for child in tree.children))


def routes_for(tree: Route, incident: Mapping[str, Any], registry: Registry) -> list[Route]:
    """The routes an incident takes: the deepest matching ones, first match wins unless `continue`."""
    if not tree.matches(incident, registry):
        return []
    found: list[Route] = []
    for child in tree.children:
        taken = routes_for(child, incident, registry)
        found.extend(taken)
        if taken and not child.cont:
            break
    return found or [tree]


def group_key(route: Route, agency_id: str, incident: Mapping[str, Any]) -> str:
    """Route, recipient agency and the group_by values: incidents of one key go out in one message."""
    labels = [str(value(incident, name)) for name in route.group_by if name != "agency.id"]
    return "|".join([route.path, agency_id, *labels])
