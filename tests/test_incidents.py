"""Incidents: the fold of alerts by rule, group and window, checked against hand-computed incidents, in any
input order and any split into micro-batches (the stream's way: open spans carried from one to the next)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from alerting.incidents import MAX_ALERT_IDS, Span, batch_incidents, fold, incident_id, still_open

T0 = datetime(2026, 3, 14, 23, 50, tzinfo=UTC)  # the chains straddle midnight: clock boundaries do not matter
WINDOW = 600


def alert(n: int, seconds: float | None, host: str = "dvc-web02", rule: str = "r-ssh", level: str = "low",
          agency: str = "skhcn", correlation: dict | None = None) -> dict:
    doc = {"alert_id": f"a{n:04d}", "@timestamp": None if seconds is None else (T0 + timedelta(seconds=seconds))
           .isoformat(), "rule": {"id": rule, "title": "SSH failure", "level": level, "tags": []},
           "host": {"name": host}, "agency": {"id": agency}, "event": {}}
    if correlation:
        doc["correlation"] = correlation
    return doc


# One host: 0 and 600 s (a gap of exactly the window: same incident), 1201 (601 s later: a new one), 1500.
# Another host at 100 s: its own incident. Hand-computed: three incidents.
ALERTS = [alert(1, 0), alert(2, 600), alert(3, 1201), alert(4, 1500), alert(5, 100, host="vpn-gw01")]
EXPECTED = {  # (first alert, host) -> (count, first s, last s, alert ids)
    ("a0001", "dvc-web02"): (2, 0, 600, ["a0001", "a0002"]),
    ("a0003", "dvc-web02"): (2, 1201, 1500, ["a0003", "a0004"]),
    ("a0005", "vpn-gw01"): (1, 100, 100, ["a0005"]),
}


def _summary(docs: list[dict]) -> dict:
    return {doc["incident_id"]: (doc["count"], doc["first"], doc["last"], doc["alert_ids"]) for doc in docs}


def _expected() -> dict:
    at = lambda s: (T0 + timedelta(seconds=s)).isoformat()  # noqa: E731
    return {incident_id("r-ssh", {"agency.id": "skhcn", "host.name": host}, first): (count, at(a), at(b), ids)
            for (first, host), (count, a, b, ids) in EXPECTED.items()}


def test_window_edge_and_hosts_give_the_hand_computed_incidents():
    docs = batch_incidents(ALERTS, WINDOW)
    assert _summary(docs) == _expected()
    first = docs[0]
    assert first["status"] == "new" and first["escalation_step"] == 0 and first["assignee"] is None
    assert first["group"] == {"agency.id": "skhcn", "host.name": "dvc-web02"}
    assert first["level"] == first["rule"]["level"] == "low"
    assert first["@timestamp"] == first["first"] and first["agency"] == {"id": "skhcn", "ids": ["skhcn"]}
    assert first["host"] == {"name": "dvc-web02"}


def test_one_host_name_in_two_agencies_gives_two_incidents_each_with_one_owner():
    docs = batch_incidents([alert(1, 0), alert(2, 60, agency="vp-ubnd")], WINDOW)
    assert sorted((d["agency"]["id"], d["agency"]["ids"], d["alert_ids"]) for d in docs) == [
        ("skhcn", ["skhcn"], ["a0001"]), ("vp-ubnd", ["vp-ubnd"], ["a0002"])]


def test_any_input_order_gives_the_same_incidents():
    rng = random.Random(7)
    for _ in range(20):
        shuffled = ALERTS[:]
        rng.shuffle(shuffled)
        assert _summary(batch_incidents(shuffled, WINDOW)) == _expected()


def _stream(batches: list[list[dict]]) -> dict:
    """Fold batch after batch as the stream does; the current documents of the incidents at the end."""
    spans: list[Span] = []
    documents: dict[str, dict] = {}
    for batch in batches:
        folded = fold(batch, spans, WINDOW)
        spans = folded.spans
        for old, _ in folded.absorbed:
            documents.pop(old.incident_id, None)
        documents.update({s.incident_id: s.document() for s in folded.changed})
    assert set(documents) == {s.incident_id for s in spans}
    return _summary(list(documents.values()))


def test_split_and_shuffled_micro_batches_give_the_batch_incidents():
    rng = random.Random(11)
    for _ in range(50):
        shuffled = ALERTS[:]
        rng.shuffle(shuffled)
        cuts = sorted(rng.sample(range(1, len(shuffled)), rng.randint(0, len(shuffled) - 1)))
        batches = [shuffled[a:b] for a, b in zip([0, *cuts], [*cuts, len(shuffled)], strict=True)]
        result = _stream(batches)
        # The order of alert ids within an incident follows arrival, the rest is exact.
        assert {k: (c, a, b, sorted(ids)) for k, (c, a, b, ids) in result.items()} == _expected()


def test_a_late_alert_bridging_two_incidents_joins_them_and_a_late_first_alert_renames():
    # Batch 1: 0 s and 1200 s are two incidents; batch 2 brings 600 s, which bridges them (gaps of 600 s).
    first = fold([alert(1, 0), alert(3, 1200)], [], WINDOW)
    assert len(first.spans) == 2
    second = fold([alert(2, 600)], first.spans, WINDOW)
    survivor = incident_id("r-ssh", {"agency.id": "skhcn", "host.name": "dvc-web02"}, "a0001")
    assert [(s.incident_id, s.count) for s in second.changed] == [(survivor, 3)]
    assert [(old.first_alert_id, new) for old, new in second.absorbed] == [("a0003", survivor)]
    # An alert earlier than the first of an open incident becomes its first: the incident gets that id.
    late = fold([alert(9, -30)], second.spans, WINDOW)
    renamed = incident_id("r-ssh", {"agency.id": "skhcn", "host.name": "dvc-web02"}, "a0009")
    assert [(s.incident_id, s.count, s.alert_ids[0]) for s in late.changed] == [(renamed, 4, "a0009")]
    assert [(old.incident_id, new) for old, new in late.absorbed] == [(survivor, renamed)]


def test_replayed_alerts_are_not_counted_twice():
    spans = fold(ALERTS, [], WINDOW).spans
    again = fold(ALERTS[:2], spans, WINDOW)
    assert again.changed == [] and sorted(s.count for s in again.spans) == [1, 2, 2]


def test_correlation_alerts_fold_by_their_group_across_hosts_and_agencies():
    group = {"source.ip": "203.0.113.45"}
    corr = [alert(20, 0, host="a", agency="snv", rule="c-brute", correlation={"group": group}),
            alert(21, 300, host="b", agency="skhcn", rule="c-brute", correlation={"group": group})]
    (doc,) = batch_incidents(corr, WINDOW)
    assert doc["group"] == group and doc["count"] == 2 and doc["agency"]["ids"] == ["skhcn", "snv"]
    assert doc["incident_id"] == incident_id("c-brute", group, "a0020")


def test_alerts_without_time_fold_into_one_incident_per_key_and_ids_are_capped():
    docs = batch_incidents([alert(30, None), alert(31, None), alert(32, 5)], WINDOW)
    assert sorted((d["count"], d["first"]) for d in docs if d["first"] is None) == [(2, None)]
    many = [alert(n, n) for n in range(MAX_ALERT_IDS + 5)]
    (doc,) = batch_incidents(many, WINDOW)
    assert doc["count"] == MAX_ALERT_IDS + 5 and len(doc["alert_ids"]) == MAX_ALERT_IDS


def test_the_stream_lets_go_of_incidents_beyond_window_and_lateness():
    spans = fold([alert(40, 0), alert(41, 1000), alert(42, 2200), alert(43, None)], [], WINDOW).spans
    # Newest last alert at 2200 s: with window 600 and lateness 600, spans ending before 1000 s are let go.
    kept = still_open(spans, WINDOW, 600)
    assert sorted(s.first_alert_id for s in kept) == ["a0041", "a0042", "a0043"]
