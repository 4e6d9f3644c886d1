"""Helpers for tests of `socpipe run` on the real servers: a config per test (own topic prefix, indices,
lake and checkpoints, so tests sharing the session's Kafka and OpenSearch never see each other's data),
the job as a child process, and readers that count what each store holds."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import yaml
from conftest import ROOT
from kafka import KafkaConsumer, KafkaProducer
from opensearchpy import OpenSearch
from opensearchpy.helpers import scan

from alerting.alerts import alert_id
from layers.correlate import Correlator
from layers.detect import EVENT_SCHEMA, alert_batch, event_row
from layers.matcher.engine import Detector
from layers.stream import parse_envelope
from rules.compiler import load_rules
from socpipe.config import STARTER_PACK
from socpipe.dev.servers import Endpoints
from socpipe.envelope import Envelope
from socpipe.events import Event


@dataclass
class Pipeline:
    """One test's pipeline on the shared servers."""

    servers: Endpoints
    home: Path
    name: str

    @property
    def config(self) -> Path:
        return self.home / "socpipe.yaml"

    @property
    def lake(self) -> Path:
        return self.home / "lake"

    @property
    def finished_batches(self) -> set[int]:
        return self._batches("finished-batches")

    @property
    def started_batches(self) -> set[int]:
        """Batches Spark planned (offsets logged): a started batch not finished is in flight."""
        return self._batches("kafka/offsets")

    def _batches(self, folder: str) -> set[int]:
        path = self.home / "checkpoints" / folder
        return {int(p.name) for p in path.iterdir() if p.name.isdigit()} if path.is_dir() else set()

    def topic(self, name: str) -> str:
        return f"{self.name}.{name}"

    def socpipe(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "socpipe.cli", "--config", str(self.config), *args],
                              cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)

    def start(self, *command: str) -> subprocess.Popen[bytes]:
        """`socpipe run` (or another command) in its own process group, so a SIGKILL takes its JVM too."""
        command = command or ("run",)
        log = (self.home / f"{command[0]}.log").open("ab")
        return subprocess.Popen([sys.executable, "-m", "socpipe.cli", "--config", str(self.config), *command],
                                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def log_tail(self) -> str:
        return "\n".join((self.home / "run.log").read_text(errors="replace").splitlines()[-40:])

    # ---- what the stores hold ----

    def search(self) -> OpenSearch:
        return OpenSearch(self.servers.opensearch, timeout=30)

    def search_ids(self, index: str) -> list[str]:
        """Ids of every document in <name>-<index>-*, after a refresh."""
        client = self.search()
        pattern = f"{self.name}-{index}-*"
        client.indices.refresh(index=pattern, ignore_unavailable=True, allow_no_indices=True)
        return [hit["_id"] for hit in scan(client, index=pattern, query={"query": {"match_all": {}}},
                                           _source=False, ignore_unavailable=True)]

    def lake_column(self, table: str, column: str) -> list[str]:
        """One column of the lake's events or alerts table."""
        if not (self.lake / table).is_dir():
            return []
        return ds.dataset(self.lake / table, format="parquet", partitioning="hive").to_table(
            columns=[column]).column(column).to_pylist()

    def kafka_keys(self, topic: str) -> list[str]:
        consumer = KafkaConsumer(self.topic(topic), bootstrap_servers=self.servers.kafka,
                                 auto_offset_reset="earliest", consumer_timeout_ms=3000,
                                 isolation_level="read_committed")
        try:
            return [m.key.decode() for m in consumer]
        finally:
            consumer.close()


def pipeline(servers: Endpoints, home: Path, batch_records: int = 50000, restart_seconds: float = 10.0) -> Pipeline:
    name = f"t{uuid.uuid4().hex[:8]}"
    home.mkdir(parents=True, exist_ok=True)
    config = {
        "kafka": {"bootstrap_servers": servers.kafka, "topic_prefix": f"{name}."},
        "opensearch": {"url": servers.opensearch},
        "lake": {"path": str(home / "lake")},
        "run": {"checkpoint_dir": str(home / "checkpoints"), "trigger_seconds": 0.5,
                "max_records_per_batch": batch_records, "restart_seconds": restart_seconds,
                "events_index": f"{name}-events", "alerts_index": f"{name}-alerts"},
        "incidents": {"index": f"{name}-incidents"},
        "collect": {"state_dir": str(home / "collect"), "id": name},
        "registry": str(ROOT / "socpipe" / "demo" / "registry.yaml"),
        "spark": {"master": "local[2]", "conf": {"spark.driver.memory": "1g"}},
    }
    (home / "socpipe.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return Pipeline(servers, home, name)


# ---- test traffic ----

def ssh_lines(first: int, count: int) -> list[bytes]:
    """Distinct auth.log lines; every third is a failed login the starter pack alerts on."""
    lines = []
    for i in range(first, first + count):
        clock = f"{(i // 3600) % 24:02d}:{(i // 60) % 60:02d}:{i % 60:02d}"
        if i % 3 == 0:
            text = f"Failed password for invalid user u{i} from 203.0.113.{i % 250} port {20000 + i} ssh2"
        else:
            text = f"Accepted publickey for ops{i} from 10.20.{i % 200}.{i % 250} port {20000 + i} ssh2"
        lines.append(f"Nov 30 {clock} dvc-web02 sshd[{1000 + i}]: {text}".encode())
    return lines


def envelopes(lines: list[bytes], origin: str, first_line: int = 1) -> list[Envelope]:
    return [Envelope(raw, "syslog", "test", origin, f"line {n}", "2026-11-30T00:00:00+00:00", f"{origin}|{n}")
            for n, raw in enumerate(lines, first_line)]


def send(pipe: Pipeline, items: list[Envelope]) -> None:
    producer = KafkaProducer(bootstrap_servers=pipe.servers.kafka, acks="all")
    for e in items:
        producer.send(pipe.topic(e.topic), key=e.record_id.encode(), value=e.raw, headers=e.headers())
    producer.flush()
    producer.close()


def expected_alert_ids(items: list[Envelope]) -> set[str]:
    """The alert ids the batch Detector gives for these records: what the stream must store."""
    detector = Detector(load_rules([STARTER_PACK]).rules)
    ids = set()
    for e in items:
        record = parse_envelope(e)
        if isinstance(record, Event):
            row = event_row(record, None, (), None)
            ids |= {alert_id(detector.rules[i].id, row["event_id"])
                    for i in detector.match(row["kind"], dict(row["fields"]))}
    return ids


def expected_correlation_ids(items: list[Envelope], lateness: float = 60.0) -> set[str]:
    """The correlation alerts of the starter pack over these records whose first window the stream has
    judged once it saw them all: the newest event time less the lateness (layers/correlate.py)."""
    ruleset = load_rules([STARTER_PACK])
    rows = [event_row(record, None, (), None) for record in map(parse_envelope, items) if isinstance(record, Event)]
    batch = pa.RecordBatch.from_pylist(rows, schema=EVENT_SCHEMA)
    docs = [json.loads(d) for d in alert_batch(Detector(ruleset.rules), batch).column("document").to_pylist()]
    correlator = Correlator(ruleset.correlations, ruleset.rules)
    correlator.add(docs)
    newest = max(row["timestamp"] for row in rows).timestamp()
    return set(correlator.advance(newest - lateness))


def wait_for(condition: Callable[[], bool], what: str, timeout: float, pipe: Pipeline) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; run.log ends:\n{pipe.log_tail()}")
        time.sleep(0.5)


def stop(job: subprocess.Popen[bytes], kill: bool = False) -> None:
    """SIGKILL to the whole group (driver and JVM, a crash), or SIGTERM to the driver (a clean stop)."""
    if kill:
        os.killpg(job.pid, signal.SIGKILL)
    else:
        job.send_signal(signal.SIGTERM)
    try:
        job.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(job.pid, signal.SIGKILL)
        job.wait()
