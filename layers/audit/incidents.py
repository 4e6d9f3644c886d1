"""Incidents of the period with what the action log says happened to them: one Spark job over the lake's
`incidents/` and `actions/` tables, shared by the handling and reporting queries."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from pyspark.sql import functions as F

from layers.audit.activity import utc
from layers.audit.lakeread import LakeReader
from layers.audit.scope import Scope


@dataclass(frozen=True)
class IncidentFacts:
    document: dict[str, Any]
    detected: datetime
    acknowledged: datetime | None
    closed: datetime | None
    escalations: int
    decisions: list[dict[str, Any]]  # `after` of verdict and status actions, oldest first
    exports: list[dict[str, Any]]  # {at, action_id, detail} of export actions, oldest first


def end_of(scope: Scope) -> datetime:
    """The first instant after the as-of day: actions from then on are not part of the report."""
    return datetime.combine(scope.as_of + timedelta(days=1), time(), UTC)


def incident_facts(reader: LakeReader, scope: Scope) -> list[IncidentFacts]:
    incidents = reader.table("incidents")
    if incidents is None:
        return []
    start, end = scope.period.start.isoformat(), scope.period.end.isoformat()
    incidents = (incidents.where(F.col("date").cast("string").between(start, end))
                 .select("incident_id", F.unix_micros("timestamp").alias("timestamp"), "document"))
    actions = reader.table("actions")
    if actions is None:
        rows = incidents.toArrow().to_pylist()
        return sorted((_facts(r["document"], utc(r["timestamp"]), None) for r in rows), key=_order)
    kind, after, at = F.col("kind"), F.col("after"), F.unix_micros("at").alias("at")
    closing = (kind == "status") & (F.get_json_object(after, "$.status") == "closed")
    log = (actions.where((F.col("target_type") == "incident") & (F.col("at") < F.lit(end_of(scope))))
           .groupBy("target_id").agg(
               F.min(F.when(kind == "acknowledge", at)).alias("acknowledged"),
               F.min(F.when(closing, at)).alias("closed"),
               F.sum(F.when(kind == "escalate", 1).otherwise(0)).alias("escalations"),
               F.collect_list(F.when(kind.isin("verdict", "status"), F.struct(at, "action_id", "after")))
               .alias("decisions"),
               F.collect_list(F.when(kind == "export", F.struct(at, "action_id", "detail"))).alias("exports")))
    # Arrow, not Row objects: tens of thousands of incidents with nested lists cross to Python in one go.
    rows = incidents.join(log, incidents.incident_id == log.target_id, "left").toArrow().to_pylist()
    return sorted((_facts(r["document"], utc(r["timestamp"]), r) for r in rows), key=_order)


def _facts(document: str, detected: datetime, log: dict[str, Any] | None) -> IncidentFacts:
    if log is None or log["target_id"] is None:
        return IncidentFacts(json.loads(document), detected, None, None, 0, [], [])
    decisions = [json.loads(d["after"]) for d in sorted(log["decisions"], key=lambda d: (d["at"], d["action_id"]))]
    exports = [{"at": utc(e["at"]), "action_id": e["action_id"], "detail": json.loads(e["detail"])}
               for e in sorted(log["exports"], key=lambda e: (e["at"], e["action_id"]))]
    return IncidentFacts(json.loads(document), detected, utc(log["acknowledged"]), utc(log["closed"]),
                         int(log["escalations"] or 0), decisions, exports)


def _order(facts: IncidentFacts) -> tuple[datetime, str]:
    return facts.detected, facts.document["incident_id"]
