"""The starter correlation pack (rules/starter/correlations): events that must fire each correlation and
events that must not, through the readers, the starter rules, the Detector and layers/correlate.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest
from conftest import ROOT

from ingest.frame import Frame, parse_frame
from layers.correlate import correlate, hidden_rules
from layers.detect import EVENT_SCHEMA, alert_batch, event_row
from layers.matcher.engine import Detector
from rules.compiler import load_rules
from socpipe.config import STARTER_PACK
from socpipe.envelope import PARSER_OF_SOURCE
from socpipe.registry import Registry

START = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
ATTACKER, OTHER = "203.0.113.9", "198.51.100.200"


@pytest.fixture(scope="module")
def pack() -> tuple[Any, Detector, Registry]:
    ruleset = load_rules([STARTER_PACK])
    assert not ruleset.failures
    return ruleset, Detector(ruleset.rules), Registry.load(ROOT / "socpipe" / "demo" / "registry.yaml")


def ssh(seconds: float, host: str, ip: str = ATTACKER, user: str = "root") -> tuple[str, bytes]:
    stamp = (START + timedelta(seconds=seconds)).strftime("%b %d %H:%M:%S")
    return "syslog", f"{stamp} {host} sshd[4242]: Failed password for {user} from {ip} port 50000 ssh2".encode()


def vpn(seconds: float, user: str) -> tuple[str, bytes]:
    stamp = (START + timedelta(seconds=seconds)).strftime("%b %d %H:%M:%S")
    return "syslog", (f"{stamp} vpn-gw01 openvpn[881]: pam_unix(openvpn:auth): authentication failure; logname= "
                      f"uid=0 euid=0 tty= ruser= rhost=  user={user}").encode()


def rdp(seconds: float, host: str, ip: str = ATTACKER, failed: bool = True) -> tuple[str, bytes]:
    data = {"TargetUserName": "administrator", "LogonType": "10", "IpAddress": ip, "IpPort": "0"}
    event = {"Event": {"System": {"EventID": 4625 if failed else 4624, "Channel": "Security", "Computer": host,
                                  "Provider": {"#attributes": {"Name": "Microsoft-Windows-Security-Auditing"}},
                                  "TimeCreated": {"#attributes": {"SystemTime": (START + timedelta(
                                      seconds=seconds)).isoformat().replace("+00:00", "Z")}}},
                       "EventData": data}}
    return "windows", json.dumps(event).encode()


def dns(seconds: float, host: str, name: str) -> tuple[str, bytes]:
    """A Sysmon DNS query (event 22) as an EVTX JSON export writes it."""
    data = {"QueryName": name, "QueryStatus": "0", "Image": "C:\\Users\\u\\AppData\\Local\\Temp\\a.exe"}
    event = {"Event": {"System": {"EventID": 22, "Channel": "Microsoft-Windows-Sysmon/Operational", "Computer": host,
                                  "Provider": {"#attributes": {"Name": "Microsoft-Windows-Sysmon"}},
                                  "TimeCreated": {"#attributes": {"SystemTime": (START + timedelta(
                                      seconds=seconds)).isoformat().replace("+00:00", "Z")}}},
                       "EventData": data}}
    return "windows", json.dumps(event).encode()


def web(seconds: float, host: str, ip: str = ATTACKER, agent: str = "Mozilla/5.0 (compatible; Nuclei)") -> tuple:
    stamp = (START + timedelta(seconds=seconds)).strftime("%d/%b/%Y:%H:%M:%S +0000")
    return "webserver", f'{ip} - - [{stamp}] "GET /.env HTTP/1.1" 404 162 "-" "{agent}"'.encode(), host


def fired(pack: tuple[Any, Detector, Registry], records: list[tuple]) -> dict[str, list[dict[str, Any]]]:
    """Correlation alerts by correlation name (or title) for these raw records."""
    ruleset, detector, registry = pack
    rows = []
    for n, record in enumerate(records):
        source, raw = record[0], record[1]
        event = parse_frame(f"test.{source}", Frame(PARSER_OF_SOURCE[source], f"line {n}", raw))
        if len(record) == 3:  # access logs do not name their host: the file does (the demo's HostHint)
            event.fields["cs-host"] = record[2]
        rows.append(event_row(event, registry, (), 2026))
    batch = pa.RecordBatch.from_pylist(rows, schema=EVENT_SCHEMA)
    alerts = [json.loads(d) for d in alert_batch(detector, batch).column("document").to_pylist()]
    out: dict[str, list[dict[str, Any]]] = {}
    names = {c.id: c.name or c.title for c in ruleset.correlations}
    for doc in correlate(ruleset.correlations, ruleset.rules, alerts, registry.common_ancestor):
        out.setdefault(names[doc["rule"]["id"]], []).append(doc)
    return out


def test_ssh_brute_force_needs_twenty_failures_in_ten_minutes(pack):
    assert "ssh_brute_force" in fired(pack, [ssh(i * 25, "dvc-web02") for i in range(20)])  # 475 s
    assert "ssh_brute_force" not in fired(pack, [ssh(i * 25, "dvc-web02") for i in range(19)])
    assert "ssh_brute_force" not in fired(pack, [ssh(i * 40, "dvc-web02") for i in range(20)])  # 760 s apart
    two_sources = [ssh(i * 10, "dvc-web02", ATTACKER if i % 2 else OTHER) for i in range(30)]
    assert "ssh_brute_force" not in fired(pack, two_sources)  # 15 each


def test_cross_agency_brute_force_lists_every_agency(pack):
    sweep = [ssh(0, "dvc-web01"), ssh(60, "lgsp-gw01"), rdp(120, "ws-snv-01.snv.ankhanh.gov.vn")]
    docs = fired(pack, sweep)["cross_agency_brute_force"]
    assert len(docs) == 1 and docs[0]["agency"]["ids"] == ["skhcn", "snv", "vp-ubnd"]
    assert docs[0]["agency"]["id"] == "ankhanh"  # the lowest unit over all three: who may see it
    assert docs[0]["rule"]["level"] == "critical" and docs[0]["correlation"]["group"] == {"source.ip": ATTACKER}
    assert "cross_agency_brute_force" not in fired(pack, sweep[:2] + [ssh(120, "dvc-web02")])  # two agencies
    assert "cross_agency_brute_force" not in fired(pack, sweep[:2] + [rdp(3600, "ws-snv-01.snv.ankhanh.gov.vn")])


def test_vpn_spraying_counts_accounts_not_attempts(pack):
    assert "vpn_password_spraying" in fired(pack, [vpn(i * 60, f"user{i}") for i in range(5)])
    assert "vpn_password_spraying" not in fired(pack, [vpn(i * 60, f"user{i % 4}") for i in range(40)])


def test_rdp_guessing_then_success_needs_the_order_and_the_same_source(pack):
    host = "pc-mc01.binhlac.ankhanh.gov.vn"
    guesses = [rdp(i * 9, host) for i in range(12)]
    chain = "RDP Password Guessing Followed by a Successful Logon"
    assert chain in fired(pack, [*guesses, rdp(600, host, failed=False)])
    assert chain not in fired(pack, [rdp(0, host, failed=False), *[rdp(10 + i * 9, host) for i in range(12)]])
    assert chain not in fired(pack, [*guesses, rdp(600, host, ip=OTHER, failed=False)])
    assert chain not in fired(pack, [*guesses[:9], rdp(600, host, failed=False)])  # 9 guesses: no first step


def test_the_successful_logon_raises_no_alert_of_its_own(pack):
    ruleset = pack[0]
    success = next(r for r in ruleset.rules if r.name == "rdp_logon_success")
    assert success.id in hidden_rules(ruleset.correlations)


def test_web_scanning_across_portals_needs_two_portals(pack):
    assert "web_scanning_across_portals" in fired(pack, [web(0, "cttdt-web01"), web(300, "dvc-web01")])
    assert "web_scanning_across_portals" not in fired(pack, [web(i * 5, "cttdt-web01") for i in range(30)])
    benign = "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"
    assert "web_scanning_across_portals" not in fired(pack, [web(0, "cttdt-web01"), web(9, "dvc-web01", agent=benign)])


def test_same_suspicious_domain_at_two_agencies(pack):
    stc, syt = "ws-stc-01.stc.ankhanh.gov.vn", "ws-syt-02.syt.ankhanh.gov.vn"
    docs = fired(pack, [dns(0, stc, "cdn-update.duckdns.org"), dns(7200, syt, "cdn-update.duckdns.org")])
    assert docs["same_domain_several_agencies"][0]["agency"]["ids"] == ["stc", "syt"]
    assert "same_domain_several_agencies" not in fired(pack, [dns(0, stc, "a.duckdns.org"),
                                                                dns(60, syt, "b.duckdns.org")])
    assert "same_domain_several_agencies" not in fired(pack, [dns(0, stc, "cdn-update.duckdns.org"),
                                                                dns(90000, syt, "cdn-update.duckdns.org")])
