"""The demo's layer-3 and layer-4 steps: `socpipe demo` also writes demo-out/audit/ (the auditor's report
for the demo province and period) and demo-out/national/ (the exports of its serious incidents).

The record lake (demo-out/audit/lake) holds the demo's events, its alerts, incidents folded from them as
docs/records.md defines (one per rule and host) and an action log in which the agencies' contacts
acknowledge and close them. That handling is simulated (marked so in every action's detail) until the
layer-1 and layer-2 producers write the real records.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
from pyspark.sql import SparkSession

from alerting.actions import Action, append_to_lake
from layers.audit.contract import write_incidents
from layers.detect import EVENT_SCHEMA
from layers.stream import ALERT_LAKE_SCHEMA
from socpipe.config import Config
from socpipe.lake import write_lake_part
from socpipe.registry import Registry

SIMULATED = {"note": "simulated by socpipe demo"}


def demo_incidents(alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Alerts of one rule, one agency and one host folded into one incident (docs/records.md's shape)."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for alert in alerts:
        if alert.get("@timestamp"):
            agency, host = (alert.get("agency") or {}).get("id"), (alert.get("host") or {}).get("name")
            groups[(alert["rule"]["id"], agency or "", host or "")].append(alert)
    incidents = []
    for (rule_id, agency, host), members in sorted(groups.items()):
        members.sort(key=lambda a: (a["@timestamp"], a["alert_id"]))
        first = members[0]
        ident = hashlib.sha256(f"{rule_id}\x1f{agency}\x1f{host}\x1f{first['alert_id']}".encode()).hexdigest()[:32]
        system = first.get("system") or {}
        incidents.append({
            "incident_id": ident, "@timestamp": first["@timestamp"], "first": first["@timestamp"],
            "last": members[-1]["@timestamp"], "count": len(members),
            "alert_ids": [a["alert_id"] for a in members[:1000]], "rule": first["rule"],
            "level": first["rule"]["level"], "group": {"agency.id": agency or None, "host.name": host},
            "agency.id": agency or None,
            "agency.ids": sorted({(a.get("agency") or {}).get("id") for a in members} - {None}),
            "system.id": system.get("id"), "system.level": system.get("level"), "host.name": host or None,
            "source.ip": (first.get("source") or {}).get("ip"), "status": "new", "verdict": None,
            "verdict_reason": None, "assignee": None, "acknowledged_at": None, "acknowledged_by": None,
            "closed_at": None, "tta_seconds": None, "ttc_seconds": None, "escalation_step": 0})
    return incidents


def simulated_handling(incidents: list[dict[str, Any]]) -> list[Action]:
    """Contacts acknowledge every incident and close the serious ones, after delays taken from the
    incident id (so the demo is the same at every run): some within their deadlines, some not."""
    actions = []
    for inc in incidents:
        detected = datetime.fromisoformat(inc["@timestamp"])
        spread = int(inc["incident_id"][:4], 16)
        actor = f"contact:{inc['agency.id'] or 'soc'}-it"
        acked = detected + timedelta(minutes=5 + spread % 180)
        actions.append(Action(acked, actor, "acknowledge", "incident", inc["incident_id"], inc["agency.id"],
                              {"status": "new"}, {"status": "acknowledged"}, SIMULATED))
        if inc["level"] in ("critical", "high"):
            actions.append(Action(acked + timedelta(hours=2 + spread % 40), actor, "status", "incident",
                                  inc["incident_id"], inc["agency.id"], {"status": "acknowledged"},
                                  {"status": "closed"}, SIMULATED))
    return actions


def write_demo_layers(spark: SparkSession, config: Config, demo_out: Path, registry_path: Path) -> None:
    """demo-out/audit/ and demo-out/national/ from the demo run in demo_out (its lake and alerts.jsonl)."""
    from dashboards.audit_report import write_reports
    from layers.audit import job as audit_job
    from layers.audit.scope import Period, Scope
    from layers.national import job as national_job
    from socpipe.national_commands import transports

    lake = demo_out / "audit" / "lake"
    alerts = [json.loads(line) for line in (demo_out / "alerts.jsonl").read_text(encoding="utf-8").splitlines()]
    days = _copy_events(demo_out / "lake", lake / "events")
    rows = [{"alert_id": a["alert_id"], "timestamp": datetime.fromisoformat(a["@timestamp"]),
             "level": a["rule"]["level"], "agency_id": (a.get("agency") or {}).get("id"),
             "document": json.dumps(a, ensure_ascii=False), "date": a["@timestamp"][:10]}
            for a in alerts if a.get("@timestamp")]
    write_lake_part(pa.Table.from_pylist(rows, schema=ALERT_LAKE_SCHEMA), lake / "alerts", "demo",
                    partitioning=("date",))
    incidents = demo_incidents(alerts)
    write_incidents(lake, incidents)
    append_to_lake(lake, simulated_handling(incidents))
    period = Period(min(days), max(days))
    as_of = period.end + timedelta(days=3)
    registry = Registry.load(registry_path)
    # Layer 4 runs the morning after the last day, then layer 3 reports on all of it.
    now = datetime.combine(period.end + timedelta(days=1), time(8), UTC)
    national_job.run(lake, registry, national_job.Settings.from_config(config.get("national")),
                     transports(config, demo_out / "national", ["files"]), now)
    scope = Scope.load(as_of, period, registry_path)
    audit = audit_job.Audit(spark, lake, scope,
                            audit_job.Settings.from_config(config.get("audit"), config.get("national")))
    audit_job.run(audit, ["summary"], demo_out / "audit", render=write_reports)


def _copy_events(source: Path, table: Path) -> list[date]:
    """The demo's staged events (a lake table at `source`) into the record lake, through the lake writer
    so its hash chain covers them; returns the days they cover."""
    files = sorted(p for p in source.rglob("*.parquet") if "_chain" not in p.parts)
    dataset = ds.dataset(files, format="parquet", partitioning="hive", partition_base_dir=str(source))
    events = dataset.to_table().select(EVENT_SCHEMA.names).cast(EVENT_SCHEMA)
    for number, batch in enumerate(events.to_batches(max_chunksize=50_000)):
        write_lake_part(pa.Table.from_batches([batch]), table, f"demo-{number:05d}")
    return sorted({date.fromisoformat(d) for d in events.column("date").to_pylist() if d != "unknown"})
