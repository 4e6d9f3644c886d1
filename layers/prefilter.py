"""Literal prefilter: which rules could possibly match an event, found with Aho-Corasick and byte scans.

For each rule we derive a set of literals such that the rule can only be true when at least one of
them occurs, lowercased, in its field (or, for keywords, in any field); for a rule that is an AND, up
to MAX_CLAUSES such sets from different arguments, all of which must be met (the longest literal is not
always the rarest: "microsoft corporation" is in most Company fields, "\\csi.exe" in few Images).
Rules with no such set are checked on every event of their log source. The exact compiled predicate
always decides: the prefilter only skips rules that cannot match, so it never changes a result.
"""

from __future__ import annotations

import re
import re._constants as sre
import re._parser as sre_parse
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import chain
from operator import attrgetter
from typing import Any

import ahocorasick_rs
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from layers.fieldbatch import FieldBatch, distinct
from rules import ir

MAX_CLAUSES = 2  # more clauses drop a few more candidates but cost scanning and counting
MIN_LITERAL = 3  # shorter literals hit many events: a rule gets them only when it offers nothing longer
ANY_FIELD = ""  # the field of keyword literals: they may occur in any value
NON_ASCII = "\x00non-ascii"  # a short non-ASCII literal: all it proves is a non-ASCII value (emoji rules)
# Every occurrence (overlapping ones too), with a DFA: the fastest scan for a few thousand literals.
_SCAN = {"matchkind": ahocorasick_rs.MatchKind.Standard, "implementation": ahocorasick_rs.Implementation.DFA}


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
            return frozenset({Literal(field or ANY_FIELD, text)}) if text else None
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


def required_clauses(node: ir.Node) -> list[Requirement]:
    """Requirements that must all be met if `node` is true (empty when there is none): the best few of
    an AND's arguments, the requirement of anything else."""
    options = [required_literals(a) for a in node.args] if isinstance(node, ir.And) else [required_literals(node)]
    found = dict.fromkeys(o for o in options if o)  # in argument order: ties sort the same in every process
    return sorted(found, key=_rank, reverse=True)[:MAX_CLAUSES]


def _best(options: list[frozenset | None], text: Callable[[Any], str] = attrgetter("text")) -> frozenset | None:
    """Of several sufficient requirements, the one most likely to rule an event out."""
    found = [o for o in options if o]
    return max(found, key=lambda o: _rank(o, text)) if found else None


def _rank(option: frozenset, text: Callable[[Any], str] = attrgetter("text")) -> tuple[int, int]:
    """Prefer sets whose shortest literal is long (rare), then sets with fewer literals."""
    return min(len(text(x)) for x in option), -len(option)


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
        if run:
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
    return _best([o for o in options if o], text=str)


@dataclass(frozen=True, slots=True)
class FieldScan:
    """The literals to look for in one field, numbered from `first`: single bytes with numpy (a byte like
    `\\` occurs many times a value, and numpy finds the events holding it far cheaper than an automaton
    reports each occurrence), then those of two bytes or more with an automaton."""

    field: str
    automaton: ahocorasick_rs.BytesAhoCorasick | None
    first: int
    single_bytes: np.ndarray  # uint8: literal first + j is single_bytes[j]
    non_ascii: np.ndarray  # the clauses a non-ASCII value meets


class Prefilter:
    """Scans over the literals of a set of rules (indices into the caller's rule list), each through one
    field of all events of a batch at once. Each literal stands for clauses (a rule's requirements,
    numbered across rules): a rule is a candidate when every one of its clauses has a literal found."""

    def __init__(self, requirements: dict[int, list[Requirement]]):
        clauses = [(rule, clause) for rule, required in requirements.items() for clause in required]
        self._rule_of = np.array([rule for rule, _ in clauses], dtype=np.int64)
        self._num_rules = max(requirements, default=-1) + 1
        self._needed = np.zeros(self._num_rules, dtype=np.int64)  # clauses per rule
        for rule, required in requirements.items():
            self._needed[rule] = len(required)
        by_field: dict[str, dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
        # Clauses met whenever the field's value is not ASCII: regex literals, and NON_ASCII itself.
        non_ascii: dict[str, set[int]] = defaultdict(set)
        for clause, (_, literals) in enumerate(clauses):
            for lit in literals:
                if lit.text != NON_ASCII:
                    by_field[lit.field][lit.text].add(clause)
                if lit.from_regex or lit.text == NON_ASCII:
                    non_ascii[lit.field].add(clause)
        # Literal k stands for the clauses _clauses[_first[k]:_first[k + 1]].
        rules_of: list[list[int]] = []
        self.scans: list[FieldScan] = []
        for field in sorted(by_field.keys() | non_ascii.keys()):
            texts = sorted(by_field[field], key=lambda t: (len(t.encode()) > 1, t))
            single_bytes = np.array([ord(t) for t in texts if len(t.encode()) == 1], dtype=np.uint8)
            longer = [t.encode() for t in texts[single_bytes.size:]]
            automaton = ahocorasick_rs.BytesAhoCorasick(longer, **_SCAN) if longer else None
            self.scans.append(FieldScan(field, automaton, len(rules_of), single_bytes,
                                        np.array(sorted(non_ascii[field]), dtype=np.int64)))
            rules_of.extend(sorted(by_field[field][t]) for t in texts)
        self._first = np.concatenate(([0], np.cumsum([len(r) for r in rules_of]))).astype(np.int64)
        self._clauses = np.array([i for r in rules_of for i in r], dtype=np.int64)

    def candidates(self, batch: FieldBatch) -> tuple[np.ndarray, np.ndarray]:
        """(event, rule) pairs, each once: the rules with a literal of each of their clauses found in the event."""
        rows: list[np.ndarray] = []
        clauses: list[np.ndarray] = []
        for scan in self.scans:
            positions = None if scan.field == ANY_FIELD else batch.positions(scan.field)
            if positions is not None and not positions.size:
                continue
            lowered = batch.lowered if positions is None else batch.lowered.take(positions)
            entry_rows = batch.row_of if positions is None else batch.row_of[positions]
            if scan.non_ascii.size:
                outside = np.flatnonzero(~pc.string_is_ascii(lowered).to_numpy(zero_copy_only=False))
                hit_rows = distinct(entry_rows[outside])
                rows.append(np.repeat(hit_rows, scan.non_ascii.size))
                clauses.append(np.tile(scan.non_ascii, hit_rows.size))
            for hit_rows, literals in self._scan(scan, lowered, entry_rows):
                counts = self._first[literals + 1] - self._first[literals]
                rows.append(np.repeat(hit_rows, counts))
                clauses.append(self._clauses[np.repeat(self._first[literals] - np.cumsum(counts) + counts, counts)
                                         + np.arange(counts.sum())])
        if not rows:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
        return self._met(np.concatenate(rows), np.concatenate(clauses))

    def _met(self, rows: np.ndarray, clauses: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The (event, rule) pairs of the (event, clause) pairs (repeats allowed) that meet all the rule's clauses."""
        met = distinct(rows * len(self._rule_of) + clauses)
        pairs, counts = np.unique(met // len(self._rule_of) * self._num_rules + self._rule_of[met % len(self._rule_of)],
                                  return_counts=True)
        pairs = pairs[counts == self._needed[pairs % self._num_rules]]
        return pairs // self._num_rules, pairs % self._num_rules

    def _scan(self, scan: FieldScan, lowered: pa.StringArray,
              entry_rows: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(event, literal) once per literal found inside one entry. The entries' UTF-8 bytes are scanned as
        one text (a UTF-8 literal only matches on character boundaries); a hit spanning two entries is dropped."""
        _, offsets_buffer, data = lowered.buffers()
        offsets = np.frombuffer(offsets_buffer, dtype=np.int32)[lowered.offset:lowered.offset + len(lowered) + 1]
        if data is None or offsets[-1] == offsets[0]:
            return
        text = memoryview(data).cast("B")[offsets[0]:offsets[-1]]
        data_bytes = np.frombuffer(text, dtype=np.uint8)
        for j, byte in enumerate(scan.single_bytes):
            entries = np.searchsorted(offsets, np.flatnonzero(data_bytes == byte) + offsets[0], side="right") - 1
            hit_rows = distinct(entry_rows[entries])
            yield hit_rows, np.full(hit_rows.size, scan.first + j, dtype=np.int64)
        if scan.automaton is not None:
            hits = np.fromiter(chain.from_iterable(scan.automaton.find_matches_as_indexes(text, overlapping=True)),
                               dtype=np.int64).reshape(-1, 3)
            literals = hits[:, 0] + scan.first + scan.single_bytes.size
            starts, ends = hits[:, 1] + offsets[0], hits[:, 2] + offsets[0]
            entries = np.searchsorted(offsets, starts, side="right") - 1
            inside = ends <= offsets[entries + 1]
            pairs = distinct(entry_rows[entries[inside]] * len(self._first) + literals[inside])
            yield pairs // len(self._first), pairs % len(self._first)
