"""Incidents from alerts, following docs/records.md, for installations (and tests, and the demo) without
layer 2's fold: alerts of one rule and one host within a window make one incident. With notify.unit
`alerts` every alert is an incident of its own. The real fold (alerting/incidents.py) replaces this."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from alerting.routing import value


def incidents_from_alerts(alerts: Iterable[Mapping[str, Any]], window_seconds: float = 3600,
                          per_alert: bool = False) -> list[dict[str, Any]]:
    """Open incidents (status new) in the contract's shape, oldest alert first."""
    ordered = sorted(alerts, key=lambda a: (a.get("@timestamp") or "", a["alert_id"]))
    open_by_group: dict[tuple[str, str], dict[str, Any]] = {}
    incidents: list[dict[str, Any]] = []
    for alert in ordered:
        rule = alert["rule"]
        group_value = alert["alert_id"] if per_alert else str(value(alert, "host.name") or value(alert, "source.ip"))
        key = (rule["id"], group_value)
        at = alert.get("@timestamp") or "1970-01-01T00:00:00+00:00"
        current = open_by_group.get(key)
        if current and (datetime.fromisoformat(at) - datetime.fromisoformat(current["first"])).total_seconds() \
                <= window_seconds:
            current["last"], current["count"] = at, current["count"] + 1
            if len(current["alert_ids"]) < 1000:
                current["alert_ids"].append(alert["alert_id"])
            continue
        ident = hashlib.sha256(f"{rule['id']}\x1f{group_value}\x1f{alert['alert_id']}".encode()).hexdigest()[:32]
        incident = {
            "incident_id": ident, "@timestamp": at, "first": at, "last": at, "count": 1,
            "alert_ids": [alert["alert_id"]], "rule": dict(rule), "level": rule["level"],
            "group": {"alert_id" if per_alert else "host.name": group_value},
            "agency.id": value(alert, "agency.id"), "agency.ids": value(alert, "agency.ids") or
            [value(alert, "agency.id")], "system.id": value(alert, "system.id"),
            "system.level": value(alert, "system.level"), "host.name": value(alert, "host.name"),
            "source.ip": value(alert, "source.ip"), "status": "new", "verdict": None, "verdict_reason": None,
            "assignee": None, "acknowledged_at": None, "acknowledged_by": None, "closed_at": None,
            "tta_seconds": None, "ttc_seconds": None, "escalation_step": 0,
        }
        open_by_group[key] = incident
        incidents.append(incident)
    return incidents
