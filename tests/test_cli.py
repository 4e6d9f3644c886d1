"""The command line, run as a user would: real files in, real files and a summary out."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import ROOT, SIGMAHQ

RULE = """title: Whoami
id: 11111111-1111-4111-8111-111111111111
status: test
logsource:
  product: windows
  category: process_creation
detection:
  sel:
    Image|endswith: '\\\\whoami.exe'
  condition: sel
level: high
tags: [attack.discovery, attack.t1033]
"""
BROKEN = "title: Broken\nid: 22222222-2222-4222-8222-222222222222\nlogsource: {product: windows}\n" \
         "detection:\n  sel:\n    Image|nosuchmodifier: x\n  condition: sel\n"


def socpipe(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "socpipe.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600)


def sysmon1(record_id: int, image: str) -> dict:
    return {"Event": {"System": {
        "Provider": {"#attributes": {"Name": "Microsoft-Windows-Sysmon"}}, "EventID": 1,
        "TimeCreated": {"#attributes": {"SystemTime": "2026-11-27T03:00:00.000000Z"}},
        "EventRecordID": record_id, "Channel": "Microsoft-Windows-Sysmon/Operational", "Computer": "ws01"},
        "EventData": {"Image": image, "CommandLine": image}}}


def test_rules_check_reports_failures_by_id_and_exit_code(tmp_path):
    (tmp_path / "good.yml").write_text(RULE)
    (tmp_path / "bad.yml").write_text(BROKEN)
    result = socpipe("rules", "check", str(tmp_path))
    assert result.returncode == 0
    assert "FAILED 22222222-2222-4222-8222-222222222222" in result.stdout
    assert "nosuchmodifier" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == "1 compiled, 1 failed"
    assert socpipe("rules", "check", "--strict", str(tmp_path)).returncode == 1


def test_rules_check_whole_sigmahq_snapshot():
    result = socpipe("rules", "check", *(str(p) for p in sorted(SIGMAHQ.glob("rules*"))))
    compiled, failed = (int(x) for x in result.stdout.strip().splitlines()[-1].replace(",", "").split()[0::2])
    assert compiled > 3500
    # every failure names an unfilled placeholder: nothing else may fail
    reasons = [line for line in result.stdout.splitlines() if line.startswith("FAILED")]
    assert len(reasons) == failed
    assert all("Placeholder" in r or "placeholder" in r for r in reasons), reasons


def test_detect_writes_alerts_deadletters_and_summary(tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "r.yml").write_text(RULE)
    logs = tmp_path / "logs" / "nested"
    logs.mkdir(parents=True)
    events = [sysmon1(1, "C:\\Windows\\System32\\whoami.exe"), sysmon1(2, "C:\\Windows\\notepad.exe")]
    (logs / "a.json").write_text("\n".join(json.dumps(e) for e in events) + "\n{broken json\n")
    out = tmp_path / "out"
    result = socpipe("detect", "--rules", str(rules), "--input", str(tmp_path / "logs"), "--out", str(out))
    assert result.returncode == 0, result.stderr
    alerts = [json.loads(line) for line in (out / "alerts.jsonl").read_text().splitlines()]
    assert [a["event"]["EventRecordID"] for a in alerts] == ["1"]
    alert = alerts[0]
    assert alert["rule"] == {"id": "11111111-1111-4111-8111-111111111111", "title": "Whoami", "level": "high",
                             "tags": ["attack.discovery", "attack.t1033"]}
    assert alert["@timestamp"].startswith("2026-11-27T03:00:00")
    assert alert["event"]["Image"].endswith("whoami.exe")
    dead = [json.loads(line) for line in (out / "deadletter.jsonl").read_text().splitlines()]
    assert len(dead) == 1 and "broken json" in dead[0]["raw"]
    assert "events read" in result.stdout and "high 1" in result.stdout and "events/s" in result.stdout
    # a re-run gives the same alert ids
    again = socpipe("detect", "--rules", str(rules), "--input", str(tmp_path / "logs"), "--out", str(tmp_path / "o2"))
    assert again.returncode == 0
    assert (tmp_path / "o2" / "alerts.jsonl").read_text() == (out / "alerts.jsonl").read_text()


def test_rules_regress_over_sigmahq():
    result = socpipe("rules", "regress", str(SIGMAHQ))
    last = result.stdout.strip().splitlines()[-1]
    passed, failed = int(last.split()[0]), int(last.split()[2])
    assert passed + failed == 202
    assert passed >= 201, result.stdout


def test_sigma_cli_uses_the_spark_backend(tmp_path):
    (tmp_path / "r.yml").write_text(RULE)
    sigma = Path(sys.executable).parent / "sigma"
    targets = subprocess.run([str(sigma), "list", "targets"], capture_output=True, text=True, timeout=120)
    assert "spark" in targets.stdout
    result = subprocess.run([str(sigma), "convert", "-t", "spark", "--without-pipeline", str(tmp_path / "r.yml")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "endswith(lower(fields['Image']), '\\\\whoami.exe')" in result.stdout
