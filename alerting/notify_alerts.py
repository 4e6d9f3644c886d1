"""notify.unit `alerts`: each alert notified as an incident of its own, for installations without layer 2.

The per-alert incident is the document layer 2 makes of a chain of one alert (alerting/incidents.Span),
with the alert's own id as its incident id, so routing, grouping, acknowledgement links, escalation and
resolved notices work on it unchanged, and an acknowledgement names the alert. Only judged alerts are
notified: the stream's early (provisional) correlation alerts and withdrawn ones are left out, the judged
version comes under the same id (docs/correlation.md).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from alerting.incidents import Span
from alerting.notify_store import NotifyStore


def alert_incident(alert: dict[str, Any]) -> dict[str, Any] | None:
    """The incident of one alert (status `new`), or None for an alert not to notify (early, withdrawn,
    or without a time, from which no deadline can be counted)."""
    correlation = alert.get("correlation") or {}
    if correlation.get("provisional") or correlation.get("withdrawn") or not alert.get("@timestamp"):
        return None
    span = Span.of_alert(alert, {})
    span.incident_id = alert["alert_id"]
    return span.document()


def add_alerts(store: NotifyStore, alerts: Iterable[dict[str, Any]]) -> int:
    """Per-alert incidents the store does not hold yet; one already there keeps its state."""
    docs = {d["incident_id"]: d for a in alerts if (d := alert_incident(a)) is not None}
    return store.add_incidents(docs.items())


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


class AlertFeed:
    """Before each tick: the search store's new alerts (`<run.alerts_index>-*`) as per-alert incidents.

    It reads the alerts timed at most incidents.lateness_seconds before the latest alert it has seen (kept
    in the store, so a restart goes on from there), so late alerts within that lateness still come in; the
    first start reads from that long before its own clock, so older alerts already in the store when
    notification is switched on are not sent. Alerts it added lately are remembered in the process, so a
    tick does not write them again; the store keeps the incidents it holds (and their state) as they are."""

    def __init__(self, search: Any, prefix: str, store: NotifyStore, lateness_seconds: float) -> None:
        self.search, self.pattern, self.store = search, f"{prefix}-*", store
        self.lateness = timedelta(seconds=lateness_seconds)
        self._seen: dict[str, datetime] = {}

    def __call__(self, now: datetime) -> int:
        from opensearchpy.helpers import scan

        kept = self.store.get("feed", self.pattern)
        latest = datetime.fromisoformat(kept["latest"]) if kept else now
        since = latest - self.lateness
        query = {"query": {"range": {"@timestamp": {"gte": since.isoformat()}}}}
        alerts = [hit["_source"] for hit in scan(self.search, index=self.pattern, query=query,
                                                 ignore_unavailable=True)
                  if hit["_source"].get("alert_id") not in self._seen]
        added = add_alerts(self.store, alerts)
        for alert in alerts:
            if alert_incident(alert) is not None:
                stamp = self._seen[alert["alert_id"]] = datetime.fromisoformat(alert["@timestamp"])
                latest = max(latest, stamp)
        self._seen = {k: t for k, t in self._seen.items() if t >= latest - self.lateness}
        if kept is None or latest.isoformat() != kept["latest"]:
            self.store.put("feed", self.pattern, {"latest": latest.isoformat()})
        return added
