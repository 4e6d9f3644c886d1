"""Sigma correlation rules (specification v2.1): parsed and checked here, evaluated by layers/correlate.py.

pySigma 1.5's correlation parser falls short of the specification (it rejects a range such as `gte`
with `lte`, and knows no `value_sum`, `value_avg`, `value_percentile` or `neq`), so correlation documents
are read from the YAML by this module; docs/correlation.md says exactly what each key means here.
Every problem is a RuleFailure naming the correlation by id and saying why; nothing is dropped silently.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from rules.model import CompiledRule, RuleFailure

TYPES = ("event_count", "value_count", "temporal", "temporal_ordered", "value_sum", "value_avg",
         "value_percentile")
_NEEDS_FIELD = {"value_count", "value_sum", "value_avg", "value_percentile"}
_NEEDS_CONDITION = {"event_count", *_NEEDS_FIELD}
OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le, "eq": operator.eq, "neq": operator.ne}
_TIMESPAN = re.compile(r"^(\d+)([smhd])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
LEVELS = ("informational", "low", "medium", "high", "critical")


class CorrelationError(ValueError):
    """A correlation document that breaks the specification; the message is the reason reported."""


@dataclass(frozen=True, slots=True)
class Correlation:
    """One correlation rule, its references still as written (ids or names)."""

    id: str
    name: str | None
    title: str
    type: str
    rules: tuple[str, ...]
    group_by: tuple[str, ...]
    timespan: float  # seconds
    condition: tuple[tuple[str, float], ...]  # (operator, value), all must hold
    fields: tuple[str, ...]  # `condition.field`: one or more (value_count) field names
    aliases: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]  # alias -> ((rule name, field), ...)
    generate: bool
    level: str | None
    tags: tuple[str, ...]
    path: str

    def met(self, value: float) -> bool:
        return all(OPERATORS[op](value, limit) for op, limit in self.condition)

    def field_for(self, group_field: str, rule_names: Iterable[str]) -> str:
        """The event field a group-by name stands for in an event of the rule with these names/ids."""
        for alias, by_rule in self.aliases:
            if alias == group_field:
                mapping = dict(by_rule)
                for name in rule_names:
                    if name in mapping:
                        return mapping[name]
        return group_field


def parse(doc: Mapping[str, Any], path: str) -> Correlation:
    """A correlation document (a YAML mapping with a `correlation` key); raises CorrelationError."""
    body = doc.get("correlation")
    if not isinstance(body, Mapping):
        raise CorrelationError("`correlation` must be a mapping")
    kind = body.get("type")
    if kind not in TYPES:
        raise CorrelationError(f"unknown correlation type {kind!r} (one of {', '.join(TYPES)})")
    rules = _strings(body.get("rules"), "rules")
    if not rules:
        raise CorrelationError("`rules` must name at least one rule")
    group_by = _strings(body.get("group-by", []), "group-by")
    timespan = _timespan(body.get("timespan"))
    condition, fields = _condition(kind, body.get("condition"), len(rules))
    level = doc.get("level")
    if level is not None and level not in LEVELS:
        raise CorrelationError(f"unknown level {level!r}")
    generate = body.get("generate", False)
    if not isinstance(generate, bool):
        raise CorrelationError("`generate` must be true or false")
    return Correlation(
        id=str(doc.get("id") or ""), name=doc.get("name"), title=str(doc.get("title") or ""), type=kind,
        rules=rules, group_by=group_by, timespan=timespan, condition=condition, fields=fields,
        aliases=_aliases(body.get("aliases")), generate=generate, level=level,
        tags=tuple(str(t) for t in doc.get("tags") or ()), path=path)


def resolve(correlations: list[Correlation], rules: list[CompiledRule],
            failures: list[RuleFailure]) -> list[Correlation]:
    """Correlations whose references all resolve (by id or name, to rules or other correlations, with no
    cycle), their references rewritten as ids and ordered so each comes after what it reads; the others
    become failures."""
    names = {r.name: r.id for r in rules if r.name} | {c.name: c.id for c in correlations if c.name}
    known = {r.id for r in rules}
    by_id = {c.id: c for c in correlations}
    resolved: dict[str, Correlation] = {}
    for c in correlations:
        if not c.id:
            failures.append(RuleFailure("?", c.path, f"correlation {c.title!r} has no id"))
            continue
        ids = tuple(names.get(ref, ref) for ref in c.rules)
        unknown = [ref for ref, i in zip(c.rules, ids, strict=True) if i not in known and i not in by_id]
        if unknown:
            failures.append(RuleFailure(c.id, c.path, f"unknown rule {', '.join(map(repr, unknown))} in `rules` "
                                                      "(no loaded rule or correlation has that id or name)"))
            continue
        resolved[c.id] = _with_rules(c, ids)
    ordered: list[Correlation] = []
    done: set[str] = set()
    failed: set[str] = set()

    def visit(cid: str, trail: tuple[str, ...]) -> bool:
        """Place a correlation after the correlations it reads; False when it cannot run."""
        c = resolved.get(cid)
        if cid in done or c is None or cid in failed:
            return cid in done
        if cid in trail:
            failures.append(RuleFailure(cid, c.path, "correlation chain loops back on itself: "
                                        + " -> ".join((*trail, cid))))
            failed.add(cid)
            return False
        if not all([visit(ref, (*trail, cid)) for ref in c.rules if ref not in known]):
            if cid not in failed:
                failures.append(RuleFailure(cid, c.path, "reads a correlation that failed"))
                failed.add(cid)
            return False
        done.add(cid)
        ordered.append(c)
        return True

    for cid in resolved:
        visit(cid, ())
    return ordered


def _with_rules(c: Correlation, ids: tuple[str, ...]) -> Correlation:
    """The correlation with resolved references; alias keys (rule names) are kept, ids added beside them."""
    return Correlation(**{**{f: getattr(c, f) for f in Correlation.__slots__}, "rules": ids})


def _strings(value: Any, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CorrelationError(f"`{key}` must be a name or a list of names")
    return tuple(value)


def _timespan(value: Any) -> float:
    match = _TIMESPAN.match(str(value or ""))
    if not match:
        raise CorrelationError(f"`timespan` {value!r} is not a number and one of s, m, h, d (e.g. 10m)")
    seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds <= 0:
        raise CorrelationError("`timespan` must be longer than zero")
    return float(seconds)


def _condition(kind: str, value: Any, rule_count: int) -> tuple[tuple[tuple[str, float], ...], tuple[str, ...]]:
    if value is None:
        if kind in _NEEDS_CONDITION:
            raise CorrelationError(f"{kind} needs a `condition`")
        # temporal: every rule must appear (the specification's default)
        return (("gte", float(rule_count)),), ()
    if not isinstance(value, Mapping):
        raise CorrelationError("`condition` must be a mapping such as {gte: 10}")
    unknown = set(value) - set(OPERATORS) - {"field"}
    if unknown:
        raise CorrelationError(f"unknown key {', '.join(sorted(map(str, unknown)))} in `condition` "
                               f"(operators: {', '.join(OPERATORS)}, and `field`)")
    fields: tuple[str, ...] = ()
    if "field" in value:
        if kind not in _NEEDS_FIELD:
            raise CorrelationError(f"{kind} takes no `field` in its condition")
        fields = _strings(value["field"], "condition.field")
        if len(fields) > 1 and kind != "value_count":
            raise CorrelationError(f"{kind} takes one `field`, not a list")
    elif kind in _NEEDS_FIELD:
        raise CorrelationError(f"{kind} needs `field` in its condition")
    limits = []
    for op in OPERATORS:
        if op in value:
            limit = value[op]
            if isinstance(limit, bool) or not isinstance(limit, int | float):
                raise CorrelationError(f"`condition.{op}` must be a number")
            limits.append((op, float(limit)))
    if not limits:
        raise CorrelationError("`condition` needs an operator (gt, gte, lt, lte, eq, neq)")
    if len(limits) > 2 or (len(limits) == 2 and not _is_range(limits)):
        raise CorrelationError("`condition` holds one operator, or a range of a lower (gt/gte) and an upper "
                               "(lt/lte) bound")
    return tuple(limits), fields


def _is_range(limits: list[tuple[str, float]]) -> bool:
    ops = {op for op, _ in limits}
    return len(ops & {"gt", "gte"}) == 1 and len(ops & {"lt", "lte"}) == 1


def _aliases(value: Any) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
    if value is None:
        return ()
    if not isinstance(value, Mapping) or not all(isinstance(m, Mapping) for m in value.values()):
        raise CorrelationError("`aliases` must map each alias to {rule name: field}")
    return tuple((str(alias), tuple((str(rule), str(field)) for rule, field in by_rule.items()))
                 for alias, by_rule in value.items())
