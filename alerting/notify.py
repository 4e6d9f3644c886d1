"""The layer-1 scheduler: route incidents to their agency's contacts, group, repeat, digest, escalate.

Each `tick(now)` reads the incidents and its own state from the store, decides what is due, writes that
decision (a batch with a stable id) before sending, and logs every accepted message, so a restart resumes
pending batches and never sends a message twice. Escalation deadlines of serious incidents run from
detection time (docs/records.md `@timestamp`), others from the first notification. A national reporting
clock that ran out (layer 4 records it in the action log) is told once to the agency's head and the SOC duty
officer. `socpipe notify` runs ticks forever (notify.tick_seconds); tests and the demo call `tick` with their
own clock.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.dataset as ds

from alerting.ack import OPEN, make_token
from alerting.actions import Action
from alerting.channels import Message, SendError
from alerting.matrix import agency_rooms
from alerting.notify_store import ActionLog, NotifyStore
from alerting.render import render
from alerting.routing import Route, group_key, parse_route, routes_for, value
from socpipe.config import Config
from socpipe.registry import Contact, Registry, WorkingHours

log = logging.getLogger(__name__)
ACTOR = "system:notify"
NATIONAL_ROLES = ("head", "soc_duty")  # who hears of a national report gone overdue: they sign and send it


class Channel(Protocol):
    def send(self, message: Message, at: datetime) -> None: ...


class Publisher(Protocol):
    """Where the log of sent messages is also written (alerting/notify_kafka.py: Kafka `notifications`)."""

    def publish(self, store: NotifyStore, sent: list[tuple[str, dict[str, Any]]]) -> None: ...


def _hash(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]


def add_working_time(start: datetime, seconds: float, hours: WorkingHours) -> datetime:
    """The moment `seconds` of office time have passed after `start` (weekends and nights skipped)."""
    zone, left = hours.zone, seconds
    moment = start.astimezone(zone)
    while True:
        day_start = moment.replace(hour=hours.start.hour, minute=hours.start.minute, second=0, microsecond=0)
        day_end = moment.replace(hour=hours.end.hour, minute=hours.end.minute, second=0, microsecond=0)
        if moment.isoweekday() in hours.days and moment < day_end:
            moment = max(moment, day_start)
            available = (day_end - moment).total_seconds()
            if left <= available:
                return (moment + timedelta(seconds=left)).astimezone(UTC)
            left -= available
        moment = (moment + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)


def national_overdue(lake: Path | None) -> list[Action]:
    """The national reporting clocks that ran out: layers/national/job.py writes one `escalate` action per
    incident and stage (`after: {national_overdue: stage}`, timed at the deadline) to the lake's action log,
    the record layer 3 reports from too, so it is read here rather than copied into another store. Only the
    `escalate` rows are read (a filter on the Parquet files), not the whole log at every tick."""
    path = lake / "actions" if lake is not None else None
    if path is None or not path.exists() or not any(path.rglob("*.parquet")):
        return []
    dataset = ds.dataset(path, format="parquet", partitioning=ds.partitioning(pa.schema([("date", pa.string())]),
                                                                               flavor="hive"))
    rows = dataset.to_table(filter=ds.field("kind") == "escalate").to_pylist()
    actions = {r["action_id"]: Action.from_row(r) for r in rows}
    return sorted((a for a in actions.values() if a.after.get("national_overdue")),
                  key=lambda a: (a.at, a.target_id))


@dataclass
class TickReport:
    sent: int = 0
    failed: int = 0
    escalated: int = 0
    unacknowledged: int = 0
    held: int = 0
    errors: list[str] = field(default_factory=list)


class Notifier:
    """Routing, grouping, digests, resolved notices, maintenance, escalation and ack expiry over a store."""

    def __init__(self, config: Config, registry: Registry, store: NotifyStore, actions: ActionLog,
                 channels: Mapping[str, Channel], rules: Mapping[str, Mapping[str, Any]] | None = None,
                 on_send: Callable[[Message], None] | None = None, publisher: Publisher | None = None) -> None:
        self.config, self.registry, self.store, self.actions = config, registry, store, actions
        self.channels, self.rules, self.on_send, self.publisher = channels, rules or {}, on_send, publisher
        self.settings: dict[str, Any] = config.get("notify")
        self.tree: Route = parse_route(self.settings["route"])
        self.roots = [a.id for a in registry.agencies.values() if a.parent is None]
        self._pending_actions: list[Action] = []  # suppress/escalate/unacknowledge records of this tick
        self._unlogged: set[str] | None = None  # sent, action not yet recorded; None: not looked yet

    # -- the tick ------------------------------------------------------------------------------------------
    def tick(self, now: datetime) -> TickReport:
        report = TickReport()
        incidents = dict(self.store.open_incidents())
        groups = dict(self.store.all("group"))
        tracks = dict(self.store.all("track"))
        # Closed since they were routed: still wanted for their resolved notice and the day's digest.
        for ident, track in tracks.items():
            if ident not in incidents and (track.get("notified_at") and not track.get("resolved_sent")
                                           or track.get("digest") and not track.get("digested")):
                doc = self.store.get("incident", ident)
                if doc is not None and not doc.get("merged_into"):
                    incidents[ident] = doc
        self._expire_acks(incidents, tracks, now, report)
        self._collect(incidents, groups, tracks, now, report)
        for key, group in sorted(groups.items()):
            self._flush_group(key, group, incidents, tracks, now, report)
        self._digests(incidents, tracks, now, report)
        self._escalate(incidents, tracks, now, report)
        self._resolved(incidents, tracks, now, report)
        self._national(incidents, now, report)
        self._prune(incidents, groups, tracks)
        self._log_pending_actions()
        return report

    def _prune(self, incidents: dict[str, Any], groups: dict[str, Any], tracks: dict[str, Any]) -> None:
        """Forget the state of incidents that are closed (or merged, or gone) and owe nothing more, and of
        groups left without an open incident, so a tick's reading does not grow with every incident ever
        routed. (`incidents` holds the open ones and the closed ones still owed a notice or a digest.)"""
        done = [i for i, t in tracks.items() if i not in incidents and not t.get("escalation_batch")]
        self.store.delete("track", done)
        for ident in done:
            del tracks[ident]
        empty = [k for k, g in groups.items() if g.get("pending") is None
                 and not any(incidents.get(i, {}).get("status") not in (None, "closed") for i in g["incidents"])]
        self.store.delete("group", empty)

    def owner(self, incident: Mapping[str, Any]) -> tuple[str, str | None]:
        """The agency whose contacts are told (a superseded unit's successor) and the old name, if any."""
        agency_id = str(value(incident, "agency.id") or "")
        if agency_id not in self.registry.agencies:
            return self.roots[0], None  # an asset nobody registered: the province (its SOC) hears of it
        successor = self.registry.successor(agency_id)
        former = self.registry.agencies[agency_id].name if successor.id != agency_id else None
        return successor.id, former

    def _held(self, incident: Mapping[str, Any], now: datetime) -> bool:
        for window in self.settings["maintenance"]:
            start, end = datetime.fromisoformat(str(window["start"])), datetime.fromisoformat(str(window["end"]))
            if not start <= now < end:
                continue
            agency, system = window.get("agency"), window.get("system")
            if agency and not self.registry.in_subtree(str(value(incident, "agency.id")), agency):
                continue
            if system and value(incident, "system.id") != system:
                continue
            return True
        return False

    def _collect(self, incidents: dict[str, Any], groups: dict[str, Any], tracks: dict[str, Any], now: datetime,
                 report: TickReport) -> None:
        """New open incidents join their groups (digest routes wait for the digest instead)."""
        changed_groups, changed_tracks = {}, {}
        for ident, incident in incidents.items():
            track = tracks.get(ident)
            if track is not None and track.get("routed"):
                continue
            if incident.get("status") == "closed" or incident.get("merged_into"):
                continue  # a merged incident lives on in the one it joined (docs/records.md)
            if self._held(incident, now):
                if track is None or not track.get("held"):
                    track = changed_tracks[ident] = tracks[ident] = {**(track or {}), "held": True}
                    self._pending_actions.append(Action(now, ACTOR, "suppress", "incident", ident,
                                                        value(incident, "agency.id"), {}, {},
                                                        {"reason": "maintenance"}))
                report.held += 1
                continue
            agency, _ = self.owner(incident)
            routes = routes_for(self.tree, incident, self.registry)
            digest = any(r.digest for r in routes)
            for route in routes:
                if route.digest:
                    continue
                key = group_key(route, agency, incident)
                group = groups.get(key) or {"route": route.path, "agency": agency, "first_seen": now.isoformat(),
                                            "incidents": [], "flushed": [], "last_flush": None, "seq": 0,
                                            "pending": None}
                if ident not in group["incidents"]:
                    group["incidents"].append(ident)
                groups[key] = changed_groups[key] = group
            tracks[ident] = changed_tracks[ident] = {**(track or {}), "routed": True, "digest": digest,
                                                     "held": False, "agency": agency}
        self.store.put_many("group", changed_groups.items())
        self.store.put_many("track", changed_tracks.items())

    def _route(self, path: str) -> Route:
        route = self.tree
        for part in path.split(".")[1:]:
            route = route.children[int(part)]
        return route

    def _flush_group(self, key: str, group: dict[str, Any], incidents: dict[str, Any], tracks: dict[str, Any],
                     now: datetime, report: TickReport) -> None:
        route = self._route(group["route"])
        if group["pending"] is None:
            open_ids = [i for i in group["incidents"] if incidents.get(i, {}).get("status") in OPEN]
            new = [i for i in open_ids if i not in group["flushed"]]
            last = datetime.fromisoformat(group["last_flush"]) if group["last_flush"] else None
            if last is None:
                due, kind = datetime.fromisoformat(group["first_seen"]) + timedelta(seconds=route.group_wait), "firing"
            elif new:
                due, kind = last + timedelta(seconds=route.group_interval), "firing"
            elif open_ids:
                due, kind = last + timedelta(seconds=route.repeat_interval), "repeat"
            else:
                return
            if now < due or not open_ids:
                return
            if route.in_quiet_hours(now, self.registry.working_hours(group["agency"]).zone):
                return
            group["seq"] += 1
            # first_seen: a group forgotten by _prune and started again never reuses an old batch's ids
            group["pending"] = {"batch_id": _hash(key, group["first_seen"], group["seq"]), "kind": kind,
                                "incidents": open_ids,
                                "roles": list(route.roles), "channels": list(route.channels)}
            self.store.put("group", key, group)  # decided before anything is sent
        batch = group["pending"]
        if self._send_batch(batch, group["agency"], incidents, now, report):
            group["flushed"] = sorted(set(group["flushed"]) | set(batch["incidents"]))
            group["last_flush"], group["pending"] = now.isoformat(), None
            self.store.put("group", key, group)
            firsts = []
            for ident in batch["incidents"]:
                track = tracks.setdefault(ident, {})
                if not track.get("notified_at"):
                    track["notified_at"] = now.isoformat()
                    firsts.append((ident, track))
            self.store.put_many("track", firsts)

    # -- sending -------------------------------------------------------------------------------------------
    def recipients(self, agency: str, roles: list[str], incidents: list[Mapping[str, Any]]) -> list[Contact]:
        """The contacts holding the roles for the agency (system owners too for on_site), each once."""
        found: dict[str, Contact] = {}
        for role in roles:
            for contact in self.registry.role_contacts(agency, role):
                found.setdefault(contact.id, contact)
        if "on_site" in roles:
            for incident in incidents:
                system = self.registry.systems.get(str(value(incident, "system.id")))
                for owner in system.owners if system else ():
                    found.setdefault(owner, self.registry.contacts[owner])
        return list(found.values())

    def _send_batch(self, batch: dict[str, Any], agency: str, incidents: Mapping[str, Any], now: datetime,
                    report: TickReport) -> bool:
        """Send every message of a batch not sent yet; False if any failed (the batch stays pending). Mail and
        webhooks go to each contact; Matrix once to each room of the agency, in the contacts' language."""
        docs = [incidents[i] for i in batch["incidents"] if i in incidents]
        if not docs and batch["kind"] != "digest":
            return True
        zone = self.registry.working_hours(agency).zone
        names = {a.id: a.name for a in self.registry.agencies.values()}
        former = ", ".join(sorted({self.owner(d)[1] for d in docs} - {None})) or None
        contacts = self.recipients(agency, batch["roles"], docs)
        ackable = batch["kind"] in ("firing", "repeat", "escalation")
        outlets: list[tuple[str, str, str, Any]] = []  # (channel, recipient, address, (text, ack links))
        for contact in contacts:
            links = self._links(contact.id, docs, now) if ackable else {}
            text = render(batch["kind"], contact.language, contact.name, names[agency], former, docs, links, zone,
                          self.rules, batch.get("extra", {}))
            for channel in batch["channels"]:
                address = contact.email if channel == "email" else contact.webhook if channel == "webhook" else None
                if address and channel in self.channels:
                    outlets.append((channel, contact.id, address, (text, links)))
        if "matrix" in batch["channels"] and "matrix" in self.channels and contacts:
            language = "en" if all(c.language == "en" for c in contacts) else "vi"
            for room in agency_rooms(self.settings["matrix"]["rooms"] or {}, agency, [c.chat for c in contacts]):
                links = self._links(f"matrix:{room}", docs, now) if ackable else {}
                text = render(batch["kind"], language, ", ".join(c.name for c in contacts), names[agency], former,
                              docs, links, zone, self.rules, batch.get("extra", {}))
                outlets.append(("matrix", f"matrix:{room}", room, (text, links)))
        complete = True
        for channel, recipient, address, (text, links) in outlets:
            nid = _hash(batch["batch_id"], recipient, channel)
            if self.store.get("sent", nid) is not None:
                continue
            payload = {"kind": batch["kind"], "agency": agency, "incidents": [d["incident_id"] for d in docs],
                       "links": links, "level": value(docs[0], "level") if docs else None}
            message = Message(nid, channel, recipient, address, text.subject, text.body, payload)
            try:
                self.channels[channel].send(message, now)
            except SendError as exc:
                complete = False
                report.failed += 1
                report.errors.append(str(exc))
                log.warning("notification %s to %s pending: %s", nid, recipient, exc)
                continue
            detail = {"channel": channel, "recipient": recipient, "address": address, "kind": batch["kind"],
                      "notification_id": nid, "batch_id": batch["batch_id"]}
            actions = [Action(now, ACTOR, "notify", "incident", d["incident_id"], value(d, "agency.id"), {}, {},
                              detail).row() for d in docs]
            self.store.put("sent", nid, {"at": now.isoformat(), **detail, "logged": False, "actions": actions})
            report.sent += 1
            if self._unlogged is not None:
                self._unlogged.add(nid)
            if self.on_send:
                self.on_send(message)
        return complete

    def _links(self, contact_id: str, docs: list[Mapping[str, Any]], now: datetime) -> dict[str, str]:
        secret = self.settings["ack_secret"]
        if not secret:
            return {}
        expires = now + timedelta(seconds=float(self.settings["ack_link_seconds"]))
        base = self.settings["base_url"].rstrip("/")
        return {d["incident_id"]: f"{base}/ack?t={make_token(secret, d['incident_id'], contact_id, expires)}"
                for d in docs}

    def _log_pending_actions(self) -> None:
        """Action records of sent messages, written once per tick (and after a crash, on the next one). The
        first tick of a process looks through every sent record for those a crashed process left; later ones
        only at what this process sent since, as reading the whole log at every tick grows with it."""
        if self._unlogged is None:
            unlogged = [(nid, doc) for nid, doc in self.store.all("sent") if not doc.get("logged")]
        else:
            unlogged = [(nid, doc) for nid in sorted(self._unlogged)
                        if (doc := self.store.get("sent", nid)) is not None and not doc.get("logged")]
        if self.publisher is not None:
            self.publisher.publish(self.store, unlogged)
        actions = [Action.from_row({**row, "at": datetime.fromisoformat(str(row["at"]))})
                   for _, doc in unlogged for row in doc["actions"]]
        self.actions.record(actions + self._pending_actions)
        self._pending_actions = []
        self.store.put_many("sent", [(nid, {**doc, "logged": True}) for nid, doc in unlogged])
        self._unlogged = set()

    # -- digests, resolved notices -------------------------------------------------------------------------
    def _digests(self, incidents: dict[str, Any], tracks: dict[str, Any], now: datetime, report: TickReport) -> None:
        """Once a day per agency at notify.digest_time local time: its own digest-route incidents only."""
        by_agency: dict[str, list[str]] = {}
        held: dict[str, int] = {}
        for ident, track in tracks.items():
            agency = track.get("agency") or self.owner(incidents.get(ident, {}))[0]
            if track.get("digest") and not track.get("digested"):
                by_agency.setdefault(agency, []).append(ident)
            if track.get("held") and not track.get("digested"):
                held[agency] = held.get(agency, 0) + 1
        for agency in sorted(set(by_agency) | set(held)):
            zone = self.registry.working_hours(agency).zone
            local = now.astimezone(zone)
            hh, mm = (int(x) for x in str(self.settings["digest_time"]).split(":"))
            if local.time() < local.replace(hour=hh, minute=mm).time():
                continue
            day = local.strftime("%Y-%m-%d")
            state = self.store.get("digest", f"{agency}|{day}")
            if state and state.get("done"):
                continue
            ids = sorted(by_agency.get(agency, []))
            batch = (state or {}).get("batch") or {
                "batch_id": _hash("digest", agency, day), "kind": "digest", "incidents": ids, "roles": ["on_site"],
                "channels": list(self.tree.channels), "extra": {"day": day, "held": held.get(agency, 0)}}
            self.store.put("digest", f"{agency}|{day}", {"batch": batch, "done": False})
            if self._send_batch(batch, agency, incidents, now, report):
                self.store.put("digest", f"{agency}|{day}", {"batch": batch, "done": True})
                self.store.put_many("track", [(i, {**tracks[i], "digested": True})
                                              for i in [*batch["incidents"], *self._held_ids(tracks, agency)]])

    def _held_ids(self, tracks: dict[str, Any], agency: str) -> list[str]:
        return [i for i, t in tracks.items() if t.get("held") and t.get("agency", agency) == agency]

    def _resolved(self, incidents: dict[str, Any], tracks: dict[str, Any], now: datetime, report: TickReport) -> None:
        for ident, track in tracks.items():
            incident = incidents.get(ident)
            if not incident or incident.get("status") != "closed" or not track.get("notified_at") \
                    or track.get("resolved_sent"):
                continue
            agency = track.get("agency") or self.owner(incident)[0]
            roles = ["on_site", *(self.registry.escalation_chain(agency)[1:track.get("step", 0) + 1])]
            batch = {"batch_id": _hash("resolved", ident), "kind": "resolved", "incidents": [ident], "roles": roles,
                     "channels": list(self.tree.channels)}
            if self._send_batch(batch, agency, incidents, now, report):
                self.store.put("track", ident, {**track, "resolved_sent": True})

    def _national(self, incidents: Mapping[str, Any], now: datetime, report: TickReport) -> None:
        """Each national clock that ran out, told once (per incident and stage) to the agency's head and the
        SOC duty officer; the batch id comes from incident and stage, so a restart sends nothing twice."""
        done = {key for key, doc in self.store.all("national") if doc.get("done")}
        hours = self.config.get("national", "deadline_hours")
        for action in national_overdue(self.actions.lake):
            ident, stage = action.target_id, str(action.after["national_overdue"])
            key = f"{ident}|{stage}"
            if key in done:
                continue
            doc = incidents.get(ident) or self.store.get("incident", ident) or {
                "incident_id": ident, "agency.id": action.agency_id}  # the lake knows it, this store not
            batch = {"batch_id": _hash("national", ident, stage), "kind": "national_overdue", "incidents": [ident],
                     "roles": list(NATIONAL_ROLES), "channels": list(self.tree.channels),
                     "extra": {"stage": stage, "hours": hours.get(stage, ""),
                               "deadline": action.detail.get("deadline") or action.at.isoformat()}}
            if self._send_batch(batch, self.owner(doc)[0], {ident: doc}, now, report):
                self.store.put("national", key, {"done": True, "batch_id": batch["batch_id"], "at": now.isoformat()})

    # -- escalation and acknowledgement expiry -------------------------------------------------------------
    def deadline(self, incident: Mapping[str, Any], track: Mapping[str, Any], step: int) -> datetime | None:
        """When step `step` of the chain runs out: from detection for serious incidents, else from the first
        notification; after an expired acknowledgement, from that moment."""
        level = str(value(incident, "level") or value(incident, "rule.level"))
        seconds = self.settings["deadlines"].get(level)
        if seconds is None:
            return None
        system_level = value(incident, "system.level")
        factors = {int(k): float(v) for k, v in self.settings["system_level_factor"].items()}
        seconds = float(seconds) * factors.get(int(system_level), 1.0) if system_level else float(seconds)
        serious = level in self.settings["serious_levels"] or (
            system_level is not None and int(system_level) >= int(self.settings["serious_system_level"]))
        start_text = incident["@timestamp"] if serious else track.get("notified_at")
        if not start_text:
            return None
        start = datetime.fromisoformat(start_text)
        if track.get("restart_at"):
            start = max(start, datetime.fromisoformat(track["restart_at"]))
        total = seconds * (step + 1)
        if level in self.settings["working_hours_levels"]:
            return add_working_time(start, total, self.registry.working_hours(track.get("agency") or self.roots[0]))
        return start + timedelta(seconds=total)

    def _escalate(self, incidents: dict[str, Any], tracks: dict[str, Any], now: datetime, report: TickReport) -> None:
        for ident, track in list(tracks.items()):
            incident = incidents.get(ident)
            if not incident or incident.get("status") not in OPEN or not track.get("routed") or track.get("held"):
                continue
            agency = track.get("agency") or self.owner(incident)[0]
            chain = self.registry.escalation_chain(agency)
            step = int(incident.get("escalation_step") or 0)
            if step + 1 >= len(chain):
                continue
            due = self.deadline(incident, track, step)
            if due is None or now < due:
                continue
            batch = track.get("escalation_batch") or {
                "batch_id": _hash("escalate", ident, step + 1, track.get("restart_at")), "kind": "escalation",
                "incidents": [ident], "roles": [chain[step + 1]], "channels": list(self.tree.channels),
                "extra": {"step": step + 1}}
            track = tracks[ident] = {**track, "escalation_batch": batch}
            self.store.put("track", ident, track)
            fresh = self.store.get("incident", ident)
            if fresh is None or fresh.get("status") not in OPEN:
                incidents[ident] = fresh or incident  # acknowledged (or closed) since this tick read it
                continue
            if not self._send_batch(batch, agency, incidents, now, report):
                continue
            before = {"escalation_step": step}
            incident = incidents[ident] = self.store.patch("incident", ident, {"escalation_step": step + 1}) or \
                {**incident, "escalation_step": step + 1}
            track = tracks[ident] = {**track, "escalation_batch": None, "step": step + 1}
            self.store.put("track", ident, track)
            self._pending_actions.append(Action(now, "system:escalation", "escalate", "incident", ident,
                                                value(incident, "agency.id"), before, {"escalation_step": step + 1},
                                                {"role": chain[step + 1], "deadline": due.isoformat()}))
            report.escalated += 1

    def _expire_acks(self, incidents: dict[str, Any], tracks: dict[str, Any], now: datetime,
                     report: TickReport) -> None:
        timeout = self.settings["ack_timeout_seconds"]
        if timeout is None:
            return
        for ident, incident in incidents.items():
            if incident.get("status") != "acknowledged" or not incident.get("acknowledged_at"):
                continue
            if now < datetime.fromisoformat(incident["acknowledged_at"]) + timedelta(seconds=float(timeout)):
                continue
            fresh = self.store.get("incident", ident) or {}
            if fresh.get("status") != "acknowledged" or fresh.get("acknowledged_at") != incident["acknowledged_at"]:
                continue  # moved on (or acknowledged again) since this tick read it
            before = {k: incident.get(k) for k in ("status", "acknowledged_at", "acknowledged_by")}
            after = {"status": "new", "acknowledged_at": None, "acknowledged_by": None}
            incidents[ident] = self.store.patch("incident", ident, after) or {**incident, **after}
            tracks[ident] = {**tracks.get(ident, {}), "restart_at": now.isoformat()}
            self.store.put("track", ident, tracks[ident])
            self._pending_actions.append(Action(now, "system:escalation", "unacknowledge", "incident", ident,
                                                value(incident, "agency.id"), before, after,
                                                {"reason": "acknowledgement expired", "timeout_seconds": timeout}))
            report.unacknowledged += 1
