"""The pcap reader (ingest/pcap.py, packets.py, pcapflows.py, pcapmeta.py) on captures written byte by byte
(tests/pcaps.py): per-conversation packets and bytes equal Wireshark's `tshark -z conv,tcp` / `conv,udp`
(frame bytes converted to IP bytes), in every container variant; DNS, HTTP (split and out of order) and TLS
SNI come out as Zeek dns/http/ssl records the SigmaHQ zeek rules fire on; encapsulations are unwrapped;
timeouts split flows as softflowd's; broken files give dead letters with position, reason and bytes."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from pcaps import ENCAP_OVERHEAD, ENCAPSULATIONS, write_pcap
from test_network_sigma import _fired, network_rule_files

from ingest.files import frame_file, read_file
from rules.compiler import load_rules
from socpipe.dev.capture import Capture, client_hello, dns_answer, dns_query, tcp, udp
from socpipe.events import DeadLetter, Event

_CONV = re.compile(r"^(\S+):(\d+)\s+<->\s+(\S+):(\d+)\s+(\d+) (\d+) bytes\s+(\d+) (\d+) bytes\s+(\d+) (\d+) bytes",
                   re.MULTILINE)
needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="Debian's tshark is not installed")


def _records(path: Path) -> list[Event | DeadLetter]:
    return list(read_file(path))


def _conns(records) -> dict[tuple, dict[str, str]]:
    """conn records by (orig, resp, orig port, resp port, proto)."""
    return {(e.fields["id.orig_h"], e.fields["id.resp_h"], int(e.fields["id.orig_p"]), int(e.fields["id.resp_p"]),
             e.fields["proto"]): e.fields for e in records if isinstance(e, Event) and e.kind == "zeek_conn"}


def _tables(stdout: str) -> dict[str, str]:
    return {"tcp" if "TCP Conversations" in part else "udp": part for part in stdout.split("=" * 80) if "<->" in part}


def _compare_with_tshark(path: Path, overhead: int) -> int:
    """Every conversation tshark lists equals one of our flows (either orientation); returns how many."""
    conns = _conns(_records(path))
    done = subprocess.run(["tshark", "-r", str(path), "-q", "-z", "conv,tcp", "-z", "conv,udp"], capture_output=True,
                          text=True, timeout=60, check=True)
    compared = 0
    for proto, table in _tables(done.stdout).items():
        for m in _CONV.finditer(table):
            a, ap, b, bp, back_frames, back_bytes, frames, octets = m.groups()[:8]
            a, b = a.strip("[]"), b.strip("[]")
            forward = conns.get((a, b, int(ap), int(bp), proto))
            if forward is not None:
                mine = (forward["orig_pkts"], forward["orig_ip_bytes"], forward["resp_pkts"], forward["resp_ip_bytes"])
            else:
                backward = conns[(b, a, int(bp), int(ap), proto)]
                mine = (backward["resp_pkts"], backward["resp_ip_bytes"], backward["orig_pkts"],
                        backward["orig_ip_bytes"])
            packets_ab, ip_ab, packets_ba, ip_ba = map(int, mine)
            # tshark counts frame bytes: ours are IP bytes, plus the link header(s) per packet
            assert (packets_ab, ip_ab + overhead * packets_ab, packets_ba, ip_ba + overhead * packets_ba) == \
                (int(frames), int(octets), int(back_frames), int(back_bytes)), (proto, a, b)
            compared += 1
    return compared


def _mixed_capture() -> Capture:
    """TCP sessions (web, ssh, rdp), DNS lookups, one-way UDP, IPv6."""
    capture = Capture()
    for n in range(4):
        capture.tcp_session(f"10.20.4.{30 + n}", f"198.51.100.{80 + n}", 49800 + n, (80, 443, 22, 3389)[n],
                            [b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"] if n == 0 else [bytes(300 + n)], bytes(900 + n))
    for n in range(3):
        capture.dns(f"10.20.4.{40 + n}", "10.20.0.2", 53100 + n, f"www{n}.example.org", 1000 + n, ["192.0.2.7"])
    capture.send("10.20.4.50", "192.0.2.99", 17, udp(5000, 514, b"<13>syslog"), 5000, 514)
    capture.tcp_session("2001:db8::10", "2001:db8::20", 40000, 443, [client_hello("v6.example.org")], bytes(700))
    return capture


@needs_tshark
@pytest.mark.parametrize("variant", ["pcap", "pcap-big-endian-ns", "pcapng", "pcapng-big-endian"])
def test_flows_equal_tsharks_conversations(tmp_path: Path, variant: str) -> None:
    capture = _mixed_capture()
    path = tmp_path / ("capture.pcapng" if variant.startswith("pcapng") else "capture.pcap")
    if variant.startswith("pcapng"):
        capture.write_pcapng(path, big_endian="big" in variant)
    else:
        capture.write_pcap(path, big_endian="big" in variant, nanoseconds=variant.endswith("-ns"))
    assert _compare_with_tshark(path, overhead=14) == len(_conns(_records(path))) == 9
    # and against the capture's own counts, per direction
    for (src, dst, sport, dport, proto), conn in _conns(_records(path)).items():
        number = 6 if proto == "tcp" else 17
        assert int(conn["orig_pkts"]) == capture.packets[(src, dst, sport, dport, number)]
        assert int(conn["orig_ip_bytes"]) == capture.octets[(src, dst, sport, dport, number)]
        assert int(conn["resp_ip_bytes"]) == capture.octets[(dst, src, dport, sport, number)]


@needs_tshark
def test_softflowd_test_capture_equals_tshark(tmp_path: Path) -> None:
    """The capture the NetFlow tests give softflowd, whose counts they compare with the exporter's."""
    path = tmp_path / "flows.pcap"
    packets, octets = write_pcap(path, conversations=8)
    assert _compare_with_tshark(path, overhead=14) == 8
    conns = _conns(_records(path))
    assert sum(int(c["orig_pkts"]) + int(c["resp_pkts"]) for c in conns.values()) == sum(packets.values())
    assert sum(int(c["orig_ip_bytes"]) + int(c["resp_ip_bytes"]) for c in conns.values()) == sum(octets.values())


@needs_tshark
@pytest.mark.parametrize("name", sorted(ENCAPSULATIONS))
def test_encapsulations_are_unwrapped_to_the_inner_flow(tmp_path: Path, name: str) -> None:
    capture = Capture(encapsulate=ENCAPSULATIONS[name])
    capture.tcp_session("10.30.1.5", "10.30.2.9", 51000, 445, [bytes(200)], bytes(400))
    capture.dns("10.30.1.5", "10.30.0.2", 53999, "files.ankhanh.gov.vn", 77, ["10.30.2.9"])
    path = tmp_path / f"{name}.pcap"
    capture.write_pcap(path)
    conns = _conns(_records(path))
    assert set(conns) == {("10.30.1.5", "10.30.2.9", 51000, 445, "tcp"), ("10.30.1.5", "10.30.0.2", 53999, 53, "udp")}
    session = conns[("10.30.1.5", "10.30.2.9", 51000, 445, "tcp")]
    assert (session["conn_state"], session["history"]) == ("SF", "ShADdFf")
    assert int(session["orig_ip_bytes"]) == capture.octets[("10.30.1.5", "10.30.2.9", 51000, 445, 6)]
    # tshark sees the inner conversations with the frame bytes: inner IP bytes plus the encapsulation's
    done = subprocess.run(["tshark", "-r", str(path), "-q", "-z", "conv,tcp"], capture_output=True, text=True,
                          timeout=60, check=True)
    (m,) = _CONV.finditer(done.stdout)
    assert int(m.group(8)) == int(session["orig_ip_bytes"]) + ENCAP_OVERHEAD[name] * int(session["orig_pkts"])
    dns = [e.fields for e in _records(path) if isinstance(e, Event) and e.kind == "zeek_dns"]
    assert [(d["query"], d["answers"]) for d in dns] == [("files.ankhanh.gov.vn", "10.30.2.9")]


def test_http_request_split_out_of_order_tls_sni_and_dns_as_zeek_records(tmp_path: Path) -> None:
    capture = Capture()
    request = (b"PUT /share/q1-budget.xlsx HTTP/1.1\r\nHost: 198.51.100.99\r\n"
               b"User-Agent: Microsoft-WebDAV-MiniRedir/10.0.19045\r\nContent-Length: 5\r\n\r\n")
    capture.tcp_session("10.20.4.33", "198.51.100.99", 50422, 80, [request[:20], request[20:70], request[70:]],
                        b"HTTP/1.1 201 Created\r\n\r\n", order=[1, 2, 0])  # the first segment last
    hello = client_hello("cdn.example.top", padding=1500)  # a large ClientHello: two segments and two TLS records
    capture.tcp_session("10.20.4.31", "198.51.100.91", 50110, 443, [hello[:1000], hello[1000:]], bytes(1200))
    capture.dns("10.20.4.31", "10.20.0.2", 53127, "pool.supportxmr.com", 41251, ["141.94.96.144", "141.94.96.71"])
    query = dns_query("update.sysinfo-cdn.top", 5120, qtype=16)
    capture.send("10.20.4.31", "10.20.0.2", 17, udp(53128, 53, query), 53128, 53)
    capture.send("10.20.0.2", "10.20.4.31", 17, udp(53, 53128, dns_answer(query, [], rcode=3)), 53, 53128)
    capture.send("10.20.4.31", "10.20.0.2", 17, udp(53129, 53, dns_query("unanswered.example", 9)), 53129, 53)
    path = tmp_path / "meta.pcapng"
    capture.write_pcapng(path)
    records = _records(path)
    assert not [r for r in records if isinstance(r, DeadLetter)]
    by_kind = Counter(r.kind for r in records)
    assert by_kind == {"zeek_conn": 5, "zeek_dns": 3, "zeek_http": 1, "zeek_ssl": 1}
    (http,) = [r.fields for r in records if r.kind == "zeek_http"]
    assert (http["method"], http["host"], http["uri"], http["user_agent"], http["status_code"]) == \
        ("PUT", "198.51.100.99", "/share/q1-budget.xlsx", "Microsoft-WebDAV-MiniRedir/10.0.19045", "201")
    assert http["c-uri"] == "/share/q1-budget.xlsx" and http["cs-method"] == "PUT"  # the proxy names too
    (ssl,) = [r.fields for r in records if r.kind == "zeek_ssl"]
    assert ssl["server_name"] == "cdn.example.top"
    dns = {r.fields["query"]: r.fields for r in records if r.kind == "zeek_dns"}
    assert (dns["pool.supportxmr.com"]["answers"], dns["pool.supportxmr.com"]["rcode_name"]) == \
        ("141.94.96.144\n141.94.96.71", "NOERROR")
    assert (dns["update.sysinfo-cdn.top"]["qtype_name"], dns["update.sysinfo-cdn.top"]["rcode_name"]) == \
        ("TXT", "NXDOMAIN")
    assert "rcode_name" not in dns["unanswered.example"] and "rtt" not in dns["unanswered.example"]
    conns = _conns(records)
    uids = {c["uid"]: c for c in conns.values()}
    assert uids[http["uid"]]["service"] == "http" and uids[ssl["uid"]]["service"] == "ssl"
    assert uids[dns["pool.supportxmr.com"]["uid"]]["id.resp_p"] == "53"
    assert len(uids) == 5 and all(re.fullmatch(r"C[0-9A-Za-z]{16}", uid) for uid in uids)
    # positions are unique, and the same file read again gives the same records
    assert len({r.origin for r in records}) == len(records)
    assert [r.fields for r in _records(path)] == [r.fields for r in records]


def test_sigmahq_zeek_rules_fire_on_the_capture_as_on_zeeks_logs(tmp_path: Path) -> None:
    """The SigmaHQ rules that fire on the Zeek sample logs fire on a capture of the same traffic (the download
    by its URI: the reader gives no resp_mime_types, by which the sample fires)."""
    capture = Capture()
    capture.dns("10.20.4.31", "10.20.0.2", 53127, "pool.supportxmr.com", 41251, ["141.94.96.144"])
    capture.tcp_session("10.20.4.31", "198.51.100.80", 49822, 80, [
        b"GET /files/invoice_0314.exe HTTP/1.1\r\nHost: cdn-update.example.top\r\n",
        b"User-Agent: Microsoft-CryptoAPI/10.0\r\n\r\n"], b"HTTP/1.1 200 OK\r\n\r\n")
    capture.tcp_session("10.20.4.33", "198.51.100.99", 50422, 80, [
        b"PUT /share/q1-budget.xlsx HTTP/1.1\r\nHost: 198.51.100.99\r\n"
        b"User-Agent: Microsoft-WebDAV-MiniRedir/10.0.19045\r\n\r\n"], b"HTTP/1.1 201 Created\r\n\r\n")
    capture.tcp_session("10.20.4.34", "10.20.1.15", 50450, 80, [
        b"GET /tin-tuc/index.html HTTP/1.1\r\nHost: congthongtin.ankhanh.gov.vn\r\nUser-Agent: Mozilla/5.0 (Windows "
        b"NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36\r\n\r\n"])
    path = tmp_path / "attacks.pcap"
    capture.write_pcap(path)
    ruleset = load_rules(network_rule_files())
    fired = _fired(ruleset, [r for r in _records(path) if isinstance(r, Event)])
    assert fired["DNS Events Related To Mining Pools"] == {"zeek_dns"}
    assert fired["Monero Crypto Coin Mining Pool Lookup"] == {"zeek_dns"}
    assert fired["WebDav Put Request"] == {"zeek_http"}
    assert fired["HTTP Request to Low Reputation TLD or Suspicious File Extension"] == {"zeek_http"}
    assert fired["Download From Suspicious TLD - Blacklist"] == {"zeek_http"}
    portal = [r for r in _records(path) if isinstance(r, Event) and "ankhanh" in r.fields.get("host", "")]
    assert len(portal) == 1 and not _fired(ruleset, portal)


def test_timeouts_split_flows_as_softflowd(tmp_path: Path) -> None:
    """UDP idle 300 s, TCP after a RST 120 s, open TCP 3600 s; the expiry check every 60 s of capture time."""
    capture = Capture()
    capture.send("10.1.1.1", "10.1.1.2", 17, udp(1000, 2000, b"a"), 1000, 2000)
    capture.send("10.1.1.1", "10.1.1.2", 17, udp(1000, 2000, b"b"), 1000, 2000, gap=299)  # same flow
    capture.send("10.1.1.2", "10.1.1.1", 17, udp(2000, 1000, b"c"), 2000, 1000, gap=301)  # a new one
    capture.tcp_session("10.1.1.3", "10.1.1.4", 3000, 22, [b"x"], close=False)
    capture.send("10.1.1.3", "10.1.1.4", 6, tcp(3000, 22, 1002, 5001, 0x18, b"y"), 3000, 22, gap=1800)  # same
    capture.send("10.1.1.3", "10.1.1.4", 6, tcp(3000, 22, 1003, 5001, 0x04), 3000, 22)  # RST
    capture.send("10.1.1.3", "10.1.1.4", 6, tcp(3000, 22, 1003, 5001, 0x10), 3000, 22, gap=130)  # after 120 s
    path = tmp_path / "timeouts.pcap"
    capture.write_pcap(path)
    conns = [e.fields for e in _records(path) if isinstance(e, Event)]
    udp_flows = [(c["id.orig_h"], c["orig_pkts"], c["resp_pkts"], c["conn_state"]) for c in conns
                 if c["proto"] == "udp"]
    assert udp_flows == [("10.1.1.1", "2", "0", "S0"), ("10.1.1.2", "1", "0", "S0")]
    tcp_flows = [(c["orig_pkts"], c["resp_pkts"], c["conn_state"], c["history"]) for c in conns if c["proto"] == "tcp"]
    assert tcp_flows == [("5", "1", "RSTO", "ShADR"), ("1", "0", "OTH", "A")]
    (first,) = [c for c in conns if c["proto"] == "udp" and c["orig_pkts"] == "2"]
    assert float(first["duration"]) == pytest.approx(299.0)


def test_syn_ack_first_makes_the_receiver_the_originator(tmp_path: Path) -> None:
    capture = Capture()
    capture.send("192.0.2.80", "10.9.9.9", 6, tcp(443, 41000, 7, 2, 0x12), 443, 41000)
    capture.send("10.9.9.9", "192.0.2.80", 6, tcp(41000, 443, 2, 8, 0x10), 41000, 443)
    capture.send("10.9.9.9", "192.0.2.80", 6, tcp(41000, 443, 2, 8, 0x04), 41000, 443)
    capture.send("10.9.9.9", "192.0.2.81", 6, tcp(41001, 443, 2, 0, 0x02), 41001, 443)
    capture.send("192.0.2.81", "10.9.9.9", 6, tcp(443, 41001, 0, 3, 0x14), 443, 41001)
    path = tmp_path / "midstream.pcap"
    capture.write_pcap(path)
    conns = _conns(_records(path))
    assert conns[("10.9.9.9", "192.0.2.80", 41000, 443, "tcp")]["history"] == "hAR"
    assert conns[("10.9.9.9", "192.0.2.81", 41001, 443, "tcp")]["conn_state"] == "REJ"


# ---- broken files --------------------------------------------------------------------------------------------

def _capture_bytes(tmp_path: Path, kind: str) -> bytes:
    capture = _mixed_capture()
    path = tmp_path / f"whole.{kind}"
    capture.write_pcapng(path) if kind == "pcapng" else capture.write_pcap(path)
    return path.read_bytes()


@pytest.mark.parametrize("kind", ["pcap", "pcapng"])
def test_a_truncated_capture_gives_its_flows_so_far_and_a_dead_letter(tmp_path: Path, kind: str) -> None:
    data = _capture_bytes(tmp_path, kind)
    whole = _records(tmp_path / f"whole.{kind}")
    for cut in (len(data) - 7, len(data) // 2, 30):
        path = tmp_path / f"cut.{kind}"
        path.write_bytes(data[:cut])
        records = _records(path)
        letters = [r for r in records if isinstance(r, DeadLetter)]
        assert len(letters) == 1 and "truncated" in letters[0].reason, (cut, letters)
        (letter,) = letters
        start = int(letter.position.removeprefix("byte "))
        assert letter.origin == str(path) and letter.raw == data[start:cut]  # the bytes of the cut record
        events = [r for r in records if isinstance(r, Event)]
        assert (len(events) > 0) == (cut > len(data) // 4) and len(events) <= len(whole)


def test_bogus_headers_are_dead_letters_not_crashes(tmp_path: Path) -> None:
    cases = {
        "junk.pcap": b"this is not a capture at all\n",
        "short.pcap": b"\xd4\xc3\xb2\xa1\x02\x00",
        "huge.pcap": _capture_bytes(tmp_path, "pcap")[:24] + b"\0" * 8 + b"\xff\xff\xff\x7f" + b"\0" * 40,
        "length.pcapng": b"\x0a\x0d\x0d\x0a\x0d\0\0\0\x4d\x3c\x2b\x1a" + b"\0" * 40,
        "order.pcapng": b"\x0a\x0d\x0d\x0a\x1c\0\0\0" + b"\x11\x22\x33\x44" + b"\0" * 16,
    }
    reasons = {}
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        records = _records(path)
        assert len(records) == 1 and isinstance(records[0], DeadLetter), (name, records)
        (letter,) = records
        assert letter.raw and data.find(letter.raw) >= 0 and letter.position.startswith("byte ")
        reasons[name] = letter.reason
    assert "magic" in reasons["junk.pcap"] and "magic" in reasons["short.pcap"]
    assert "2147483647 captured bytes" in reasons["huge.pcap"]
    assert "length 13" in reasons["length.pcapng"] and "byte-order" in reasons["order.pcapng"]


def test_a_bad_pcapng_block_is_skipped_and_reading_goes_on(tmp_path: Path) -> None:
    """An enhanced packet block naming an interface that does not exist: a dead letter, then the next packets."""
    data = bytearray(_capture_bytes(tmp_path, "pcapng"))
    whole = _records(tmp_path / "whole.pcapng")
    first = data.find(b"\x06\0\0\0")  # the first enhanced packet block (interface 0)
    data[first + 8] = 9
    path = tmp_path / "badblock.pcapng"
    path.write_bytes(bytes(data))
    records = _records(path)
    (letter,) = [r for r in records if isinstance(r, DeadLetter)]
    assert letter.position == f"byte {first}" and "interface 9 of 2" in letter.reason
    assert letter.raw == bytes(data[first:first + len(letter.raw)]) and len(letter.raw) % 4 == 0
    assert sum(isinstance(r, Event) for r in records) == len(whole)  # one packet fewer, the same flows


def test_unsupported_link_type_is_one_dead_letter(tmp_path: Path) -> None:
    capture = _mixed_capture()
    path = tmp_path / "wifi.pcap"
    capture.write_pcap(path)
    data = bytearray(path.read_bytes())
    data[20:24] = (105).to_bytes(4, "little")  # IEEE 802.11
    path.write_bytes(bytes(data))
    records = _records(path)
    assert len(records) == 1 and "link type 105" in records[0].reason and records[0].position == "packet 1"


def test_frames_are_zeek_json_documents(tmp_path: Path) -> None:
    """What collect import sends to raw.zeek: Zeek JSON documents with their log in _path."""
    path = tmp_path / "c.pcap"
    _mixed_capture().write_pcap(path)
    frames = list(frame_file(path))
    assert {f.parser for f in frames} == {"zeek"} and {f.source for f in frames} == {"zeek"}
    assert Counter(json.loads(f.raw)["_path"] for f in frames) == {"conn": 9, "dns": 3, "http": 1, "ssl": 1}


@pytest.mark.parametrize("name", sorted(ENCAPSULATIONS))
def test_scapy_dissects_the_same_flows(tmp_path: Path, name: str) -> None:
    """scapy 2.8.0 (dev extra) as a second decoder: its innermost IP/IPv6 layer of every packet of a pcapng,
    summed per direction, gives our flows' packets and IP bytes."""
    import scapy.layers.ppp
    import scapy.layers.vxlan  # noqa: F401 (the layers bind PPPoE sessions and UDP port 4789)
    from scapy.layers.inet import IP, TCP, UDP
    from scapy.layers.inet6 import IPv6
    from scapy.utils import rdpcap

    capture = _mixed_capture()
    capture.encapsulate = ENCAPSULATIONS[name]
    capture.tcp_session("10.30.1.5", "10.30.2.9", 51000, 445, [bytes(200)], bytes(400))
    path = tmp_path / f"{name}.pcapng"
    capture.write_pcapng(path)
    packets, octets = Counter(), Counter()
    for packet in rdpcap(str(path)):
        inner, layer = None, packet
        while layer:
            if isinstance(layer, IP | IPv6):
                inner = layer
            layer = layer.payload
        transport = inner.payload
        if not isinstance(transport, TCP | UDP):
            continue
        key = (inner.src, inner.dst, transport.sport, transport.dport, "tcp" if isinstance(transport, TCP) else "udp")
        packets[key] += 1
        octets[key] += inner.len if isinstance(inner, IP) else inner.plen + 40
    ours_packets, ours_octets = Counter(), Counter()
    for (orig, resp, orig_port, resp_port, proto), conn in _conns(_records(path)).items():
        for key, prefix in (((orig, resp, orig_port, resp_port, proto), "orig"),
                            ((resp, orig, resp_port, orig_port, proto), "resp")):
            if int(conn[f"{prefix}_pkts"]):
                ours_packets[key] += int(conn[f"{prefix}_pkts"])
                ours_octets[key] += int(conn[f"{prefix}_ip_bytes"])
    assert len(packets) >= 15 and (ours_packets, ours_octets) == (packets, octets)


def test_a_gzipped_capture_reads_as_the_capture(tmp_path: Path) -> None:
    import gzip

    path = tmp_path / "edge.pcapng"
    _mixed_capture().write_pcapng(path)
    zipped = tmp_path / "edge.pcapng.gz"
    zipped.write_bytes(gzip.compress(path.read_bytes()))
    plain, unzipped = _records(path), _records(zipped)
    assert len(plain) == 14 and [e.fields for e in unzipped] == [e.fields for e in plain]


def test_collect_file_does_not_tail_a_capture(tmp_path: Path, caplog) -> None:
    """A capture is not a log that grows by lines: `collect file` stops at it and says to import it."""
    from ingest.tail import TailedFile, TailState

    path = tmp_path / "live.pcap"
    _mixed_capture().write_pcap(path)
    tailed = TailedFile(path, TailState(), tailer=None)
    with caplog.at_level("ERROR"):
        assert tailed._decide_format(path.read_bytes(), at_end=True) is False
    assert "packet captures are read with `socpipe collect import`" in caplog.text and tailed.state.format == ""
