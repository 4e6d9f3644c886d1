"""SigmaHQ's network rules on socpipe's network kinds: every rule of the shared snapshot with product zeek or
category dns, proxy or firewall compiles to sources socpipe has (Zeek logs, Suricata EVE, flows), and real
SigmaHQ rules, named here, fire on the sample Zeek and Suricata records and on crafted Zeek records."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path

import pytest
import yaml
from conftest import SIGMAHQ

from ingest.files import read_paths
from ingest.parsers import zeek_fields
from layers.detect import event_row
from layers.matcher.engine import Detector
from rules.compiler import load_rules
from rules.logsources import resolve
from socpipe.events import Event

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "tests" / "data" / "network"
_NETWORK = re.compile(rb"product:\s*zeek|category:\s*(dns|proxy|firewall)\s*$", re.MULTILINE)


def network_rule_files() -> list[Path]:
    """SigmaHQ rule files (all rule folders) whose logsource is product zeek or category dns/proxy/firewall."""
    found = []
    for path in sorted(SIGMAHQ.glob("rules*/**/*.yml")):
        if not _NETWORK.search(path.read_bytes()):
            continue
        source = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("logsource") or {}
        if source.get("product") == "zeek" or source.get("category") in ("dns", "proxy", "firewall"):
            found.append(path)
    return found


@pytest.fixture(scope="module")
def ruleset():
    return load_rules(network_rule_files())


def test_sigmahq_network_rules_compile_onto_network_kinds(ruleset) -> None:
    by_source: dict[str, int] = defaultdict(int)
    for rule in ruleset.rules:
        product, category, _ = rule.logsource
        by_source["zeek" if product == "zeek" else category] += 1
        kinds = {s.kind for s in resolve(*rule.logsource).sources} - {"json"}
        assert kinds and rule.logsource_exact, (rule.id, rule.logsource)
        assert all(k == "flow" or k.startswith(("zeek_", "suricata_")) for k in kinds)
    failures = [(f.rule_id, f.reason) for f in ruleset.failures]
    print(f"SigmaHQ network rules: {len(ruleset.rules)} compiled, {len(failures)} failed; by source "
          f"{dict(sorted(by_source.items()))}; failures {failures}")
    assert len(ruleset.rules) >= 80 and not failures
    assert by_source["zeek"] >= 20 and by_source["dns"] >= 10 and by_source["proxy"] >= 40


def _fired(ruleset, events: list[Event]) -> dict[str, set[str]]:
    """Rule title -> kinds of the events it fired on."""
    detector = Detector(ruleset.rules)
    fired: dict[str, set[str]] = defaultdict(set)
    for event in events:
        row = event_row(event, None, (), None)
        for i in detector.match(row["kind"], dict(row["fields"])):
            fired[detector.rules[i].title].add(row["kind"])
    return fired


def _zeek(log: str, **fields: object) -> Event:
    document = {"ts": 1773453900.5, "uid": "CcRaFtEd0000000001", "id.orig_h": "203.0.113.9", "id.orig_p": 50123,
                "id.resp_h": "10.20.1.20", "id.resp_p": 445, "_path": log, **fields}
    return Event(zeek_fields(json.loads(json.dumps(document))), f"zeek_{log}", "crafted")


def test_real_sigmahq_rules_fire_on_zeek_and_suricata_records(ruleset) -> None:
    samples = [e for e in read_paths([SAMPLES]) if isinstance(e, Event)]
    crafted = [
        _zeek("rdp", **{"id.resp_p": 3389, "cookie": "mstshash=admin", "result": "Success",
                        "security_protocol": "HYBRID"}),
        _zeek("x509", **{"certificate.serial": "8BB00EE", "certificate.subject": "CN=Major Cobalt Strike"}),
        _zeek("smb_files", action="SMB::FILE_OPEN", path="\\\\10.20.1.20\\IPC$", name="PSEXESVC-stdin"),
        _zeek("smb_files", action="SMB::FILE_OPEN", path="\\\\10.20.1.20\\IPC$", name="svc-x-stdin"),
        _zeek("dns", **{"id.resp_p": 53, "proto": "udp", "query": "mirror7.hiddenservice.net", "qtype_name": "A"}),
    ]
    fired = _fired(ruleset, samples + crafted)
    print("fired:", {title: sorted(kinds) for title, kinds in sorted(fired.items())})
    # product zeek rules, by service
    assert fired["DNS Events Related To Mining Pools"] == {"zeek_dns"}
    assert fired["WebDav Put Request"] == {"zeek_http"}
    assert fired["HTTP Request to Low Reputation TLD or Suspicious File Extension"] == {"zeek_http"}
    assert fired["Publicly Accessible RDP Service"] == {"zeek_rdp"}
    assert fired["Default Cobalt Strike Certificate"] == {"zeek_x509"}
    assert fired["Suspicious PsExec Execution - Zeek"] == {"zeek_smb_files"}  # the PSEXESVC pipe is filtered out
    assert fired["DNS TOR Proxies"] == {"zeek_dns"}
    # generic categories, on Zeek and Suricata alike (the generic names the readers add)
    assert fired["Monero Crypto Coin Mining Pool Lookup"] == {"zeek_dns", "suricata_dns"}
    assert fired["Download From Suspicious TLD - Blacklist"] == {"zeek_http", "suricata_http"}
    # nothing fires on the ordinary records (the portal page, the province's own name)
    assert not _fired(ruleset, [e for e in samples if "ankhanh.gov.vn" in e.fields.get("query", "")
                                + e.fields.get("host", "")])


@pytest.mark.slow
def test_batch_detect_reads_the_sensor_logs_and_fires_the_same_rules(tmp_path: Path) -> None:
    """`socpipe detect --input` on the samples (Spark local mode) gives the Detector's alerts."""
    import subprocess
    import sys

    rules = SIGMAHQ / "rules"
    done = subprocess.run([sys.executable, "-m", "socpipe.cli", "detect", "--rules", str(rules / "network"),
                           str(rules / "web" / "proxy_generic"), "--input", str(SAMPLES), "--out", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    alerts = [json.loads(line) for line in (tmp_path / "alerts.jsonl").read_text().splitlines()]
    ruleset = load_rules([rules / "network", rules / "web" / "proxy_generic"])
    samples = [e for e in read_paths([SAMPLES]) if isinstance(e, Event)]
    expected = {(title, kind) for title, kinds in _fired(ruleset, samples).items() for kind in kinds}
    assert {(a["rule"]["title"], a["event_meta"]["kind"]) for a in alerts} == expected
    assert len(alerts) == len(expected) == 10
