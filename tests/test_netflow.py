"""NetFlow v5, v9 and IPFIX from a real exporter (Debian's softflowd reading a pcap and exporting to
127.0.0.1): the decoder's flows carry exactly the packets and bytes of the capture, per direction, with
two exporters using the same template ids at once; hostile datagrams become dead letters."""

from __future__ import annotations

import socket
import struct
import time
from collections import Counter

import pytest
from pcaps import softflowd, write_pcap

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
