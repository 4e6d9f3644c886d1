"""Layer 2: Sigma correlation rules over sliding windows of event time (docs/correlation.md).

A correlation reads the alerts of the rules it names (and the alerts of lower correlations, for chains),
groups them by its `group-by` fields, sorts each group by event time and looks at every window of length
`timespan` that starts at one of its alerts: a window whose measure (count, distinct values, rules seen,
sum, average or share of a value) meets the condition fires. Overlapping windows that fire make one
episode and one alert, whose id hashes the correlation, the group and the first alert of the episode, so
the result depends on the set of alerts only: not on input order or how the input was split.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from alerting.alerts import LEVELS
from rules.correlation import Correlation
from rules.model import CompiledRule

MAX_EVENTS = 100  # event identities listed in a correlation alert; `events_count` has them all


@dataclass(frozen=True, slots=True)
class Hit:
    """One alert as a correlation reads it: which rule, when, which event, and where to find fields."""

    rule: str
    at: float  # seconds since the epoch, event time
    key: str  # the event's identity (a correlation alert's id, in a chain)
    alert: Mapping[str, Any]
    level: str

    def value(self, name: str) -> str | None:
        """A field of the event, else a context field by its dotted path (source.ip), else a group
        value of a lower correlation."""
        event = self.alert.get("event") or {}
        if name in event:
            return event[name]
        node: Any = self.alert
        for part in name.split("."):
            node = node.get(part) if isinstance(node, Mapping) else None
        if node is None:
            node = ((self.alert.get("correlation") or {}).get("group") or {}).get(name)
        return None if node is None or isinstance(node, Mapping | list) else str(node)


def hit_of(alert: Mapping[str, Any]) -> Hit | None:
    """The alert as a Hit, or None when it has no event time (it cannot fall in a window)."""
    stamp = alert.get("@timestamp")
    if not stamp:
        return None
    at = datetime.fromisoformat(stamp).timestamp()
    key = (alert.get("event_meta") or {}).get("id") or alert["alert_id"]
    return Hit(alert["rule"]["id"], at, key, alert, alert["rule"]["level"])


def correlate(correlations: list[Correlation], rules: Iterable[CompiledRule], alerts: Iterable[Mapping[str, Any]],
              owner: Callable[[list[str]], str | None] = lambda ids: ids[0] if len(ids) == 1 else None,
              ) -> list[dict[str, Any]]:
    """Every correlation alert of `alerts`, chains included (correlations come in run order). `owner`
    names the agency an alert over these agencies belongs to (Registry.common_ancestor: whose people
    may see all of them); its `agency.ids` lists them all."""
    names = {r.id: r.name for r in rules if r.name} | {c.id: c.name for c in correlations if c.name}
    wanted = {ref for c in correlations for ref in c.rules}
    by_rule: dict[str, list[Hit]] = defaultdict(list)
    for alert in alerts:
        if alert["rule"]["id"] in wanted and (hit := hit_of(alert)):
            by_rule[hit.rule].append(hit)
    out: list[dict[str, Any]] = []
    for c in correlations:
        fired = evaluate(c, [h for ref in c.rules for h in by_rule.get(ref, ())], names, owner)
        by_rule[c.id] = [h for doc in fired if (h := hit_of(doc))]
        out += fired
    return out


def hidden_rules(correlations: list[Correlation]) -> set[str]:
    """Rules whose own alerts are not raised: every correlation naming them has `generate: false`."""
    named = {ref for c in correlations for ref in c.rules}
    generated = {ref for c in correlations if c.generate for ref in c.rules}
    return named - generated


def evaluate(c: Correlation, hits: list[Hit], names: Mapping[str, str | None],
             owner: Callable[[list[str]], str | None]) -> list[dict[str, Any]]:
    """The correlation alerts of one correlation over the hits of its rules."""
    groups: dict[tuple[str, ...], list[Hit]] = defaultdict(list)
    for hit in hits:
        refs = (hit.rule, names.get(hit.rule) or hit.rule)
        values = tuple(hit.value(c.field_for(name, refs)) for name in c.group_by)
        if None not in values:  # an alert without a group-by field belongs to no group
            groups[values].append(hit)  # type: ignore[arg-type]
    alerts = []
    for values, members in sorted(groups.items()):
        members.sort(key=lambda h: (h.at, h.key, h.rule))
        for episode in _episodes(c, members):
            alerts.append(_document(c, dict(zip(c.group_by, values, strict=True)), episode, owner))
    return alerts


@dataclass
class _Episode:
    first_window: list[Hit]
    value: float
    met_at: float
    hits: dict[str, Hit]  # by key, every hit of every window that fired


def _episodes(c: Correlation, hits: list[Hit]) -> list[_Episode]:
    """Windows [t, t + timespan] starting at each hit; overlapping ones that fire make one episode."""
    if c.type == "event_count":  # an event two named rules matched counts once
        seen: set[str] = set()
        hits = [h for h in hits if not (h.key in seen or seen.add(h.key))]  # type: ignore[func-returns-value]
    episodes: list[_Episode] = []
    sliding = _Sliding(c)
    end, last_end = 0, float("-inf")
    for start, anchor in enumerate(hits):
        while end < len(hits) and hits[end].at <= anchor.at + c.timespan:
            sliding.add(hits[end])
            end += 1
        value = sliding.value(hits, start, end)
        if value is not None and c.met(value):
            window = hits[start:end]
            if episodes and anchor.at <= last_end:
                episodes[-1].hits.update((h.key, h) for h in window)
            else:
                episodes.append(_Episode(window, value, _met_at(c, window), {h.key: h for h in window}))
            last_end = anchor.at + c.timespan
        sliding.remove(anchor)
    return episodes


class _Sliding:
    """The measure of a window as hits enter at its end and leave at its start: counts kept up to date
    where the measure allows it, so a group of many hits costs time in proportion to its size."""

    def __init__(self, c: Correlation) -> None:
        self.c = c
        self.counts: Counter[Any] = Counter()
        self.total = 0.0
        self.numbers = 0

    def _item(self, hit: Hit) -> Any:
        if self.c.type == "temporal":
            return hit.rule
        values = tuple(hit.value(f) for f in self.c.fields)
        return None if None in values else values

    def add(self, hit: Hit) -> None:
        self._change(hit, 1)

    def remove(self, hit: Hit) -> None:
        self._change(hit, -1)

    def _change(self, hit: Hit, sign: int) -> None:
        if self.c.type in ("value_count", "temporal"):
            item = self._item(hit)
            if item is not None:
                self.counts[item] += sign
                if not self.counts[item]:
                    del self.counts[item]
        elif self.c.type in ("value_sum", "value_avg"):
            number = _number(hit.value(self.c.fields[0]))
            if number is not None:
                self.total += sign * number
                self.numbers += sign

    def value(self, hits: list[Hit], start: int, end: int) -> float | None:
        kind = self.c.type
        if kind == "event_count":
            return float(end - start)
        if kind in ("value_count", "temporal"):
            return float(len(self.counts))
        if kind == "value_sum":
            return self.total if self.numbers else None
        if kind == "value_avg":
            return self.total / self.numbers if self.numbers else None
        return measure(self.c, hits[start:end])


def measure(c: Correlation, window: list[Hit]) -> float | None:
    """The window's figure the condition is tested on (None: the window has nothing to measure)."""
    if c.type == "event_count":
        return float(len(window))
    if c.type == "value_count":
        values = {tuple(h.value(f) for f in c.fields) for h in window}
        return float(sum(1 for v in values if None not in v))
    if c.type == "temporal":
        return float(len({h.rule for h in window}))
    if c.type == "temporal_ordered":
        return float(_ordered_steps(c.rules, window))
    numbers = [n for h in window if (n := _number(h.value(c.fields[0]))) is not None]
    if c.type == "value_sum":
        return float(sum(numbers)) if numbers else None
    if c.type == "value_avg":
        return sum(numbers) / len(numbers) if numbers else None
    # value_percentile: the share (percent) of the window's events that carry each value; the window
    # fires when some value's share meets the condition, and the figure is the smallest such share.
    values = [v for h in window if (v := h.value(c.fields[0])) is not None]
    shares = [100.0 * n / len(values) for n in Counter(values).values()]
    meeting = [s for s in shares if c.met(s)]
    return min(meeting) if meeting else (min(shares) if shares else None)


def _ordered_steps(rules: tuple[str, ...], window: list[Hit]) -> int:
    """How many of `rules` appear in that order in the window (each step strictly later than the last)."""
    step, last = 0, float("-inf")
    for hit in window:
        if step < len(rules) and hit.rule == rules[step] and hit.at > last:
            step, last = step + 1, hit.at
    return step


# Measures that never fall as hits are added: the first prefix that fires is found by bisection.
_GROWING = {"event_count", "value_count", "temporal", "temporal_ordered"}


def _met_at(c: Correlation, window: list[Hit]) -> float:
    """When the condition was met: the hit whose arrival first made the window's prefix fire (the
    window's last hit when no prefix does, as for `lt`)."""
    def fires(n: int) -> bool:
        value = measure(c, window[:n])
        return value is not None and c.met(value)

    if c.type in _GROWING and all(op in ("gt", "gte") for op, _ in c.condition):
        low, high = 1, len(window)  # the whole window fires; find the shortest prefix that does
        while low < high:
            middle = (low + high) // 2
            low, high = (low, middle) if fires(middle) else (middle + 1, high)
        return window[low - 1].at
    return next((window[n - 1].at for n in range(1, len(window) + 1) if fires(n)), window[-1].at)


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat()


def _document(c: Correlation, group: dict[str, str], episode: _Episode,
              owner: Callable[[list[str]], str | None]) -> dict[str, Any]:
    first = episode.first_window[0]
    hits = sorted(episode.hits.values(), key=lambda h: (h.at, h.key))
    alert_id = hashlib.sha256(json.dumps([c.id, group, first.key], sort_keys=True).encode()).hexdigest()[:32]
    agencies = sorted({a for h in hits for a in _agencies(h.alert)})
    level = c.level or min((h.level for h in hits), key=LEVELS.index)
    doc: dict[str, Any] = {
        "alert_id": alert_id,
        "@timestamp": _iso(episode.met_at),
        "rule": {"id": c.id, "title": c.title, "level": level, "tags": list(c.tags)},
        "correlation": {
            "type": c.type, "group": group, "first": _iso(hits[0].at), "last": _iso(hits[-1].at),
            "timespan_seconds": c.timespan, "value": episode.value, "base_rules": list(c.rules),
            "events": [h.key for h in hits[:MAX_EVENTS]], "events_count": len(hits),
        },
        "event": dict(group),
        "event_meta": {"id": alert_id, "kind": "correlation", "origin": c.path},
        "agency": {"id": owner(agencies), "ids": agencies},
    }
    for name in ("host", "source", "system"):  # context shared by every event of the episode
        values = {json.dumps(h.alert.get(name), sort_keys=True) for h in hits}
        if len(values) == 1 and first.alert.get(name):
            doc[name] = first.alert[name]
    return doc


def _agencies(alert: Mapping[str, Any]) -> list[str]:
    agency = alert.get("agency") or {}
    return [*(agency.get("ids") or []), *([agency["id"]] if agency.get("id") else [])]
