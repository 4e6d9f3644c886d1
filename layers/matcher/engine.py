"""Layer 1 matching: every rule of an event's log source, over a batch of events at once.

Each event is routed to the rules of its log source (cached by kind, Channel, EventID, their System values
where the event's own data used those names too, program, facility); the literal prefilter drops the rules
that cannot match; the compiled predicate of each remaining rule decides. Work goes by distinct values, since
log values repeat: a rule's predicate runs once per distinct combination of the values it reads among its
candidate events, after gates (the parts of the rule that read one field) have dropped events by one field's
values. The same Detector runs inside Spark (layers/detect.py) and in plain Python;
layers/matcher/plain_path.py is the reference it is tested against.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from layers.matcher.fieldbatch import Column, FieldBatch, distinct, group
from layers.matcher.prefilter import Prefilter, required_clauses
from rules import ir
from rules.model import CompiledRule
from rules.python_code import EventView, Predicate, compile_predicate
from socpipe.events import SYSTEM_PREFIX, Event

# The fields a route is keyed by: every field a log source's condition reads (rules/logsources.py).
ROUTING_FIELDS = ("Channel", "EventID", f"{SYSTEM_PREFIX}Channel", f"{SYSTEM_PREFIX}EventID", "program", "facility")


class Detector:
    def __init__(self, rules: list[CompiledRule]):
        self.rules = rules
        # Compiled on first use: a batch of events meets a few hundred rules of thousands. Per rule: its
        # predicate, the fields it reads (None for keyword rules, which read every value) and its gates.
        self._compiled: dict[int, tuple[Predicate, tuple[str, ...] | None, tuple[tuple[str, Predicate], ...]]] = {}
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

    def match_batch(self, kinds: pa.Array,
                    fields: pa.MapArray | FieldBatch) -> list[tuple[int, dict[str, str], list[int]]]:
        """(row, its fields, indices of the rules that match it in rule order) for each matching row. `fields`
        may come encoded already (the threat-intel matcher reads the same FieldBatch)."""
        batch = fields if isinstance(fields, FieldBatch) else FieldBatch(fields)
        bits = batch.num_rows.bit_length()  # (rule, row) pairs as one int64: rule << bits | row
        routes = self._route_rows(kinds, batch)
        rows, rules = self._prefilter.candidates(batch)
        keep = self._members[routes[rows], rules]
        pairs = [rules[keep] << bits | rows[keep]]
        for route in distinct(routes):
            always = np.flatnonzero(self._members[route] & self._always)
            if always.size:
                members = np.flatnonzero(routes == route)
                pairs.append((always[:, None] << bits | members).ravel())
        pairs = distinct(np.concatenate(pairs))  # by rule, then row
        rules, rows = pairs >> bits, pairs & ((1 << bits) - 1)
        bounds = np.flatnonzero(np.diff(rules)) + 1
        views = Views(batch)
        matched = [(self._check(int(rules[a]), rows[a:b], views), int(rules[a]))
                   for a, b in zip([0, *bounds.tolist()], [*bounds.tolist(), pairs.size], strict=True) if b > a]
        found = np.sort(np.concatenate([np.empty(0, dtype=np.int64),
                                        *(hits * len(self.rules) + rule for hits, rule in matched)]))  # by row, rule
        if not found.size:
            return []
        hit_rows, hit_rules = found // len(self.rules), (found % len(self.rules)).tolist()
        firsts = np.flatnonzero(np.concatenate(([True], hit_rows[1:] != hit_rows[:-1])))
        ends = [*firsts[1:].tolist(), found.size]
        return [(row, fields_, hit_rules[a:b]) for row, fields_, a, b in
                zip(hit_rows[firsts].tolist(), batch.records(hit_rows[firsts]), firsts.tolist(), ends, strict=True)]

    def _check(self, rule: int, rows: np.ndarray, views: Views) -> np.ndarray:
        """The rows of `rows` (candidates for `rule`) that match it. Gates, parts of the rule that read one
        field, first drop rows by that field's distinct values (few: Image, EventID, ports); then the
        predicate runs once per distinct combination of the values the rule reads."""
        if rule not in self._compiled:
            condition = self.rules[rule].condition
            names = None if ir.has_keywords(condition) else tuple(sorted(ir.fields_of(condition)))
            self._compiled[rule] = (compile_predicate(condition), names,
                                    gates(condition) if names and len(names) > 1 else ())
        (predicate, names, rule_gates), batch = self._compiled[rule], views.batch
        if names is None:  # keywords: every value of the event
            return rows[[predicate(f, (view := EventView(f)).l, view) for f in batch.records(rows)]]
        for name, gate in sorted(rule_gates, key=lambda g: len(batch.column(g[0]).distinct)):
            codes = batch.column(name).codes[rows]
            numbers, firsts = group(codes)
            if firsts.size * 2 > rows.size:
                continue  # about one value per row: cheaper to decide with the whole predicate
            seen = [views.one(name, code) for code in codes[firsts].tolist()]
            rows = rows[np.array([gate(v.f, v.l, v) for v in seen], dtype=bool)[numbers]]
            if not rows.size:
                return rows
        columns = [batch.column(name) for name in names]
        table = [column.codes[rows] for column in columns]
        keys, firsts = _combinations(table, [len(c.distinct) for c in columns], rows.size)
        if len(names) == 1:
            seen = [views.one(names[0], code) for code in table[0][firsts].tolist()]
        else:
            seen = [views.of(names, columns, combination)
                    for combination in zip(*(c[firsts].tolist() for c in table), strict=True)]
        return rows[np.array([predicate(v.f, v.l, v) for v in seen], dtype=bool)[keys]]

    def _route_rows(self, kinds: pa.Array, batch: FieldBatch) -> np.ndarray:
        """The route of each row: its kind and routing fields (a repeated field counts with its last value)."""
        kind = pc.dictionary_encode(kinds)
        columns = [batch.column(name) for name in ROUTING_FIELDS]
        codes = [kind.indices.to_numpy(zero_copy_only=False).astype(np.int64), *(c.codes for c in columns)]
        keys, firsts = _combinations(codes, [len(kind.dictionary), *(len(c.distinct) for c in columns)],
                                     batch.num_rows)
        values = [kind.dictionary.to_pylist(), *(c.values for c in columns)]
        routes = self._routes
        found = []
        for first in firsts.tolist():
            key = tuple(v[c[first]] if c[first] >= 0 else None for v, c in zip(values, codes, strict=True))
            found.append(routes[key] if key in routes else self._add_route(key))
        return np.array(found, dtype=np.int64)[keys]

    def _add_route(self, key: tuple[str | None, ...]) -> int:
        kind = key[0]
        probe = {f: v for f, v in zip(ROUTING_FIELDS, key[1:], strict=True) if v is not None}
        view = EventView(probe)
        # A rule checked on every event is left out of a route where its condition is false on the routing
        # fields alone (e.g. a Sysmon rule on EventID 16 for the route of EventID 1).
        applies = {s: s.kind == kind and test(probe, view.l, view) for s, test in self._source_tests.items()}
        members = [any(applies[s] for s in r.sources)
                   and not (self._always[i] and fold_routing(r.condition, probe) == ir.Const(False))
                   for i, r in enumerate(self.rules)]
        self._members = np.vstack([self._members, np.array(members, dtype=bool)])
        route = self._routes[key] = len(self._routes)
        return route



class Views:
    """Events as compiled rules see them, built from a batch's value codes (-1: without the field) with the
    values lowercased once per batch; one-field views are shared by every rule reading only that field."""

    def __init__(self, batch: FieldBatch):
        self.batch = batch
        self._one: dict[tuple[str, int], EventView] = {}

    def one(self, name: str, code: int) -> EventView:
        view = self._one.get((name, code))
        if view is None:
            view = self._one[name, code] = self.of((name,), [self.batch.column(name)], (code,))
        return view

    @staticmethod
    def of(names: tuple[str, ...], columns: list[Column], codes: tuple[int, ...]) -> EventView:
        f, lowered = {}, {}
        for name, column, code in zip(names, columns, codes, strict=True):
            if code >= 0:
                f[name], lowered[name] = column.values[code], column.lowered_values[code]
        view = EventView(f)
        view.l.update(lowered)
        return view


def gates(node: ir.Node) -> tuple[tuple[str, Predicate], ...]:
    """For each field that arguments of the rule's top AND read alone, those arguments as a predicate:
    false on an event's value of the field, the rule is false on the event."""
    by_field: dict[str, list[ir.Node]] = {}
    for arg in node.args if isinstance(node, ir.And) else (node,):
        names = ir.fields_of(arg)
        if len(names) == 1 and not ir.has_keywords(arg):
            by_field.setdefault(next(iter(names)), []).append(arg)
    return tuple((name, compile_predicate(ir.and_(args))) for name, args in sorted(by_field.items()))


def _combinations(codes: list[np.ndarray], sizes: list[int], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Number the distinct rows of an n-row table of value codes (column j: -1 missing, else below
    sizes[j]): (the number of each row, a row of each number)."""
    keys = np.zeros(n, dtype=np.int64)
    radix = 1
    for c, size in zip(codes, sizes, strict=True):
        if radix * (size + 1) >= 1 << 62:  # renumber densely before the key would overflow
            keys, firsts = group(keys)
            radix = firsts.size
        keys = keys * (size + 1) + c + 1
        radix *= size + 1
    if n == 1 or not codes:
        return np.zeros(n, dtype=np.int64), np.zeros(min(n, 1), dtype=np.int64)
    return group(keys)


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
    from rules.compiler import load_rules  # pySigma: not needed where rules arrive compiled (Spark workers)

    ruleset = load_rules(rule_paths)
    detector = Detector(ruleset.rules)
    return [{detector.rules[i].id for i in detector.match(e.kind, e.fields)} for e in events]
