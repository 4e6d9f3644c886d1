"""`socpipe detect` over a JSON-lines file read on the executors in many splits: the alerts of the plain
compiled path over the same events, and the same output for any split size."""

from __future__ import annotations

import json

import pytest
from conftest import SIGMAHQ

from alerting.alerts import alert_id
from bench.corpus import generate
from enrich.normalise import normalise
from ingest.splits import plan_splits
from layers import detect
from layers.matcher.plain_path import PlainMatcher
from rules.compiler import load_rules
from rules.model import RuleSet
from socpipe.events import WINDOWS, Event

pytestmark = pytest.mark.slow
EVENTS = 10_000


def test_json_lines_in_splits_give_the_plain_paths_alerts(spark, tmp_path):
    rules = [r for r in load_rules(sorted(SIGMAHQ.glob("rules*"))).rules if r.logsource[0] == "windows"]
    corpus = list(generate(EVENTS))
    data = tmp_path / "windows.jsonl"
    data.write_text("".join(json.dumps(f, ensure_ascii=False) + "\n" for f in corpus), encoding="utf-8")
    outputs = []
    for split_bytes in (1 << 20, 1 << 30):
        out = tmp_path / f"out-{split_bytes}"
        summary = detect.run(spark, RuleSet(rules), plan_splits([data], split_bytes), out,
                             tmp_path / f"lake-{split_bytes}")
        assert (summary.events, summary.dead_letters) == (EVENTS, 0)
        outputs.append((out / "alerts.jsonl").read_bytes())
    assert data.stat().st_size > 5 << 20  # so the first run really had several splits
    assert outputs[0] == outputs[1]
    got = {json.loads(line)["alert_id"] for line in outputs[0].splitlines()}
    matcher = PlainMatcher(rules)
    expected = set()
    for fields in corpus:
        event = Event(fields, WINDOWS)
        for i in matcher.match(WINDOWS, normalise(event).fields):
            expected.add(alert_id(rules[i].id, event.identity))
    assert len(expected) >= 50
    assert got == expected
