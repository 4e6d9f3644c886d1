"""Tuning as code, loaded from the rule paths: Sigma meta filters and per-rule suppression.

A Sigma filter (specification v2.1: a document with `filter: {rules, <selections>, condition}`) adds its
condition to the named rules: an alert of such a rule stands only when the filter's condition holds on its
event. socpipe does not rewrite the rules (pySigma's own way): it compiles the filter's condition alone,
so that alerting/ can count and record every alert a filter takes away instead of never raising it.

Per-rule suppression is the rule's own custom key (or configuration, see alerting/tuning.py):

    socpipe:
      suppress:
        group_by: [source.ip]   # alert fields (dotted) or the event's native fields
        duration: 10m           # s, m, h, d, or a number of seconds

A filter or a suppression that cannot be used is reported by id and reason, like a rule that fails.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from sigma.collection import SigmaCollection
from sigma.exceptions import SigmaError, SigmaRuleLocation
from sigma.filters import SigmaFilter
from sigma.rule import SigmaRule

from rules import ir
from rules.model import CompiledRule, RuleFailure, RuleSet
from rules.sigma_ir import IRBackend

_HAS_FILTER = re.compile(r"^filter:", re.MULTILINE)
_HAS_TUNING = re.compile(r"^(socpipe|name):", re.MULTILINE)
_SPAN = re.compile(r"^(\d+)([smhd])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True, slots=True)
class CompiledFilter:
    """A filter's condition, to be true on the event of an alert of one of `rule_ids` for it to stand."""

    id: str
    title: str
    path: str
    rule_ids: tuple[str, ...]
    condition: ir.Node


@dataclass(frozen=True, slots=True)
class Suppression:
    """Repeats of a rule with the same `group_by` values within `seconds` are suppressed."""

    group_by: tuple[str, ...]
    seconds: int


def duration_seconds(value: Any) -> int:
    """A Sigma timespan (`30s`, `10m`, `2h`, `1d`) or a number of seconds, as whole seconds > 0."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return int(value)
    match = _SPAN.match(str(value).strip())
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"duration {value!r} is not a timespan such as 30s, 10m, 2h or 1d")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def suppression(spec: Any) -> Suppression:
    """A suppression from its YAML (`{group_by: [...], duration: ...}`); ValueError says what is wrong."""
    if not isinstance(spec, dict) or set(spec) - {"group_by", "duration"} or "duration" not in spec:
        raise ValueError("suppress takes group_by (a list of fields) and duration")
    group_by = spec.get("group_by", [])
    if isinstance(group_by, str):
        group_by = [group_by]
    if not isinstance(group_by, list) or not all(isinstance(f, str) and f for f in group_by):
        raise ValueError("suppress.group_by must be a list of field names")
    return Suppression(tuple(group_by), duration_seconds(spec["duration"]))


def load_tuning(files: Iterable[Path], result: RuleSet, backend: IRBackend) -> None:
    """Fill `result.filters` and `result.suppressions` from the rule files (after the rules compiled, so
    filters can name them); every filter or suppression that cannot be used goes to `result.failures`."""
    texts = {}
    for path in files:
        try:
            texts[path] = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue  # the rule loader has reported this file already
    names: dict[str, str] = {}
    rules = result.by_id()
    for path, text in texts.items():
        if _HAS_TUNING.search(text):
            _rule_keys(path, text, names, rules, result)
    for path, text in texts.items():
        if _HAS_FILTER.search(text):
            _filters(path, text, names, rules, result, backend)


def _documents(text: str) -> list[dict[str, Any]]:
    try:
        return [d for d in yaml.safe_load_all(text) if isinstance(d, dict)]
    except yaml.YAMLError:
        return []  # reported by the rule loader


def _rule_keys(path: Path, text: str, names: dict[str, str], rules: dict[str, CompiledRule],
               result: RuleSet) -> None:
    """Rule names (filters may name rules by `name`) and `socpipe.suppress` keys of compiled rules."""
    for doc in _documents(text):
        rule_id = str(doc.get("id", "?"))
        if rule_id not in rules:
            continue  # not compiled: already reported as a failed rule
        if isinstance(doc.get("name"), str):
            names[doc["name"]] = rule_id
        custom = doc.get("socpipe")
        if custom is None:
            continue
        try:
            if not isinstance(custom, dict) or set(custom) - {"suppress"}:
                raise ValueError("the socpipe key takes only `suppress`")
            result.suppressions[rule_id] = suppression(custom["suppress"])
        except ValueError as e:
            result.failures.append(RuleFailure(rule_id, str(path), f"socpipe.suppress: {e}"))


def _filters(path: Path, text: str, names: dict[str, str], rules: dict[str, CompiledRule], result: RuleSet,
             backend: IRBackend) -> None:
    try:
        collection = SigmaCollection.from_yaml(text, collect_errors=True, source=SigmaRuleLocation(path),
                                               collect_filters=True, resolve_references=False)
    except SigmaError as e:
        result.failures.append(RuleFailure("?", str(path), f"filter: {str(e).splitlines()[0]}"))
        return
    for item in collection.filters:
        if item.errors:
            continue  # pySigma's own errors: rules/compiler.py reports them with the file's other errors
        try:
            result.filters.append(compile_filter(item, names, rules, backend))
        except (SigmaError, ValueError, NotImplementedError) as e:
            result.failures.append(RuleFailure(str(item.id), str(path), f"filter: {str(e).strip().splitlines()[0]}"))


def compile_filter(item: SigmaFilter, names: dict[str, str], rules: dict[str, CompiledRule],
                   backend: IRBackend) -> CompiledFilter:
    """The filter's condition as IR and the ids of the rules it applies to; raises with the reason."""
    targets = _targets(item, names, rules)
    spec = item.to_dict()
    detection = {k: v for k, v in spec["filter"].items() if k != "rules"}
    as_rule = SigmaRule.from_dict({"title": item.title or "filter", "id": str(item.id),
                                   "logsource": spec["logsource"], "detection": detection})
    return CompiledFilter(str(item.id), item.title or "", str(item.source.path) if item.source else "",
                          targets, ir.or_(backend.convert_rule(as_rule)))


def _targets(item: SigmaFilter, names: dict[str, str], rules: dict[str, CompiledRule]) -> tuple[str, ...]:
    """The rule ids a filter names (by id or name), each with the filter's log source."""
    wanted = item.logsource
    if isinstance(item.filter.rules, str):
        if item.filter.rules.lower() != "any":
            raise ValueError(f"rules must be a list or `any`, not {item.filter.rules!r}")
        return tuple(r.id for r in rules.values() if _same_source(r, wanted))
    found = []
    for reference in item.filter.rules:
        name = str(reference.reference)
        rule = rules.get(names.get(name, name))
        if rule is None:
            raise ValueError(f"names unknown rule {name!r}")
        if not _same_source(rule, wanted):
            raise ValueError(f"rule {name!r} has log source {rule.logsource}, not the filter's")
        found.append(rule.id)
    if not found:
        raise ValueError("names no rule")
    return tuple(found)


def _same_source(rule: CompiledRule, wanted: Any) -> bool:
    """Sigma's rule: every part the filter's log source gives equals the rule's."""
    return all(w is None or w == r for w, r in zip((wanted.product, wanted.category, wanted.service),
                                                   rule.logsource, strict=True))
