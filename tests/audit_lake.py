"""A small lake that follows docs/records.md, for the audit and national tests: a registry with the 2025
reform in the middle of the period, events per system and day, incidents and their action log."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from alerting.actions import Action, append_to_lake
from layers.audit.contract import write_incidents
from layers.detect import EVENT_SCHEMA
from layers.stream import ALERT_LAKE_SCHEMA
from socpipe.lake import write_lake_part

AS_OF = date(2025, 7, 15)
PERIOD = "2025-06-21..2025-07-10"
REGISTRY: dict[str, Any] = {
    "agencies": [
        {"id": "prov", "name": "UBND tỉnh", "type": "province", "contacts": ["it@prov"]},
        {"id": "dept-a", "name": "Sở A", "type": "department", "parent": "prov", "contacts": ["it@a"]},
        {"id": "d1", "name": "Huyện 1", "type": "district", "parent": "prov", "valid_to": "2025-06-30",
         "superseded_by": "c-new"},
        {"id": "c-old", "name": "Xã cũ", "type": "commune", "parent": "d1", "valid_to": "2025-06-30",
         "superseded_by": "c-new"},
        {"id": "c-new", "name": "Xã mới", "type": "commune", "parent": "prov", "valid_from": "2025-07-01"},
        {"id": "c-other", "name": "Phường khác", "type": "ward", "parent": "prov", "valid_from": "2025-07-01"},
    ],
    "systems": [
        {"id": "s-prov", "name": "Cổng", "agency": "prov", "level": 3, "hosts": ["portal"]},
        {"id": "s-dept-a", "name": "LGSP", "agency": "dept-a", "level": 4, "hosts": ["lgsp"],
         "networks": ["10.10.40.0/24"]},
        {"id": "s-d1", "name": "LAN huyện", "agency": "d1", "level": 2, "hosts": ["d1-lan"]},
        {"id": "s-c-old", "name": "LAN xã cũ", "agency": "c-old", "level": 2, "hosts": ["c-old-lan"]},
        {"id": "s-silent", "name": "Thư", "agency": "dept-a", "level": 2, "hosts": ["mail"]},
        {"id": "s-unclassified", "name": "Chưa phân loại", "agency": "dept-a", "hosts": ["x"]},
    ],
}
PERIOD_DAYS = [date(2025, 6, 21) + timedelta(days=n) for n in range(20)]
DEPT_A_SILENT = {date(2025, 6, 25), date(2025, 6, 26), date(2025, 6, 27), date(2025, 7, 3), date(2025, 7, 4)}


def _event(system: str, agency: str, level: int, when: datetime, n: int) -> dict[str, Any]:
    return {"event_id": f"{system}-{when.isoformat()}-{n}", "kind": "syslog", "origin": "test", "timestamp": when,
            "host_name": system, "source_ip": None, "user_name": None, "agency_id": agency, "system_id": system,
            "system_level": level, "fields": [("message", "x")], "date": when.strftime("%Y-%m-%d")}


def events() -> list[dict[str, Any]]:
    rows = []
    for day in PERIOD_DAYS:
        noon = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
        rows += [_event("s-prov", "prov", 3, noon, n) for n in range(3)]
        if day not in DEPT_A_SILENT:
            rows.append(_event("s-dept-a", "dept-a", 4, noon, 0))
        if day <= date(2025, 6, 30):
            rows.append(_event("s-d1", "d1", 2, noon, 0))
        # The old commune's hosts keep sending after the reform: those days count for its successor.
        rows.append(_event("s-c-old", "c-old", 2, noon, 0))
    rows.append(_event("s-prov", "prov", 3, datetime(2025, 4, 1, 8, tzinfo=UTC), 0))  # old enough for level 3
    rows.append(_event("s-prov", "prov", 3, datetime(2025, 7, 20, 8, tzinfo=UTC), 0))  # after --as-of: not read
    return rows


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def incident(incident_id: str, level: str, agency: str, system: str, system_level: int, detected: str,
             tags: tuple[str, ...] = ()) -> dict[str, Any]:
    when = at(detected).isoformat()
    return {"incident_id": incident_id, "@timestamp": when, "first": when, "last": when, "count": 1,
            "alert_ids": [f"{incident_id}-a1"], "rule": {"id": f"rule-{level}", "title": f"Rule {level}",
                                                          "level": level, "tags": list(tags)},
            "level": level, "group": {"agency.id": agency, "host.name": system}, "agency.id": agency,
            "agency.ids": [agency],
            "system.id": system, "system.level": system_level, "host.name": system, "source.ip": "203.0.113.7",
            "status": "new", "verdict": None, "verdict_reason": None, "assignee": None, "acknowledged_at": None,
            "acknowledged_by": None, "closed_at": None, "tta_seconds": None, "ttc_seconds": None,
            "escalation_step": 0}


INCIDENTS = [
    incident("aa01", "critical", "dept-a", "s-dept-a", 4, "2025-07-01T01:00:00", ("attack.impact", "attack.t1486")),
    incident("aa02", "high", "prov", "s-prov", 3, "2025-07-02T00:00:00"),
    incident("aa03", "medium", "c-new", "s-c-old", 2, "2025-07-10T00:00:00"),
    incident("aa04", "high", "prov", "s-prov", 3, "2025-06-01T00:00:00"),  # before the period
]


def _export(incident_id: str, agency: str, when: str, stage: str, outcome: str) -> Action:
    return Action(at(when), "system:national", "export", "incident", incident_id, agency,
                  detail={"stage": stage, "transport": "taxii", "outcome": outcome,
                          "destination": "http://127.0.0.1/taxii2/",
                          "receipt": "status-1" if outcome == "sent" else None})


ACTIONS = [
    Action(at("2025-07-01T01:10:00"), "contact:a-it", "acknowledge", "incident", "aa01", "dept-a",
           {"status": "new"}, {"status": "acknowledged"}),
    Action(at("2025-07-01T21:00:00"), "analyst1", "status", "incident", "aa01", "dept-a",
           {"status": "acknowledged"}, {"status": "closed"}),
    _export("aa01", "dept-a", "2025-07-01T05:00:00", "initial", "failed"),
    _export("aa01", "dept-a", "2025-07-01T06:00:00", "initial", "sent"),
    _export("aa01", "dept-a", "2025-07-04T09:00:00", "full", "sent"),
    Action(at("2025-07-02T00:30:00"), "system:escalation", "escalate", "incident", "aa02", "prov",
           {"escalation_step": 0}, {"escalation_step": 1}),
    Action(at("2025-07-02T02:00:00"), "analyst1", "acknowledge", "incident", "aa02", "prov",
           {"status": "new"}, {"status": "acknowledged"}),
    Action(at("2025-07-02T03:00:00"), "analyst1", "verdict", "incident", "aa02", "prov",
           {"verdict": None}, {"verdict": "true_positive_impact"}),
    Action(at("2025-07-10T01:00:00"), "analyst2", "acknowledge", "incident", "aa03", "c-new",
           {"status": "new"}, {"status": "acknowledged"}),
]


# The critical incident's alert: what its indicators come from (an outside address, a domain, a hash).
ALERT = {"alert_id": "aa01-a1", "@timestamp": "2025-07-01T01:00:00+00:00",
         "rule": {"id": "rule-critical", "title": "Rule critical", "level": "critical", "tags": ["attack.impact"]},
         "event": {"QueryName": "c2.evil.example", "DestinationIp": "198.51.100.23",
                   "Hashes": "SHA256=" + "ab" * 32, "SourceIp": "10.10.40.5"},
         "source": {"ip": "203.0.113.7"}, "agency": {"id": "dept-a"}, "system": {"id": "s-dept-a", "level": 4}}


def build(lake: Path, exports: bool = True) -> None:
    """The whole lake; without `exports`, the action log holds no layer-4 exports yet."""
    rows = events()
    write_lake_part(pa.Table.from_pylist(rows, schema=EVENT_SCHEMA), lake / "events", "part-00000")
    write_incidents(lake, INCIDENTS)
    append_to_lake(lake, [a for a in ACTIONS if exports or a.kind != "export"])
    alert = {"alert_id": ALERT["alert_id"], "timestamp": at("2025-07-01T01:00:00"), "level": "critical",
             "agency_id": "dept-a", "document": json.dumps(ALERT), "date": "2025-07-01"}
    write_lake_part(pa.Table.from_pylist([alert], schema=ALERT_LAKE_SCHEMA), lake / "alerts", "part-00000",
                    partitioning=("date",))
