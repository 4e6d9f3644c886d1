"""Flow collector throughput: softflowd's v9 and IPFIX datagrams -> `socpipe collect netflow` -> Kafka raw.flow.

    .venv/bin/python -m bench.flows [--flows 300000] [--rounds 2]

Makes a pcap of many short conversations (tests/pcaps.py), has Debian's softflowd export it once per version
and keeps the datagrams, then (1) decodes them in this process with ingest/netflow.py (decoder alone), and
(2) starts its own Kafka (socpipe dev servers) and a collector process, replays the datagrams over UDP from
one exporter socket until about --flows flows were sent, and waits until Kafka's end offset of raw.flow stops
moving; --rounds times per version, alternating. Prints flows/s of the decoder and, for the collector, flows
in Kafka per collector CPU-second (user + system, from /proc) and datagrams lost in the socket if any (UDP: the
sender is paced, not acknowledged).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from kafka import KafkaConsumer, TopicPartition

from bench.collector_throughput import _cpu_seconds
from ingest.netflow import FlowDecoder
from socpipe.dev import servers

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from pcaps import write_pcap  # noqa: E402
from test_netflow import _export  # noqa: E402


def _decoder_rate(datagrams: list[bytes], rounds: int = 20) -> float:
    decoder = FlowDecoder()
    flows, start = 0, time.process_time()
    for _ in range(rounds):
        for data in datagrams:
            flows += len(decoder.decode(data, "192.0.2.1:2055", 0.0)[0])
    return flows / (time.process_time() - start)


def _end_offset(kafka: str, topic: str) -> int:
    consumer = KafkaConsumer(bootstrap_servers=kafka)
    partition = TopicPartition(topic, 0)
    try:
        return consumer.end_offsets([partition]).get(partition, 0)
    finally:
        consumer.close()


def _collector_rate(home: Path, kafka: str, version: int, run: int, datagrams: list[bytes], per_datagram: float,
                    target: int) -> tuple[float, float, int, int]:
    """(flows per collector CPU-second, wall flows/s, flows sent, flows in Kafka) for one replay into a fresh
    collector."""
    name = f"bench{version}-{run}"
    config = home / f"{name}.yaml"
    config.write_text(yaml.safe_dump({"kafka": {"bootstrap_servers": kafka, "topic_prefix": f"{name}."},
                                      "collect": {"id": name, "state_dir": str(home / name)}}))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = (home / f"{name}.log").open("wb")
    collector = subprocess.Popen([sys.executable, "-m", "socpipe.cli", "--config", str(config), "collect", "netflow",
                                  "--udp", str(port)], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    while f"127.0.0.1:{port}".encode() not in (home / f"{name}.log").read_bytes():
        time.sleep(0.1)
    cpu0, sent, start = _cpu_seconds(collector.pid), 0, time.monotonic()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as exporter:
        while sent < target:
            for data in datagrams:
                exporter.sendto(data, ("127.0.0.1", port))
            sent += int(len(datagrams) * per_datagram)
            time.sleep(len(datagrams) * per_datagram / 150_000)  # pacing: at most ~150k flows/s offered
    topic, last, stable = f"{name}.raw.flow", -1, 0
    while stable < 3:
        time.sleep(1.0)
        now = _end_offset(kafka, topic)
        stable, last = (stable + 1, now) if now == last else (0, now)
    elapsed = time.monotonic() - start - 3.0
    cpu = _cpu_seconds(collector.pid) - cpu0
    collector.send_signal(signal.SIGTERM)
    collector.wait(60)
    return last / cpu, last / elapsed, sent, last


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flows", type=int, default=300_000)
    parser.add_argument("--rounds", type=int, default=2,
                        help="replays per version, alternating v9 and IPFIX (the first replay after Kafka starts "
                             "shares the machine with the broker's warm-up)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="socpipe-bench-flows-") as tmp:
        home = Path(tmp)
        pcap = home / "flows.pcap"
        write_pcap(pcap, conversations=240)  # client addresses 198.51.100.10-249
        captured = {version: [data for data, _ in _export(pcap, version)] for version in (9, 10)}
        per_datagram = {}
        for version, datagrams in captured.items():
            decoder = FlowDecoder()
            flows = sum(len(decoder.decode(d, "192.0.2.1:2055", 0.0)[0]) for d in datagrams)
            per_datagram[version] = flows / len(datagrams)
            print(f"v{version}: {len(datagrams)} datagrams, {flows} flows; decoder alone "
                  f"{_decoder_rate(datagrams):,.0f} flows per CPU-second")
        endpoints = servers.up(home / "servers")
        try:
            for run, (version, datagrams) in enumerate(list(captured.items()) * args.rounds):
                per_cpu, wall, sent, stored = _collector_rate(home, endpoints.kafka, version, run, datagrams,
                                                              per_datagram[version], args.flows)
                print(f"v{version}: collector {per_cpu:,.0f} flows per CPU-second into Kafka, {wall:,.0f} flows/s wall "
                      f"({sent:,} sent, {stored:,} in Kafka; load average {os.getloadavg()[0]:.2f})")
        finally:
            servers.down(home / "servers")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
