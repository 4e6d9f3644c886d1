"""Incidents of the period with what the action log says happened to them: one Spark job over the lake's
`incidents/` and `actions/` tables, shared by the handling and reporting queries."""

from __future__ import annotations

import json
from collections import defaultdict
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
    """Three small Spark queries (the period's incidents, per-incident handling times, and the verdict,
    status and export actions) joined by incident id here: a join and lists of structs in Spark cost
    more than they save at tens of thousands of incidents."""
    incidents = reader.table("incidents")
    if incidents is None:
        return []
    start, end = scope.period.start.isoformat(), scope.period.end.isoformat()
    versions = (incidents.where(F.col("date").cast("string").between(start, end))
                .select("incident_id", F.unix_micros("timestamp").alias("timestamp"), "revision", "document")
                .toArrow().to_pylist())  # Arrow, not Row objects: tens of thousands cross to Python in one go
    rows = _latest(versions)
    actions = reader.table("actions")
    times: dict[str, dict[str, Any]] = {}
    logged: dict[str, list[dict[str, Any]]] = defaultdict(list)
    if actions is not None:
        kind, at = F.col("kind"), F.unix_micros("at").alias("at")
        closing = (kind == "status") & (F.get_json_object(F.col("after"), "$.status") == "closed")
        mine = actions.where((F.col("target_type") == "incident") & (F.col("at") < F.lit(end_of(scope))))
        times = {r["target_id"]: r for r in mine.groupBy("target_id").agg(
            F.min(F.when(kind == "acknowledge", at)).alias("acknowledged"),
            F.min(F.when(closing, at)).alias("closed"),
            F.sum(F.when(kind == "escalate", 1).otherwise(0)).alias("escalations")).toArrow().to_pylist()}
        for r in (mine.where(kind.isin("verdict", "status", "export"))
                  .select("target_id", "kind", at, "action_id", "after", "detail").toArrow().to_pylist()):
            logged[r["target_id"]].append(r)
    facts = [_facts(r["document"], utc(r["timestamp"]), times.get(r["incident_id"]), logged[r["incident_id"]])
             for r in rows]
    return sorted(facts, key=_order)


def _latest(versions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The newest version of each incident (the stream writes one per micro-batch that changed it), without
    those folded into another one (`merged_into`, alerting/incidents.py)."""
    newest: dict[str, dict[str, Any]] = {}
    for row in versions:
        known = newest.get(row["incident_id"])
        if known is None or row["revision"] > known["revision"]:
            newest[row["incident_id"]] = row
    return [r for r in newest.values() if not json.loads(r["document"]).get("merged_into")]


def _facts(document: str, detected: datetime, times: dict[str, Any] | None,
           logged: list[dict[str, Any]]) -> IncidentFacts:
    logged = sorted(logged, key=lambda a: (a["at"], a["action_id"]))
    decisions = [json.loads(a["after"]) for a in logged if a["kind"] != "export"]
    exports = [{"at": utc(a["at"]), "action_id": a["action_id"], "detail": json.loads(a["detail"])}
               for a in logged if a["kind"] == "export"]
    if times is None:
        return IncidentFacts(json.loads(document), detected, None, None, 0, decisions, exports)
    return IncidentFacts(json.loads(document), detected, utc(times["acknowledged"]), utc(times["closed"]),
                         int(times["escalations"] or 0), decisions, exports)


def _order(facts: IncidentFacts) -> tuple[datetime, str]:
    return facts.detected, facts.document["incident_id"]
