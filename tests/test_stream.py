"""`socpipe run` on the real servers: Kafka raw.* -> Spark Structured Streaming -> OpenSearch, Kafka, lake.

Every test counts what each store holds against what was sent: events in the lake and in events-*,
alert ids in alerts-* and on the alerts topic, each exactly once, also across a SIGKILL of the job and
a restart of OpenSearch.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pyarrow as pa
import pytest
from conftest import ROOT, SIGMAHQ
from kafka import KafkaConsumer
from stream_harness import (
    envelopes,
    expected_alert_ids,
    expected_correlation_ids,
    pipeline,
    send,
    ssh_lines,
    stop,
    wait_for,
)

from layers import stream
from layers.stream import EventSink, ParseSettings
from rules.compiler import load_rules
from socpipe import search
from socpipe.config import STARTER_PACK, load_config
from socpipe.dev import servers
from socpipe.search import document_id


def _assert_exactly(pipe, items, alert_ids, correlation_ids=frozenset()) -> None:
    """Every event and alert once in every store; a correlation alert may be sent to Kafka again as its
    episode grows (a newer version under the same key), never as a second alert."""
    origins = pipe.lake_column("events", "origin")
    assert len(origins) == len(items), Counter(origins).most_common(3)
    assert set(origins) == {f"{e.origin}:{e.position}" for e in items}
    event_ids = pipe.search_ids("events")
    assert sorted(event_ids) == sorted(e.record_id for e in items)
    everything = alert_ids | correlation_ids
    assert set(pipe.search_ids("alerts")) == everything
    lake_alerts = pipe.lake_column("alerts", "alert_id")
    assert len(lake_alerts) == len(everything) and set(lake_alerts) == everything
    keys = pipe.kafka_keys("alerts")
    single = [k for k in keys if k not in correlation_ids]
    assert len(single) == len(alert_ids) and set(keys) == everything  # the alerts topic: each alert once
    print(f"{len(items)} events and {len(alert_ids)} alerts ({len(correlation_ids)} correlation alerts), each "
          "exactly once in the lake, OpenSearch and Kafka alerts")


def test_stream_writes_events_alerts_and_dead_letters(dev_servers, tmp_path):
    pipe = pipeline(dev_servers, tmp_path)
    items = envelopes(ssh_lines(0, 300), "/var/log/auth.log")
    bad = envelopes([b"\xff\xfe<13>not a syslog line"], "/var/log/broken.log")
    send(pipe, items + bad)
    done = pipe.socpipe("run", "--once")
    assert done.returncode == 0, done.stderr[-3000:]
    alert_ids = expected_alert_ids(items)
    assert len(alert_ids) == 100
    _assert_exactly(pipe, items, alert_ids)

    alert = pipe.search().search(index=f"{pipe.name}-alerts-*", body={"query": {"match_all": {}}, "size": 1})
    doc = alert["hits"]["hits"][0]["_source"]
    assert doc["rule"]["level"] == "low" and doc["agency"]["id"] and "Failed password" in doc["event"]["message"]
    # The flat_object mapping lets analysts search native fields by path.
    hits = pipe.search().count(index=f"{pipe.name}-events-*", body={"query": {"term": {"event.program": "sshd"}}})
    assert hits["count"] == len(items)

    consumer = KafkaConsumer(pipe.topic("deadletter"), bootstrap_servers=dev_servers.kafka,
                             auto_offset_reset="earliest", consumer_timeout_ms=3000)
    dead = [json.loads(m.value) for m in consumer]
    consumer.close()
    assert len(dead) == 1
    assert dead[0]["origin"] == "/var/log/broken.log" and dead[0]["position"] == "line 1"
    assert dead[0]["reason"] and dead[0]["raw_base64"] == "//48MTM+bm90IGEgc3lzbG9nIGxpbmU="

    again = pipe.socpipe("run", "--once")  # nothing new: a second run adds nothing anywhere
    assert again.returncode == 0, again.stderr[-3000:]
    _assert_exactly(pipe, items, alert_ids)


def test_sigkill_mid_stream_then_restart_loses_and_duplicates_nothing(dev_servers, tmp_path):
    pipe = pipeline(dev_servers, tmp_path, batch_records=400)  # many small batches: the kill lands mid-stream
    # One address guesses a password every 10 s the whole time: SSH guessing (20 in 10 min) fires in one
    # episode whose windows span the kill, and must be one alert in every store.
    lines = []
    for n, line in enumerate(ssh_lines(0, 6000)):
        lines.append(line)
        if n % 10 == 0:
            lines.append(line.split(b" sshd[")[0] + b" sshd[99]: Failed password for root from 198.51.100.66 "
                         b"port 40000 ssh2")
    items = envelopes(lines, "/var/log/auth.log")
    correlation_ids = expected_correlation_ids(items)
    assert len(correlation_ids) == 1
    job = pipe.start()
    try:
        for first in range(0, 3000, 500):
            send(pipe, items[first:first + 500])
        wait_for(lambda: len(pipe.finished_batches) >= 2, "two finished batches", 180, pipe)
        send(pipe, items[3000:4500])
        # Kill while a batch is in flight: planned by Spark, its sinks not all done.
        wait_for(lambda: len(pipe.started_batches - pipe.finished_batches) > 0, "a batch in flight", 60, pipe)
        stop(job, kill=True)  # the driver and its JVM die, whatever they were doing
        in_flight = pipe.started_batches - pipe.finished_batches
        send(pipe, items[4500:])
        job = pipe.start()
        wait_for(lambda: len(pipe.search_ids("events")) == len(items), "every event searchable", 240, pipe)
    finally:
        stop(job)
    assert in_flight and in_flight <= pipe.finished_batches  # the interrupted batch was redone
    _assert_exactly(pipe, items, expected_alert_ids(items) - correlation_ids, correlation_ids)


def test_search_store_restart_while_alerts_flow(dev_servers, dev_state_dir, tmp_path):
    pipe = pipeline(dev_servers, tmp_path)
    items = envelopes(ssh_lines(10000, 3000), "/var/log/secure")
    job = pipe.start()
    try:
        send(pipe, items[:1000])
        wait_for(lambda: len(pipe.search_ids("alerts")) > 0, "first alerts", 180, pipe)
        servers.stop_server(dev_state_dir, "opensearch")
        send(pipe, items[1000:2000])
        servers.resume_server(dev_state_dir, "opensearch")
        send(pipe, items[2000:])
        wait_for(lambda: len(pipe.search_ids("events")) == len(items), "every event searchable", 240, pipe)
    finally:
        stop(job)
    _assert_exactly(pipe, items, expected_alert_ids(items))


def test_stream_equals_batch(dev_servers, tmp_path):
    """The same files through `collect import` + `run` and through `detect` give the same alert ids."""
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for sample in sorted((ROOT / "socpipe" / "demo" / "samples").glob("*.[lj]*")):
        shutil.copy(sample, inputs / sample.name)
    regression = SIGMAHQ / "regression_data" / "rules" / "windows"
    for n, sample in enumerate(sorted(regression.glob("process_creation/*/*.evtx"))[:25]):
        shutil.copy(sample, inputs / f"{n:02d}-{sample.name}")
    (inputs / "broken.jsonl").write_bytes(b'{"EventID": 1, "Image": "C:\\\\x.exe"}\n{"EventID": \n')
    rules = [str(ROOT / "rules" / "starter"), str(SIGMAHQ / "rules" / "windows" / "process_creation")]
    pipe = pipeline(dev_servers, tmp_path / "pipe")

    batch = pipe.socpipe("detect", "--rules", *rules, "--input", str(inputs), "--out", str(tmp_path / "batch"))
    assert batch.returncode == 0, batch.stderr[-3000:]
    imported = pipe.socpipe("collect", "import", str(inputs))
    assert imported.returncode == 0, imported.stderr[-3000:]
    streamed = pipe.socpipe("run", "--once", "--rules", *rules)
    assert streamed.returncode == 0, streamed.stderr[-3000:]

    batch_alerts = {json.loads(line)["alert_id"] for line in (tmp_path / "batch" / "alerts.jsonl").open()}
    assert len(batch_alerts) > 700
    assert set(pipe.search_ids("alerts")) == batch_alerts
    batch_events = int(re.search(r"events read\s+([\d,]+)", batch.stdout).group(1).replace(",", ""))
    assert len(pipe.lake_column("events", "origin")) == len(pipe.search_ids("events")) == batch_events
    batch_dead = (tmp_path / "batch" / "deadletter.jsonl").read_text().splitlines()
    assert len(batch_dead) == len(pipe.kafka_keys("deadletter")) >= 1
    print(f"stream equals batch: {batch_events} events, {len(batch_alerts)} alert ids, {len(batch_dead)} dead letters")


def test_kafka_restart_while_a_collector_sends_and_the_job_runs(dev_servers, dev_state_dir, tmp_path):
    """Fault (a) end to end: Kafka stops and comes back while a syslog collector receives lines and the
    job runs; the collector spools, the job's query restarts from its checkpoint, and every store ends
    with every event and alert exactly once."""
    pipe = pipeline(dev_servers, tmp_path, restart_seconds=2)
    lines = ssh_lines(20000, 3000)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    collector = pipe.start("collect", "syslog", "--tcp", str(port))
    job = pipe.start()
    try:
        wait_for(lambda: _listening(port), "the collector", 60, pipe)
        with socket.create_connection(("127.0.0.1", port)) as connection:
            for part, (first, last) in enumerate(((0, 1000), (1000, 2000), (2000, 3000))):
                for line in lines[first:last]:
                    connection.sendall(line + b"\n")
                    time.sleep(0.001)
                if part == 0:
                    wait_for(lambda: len(pipe.search_ids("events")) > 0, "first events", 180, pipe)
                    servers.stop_server(dev_state_dir, "kafka")
                elif part == 1:
                    time.sleep(3)  # the collector spools, the job's query fails and waits
                    servers.resume_server(dev_state_dir, "kafka")
        wait_for(lambda: len(pipe.search_ids("events")) == len(lines), "every event searchable", 300, pipe)
    finally:
        stop(collector)
        stop(job)
    messages = pipe.lake_column("events", "origin")
    assert len(messages) == len(set(messages)) == len(lines)  # "tcp://...:message N", each once
    alert_ids = expected_alert_ids(envelopes(lines, "any"))
    assert len(alert_ids) == 1000
    assert set(pipe.search_ids("alerts")) == alert_ids
    lake_alerts = pipe.lake_column("alerts", "alert_id")
    assert len(lake_alerts) == len(alert_ids) and set(lake_alerts) == alert_ids
    keys = pipe.kafka_keys("alerts")
    assert len(keys) == len(alert_ids) and set(keys) == alert_ids
    print(f"kafka restart: {len(lines)} events, {len(alert_ids)} alerts, each once in every store; "
          + (tmp_path / "collect.log").read_text().strip().splitlines()[-1].split(": ", 1)[-1])


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


@pytest.mark.slow
def test_a_task_redone_rewrites_its_lake_part_and_search_documents(dev_servers, tmp_path):
    """A task of a micro-batch run twice (a retried task, a batch redone after a crash): the same lake
    files and search documents, none added; only alerts, dead letters and the summary reach the driver.
    A crashed run cut into other tasks (other cores) leaves files the redone batch's driver deletes."""
    pipe = pipeline(dev_servers, tmp_path)
    ruleset = load_rules([STARTER_PACK])
    items = envelopes([*ssh_lines(0, 30), b"\xff\xfe<13>not a syslog line"], "/var/log/auth.log")
    records = pa.RecordBatch.from_pylist(
        [{"key": e.record_id.encode(), "value": e.raw, "topic": pipe.topic(e.topic),
          "headers": [{"key": k, "value": v} for k, v in e.headers()], "timestamp": datetime.now(UTC),
          "partition": 0, "offset": 100 + n} for n, e in enumerate(items)],
        schema=pa.schema([("key", pa.binary()), ("value", pa.binary()), ("topic", pa.string()),
                          ("headers", pa.list_(pa.struct([("key", pa.string()), ("value", pa.binary())]))),
                          ("timestamp", pa.timestamp("us", tz="UTC")), ("partition", pa.int32()),
                          ("offset", pa.int64())]))
    config = load_config(pipe.config)
    sink = EventSink.of(config, "redo-test")
    settings = ParseSettings(None, (), None, f"{pipe.name}.")
    shipped = SimpleNamespace(value=ruleset.rules), SimpleNamespace(value=settings)  # as broadcasts are read
    search.ensure_templates(search.client(config), {"events": sink.prefix}, 0)
    list(stream._task_results("redo-test", *shipped, None, sink, 7, iter([records.slice(15)])))  # cut at 115
    runs = [pa.Table.from_batches(list(stream._task_results("redo-test", *shipped, None, sink, 7, iter([records]))))
            for _ in range(2)]
    rows = runs[1].to_pylist()
    sent = [[r for r in run.to_pylist() if r["row"] != stream.SUMMARY] for run in runs]
    assert sent[0] == sent[1]
    summary = json.loads(next(r["document"] for r in rows if r["row"] == stream.SUMMARY))
    assert summary["events"] == 30 and summary["files"]
    part = f"stream-0000000007-{pipe.topic('raw.syslog')}-0-100-"  # batch, topic, partition, first offset
    assert all(Path(f).name.startswith(part) for f in summary["files"])
    assert len(pipe.lake_column("events", "origin")) == 30 + 15
    stream.drop_stale_parts(pipe.lake / "events", 7, [Path(f) for f in summary["files"]])
    assert sorted(p.name for p in pipe.lake.rglob("*.parquet")) == sorted(Path(f).name for f in summary["files"])
    assert not list((pipe.lake / "events").glob("_staging-*"))
    assert len(pipe.lake_column("events", "origin")) == 30
    assert sorted(pipe.search_ids("events")) == sorted(e.record_id for e in items[:30])
    assert {r["doc_id"] for r in rows if r["row"] == stream.ALERT} == expected_alert_ids(items[:30])
    assert Counter(r["row"] for r in rows if r["row"] != stream.ALERT) == {stream.DEAD: 1, stream.SUMMARY: 1}


def test_long_record_ids_become_hashed_document_ids():
    assert document_id("c|/var/log/auth.log|1:2|0|line 7") == "c|/var/log/auth.log|1:2|0|line 7"
    long = "c|/" + "very-deep/" * 60 + "a.log|1:2|0|line 7"
    assert document_id(long).startswith("sha256:") and document_id(long) == document_id(long)
    assert document_id(long) != document_id(long + "8")
