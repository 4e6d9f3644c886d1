"""Literal prefilter: which rules could possibly match an event, found with one Aho-Corasick scan per field.

For each rule we derive a set of (field, literal) pairs such that the rule can only be true when at
least one literal occurs in that field's lowercased value. Rules with no such set are checked on every
event of their log source. The exact compiled predicate always decides: the prefilter only skips rules
that cannot match, so it never changes a result.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import ahocorasick

from rules import ir

MIN_LITERAL = 3  # shorter literals hit nearly every event and would only cost time

Literals = frozenset[tuple[str, str]]


def required_literals(node: ir.Node) -> Literals | None:
    """(field, literal) pairs of which one must occur if `node` is true; None when there is no such set."""
    match node:
        case ir.Str(None, _, _, _):
            return None
        case ir.Str(field, op, value, cased):
            if cased and not value.isascii():
                return None  # lowercasing non-ASCII text is not always per character
            literal = _longest_run(value) if op == ir.LIKE else value.lower()
            return frozenset({(field, literal)}) if len(literal) >= MIN_LITERAL else None
        case ir.And(args):
            options = [s for s in (required_literals(a) for a in args) if s is not None]
            return max(options, key=_selectivity) if options else None
        case ir.Or(args):
            union: set[tuple[str, str]] = set()
            for a in args:
                s = required_literals(a)
                if s is None:
                    return None
                union |= s
            return frozenset(union)
    return None


def _selectivity(literals: Literals) -> tuple[int, int]:
    """Prefer sets whose shortest literal is long (rare), then sets with fewer literals."""
    return (min(len(lit) for _, lit in literals), -len(literals))


def _longest_run(pattern: str) -> str:
    """The longest wildcard-free run of a LIKE pattern, unescaped and lowercased."""
    runs, current = [], []
    chars = iter(pattern)
    for c in chars:
        if c == "\\":
            current.append(next(chars, "\\"))
        elif c in "*?":
            runs.append("".join(current))
            current = []
        else:
            current.append(c)
    runs.append("".join(current))
    return max(runs, key=len).lower()


class Prefilter:
    """Per-field automata over the literals of a set of rules (indices into the caller's rule list)."""

    def __init__(self, literals: dict[int, Literals]):
        by_field: dict[str, dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
        for rule, pairs in literals.items():
            for field, literal in pairs:
                by_field[field][literal].add(rule)
        self.automata: list[tuple[str, ahocorasick.Automaton]] = []
        for field, table in sorted(by_field.items()):
            automaton = ahocorasick.Automaton()
            for literal, rules in table.items():
                automaton.add_word(literal, tuple(sorted(rules)))
            automaton.make_automaton()
            self.automata.append((field, automaton))

    def candidates(self, lowered: dict[str, str], present: Iterable[str]) -> set[int]:
        """Rules with at least one literal found in the event (`present`: the event's field names)."""
        names = set(present)
        hits: set[int] = set()
        for field, automaton in self.automata:
            if field in names:
                for _, rules in automaton.iter(lowered[field]):
                    hits.update(rules)
        return hits
