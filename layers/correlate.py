"""Layer 2: Sigma correlation rules over sliding windows of event time (docs/correlation.md).

A correlation reads the alerts of the rules it names (and the alerts of lower correlations, for chains),
groups them by its `group-by` fields, sorts each group by event time and looks at every window of length
`timespan` that starts at one of its alerts: a window whose measure (count, distinct values, rules seen,
sum, average or share of a value) meets the condition fires. Overlapping windows that fire make one
episode and one alert, whose id hashes the correlation, the group and the first alert of the episode.

Windows are judged in the order they start, and only once they are final: when the watermark (the
latest event time seen, less the allowed lateness) has passed their end, so no alert can still fall in
them. Batch detection has seen everything (its watermark is infinite); the stream advances its watermark
micro-batch by micro-batch and keeps the open windows in its checkpoint (Correlator.changes). Both run
the same code in the same order, so the alerts depend on the set of alerts only: not on input order,
file splits or micro-batch boundaries.

The stream also gives early word (Correlator.provisional): where the measure can only grow as alerts
arrive (counts, distinct values, rules seen, sums, with gt/gte), a window that meets the condition on the
alerts seen so far will still meet it when judged, so its episode is announced at once, marked
provisional. Judging confirms it under the same id, unless later alerts moved where the episode starts;
then the early alert is withdrawn and the judged one stands under its own id.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import json
import math
import operator
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson

from alerting.alerts import LEVELS
from rules.correlation import Correlation
from rules.model import CompiledRule

MAX_EVENTS = 100  # event identities listed in a correlation alert; `events_count` has them all
CONTEXT = ("host", "source", "system")  # kept on the alert when every event of the episode shares it
DIFFERENT = "\x00"  # an episode's events disagree on a context entry
Owner = Callable[[list[str]], str | None]


def single_agency(ids: list[str]) -> str | None:
    return ids[0] if len(ids) == 1 else None


@dataclass(frozen=True, slots=True)
class Hit:
    """One alert as a correlation reads it: which rule, when, which event, the values it reads."""

    rule: str
    at: float  # seconds since the epoch, event time
    key: str  # the event's identity (a correlation alert's id, in a chain)
    level: str
    values: tuple[str | None, ...]  # the correlation's condition fields, in order
    agencies: tuple[str, ...]
    context: tuple[str, ...]  # JSON of each CONTEXT entry ("null" when absent)


ORDER = operator.attrgetter("at", "key", "rule")  # how a group's hits are sorted


def field_value(alert: Mapping[str, Any], name: str) -> str | None:
    """A field of the event, else a context field by its dotted path (source.ip), else a group value
    of a lower correlation."""
    value = (alert.get("event") or {}).get(name)
    if value is None:
        node: Any = alert
        try:
            for part in name.split("."):
                node = node[part]
        except (KeyError, TypeError, IndexError):
            node = ((alert.get("correlation") or {}).get("group") or {}).get(name)
        value = node
    return None if value is None or isinstance(value, dict | list) else str(value)


def alert_time(alert: Mapping[str, Any]) -> float | None:
    stamp = alert.get("@timestamp")
    return datetime.fromisoformat(stamp).timestamp() if stamp else None


def correlate(correlations: list[Correlation], rules: Iterable[CompiledRule], alerts: Iterable[Mapping[str, Any]],
              owner: Owner = single_agency) -> list[dict[str, Any]]:
    """Every correlation alert of a whole run's alerts (batch): each episode's final document."""
    correlator = Correlator(correlations, rules, owner)
    correlator.add(alerts)
    return list(correlator.advance(math.inf).values())


def hidden_rules(correlations: list[Correlation]) -> set[str]:
    """Rules whose own alerts are not raised: every correlation naming them has `generate: false`."""
    named = {ref for c in correlations for ref in c.rules}
    generated = {ref for c in correlations if c.generate for ref in c.rules}
    return named - generated


def episode_id(correlation: str, group: Mapping[str, str | None], first: str) -> str:
    """The alert id of an episode: its correlation, its group and the identity of its first event."""
    return hashlib.sha256(json.dumps([correlation, group, first], sort_keys=True).encode()).hexdigest()[:32]


class GroupStore(Protocol):
    """Where the stream keeps the groups between micro-batches (socpipe/batchstate.py KeyedBatchState):
    each group's saved form under its correlation, with the time it is next due (Windows.due)."""

    def get(self, part: str, keys: Iterable[str]) -> dict[str, bytes]: ...

    def due(self, part: str, before: float) -> dict[str, bytes]: ...


class Correlator:
    """Every correlation's groups and their open windows; `add` alerts, then `advance` the watermark.

    Batch detection keeps every group in memory. The stream gives a `store`: a micro-batch reads only the
    groups its alerts fall in and those due to be judged, and `changes` hands back what it changed, so a
    micro-batch costs what it changes, not what the state holds."""

    def __init__(self, correlations: list[Correlation], rules: Iterable[CompiledRule], owner: Owner = single_agency,
                 header: Mapping[str, Any] | None = None, store: GroupStore | None = None) -> None:
        self.correlations = correlations
        self.owner = owner
        self.store = store
        self.names = {r.id: r.name for r in rules if r.name} | {c.id: c.name for c in correlations if c.name}
        self.readers: dict[str, list[Correlation]] = {}
        # A chain's correlation judges its windows later by what its lower correlations need to settle:
        # an episode that starts at t is only known once their windows ending by t + timespan are judged.
        self.delay: dict[str, float] = {}
        for c in correlations:
            for ref in c.rules:
                self.readers.setdefault(ref, []).append(c)
            self.delay[c.id] = max((self.delay[ref] + lower.timespan for ref in c.rules
                                    if (lower := next((x for x in correlations if x.id == ref), None))),
                                   default=0.0)
        self.watermark = float((header or {}).get("watermark") or -math.inf)  # windows ending before it are judged
        self.late = 0  # alerts that came after the windows they belong to were judged: not correlated
        self.started: set[str] = set()  # alert ids of the episodes that started in the last `advance`
        self.touched: set[tuple[str, str]] = set()  # (correlation, group) that took alerts since `provisional`
        # Early alerts not judged yet: id -> {"until": watermark that judges its first window, "doc": ...}.
        self.pending: dict[str, dict[str, Any]] = dict((header or {}).get("provisional") or {})
        self.groups: dict[str, dict[str, Windows]] = {c.id: {} for c in correlations}  # with a store: those read
        self.arrived: dict[str, set[str]] = {c.id: set() for c in correlations}  # groups that took alerts
        self.changed: set[tuple[str, str]] = set()  # (correlation, group) whose saved form changed: `changes`

    def add(self, alerts: Iterable[Mapping[str, Any]]) -> None:
        hits: list[tuple[Correlation, list[str | None], str, Hit]] = []
        for alert in alerts:
            rule = alert["rule"]["id"]
            readers = self.readers.get(rule)
            at = alert_time(alert) if readers else None
            if at is None:  # read by no correlation, or without an event time (it falls in no window)
                continue
            agency = alert.get("agency") or {}
            agencies = tuple(sorted({*(agency.get("ids") or []), *([agency["id"]] if agency.get("id") else [])}))
            context = tuple(orjson.dumps(alert.get(name), option=orjson.OPT_SORT_KEYS).decode() for name in CONTEXT)
            key = (alert.get("event_meta") or {}).get("id") or alert["alert_id"]
            refs = (rule, self.names.get(rule) or rule)
            for c in readers:
                if at < self.watermark - self.delay[c.id]:
                    self.late += 1
                    continue
                group = [field_value(alert, c.field_for(name, refs)) for name in c.group_by]
                if None in group:  # an alert without a group-by field belongs to no group
                    continue
                hit = Hit(rule, at, key, alert["rule"]["level"], tuple(field_value(alert, f) for f in c.fields),
                          agencies, context)
                hits.append((c, group, orjson.dumps(group).decode(), hit))
        if self.store is not None:
            wanted: dict[str, set[str]] = {}
            for c, _, name, _ in hits:
                if name not in self.groups[c.id]:
                    wanted.setdefault(c.id, set()).add(name)
            for c in self.correlations:
                self._read(c, self.store.get(c.id, wanted.get(c.id, ())))
        for c, group, name, hit in hits:
            windows = self.groups[c.id].get(name) or self.groups[c.id].setdefault(name, Windows(c, group))
            windows.add(hit)
            self.touched.add((c.id, name))
            self.arrived[c.id].add(name)

    def _read(self, c: Correlation, saved: Mapping[str, bytes]) -> None:
        for key, data in saved.items():
            if key not in self.groups[c.id]:
                self.groups[c.id][key] = Windows.load(c, orjson.loads(data))

    def advance(self, watermark: float) -> dict[str, dict[str, Any]]:
        """Judge every window that ended before the watermark, in order; the documents of the episodes that
        started or grew, by alert id (a chain's correlations read those that started, in run order)."""
        out: dict[str, dict[str, Any]] = {}
        self.started = set()
        for c in self.correlations:
            started: list[dict[str, Any]] = []
            groups, mark = self.groups[c.id], watermark - self.delay[c.id]
            if self.store is None:
                visit = set(groups)
            else:  # in key order, as if every group were visited: those left in the store have nothing due
                due = self.store.due(c.id, mark)
                self._read(c, due)
                visit = self.arrived[c.id] | set(due)
            for key in sorted(visit):
                windows = groups[key]
                group = dict(zip(c.group_by, windows.group, strict=True))
                start = functools.partial(self._started, c, group, started)
                for episode in windows.advance(mark, start):
                    out[episode.alert_id] = episode.document(c, group, self.owner)
                if self.store is not None:
                    self.changed.add((c.id, key))
                if windows.idle:
                    del groups[key]
            self.arrived[c.id].clear()
            self.add(started)  # higher correlations of a chain read each episode once, when it starts
        self.watermark = max(self.watermark, watermark)
        for alert_id, early in list(self.pending.items()):
            if alert_id in self.started:  # confirmed
                del self.pending[alert_id]
            elif early["until"] < watermark:  # its first window was judged and started no episode
                doc = early["doc"]
                out[alert_id] = {**doc, "correlation": {**doc["correlation"], "withdrawn": True}}
                del self.pending[alert_id]
        return out

    def provisional(self) -> dict[str, dict[str, Any]]:
        """Early documents of the episodes that the groups which took alerts since the last call will
        surely have once judged (correlations whose measure only grows), by alert id: a new episode's
        marked `provisional`, an episode already judged to have started as it is; documents already given
        are not repeated. Call after `advance`."""
        out: dict[str, dict[str, Any]] = {}
        for cid, name in sorted(self.touched):
            c = next(x for x in self.correlations if x.id == cid)
            windows = self.groups[cid].get(name)
            if windows is None or not grows(c):
                continue
            if c.type in _GROWING and not c.met(measure(c, windows.hits) or 0.0):
                continue  # no window of the group meets it if all the group's hits together do not
            group = dict(zip(c.group_by, windows.group, strict=True))
            judged = windows.episode.alert_id if windows.episode else None
            for episode in windows.copy().advance(math.inf, lambda _: None):
                doc = episode.document(c, group, self.owner)
                if episode.alert_id != judged:
                    doc["correlation"]["provisional"] = True
                    if self.pending.get(episode.alert_id, {}).get("doc") == doc:
                        continue
                    self.pending[episode.alert_id] = {"until": episode.first + c.timespan + self.delay[cid],
                                                      "doc": doc}
                out[episode.alert_id] = doc
        self.touched.clear()
        return out

    def _started(self, c: Correlation, group: dict[str, str | None], started: list[dict[str, Any]],
                 episode: Episode) -> None:
        """An episode that starts: a chain reads its alert as it stands now."""
        started.append(episode.document(c, group, self.owner))
        self.started.add(episode.alert_id)

    def header(self) -> dict[str, Any]:
        """The state apart from the groups (JSON), as the constructor takes it."""
        return {"watermark": self.watermark if math.isfinite(self.watermark) else None, "provisional": self.pending}

    def changes(self) -> dict[tuple[str, str], tuple[float, bytes] | None]:
        """Each group that changed since the last call, by (correlation, group): when it is next due and
        its saved form (JSON), or None for a group that went. The groups read from the store are let go:
        the store has them now."""
        out = {(cid, key): (w.due, orjson.dumps(w.dump())) if (w := self.groups[cid].get(key)) else None
               for cid, key in self.changed}
        self.changed.clear()
        if self.store is not None:
            for groups in self.groups.values():
                groups.clear()
        return out


@dataclass
class Episode:
    """Overlapping windows that fired: one alert, grown as later windows fire."""

    alert_id: str
    first: float
    last: float
    met_at: float
    value: float
    last_end: float  # the end of the latest window that fired
    events: list[str] = field(default_factory=list)
    events_count: int = 0
    counted: tuple[float, str, str] = (-math.inf, "", "")  # the last hit counted
    agencies: list[str] = field(default_factory=list)
    level: str = "informational"
    context: list[str | None] = field(default_factory=lambda: [None] * len(CONTEXT))  # None: not seen yet

    def copy(self) -> Episode:
        return replace(self, events=list(self.events), agencies=list(self.agencies), context=list(self.context))

    def take(self, hits: list[Hit], start: int, end: int) -> None:
        """Count the hits of the window hits[start:end] that no earlier window of the episode held: those
        after the last one counted."""
        for hit in hits[bisect.bisect_right(hits, tuple(self.counted), start, end, key=ORDER):end]:
            if hit.key != self.counted[1] or hit.at != self.counted[0]:  # one event matched by two rules
                self.events_count += 1
                if len(self.events) < MAX_EVENTS:
                    self.events.append(hit.key)
            self.counted = ORDER(hit)
            self.last = max(self.last, hit.at)
            if not set(hit.agencies) <= set(self.agencies):
                self.agencies = sorted({*self.agencies, *hit.agencies})
            self.level = min(self.level, hit.level, key=LEVELS.index)
            self.context = [v if c is None else c if c == v else DIFFERENT
                            for c, v in zip(self.context, hit.context, strict=True)]

    def document(self, c: Correlation, group: dict[str, str | None], owner: Owner) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "alert_id": self.alert_id,
            "@timestamp": _iso(self.met_at),
            "rule": {"id": c.id, "title": c.title, "level": c.level or self.level, "tags": list(c.tags)},
            "correlation": {
                "type": c.type, "group": group, "first": _iso(self.first), "last": _iso(self.last),
                "timespan_seconds": c.timespan, "value": self.value, "base_rules": list(c.rules),
                "events": list(self.events), "events_count": self.events_count,
            },
            "event": dict(group),
            "event_meta": {"id": self.alert_id, "kind": "correlation", "origin": c.path},
            "agency": {"id": owner(self.agencies), "ids": list(self.agencies)},
        }
        for name, value in zip(CONTEXT, self.context, strict=True):  # shared by every event of the episode
            if value not in (None, DIFFERENT, "null"):
                doc[name] = json.loads(value)
        return doc


class Windows:
    """One group's hits not yet judged as window starts, and its open episode.

    A hit that arrives once windows up to the watermark were judged lies after every window judged (it
    is no earlier than the watermark), so judged windows never change."""

    def __init__(self, c: Correlation, group: list[str | None], hits: list[Hit] | None = None,
                 scanned: int = 0, sliding: dict[str, Any] | None = None, episode: Episode | None = None) -> None:
        self.c = c
        self.group = group
        self.hits = hits or []  # sorted by ORDER; hits[0] starts the next window to judge
        self.incoming: list[Hit] = []
        self.scanned = scanned  # hits[:scanned] are in the sliding measure
        self.sliding = _Sliding(c, **(sliding or {}))
        self.episode = episode

    def add(self, hit: Hit) -> None:
        self.incoming.append(hit)  # sorted in at the next advance: one sort for a micro-batch

    def _merge(self) -> None:
        """Take the incoming hits in order. They are no earlier than the watermark, so they sort after
        every hit already scanned into a judged window: the judged part of the list does not move."""
        if not self.incoming:
            return
        self.hits.extend(self.incoming)
        self.incoming.clear()
        self.hits.sort(key=ORDER)
        if self.c.type == "event_count":  # an event two named rules matched counts once
            self.hits[:] = [h for i, h in enumerate(self.hits)
                            if i == 0 or (h.at, h.key) != (self.hits[i - 1].at, self.hits[i - 1].key)]

    def advance(self, watermark: float, started: Callable[[Episode], None]) -> list[Episode]:
        """Judge the windows that ended before the watermark, in order; `started` sees each episode as it
        starts; returns the episodes that started or grew."""
        self._merge()
        c, hits = self.c, self.hits
        touched: list[Episode] = []
        first = 0  # hits[first] starts the window being judged
        while first < len(hits) and hits[first].at + c.timespan < watermark:
            anchor = hits[first]
            while self.scanned < len(hits) and hits[self.scanned].at <= anchor.at + c.timespan:
                self.sliding.change(hits[self.scanned], 1)
                self.scanned += 1
            value = self.sliding.value(hits, first, self.scanned)
            if value is not None and c.met(value):
                if self.episode is None or anchor.at > self.episode.last_end:
                    alert_id = episode_id(c.id, dict(zip(c.group_by, self.group, strict=True)), anchor.key)
                    self.episode = Episode(alert_id, anchor.at, anchor.at, _met_at(c, hits[first:self.scanned]),
                                           value, anchor.at + c.timespan)
                    self.episode.take(hits, first, self.scanned)
                    started(self.episode)
                    touched.append(self.episode)
                else:
                    self.episode.take(hits, first, self.scanned)
                    if not touched or touched[-1] is not self.episode:
                        touched.append(self.episode)
                self.episode.last_end = anchor.at + c.timespan
            self.sliding.change(anchor, -1)
            first += 1
        del hits[:first]
        self.scanned -= first
        if self.episode is not None and (hits[0].at if hits else watermark) > self.episode.last_end:
            self.episode = None  # closed: no window that starts in it is left to judge
        return touched

    @property
    def idle(self) -> bool:
        return not self.hits and self.episode is None

    @property
    def due(self) -> float:
        """The watermark past which `advance` has work: the end of the next window, or of the episode."""
        return self.hits[0].at + self.c.timespan if self.hits else self.episode.last_end if self.episode else math.inf

    def dump(self) -> dict[str, Any]:
        self._merge()
        # Hits and the episode are dataclasses, which orjson writes as objects (`changes`).
        return {"group": self.group, "hits": self.hits, "scanned": self.scanned, "sliding": self.sliding.dump(),
                "episode": self.episode}

    def copy(self) -> Windows:
        """A twin to judge ahead of time without changing this one: hits are immutable and shared, the
        measure and the episode are copied (a dump and load of the group cost ten times as much)."""
        self._merge()
        twin = Windows(self.c, list(self.group), list(self.hits), self.scanned, None,
                       self.episode.copy() if self.episode else None)
        twin.sliding = self.sliding.copy()
        return twin

    @classmethod
    def load(cls, c: Correlation, data: Mapping[str, Any]) -> Windows:
        hits = [Hit(**{**h, "values": tuple(h["values"]), "agencies": tuple(h["agencies"]),
                       "context": tuple(h["context"])}) for h in data["hits"]]
        episode = data["episode"]
        if episode is not None:
            episode = Episode(**{**episode, "counted": tuple(episode["counted"])})
        return cls(c, list(data["group"]), hits, data["scanned"], data["sliding"], episode)


class _Sliding:
    """The measure of the window as hits enter at its end and leave at its start: counts kept up to date
    where the measure allows it, so a group of many hits costs time in proportion to its size."""

    def __init__(self, c: Correlation, counts: list[list[Any]] | None = None, total: float = 0.0,
                 numbers: int = 0) -> None:
        self.c = c
        self.counts: dict[Any, int] = {_hashable(key): n for key, n in counts or []}  # a dict: Counter costs more
        self.total = total
        self.numbers = numbers

    def dump(self) -> dict[str, Any]:
        return {"counts": [[key, n] for key, n in self.counts.items()], "total": self.total, "numbers": self.numbers}

    def copy(self) -> _Sliding:
        twin = _Sliding(self.c, total=self.total, numbers=self.numbers)
        twin.counts = dict(self.counts)
        return twin

    def change(self, hit: Hit, sign: int) -> None:
        if self.c.type in ("value_count", "temporal"):
            item = hit.rule if self.c.type == "temporal" else None if None in hit.values else hit.values
            if item is not None:
                if n := self.counts.get(item, 0) + sign:
                    self.counts[item] = n
                else:
                    del self.counts[item]
        elif self.c.type in ("value_sum", "value_avg"):
            number = _number(hit.values[0])
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


def _hashable(key: Any) -> Any:
    """A counted item as JSON gives it back: a rule id, or a list of field values (a tuple again)."""
    return tuple(key) if isinstance(key, list) else key


def measure(c: Correlation, window: list[Hit]) -> float | None:
    """The window's figure the condition is tested on (None: the window has nothing to measure)."""
    if c.type == "event_count":
        return float(len(window))
    if c.type == "value_count":
        return float(len({h.values for h in window if None not in h.values}))
    if c.type == "temporal":
        return float(len({h.rule for h in window}))
    if c.type == "temporal_ordered":
        return float(_ordered_steps(c.rules, window))
    numbers = [n for h in window if (n := _number(h.values[0])) is not None]
    if c.type == "value_sum":
        return float(sum(numbers)) if numbers else None
    if c.type == "value_avg":
        return sum(numbers) / len(numbers) if numbers else None
    # value_percentile: the share (percent) of the window's events that carry each value; the window
    # fires when some value's share meets the condition, and the figure is the smallest such share.
    values = [h.values[0] for h in window if h.values[0] is not None]
    shares = [100.0 * n / len(values) for n in Counter(values).values()]
    meeting = [s for s in shares if c.met(s)]
    return min(meeting) if meeting else (min(shares) if shares else None)


def _ordered_steps(rules: tuple[str, ...], window: list[Hit]) -> int:
    """How many of `rules` appear in that order in the window (each step strictly later than the last)."""
    step, last = 0, -math.inf
    for hit in window:
        if step < len(rules) and hit.rule == rules[step] and hit.at > last:
            step, last = step + 1, hit.at
    return step


# Measures that never fall as hits are added: the first prefix that fires is found by bisection.
_GROWING = {"event_count", "value_count", "temporal", "temporal_ordered"}


def grows(c: Correlation) -> bool:
    """Whether a window that meets the condition keeps meeting it as alerts arrive: a growing measure (or a
    sum, whose values are taken as not negative: a negative one can withdraw an early alert) held to
    a lower bound only."""
    return c.type in _GROWING | {"value_sum"} and all(op in ("gt", "gte") for op, _ in c.condition)


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
