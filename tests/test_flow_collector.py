"""`socpipe collect netflow` as a process on 127.0.0.1, fed by a real exporter (Debian's softflowd reading a
pcap, two exporters at once with the same template ids), into the dev Kafka: raw.flow holds one record per
flow whose packets and bytes equal the capture's, per version; the streaming job's parser reads them as `flow`
events with ECS names; bad datagrams are dead letters with their bytes; templates survive a restart."""

from __future__ import annotations

import base64
import json
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import SIGMAHQ
from kafka import KafkaConsumer, TopicPartition
from pcaps import softflowd, write_pcap
from test_collectors import make_config
from test_netflow import _export, _without_templates

from layers.stream import parse_envelope
from socpipe.config import Config
from socpipe.envelope import Envelope
from socpipe.events import Event
from socpipe.kafka_client import python_options, topic

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start(config_path: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    """The collector process; returns once it listens (its log says so)."""
    before = log.stat().st_size if log.exists() else 0
    out = log.open("ab")
    process = subprocess.Popen([sys.executable, "-m", "socpipe.cli", "--config", str(config_path), "collect",
                                "netflow", "--udp", str(port)], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while f"udp://127.0.0.1:{port}".encode() not in log.read_bytes()[before:]:
        assert process.poll() is None and time.monotonic() < deadline, log.read_text(errors="replace")
        time.sleep(0.1)
    return process


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0


def _read(config: Config, name: str, done, timeout: float = 60.0) -> list:
    """Records of one topic until done(records) holds, then 1.5 s more so a duplicate would show."""
    consumer = KafkaConsumer(**python_options(config), enable_auto_commit=False)
    consumer.assign([TopicPartition(topic(config, name), 0)])
    consumer.seek_to_beginning()
    found: list = []
    deadline, quiet = time.monotonic() + timeout, None
    while time.monotonic() < deadline and (quiet is None or time.monotonic() < quiet):
        for records in consumer.poll(timeout_ms=300).values():
            found += records
        if quiet is None and done(found):
            quiet = time.monotonic() + 1.5
    consumer.close()
    return found


def _flows(records: list) -> list[Event]:
    """The records as the streaming job parses them (layers/stream.py parse_envelope)."""
    events = [parse_envelope(Envelope.from_message("raw.flow", r.key, r.value, r.headers)) for r in records]
    assert all(isinstance(e, Event) for e in events), events
    return events


def _packets(records: list) -> int:
    return sum(int(json.loads(r.value)["packets"]) for r in records)


@pytest.mark.parametrize("version", [5, 9, 10])
def test_softflowd_flows_reach_kafka_with_the_capture_totals(dev_servers, tmp_path, version):
    config = make_config(tmp_path, dev_servers.kafka)
    pcap = tmp_path / "flows.pcap"
    packets, octets = write_pcap(pcap)
    port = _free_udp_port()
    collector = _start(tmp_path / "socpipe.yaml", port, tmp_path / "collector.log")
    try:
        for n in range(2):  # two exporters (own source ports), the same template ids
            softflowd(pcap, port, version, str(n)).wait(30)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            sender.sendto(b"\x00\x07not netflow", ("127.0.0.1", port))
        records = _read(config, "raw.flow", lambda found: _packets(found) >= 2 * sum(packets.values()))
        letters = _read(config, "deadletter", lambda found: len(found) >= 1, timeout=20)
    finally:
        _stop(collector)
    events = _flows(records)
    assert {e.kind for e in events} == {"flow"}
    exporters = {e.fields["exporter"] for e in events}
    assert len(exporters) == 2
    for exporter in exporters:
        seen_packets, seen_bytes = Counter(), Counter()
        for e in events:
            f = e.fields
            if f["exporter"] == exporter:
                key = (f["source.ip"], f["destination.ip"], int(f["source.port"]), int(f["destination.port"]),
                       int(f["network.iana_number"]))
                seen_packets[key] += int(f["network.packets"])
                seen_bytes[key] += int(f["network.bytes"])
        assert seen_packets == packets and seen_bytes == octets  # every flow once, none twice
    assert {e.fields["network.transport"] for e in events} == {"tcp", "udp"}
    assert {e.fields["netflow_version"] for e in events} == {str(version)}
    headers = {k: v.decode() for k, v in records[0].headers}
    assert headers["source"] == "flow" and headers["origin"].startswith("udp://127.0.0.1:")
    assert len({r.key for r in records}) == len(records)
    (letter,) = [json.loads(r.value) for r in letters]
    assert base64.b64decode(letter["raw_base64"]) == b"\x00\x07not netflow" and "version 7" in letter["reason"]


def test_templates_survive_a_collector_restart(dev_servers, tmp_path):
    """v9 data sent after a restart, without templates, decodes at once from the templates the collector saved."""
    config = make_config(tmp_path, dev_servers.kafka)
    pcap = tmp_path / "flows.pcap"
    packets, _ = write_pcap(pcap)
    datagrams = [data for data, _ in _export(pcap, 9)]
    port = _free_udp_port()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as exporter:
        exporter.bind(("127.0.0.1", 0))
        collector = _start(tmp_path / "socpipe.yaml", port, tmp_path / "collector.log")
        try:
            for data in datagrams:
                exporter.sendto(data, ("127.0.0.1", port))
            _read(config, "raw.flow", lambda found: _packets(found) >= sum(packets.values()))
        finally:
            _stop(collector)
        assert (tmp_path / "state" / "netflow" / "templates.json").is_file()
        collector = _start(tmp_path / "socpipe.yaml", port, tmp_path / "collector.log")
        try:
            first = next(data for data in datagrams if _flows_of(data))
            exporter.sendto(_without_templates(first), ("127.0.0.1", port))
            again = sum(int(f["packets"]) for f in _flows_of(first))
            records = _read(config, "raw.flow", lambda found: _packets(found) >= sum(packets.values()) + again)
        finally:
            _stop(collector)
    assert _packets(records) == sum(packets.values()) + again
    assert "templates loaded" in (tmp_path / "collector.log").read_text()


def _flows_of(datagram: bytes) -> list[dict[str, str]]:
    from ingest.netflow import FlowDecoder

    return FlowDecoder().decode(datagram, "192.0.2.1:2055", 0.0)[0]


def test_stream_parses_flows_and_sensor_logs_as_batch_does(dev_servers, tmp_path):
    """`socpipe run` on raw.flow (softflowd through the collector), raw.suricata and raw.zeek (collect import):
    every record an event of its kind in the lake and the search store, the network rules' alerts those of
    `socpipe detect` on the same sensor logs."""
    from stream_harness import pipeline

    pipe = pipeline(dev_servers, tmp_path / "pipe")
    samples = ROOT / "tests" / "data" / "network"
    rules = [str(SIGMAHQ / "rules" / "network"), str(SIGMAHQ / "rules" / "web" / "proxy_generic")]
    pcap = tmp_path / "flows.pcap"
    packets, _ = write_pcap(pcap)
    port = _free_udp_port()
    collector = _start(pipe.config, port, tmp_path / "collector.log")
    try:
        softflowd(pcap, port, 10).wait(30)
        (tmp_path / "reader").mkdir()
        config = make_config(tmp_path / "reader", dev_servers.kafka, name=pipe.name)
        flows = _read(config, "raw.flow", lambda found: _packets(found) >= sum(packets.values()))
    finally:
        _stop(collector)
    imported = pipe.socpipe("collect", "import", str(samples))
    assert imported.returncode == 0, imported.stderr[-3000:]
    batch = pipe.socpipe("detect", "--rules", *rules, "--input", str(samples), "--out", str(tmp_path / "batch"))
    assert batch.returncode == 0, batch.stderr[-3000:]
    streamed = pipe.socpipe("run", "--once", "--rules", *rules)
    assert streamed.returncode == 0, streamed.stderr[-3000:]
    kinds = Counter(pipe.lake_column("events", "kind"))
    assert kinds["flow"] == len(flows) and kinds["zeek_conn"] == 6 and kinds["suricata_dns"] == 2
    assert sum(kinds.values()) == len(flows) + 22 == len(pipe.search_ids("events"))
    assert pipe.kafka_keys("deadletter") == []
    batch_alerts = {json.loads(line)["alert_id"] for line in (tmp_path / "batch" / "alerts.jsonl").open()}
    assert len(batch_alerts) == 10 and set(pipe.search_ids("alerts")) == batch_alerts
    hits = pipe.search().count(index=f"{pipe.name}-events-*", body={"query": {"term": {"event.network.transport":
                                                                                          "udp"}}})
    assert hits["count"] >= 2
