"""`socpipe detect` with a filter in the rule paths and a suppression in the configuration, against the same
run without them: what is taken away is exactly what the filter and the windows say, recorded, counted."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
import yaml
from conftest import ROOT
from test_cli import socpipe

SSH_FAILURE = "9153d6f0-65be-4a93-b53e-1b1c1fdffc02"
VPN_FAILURE = "53bec741-2e0a-474e-b225-317157fe95cc"
FILTER_ID = "e4b1c9a2-5f3d-4c8e-b1a7-9d2e6f0c3b18"
FILTER = f"""title: The brute-force source is a known scanner
id: {FILTER_ID}
logsource: {{product: linux, service: sshd}}
filter:
    rules: [{SSH_FAILURE}]
    scanner:
        message|contains: 'from 203.0.113.45 '
    condition: not scanner
"""


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.slow
def test_detect_applies_filter_and_suppression_and_writes_incidents(tmp_path):
    auth = ROOT / "socpipe" / "demo" / "samples" / "auth.log"
    (tmp_path / "tuning").mkdir()
    (tmp_path / "tuning" / "filter.yml").write_text(FILTER)
    config = tmp_path / "socpipe.yaml"
    config.write_text(yaml.safe_dump({
        "rules": {"paths": [str(tmp_path / "tuning")]}, "detect": {"syslog_year": 2026},
        "incidents": {"window_seconds": 600},
        "suppression": {"rules": {VPN_FAILURE: {"group_by": ["host.name"], "duration": "5m"}}}}))
    plain_config = tmp_path / "plain.yaml"
    plain_config.write_text(yaml.safe_dump({"detect": {"syslog_year": 2026}}))
    plain = socpipe("--config", str(plain_config), "detect", "--input", str(auth), "--out", str(tmp_path / "plain"))
    assert plain.returncode == 0, plain.stderr[-3000:]
    everything = {a["alert_id"]: a for a in _lines(tmp_path / "plain" / "alerts.jsonl")}
    tuned = socpipe("--config", str(config), "detect", "--input", str(auth), "--out", str(tmp_path / "tuned"))
    assert tuned.returncode == 0, tuned.stderr[-3000:]

    # What the filter and the 5-minute windows must take away, from the untuned alerts.
    filtered = {i for i, a in everything.items()
                if a["rule"]["id"] == SSH_FAILURE and "from 203.0.113.45 " in a["event"]["message"]}
    windows: dict[tuple, list] = {}
    for i, a in everything.items():
        if a["rule"]["id"] == VPN_FAILURE:
            start = int(datetime.fromisoformat(a["@timestamp"]).timestamp()) // 300
            windows.setdefault((a["host"]["name"], start), []).append((a["@timestamp"], i))
    suppressed = {i for entries in windows.values() for _, i in sorted(entries)[1:]}
    assert len(filtered) > 100 and len(suppressed) > 10  # the planted brute force and VPN spraying

    kept = {a["alert_id"] for a in _lines(tmp_path / "tuned" / "alerts.jsonl")}
    assert kept == set(everything) - filtered - suppressed
    records = {r["target_id"]: r for r in _lines(tmp_path / "tuned" / "suppressed.jsonl")}
    assert set(records) == filtered | suppressed
    assert all(records[i]["detail"]["alert"] == everything[i] for i in records)  # the whole alert is kept
    assert f"{len(filtered):,} alerts suppressed by filter {FILTER_ID}" in tuned.stdout
    assert f"{len(suppressed):,} alerts suppressed by suppression of rule {VPN_FAILURE}" in tuned.stdout

    incidents = _lines(tmp_path / "tuned" / "incidents.jsonl")
    assert sum(i["count"] for i in incidents) == len(kept)
    assert {a for i in incidents for a in i["alert_ids"]} == kept
    assert f"{len(kept):,} alerts folded into {len(incidents):,} incidents" in tuned.stdout
