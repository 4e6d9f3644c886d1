"""The console's reads and writes of incidents in OpenSearch, every one within the caller's scope.

Paging uses search_after on (last, incident_id), which stays fast at millions of documents where deep
from/size would not. A change is written with the document's sequence number and primary term: the
second of two concurrent writers gets a Conflict instead of silently overwriting the first; and every
change is also an action record (alerting/actions.py) in the search store and the lake.

With `read_as` (a secured store, dashboards/console/read_as.py) every read of incidents, alerts, events
and the action log goes to the store as the caller's own user of the store, so its document-level
security applies as well as the scope's filter; the incident an action changes is read that way too
before the console's own client writes it. Saved filters are the console's (one user's, not an agency's).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy.exceptions import ConflictError, NotFoundError

from alerting.actions import ACTIONS_INDEX, Action, append_to_lake, search_documents
from alerting.actions import MAPPING as ACTIONS_MAPPING
from alerting.incidents import MAPPING as INCIDENTS_MAPPING
from dashboards.console.read_as import Reader
from dashboards.console.scope import Scope
from socpipe import search

STATUSES = ("new", "acknowledged", "in_progress", "closed", "escalated")
VERDICTS = ("true_positive_impact", "true_positive_no_impact", "false_positive", "benign")
# Why a verdict was reached, from a fixed list (the note says more): what dashboards can count.
VERDICT_REASONS = ("confirmed_malicious", "data_or_service_affected", "contained_before_impact", "authorised_activity",
                   "test_or_exercise", "known_software", "rule_too_broad", "misconfiguration", "duplicate", "other")
LEVELS = ("critical", "high", "medium", "low", "informational")
GROUP_FIELDS = {"rule": "rule.id", "agency": "agency.id", "host": "host.name", "source": "source.ip", "level": "level",
                "status": "status"}
_IP_FIELDS = {"source.ip"}  # an ip field takes no "-" bucket for the documents without one
PAGE = 50
SAVED_FILTERS_INDEX = "console-filters"
ZONE_OFFSET = "+07:00"  # Asia/Ho_Chi_Minh (no daylight saving): dates typed in the queue are local dates
TEXT_ALERTS = 1000  # free text over events: the incidents of at most this many matching alerts
RELATED = 10  # incidents shown per kind of relation
BULK_LIMIT = 10_000  # a bulk action on "all matching" covers at most this many incidents
_SAVED_MAPPING = {"dynamic": False, "properties": {"user": {"type": "keyword"}, "name": {"type": "keyword"},
                                                    "saved_at": {"type": "date"}}}


class Conflict(Exception):
    """Someone else changed the incident since the caller read it."""


class Forbidden(Exception):
    """The caller may not do this (or the incident is outside their scope, which reads the same)."""


@dataclass(frozen=True)
class Filters:
    level: str | None = None
    status: str | None = None
    agency: str | None = None  # the agency and its subtree
    rule: str | None = None
    text: str | None = None  # over the incident's title, host, group and id, and over its alerts' events
    system_level: str | None = None
    tag: str | None = None  # an ATT&CK tag of the rule, attack.t1059.001
    since: str | None = None  # ISO dates or times; without a zone, Asia/Ho_Chi_Minh (range on `last`)
    until: str | None = None

    @classmethod
    def of(cls, params: Mapping[str, Any]) -> Filters:
        """From query parameters or a saved filter: the known keys with string values, nothing else (a saved
        filter is only ever narrowed by the caller's scope, never read as a query of its own). A time or a
        system level that does not parse is a ValueError, not a silently wider queue."""
        names = {f.name: f.name for f in fields(cls)} | {"q": "text"}
        found = cls(**{names[k]: v.strip() for k, v in params.items()
                       if k in names and isinstance(v, str) and v.strip()})
        for stamp in (found.since, found.until):
            if stamp:
                datetime.fromisoformat(stamp)
        if found.system_level and not found.system_level.isdigit():
            raise ValueError(f"system level {found.system_level!r} is not a number")
        return found

    def params(self) -> dict[str, str]:
        """The filter as the queue's query parameters."""
        return {("q" if k == "text" else k): v for k, v in asdict(self).items() if v}

    def narrowed(self, by: str, key: str) -> Filters | None:
        """This filter narrowed to one group of the queue's grouped counts (a click on the group), or None
        when the group's field has no filter of its own (a host is found by the free text)."""
        name = {"rule": "rule", "agency": "agency", "level": "level", "status": "status", "host": "text"}.get(by)
        return replace(self, **{name: key}) if name and key != "-" else None

    def clauses(self, scope: Scope, matching_alerts: list[str] | None = None) -> list[dict[str, Any]]:
        """`matching_alerts`: the ids of the alerts (in scope) whose events hold the free text."""
        out: list[dict[str, Any]] = []
        for value, field in ((self.level, "level"), (self.status, "status"), (self.rule, "rule.id"),
                             (self.tag, "rule.tags"), (self.system_level, "system.level")):
            if value:
                out.append({"term": {field: value}})
        if self.agency:
            ids = scope.subtree(self.agency)
            either = [{"terms": {"agency.id": ids}}, {"terms": {"agency.ids": ids}}]
            out.append({"bool": {"should": either, "minimum_should_match": 1}})
        if self.since or self.until:
            bounds = {k: v for k, v in (("gte", self.since), ("lte", self.until)) if v}
            out.append({"range": {"last": {**bounds, "time_zone": ZONE_OFFSET}}})
        if self.text:
            either = [{"simple_query_string": {"query": self.text, "fields": ["rule.title", "host.name", "group",
                                                                               "incident_id"]}}]
            if matching_alerts:
                either.append({"terms": {"alert_ids": matching_alerts}})
            out.append({"bool": {"should": either, "minimum_should_match": 1}})
        return out


class IncidentStore:
    def __init__(self, client: OpenSearch, index: str, lake: Path, replicas: int = 0, alerts: str = "alerts",
                 saved_filters: str = SAVED_FILTERS_INDEX, events: str = "events",
                 read_as: Reader | None = None) -> None:
        """`client`: the console's own (writes, and every read without `read_as`); `read_as`: the client a
        user's reads go through."""
        self.client, self.index, self.lake, self.alerts, self.saved = client, index, lake, alerts, saved_filters
        self.events, self.read_as = events, read_as
        search.ensure_index(client, index, INCIDENTS_MAPPING, replicas)
        search.ensure_index(client, ACTIONS_INDEX, ACTIONS_MAPPING, replicas)
        search.ensure_index(client, saved_filters, _SAVED_MAPPING, replicas)

    def _reader(self, scope: Scope) -> OpenSearch:
        """The client the caller's reads go through: as their own user of a secured store, else the console's."""
        return self.read_as(scope.user) if self.read_as else self.client

    def _query(self, scope: Scope, filters: Filters) -> dict[str, Any]:
        matching = self._alerts_with_text(scope, filters.text) if filters.text else None
        return {"bool": {"filter": [*scope.filter(), *filters.clauses(scope, matching)],
                         "must_not": [{"exists": {"field": "merged_into"}}]}}

    def _alerts_with_text(self, scope: Scope, text: str) -> list[str]:
        """The alerts in scope one of whose event values contains the text (any case): the free-text
        filter's way into the events, which incidents do not copy."""
        pattern = "*" + text.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?") + "*"
        body = {"query": {"bool": {"filter": [*scope.filter(), {"wildcard": {"event": {
            "value": pattern, "case_insensitive": True}}}]}}, "size": TEXT_ALERTS, "_source": ["alert_id"]}
        hits = self._reader(scope).search(index=f"{self.alerts}-*", body=body, ignore_unavailable=True)["hits"]["hits"]
        return [h["_source"]["alert_id"] for h in hits if h["_source"].get("alert_id")]

    def matching_ids(self, scope: Scope, filters: Filters, limit: int = BULK_LIMIT) -> list[str]:
        """Every incident id the filter finds in the scope (not only a page of them), for bulk actions."""
        ids: list[str] = []
        after: list[Any] | None = None
        while len(ids) < limit:
            body: dict[str, Any] = {"query": self._query(scope, filters), "size": min(1000, limit - len(ids)),
                                    "_source": False, "sort": [{"incident_id": "asc"}]}
            if after:
                body["search_after"] = after
            hits = self._reader(scope).search(index=self.index, body=body)["hits"]["hits"]
            ids += [h["_id"] for h in hits]
            if len(hits) < body["size"]:
                break
            after = hits[-1]["sort"]
        return ids

    def queue(self, scope: Scope, filters: Filters, after: list[Any] | None = None,
              size: int = PAGE) -> tuple[list[dict[str, Any]], list[Any] | None, int]:
        """A page of incidents, newest first; the cursor for the next page; the total."""
        found = self._reader(scope).search(index=self.index, body=_queue_body(self._query(scope, filters), after, size))
        return _page(found, size)

    def groups(self, scope: Scope, filters: Filters, by: str) -> list[tuple[str, int]]:
        found = self._reader(scope).search(index=self.index, body=_groups_body(self._query(scope, filters), by))
        return [(b["key"], b["doc_count"]) for b in found["aggregations"]["g"]["buckets"]]

    def queue_with_groups(self, scope: Scope, filters: Filters, after: list[Any] | None, by: str, size: int = PAGE
                          ) -> tuple[list[dict[str, Any]], list[Any] | None, int, list[tuple[str, int]]]:
        """The queue page's two searches from one query (the free text's alert search made once), sent together."""
        query = self._query(scope, filters)
        lines: list[dict[str, Any]] = []
        for body in (_queue_body(query, after, size), _groups_body(query, by)):
            lines += [{"index": self.index}, body]
        page, counts = self._reader(scope).msearch(body=lines)["responses"]
        for answer in (page, counts):
            if "error" in answer:
                raise RuntimeError(f"search failed: {answer['error']}")
        incidents, cursor, total = _page(page, size)
        return incidents, cursor, total, [(b["key"], b["doc_count"]) for b in counts["aggregations"]["g"]["buckets"]]

    def open_incidents(self, scope: Scope, size: int = 500) -> tuple[list[dict[str, Any]], int]:
        """The incidents in scope not closed yet, oldest detection first (the nearest deadlines), and how many."""
        body = {"query": {"bool": {"filter": scope.filter(), "must_not": [
            {"exists": {"field": "merged_into"}}, {"term": {"status": "closed"}}]}}, "size": size,
            "track_total_hits": True, "sort": [{"@timestamp": {"order": "asc", "missing": "_last"}},
                                               {"incident_id": "asc"}]}
        found = self._reader(scope).search(index=self.index, body=body)["hits"]
        return [h["_source"] for h in found["hits"]], found["total"]["value"]

    def get(self, scope: Scope, incident_id: str) -> tuple[dict[str, Any], int, int]:
        """The incident, its sequence number and primary term; NotFound outside the scope too."""
        try:
            found = self._reader(scope).get(index=self.index, id=incident_id)
        except NotFoundError:
            raise Forbidden(incident_id) from None
        if not scope.sees(found["_source"]):
            raise Forbidden(incident_id)
        return found["_source"], found["_seq_no"], found["_primary_term"]

    def history(self, scope: Scope, incident_id: str) -> list[dict[str, Any]]:
        self.get(scope, incident_id)
        body = {"query": {"bool": {"filter": [{"term": {"target_id": incident_id}}]}}, "size": 500,
                "sort": [{"at": "asc"}, {"action_id": "asc"}]}
        return [h["_source"] for h in self._reader(scope).search(index=ACTIONS_INDEX, body=body)["hits"]["hits"]]

    def alerts_of(self, scope: Scope, incident_id: str, size: int = 20) -> list[dict[str, Any]]:
        """The incident's alerts (with their events) as the alerts indices hold them, within the scope."""
        doc, _, _ = self.get(scope, incident_id)
        ids = (doc.get("alert_ids") or [])[:size]
        if not ids:
            return []
        body = {"query": {"bool": {"filter": [*scope.filter(), {"terms": {"alert_id": ids}}]}}, "size": size,
                "sort": [{"@timestamp": {"order": "asc", "missing": "_last"}}]}
        days = self._days(doc)
        reader = self._reader(scope)
        found = reader.search(index=days, body=body, ignore_unavailable=True)["hits"]["hits"]
        if not found and days != f"{self.alerts}-*":  # stored under another day (a correlation's window)
            found = reader.search(index=f"{self.alerts}-*", body=body, ignore_unavailable=True)["hits"]["hits"]
        return [h["_source"] for h in found]

    def related(self, scope: Scope, incident: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
        """Other incidents the caller sees on the same host, from the same source address, and of the same
        rule in any agency (of the caller's scope), newest first."""
        source = (incident.get("source") or {}).get("ip") or (incident.get("group") or {}).get("source.ip")
        keys = (("host", "host.name", (incident.get("host") or {}).get("name")), ("source", "source.ip", source),
                ("rule", "rule.id", (incident.get("rule") or {}).get("id")))
        out: dict[str, list[dict[str, Any]]] = {}
        for key, field, value in keys:
            if not value:
                out[key] = []
                continue
            body = {"query": {"bool": {"filter": [*scope.filter(), {"term": {field: value}}],
                                       "must_not": [{"ids": {"values": [incident["incident_id"]]}},
                                                    {"exists": {"field": "merged_into"}}]}},
                    "size": RELATED, "sort": [{"last": {"order": "desc", "missing": "_last"}}],
                    "_source": ["incident_id", "rule", "level", "agency", "host", "last", "status", "count"]}
            out[key] = [h["_source"] for h in self._reader(scope).search(index=self.index, body=body)["hits"]["hits"]]
        return out

    def base_events(self, scope: Scope, alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The events a correlation alert was built from (its first 100 event identities), within the scope."""
        ids = sorted({str(e) for a in alerts for e in (a.get("correlation") or {}).get("events") or []})
        if not ids:
            return []
        body = {"query": {"bool": {"filter": [*scope.filter(), {"terms": {"event_meta.id": ids}}]}}, "size": len(ids),
                "sort": [{"@timestamp": {"order": "asc", "missing": "_last"}}]}
        found = self._reader(scope).search(index=f"{self.events}-*", body=body, ignore_unavailable=True)
        return [h["_source"] for h in found["hits"]["hits"]]

    def _days(self, incident: dict[str, Any]) -> str:
        """The daily alerts indices of the incident's alerts (first to last), not all of them: one or two
        shards to ask instead of a year's."""
        try:
            first, last = (datetime.fromisoformat(incident[k]).astimezone(UTC).date() for k in ("first", "last"))
        except (KeyError, TypeError, ValueError):
            return f"{self.alerts}-*"
        if (last - first).days > 31 or last < first:
            return f"{self.alerts}-*"
        days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
        return ",".join(search.index_name(self.alerts, d.isoformat()) for d in days)

    def count_alerts(self, scope: Scope, rule_ids: list[str], selection: dict[str, str]) -> int:
        """How many alerts in the store of these rules have all of `selection` (native event fields)."""
        terms = [{"term": {f"event.{name}": value}} for name, value in selection.items()]
        body = {"query": {"bool": {"filter": [*scope.filter(), {"terms": {"rule.id": rule_ids}}, *terms]}}}
        return int(self._reader(scope).count(index=f"{self.alerts}-*", body=body, ignore_unavailable=True)["count"])

    def record(self, scope: Scope, kind: str, incident_id: str, after: dict[str, Any],
               detail: dict[str, Any]) -> None:
        """An action that changes no incident field (a suppression written), in the log all the same."""
        doc, _, _ = self.get(scope, incident_id)
        action = Action(datetime.now(UTC), scope.user.name, kind, "incident", incident_id,
                        (doc.get("agency") or {}).get("id"), {}, after, detail)
        append_to_lake(self.lake, [action])
        search.write(self.client, search_documents([action]))
        self.client.indices.refresh(index=ACTIONS_INDEX)

    # ---- saved filters: the user's own, narrowed by their scope like any other filter ------------------

    def saved_filters(self, scope: Scope) -> dict[str, Filters]:
        body = {"query": {"term": {"user": scope.user.name}}, "size": 200, "sort": [{"name": "asc"}]}
        hits = self.client.search(index=self.saved, body=body)["hits"]["hits"]
        return {h["_source"]["name"]: _saved(h["_source"].get("params")) for h in hits}

    def save_filter(self, scope: Scope, name: str, filters: Filters) -> None:
        if not name.strip() or len(name) > 100:
            raise ValueError("a saved filter needs a name of 1 to 100 characters")
        params = {k: v for k, v in asdict(filters).items() if v}
        self.client.index(index=self.saved, id=_saved_id(scope.user.name, name), refresh="wait_for",
                          body={"user": scope.user.name, "name": name, "params": params,
                                "saved_at": datetime.now(UTC).isoformat()})

    def delete_filter(self, scope: Scope, name: str) -> bool:
        try:
            self.client.delete(index=self.saved, id=_saved_id(scope.user.name, name), refresh="wait_for")
        except NotFoundError:
            return False
        return True

    def act(self, scope: Scope, incident_id: str, kind: str, value: str | None = None, note: str = "",
            seq_no: int | None = None, primary_term: int | None = None, now: datetime | None = None,
            reason: str | None = None) -> dict[str, Any]:
        """Apply one action; `seq_no`/`primary_term` are those the caller's page was built from; `reason`: a
        verdict's, one of VERDICT_REASONS."""
        doc, action = self._apply(scope, incident_id, kind, value, note, seq_no, primary_term, now, "wait_for",
                                  reason)
        self._log([action])
        return {**doc, **action.after}

    def act_many(self, scope: Scope, incident_ids: list[str], kind: str, value: str | None = None,
                 note: str = "", reason: str | None = None) -> tuple[int, int]:
        """One action on many incidents (a bulk action): each written with its own sequence number check,
        the store refreshed once at the end rather than after each. Returns (done, conflicts): an incident
        someone changed between its read and its write is left as they made it."""
        if not scope.may(kind):
            raise Forbidden(kind)
        actions: list[Action] = []
        conflicts = 0
        try:
            for incident_id in incident_ids:
                try:
                    actions.append(self._apply(scope, incident_id, kind, value, note, None, None, None, False,
                                               reason)[1])
                except Conflict:
                    conflicts += 1
        finally:
            self.client.indices.refresh(index=self.index)
            self._log(actions)
        return len(actions), conflicts

    def _apply(self, scope: Scope, incident_id: str, kind: str, value: str | None, note: str, seq_no: int | None,
               primary_term: int | None, now: datetime | None, refresh: str | bool,
               reason: str | None = None) -> tuple[dict[str, Any], Action]:
        if not scope.may(kind):
            raise Forbidden(kind)
        doc, current_seq, current_term = self.get(scope, incident_id)
        if seq_no is not None and (seq_no, primary_term) != (current_seq, current_term):
            raise Conflict(incident_id)
        now = now or datetime.now(UTC)
        change = _change(doc, kind, value, reason, scope.user.name, now)
        before = {k: doc.get(k) for k in change}
        try:
            self.client.update(index=self.index, id=incident_id, body={"doc": change}, refresh=refresh,
                               if_seq_no=current_seq if seq_no is None else seq_no,
                               if_primary_term=current_term if primary_term is None else primary_term)
        except ConflictError:
            raise Conflict(incident_id) from None
        return doc, Action(now, scope.user.name, kind, "incident", incident_id, (doc.get("agency") or {}).get("id"),
                           before, change, {"note": note} if note else {})

    def _log(self, actions: list[Action]) -> None:
        """The actions in the lake and the store, searchable at once (the next page view shows them)."""
        if not actions:
            return
        append_to_lake(self.lake, actions)
        search.write(self.client, search_documents(actions))
        self.client.indices.refresh(index=ACTIONS_INDEX)


def _queue_body(query: dict[str, Any], after: list[Any] | None, size: int) -> dict[str, Any]:
    body: dict[str, Any] = {"query": query, "size": size, "track_total_hits": True,
                            "sort": [{"severity": {"order": "desc", "missing": "_last"}},
                                     {"last": {"order": "desc", "missing": "_last"}}, {"incident_id": "asc"}]}
    if after:
        body["search_after"] = after
    return body


def _page(found: dict[str, Any], size: int) -> tuple[list[dict[str, Any]], list[Any] | None, int]:
    hits = found["hits"]["hits"]
    cursor = hits[-1]["sort"] if len(hits) == size else None
    return [h["_source"] for h in hits], cursor, found["hits"]["total"]["value"]


def _groups_body(query: dict[str, Any], by: str) -> dict[str, Any]:
    field = GROUP_FIELDS.get(by)
    if field is None:
        raise ValueError(f"cannot group by {by!r} (known: {', '.join(GROUP_FIELDS)})")
    return {"query": query, "size": 0, "aggs": {"g": {"terms": {
        "field": field, "size": 50, **({} if field in _IP_FIELDS else {"missing": "-"})}}}}


def timeline(alerts: list[dict[str, Any]], history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The incident's alerts and every action on it (notifications, acknowledgements, escalations, people's
    changes and comments) in time order: {at, kind, actor, text}."""
    items = [{"at": a["@timestamp"], "kind": "alert", "actor": None,
              "text": f"{(a.get('rule') or {}).get('title', '')} · {a.get('alert_id')}"}
             for a in alerts if a.get("@timestamp")]
    for action in history:
        shown = {**(action.get("after") or {}), **(action.get("detail") or {})}
        items.append({"at": action["at"], "kind": action["kind"], "actor": action.get("actor"),
                      "text": " ".join(f"{k}={v}" for k, v in shown.items() if v not in (None, "", [], {}))})
    return sorted(items, key=lambda i: datetime.fromisoformat(i["at"]).astimezone(UTC))


NOTICE_KINDS = ("notify", "acknowledge", "unacknowledge", "escalate")  # the notification and acknowledgement log


def _saved(params: Any) -> Filters:
    """A stored filter; one the store holds in a shape no request could have saved filters nothing more
    than the scope does."""
    try:
        return Filters.of(params if isinstance(params, Mapping) else {})
    except ValueError:
        return Filters()


def _saved_id(user: str, name: str) -> str:
    return hashlib.sha256(json.dumps([user, name]).encode()).hexdigest()


def _change(doc: dict[str, Any], kind: str, value: str | None, reason: str | None, user: str,
            now: datetime) -> dict[str, Any]:
    """The fields an action changes, with the handling times as numbers for dashboards."""
    detected = datetime.fromisoformat(doc["@timestamp"]) if doc.get("@timestamp") else None
    since = (lambda: round((now - detected).total_seconds(), 3)) if detected else (lambda: None)
    if kind == "acknowledge":
        if doc.get("acknowledged_at"):
            return {}
        return {"status": "acknowledged" if doc.get("status") == "new" else doc.get("status"),
                "acknowledged_at": now.isoformat(), "acknowledged_by": user, "tta_seconds": since()}
    if kind == "assign":
        return {"assignee": value or None}
    if kind == "status":
        if value not in STATUSES:
            raise ValueError(f"unknown status {value!r}")
        change: dict[str, Any] = {"status": value}
        if value == "closed":
            change.update(closed_at=now.isoformat(), ttc_seconds=since())
        if value != "new" and not doc.get("acknowledged_at"):
            change.update(acknowledged_at=now.isoformat(), acknowledged_by=user, tta_seconds=since())
        return change
    if kind == "verdict":
        if value not in VERDICTS:
            raise ValueError(f"unknown verdict {value!r}")
        if reason not in VERDICT_REASONS:
            raise ValueError(f"a verdict needs a reason, one of {', '.join(VERDICT_REASONS)}")
        return {"verdict": value, "verdict_reason": reason}
    if kind == "comment":
        return {}
    raise ValueError(f"unknown action {kind!r}")


def load_incidents(client: OpenSearch, index: str, path: Path, replicas: int = 0) -> int:
    """Index incidents.jsonl (as `socpipe detect` and `socpipe demo` write it), keeping nothing people changed."""
    search.ensure_index(client, index, INCIDENTS_MAPPING, replicas)
    docs = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    search.write(client, [(index, d["incident_id"], json.dumps(d, ensure_ascii=False)) for d in docs])
    client.indices.refresh(index=index)
    return len(docs)
