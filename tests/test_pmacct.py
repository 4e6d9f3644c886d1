"""pmacct's `pmacctd` as a second real NetFlow exporter: it reads a pcap (`pcap_savefile`, exiting at its end)
and exports IPFIX with its nfprobe plugin to 127.0.0.1. The decoder's flows, and the collector process's
records in Kafka (pmacctd and softflowd exporting at once), carry exactly the capture's packets and bytes
per direction. pmacct counts bytes as IP total length, the same as the capture's counters here (frames
without Ethernet padding, so softflowd's counts agree too)."""

from __future__ import annotations

import subprocess
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest
from pcaps import exported, softflowd, write_pcap
from test_collectors import make_config
from test_flow_collector import _flows, _free_udp_port, _packets, _read, _start, _stop

from ingest.netflow import FlowDecoder

pytestmark = pytest.mark.slow


def pmacctd(pcap: Path, port: int, *settings: str) -> subprocess.Popen[bytes]:
    """pmacctd reading the pcap and exporting IPFIX (nfprobe_version 10) to 127.0.0.1:port; short flow
    timeouts, and the flows still open are exported when it stops at the end of the file."""
    config = pcap.with_suffix(f".pmacctd.{port}.conf")
    config.write_text("\n".join([
        "daemonize: false", f"pcap_savefile: {pcap}", "pcap_savefile_wait: false", "plugins: nfprobe",
        "nfprobe_version: 10", f"nfprobe_receiver: 127.0.0.1:{port}", "nfprobe_timeouts: tcp=1:maxlife=5:expint=1",
        *settings,
    ]) + "\n")
    return subprocess.Popen(["pmacctd", "-f", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _key(f: dict[str, str]) -> tuple[str, str, int, int, int]:
    return f["src_ip"], f["dst_ip"], int(f["src_port"]), int(f["dst_port"]), int(f["protocol"])


def _decoded(pcap: Path, *settings: str) -> list[dict[str, str]]:
    """Every flow pmacctd exports for the pcap, through the decoder (no dead letters)."""
    decoder, flows, letters = FlowDecoder(), [], []
    for data, sender in exported(lambda port: pmacctd(pcap, port, *settings)):
        assert data[:2] == b"\x00\x0a"  # IPFIX
        got, bad = decoder.decode(data, sender, time.monotonic())
        flows += got
        letters += bad
    assert letters == []
    return flows


def _totals(flows: list[dict[str, str]]) -> tuple[Counter, Counter]:
    seen_packets, seen_bytes = Counter(), Counter()
    for f in flows:
        seen_packets[_key(f)] += int(f["packets"])
        seen_bytes[_key(f)] += int(f["bytes"])
    return seen_packets, seen_bytes


def test_pmacctd_ipfix_equals_the_capture(tmp_path):
    pcap = tmp_path / "flows.pcap"
    packets, octets = write_pcap(pcap)
    flows = _decoded(pcap)
    assert _totals(flows) == (packets, octets)  # every direction once, IP total length
    # pmacct sends flowStart/EndMilliseconds: the capture's own clock (2026-03-14 02:00 UTC, 10 ms a packet).
    first, last = min(f["start"] for f in flows), max(f["end"] for f in flows)
    span = datetime.fromisoformat(last) - datetime.fromisoformat(first)
    assert first.startswith("2026-03-14T02:00:00") and 0.3 < span.total_seconds() < sum(packets.values()) * 0.01
    assert all("sampling_rate" not in f for f in flows)  # not sampled, so no rate and no estimates


def test_pmacctd_sampling_rate_is_recorded_per_sampler(tmp_path):
    """pmacctd_ext_sampling_rate says the capture was sampled 1 in 4 upstream: pmacctd counts every packet and
    exports an options record (FLOW_SAMPLER_ID 1, samplerRandomInterval 4) with data naming sampler 1. The raw
    counts stay the capture's; the estimates are four times them. (pmacct's own `sampling_rate` samples at
    random, so its counts cannot be compared with the capture.)"""
    pcap = tmp_path / "flows.pcap"
    packets, octets = write_pcap(pcap)
    flows = _decoded(pcap, "pmacctd_ext_sampling_rate: 4")
    assert _totals(flows) == (packets, octets)
    assert {f["sampling_rate"] for f in flows} == {"4"}
    assert sum(int(f["estimated_packets"]) for f in flows) == 4 * sum(packets.values())
    assert sum(int(f["estimated_bytes"]) for f in flows) == 4 * sum(octets.values())


def test_pmacctd_and_softflowd_at_once_through_the_collector(dev_servers, tmp_path):
    """Both exporters at the same time into one collector process: per exporter, Kafka's flow records hold the
    capture's packets and bytes per direction."""
    config = make_config(tmp_path, dev_servers.kafka)
    pcap = tmp_path / "flows.pcap"
    packets, octets = write_pcap(pcap)
    port = _free_udp_port()
    collector = _start(tmp_path / "socpipe.yaml", port, tmp_path / "collector.log")
    try:
        runs = [pmacctd(pcap, port), softflowd(pcap, port, 10)]
        assert [run.wait(30) for run in runs] == [0, 0]
        records = _read(config, "raw.flow", lambda found: _packets(found) >= 2 * sum(packets.values()))
    finally:
        _stop(collector)
    events = _flows(records)
    by_exporter: dict[str, list[dict[str, str]]] = {}
    for e in events:
        by_exporter.setdefault(e.fields["exporter"], []).append(e.fields)
    assert len(by_exporter) == 2
    for fields in by_exporter.values():
        seen_packets, seen_bytes = Counter(), Counter()
        for f in fields:
            seen_packets[_key(f)] += int(f["network.packets"])
            seen_bytes[_key(f)] += int(f["network.bytes"])
        assert seen_packets == packets and seen_bytes == octets
        assert {f["netflow_version"] for f in fields} == {"10"}
