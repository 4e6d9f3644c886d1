"""NetFlow v5, v9 and IPFIX from a real exporter (Debian's softflowd reading a pcap and exporting to
127.0.0.1): the decoder's flows carry exactly the packets and bytes of the capture, per direction, with
two exporters using the same template ids at once; hostile datagrams become dead letters."""

from __future__ import annotations

import socket
import struct
import subprocess
import time
from collections import Counter

import pytest
from pcaps import exported, softflowd, write_pcap

from ingest.netflow import FlowDecoder

pytestmark = pytest.mark.slow


def _export(pcap, version: int, exporters: int = 1) -> list[tuple[bytes, str]]:
    """Run softflowd on the pcap (one process per exporter, each from its own source port) and return every
    datagram received, with its sender."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.bind(("127.0.0.1", 0))
        receiver.settimeout(0.5)
        port = receiver.getsockname()[1]
        datagrams = []
        for n in range(exporters):  # one after another: each run exports from a socket of its own
            run = softflowd(pcap, port, version, str(n))
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    data, sender = receiver.recvfrom(65535)
                    datagrams.append((data, f"{sender[0]}:{sender[1]}"))
                except TimeoutError:
                    if run.poll() is not None:
                        break
            run.wait(10)
    return datagrams


@pytest.mark.parametrize("version", [5, 9, 10])
def test_softflowd_flows_equal_the_capture(tmp_path, version):
    pcap = tmp_path / "flows.pcap"
    packets, octets = write_pcap(pcap)
    datagrams = _export(pcap, version, exporters=2)
    assert len({sender for _, sender in datagrams}) == 2  # two exporters, the same template ids
    decoder = FlowDecoder()
    flows, letters = [], []
    for data, sender in datagrams:
        got, bad = decoder.decode(data, sender, time.monotonic())
        flows += got
        letters += bad
    assert letters == []
    for exporter in {f["exporter"] for f in flows}:
        mine = [f for f in flows if f["exporter"] == exporter]
        seen_packets, seen_bytes = Counter(), Counter()
        for f in mine:
            key = (f["src_ip"], f["dst_ip"], int(f["src_port"]), int(f["dst_port"]), int(f["protocol"]))
            seen_packets[key] += int(f["packets"])
            seen_bytes[key] += int(f["bytes"])
        assert seen_packets == packets and seen_bytes == octets
        assert all(f["start"] <= f["end"] for f in mine)
        assert {f["network.transport"] for f in mine} == {"tcp", "udp"}


def test_data_before_its_template_waits_then_decodes(tmp_path):
    pcap = tmp_path / "flows.pcap"
    packets, _ = write_pcap(pcap)
    datagrams = _export(pcap, 9)
    decoder = FlowDecoder(park_seconds=60)
    # Strip the template sets out of the first datagram and deliver it alone, then the rest.
    first, sender = datagrams[0]
    flows, letters = decoder.decode(_without_templates(first), sender, 0.0)
    assert (flows, letters) == ([], [])
    for data, s in datagrams:
        got, bad = decoder.decode(data, s, 1.0)
        flows += got
        letters += bad
    assert letters == []
    assert sum(int(f["packets"]) for f in flows) == sum(packets.values()) + sum(
        int(f["packets"]) for f in FlowDecoder().decode(first, sender, 0.0)[0])  # the parked copy decoded too
    expired = FlowDecoder(park_seconds=5)
    expired.decode(_without_templates(first), sender, 0.0)
    _, letters = expired.decode(b"\x00\x09" + b"\0" * 18, sender, 10.0)
    assert any("no template" in letter.reason for letter in letters)


def _without_templates(datagram: bytes) -> bytes:
    out, offset = bytearray(datagram[:20]), 20
    while offset + 4 <= len(datagram):
        set_id, length = struct.unpack_from("!HH", datagram, offset)
        if set_id >= 256:
            out += datagram[offset:offset + length]
        offset += length
    return bytes(out)


HOSTILE = [b"", b"\x00\x05", b"\x00\x05\x00\x10" + b"\0" * 20, b"\x00\x0a\xff\xff" + b"\0" * 12,
           b"\x00\x09" + b"\0" * 18 + b"\x00\x00\x00\x02", b"\x00\x07hello"]


@pytest.mark.parametrize("datagram", HOSTILE)
def test_hostile_datagrams_are_dead_letters_with_their_bytes(datagram):
    flows, letters = FlowDecoder().decode(datagram, "192.0.2.1:2055", 0.0)
    assert flows == [] and len(letters) == 1 and letters[0].raw == datagram and letters[0].reason


def test_template_flood_is_bounded():
    decoder = FlowDecoder(max_templates=100)
    letters = []
    for tid in range(256, 456):
        template = struct.pack("!HHHH", 0, 16, tid, 2) + struct.pack("!HHHH", 8, 4, 12, 4)
        datagram = struct.pack("!HHIIII", 9, 1, 0, 0, tid, 1) + template
        letters += decoder.decode(datagram, "192.0.2.9:2055", 0.0)[1]
    assert len(decoder.templates) == 100 and len(letters) == 100


@pytest.mark.parametrize("version", [5, 9])
def test_scapy_decodes_the_same_flows(tmp_path, version):
    """Cross-check with scapy's decoder on the same softflowd datagrams (v5, and v9 through
    netflowv9_defragment; scapy's IPFIX support crashes on softflowd's options templates)."""
    from scapy.layers.netflow import NetflowDataflowsetV9, NetflowHeader, NetflowRecordV5, netflowv9_defragment

    pcap = tmp_path / "flows.pcap"
    write_pcap(pcap)
    datagrams = _export(pcap, version)
    ours = Counter()
    decoder = FlowDecoder()
    for data, sender in datagrams:
        for f in decoder.decode(data, sender, 0.0)[0]:
            ours[(f["src_ip"], f["dst_ip"], int(f["src_port"]), int(f["dst_port"]), int(f["protocol"]),
                  int(f["packets"]), int(f["bytes"]))] += 1
    theirs = Counter()
    packets = [NetflowHeader(data) for data, _ in datagrams]
    for header in packets if version == 5 else netflowv9_defragment(packets):
        for layer in header.iterpayloads():
            if isinstance(layer, NetflowRecordV5):
                theirs[(layer.src, layer.dst, layer.srcport, layer.dstport, layer.prot, layer.dpkts,
                        layer.dOctets)] += 1
            elif isinstance(layer, NetflowDataflowsetV9) and layer.templateID >= 1024:  # 256: options data
                for r in layer.records:
                    theirs[(r.IPV4_SRC_ADDR, r.IPV4_DST_ADDR, r.L4_SRC_PORT, r.L4_DST_PORT, r.PROTOCOL, r.IN_PKTS,
                            r.IN_BYTES)] += 1
    assert ours == theirs and sum(ours.values()) == 12


# ---- sampling: crafted datagrams, then softflowd's own sampling --------------------------------------------

def _v9(sets: list[tuple[int, bytes]], domain: int = 1) -> bytes:
    body = b"".join(struct.pack("!HH", set_id, 4 + len(data)) + data for set_id, data in sets)
    return struct.pack("!HHIIII", 9, len(sets), 1000, 1_773_453_600, 1, domain) + body


def _ipfix(sets: list[tuple[int, bytes]], domain: int = 1) -> bytes:
    body = b"".join(struct.pack("!HH", set_id, 4 + len(data)) + data for set_id, data in sets)
    return struct.pack("!HHIII", 10, 16 + len(body), 1_773_453_600, 1, domain) + body


def _fields(*elements: tuple[int, int]) -> bytes:
    return b"".join(struct.pack("!HH", e, n) for e, n in elements)


FLOW = ((8, 4), (12, 4), (2, 4), (1, 4))  # src, dst, packets, bytes


def _flow(packets: int, octets: int) -> bytes:
    return socket.inet_aton("198.51.100.7") + socket.inet_aton("192.0.2.9") + struct.pack("!II", packets, octets)


def test_v5_header_sampling_interval_scales_the_estimates():
    record = (socket.inet_aton("198.51.100.7") + socket.inet_aton("192.0.2.9") + b"\0" * 4
              + struct.pack("!HHIIIIHHxBBBHHBBxx", 1, 2, 3, 300, 0, 10, 40000, 443, 0x18, 6, 0, 0, 0, 0, 0))
    header = struct.pack("!HHIIIIBBH", 5, 1, 1000, 1_773_453_600, 0, 1, 0, 0, 0x4000 | 100)  # mode 1: 1 in 100
    (flow,), letters = FlowDecoder().decode(header + record, "192.0.2.1:2055", 0.0)
    assert letters == []
    assert (flow["packets"], flow["bytes"], flow["network.bytes"]) == ("3", "300", "300")  # raw counts kept
    assert (flow["sampling_rate"], flow["estimated_packets"], flow["estimated_bytes"]) == ("100", "300", "30000")
    unsampled = header[:-2] + b"\0\0" + record
    (flow,), _ = FlowDecoder().decode(unsampled, "192.0.2.1:2055", 0.0)
    assert "sampling_rate" not in flow and "estimated_bytes" not in flow


def test_v9_options_sampling_interval_and_sampler_ids():
    """Element 34 for the whole domain, FLOW_SAMPLER_ID 48 with samplerRandomInterval 50 per sampler (as
    pmacct announces it); the rate is kept per exporter and domain, and across a restart through state()."""
    decoder, exporter = FlowDecoder(), "192.0.2.1:2055"
    domain_wide = struct.pack("!HHH", 256, 4, 4) + _fields((1, 4), (34, 4))
    per_sampler = struct.pack("!HHH", 257, 4, 8) + _fields((1, 4), (48, 1), (50, 4))
    options_data = [(256, struct.pack("!II", 0, 10)), (257, struct.pack("!IBI", 0, 1, 50) + struct.pack("!IBI", 0, 2, 7)
                                                              + b"\0\0")]
    flows, letters = decoder.decode(_v9([(1, domain_wide + per_sampler), *options_data]), exporter, 0.0)
    assert (flows, letters) == ([], [])
    templates = struct.pack("!HH", 300, 4) + _fields(*FLOW) + struct.pack("!HH", 301, 5) + _fields(*FLOW, (48, 1))
    data = [(300, _flow(2, 100)), (301, _flow(3, 120) + b"\x01" + _flow(4, 160) + b"\x02" + _flow(5, 200) + b"\x03")]
    flows, letters = decoder.decode(_v9([(0, templates), *data]), exporter, 1.0)
    assert letters == []
    rates = [(f["packets"], f["sampling_rate"], f["estimated_packets"], f["estimated_bytes"]) for f in flows]
    assert rates == [("2", "10", "20", "1000"), ("3", "50", "150", "6000"), ("4", "7", "28", "1120"),
                     ("5", "10", "50", "2000")]  # sampler 3 was never announced: the domain's rate
    other, _ = decoder.decode(_v9([(0, templates), *data]), "192.0.2.2:2055", 1.0)
    assert all("sampling_rate" not in f for f in other)  # another exporter's rates are its own
    restarted = FlowDecoder()
    restarted.restore(decoder.state())
    flows, _ = restarted.decode(_v9(data), exporter, 2.0)
    assert [f["sampling_rate"] for f in flows] == ["10", "50", "7", "10"]
    old = FlowDecoder()  # a state file saved before sampler ids were kept: [exporter, domain, rate]
    old.restore({**decoder.state(), "sampling": [[exporter, 1, 10]]})
    assert [f["sampling_rate"] for f in old.decode(_v9(data), exporter, 2.0)[0]] == ["10", "10", "10", "10"]


def test_ipfix_sampling_from_options_and_from_the_data_record():
    """samplingPacketInterval/Space (305/306: 1 selected, 99 skipped, as softflowd sends) in an options record;
    samplingSize/Population (309/310) in the data record itself wins over it."""
    decoder, exporter = FlowDecoder(), "192.0.2.1:4739"
    options = struct.pack("!HHH", 256, 3, 1) + _fields((149, 4), (305, 4), (306, 4)) + b"\0\0"  # padded
    templates = struct.pack("!HH", 300, 4) + _fields(*FLOW) + struct.pack("!HH", 301, 6) + _fields(
        *FLOW, (309, 4), (310, 4))
    datagram = _ipfix([(3, options), (256, struct.pack("!III", 1, 1, 99)), (2, templates),
                       (300, _flow(2, 100)), (301, _flow(3, 90) + struct.pack("!II", 2, 5))])
    flows, letters = decoder.decode(datagram, exporter, 0.0)
    assert letters == []
    assert [(f["sampling_rate"], f["estimated_packets"], f["estimated_bytes"]) for f in flows] == [
        ("100", "200", "10000"), ("2.5", "8", "225")]
    flows, _ = decoder.decode(_ipfix([(300, _flow(1, 50))], domain=2), exporter, 0.0)
    assert flows == []  # another observation domain: no template there (parked), and no rate either


def test_softflowd_sampling_rate_is_recorded_and_scales(tmp_path):
    """softflowd -s 4 keeps every 4th packet of the capture (the 1st, 5th, ...) and says so: in the v5 header,
    in a v9 options record (samplingInterval) and in an IPFIX one (samplingPacketInterval 1, Space 3)."""
    from scapy.all import IP, rdpcap

    pcap = tmp_path / "flows.pcap"
    write_pcap(pcap)
    kept = Counter()
    for packet in rdpcap(str(pcap))[::4]:
        ip = packet[IP]
        kept[(ip.src, ip.dst, ip.payload.sport, ip.payload.dport, ip.proto)] += 1
    for version in (5, 9, 10):
        def sampled(port: int, version: int = version) -> subprocess.Popen[bytes]:
            return subprocess.Popen(["softflowd", "-r", str(pcap), "-n", f"127.0.0.1:{port}", "-v", str(version),
                                     "-d", "-s", "4", "-p", str(tmp_path / f"{version}.pid")],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        decoder, flows = FlowDecoder(), []
        for data, sender in exported(sampled):
            got, letters = decoder.decode(data, sender, 0.0)
            assert letters == []
            flows += got
        seen = Counter()
        for f in flows:
            seen[(f["src_ip"], f["dst_ip"], int(f["src_port"]), int(f["dst_port"]), int(f["protocol"]))] += int(
                f["packets"])
        assert seen == kept, version  # raw counts: the packets softflowd sampled
        assert {f["sampling_rate"] for f in flows} == {"4"}, version
        assert all(int(f["estimated_packets"]) == 4 * int(f["packets"]) for f in flows)
