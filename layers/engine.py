"""Layer 1 matching: every rule of an event's log source, in one pass over the event.

An event is routed once to the rules of its log source (cached by kind, Channel, EventID, program,
facility), the literal prefilter drops the rules that cannot match, and the compiled predicate of each
remaining rule decides. The same Detector runs inside Spark (layers/detect.py) and in plain Python.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from layers.prefilter import Prefilter, required_literals
from rules import ir
from rules.compiler import CompiledRule, load_rules
from rules.logsources import Source
from rules.python_code import EventView, compile_predicate
from socpipe.events import Event

ROUTING_FIELDS = ("Channel", "EventID", "program", "facility")


@dataclass(frozen=True, slots=True)
class Route:
    always: tuple[int, ...]  # rules with no required literal: checked on every event of the route
    prefilter: Prefilter


class Detector:
    def __init__(self, rules: list[CompiledRule]):
        self.rules = rules
        self.predicates = [compile_predicate(r.condition) for r in rules]
        self.literals = [required_literals(r.condition) for r in rules]
        sources = {s for r in rules for s in r.sources}
        self._source_tests = {s: compile_predicate(ir.and_(s.condition())) for s in sources}
        self._routes: dict[tuple[str | None, ...], Route] = {}
        self._prefilters: dict[frozenset[int], Route] = {}

    def match(self, kind: str, fields: dict[str, str]) -> list[int]:
        """Indices (into `rules`) of the rules that match this event, in rule order."""
        key = (kind, *(fields.get(f) for f in ROUTING_FIELDS))
        route = self._routes.get(key)
        if route is None:
            route = self._routes[key] = self._route(kind, key)
        view = EventView(fields)
        candidates = set(route.always)
        candidates |= route.prefilter.candidates(view)
        predicates = self.predicates
        return [i for i in sorted(candidates) if predicates[i](fields, view.l, view)]

    def _route(self, kind: str, key: tuple[str | None, ...]) -> Route:
        probe = {f: v for f, v in zip(ROUTING_FIELDS, key[1:], strict=True) if v is not None}
        view = EventView(probe)
        members = frozenset(
            i for i, r in enumerate(self.rules)
            if any(self._applies(s, kind, probe, view) for s in r.sources)
        )
        route = self._prefilters.get(members)
        if route is None:
            always = tuple(sorted(i for i in members if self.literals[i] is None))
            prefilter = Prefilter({i: self.literals[i] for i in members if self.literals[i] is not None})
            route = self._prefilters[members] = Route(always, prefilter)
        return route

    def _applies(self, source: Source, kind: str, probe: dict[str, str], view: EventView) -> bool:
        return source.kind == kind and self._source_tests[source](probe, view.l, view)


def fallback_count(rules: list[CompiledRule]) -> int:
    """Rules the prefilter cannot narrow down: checked on every event of their log source."""
    return sum(1 for r in rules if required_literals(r.condition) is None)


def match_events(rule_paths: list[Path], events: Iterable[Event]) -> list[set[str]]:
    """The rule ids matched per event: the small entry point tests and tools use."""
    ruleset = load_rules(rule_paths)
    detector = Detector(ruleset.rules)
    return [{detector.rules[i].id for i in detector.match(e.kind, e.fields)} for e in events]
