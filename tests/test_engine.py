"""The Detector against its references: brute force over every rule, and the plain Spark SQL path."""

from __future__ import annotations

from functools import cache

import pytest
from conftest import SIGMAHQ

from enrich.normalise import normalise
from ingest import read_paths
from layers.engine import Detector
from layers.prefilter import ANY_FIELD, MIN_LITERAL, NON_ASCII, Literal, regex_literals, required_literals
from layers.sql_path import match_sql
from rules import ir
from rules.compiler import load_rules
from rules.python_code import EventView, compile_predicate
from socpipe.events import Event


@cache
def sigmahq_rules():
    return load_rules(sorted(SIGMAHQ.glob("rules*"))).rules


@cache
def regression_events() -> tuple[Event, ...]:
    files = sorted((SIGMAHQ / "regression_data").rglob("*.evtx"))
    return tuple(normalise(r) for r in read_paths(files) if isinstance(r, Event))


def test_prefilter_never_changes_a_result():
    rules = sigmahq_rules()
    detector = Detector(rules)
    source_tests = {s: compile_predicate(ir.and_(s.condition())) for r in rules for s in r.sources}
    events = regression_events()
    assert len(events) >= 238  # every record of the 202 samples
    mismatches, total = [], 0
    for e in events:
        view = EventView(e.fields)
        brute = [
            i for i, r in enumerate(rules)
            if any(s.kind == e.kind and source_tests[s](e.fields, view.l, view) for s in r.sources)
            and detector.predicates[i](e.fields, view.l, view)
        ]
        fast = detector.match(e.kind, e.fields)
        total += len(fast)
        if fast != brute:
            mismatches.append((e.origin, sorted(set(fast) ^ set(brute))))
    assert mismatches == []
    assert total >= 200  # the samples do fire their rules


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
    (ir.Str("Image", ir.SUFFIX, "ab"), None),
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
    (ir.And((ir.Regex("A", "x.y"), ir.Compare("B", ir.GT, 3.0))), None),
    (ir.Regex("A", "Invoke-(Mimikatz|Kerberoast)"), {Literal("A", "mimikatz", True), Literal("A", "kerberoast", True)}),
])
def test_required_literals(node, expected):
    got = required_literals(node)
    assert (None if got is None else set(got)) == expected
    assert MIN_LITERAL == 3


@pytest.mark.parametrize(("pattern", "expected"), [
    (r"\\AppData\\Roaming\\[a-z]+\.exe", {"\\appdata\\roaming\\"}),
    (r"(?i)(mimikatz|kerberoast)\.exe", {"mimikatz", "kerberoast"}),
    (r"abc|de", None),
    (r"^C:\\Win(dows)?\\.{3,}\.dll$", {"c:\\win"}),
    (r"(ab)+cdef", {"cdef"}),
    (r"x(?=abcd)", None),
    (r"a[bc]d", None),
    (r"(", None),
])
def test_regex_literals(pattern, expected):
    got = regex_literals(pattern)
    assert (None if got is None else set(got)) == expected
