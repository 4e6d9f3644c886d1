"""Literal prefilter: which rules could possibly match an event, found with Aho-Corasick scans.

For each rule we derive a set of literals such that the rule can only be true when at least one of
them occurs, lowercased, in its field (or, for keywords, in any field). Rules with no such set are
checked on every event of their log source. The exact compiled predicate always decides: the
prefilter only skips rules that cannot match, so it never changes a result.
"""

from __future__ import annotations

import re
import re._constants as sre
import re._parser as sre_parse
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

import ahocorasick

from rules import ir
from rules.python_code import EventView

MIN_LITERAL = 3  # shorter literals hit nearly every event and would only cost time
ANY_FIELD = ""  # the field of keyword literals: they may occur in any value
NON_ASCII = "\x00non-ascii"  # a short non-ASCII literal: all it proves is a non-ASCII value (emoji rules)


@dataclass(frozen=True, slots=True)
class Literal:
    """`text` must occur in the lowercased `field`.

    `from_regex`: the literal comes from a regular expression, where case-insensitive matching also
    folds a few non-ASCII letters onto ASCII ones (e.g. the Kelvin sign onto k); such literals only
    prove anything about ASCII values.
    """

    field: str
    text: str
    from_regex: bool = False


Requirement = frozenset[Literal]


def required_literals(node: ir.Node) -> Requirement | None:
    """Literals of which one must occur if `node` is true; None when there is no such set."""
    match node:
        case ir.Str(field, op, value, cased):
            if cased and not value.isascii():
                return None  # lowercasing non-ASCII text is not always per character
            text = _longest_run(value) if op == ir.LIKE else value.lower()
            if len(text) < MIN_LITERAL and not text.isascii():
                text = NON_ASCII
            return frozenset({Literal(field or ANY_FIELD, text)}) if len(text) >= MIN_LITERAL else None
        case ir.Regex(field, pattern, _):
            texts = regex_literals(pattern)
            return frozenset(Literal(field or ANY_FIELD, t, True) for t in texts) if texts else None
        case ir.And(args):
            return _best([required_literals(a) for a in args])
        case ir.Or(args):
            union: set[Literal] = set()
            for a in args:
                s = required_literals(a)
                if s is None:
                    return None
                union |= s
            return frozenset(union)
    return None


def _best(options: list[frozenset | None], text: Callable[[Any], str] = attrgetter("text")) -> frozenset | None:
    """Of several sufficient requirements, the one most likely to rule an event out: prefer sets whose
    shortest literal is long (rare), then sets with fewer literals."""
    found = [o for o in options if o]
    return max(found, key=lambda o: (min(len(text(x)) for x in o), -len(o))) if found else None


def _longest_run(pattern: str) -> str:
    """The longest text run of a LIKE pattern, lowercased."""
    texts = [p for p in ir.like_parts(pattern) if not isinstance(p, ir.Wildcard)]
    return max(texts, key=len, default="").lower()


def regex_literals(pattern: str) -> frozenset[str] | None:
    """Lowercased ASCII strings of which one occurs in every match of `pattern`, or None."""
    try:
        return _sequence(list(sre_parse.parse(pattern)))
    except (re.error, RecursionError):
        return None


def _sequence(items: list) -> frozenset[str] | None:
    """Best requirement of a concatenation: a run of literals, or a mandatory group or alternation."""
    options: list[frozenset[str] | None] = []
    run: list[str] = []

    def end_run() -> None:
        if len(run) >= MIN_LITERAL:
            options.append(frozenset({"".join(run)}))
        run.clear()

    for op, av in items:
        if op is sre.LITERAL and chr(av).isascii():
            run.append(chr(av).lower())
        elif op is sre.AT:
            continue  # anchors consume nothing: the run goes on
        elif op is sre.SUBPATTERN:
            end_run()
            options.append(_sequence(list(av[3])))
        elif op is sre.BRANCH:
            end_run()
            branches = [_sequence(list(b)) for b in av[1]]
            options.append(frozenset().union(*branches) if all(branches) else None)
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
            end_run()
            if av[0] >= 1:
                options.append(_sequence(list(av[2])))
        else:
            end_run()
    end_run()
    return _best([o for o in options if o and min(len(t) for t in o) >= MIN_LITERAL], text=str)


class Prefilter:
    """Automata over the literals of a set of rules (indices into the caller's rule list)."""

    def __init__(self, requirements: dict[int, Requirement]):
        by_field: dict[str, dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
        # Rules to take whenever the field's value is not ASCII: regex literals, and NON_ASCII itself.
        non_ascii: dict[str, set[int]] = defaultdict(set)
        for rule, literals in requirements.items():
            for lit in literals:
                if lit.text != NON_ASCII:
                    by_field[lit.field][lit.text].add(rule)
                if lit.from_regex or lit.text == NON_ASCII:
                    non_ascii[lit.field].add(rule)
        self.automata: list[tuple[str, ahocorasick.Automaton | None, frozenset[int]]] = []
        for field in sorted(by_field.keys() | non_ascii.keys()):
            automaton = None
            if by_field[field]:
                automaton = ahocorasick.Automaton()
                for text, rules in by_field[field].items():
                    automaton.add_word(text, tuple(sorted(rules)))
                automaton.make_automaton()
            self.automata.append((field, automaton, frozenset(non_ascii[field])))

    def candidates(self, view: EventView) -> set[int]:
        """Rules with at least one literal found in the event."""
        hits: set[int] = set()
        for field, automaton, non_ascii in self.automata:
            if field == ANY_FIELD:
                text = "\x00".join(view.lower_values)
            elif field in view.f:
                text = view.l[field]
            else:
                continue
            if non_ascii and not text.isascii():
                hits |= non_ascii
            if automaton is not None:
                for _, rules in automaton.iter(text):
                    hits.update(rules)
        return hits
