"""The Detector against its references: the plain compiled path (the Python predicate of every rule of the
event's log source) on the SigmaHQ regression data and on 200,000 bench events, and the plain Spark SQL path."""

from __future__ import annotations

import multiprocessing
import random
from collections.abc import Iterable
from functools import cache

import numpy as np
import pyarrow as pa
import pytest
from conftest import SIGMAHQ

from alerting.alerts import alert_id
from bench.corpus import generate, lake_table, write_lake
from enrich.normalise import normalise
from ingest import read_paths
from layers.detect import EVENT_SCHEMA, alert_batch, match_lake
from layers.matcher.engine import Detector, gates
from layers.matcher.fieldbatch import FieldBatch, distinct
from layers.matcher.plain_path import PlainMatcher
from layers.matcher.prefilter import (
    ANY_FIELD,
    MAX_CLAUSES,
    MIN_LITERAL,
    NON_ASCII,
    Literal,
    Prefilter,
    regex_literals,
    required_clauses,
    required_literals,
)
from layers.matcher.sql_path import match_sql
from rules import ir
from rules.compiler import load_rules
from rules.model import CompiledRule
from rules.python_code import EventView
from socpipe.events import WINDOWS, Event, event_identity

CORPUS_EVENTS = 200_000


@cache
def sigmahq_rules():
    return load_rules(sorted(SIGMAHQ.glob("rules*"))).rules


@cache
def regression_events() -> tuple[Event, ...]:
    files = sorted((SIGMAHQ / "regression_data").rglob("*.evtx"))
    return tuple(normalise(r) for r in read_paths(files) if isinstance(r, Event))


def lake_batches(events: list[Event]) -> list[pa.RecordBatch]:
    rows = [{"event_id": e.identity, "kind": e.kind, "origin": e.origin, "fields": list(e.fields.items())}
            for e in events]
    return [pa.RecordBatch.from_pylist(rows, schema=EVENT_SCHEMA)]


def fast_alert_ids(rules: list[CompiledRule], batches: Iterable[pa.RecordBatch]) -> set[str]:
    detector = Detector(rules)
    return {i for b in batches for i in alert_batch(detector, b).column("alert_id").to_pylist()}


_PLAIN: tuple[PlainMatcher, list[tuple[str, dict[str, str]]]] | None = None  # shared with forked workers


def _plain_ids(span: range) -> set[str]:
    assert _PLAIN is not None
    matcher, events = _PLAIN
    return {alert_id(matcher.rules[i].id, event_identity(kind, fields))
            for kind, fields in events[span.start:span.stop] for i in matcher.match(kind, fields)}


def plain_alert_ids(rules: list[CompiledRule], events: list[tuple[str, dict[str, str]]]) -> set[str]:
    """The plain compiled path over (kind, fields) events, on both CPUs (it is the slow side)."""
    global _PLAIN
    _PLAIN = (PlainMatcher(rules), events)
    spans = [range(start, min(start + 10_000, len(events))) for start in range(0, len(events), 10_000)]
    try:
        with multiprocessing.get_context("fork").Pool(2) as pool:
            return set().union(*pool.map(_plain_ids, spans))
    finally:
        _PLAIN = None


def test_fast_engine_equals_plain_compiled_path_on_regression_data():
    """Every SigmaHQ rule on every regression event: the Detector's alerts are the plain path's."""
    events = regression_events()
    assert len(events) >= 238  # every record of the 202 samples
    fast = fast_alert_ids(sigmahq_rules(), lake_batches(list(events)))
    assert len(fast) >= 200  # the samples do fire their rules
    assert fast == plain_alert_ids(sigmahq_rules(), [(e.kind, e.fields) for e in events])


def test_fast_engine_equals_plain_compiled_path_on_bench_corpus():
    """Every Windows rule on 200,000 bench corpus events, as the benchmark feeds them (Arrow batches)."""
    rules = [r for r in sigmahq_rules() if r.logsource[0] == "windows"]
    events = list(generate(CORPUS_EVENTS))
    batches = [b for first in range(0, CORPUS_EVENTS, 50_000)
               for b in lake_table(events[first:first + 50_000], first, EVENT_SCHEMA).to_batches(10_000)]
    fast = fast_alert_ids(rules, batches)
    assert len(fast) >= 1000
    assert fast == plain_alert_ids(rules, [(WINDOWS, fields) for fields in events])


def test_fast_engine_equals_plain_spark_sql_path(spark):
    """The differential test: identical (event, rule) pairs from the Detector and from Spark SQL."""
    rules = [r for r in sigmahq_rules() if r.logsource[0] == "windows"]
    events = regression_events()
    detector = Detector(rules)
    fast = {(e.identity, rules[i].id) for e in events for i in detector.match(e.kind, e.fields)}
    df = spark.createDataFrame([(e.identity, e.kind, e.fields) for e in events],
                               "event_id string, kind string, fields map<string,string>")
    plain = {(r.event_id, r.rule_id) for r in match_sql(df.coalesce(1).cache(), rules).collect()}
    assert len(fast) >= 200
    assert fast == plain


@pytest.mark.parametrize(("node", "expected"), [
    (ir.Str("Image", ir.SUFFIX, "\\cmd.exe"), {Literal("Image", "\\cmd.exe")}),
    (ir.Str("Image", ir.SUFFIX, "ab"), {Literal("Image", "ab")}),  # short: the rule offers nothing longer
    (ir.Str("Image", ir.LIKE, "*\\\\temp\\\\*.ps?1"), {Literal("Image", "\\temp\\")}),
    (ir.Str("Image", ir.EQ, "CMD.EXE", cased=True), {Literal("Image", "cmd.exe")}),
    (ir.Str("Image", ir.EQ, "TÀI", cased=True), None),
    (ir.Str("CommandLine", ir.CONTAINS, "\u26a1"), {Literal("CommandLine", NON_ASCII)}),
    (ir.Str(None, ir.CONTAINS, "mimikatz"), {Literal(ANY_FIELD, "mimikatz")}),
    (ir.Not(ir.Str("Image", ir.EQ, "abcd")), None),
    (ir.Or((ir.Str("A", ir.EQ, "abcd"), ir.Str("B", ir.CONTAINS, "efgh"))),
     {Literal("A", "abcd"), Literal("B", "efgh")}),
    (ir.Or((ir.Str("A", ir.EQ, "abcd"), ir.Exists("B"))), None),
    (ir.And((ir.Str("A", ir.EQ, "abc"), ir.Str("B", ir.CONTAINS, "longer literal"))),
     {Literal("B", "longer literal")}),
    (ir.And((ir.Regex("A", "x.y"), ir.Compare("B", ir.GT, 3.0))), {Literal("A", "x", True)}),
    (ir.Str("Image", ir.EQ, ""), None),
    (ir.And((ir.Exists("A"), ir.Compare("B", ir.GT, 3.0))), None),
    (ir.Regex("A", "Invoke-(Mimikatz|Kerberoast)"), {Literal("A", "mimikatz", True), Literal("A", "kerberoast", True)}),
])
def test_required_literals(node, expected):
    got = required_literals(node)
    assert (None if got is None else set(got)) == expected
    assert MIN_LITERAL == 3


def test_required_clauses_keep_the_best_arguments_of_an_and():
    a, b, c = ir.Str("A", ir.EQ, "abcd"), ir.Str("B", ir.CONTAINS, "longer literal"), ir.Str("C", ir.EQ, "wxyz")
    assert required_clauses(ir.And((a, ir.Exists("D"), b, c))) == [{Literal("B", "longer literal")},
                                                                   {Literal("A", "abcd")}]
    assert required_clauses(b) == [{Literal("B", "longer literal")}]
    assert required_clauses(ir.Not(a)) == []
    assert MAX_CLAUSES == 2


def test_prefilter_takes_a_rule_only_when_each_clause_is_met():
    rules = {0: required_clauses(ir.And((ir.Str("A", ir.EQ, "abcd"), ir.Str("B", ir.SUFFIX, "\\x.exe")))),
             1: required_clauses(ir.Str("A", ir.CONTAINS, "bc"))}
    events = [{"A": "ABCD", "B": "c:\\x.exe"}, {"A": "abcd", "B": "y.exe"}, {"B": "\\x.exe", "C": "abcd"}]
    fields = pa.array([list(e.items()) for e in events], pa.map_(pa.string(), pa.string()))
    rows, rules_ = Prefilter(rules).candidates(FieldBatch(fields))
    assert sorted(zip(rows.tolist(), rules_.tolist(), strict=True)) == [(0, 0), (0, 1), (1, 1)]


def test_prefilter_finds_single_bytes_in_their_field_only():
    rules = {0: [frozenset({Literal("A", "\\")})], 1: [frozenset({Literal("A", "-")})],
             2: [frozenset({Literal("A", "-"), Literal("A", "ab")})]}
    events = [{"A": "C:\\x"}, {"A": "xy", "B": "-\\"}, {"A": "a-b\\"}, {"A": "AB"}]
    fields = pa.array([list(e.items()) for e in events], pa.map_(pa.string(), pa.string()))
    rows, rules_ = Prefilter(rules).candidates(FieldBatch(fields))
    assert sorted(zip(rows.tolist(), rules_.tolist(), strict=True)) == [(0, 0), (2, 0), (2, 1), (2, 2), (3, 2)]


def _brute_force_candidates(requirements: dict[int, list[frozenset[Literal]]],
                            events: list[dict[str, str]]) -> set[tuple[int, int]]:
    """The prefilter's definition, event by event: every clause has a literal in its (lowercased) field."""
    def met(literal: Literal, event: dict[str, str]) -> bool:
        values = [v.lower() for k, v in event.items() if literal.field in (ANY_FIELD, k)]
        if literal.text == NON_ASCII:
            return any(not v.isascii() for v in values)
        return any(literal.text in v or (literal.from_regex and not v.isascii()) for v in values)

    return {(row, rule) for row, event in enumerate(events) for rule, clauses in requirements.items()
            if all(any(met(lit, event) for lit in clause) for clause in clauses)}


def test_prefilter_equals_its_definition_for_every_kind_of_clause():
    """One-clause rules, two-clause rules whose clauses are in one field, two fields, several fields or any
    field (keywords), non-ASCII and regex literals: the candidates are exactly the definition's."""
    a, b, c = (lambda text, field="A", regex=False: Literal(field, text, regex)), "B", "C"
    rules = {
        0: [frozenset({a("abc")})],
        1: [frozenset({a("abc")}), frozenset({a("xyz", b)})],
        2: [frozenset({a("xyz"), a("xyz", b)}), frozenset({a("qq", c)})],
        3: [frozenset({a("mimi", ANY_FIELD)}), frozenset({a("abc")})],
        4: [frozenset({a("mimi", ANY_FIELD)}), frozenset({a("katz", ANY_FIELD)})],
        5: [frozenset({a(NON_ASCII, b)}), frozenset({a("\\")})],
        6: [frozenset({a("ab", c, True)})],
        7: [frozenset({a("-")}), frozenset({a("bc"), a("yz")})],
        8: [frozenset({a("zzz")})],
    }
    words = ["abc", "ABCD", "xyz", "qq", "mimi", "KATZ", "tài", "c:\\x", "-", "ab", "y", ""]
    rng = random.Random(7)
    events = [{field: "".join(rng.choices(words, k=rng.randint(0, 3)))
               for field in ("A", "B", "C", "D") if rng.random() < 0.8} for _ in range(600)]
    fields = pa.array([list(e.items()) for e in events], pa.map_(pa.string(), pa.string()))
    rows, rules_ = Prefilter(rules).candidates(FieldBatch(fields))
    got = list(zip(rows.tolist(), rules_.tolist(), strict=True))
    assert len(got) == len(set(got))
    expected = _brute_force_candidates(rules, events)
    assert {rule for _, rule in expected} >= set(range(8))  # every kind of rule is exercised
    assert set(got) == expected


def test_gates_are_the_parts_of_a_rule_that_read_one_field():
    image, cmd = ir.Str("Image", ir.SUFFIX, "\\x.exe"), ir.Str("CommandLine", ir.CONTAINS, "-enc")
    mixed = ir.Or((ir.Str("Image", ir.EQ, "a"), ir.Str("User", ir.EQ, "b")))
    rule = ir.And((image, cmd, mixed, ir.Not(ir.Str("Image", ir.CONTAINS, "temp"))))
    found = dict(gates(rule))
    assert sorted(found) == ["CommandLine", "Image"]  # the Image/User OR reads two fields: no gate
    for fields, expected in [({"Image": "C:\\X.exe"}, True), ({"Image": "c:\\temp\\x.exe"}, False), ({}, False)]:
        view = EventView(fields)
        assert found["Image"](fields, view.l, view) is expected
    assert [name for name, _ in gates(ir.And((ir.Str(None, ir.CONTAINS, "mimikatz"), image)))] == ["Image"]


def test_distinct_is_sorted_unique():
    values = np.array([5, 3, 5, 1, 3, 9], dtype=np.int64)
    assert distinct(values).tolist() == [1, 3, 5, 9]
    assert distinct(np.empty(0, dtype=np.int64)).tolist() == []


@pytest.mark.parametrize(("pattern", "expected"), [
    (r"\\AppData\\Roaming\\[a-z]+\.exe", {"\\appdata\\roaming\\"}),
    (r"(?i)(mimikatz|kerberoast)\.exe", {"mimikatz", "kerberoast"}),
    (r"abc|de", {"abc", "de"}),
    (r"^C:\\Win(dows)?\\.{3,}\.dll$", {"c:\\win"}),
    (r"(ab)+cdef", {"cdef"}),
    (r"x(?=abcd)", {"x"}),
    (r"a[bc]d", {"a"}),
    (r"(", None),
])
def test_regex_literals(pattern, expected):
    got = regex_literals(pattern)
    assert (None if got is None else set(got)) == expected


def test_spark_job_over_the_lake_equals_the_plain_path(spark, tmp_path):
    """match_lake (Spark tasks, one a lake file, in Python workers) gives the plain path's alerts."""
    rules = [r for r in sigmahq_rules() if r.logsource[0] == "windows"]
    write_lake(20_000, 0, tmp_path, rows_per_file=5_000)
    by_spark = {r.alert_id for r in match_lake(spark, tmp_path, rules).collect()}
    assert len(by_spark) >= 50
    assert by_spark == plain_alert_ids(rules, [(WINDOWS, fields) for fields in generate(20_000)])
