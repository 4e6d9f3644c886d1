"""Collector throughput: syslog lines over TCP -> `socpipe collect syslog` -> Kafka raw.syslog, on real servers.

    .venv/bin/python -m bench.collector_throughput [--messages 300000]

Starts its own Kafka (socpipe dev servers), a collector process, and sends auth.log lines over one TCP
connection as fast as the collector reads them. Measured from the first byte sent to the moment Kafka's
end offset of raw.syslog holds every message; prints messages/s and the collector's CPU seconds (user +
system, from /proc), so the figure for one core reads as messages per collector CPU-second too.
Ends with the line `collector M messages/s, C messages per CPU-second`.
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

from socpipe.dev import servers

ROOT = Path(__file__).resolve().parents[1]
LINE = (b"<38>Mar 14 02:15:%02d web01 sshd[%d]: Failed password for invalid user admin%d from 203.0.113.%d "
        b"port 22 ssh2\n")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait_port(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"collector did not listen on {port}")


def _end_offset(consumer: KafkaConsumer, topic: str) -> int:
    partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
    return sum(consumer.end_offsets(partitions).values()) if partitions else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=300_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="socpipe-collector-") as tmp:
        home = Path(tmp)
        endpoints = servers.up(home / "dev")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        config = home / "socpipe.yaml"
        config.write_text(yaml.safe_dump({"kafka": {"bootstrap_servers": endpoints.kafka},
                                          "collect": {"state_dir": str(home / "collect"), "id": "bench"}}))
        with (home / "collect.log").open("wb") as log:
            collector = subprocess.Popen([sys.executable, "-m", "socpipe.cli", "--config", str(config), "collect",
                                          "syslog", "--tcp", str(port)], cwd=ROOT, stdout=subprocess.DEVNULL,
                                         stderr=log)
        consumer = KafkaConsumer(bootstrap_servers=endpoints.kafka)
        try:
            _wait_port(port)
            with socket.create_connection(("127.0.0.1", port)) as warm:  # metadata, topic creation
                warm.sendall(LINE % (0, 0, 0, 1))
            while _end_offset(consumer, "raw.syslog") < 1:
                time.sleep(0.2)
            print(f"load average {os.getloadavg()[0]:.2f} before sending, {os.cpu_count()} cores")
            payload = b"".join(LINE % (n % 60, n % 30000, n, n % 250) for n in range(args.messages))
            cpu_before, started = _cpu_seconds(collector.pid), time.monotonic()
            with socket.create_connection(("127.0.0.1", port)) as conn:
                conn.sendall(payload)
            sent = time.monotonic() - started
            while _end_offset(consumer, "raw.syslog") < args.messages + 1:
                if time.monotonic() - started > 600:
                    raise SystemExit("not every message reached Kafka within 600 s")
                time.sleep(0.05)
            seconds = time.monotonic() - started
            cpu = _cpu_seconds(collector.pid) - cpu_before
        finally:
            consumer.close()
            collector.send_signal(signal.SIGTERM)
            collector.wait(60)
            servers.down(home / "dev")
    print(f"{args.messages:,} messages: socket written in {sent:.1f} s, all in Kafka after {seconds:.1f} s; "
          f"collector CPU {cpu:.1f} s")
    print(f"collector {args.messages / seconds:,.0f} messages/s, {args.messages / cpu:,.0f} messages per CPU-second")


if __name__ == "__main__":
    main()
