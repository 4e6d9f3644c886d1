"""The network starter rules (rules/starter/network, rules/starter/correlations/net_*): Zeek conn and dns
records and NetFlow records that must fire each network correlation and records that must not, through the
readers, the starter rules, the Detector and layers/correlate.py; and the demo's network samples, whose
planted attacks these rules find and whose ordinary traffic fires none of them."""

from __future__ import annotations

import json
import random
import string
from datetime import timedelta
from typing import Any

import pyarrow as pa
import pytest
import yaml
from conftest import ROOT
from test_starter_correlations import START, fired

from layers.correlate import correlate, hidden_rules
from layers.detect import EVENT_SCHEMA, alert_batch, event_row
from layers.matcher.engine import Detector
from rules.compiler import load_rules
from socpipe.config import STARTER_PACK
from socpipe.events import Event
from socpipe.registry import Registry

SCANNER, OTHER = "203.0.113.66", "198.51.100.200"
SNV, STC, SYT = "ids01.snv.ankhanh.gov.vn", "ids01.stc.ankhanh.gov.vn", "ids01.syt.ankhanh.gov.vn"
HIS_DB, QLVB_DB, UNREGISTERED = "172.16.13.50", "10.10.20.21", "192.168.77.5"
EXFIL = "203.0.113.200"


@pytest.fixture(scope="module")
def pack() -> tuple[Any, Detector, Registry]:
    ruleset = load_rules([STARTER_PACK])
    assert not ruleset.failures
    return ruleset, Detector(ruleset.rules), Registry.load(ROOT / "socpipe" / "demo" / "registry.yaml")


def zconn(seconds: float, orig: str, resp: str, port: int, state: str = "REJ", orig_pkts: int = 1,
          orig_bytes: int = 0, sensor: str | None = None) -> tuple[str, bytes]:
    """A Zeek conn record (JSON writer); `sensor` as a log shipper adds it (host.name)."""
    record: dict[str, Any] = {
        "ts": (START + timedelta(seconds=seconds)).timestamp(), "uid": f"C{seconds:017.0f}", "id.orig_h": orig,
        "id.orig_p": 51000 + int(seconds) % 10000, "id.resp_h": resp, "id.resp_p": port, "proto": "tcp",
        "conn_state": state, "history": "S", "orig_pkts": orig_pkts, "orig_bytes": orig_bytes,
        "orig_ip_bytes": orig_bytes + 40 * orig_pkts, "resp_pkts": 1, "resp_ip_bytes": 40, "duration": 1.5}
    if sensor:
        record["host"] = {"name": sensor}
    return "zeek", json.dumps(record).encode()


def zdns(seconds: float, client: str, query: str, sensor: str = STC) -> tuple[str, bytes]:
    record = {"ts": (START + timedelta(seconds=seconds)).timestamp(), "uid": f"D{seconds:017.0f}",
              "id.orig_h": client, "id.orig_p": 53211, "id.resp_h": "10.10.50.53", "id.resp_p": 53, "proto": "udp",
              "query": query, "qtype_name": "A", "rcode_name": "NXDOMAIN", "host": {"name": sensor}}
    return "zeek", json.dumps(record).encode()


def flow(seconds: float, src: str, src_port: int, dst: str, dst_port: int, packets: int, size: int,
         flags: int = 0x1B, router: str | None = "rt-edge01.dc.ankhanh.gov.vn") -> tuple[str, bytes]:
    """A flow record as `socpipe collect netflow` sends it (string values); `router` (the exporter's name) as
    a shipper adds it, else the registry places the record by its source address."""
    start = (START + timedelta(seconds=seconds)).isoformat(timespec="milliseconds")
    record = {"exporter": "10.10.0.1", "netflow_version": "9", "start": start, "end": start, "src_ip": src,
              "dst_ip": dst, "src_port": str(src_port), "dst_port": str(dst_port), "protocol": "6",
              "bytes": str(size), "packets": str(packets), "tcp_flags": str(flags), "source.ip": src,
              "source.port": str(src_port), "destination.ip": dst, "destination.port": str(dst_port),
              "network.transport": "tcp", "network.bytes": str(size), "event.start": start}
    if router:
        record["host.name"] = router
    return "flow", json.dumps(record).encode()


def test_probes_and_upload_units_raise_no_alert_of_their_own(pack):
    ruleset = pack[0]
    by_name = {r.name: r.id for r in ruleset.rules}
    hidden = hidden_rules(ruleset.correlations)
    assert {by_name["net_tcp_probe"], by_name["net_remote_login_short_connection"],
            by_name["net_large_outbound_flow"]} <= hidden
    assert by_name["net_dns_dga_like_name"] not in hidden  # each generated name is worth seeing


def test_vertical_port_scan_needs_25_ports_of_one_host_in_ten_minutes(pack):
    host = "172.16.11.41"
    scan = [zconn(i * 3, SCANNER, host, 1000 + i, sensor=SNV) for i in range(30)]
    docs = fired(pack, scan)["net_vertical_port_scan"]
    assert len(docs) == 1 and docs[0]["correlation"]["group"] == {"source.ip": SCANNER, "destination.ip": host}
    assert docs[0]["agency"]["ids"] == ["snv"] and docs[0]["correlation"]["value"] >= 25
    assert "net_vertical_port_scan" not in fired(pack, scan[:24])
    assert "net_vertical_port_scan" not in fired(pack, [zconn(i * 60, SCANNER, host, 1000 + i) for i in range(30)])
    answered = [zconn(i * 3, SCANNER, host, 1000 + i, state="SF", orig_pkts=6) for i in range(30)]
    assert "net_vertical_port_scan" not in fired(pack, answered)  # connections that carried data
    same_port = [zconn(i * 3, SCANNER, host, 445, state="S0", orig_pkts=1) for i in range(60)]
    assert "net_vertical_port_scan" not in fired(pack, same_port)


def test_vertical_port_scan_in_flows_counts_the_probing_side_only(pack):
    server = "10.10.10.11"
    syns = [flow(i * 2, SCANNER, 51234, server, 2000 + i, 1, 44, flags=0x02) for i in range(30)]
    assert "net_vertical_port_scan" in fired(pack, syns)
    # The server's resets answering them (RST-ACK, 20) go to the scanner's many source ports: not a scan.
    resets = [flow(i * 2, server, 2000 + i, SCANNER, 40000 + i, 1, 40, flags=0x14) for i in range(30)]
    assert "net_vertical_port_scan" not in fired(pack, resets)


def test_horizontal_scan_lists_every_agency_probed(pack):
    hosts = [("172.16.11.41", SNV), ("172.16.11.42", SNV), ("172.16.11.43", SNV), ("172.16.12.31", STC),
             ("172.16.12.32", STC), ("172.16.12.33", STC), ("172.16.13.21", SYT), ("172.16.13.22", SYT),
             ("172.16.13.23", SYT), ("172.16.13.24", SYT), ("172.16.13.25", SYT), ("172.16.13.26", SYT)]
    sweep = [zconn(i * 40, OTHER, ip, 3389, state="S0", orig_pkts=2, sensor=sensor) for i, (ip, sensor) in
             enumerate(hosts)]
    docs = fired(pack, sweep)["net_horizontal_scan"]
    assert len(docs) == 1 and docs[0]["agency"]["ids"] == ["snv", "stc", "syt"]
    assert docs[0]["agency"]["id"] == "ankhanh" and docs[0]["correlation"]["group"] == {"source.ip": OTHER}
    assert "net_horizontal_scan" not in fired(pack, sweep[:9])
    slow = [zconn(i * 300, OTHER, ip, 3389, state="S0", sensor=sensor) for i, (ip, sensor) in enumerate(hosts)]
    assert "net_horizontal_scan" not in fired(pack, slow)  # twelve hosts in an hour: three per quarter
    visits = [zconn(i * 40, OTHER, ip, 443, state="SF", orig_pkts=9, sensor=sensor) for i, (ip, sensor) in
              enumerate(hosts)]
    assert "net_horizontal_scan" not in fired(pack, visits)
    flows = [flow(i * 20, OTHER, 40000 + i, f"10.10.{i}.5", 445, 1, 44, flags=0x02) for i in range(10)]
    assert "net_horizontal_scan" in fired(pack, flows)


def test_brute_force_in_flows_needs_twenty_short_connections_in_ten_minutes(pack):
    target = "10.10.10.12"
    guesses = [flow(i * 25, SCANNER, 40000 + i, target, 22, 13, 2600) for i in range(20)]  # 475 s
    docs = fired(pack, guesses)["net_brute_force_in_flows"]
    assert docs[0]["correlation"]["group"] == {"source.ip": SCANNER, "destination.port": "22"}
    assert docs[0]["correlation"]["events_count"] == 20
    assert "net_brute_force_in_flows" not in fired(pack, guesses[:19])
    assert "net_brute_force_in_flows" not in fired(pack, [flow(i * 40, SCANNER, 40000 + i, target, 22, 13, 2600)
                                                          for i in range(20)])  # 760 s
    sessions = [flow(i * 25, SCANNER, 40000 + i, target, 22, 900, 250_000) for i in range(20)]
    assert "net_brute_force_in_flows" not in fired(pack, sessions)  # an administrator's work, not guesses
    web = [flow(i * 25, SCANNER, 40000 + i, target, 443, 13, 2600) for i in range(40)]
    assert "net_brute_force_in_flows" not in fired(pack, web)  # 443 is not covered: see the rule
    answers = [flow(i * 25, target, 22, SCANNER, 40000 + i, 11, 3000) for i in range(40)]
    assert "net_brute_force_in_flows" not in fired(pack, answers)  # the server's side of the guesses
    two = [flow(i * 15, SCANNER if i % 2 else OTHER, 40000 + i, target, 22, 13, 2600) for i in range(30)]
    assert "net_brute_force_in_flows" not in fired(pack, two)  # 15 each


def test_brute_force_on_rdp_in_zeek_records(pack):
    pc = "172.16.101.11"
    sensor = "ids01.binhlac.ankhanh.gov.vn"
    guesses = [zconn(i * 20, SCANNER, pc, 3389, state="RSTR", orig_pkts=18, orig_bytes=6000, sensor=sensor)
               for i in range(25)]
    docs = fired(pack, guesses)["net_brute_force_in_flows"]
    assert docs[0]["correlation"]["group"] == {"source.ip": SCANNER, "destination.port": "3389"}
    assert docs[0]["agency"]["ids"] == ["xa-binh-lac"]  # the sensor's agency: the source is outside the registry
    refused = [zconn(i * 20, SCANNER, pc, 3389, sensor=sensor) for i in range(25)]
    assert "net_brute_force_in_flows" not in fired(pack, refused)  # no handshake, no password tried


def test_large_outbound_transfer_from_a_level_3_system_in_zeek(pack):
    chunks = [zconn(i * 200, HIS_DB, EXFIL, 443, state="SF", orig_pkts=72_000, orig_bytes=100_000_000)
              for i in range(11)]  # 1.1 GB in 34 minutes
    docs = fired(pack, chunks)["net_large_outbound_transfer_zeek"]
    assert len(docs) == 1 and docs[0]["correlation"]["group"] == {"source.ip": HIS_DB, "system.id": "syt-his"}
    assert docs[0]["system"] == {"id": "syt-his", "level": 3} and docs[0]["agency"]["ids"] == ["syt"]
    assert docs[0]["correlation"]["value"] == 11 * (100_000_000 + 40 * 72_000)
    assert "net_large_outbound_transfer_flows" not in fired(pack, chunks)  # flows name their bytes `bytes`
    assert "net_large_outbound_transfer_zeek" not in fired(pack, chunks[:9])  # 0.93 GB
    spread = [zconn(i * 1200, HIS_DB, EXFIL, 443, state="SF", orig_pkts=72_000, orig_bytes=100_000_000)
              for i in range(11)]
    assert "net_large_outbound_transfer_zeek" not in fired(pack, spread)  # 1.1 GB over three hours
    inside = [zconn(i * 200, HIS_DB, QLVB_DB, 5432, state="SF", orig_pkts=72_000, orig_bytes=100_000_000)
              for i in range(11)]
    assert "net_large_outbound_transfer_zeek" not in fired(pack, inside)  # to another private address
    stranger = [zconn(i * 200, UNREGISTERED, EXFIL, 443, state="SF", orig_pkts=72_000, orig_bytes=100_000_000)
                for i in range(11)]
    assert "net_large_outbound_transfer_zeek" not in fired(pack, stranger)  # no system: no group


def test_large_outbound_transfer_in_flows_counts_uploads_not_a_servers_answers(pack):
    uploads = [flow(i * 180, QLVB_DB, 50000 + i, EXFIL, 443, 40_000, 120_000_000, router=None) for i in range(9)]
    docs = fired(pack, uploads)["net_large_outbound_transfer_flows"]
    assert docs[0]["system"] == {"id": "qlvb", "level": 3} and docs[0]["correlation"]["value"] == 9 * 120_000_000
    assert "net_large_outbound_transfer_flows" not in fired(pack, uploads[:8])  # 0.96 GB
    answers = [flow(i * 180, "10.10.10.11", 443, EXFIL, 50000 + i, 40_000, 120_000_000, router=None)
               for i in range(9)]
    assert "net_large_outbound_transfer_flows" not in fired(pack, answers)  # the portal serving a download
    small = [flow(i * 3, QLVB_DB, 50000 + i, EXFIL, 443, 600, 900_000, router=None) for i in range(1200)]
    assert "net_large_outbound_transfer_flows" not in fired(pack, small)  # flows under a megabyte each: missed


def _dga_names(count: int, seed: int) -> list[str]:
    """Random names that look generated to the rule (six consonants in a row)."""
    rng = random.Random(seed)
    return [f"{''.join(rng.choice('bcdfghjklmnpqrstvwxz') for _ in range(6))}"
            f"{''.join(rng.choice(string.ascii_lowercase) for _ in range(8))}.com" for _ in range(count)]


def test_dga_burst_needs_ten_different_names_from_one_host(pack):
    client = "172.16.12.33"
    names = _dga_names(12, 1)
    docs = fired(pack, [zdns(i * 20, client, name) for i, name in enumerate(names)])
    assert docs["net_dga_query_burst"][0]["correlation"]["group"] == {"source.ip": client}
    assert docs["net_dga_query_burst"][0]["agency"]["ids"] == ["stc"]
    assert docs["net_dga_query_burst"][0]["correlation"]["events_count"] == 12
    assert "net_dga_query_burst" not in fired(pack, [zdns(i * 20, client, name) for i, name in enumerate(names[:9])])
    assert "net_dga_query_burst" not in fired(pack, [zdns(i * 5, client, names[0]) for i in range(40)])
    ordinary = ["vnexpress.net", "thuvienphapluat.vn", "msftconnecttest.com", "login.microsoftonline.com",
                "chinhphu.vn", "dichvucong.gov.vn", "vietcombank.com.vn", "settings-win.data.microsoft.com",
                "www.google.com", "zalo.me", "googletagmanager.com", "akamaitechnologies.com"]
    assert fired(pack, [zdns(i * 20, client, name) for i, name in enumerate(ordinary)]) == {}
    spread = [zdns(i * 120, client, name) for i, name in enumerate(names)]
    assert "net_dga_query_burst" not in fired(pack, spread)  # twelve names in 22 minutes


# ---- the demo's network samples -----------------------------------------------------------------------

NETWORK_CORRELATIONS = {"net_vertical_port_scan", "net_horizontal_scan", "net_brute_force_in_flows",
                        "net_large_outbound_transfer_flows", "net_large_outbound_transfer_zeek", "net_dga_query_burst"}


@pytest.fixture(scope="module")
def demo_network_alerts(pack) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The single-event and correlation alerts of samples/network, read and placed as `socpipe demo` does."""
    from ingest import read_paths
    from socpipe.demo import HINTS, NETWORK

    ruleset, detector, registry = pack
    rows = []
    for record in read_paths([NETWORK]):
        assert isinstance(record, Event), record
        rows.append(event_row(record, registry, HINTS, 2026))
    assert len(rows) > 1000 and all(row["agency_id"] for row in rows)
    batch = pa.RecordBatch.from_pylist(rows, schema=EVENT_SCHEMA)
    alerts = [json.loads(d) for d in alert_batch(detector, batch).column("document").to_pylist()]
    return alerts, correlate(ruleset.correlations, ruleset.rules, alerts, registry.common_ancestor)


def test_demo_network_attacks_are_found(pack, demo_network_alerts):
    planted = yaml.safe_load((ROOT / "socpipe/demo/planted.yaml").read_text(encoding="utf-8"))
    alerts, correlations = demo_network_alerts
    names = {c.id: c.name for c in pack[0].correlations} | {r.id: r.name for r in pack[0].rules}
    network = [p for p in planted if (names.get(p["rule"]) or "").startswith("net_")]
    assert len(network) >= 6
    for p in network:
        docs = [a for a in [*alerts, *correlations] if a["rule"]["id"] == p["rule"]
                and a.get("host", {}).get("name") == p["host"]]
        assert docs, p
        doc = docs[0]
        assert set(p.get("agencies", [])) <= set(doc["agency"]["ids"] if "correlation" in doc else
                                                 [doc["agency"]["id"]]), (p, doc["agency"])
        assert doc.get("system", {}).get("level", 0) >= p.get("min_system_level", 0), (p, doc.get("system"))


def test_demo_ordinary_traffic_fires_no_network_correlation(pack, demo_network_alerts):
    """Every network correlation alert of the samples is a planted attack: one each, none from the office
    day, the portal's citizens, the administrators' SSH or the nightly backup."""
    names = {c.id: c.name for c in pack[0].correlations}
    fired_names = sorted(names[d["rule"]["id"]] for d in demo_network_alerts[1])
    assert fired_names == sorted(NETWORK_CORRELATIONS - {"net_large_outbound_transfer_flows"})
