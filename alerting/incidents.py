"""Incidents: alerts of one rule and one group folded together, what analysts and notifications work on.

The fold (docs/incidents.md): the alerts of one key (rule id + group: the host for single-event alerts,
`correlation.group` for correlation alerts), taken in time order, belong to one incident as long as
each comes at most `incidents.window_seconds` after the one before it; an alert later than that starts
a new incident. So an incident is a chain of alerts with no gap wider than the window, which depends on
the set of alerts only, not on their order or on how they were split into batches. The stream keeps the
open incidents (Span) in its checkpoint folder and folds each micro-batch into them: an alert that falls
into or next to a span extends it, and one that bridges two spans joins them.

The document is the contract of docs/records.md: `incident_id` hashes the rule id, the group and the
first alert's id.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from alerting.alerts import LEVELS
from alerting.tuning import alert_time

MAX_ALERT_IDS = 1000
# Fields people change (the console, acknowledgement, escalation): detection never writes them again.
STATE_FIELDS = ("status", "verdict", "verdict_reason", "assignee", "acknowledged_at", "acknowledged_by",
                "closed_at", "tta_seconds", "ttc_seconds", "escalation_step")
_KEYWORD = {"type": "keyword"}
MAPPING: dict[str, Any] = {"dynamic": False, "properties": {
    "incident_id": _KEYWORD, "fold_key": _KEYWORD, "merged_into": _KEYWORD,
    "@timestamp": {"type": "date"}, "first": {"type": "date"}, "last": {"type": "date"},
    "count": {"type": "long"}, "alert_ids": _KEYWORD, "level": _KEYWORD, "severity": {"type": "byte"},
    "rule": {"properties": {"id": _KEYWORD, "level": _KEYWORD, "tags": _KEYWORD,
                            "title": {"type": "text", "fields": {"raw": _KEYWORD}}}},
    "group": {"type": "flat_object"},
    "agency": {"properties": {"id": _KEYWORD, "ids": _KEYWORD}},
    "system": {"properties": {"id": _KEYWORD, "level": {"type": "integer"}}},
    "host": {"properties": {"name": _KEYWORD}},
    "source": {"properties": {"ip": {"type": "ip", "ignore_malformed": True}}},
    "status": _KEYWORD, "verdict": _KEYWORD, "verdict_reason": {"type": "text"}, "assignee": _KEYWORD,
    "acknowledged_at": {"type": "date"}, "acknowledged_by": _KEYWORD, "closed_at": {"type": "date"},
    "tta_seconds": {"type": "double"}, "ttc_seconds": {"type": "double"}, "escalation_step": {"type": "integer"},
}}
LAKE_SCHEMA = pa.schema([
    ("incident_id", pa.string()),
    ("timestamp", pa.timestamp("us", tz="UTC")),
    ("level", pa.string()),
    ("agency_id", pa.string()),
    ("count", pa.int64()),
    ("first", pa.timestamp("us", tz="UTC")),
    ("last", pa.timestamp("us", tz="UTC")),
    ("revision", pa.int64()),  # the micro-batch that wrote this version (0 in a batch run)
    ("document", pa.string()),
    ("date", pa.string()),
])


def group_of(alert: dict[str, Any]) -> dict[str, Any]:
    """What the alert folds by besides its rule: the correlation's group, else the agency and the host (host
    names repeat across agencies: web01 of one agency is not web01 of another, and an incident has one
    owner)."""
    correlation = alert.get("correlation")
    if correlation and correlation.get("group") is not None:
        return dict(correlation["group"])
    return {"agency.id": (alert.get("agency") or {}).get("id"), "host.name": (alert.get("host") or {}).get("name")}


def incident_id(rule_id: str, group: dict[str, Any], first_alert_id: str) -> str:
    content = json.dumps([rule_id, group, first_alert_id], sort_keys=True, default=str)
    return hashlib.sha256(content.encode()).hexdigest()[:32]


@dataclass
class Span:
    """One incident as the fold sees it. `first`/`last` are ISO times (None: alerts without a time, which
    fold into one incident per key); `base` is the document's detection part, from the first alert."""

    incident_id: str
    key: str
    first: str | None
    last: str | None
    count: int
    first_alert_id: str
    alert_ids: list[str]
    agency_ids: list[str]
    base: dict[str, Any]

    @classmethod
    def of_alert(cls, alert: dict[str, Any], keys: dict[str, str]) -> Span:
        """One alert as a span of its own; its incident id is given when it heads a chain (_join).
        `keys` caches fold keys by rule and group (hashing each alert's would cost more than the fold)."""
        rule = alert["rule"]
        group = group_of(alert)
        text = json.dumps([rule["id"], group], sort_keys=True, default=str)
        key = keys.get(text) or keys.setdefault(text, hashlib.sha256(text.encode()).hexdigest()[:32])
        at = alert_time(alert)
        stamp = at.isoformat() if at else None
        agencies = sorted(set((alert.get("agency") or {}).get("ids") or [])
                          | {a for a in [(alert.get("agency") or {}).get("id")] if a})
        base = {"@timestamp": stamp, "rule": rule, "level": rule["level"], "group": group, "fold_key": key}
        for name in ("host", "source", "system"):
            if alert.get(name):
                base[name] = alert[name]
        if (alert.get("agency") or {}).get("id"):
            base["agency"] = {"id": alert["agency"]["id"]}
        return cls("", key, stamp, stamp, 1, alert["alert_id"], [alert["alert_id"]], agencies, base)

    def document(self) -> dict[str, Any]:
        """The incident as detection built it (status `new`, nobody has acted on it)."""
        doc = {**self.base, "incident_id": self.incident_id, "first": self.first, "last": self.last,
               "count": self.count, "alert_ids": self.alert_ids}
        agency = dict(doc.get("agency") or {})
        agency["ids"] = self.agency_ids
        doc["agency"] = agency
        doc.update({f: None for f in STATE_FIELDS})
        doc.update(status="new", escalation_step=0, severity=severity(doc.get("level")))
        return doc

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def severity(level: str | None) -> int | None:
    """The level as a number to sort on, most severe highest (critical 5 ... informational 1)."""
    return len(LEVELS) - LEVELS.index(level) if level in LEVELS else None


def _order(span: Span) -> tuple[str, str]:
    return span.first or "", span.first_alert_id


def _seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


@dataclass
class Folded:
    """The result of folding new alerts into open spans: the spans now (`spans`), those that changed
    (`changed`) and the open spans joined into another one when an alert bridged them (`absorbed`, each
    with the id of the incident it joined)."""

    spans: list[Span] = field(default_factory=list)
    changed: list[Span] = field(default_factory=list)
    absorbed: list[tuple[Span, str]] = field(default_factory=list)


def fold(alerts: Iterable[dict[str, Any]], open_spans: Iterable[Span], window_seconds: float) -> Folded:
    """Fold alerts into the open spans (none for a batch). Alerts already in a span are not counted twice."""
    by_key: dict[str, list[Span]] = defaultdict(list)
    known: dict[str, set[str]] = defaultdict(set)
    for span in open_spans:
        by_key[span.key].append(span)
        known[span.key].update(span.alert_ids)
    old = {s.incident_id: s for spans in by_key.values() for s in spans}
    fresh: dict[str, list[Span]] = defaultdict(list)
    keys: dict[str, str] = {}
    for alert in alerts:
        point = Span.of_alert(alert, keys)
        if point.first_alert_id not in known[point.key]:
            known[point.key].add(point.first_alert_id)
            fresh[point.key].append(point)
    result = Folded()
    for key in by_key.keys() | fresh.keys():
        if not fresh[key]:
            result.spans.extend(by_key[key])
            continue
        for merged, parts in _chains(sorted(by_key[key] + fresh[key], key=_order), window_seconds):
            result.spans.append(merged)
            if len(parts) > 1 or parts[0].incident_id not in old:
                result.changed.append(merged)
            for part in parts:
                if part.incident_id in old and part.incident_id != merged.incident_id:
                    result.absorbed.append((part, merged.incident_id))
    return result


def _chains(spans: list[Span], window_seconds: float) -> list[tuple[Span, list[Span]]]:
    """Spans of one key in time order joined where the gap is at most the window; untimed ones together."""
    chains: list[list[Span]] = []
    untimed = [s for s in spans if s.first is None]
    end = 0.0  # the latest time in the chain being built
    for span in (s for s in spans if s.first is not None):
        if chains and _seconds(span.first) - end <= window_seconds:
            chains[-1].append(span)
            end = max(end, _seconds(span.last))
        else:
            chains.append([span])
            end = _seconds(span.last)
    if untimed:
        chains.append(untimed)
    return [(_join(parts), parts) for parts in chains]


def _join(parts: list[Span]) -> Span:
    head = parts[0]
    if not head.incident_id:  # a new alert heads the chain
        head.incident_id = incident_id(head.base["rule"]["id"], head.base["group"], head.first_alert_id)
    if len(parts) == 1:
        return head
    alert_ids = list(itertools.islice((a for p in parts for a in p.alert_ids), MAX_ALERT_IDS))
    lasts = [p.last for p in parts if p.last is not None]
    return Span(head.incident_id, head.key, head.first, max(lasts) if lasts else None, sum(p.count for p in parts),
                head.first_alert_id, alert_ids, sorted({a for p in parts for a in p.agency_ids}), head.base)


def still_open(spans: list[Span], window_seconds: float, lateness_seconds: float) -> list[Span]:
    """The spans an alert within the allowed lateness can still reach: those whose last alert is at most
    window + lateness before the newest (untimed ones always)."""
    lasts = [_seconds(s.last) for s in spans if s.last is not None]
    if not lasts:
        return spans
    horizon = max(lasts) - window_seconds - lateness_seconds
    return [s for s in spans if s.last is None or _seconds(s.last) >= horizon]


def batch_incidents(alerts: Iterable[dict[str, Any]], window_seconds: float) -> list[dict[str, Any]]:
    """Every incident of a batch of alerts, ordered by first time and id."""
    spans = fold(alerts, [], window_seconds).spans
    return [s.document() for s in sorted(spans, key=lambda s: (s.first or "", s.incident_id))]


def lake_rows(documents: Iterable[dict[str, Any]], revision: int) -> pa.Table:
    """Incident documents as rows of the lake's `incidents/` table (partition `date` of `@timestamp`)."""
    rows = []
    for doc in documents:
        stamp = doc["@timestamp"]
        rows.append({"incident_id": doc["incident_id"], "timestamp": _time(stamp), "level": doc["level"],
                     "agency_id": (doc.get("agency") or {}).get("id"), "count": doc["count"],
                     "first": _time(doc["first"]), "last": _time(doc["last"]), "revision": revision,
                     "document": json.dumps(doc, ensure_ascii=False, sort_keys=True),
                     "date": stamp[:10] if stamp else "unknown"})
    return pa.Table.from_pylist(rows, schema=LAKE_SCHEMA)


def _time(stamp: str | None) -> datetime | None:
    return datetime.fromisoformat(stamp).astimezone(UTC) if stamp else None
