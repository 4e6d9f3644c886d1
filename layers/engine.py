"""Layer 1 matching: every rule of an event's log source, in one pass over the event.

An event is routed once to the rules of its log source (cached by kind, Channel, EventID, program,
facility), the literal prefilter drops the rules that cannot match, and the compiled predicate of each
remaining rule decides. The same Detector runs inside Spark (layers/detect.py) and in plain Python.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pyarrow as pa

from layers.fieldbatch import FieldBatch, distinct
from layers.prefilter import Prefilter, required_clauses
from rules import ir
from rules.compiler import CompiledRule, load_rules
from rules.logsources import Source
from rules.python_code import EventView, compile_predicate
from socpipe.events import Event

ROUTING_FIELDS = ("Channel", "EventID", "program", "facility")


class Detector:
    def __init__(self, rules: list[CompiledRule]):
        self.rules = rules
        self.predicates = [compile_predicate(r.condition) for r in rules]
        clauses = [required_clauses(r.condition) for r in rules]
        self._always = np.array([not c for c in clauses])  # checked on every event of their source
        self._prefilter = Prefilter({i: c for i, c in enumerate(clauses) if c})
        sources = {s for r in rules for s in r.sources}
        self._source_tests = {s: compile_predicate(ir.and_(s.condition())) for s in sources}
        self._routes: dict[tuple[str | None, ...], int] = {}
        self._members = np.zeros((0, len(rules)), dtype=bool)  # route -> the rules of its log sources

    def match(self, kind: str, fields: dict[str, str]) -> list[int]:
        """Indices (into `rules`) of the rules that match this event, in rule order."""
        batch = pa.array([list(fields.items())], pa.map_(pa.string(), pa.string()))
        return next((rules for _, _, rules in self.match_batch(pa.array([kind], pa.string()), batch)), [])

    def match_batch(self, kinds: pa.Array, fields: pa.MapArray) -> list[tuple[int, dict[str, str], list[int]]]:
        """(row, its fields, indices of the rules that match it in rule order) for each matching row."""
        batch = FieldBatch(fields)
        routes = self._route_rows(kinds.to_pylist(), batch)
        rows, rules = self._prefilter.candidates(batch)
        keep = self._members[routes[rows], rules]
        pairs = [rows[keep] * len(self.rules) + rules[keep]]
        for route in np.unique(routes):
            always = np.flatnonzero(self._members[route] & self._always)
            if always.size:
                members = np.flatnonzero(routes == route)
                pairs.append((members[:, None] * len(self.rules) + always).ravel())
        pairs = distinct(np.concatenate(pairs))
        candidate_rows, firsts = np.unique(pairs // len(self.rules), return_index=True)
        candidate_rules = (pairs % len(self.rules)).tolist()
        bounds = [*firsts.tolist(), len(pairs)]
        predicates = self.predicates
        matched = []
        for k, (row, fields_) in enumerate(zip(candidate_rows.tolist(), batch.records(candidate_rows), strict=True)):
            view = EventView(fields_)
            lowered = view.l
            hits = [i for i in candidate_rules[bounds[k]:bounds[k + 1]] if predicates[i](fields_, lowered, view)]
            if hits:
                matched.append((row, fields_, hits))
        return matched

    def _route_rows(self, kinds: list[str], batch: FieldBatch) -> np.ndarray:
        """The route of each row: its kind and routing fields (a repeated field counts with its last value)."""
        columns: list[list[str | None]] = []
        for name in ROUTING_FIELDS:
            column: list[str | None] = [None] * batch.num_rows
            positions = batch.positions(name)
            for row, value in zip(batch.row_of[positions].tolist(), batch.values.take(positions).to_pylist(),
                                  strict=True):
                column[row] = value
            columns.append(column)
        routes = self._routes
        return np.array([routes[key] if key in routes else self._add_route(key)
                         for key in zip(kinds, *columns, strict=True)], dtype=np.int64)

    def _add_route(self, key: tuple[str | None, ...]) -> int:
        kind = key[0]
        probe = {f: v for f, v in zip(ROUTING_FIELDS, key[1:], strict=True) if v is not None}
        view = EventView(probe)
        # A rule checked on every event is left out of a route where its condition is false on the routing
        # fields alone (e.g. a Sysmon rule on EventID 16 for the route of EventID 1).
        members = [any(self._applies(s, kind, probe, view) for s in r.sources)
                   and not (self._always[i] and fold_routing(r.condition, probe) == ir.Const(False))
                   for i, r in enumerate(self.rules)]
        self._members = np.vstack([self._members, np.array(members, dtype=bool)])
        route = self._routes[key] = len(self._routes)
        return route

    def _applies(self, source: Source, kind: str, probe: dict[str, str], view: EventView) -> bool:
        return source.kind == kind and self._source_tests[source](probe, view.l, view)


def fold_routing(node: ir.Node, probe: dict[str, str]) -> ir.Node:
    """`node` with the leaves that read only a routing field decided by that field's value in `probe`,
    which every event of the route shares. Exists and cased strings other than non-empty equalities are
    left alone: they tell a field present with a null value from a missing one, and the route does not."""
    match node:
        case ir.And(args):
            return ir.and_([fold_routing(a, probe) for a in args])
        case ir.Or(args):
            return ir.or_([fold_routing(a, probe) for a in args])
        case ir.Not(arg):
            return ir.not_(fold_routing(arg, probe))
        case ir.Str(field, op, value, cased) if field in ROUTING_FIELDS and (not cased or (op == ir.EQ and value)):
            return _decided(node, probe)
        case ir.Regex(field, _, _) | ir.Compare(field, _, _) | ir.Cidr(field, _) | ir.Null(field) \
                if field in ROUTING_FIELDS:
            return _decided(node, probe)
    return node


def _decided(leaf: ir.Node, probe: dict[str, str]) -> ir.Const:
    view = EventView(probe)
    return ir.Const(bool(compile_predicate(leaf)(probe, view.l, view)))


def fallback_count(rules: list[CompiledRule]) -> int:
    """Rules the prefilter cannot narrow down: checked on every event of their log source."""
    return sum(1 for r in rules if not required_clauses(r.condition))


def match_events(rule_paths: list[Path], events: Iterable[Event]) -> list[set[str]]:
    """The rule ids matched per event: the small entry point tests and tools use."""
    ruleset = load_rules(rule_paths)
    detector = Detector(ruleset.rules)
    return [{detector.rules[i].id for i in detector.match(e.kind, e.fields)} for e in events]
