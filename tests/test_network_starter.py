"""The network starter rules (rules/starter/network, rules/starter/correlations/net_*): Zeek conn and dns
records and NetFlow records that must fire each network correlation and records that must not, through the
readers, the starter rules, the Detector and layers/correlate.py; and the demo's network samples, whose
planted attacks these rules find and whose ordinary traffic fires none of them."""

from __future__ import annotations

import dataclasses
import json
import pickle
import random
import string
from datetime import date, timedelta
from typing import Any

import pyarrow as pa
import pytest
import yaml
from conftest import ROOT
from test_starter_correlations import START, fired

from alerting.tuning import Tuning
from enrich.seen_domains import SeenDomains, lake_domains, read_baseline, write_baseline
from ingest.frame import Frame, parse_frame
from ingest.splits import plan_splits
from layers.correlate import correlate, hidden_rules
from layers.detect import EVENT_SCHEMA, alert_batch, event_row, rows_table
from layers.matcher.engine import Detector
from rules.compiler import load_rules
from socpipe.cli import main
from socpipe.config import STARTER_PACK
from socpipe.envelope import PARSER_OF_SOURCE
from socpipe.events import Event
from socpipe.lake import write_lake_part
from socpipe.registry import Registry, RegistryError

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
    assert len(docs) == 1 and docs[0]["correlation"]["group"] == {"source.ip": HIS_DB, "source.system.id": "syt-his"}
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


VPN_GATEWAY, PORTAL = "198.51.100.10", "10.10.10.11"  # the demo registry's VPN gateway (role vpn), the DVC portal


def test_network_records_carry_the_owner_of_each_address(pack):
    """The registry's owner of each address, not the router's: the router's name places the context."""
    registry = pack[2]
    fields = dict(json.loads(flow(0, "10.10.11.20", 50000, VPN_GATEWAY, 443, 12, 4200)[1]))
    row = event_row(Event(fields, "flow", "test"), registry, (), 2026)
    assert row["system_id"] == "dc-infra"  # rt-edge01.dc.ankhanh.gov.vn
    assert {k: v for k, v in row["fields"].items() if ".system." in k} == {
        "source.system.id": "cttdt", "source.system.level": "2", "destination.system.id": "vpn",
        "destination.system.level": "3", "destination.system.role": "vpn"}
    outside = event_row(Event(dict(json.loads(flow(0, SCANNER, 50000, EXFIL, 443, 1, 40)[1])), "flow", "t"),
                        registry, (), 2026)
    assert not any(".system." in k for k in outside["fields"])
    with pytest.raises(RegistryError, match="unknown role 'vpn-gateway'"):
        Registry.from_dict({"agencies": [{"id": "a", "name": "A", "type": "province"}],
                            "systems": [{"id": "s", "name": "S", "agency": "a", "level": 3, "role": "vpn-gateway"}]})


def test_vpn_brute_force_counts_short_connections_to_the_registrys_gateways_only(pack):
    guesses = [flow(i * 25, SCANNER, 40000 + i, VPN_GATEWAY, 443, 12, 4200) for i in range(20)]  # 475 s
    docs = fired(pack, guesses)["net_vpn_brute_force_in_flows"]
    assert len(docs) == 1 and docs[0]["correlation"]["group"] == {"source.ip": SCANNER}
    assert docs[0]["correlation"]["events_count"] == 20 and docs[0]["agency"]["ids"] == ["skhcn"]
    assert "net_vpn_brute_force_in_flows" not in fired(pack, guesses[:19])
    assert "net_vpn_brute_force_in_flows" not in fired(
        pack, [flow(i * 40, SCANNER, 40000 + i, VPN_GATEWAY, 443, 12, 4200) for i in range(20)])  # 760 s
    for web in (PORTAL, "203.0.113.80"):  # 443 of the citizens' portal and of a public site: ordinary HTTPS
        assert fired(pack, [flow(i * 10, SCANNER, 40000 + i, web, 443, 12, 4200) for i in range(60)]) == {}
    tunnels = [flow(i * 25, SCANNER, 40000 + i, VPN_GATEWAY, 443, 900, 250_000) for i in range(20)]
    assert "net_vpn_brute_force_in_flows" not in fired(pack, tunnels)  # working sessions, not tries
    answers = [flow(i * 25, VPN_GATEWAY, 443, SCANNER, 40000 + i, 12, 6000) for i in range(40)]
    assert fired(pack, answers) == {}  # the gateway's side of the tries
    refused = [zconn(i * 20, SCANNER, VPN_GATEWAY, 443, sensor="ids01.dc.ankhanh.gov.vn") for i in range(30)]
    assert "net_vpn_brute_force_in_flows" not in fired(pack, refused)  # no handshake, no password tried
    sensor = [zconn(i * 20, OTHER, VPN_GATEWAY, 443, state="SF", orig_pkts=11, orig_bytes=3500,
                    sensor="ids01.dc.ankhanh.gov.vn") for i in range(25)]
    docs = fired(pack, sensor)["net_vpn_brute_force_in_flows"]
    assert docs[0]["correlation"]["group"] == {"source.ip": OTHER} and docs[0]["correlation"]["events_count"] == 25


def test_large_outbound_transfer_keeps_to_sources_of_level_3_systems(pack):
    """The level is the source address's system's: a level-2 server behind the level-3 data centre's router
    raises nothing, a level-3 one does, whatever router exported the flows."""
    routed = [flow(i * 180, QLVB_DB, 50000 + i, EXFIL, 443, 40_000, 120_000_000) for i in range(9)]
    docs = fired(pack, routed)["net_large_outbound_transfer_flows"]
    assert docs[0]["correlation"]["group"] == {"source.ip": QLVB_DB, "source.system.id": "qlvb"}
    portal_level_2 = [flow(i * 180, "10.10.11.20", 50000 + i, EXFIL, 443, 40_000, 120_000_000) for i in range(9)]
    assert fired(pack, portal_level_2) == {}  # cttdt, level 2
    staff_pc = [zconn(i * 200, "172.16.11.41", EXFIL, 443, state="SF", orig_pkts=72_000, orig_bytes=100_000_000,
                      sensor=SNV) for i in range(11)]
    assert fired(pack, staff_pc) == {}  # snv-lan, level 2


def _rows(pack, records: list[tuple[str, bytes]], seen: SeenDomains | None) -> list[dict[str, Any]]:
    registry = pack[2]
    return [event_row(parse_frame(f"test.{source}", Frame(PARSER_OF_SOURCE[source], f"line {n}", raw)), registry, (),
                      2026, seen=seen) for n, (source, raw) in enumerate(records)]


def _alerts(pack, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    batch = pa.RecordBatch.from_pylist(rows, schema=EVENT_SCHEMA)
    return [json.loads(d) for d in alert_batch(pack[1], batch).column("document").to_pylist()]


NEW_DOMAIN = "9e3c5a71-2b84-4d6f-a0c9-6f1d8e2b7c53"  # net_dns_newly_seen_domain


def test_dns_questions_for_domains_outside_the_baseline_are_marked_and_alerted(pack, tmp_path):
    baseline = tmp_path / "seen.txt"
    write_baseline(baseline, ["google.com", "vietcombank.com.vn", "chinhphu.vn", "old.duckdns.org"], "test")
    seen = SeenDomains(baseline)
    queries = {"www.google.com": None, "A.B.Vietcombank.com.vn.": None, "chinhphu.vn": None,
               "cdn.old.duckdns.org": None, "vietcombank-xacthuc.top": "vietcombank-xacthuc.top",
               "update.x7k2.duckdns.org": "x7k2.duckdns.org", "mail.thue-gov.com.vn": "thue-gov.com.vn",
               "16.2.0.192.in-addr.arpa": None, "10.10.50.53": None, "com.vn": None}
    records = [zdns(i * 20, "172.16.12.31", q) for i, q in enumerate(queries)]
    rows = _rows(pack, records, seen)
    assert [r["fields"].get("dns.question.registered_domain") for r in rows][:7] == [
        "google.com", "vietcombank.com.vn", "chinhphu.vn", "old.duckdns.org", "vietcombank-xacthuc.top",
        "x7k2.duckdns.org", "thue-gov.com.vn"]
    assert [r["fields"].get("dns.question.newly_seen") == "true" for r in rows] == [q is not None for q in
                                                                                  queries.values()]
    found = {a["event"]["query"] for a in _alerts(pack, rows) if a["rule"]["id"] == NEW_DOMAIN}
    assert found == {q for q, new in queries.items() if new}
    unmarked = _rows(pack, records, None)  # no baseline configured: nothing marked, nothing raised
    assert not any("dns.question.newly_seen" in r["fields"] for r in unmarked)
    assert not any(a["rule"]["id"] == NEW_DOMAIN for a in _alerts(pack, unmarked))
    flows = _rows(pack, [flow(0, "172.16.12.31", 50000, "203.0.113.80", 53, 1, 60)], seen)
    assert "dns.question.registered_domain" not in flows[0]["fields"]  # not a DNS record


def test_a_new_domain_raises_one_alert_a_day(pack, tmp_path):
    baseline = tmp_path / "seen.txt"
    write_baseline(baseline, ["google.com"], "test")
    records = [zdns(i * 600, f"172.16.12.3{i % 3}", f"s{i}.evil-new.xyz") for i in range(12)]  # two hours
    records += [zdns(86_400 + 60, "172.16.12.31", "evil-new.xyz"), zdns(90, "172.16.12.31", "other-new.xyz")]
    alerts = [a for a in _alerts(pack, _rows(pack, records, SeenDomains(baseline))) if a["rule"]["id"] == NEW_DOMAIN]
    assert len(alerts) == 14
    kept = Tuning.of(pack[0], {}).apply(alerts).kept
    assert sorted((a["event"]["dns.question.registered_domain"], a["@timestamp"][:10]) for a in kept) == [
        ("evil-new.xyz", "2026-11-26"), ("evil-new.xyz", "2026-11-27"), ("other-new.xyz", "2026-11-26")]


def test_baseline_of_the_lakes_dns_questions_and_its_reload(pack, tmp_path):
    """`socpipe baseline domains` reads the lake's DNS questions of the days asked for; a running job
    reads the file again once it changed."""
    lake = tmp_path / "lake" / "events"
    days = {-40: "too-old.vn", -29: "first-day.vn", -3: "www.recent.com.vn", 0: "today.org"}
    records = [zdns(day * 86_400, "172.16.12.31", name) for day, name in days.items()]
    records += [zconn(60, "172.16.12.31", "203.0.113.80", 443, state="SF", orig_pkts=9)]  # not DNS: no question
    rows = _rows(pack, records, None)
    rows[-1]["fields"] = {**rows[-1]["fields"], "query": "not-a-question.vn"}
    for n, row in enumerate(rows):
        write_lake_part(rows_table([row]), lake, f"part-{n}")
    out = tmp_path / "seen.txt"
    assert main(["baseline", "domains", "--lake", str(lake), "--out", str(out), "--days", "30",
                 "--until", "2026-11-26"]) == 0
    assert read_baseline(out) == {"first-day.vn", "recent.com.vn", "today.org"}
    assert lake_domains(lake, 3, date(2026, 11, 26)) == {"today.org"}
    seen = SeenDomains(out, check_seconds=0)
    assert "first-day.vn" in seen.domains and "brand-new.vn" not in seen.domains
    write_baseline(out, ["brand-new.vn"], "rebuilt")
    assert seen.domains == {"brand-new.vn"}
    shipped = pickle.loads(pickle.dumps(seen))  # to a Spark task: its path, read there
    assert shipped.path == str(out) and shipped.domains == {"brand-new.vn"}


@pytest.mark.slow
def test_stream_micro_batch_gives_the_batch_jobs_alerts(pack, spark, tmp_path):
    """The same Zeek records through `socpipe detect`'s job and the stream's micro-batch step, with the same
    registry and baseline: the same rule alerts (correlations left out: the batch hides the rules they read)."""
    from layers import detect
    from layers.stream import ALERT, ParseSettings, micro_batch_results

    ruleset, detector, registry = pack
    baseline = tmp_path / "seen.txt"
    write_baseline(baseline, ["google.com"], "test")
    seen = SeenDomains(baseline)
    records = [zdns(i * 30, "172.16.12.31", q) for i, q in enumerate(["www.google.com", "vietcombank-xacthuc.top",
                                                                      "a.x7k2.duckdns.org"])]
    records += [zconn(i * 20, SCANNER, VPN_GATEWAY, 443, state="SF", orig_pkts=11, orig_bytes=3500) for i in range(5)]
    records += [zconn(i * 200, HIS_DB, EXFIL, 443, state="SF", orig_pkts=72_000, orig_bytes=100_000_000)
                for i in range(2)]
    logs = tmp_path / "conn_and_dns.log"
    logs.write_bytes(b"".join(raw + b"\n" for _, raw in records))
    rules_only = dataclasses.replace(ruleset, correlations=[])
    detect.run(spark, rules_only, plan_splits([logs]), tmp_path / "out", tmp_path / "lake", registry,
               syslog_year=2026, seen=seen)
    batch = [json.loads(line) for line in (tmp_path / "out" / "alerts.jsonl").read_text().splitlines()]
    messages = pa.RecordBatch.from_pylist(
        [{"key": f"r{i}".encode(), "value": raw, "topic": "raw.zeek", "headers": [], "timestamp": START}
         for i, (_, raw) in enumerate(records)],
        schema=pa.schema([("key", pa.binary()), ("value", pa.binary()), ("topic", pa.string()),
                          ("headers", pa.list_(pa.struct([("key", pa.string()), ("value", pa.binary())]))),
                          ("timestamp", pa.timestamp("us", tz="UTC"))]))
    settings = ParseSettings(registry, (), 2026, "", None, seen)
    stream = [json.loads(r["document"]) for r in micro_batch_results(detector, settings, messages).to_pylist()
              if r["row"] == ALERT]
    names = {r.id: r.name for r in ruleset.rules}
    fired_names = {names[a["rule"]["id"]] for a in batch}
    assert {"net_dns_newly_seen_domain", "net_vpn_short_connection", "net_large_outbound_flow"} <= fired_names
    assert sorted(a["alert_id"] for a in stream) == sorted(a["alert_id"] for a in batch)


# ---- the demo's network samples -----------------------------------------------------------------------

NETWORK_CORRELATIONS = {"net_vertical_port_scan", "net_horizontal_scan", "net_brute_force_in_flows",
                        "net_large_outbound_transfer_flows", "net_large_outbound_transfer_zeek", "net_dga_query_burst",
                        "net_vpn_brute_force_in_flows"}


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
    day, the portal's citizens, the administrators' SSH, the staff's VPN tunnels or the nightly backup."""
    names = {c.id: c.name for c in pack[0].correlations}
    fired_names = sorted(names[d["rule"]["id"]] for d in demo_network_alerts[1])
    assert fired_names == sorted(NETWORK_CORRELATIONS - {"net_large_outbound_transfer_flows"})
