"""The alert document: one rule matched on one event.

`alert_id` hashes the rule id with the event's content identity, so a re-run, a replay or the
streaming path gives the same id for the same alert and stores never hold it twice.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from rules.model import CompiledRule

LEVELS = ("critical", "high", "medium", "low", "informational")


def alert_id(rule_id: str, event_identity: str) -> str:
    return hashlib.sha256(f"{rule_id}\x1f{event_identity}".encode()).hexdigest()[:32]


def alert_document(
    rule: CompiledRule,
    event_identity: str,
    kind: str,
    origin: str,
    fields: dict[str, str],
    timestamp: datetime | None,
    context: dict[str, Any],
) -> dict[str, Any]:
    """The alert as written to alerts.jsonl, Kafka `alerts` and OpenSearch `alerts-*`."""
    return {
        "alert_id": alert_id(rule.id, event_identity),
        "@timestamp": timestamp.isoformat() if timestamp else None,
        "rule": {"id": rule.id, "title": rule.title, "level": rule.level, "tags": list(rule.tags)},
        "event": dict(fields),
        "event_meta": {"id": event_identity, "kind": kind, "origin": origin},
        **context,
    }


CROSS_AGENCY = "cross-agency"


def agency_key(alert: dict[str, Any]) -> str:
    """The agency an alert is counted under: its own, `cross-agency` for a correlation over several
    agencies (their ids are in agency.ids), or `unassigned`."""
    agency = alert.get("agency") or {}
    return agency.get("id") or (CROSS_AGENCY if agency.get("ids") else "unassigned")
