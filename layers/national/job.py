"""`socpipe national`: report the serious incidents of the lake to the national centre, on its clocks.

For each incident the selection marks reportable: the initial report (Mẫu 03 and a STIX bundle) as soon
as it is selected, the full report (Mẫu 04) once it is closed, each through every configured transport.
The action log is the memory: a stage already sent through a transport is not sent again, every attempt
is an `export` action (failed ones too, so layer 3 sees export health), and a clock that ran out
without a report is an `escalate` action timed at its deadline (so it is written once).
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from alerting.actions import Action, append_to_lake, read_lake
from alerting.national import forms, stix
from alerting.national.indicators import indicators
from alerting.national.transports import Export, Transport, TransportError
from layers.national.select import STAGES, Selection
from socpipe.lake import read_table
from socpipe.registry import Registry

ACTOR = "system:national"


@dataclass
class Settings:
    selection: Selection
    reporter: dict[str, Any]
    tlp: str
    attempts: int
    retry_seconds: float

    @classmethod
    def from_config(cls, national: Mapping[str, Any]) -> Settings:
        return cls(Selection.from_config(national), dict(national["reporter"]), national["tlp"],
                   int(national["attempts"]), float(national["retry_seconds"]))


@dataclass
class Outcome:
    incident_id: str
    reasons: list[str]
    sent: list[str] = field(default_factory=list)  # "stage via transport: receipt"
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    overdue: list[str] = field(default_factory=list)


def incidents(lake: Path) -> list[dict[str, Any]]:
    """The lake's incident documents, each once, by detection time."""
    table = read_table(lake / "incidents")
    if table is None:
        return []
    docs = {d["incident_id"]: d for d in (json.loads(t) for t in table.column("document").to_pylist())}
    return sorted(docs.values(), key=lambda d: (d["@timestamp"], d["incident_id"]))


def alert_events(lake: Path) -> dict[str, dict[str, Any]]:
    """alert_id -> the alert's event fields with its context (the indicators' source)."""
    table = read_table(lake / "alerts")
    if table is None:
        return {}
    events = {}
    for text in table.column("document").to_pylist():
        alert = json.loads(text)
        events[alert["alert_id"]] = {**(alert.get("event") or {}),
                                     "source.ip": (alert.get("source") or {}).get("ip")}
    return events


def run(lake: Path, registry: Registry | None, settings: Settings, transports: Sequence[Transport], now: datetime,
        say: Callable[[str], None] = print) -> list[Outcome]:
    log = defaultdict(list)
    for action in read_lake(lake):
        if action.target_type == "incident":
            log[action.target_id].append(action)
    events = alert_events(lake)
    outcomes, new = [], []
    for incident in incidents(lake):
        history = log.get(incident["incident_id"], [])
        decisions = [a.after for a in history if a.kind in ("verdict", "status")]
        why = settings.selection.reasons(incident, decisions)
        if not why:
            continue
        outcome = Outcome(incident["incident_id"], why)
        outcomes.append(outcome)
        closed = min((a.at for a in history if a.kind == "status" and a.after.get("status") == "closed"), default=None)
        done = {(a.detail.get("stage"), a.detail.get("transport")) for a in history
                if a.kind == "export" and a.detail.get("outcome") == "sent"}
        first_sent: dict[str, datetime | None] = {
            s: min((a.at for a in history if a.kind == "export" and a.detail.get("outcome") == "sent"
                    and a.detail.get("stage") == s), default=None) for s in STAGES}
        detected = datetime.fromisoformat(incident["@timestamp"])
        deadlines = settings.selection.deadlines(detected)
        found = indicators(incident, [events[i] for i in incident.get("alert_ids", []) if i in events], registry)
        for stage in STAGES if closed else STAGES[:1]:
            pending = [t for t in transports if (stage, t.name) not in done]
            outcome.skipped += [f"{stage} via {t.name}: sent before" for t in transports if t not in pending]
            if not pending:
                continue
            export = _export(incident, stage, why, deadlines, {**first_sent, stage: first_sent[stage] or now},
                             closed, found, registry, settings)
            for transport in pending:
                actions = _send(export, transport, incident, now, settings)
                new += actions
                last = actions[-1].detail
                line = f"{stage} via {transport.name}: {last.get('receipt') or last.get('error')}"
                if last["outcome"] == "sent":
                    outcome.sent.append(line)
                    first_sent[stage] = first_sent[stage] or now
                else:
                    outcome.failed.append(line)
        for stage in STAGES:
            on_time = first_sent[stage] is not None and first_sent[stage] <= deadlines[stage]
            if not on_time and now > deadlines[stage]:
                outcome.overdue.append(stage)
                new.append(Action(deadlines[stage], ACTOR, "escalate", "incident", incident["incident_id"],
                                  incident.get("agency.id"), {}, {"national_overdue": stage},
                                  {"reason": "national reporting clock ran out", "stage": stage,
                                   "deadline": deadlines[stage].isoformat()}))
    append_to_lake(lake, new)
    for o in outcomes:
        say(f"{o.incident_id} ({'; '.join(o.reasons)}): sent {o.sent or '-'}, failed {o.failed or '-'}, "
            f"skipped {o.skipped or '-'}, overdue {o.overdue or '-'}")
    say(f"{len(outcomes)} reportable incidents; {sum(len(o.sent) for o in outcomes)} sent, "
        f"{sum(len(o.failed) for o in outcomes)} failed, {len(new)} actions recorded")
    return outcomes


def _send(export: Export, transport: Transport, incident: Mapping[str, Any], now: datetime,
          settings: Settings) -> list[Action]:
    """Send with retries; one export action per attempt (times apart by the attempt, so each is its own)."""
    actions = []
    for attempt in range(1, settings.attempts + 1):
        detail: dict[str, Any] = {"stage": export.stage, "transport": transport.name,
                                  "destination": transport.destination, "attempt": attempt,
                                  "bundle_id": json.loads(export.bundle)["id"]}
        try:
            detail.update(outcome="sent", receipt=transport.send(export))
        except TransportError as exc:
            detail.update(outcome="failed", error=str(exc))
        actions.append(Action(now, ACTOR, "export", "incident", export.incident_id, incident.get("agency.id"),
                              detail=detail))
        if detail["outcome"] == "sent":
            break
        if attempt < settings.attempts:
            time.sleep(settings.retry_seconds * attempt)
    return actions


def _export(incident: Mapping[str, Any], stage: str, why: list[str], deadlines: dict[str, datetime],
            sent: dict[str, datetime | None], closed: datetime | None, found: list, registry: Registry | None,
            settings: Settings) -> Export:
    agency, system = _parties(incident, registry)
    reporter = stix.Party("reporter", settings.reporter["name"], "organization")
    bundle = stix.bundle(incident, stage, reporter, agency[0], system[0] if system else None, found, settings.tlp,
                         closed)
    report = forms.Report(incident, stage, why, deadlines, dict(sent), settings.reporter, agency[1],
                          system[1] if system else None, [f"{i.kind}: {i.value}" for i in found], closed, bundle.id)
    return Export(incident["incident_id"], stage, stix.serialise(bundle), forms.json_line(report),
                  forms.syslog_line(report), forms.form_html(report))


def _parties(incident: Mapping[str, Any], registry: Registry | None) -> tuple[tuple[stix.Party, dict[str, Any]],
                                                                             tuple[stix.Party, dict[str, Any]] | None]:
    agency_id = str(incident.get("agency.id") or "unknown")
    agency = registry.agencies.get(agency_id) if registry else None
    parent = registry.agencies.get(agency.parent) if registry and agency and agency.parent else None
    agency_info = {"id": agency_id, "name": agency.name if agency else agency_id,
                   "parent_name": parent.name if parent else None}
    agency_party = stix.Party(f"agency:{agency_id}", agency_info["name"], "organization")
    system_id = incident.get("system.id")
    system = registry.systems.get(system_id) if registry and system_id else None
    if system_id is None:
        return (agency_party, agency_info), None
    info = {"id": system_id, "name": system.name if system else system_id,
            "level": system.level if system else incident.get("system.level"),
            "hosts": list(system.hosts) if system else [],
            "networks": [str(n) for n in system.networks] if system else []}
    party = stix.Party(f"system:{system_id}", info["name"], "system", f"security level {info['level']}")
    return (agency_party, agency_info), (party, info)
