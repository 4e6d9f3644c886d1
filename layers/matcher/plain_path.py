"""The plain compiled path: for each event, the compiled predicate of every rule of its log source.

No route cache, no literal prefilter, no columnar work, no substring guards before regexes: the same
compiler's Python output applied the obvious way, one event at a time. It is the reference the Detector is
held to on large corpora (the Spark SQL path in layers/matcher/sql_path.py is the other reference, affordable on
small samples only).
"""

from __future__ import annotations

from collections import defaultdict

from rules import ir
from rules.logsources import Source
from rules.model import CompiledRule
from rules.python_code import EventView, Predicate, compile_predicate


class PlainMatcher:
    def __init__(self, rules: list[CompiledRule]):
        self.rules = rules
        by_sources: dict[tuple[Source, ...], list[int]] = defaultdict(list)
        for i, r in enumerate(rules):
            by_sources[r.sources].append(i)
        all_sources = {s for r in rules for s in r.sources}
        tests = {s: compile_predicate(ir.and_(s.condition()), guards=False) for s in all_sources}
        self._groups: list[tuple[list[tuple[str, Predicate]], list[tuple[int, Predicate]]]] = [
            ([(s.kind, tests[s]) for s in sources],
             [(i, compile_predicate(rules[i].condition, guards=False)) for i in members])
            for sources, members in by_sources.items()
        ]

    def match(self, kind: str, fields: dict[str, str]) -> list[int]:
        """Indices (into `rules`) of the rules that match this event, in rule order."""
        view = EventView(fields)
        lowered = view.l
        matched: list[int] = []
        for sources, members in self._groups:
            if any(k == kind and test(fields, lowered, view) for k, test in sources):
                matched.extend(i for i, predicate in members if predicate(fields, lowered, view))
        return sorted(matched)
