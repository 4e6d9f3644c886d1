"""Tuning as code: Sigma meta filters and per-rule suppression loaded from rule paths, applied to alerts,
counted and recorded; checked against hand-computed results, in any order and any split into batches."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from alerting.tuning import SuppressionState, Tuning
from rules.compiler import load_rules

RULE_ID = "5d2f8a39-6e0a-4a4b-9b7a-1f0e2a7d1c11"
FILTER_ID = "0b8c7c55-3a52-4f7e-9d71-6a2d0c1f4e21"
RULE = f"""title: Test SSH failure
id: {RULE_ID}
name: test_ssh_failure
logsource: {{product: linux, service: sshd}}
detection:
    sel: {{message|contains: 'Failed password'}}
    condition: sel
level: low
socpipe:
    suppress: {{group_by: [source.ip], duration: 10m}}
"""
FILTER = f"""title: The monitoring probe's logins are expected
id: {FILTER_ID}
logsource: {{product: linux, service: sshd}}
filter:
    rules: [test_ssh_failure]
    probe:
        message|contains: 'from 10.9.9.9 '
    condition: not probe
"""
BROKEN = """title: names a rule nobody wrote
id: 7f3e2b1a-0c4d-4e5f-8a9b-1c2d3e4f5a6b
logsource: {product: linux, service: sshd}
filter:
    rules: [no_such_rule]
    sel: {message: x}
    condition: not sel
---
title: Bad suppression
id: 9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d
logsource: {product: linux, service: sshd}
detection:
    sel: {message|contains: 'Invalid user'}
    condition: sel
socpipe:
    suppress: {group_by: [source.ip], duration: 10 minutes}
"""
T0 = datetime(2026, 3, 14, 23, 55, tzinfo=UTC)  # windows are epoch-aligned 10-minute steps: 23:50, 00:00, ...


@pytest.fixture()
def ruleset(tmp_path):
    (tmp_path / "rule.yml").write_text(RULE)
    (tmp_path / "filter.yml").write_text(FILTER)
    (tmp_path / "broken.yml").write_text(BROKEN)
    return load_rules([tmp_path])


def alert(n: int, seconds: int, ip: str) -> dict:
    return {"alert_id": f"a{n:03d}", "@timestamp": (T0 + timedelta(seconds=seconds)).isoformat(),
            "rule": {"id": RULE_ID, "title": "Test SSH failure", "level": "low", "tags": []},
            "source": {"ip": ip}, "agency": {"id": "skhcn"},
            "event": {"message": f"Failed password for root from {ip} port 22 ssh2"}}


# Hand-computed, alert by alert (10-minute windows from the epoch, grouped by source.ip):
ALERTS = [
    alert(1, 0, "203.0.113.7"),     # 23:55:00 first in 23:50 window: stands
    alert(2, 240, "203.0.113.7"),   # 23:59:00 same window and source: suppressed
    alert(3, 299, "203.0.113.7"),   # 23:59:59 same window (edge, 1 s before it ends): suppressed
    alert(4, 300, "203.0.113.7"),   # 00:00:00 a new window starts exactly here: stands
    alert(5, 301, "198.51.100.2"),  # another source: stands
    alert(6, 310, "10.9.9.9"),      # the monitoring probe: removed by the filter
    alert(7, 899, "203.0.113.7"),   # 00:09:59 window of alert 4: suppressed
]
STANDING = {"a001", "a004", "a005"}


def test_filters_and_suppressions_load_and_failures_name_id_and_reason(ruleset):
    assert [f.id for f in ruleset.filters] == [FILTER_ID] and ruleset.filters[0].rule_ids == (RULE_ID,)
    assert ruleset.suppressions[RULE_ID].group_by == ("source.ip",) and ruleset.suppressions[RULE_ID].seconds == 600
    reasons = {f.id: f.reason for f in ruleset.failures}
    assert "names unknown rule 'no_such_rule'" in reasons["7f3e2b1a-0c4d-4e5f-8a9b-1c2d3e4f5a6b"]
    assert "10 minutes" in reasons["9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"]


def test_filter_and_suppression_give_the_hand_computed_alerts_and_record_every_one(ruleset):
    outcome = Tuning.of(ruleset, {}).apply(ALERTS)
    assert {a["alert_id"] for a in outcome.kept} == STANDING
    assert outcome.counts == {f"filter {FILTER_ID}": 1, f"suppression of rule {RULE_ID}": 3}
    records = {a.target_id: a for a in outcome.suppressed}
    assert set(records) == {"a002", "a003", "a006", "a007"}  # none silently gone
    assert all(a.kind == "suppress" and a.target_type == "alert" for a in records.values())
    assert records["a006"].detail["filter_id"] == FILTER_ID and records["a006"].detail["alert"] == ALERTS[5]
    assert records["a003"].detail["kept_alert_id"] == "a001"
    assert records["a003"].detail["window_end"] == "2026-03-15T00:00:00+00:00"
    assert records["a007"].detail["kept_alert_id"] == "a004"


def test_any_order_and_split_batches_with_state_give_the_same_result(ruleset):
    tuning = Tuning.of(ruleset, {})
    rng = random.Random(5)
    for _ in range(30):
        shuffled = ALERTS[:]
        rng.shuffle(shuffled)
        assert {a["alert_id"] for a in tuning.apply(shuffled).kept} == STANDING
        # The stream: micro-batches in time order, shuffled within each, state carried between them.
        cut = rng.randint(1, len(ALERTS) - 1)
        state, kept = SuppressionState(), set()
        for part in (ALERTS[:cut], ALERTS[cut:]):
            part = part[:]
            rng.shuffle(part)
            kept |= {a["alert_id"] for a in tuning.apply(part, state, lateness_seconds=3600).kept}
        assert kept == STANDING


def test_configuration_overrides_the_rule_and_expired_windows_are_let_go(ruleset):
    tuning = Tuning.of(ruleset, {RULE_ID: {"group_by": ["agency.id"], "duration": "1h"}})
    kept = {a["alert_id"] for a in tuning.apply(ALERTS).kept}
    assert kept == {"a001", "a004"}  # one agency: 23:00-00:00 and 00:00-01:00 windows
    state = SuppressionState()
    tuning.apply(ALERTS[:1], state, lateness_seconds=0)
    tuning.apply([alert(8, 7200, "203.0.113.7")], state, lateness_seconds=0)
    assert len(state.kept) == 1  # the 23:00 window ended more than the lateness before the newest alert
    with pytest.raises(ValueError, match="suppression.rules"):
        Tuning.of(ruleset, {RULE_ID: {"duration": "soon"}})
