"""Literal prefilter: which rules could possibly match an event, found with Aho-Corasick and byte scans.

For each rule we derive a set of literals such that the rule can only be true when at least one of
them occurs, lowercased, in its field (or, for keywords, in any field); for a rule that is an AND, up
to MAX_CLAUSES such sets from different arguments, all of which must be met (the longest literal is not
always the rarest: "microsoft corporation" is in most Company fields, "\\csi.exe" in few Images).
Rules with no such set are checked on every event of their log source. The exact compiled predicate
always decides: the prefilter only skips rules that cannot match, so it never changes a result.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain

import ahocorasick_rs
import numpy as np
import pyarrow as pa

from layers.matcher.fieldbatch import Column, FieldBatch, distinct, spans, utf8_buffer
from rules import ir
from rules.literals import best, rank, regex_literals

MAX_CLAUSES = 2  # more clauses drop a few more candidates but cost scanning and counting
MIN_LITERAL = 3  # shorter literals hit many events: a rule gets them only when it offers nothing longer
ANY_FIELD = ""  # the field of keyword literals: they may occur in any value
NON_ASCII = "\x00non-ascii"  # a short non-ASCII literal: all it proves is a non-ASCII value (emoji rules)
# Every occurrence (overlapping ones too). A DFA scans 3x faster than an NFA but takes 3x longer to build:
# worth it for keywords, scanned through every value of a batch; the distinct values of one field are few
# enough that both scan them in about the same time, so those automata are NFAs, built in a third the time.
_MATCH = ahocorasick_rs.MatchKind.Standard
_BUILD = {ANY_FIELD: ahocorasick_rs.Implementation.DFA}


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
            return best([required_literals(a) for a in args])
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
    return sorted(found, key=rank, reverse=True)[:MAX_CLAUSES]


def _longest_run(pattern: str) -> str:
    """The longest text run of a LIKE pattern, lowercased."""
    texts = [p for p in ir.like_parts(pattern) if not isinstance(p, ir.Wildcard)]
    return max(texts, key=len, default="").lower()


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
    """Scans over the literals of a set of rules (indices into the caller's rule list), each through the
    distinct values of one field in a batch. Each literal stands for clauses (a rule's requirements,
    numbered across rules): a rule is a candidate when every one of its clauses has a literal found."""

    def __init__(self, requirements: dict[int, list[Requirement]]):
        clauses = [(rule, clause) for rule, required in requirements.items() for clause in required]
        self._rule_of = np.array([rule for rule, _ in clauses], dtype=np.int64)
        self._num_rules = max(requirements, default=-1) + 1
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
        # Keywords last: their scan reuses the distinct values of the fields the others encoded.
        for field in sorted(by_field.keys() | non_ascii.keys(), key=lambda f: (f == ANY_FIELD, f)):
            texts = sorted(by_field[field], key=lambda t: (len(t.encode()) > 1, t))
            single_bytes = np.array([ord(t) for t in texts if len(t.encode()) == 1], dtype=np.uint8)
            longer = [t.encode() for t in texts[single_bytes.size:]]
            implementation = _BUILD.get(field, ahocorasick_rs.Implementation.ContiguousNFA)
            automaton = ahocorasick_rs.BytesAhoCorasick(longer, _MATCH, implementation) if longer else None
            self.scans.append(FieldScan(field, automaton, len(rules_of), single_bytes,
                                        np.array(sorted(non_ascii[field]), dtype=np.int64)))
            rules_of.extend(sorted(by_field[field][t]) for t in texts)
        self._first = np.concatenate(([0], np.cumsum([len(r) for r in rules_of]))).astype(np.int64)
        self._clauses = np.array([i for r in rules_of for i in r], dtype=np.int64)
        # The other clause of a rule (MAX_CLAUSES is 2; -1: none), and where each clause's literals are: a
        # clause in named fields only can be checked for one event by looking its values up.
        self._partner = np.full(len(clauses), -1, dtype=np.int64)
        for a, b in (np.flatnonzero(self._rule_of == rule) for rule in requirements if len(requirements[rule]) == 2):
            self._partner[a], self._partner[b] = b, a
        self._in_field: dict[str, np.ndarray] = defaultdict(lambda: np.zeros(len(clauses), dtype=bool))
        for clause, (_, literals) in enumerate(clauses):
            for lit in literals:
                self._in_field[lit.field][clause] = True
        self._named = ~self._in_field[ANY_FIELD]
        # An event meets a clause at most once per field scan; one with literals in several fields (or in
        # any field, where an event has many values) can be met twice and needs deduplicating.
        self._repeatable = (sum(self._in_field.values(), np.zeros(len(clauses), dtype=np.int64)) > 1) | ~self._named
        self._clause_bits = max(len(clauses), 1).bit_length()
        self._rule_bits = max(self._num_rules, 1).bit_length()

    def candidates(self, batch: FieldBatch) -> tuple[np.ndarray, np.ndarray]:
        """(event, rule) pairs, each once: the rules with a literal of each of their clauses found in the event.

        Literals are found per distinct value: (value, clause) pairs. A one-clause rule's events are those
        with a hit value. For a two-clause rule, only the clause met by fewer events of the batch is spread
        to its events, which then look the other clause up by their values: spreading both and counting
        (what a clause in no named field still needs) costs some ten times more pairs."""
        found: list[tuple[str, Column, np.ndarray]] = []  # (field, column, its hits)
        for scan in self.scans:
            if scan.field != ANY_FIELD:
                columns = [batch.column(scan.field)]
            else:  # keywords: the distinct values of the fields encoded so far, every value of the others
                encoded = batch.encoded()
                columns = [*encoded.values(), batch.values_except(encoded.keys())]
            found.extend((scan.field, column, keys) for column in columns if (keys := self._found(scan, column)).size)
        mask = (1 << self._clause_bits) - 1
        weight = np.zeros(len(self._rule_of))  # events meeting each clause, summed over its fields
        for _, column, keys in found:
            weight += np.bincount(keys & mask, weights=column.counts[keys >> self._clause_bits], minlength=weight.size)
        partner = self._partner
        clause = np.arange(partner.size)
        lighter = (weight < weight[partner]) | ((weight == weight[partner]) & (clause < partner))
        spread = (partner < 0) | ~self._named | (self._named[partner] & lighter)
        rows_: list[np.ndarray] = [np.empty(0, dtype=np.int64)]
        clauses_: list[np.ndarray] = [np.empty(0, dtype=np.int64)]
        for _, column, keys in found:
            keys = keys[spread[keys & mask]]
            hit_rows, hit_clauses = column.rows_with(keys >> self._clause_bits, keys & mask)
            rows_.append(hit_rows)
            clauses_.append(hit_clauses)
        rows, clauses = np.concatenate(rows_), np.concatenate(clauses_)
        repeatable = self._repeatable[clauses]
        if repeatable.any():
            once = distinct(rows[repeatable] << self._clause_bits | clauses[repeatable])
            rows = np.concatenate((rows[~repeatable], once >> self._clause_bits))
            clauses = np.concatenate((clauses[~repeatable], once & mask))
        other = partner[clauses]
        single = other < 0
        looked_up = ~single & self._named[other]
        counted = ~single & ~looked_up
        met = self._look_up(rows[looked_up], other[looked_up], found)
        pairs = [rows[single] << self._rule_bits | self._rule_of[clauses[single]],
                 rows[looked_up][met] << self._rule_bits | self._rule_of[clauses[looked_up][met]]]
        if counted.any():  # both clauses spread: the events that met both
            both = np.sort(rows[counted] << self._rule_bits | self._rule_of[clauses[counted]])
            pairs.append(both[1:][both[1:] == both[:-1]])
        pairs = distinct(np.concatenate(pairs))
        return pairs >> self._rule_bits, pairs & ((1 << self._rule_bits) - 1)

    def _found(self, scan: FieldScan, column: Column) -> np.ndarray:
        """The (value, clause) hits of a scan through a column, as sorted distinct `value << bits | clause`."""
        found_values: list[np.ndarray] = [np.empty(0, dtype=np.int64)]
        found_clauses: list[np.ndarray] = [np.empty(0, dtype=np.int64)]
        if not len(column.distinct):
            return found_values[0]
        if scan.non_ascii.size:  # lowercasing never makes ASCII text non-ASCII: the raw values tell
            found_values.append(np.repeat(column.non_ascii, scan.non_ascii.size))
            found_clauses.append(np.tile(scan.non_ascii, column.non_ascii.size))
        for text, indices in column.texts:
            for values, literals in self._scan(scan, text):
                counts = self._first[literals + 1] - self._first[literals]
                found_values.append(np.repeat(values if indices is None else indices[values], counts))
                found_clauses.append(self._clauses[spans(self._first[literals], counts)])
        return distinct(np.concatenate(found_values) << self._clause_bits | np.concatenate(found_clauses))

    def _look_up(self, rows: np.ndarray, clauses: np.ndarray,
                 found: list[tuple[str, Column, np.ndarray]]) -> np.ndarray:
        """Whether each event meets its clause (one in named fields only), by its values' hits."""
        met = np.zeros(rows.size, dtype=bool)
        for field, column, keys in found:
            if field == ANY_FIELD:
                continue
            ask = np.flatnonzero(self._in_field[field][clauses])
            wanted = column.codes[rows[ask]] << self._clause_bits | clauses[ask]
            at = np.minimum(np.searchsorted(keys, wanted), keys.size - 1)
            met[ask] |= keys[at] == wanted
        return met

    def _scan(self, scan: FieldScan, lowered: pa.StringArray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(value, literal) once per literal found inside a value. The values' UTF-8 bytes are scanned as one
        text (a UTF-8 literal only matches on character boundaries); a hit spanning two values is dropped."""
        offsets, text = utf8_buffer(lowered)
        if not text.size:
            return
        for j, byte in enumerate(scan.single_bytes):
            values = distinct(np.searchsorted(offsets, np.flatnonzero(text == byte), side="right") - 1)
            yield values, np.full(values.size, scan.first + j, dtype=np.int64)
        if scan.automaton is not None:
            hits = np.fromiter(chain.from_iterable(scan.automaton.find_matches_as_indexes(text, overlapping=True)),
                               dtype=np.int64).reshape(-1, 3)
            literals = hits[:, 0] + scan.first + scan.single_bytes.size
            starts, ends = hits[:, 1], hits[:, 2]
            values = np.searchsorted(offsets, starts, side="right") - 1
            inside = ends <= offsets[values + 1]
            pairs = distinct(values[inside] * len(self._first) + literals[inside])
            yield pairs // len(self._first), pairs % len(self._first)
