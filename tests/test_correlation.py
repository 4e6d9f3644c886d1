"""Sigma correlation rules (layer 2): parsing, loading and sliding windows, against hand-computed results."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from layers.correlate import correlate, hidden_rules, single_agency
from rules.compiler import load_rules
from rules.correlation import Correlation, CorrelationError, parse

T0 = datetime(2026, 11, 30, 11, 59, 0, tzinfo=UTC)


def corr(kind: str, rules: list[str], condition: dict[str, Any] | None = None,
         group_by: tuple[str, ...] = ("source.ip",), timespan: str = "60s", cid: str = "c1",
         **extra: Any) -> Correlation:
    body: dict[str, Any] = {"type": kind, "rules": rules, "group-by": list(group_by), "timespan": timespan, **extra}
    if condition is not None:
        body["condition"] = condition
    return parse({"title": f"corr {cid}", "id": cid, "correlation": body, "level": "high"}, "test.yml")


def alert(rule: str, seconds: float, ip: str = "203.0.113.7", agency: str = "a1", n: int | None = None,
          **fields: str) -> dict[str, Any]:
    key = f"{rule}-{seconds}-{ip}-{n}-{sorted(fields.items())}"
    return {"alert_id": f"id-{key}", "@timestamp": (T0 + timedelta(seconds=seconds)).isoformat(),
            "rule": {"id": rule, "title": rule, "level": "low", "tags": []}, "event": dict(fields),
            "event_meta": {"id": key}, "source": {"ip": ip}, "agency": {"id": agency}}


def fire(c: Correlation, alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return correlate([c], [], alerts)


def test_event_count_counts_a_window_that_closes_exactly_at_its_edge():
    c = corr("event_count", ["r"], {"gte": 3})
    assert len(fire(c, [alert("r", 0), alert("r", 30), alert("r", 60)])) == 1  # [0, 60] holds all three
    assert fire(c, [alert("r", 0), alert("r", 30), alert("r", 60.5)]) == []  # one of them falls outside


def test_a_burst_across_a_clock_boundary_fires_and_names_when_and_what():
    c = corr("event_count", ["r"], {"gt": 3})  # 11:59:50 .. 12:00:10, across the hour
    docs = fire(c, [alert("r", s, n=i) for i, s in enumerate((50, 55, 60, 65, 70))])
    assert len(docs) == 1
    doc = docs[0]
    assert doc["correlation"]["value"] == 5 and doc["correlation"]["events_count"] == 5
    assert doc["@timestamp"] == (T0 + timedelta(seconds=65)).isoformat()  # the fourth event made it > 3
    assert doc["correlation"]["group"] == {"source.ip": "203.0.113.7"}
    assert doc["rule"]["level"] == "high" and doc["agency"]["ids"] == ["a1"]


def test_input_order_does_not_change_the_alerts():
    c = corr("event_count", ["r"], {"gte": 4})
    alerts = [alert("r", s, ip=ip) for s in range(0, 300, 7) for ip in ("198.51.100.1", "198.51.100.2")]
    expected = fire(c, alerts)
    shuffled = alerts[:]
    random.Random(3).shuffle(shuffled)
    assert fire(c, shuffled) == expected and len(expected) == 2  # one episode per source


def test_separate_bursts_are_separate_episodes_and_a_continuing_one_is_one():
    c = corr("event_count", ["r"], {"gte": 2})
    docs = fire(c, [alert("r", 0), alert("r", 10), alert("r", 200), alert("r", 210)])
    assert len(docs) == 2
    continuing = fire(c, [alert("r", s) for s in range(0, 600, 20)])  # every window overlaps the next
    assert len(continuing) == 1 and continuing[0]["correlation"]["events_count"] == 30


def test_value_count_counts_distinct_values_not_repeats():
    c = corr("value_count", ["r"], {"field": "TargetUserName", "gte": 3})
    assert fire(c, [alert("r", i, TargetUserName="admin") for i in range(10)]) == []
    docs = fire(c, [alert("r", i, TargetUserName=u) for i, u in enumerate(["a", "b", "a", "c"])])
    assert len(docs) == 1 and docs[0]["correlation"]["value"] == 3


def test_value_count_of_several_fields_counts_distinct_pairs():
    c = corr("value_count", ["r"], {"field": ["User", "Host"], "gte": 3})
    pairs = [("u", "h1"), ("u", "h2"), ("v", "h1"), ("u", "h1")]
    assert len(fire(c, [alert("r", i, User=u, Host=h) for i, (u, h) in enumerate(pairs)])) == 1
    assert fire(c, [alert("r", i, User=u, Host=h) for i, (u, h) in enumerate(pairs[:2])]) == []


def test_temporal_needs_every_rule_in_the_window_in_any_order():
    c = corr("temporal", ["a", "b", "c"])
    assert len(fire(c, [alert("c", 0), alert("a", 20), alert("b", 40)])) == 1
    assert fire(c, [alert("c", 0), alert("a", 20), alert("b", 61)]) == []
    assert fire(c, [alert("a", 0), alert("b", 20)]) == []


def test_temporal_ordered_needs_the_order():
    c = corr("temporal_ordered", ["failed", "success"])
    assert len(fire(c, [alert("failed", 0), alert("success", 30)])) == 1
    assert fire(c, [alert("success", 0), alert("failed", 30)]) == []
    assert fire(c, [alert("failed", 0), alert("success", 90)]) == []  # in order but too far apart


def test_value_sum_avg_and_a_range():
    sent = [alert("r", i, bytes_sent=str(b)) for i, b in enumerate((400, 500, 300))]
    assert len(fire(corr("value_sum", ["r"], {"field": "bytes_sent", "gt": 1000}), sent)) == 1
    assert fire(corr("value_sum", ["r"], {"field": "bytes_sent", "gt": 1200}), sent) == []
    assert len(fire(corr("value_avg", ["r"], {"field": "bytes_sent", "gte": 400}), sent)) == 1
    assert fire(corr("value_avg", ["r"], {"field": "bytes_sent", "gt": 500}), sent) == []
    ranged = corr("event_count", ["r"], {"gte": 2, "lte": 3})
    assert len(fire(ranged, [alert("r", i) for i in range(3)])) == 1
    assert fire(ranged, [alert("r", 0)]) == []


def test_value_percentile_is_the_share_of_a_value_in_the_window():
    # 1 of 50 process starts (2%) is a rare image: fires for lte 2, not for lte 1
    events = [alert("r", i * 0.5, Image="svchost.exe") for i in range(49)] + [alert("r", 25, Image="evil.exe")]
    docs = fire(corr("value_percentile", ["r"], {"field": "Image", "lte": 2}), events)
    assert len(docs) >= 1 and docs[0]["correlation"]["value"] == pytest.approx(2.0)
    assert fire(corr("value_percentile", ["r"], {"field": "Image", "lte": 1}), events) == []


def test_group_by_keeps_sources_apart_and_aliases_join_different_fields():
    c = corr("event_count", ["r"], {"gte": 2})
    assert fire(c, [alert("r", 0, ip="192.0.2.1"), alert("r", 5, ip="192.0.2.2")]) == []
    aliased = corr("temporal", ["http_500", "new_conn"], group_by=("internal_ip",),
                   aliases={"internal_ip": {"http_500": "dst", "new_conn": "src"}})
    hits = [alert("http_500", 0, dst="10.0.0.5"), alert("new_conn", 3, src="10.0.0.5")]
    assert len(correlate([aliased], [], hits)) == 1
    hits[1]["event"]["src"] = "10.0.0.6"
    assert correlate([aliased], [], hits) == []


def test_cross_agency_attack_is_one_alert_listing_every_agency():
    c = corr("event_count", ["r"], {"gte": 3})
    docs = fire(c, [alert("r", 0, agency="so-tttt"), alert("r", 5, agency="ubnd-tinh"), alert("r", 9, agency="so-yte")])
    assert len(docs) == 1 and docs[0]["agency"] == {"id": None, "ids": ["so-tttt", "so-yte", "ubnd-tinh"]}


def test_a_chain_reads_the_alerts_of_a_lower_correlation():
    many = corr("event_count", ["failed"], {"gte": 3}, cid="many", name="many_failed")
    chain = corr("temporal_ordered", ["many", "success"], cid="chain", timespan="10m")
    hits = [alert("failed", s) for s in (0, 5, 10)] + [alert("success", 120)]
    docs = correlate([many, chain], [], hits)
    assert [d["rule"]["id"] for d in docs] == ["many", "chain"]
    assert correlate([many, chain], [], [alert("success", 1)] + hits[:3]) == docs[:1]  # success came first


def test_hidden_rules_follow_generate():
    quiet = corr("event_count", ["a", "b"], {"gte": 2}, cid="q")
    loud = corr("event_count", ["b"], {"gte": 2}, cid="l", generate=True)
    assert hidden_rules([quiet, loud]) == {"a"}


@pytest.mark.parametrize(("body", "reason"), [
    ({"type": "event_count", "rules": ["r"], "group-by": ["x"], "timespan": "5 minutes", "condition": {"gte": 1}},
     "timespan"),
    ({"type": "median", "rules": ["r"], "group-by": ["x"], "timespan": "5m"}, "unknown correlation type"),
    ({"type": "event_count", "rules": ["r"], "group-by": ["x"], "timespan": "5m"}, "needs a `condition`"),
    ({"type": "value_count", "rules": ["r"], "group-by": ["x"], "timespan": "5m", "condition": {"gte": 2}},
     "needs `field`"),
    ({"type": "event_count", "rules": ["r"], "group-by": ["x"], "timespan": "5m", "condition": {"gte": 2, "gt": 3}},
     "range"),
    ({"type": "value_percentile", "rules": ["r"], "group-by": ["x"], "timespan": "5m",
      "condition": {"field": "x", "percentile": 95, "lte": 1}}, "unknown key percentile"),
])
def test_malformed_correlations_say_why(body: dict[str, Any], reason: str):
    with pytest.raises(CorrelationError, match=reason):
        parse({"id": "x", "title": "x", "correlation": body}, "x.yml")


def test_loading_resolves_names_reports_unknown_rules_and_loops(tmp_path: Path):
    (tmp_path / "spec.yml").write_text("""
title: Failed then success
id: 11111111-0000-0000-0000-000000000001
correlation:
  type: temporal_ordered
  rules: [multiple_failed_login, successful_login]
  group-by: [User]
  timespan: 10m
level: high
---
title: Multiple failed logons
id: 11111111-0000-0000-0000-000000000002
name: multiple_failed_login
correlation:
  type: event_count
  rules: [failed_login]
  group-by: [User]
  timespan: 10m
  condition: {gte: 10, lte: 1000}
---
title: Single failed login
id: 11111111-0000-0000-0000-000000000003
name: failed_login
logsource: {product: windows, service: security}
detection: {selection: {EventID: [529, 4625]}, condition: selection}
---
title: Successful login
id: 11111111-0000-0000-0000-000000000004
name: successful_login
logsource: {product: windows, service: security}
detection: {selection: {EventID: [528, 4624]}, condition: selection}
""", encoding="utf-8")
    (tmp_path / "broken.yml").write_text("""
title: Unknown base
id: 22222222-0000-0000-0000-000000000001
correlation: {type: event_count, rules: [no_such_rule], group-by: [User], timespan: 1h, condition: {gte: 2}}
---
title: Loop a
id: 22222222-0000-0000-0000-000000000002
name: loop_a
correlation: {type: temporal, rules: [loop_b, failed_login], group-by: [User], timespan: 1h}
---
title: Loop b
id: 22222222-0000-0000-0000-000000000003
name: loop_b
correlation: {type: temporal, rules: [loop_a, failed_login], group-by: [User], timespan: 1h}
""", encoding="utf-8")
    ruleset = load_rules([tmp_path])
    assert [c.id[-1] for c in ruleset.correlations] == ["2", "1"]  # the chain after what it reads
    assert ruleset.correlations[1].rules == ("11111111-0000-0000-0000-000000000002",
                                             "11111111-0000-0000-0000-000000000004")
    reasons = {f.id[-1]: f.reason for f in ruleset.failures}
    assert "unknown rule 'no_such_rule'" in reasons["1"]
    assert "loops back" in reasons["2"] or "loops back" in reasons["3"]
    assert len(ruleset.rules) == 2


def test_an_alert_over_several_agencies_belongs_to_their_lowest_common_unit():
    from conftest import ROOT

    from socpipe.registry import Registry

    registry = Registry.load(ROOT / "socpipe" / "demo" / "registry.yaml")
    assert registry.common_ancestor(["snv", "stc"]) == "ankhanh"
    assert registry.common_ancestor(["snv"]) == "snv"
    assert registry.common_ancestor(["no-such-unit"]) is None
    c = corr("event_count", ["r"], {"gte": 2})
    docs = correlate([c], [], [alert("r", 0, agency="snv"), alert("r", 5, agency="stc")], registry.common_ancestor)
    assert docs[0]["agency"] == {"id": "ankhanh", "ids": ["snv", "stc"]}


def _shuffled(rng: random.Random) -> tuple[list[Correlation], list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """Two hours of alerts of two sources (a chain over a correlation among the correlations), in the order
    they arrive (late by up to 30 s), and the batch's correlation alerts."""
    from layers.correlate import alert_time

    many = corr("event_count", ["fail"], {"gte": 4}, cid="many", name="many", timespan="2m")
    users = corr("value_count", ["fail"], {"field": "User", "gte": 3}, cid="users", timespan="5m")
    chain = corr("temporal_ordered", ["many", "ok"], cid="chain", timespan="10m")
    correlations = [many, users, chain]
    alerts = [alert(rng.choice(["fail"] * 5 + ["ok"]), rng.uniform(0, 7200), ip=rng.choice(["192.0.2.1", "192.0.2.2"]),
                    n=i, User=rng.choice("abcdef")) for i in range(600)]
    expected = {d["alert_id"]: d for d in correlate(correlations, [], alerts)}
    assert {d["rule"]["id"] for d in expected.values()} == {"many", "users", "chain"}
    return correlations, sorted(alerts, key=lambda a: alert_time(a) + rng.uniform(0, 30.0)), expected


def test_micro_batches_in_shuffled_order_within_the_lateness_give_the_batch_alerts():
    rng = random.Random(11)
    correlations, arrival, expected = _shuffled(rng)
    judged, _ = _stream(correlations, arrival, lateness=30.0, sizes=rng, most=60)
    assert judged == expected


Docs = dict[str, dict[str, Any]]


def _stream(correlations: list[Correlation], arrival: list[dict[str, Any]], lateness: float,
            sizes: random.Random | None = None, most: int = 1) -> tuple[Docs, list[Docs]]:
    """Feed alerts as the stream does, micro-batch by micro-batch through a keyed checkpoint, asking for
    early alerts after each (micro-batches of 1 to `most` alerts): the judged documents by id, and each
    micro-batch's early (or withdrawn) ones. Now and then a micro-batch is saved, then redone."""
    import math
    import tempfile

    from layers.correlate import Correlator, alert_time
    from socpipe.batchstate import KeyedBatchState

    judged: Docs = {}
    early: list[Docs] = []
    newest = -math.inf
    with tempfile.TemporaryDirectory() as folder:
        states = KeyedBatchState(Path(folder) / "correlation.sqlite")
        batch_id = 0
        while arrival:
            batch = arrival[:sizes.randint(1, most) if sizes else 1]
            arrival = arrival[len(batch):]
            for _attempt in range(2 if batch_id % 3 == 1 else 1):  # the first attempt's results are dropped
                correlator = Correlator(correlations, [], single_agency, states.begin(batch_id), states)
                correlator.add(batch)
                found = correlator.advance(max(newest, *(alert_time(a) for a in batch)) - lateness)
                assert correlator.late == 0
                provisional = correlator.provisional()
                states.save(batch_id, correlator.header(), correlator.changes())
            newest = max(newest, *(alert_time(a) for a in batch))
            revised = {i: d for i, d in found.items() if d["correlation"].get("withdrawn")}
            judged.update({i: d for i, d in found.items() if i not in revised})
            early.append(revised | provisional)
            batch_id += 1
        final = Correlator(correlations, [], single_agency, states.begin(batch_id), states)
        found = final.advance(math.inf)
        states.close()
    early.append({i: d for i, d in found.items() if d["correlation"].get("withdrawn")})
    judged.update({i: d for i, d in found.items() if i not in early[-1]})
    return judged, early


def test_the_stream_announces_a_growing_correlation_with_the_event_that_completes_it():
    many = corr("event_count", ["fail"], {"gte": 3}, cid="many", timespan="10m")
    alerts = [alert("fail", s, n=i) for i, s in enumerate([0, 30, 60, 90, 2000])]
    expected = {d["alert_id"]: d for d in correlate([many], [], alerts)}
    assert len(expected) == 1
    [alert_id] = expected

    judged, early = _stream([many], alerts, lateness=60.0)
    assert judged == expected
    # The third failure (t=60) meets the condition: its micro-batch announces the episode, ten minutes
    # before the window is judged, under the id the judged alert keeps.
    assert [list(e) for e in early[:2]] == [[], []]
    assert list(early[2]) == [alert_id]
    assert early[2][alert_id]["correlation"]["provisional"] is True
    assert early[2][alert_id]["correlation"]["events_count"] == 3
    assert early[2][alert_id]["@timestamp"] == expected[alert_id]["@timestamp"]
    assert list(early[3]) == [alert_id] and early[3][alert_id]["correlation"]["events_count"] == 4  # it grew
    assert not any(e for e in early[4:])  # the far alert (t=2000) judges the window: confirmed, not withdrawn
    assert "provisional" not in judged[alert_id]["correlation"]


def test_an_early_alert_that_later_alerts_move_is_withdrawn_and_the_judged_one_stands():
    many = corr("event_count", ["fail"], {"gte": 3}, cid="many", timespan="60s")
    alerts = [alert("fail", s, n=i) for i, s in enumerate([20, 30, 40, 500])]
    earlier = alert("fail", 0, n=9)  # arrives late, within the lateness: the episode starts at 0, not 20
    judged, early = _stream([many], [*alerts[:3], earlier, alerts[3]], lateness=120.0)
    expected = {d["alert_id"]: d for d in correlate([many], [], [*alerts, earlier])}
    assert judged == expected
    [announced] = early[2]
    assert announced not in expected
    withdrawn = [e[announced] for e in early[3:] if announced in e and e[announced]["correlation"].get("withdrawn")]
    assert len(withdrawn) == 1


def test_conditions_that_can_still_fail_give_no_early_alert():
    few = corr("event_count", ["fail"], {"lt": 3}, cid="few", timespan="60s")
    avg = corr("value_avg", ["fail"], {"field": "Bytes", "gte": 10}, cid="avg", timespan="60s")
    alerts = [alert("fail", s, n=i, Bytes="50") for i, s in enumerate([0, 10, 500])]
    judged, early = _stream([few, avg], alerts, lateness=30.0)
    assert judged == {d["alert_id"]: d for d in correlate([few, avg], [], alerts)}
    assert judged and not any(e for e in early)


def test_early_alerts_in_shuffled_micro_batches_are_confirmed_or_withdrawn_and_the_judged_equal_batch():
    rng = random.Random(5)
    correlations, arrival, expected = _shuffled(rng)
    judged, early = _stream(correlations, arrival, lateness=30.0, sizes=rng, most=3)
    assert judged == expected
    announced = {i for e in early for i, d in e.items() if d["correlation"].get("provisional")}
    withdrawn = {i for e in early for i, d in e.items() if d["correlation"].get("withdrawn")}
    assert announced and announced - withdrawn <= set(expected)  # every early alert not withdrawn was confirmed
    assert not withdrawn & set(expected)
    assert len(announced - withdrawn) >= 0.9 * len([i for i, d in expected.items() if d["rule"]["id"] != "chain"])


def test_many_groups_in_shuffled_micro_batches_give_the_batch_alerts():
    """Forty sources: most groups have nothing to judge in a given micro-batch and are not visited."""
    from layers.correlate import alert_time

    rng = random.Random(7)
    many = corr("event_count", ["fail"], {"gte": 3}, cid="many", timespan="2m")
    users = corr("value_count", ["fail"], {"field": "User", "gte": 2}, cid="users", timespan="5m")
    alerts = [alert("fail", rng.uniform(0, 3600), ip=f"192.0.2.{rng.randrange(40)}", n=i, User=rng.choice("abc"))
              for i in range(800)]
    expected = {d["alert_id"]: d for d in correlate([many, users], [], alerts)}
    assert len({d["correlation"]["group"]["source.ip"] for d in expected.values()}) > 20
    arrival = sorted(alerts, key=lambda a: alert_time(a) + rng.uniform(0, 30.0))
    judged, _ = _stream([many, users], arrival, lateness=30.0, sizes=rng, most=40)
    assert judged == expected


def test_a_micro_batch_reads_and_saves_only_the_groups_it_changes(tmp_path: Path):
    """The stream's cost follows the change, not the state: a thousand open groups, then one alert."""
    from layers.correlate import Correlator
    from socpipe.batchstate import KeyedBatchState

    class Counted(KeyedBatchState):
        read = 0

        def _loaded(self, found: dict[str, bytes]) -> dict[str, bytes]:
            Counted.read += len(found)
            return found

        def get(self, part: str, keys: Any) -> dict[str, bytes]:
            return self._loaded(super().get(part, keys))

        def due(self, part: str, before: float) -> dict[str, bytes]:
            return self._loaded(super().due(part, before))

    t0 = T0.timestamp()
    many = corr("event_count", ["fail"], {"gte": 3}, cid="many", timespan="10m")
    states = Counted(tmp_path / "c.sqlite")

    def batch(n: int, alerts: list[dict[str, Any]], watermark: float) -> dict[tuple[str, str], Any]:
        correlator = Correlator([many], [], single_agency, states.begin(n), states)
        correlator.add(alerts)
        assert correlator.advance(watermark) == {}
        changes = correlator.changes()
        states.save(n, correlator.header(), changes)
        assert not correlator.groups["many"]  # nothing kept in memory
        return changes

    assert len(batch(0, [alert("fail", i * 0.1, ip=f"10.0.{i // 250}.{i % 250}") for i in range(1000)],
                     t0 + 100.0)) == 1000
    assert Counted.read == 0
    assert list(batch(1, [alert("fail", 101.0, ip="10.9.9.9")], t0 + 101.0)) == [("many", '["10.9.9.9"]')]
    assert Counted.read == 0
    # the window of t=0 ended; that of t=0.1 has not: one group read, judged, gone
    assert batch(2, [], t0 + 600.05) == {("many", '["10.0.0.0"]'): None}
    assert Counted.read == 1
    assert states.db.execute("SELECT count(*) FROM entries").fetchone()[0] == 1000
