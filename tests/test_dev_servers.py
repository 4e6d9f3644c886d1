"""`socpipe dev up | down | status` against the real servers: Kafka 4 (KRaft) and OpenSearch 2.19."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer
from opensearchpy import OpenSearch

from socpipe.dev import process, servers


def test_kafka_round_trip_preserves_bytes(dev_servers: servers.Endpoints) -> None:
    topic = f"raw.test-{uuid.uuid4().hex[:8]}"
    payload = bytes(range(256)) + "Sở Thông tin\r\n".encode()  # every byte value, plus UTF-8 and CRLF
    producer = KafkaProducer(bootstrap_servers=dev_servers.kafka)
    producer.send(topic, key=b"\x00key", value=payload).get(timeout=30)
    producer.close()
    consumer = KafkaConsumer(topic, bootstrap_servers=dev_servers.kafka, auto_offset_reset="earliest",
                             consumer_timeout_ms=30000)
    try:
        record = next(iter(consumer))
    finally:
        consumer.close()
    assert (record.key, record.value) == (b"\x00key", payload)


def test_opensearch_index_and_search(dev_servers: servers.Endpoints) -> None:
    client = OpenSearch(dev_servers.opensearch)
    doc = {"@timestamp": "2026-01-01T00:00:00Z", "host.name": "web-01", "message": "failed password for root"}
    client.index(index="events-test", id="1", body=doc, refresh=True)
    hits = client.search(index="events-test", body={"query": {"match": {"message": "password"}}})["hits"]["hits"]
    assert [h["_source"] for h in hits] == [doc]


def test_status_prints_both_endpoints(dev_servers: servers.Endpoints, dev_state_dir: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert servers.run("status", dev_state_dir) == 0
    assert capsys.readouterr().out.splitlines() == [f"kafka {dev_servers.kafka}",
                                                     f"opensearch {dev_servers.opensearch}"]
    assert dev_servers.kafka.startswith("127.0.0.1:") and dev_servers.opensearch.startswith("http://127.0.0.1:")


def test_up_then_down_leaves_no_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """Its own pair, so stopping it cannot disturb the session's servers."""
    monkeypatch.chdir(tmp_path)
    state_dir = tmp_path / "state"
    assert servers.run("up", state_dir) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ["kafka", "opensearch"]
    written = (tmp_path / ".socpipe" / "dev.yaml").read_text(encoding="utf-8")
    assert lines[0].split()[1] in written and lines[1].split()[1] in written
    started = servers.pids(state_dir)
    assert all(started.values())

    assert servers.run("down", state_dir) == 0
    for pid in started.values():
        assert pid is not None and not process.alive(pid)
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert not list(state_dir.glob("*/*.pid"))
    capsys.readouterr()
    assert servers.run("status", state_dir) == 1
    assert capsys.readouterr().out.splitlines() == ["kafka down", "opensearch down"]


def test_a_stopped_server_resumes_with_its_data(dev_servers: servers.Endpoints, dev_state_dir: Path) -> None:
    producer = KafkaProducer(bootstrap_servers=dev_servers.kafka)
    producer.send("resume-check", b"kept").get(timeout=30)
    producer.close()
    servers.stop_server(dev_state_dir, "kafka")
    assert servers.status(dev_state_dir)["kafka"] is None
    servers.resume_server(dev_state_dir, "kafka")
    consumer = KafkaConsumer("resume-check", bootstrap_servers=dev_servers.kafka, auto_offset_reset="earliest",
                             consumer_timeout_ms=20000)
    assert [m.value for m in consumer][:1] == [b"kept"]
    consumer.close()
