"""The collectors on the real dev Kafka and real sockets: syslog (UDP, TCP, TLS), file tail, import, faults.

Each test sends under its own kafka.topic_prefix and collector id, so it reads back exactly what it sent.
"""

from __future__ import annotations

import base64
import json
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
import uuid
import zlib
from pathlib import Path
from typing import NamedTuple

import pytest
import yaml
from conftest import SIGMAHQ
from kafka import KafkaConsumer, TopicPartition

from ingest.files import read_file, walk_paths
from ingest.parsers import PARSERS, ParseError, kind_of
from ingest.producer import Producer
from ingest.spool import SPOOLED, Message, Spool, SpoolLocked
from ingest.stamp import AgencyHints
from ingest.syslog import StreamFramer, SyslogListener, tls_context
from socpipe.config import Config, load_config
from socpipe.dev import servers
from socpipe.envelope import PARSER_OF_SOURCE
from socpipe.events import DeadLetter, Event
from socpipe.kafka_client import python_options, topic

ROOT = Path(__file__).resolve().parents[1]
REGRESSION = SIGMAHQ / "regression_data"
SAMPLES = ROOT / "socpipe" / "demo" / "samples"


class Consumed(NamedTuple):
    topic: str  # without the test's prefix
    key: str
    value: bytes
    headers: dict[str, str]


def make_config(tmp_path: Path, kafka: str, name: str = "", **collect: object) -> Config:
    """A config file as a user writes it: this test's topic prefix, collector id and state folder."""
    name = name or f"t{uuid.uuid4().hex[:10]}"
    data = {"kafka": {"bootstrap_servers": kafka, "topic_prefix": f"{name}."},
            "collect": {"id": name, "state_dir": str(tmp_path / "state"), "poll_seconds": 0.1, **collect}}
    path = tmp_path / "socpipe.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return load_config(path, environ={})


def consume(config: Config, names: list[str], count: int, timeout: float = 60.0) -> list[Consumed]:
    """Everything on the test's topics (one partition each), waiting until `count` arrived, then a little
    longer so a duplicate would show."""
    prefix = topic(config, "")
    consumer = KafkaConsumer(**python_options(config), enable_auto_commit=False)
    consumer.assign([TopicPartition(prefix + name, 0) for name in names])
    consumer.seek_to_beginning()
    found: list[Consumed] = []
    deadline = time.monotonic() + timeout
    quiet_until = None
    while time.monotonic() < deadline:
        batch = consumer.poll(timeout_ms=500)
        for records in batch.values():
            found += [Consumed(r.topic.removeprefix(prefix), r.key.decode(), r.value,
                               {k: v.decode() for k, v in r.headers}) for r in records]
        if len(found) >= count:
            quiet_until = quiet_until or time.monotonic() + 1.5
            if time.monotonic() > quiet_until:
                break
    consumer.close()
    return found


def start_producer(config: Config, name: str = "spool") -> Producer:
    state = config.path("collect", "state_dir")
    assert state is not None
    return Producer(config, Spool(state / name, config.get("collect", "spool_max_bytes")))


# ---- spool (no Kafka) --------------------------------------------------------------------------------

def message(n: int, size: int = 10) -> Message:
    return Message("raw.syslog", f"id-{n}".encode(), f"{n:0{size}d}".encode(), (("origin", b"x"),))


def read_messages(spool: Spool, limit: int = 10_000) -> list[Message]:
    return [m for batch in spool.read(spool.cursor, limit) for m in batch.messages]


def test_spool_keeps_order_bound_and_survives_restart(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", max_bytes=10_000, segment_bytes=1)  # tiny segments: many files
    accepted = [n for n in range(500) if spool.append(message(n), SPOOLED if n % 2 else 0)]
    assert accepted == list(range(len(accepted))) and 50 < len(accepted) < 500  # the bound refuses the rest
    assert spool.pending_bytes <= 10_000 and spool.pending_records == len(accepted)
    with pytest.raises(SpoolLocked):
        Spool(tmp_path / "spool", max_bytes=10_000)  # one process per spool
    batches = spool.read(spool.cursor, 30)
    assert [m for b in batches for m in b.messages] == [message(n) for n in range(30)]
    assert [b.flags & SPOOLED for b in batches[:2]] == [0, SPOOLED]
    spool.ack(batches[19].end, 20)
    spool.close()

    again = Spool(tmp_path / "spool", max_bytes=10_000, segment_bytes=1)
    assert again.pending_records == len(accepted) - 20
    rest = again.read(again.cursor, 10_000)
    assert [m for b in rest for m in b.messages] == [message(n) for n in range(20, len(accepted))]
    assert again.append(message(999))  # room again after the ack
    again.ack(rest[-1].end, len(rest))
    assert read_messages(again) == [message(999)]
    again.close()
    assert len(list((tmp_path / "spool").glob("*.seg"))) <= 2  # acknowledged segments are deleted


def test_spool_batches_partial_acks_and_bound(tmp_path: Path) -> None:
    """One entry per append_all; a cursor inside an entry survives a restart; the bound takes a prefix."""
    spool = Spool(tmp_path / "spool", max_bytes=4_000)
    assert spool.append_all([message(n) for n in range(10)]) == 10
    assert spool.append_all([message(n) for n in range(10, 100)]) < 90  # only the first ones fit
    taken = spool.pending_records
    first = spool.read(spool.cursor, 1)
    assert len(first) == 1 and first[0].messages == [message(n) for n in range(10)]  # one entry, one read
    spool.ack((*first[0].start[:2], 4), 4)  # four of the ten acknowledged
    spool.close()

    again = Spool(tmp_path / "spool", max_bytes=4_000)
    assert again.pending_records == taken - 4
    assert read_messages(again) == [message(n) for n in range(4, taken)]
    rest = again.read(again.cursor, 10_000)
    assert rest[0].start == (*first[0].start[:2], 4) and rest[0].end == first[0].end
    again.ack(rest[-1].end, taken - 4)
    assert again.pending_records == 0 and again.pending_bytes == 0 and read_messages(again) == []
    again.close()


def test_spool_reads_entries_of_the_release_before_batches(tmp_path: Path) -> None:
    """Segments and cursor as the previous release left them: one message per entry, no BATCH flag."""
    def legacy(m: Message) -> bytes:
        topic = m.topic.encode()
        payload = b"".join([struct.pack("<H", len(topic)), topic, struct.pack("<I", len(m.key)), m.key,
                            struct.pack("<I", len(m.value)), m.value, struct.pack("<H", len(m.headers)),
                            *(struct.pack("<H", len(n)) + n.encode() + struct.pack("<I", len(v)) + v
                              for n, v in m.headers)])
        return struct.pack("<IIB", len(payload), zlib.crc32(payload), SPOOLED if m.key.endswith(b"1") else 0) + payload

    folder = tmp_path / "spool"
    folder.mkdir()
    entries = [legacy(message(n)) for n in range(4)]
    (folder / "000000000003.seg").write_bytes(b"".join(entries))
    (folder / "cursor").write_text(f"3 {len(entries[0])}\n")  # the first one was acknowledged
    spool = Spool(folder, max_bytes=1 << 20)
    assert spool.pending_records == 3
    assert spool.append_all([message(4), message(5)]) == 2  # new entries after the old ones
    batches = spool.read(spool.cursor, 100)
    assert [m for b in batches for m in b.messages] == [message(n) for n in range(1, 6)]
    assert [b.flags & SPOOLED for b in batches] == [SPOOLED, 0, 0, 0]
    spool.ack(batches[1].end, 2)
    spool.close()
    assert (folder / "cursor").read_text().split() == ["3", str(sum(map(len, entries[:3])))]


def test_spool_cuts_a_torn_last_entry(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", max_bytes=1 << 20)
    for n in range(3):
        spool.append(message(n))
    spool.close()
    segment = next((tmp_path / "spool").glob("*.seg"))
    segment.write_bytes(segment.read_bytes()[:-5])  # a crash in the middle of writing the last entry
    again = Spool(tmp_path / "spool", max_bytes=1 << 20)
    assert read_messages(again) == [message(0), message(1)]
    again.append(message(3))
    assert read_messages(again) == [message(0), message(1), message(3)]
    again.close()


def test_stream_framer_octet_counting_and_newlines() -> None:
    framer = StreamFramer(max_message=100)
    stream = b"<13>one\n11 <13>two\nsix<14>1 - - - - - - three\r\n\n15 <13>fo"
    found = [item for i in range(len(stream)) for item in framer.feed(stream[i : i + 1])]  # byte by byte
    assert found == [b"<13>one", b"<13>two\nsix", b"<14>1 - - - - - - three"]
    assert list(framer.feed(b"ur\n")) == []  # 15 bytes: "<13>four\n" is 9, the frame waits for 6 more
    assert list(framer.feed(b"ABCDEF")) == [b"<13>four\nABCDEF"]
    cut = list(framer.feed(b"30 <13>cut short")) + list(framer.end())
    assert len(cut) == 1 and cut[0].raw == b"30 <13>cut short" and "13 of 30 bytes" in cut[0].reason


def test_spool_bound_while_kafka_is_away_then_replay_on_next_start(dev_servers, tmp_path: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as probe:  # a port where nothing listens: connections are refused
        probe.bind(("127.0.0.1", 0))
        away = f"127.0.0.1:{probe.getsockname()[1]}"
    config = make_config(tmp_path, away, spool_max_bytes=20_000)
    producer = start_producer(config)
    accepted = [n for n in range(400) if producer.send(message(n))]
    counts = producer.close(timeout=0.5)
    assert 0 < len(accepted) < 400 and accepted == list(range(len(accepted)))
    assert counts.dropped == 400 - len(accepted) and counts.sent == 0
    assert any(r.levelname == "ERROR" and "records dropped so far" in r.getMessage() for r in caplog.records)

    # The next start, Kafka reachable: what the spool holds goes first, in order, once.
    config = make_config(tmp_path, dev_servers.kafka, name=config.get("collect", "id"), spool_max_bytes=20_000)
    producer = start_producer(config)
    assert producer.wait_drained(30)
    assert producer.send(message(1000))
    assert producer.wait_drained(30)
    counts = producer.close()
    found = consume(config, ["raw.syslog"], len(accepted) + 1)
    assert [(r.key, r.value) for r in found] == [(m.key.decode(), m.value) for m in map(message, [*accepted, 1000])]
    assert (counts.sent, counts.replayed, counts.dropped) == (len(accepted) + 1, len(accepted), 0)


# ---- syslog ------------------------------------------------------------------------------------------

def self_signed(tmp_path: Path) -> tuple[str, str]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return str(cert), str(key)


def test_syslog_udp_tcp_and_tls_reach_kafka_exactly(dev_servers, tmp_path: Path) -> None:
    config = make_config(tmp_path, dev_servers.kafka,
                         agency_hints=[{"sender": "127.0.0.0/8", "agency": "so-tttt"}])
    collector = config.get("collect", "id")
    producer = start_producer(config)
    hints = AgencyHints.from_config(config)
    cert, key = self_signed(tmp_path)
    plain = SyslogListener(producer, collector, hints, udp_port=0, tcp_port=0)
    secure = SyslogListener(producer, collector, hints, tcp_port=0, tls=tls_context(cert, key))
    rfc3164 = b"<34>Oct 11 22:14:15 mymachine su[123]: 'su root' failed for lonvick on /dev/pts/8"
    rfc5424 = (b'<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3"] '
               b"\xef\xbb\xbfAn application event")
    multiline = b"<13>1 2026-12-01T10:00:00Z web1 app 42 - - first line\nsecond line"
    sent: list[tuple[str, bytes]] = []  # (origin, bytes) in sending order
    try:
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", 0))
        for datagram in (rfc3164, rfc5424):
            udp.sendto(datagram, plain.udp.getsockname())
            sent.append((f"udp://127.0.0.1:{udp.getsockname()[1]}", datagram))
        udp.close()
        tcp = socket.create_connection(plain.tcp.getsockname())
        tcp.sendall(rfc3164 + b"\n" + f"{len(multiline)} ".encode() + multiline + rfc5424 + b"\r\n"
                    + b"<13>Oct 11 22:14:16 web1 kernel: last line without newline")
        tcp_origin = f"tcp://127.0.0.1:{tcp.getsockname()[1]}"
        tcp.close()
        sent += [(tcp_origin, rfc3164), (tcp_origin, multiline), (tcp_origin, rfc5424),
                 (tcp_origin, b"<13>Oct 11 22:14:16 web1 kernel: last line without newline")]
        client = ssl.create_default_context(cafile=cert)
        with socket.create_connection(secure.tcp.getsockname()) as raw_tls, \
                client.wrap_socket(raw_tls, server_hostname="127.0.0.1") as tls:
            tls.sendall(f"{len(multiline)} ".encode() + multiline + rfc5424 + b"\n")
            tls_origin = f"tls://127.0.0.1:{tls.getsockname()[1]}"
        sent += [(tls_origin, multiline), (tls_origin, rfc5424)]
        cut = socket.create_connection(plain.tcp.getsockname())
        cut.sendall(b"100 <13>only part of the frame")
        cut_origin = f"tcp://127.0.0.1:{cut.getsockname()[1]}"
        cut.close()
        found = consume(config, ["raw.syslog", "deadletter"], len(sent) + 1)
    finally:
        plain.stop()
        secure.stop()
        counts = producer.close()
    records = [r for r in found if r.topic == "raw.syslog"]
    by_origin: dict[str, list[bytes]] = {}
    for r in records:
        by_origin.setdefault(r.headers["origin"], []).append(r.value)
    expected: dict[str, list[bytes]] = {}
    for origin, value in sent:
        expected.setdefault(origin, []).append(value)
    assert by_origin == expected  # exact bytes, in order per sender
    for r in records:
        assert set(r.headers) == {"received_at", "collector", "source", "origin", "position", "agency"}
        assert r.headers["collector"] == collector and r.headers["source"] == "syslog"
        assert r.headers["agency"] == "so-tttt" and r.headers["position"].startswith("message ")
        assert r.key == f"{collector}|{r.key.split('|')[1]}|{r.headers['position'].split()[1]}"
        assert PARSERS["syslog"](r.value)  # every message parses as syslog in the stream
    assert len({r.key for r in records}) == len(records)
    dead = [json.loads(r.value) for r in found if r.topic == "deadletter"]
    assert len(dead) == 1 and dead[0]["origin"] == cut_origin and dead[0]["collector"] == collector
    assert base64.b64decode(dead[0]["raw_base64"]) == b"100 <13>only part of the frame"
    assert counts.sent == len(sent) + 1 and counts.dropped == 0


# ---- file tail ---------------------------------------------------------------------------------------

def syslog_lines(start: int, stop: int) -> bytes:
    return b"".join(f"Dec  1 10:00:00 web1 sshd[1]: line {n}\n".encode() for n in range(start, stop))


def start_tail(config: Config, *paths: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "socpipe.cli", "collect", "file", *map(str, paths),
                             "--config", str(config.base_dir / "socpipe.yaml")],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def stop_tail(process: subprocess.Popen) -> str:
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err[-3000:]
    return err


def test_file_tail_restart_and_rotation_lose_and_repeat_nothing(dev_servers, tmp_path: Path) -> None:
    config = make_config(tmp_path, dev_servers.kafka, agency_hints=[{"path": "logs/*", "agency": "so-yte"}])
    logs = tmp_path / "logs"
    logs.mkdir()
    auth, events = logs / "auth.log", logs / "events.jsonl"
    auth.write_bytes(syslog_lines(0, 100))
    events.write_bytes(b'{"Event": {"System": {"EventID": 1, "Channel": "Sysmon"}}}\n')
    wanted = 101

    tail = start_tail(config, auth, events)
    consume(config, ["raw.syslog"], 100)
    with auth.open("ab") as log:
        log.write(syslog_lines(100, 150) + b"Dec  1 10:00:00 web1 sshd[1]: partial line ")
    wanted += 50
    found = consume(config, ["raw.syslog"], 150, timeout=30)
    assert len(found) == 150  # the partial line waits for its newline
    err = stop_tail(tail)
    assert "sent 151, spooled 0, replayed 0, dropped 0" in err

    # While it is down: the partial line completed, more lines, then a rename rotation.
    with auth.open("ab") as log:
        log.write(b"completed\n" + syslog_lines(151, 200))
    auth.rename(logs / "auth.log.0")
    auth.write_bytes(syslog_lines(200, 215))
    with events.open("ab") as log:
        log.write(b'{"Event": {"System": {"EventID": 4688, "Channel": "Security"}}}\n')
    wanted += 66
    tail = start_tail(config, auth, events)
    consume(config, ["raw.syslog", "raw.windows"], wanted, timeout=30)

    # Rename rotation while it runs: the last lines of the old file still come, then the new file.
    with auth.open("ab") as log:
        log.write(syslog_lines(215, 230))
    auth.rename(logs / "auth.log.1")
    auth.write_bytes(syslog_lines(230, 260))
    wanted += 45
    consume(config, ["raw.syslog", "raw.windows"], wanted, timeout=30)

    # copytruncate: copy, truncate in place, the writer goes on at the start.
    shutil.copyfile(auth, logs / "auth.log.2")
    with auth.open("r+b") as log:
        log.truncate(0)
    auth.write_bytes(syslog_lines(260, 270))
    wanted += 10
    found = consume(config, ["raw.syslog", "raw.windows"], wanted, timeout=30)
    stop_tail(tail)

    syslog = [r for r in found if r.topic == "raw.syslog"]
    expected = syslog_lines(0, 270).splitlines()
    expected[150] = b"Dec  1 10:00:00 web1 sshd[1]: partial line completed"
    assert [r.value for r in syslog] == expected  # each line once, in order
    assert len({r.key for r in found}) == len(found) == wanted
    assert {r.headers["origin"] for r in syslog} == {str(auth)}
    assert {r.headers["agency"] for r in found} == {"so-yte"}
    assert syslog[0].headers["position"] == "line 1" and syslog[-1].headers["position"] == "line 10"
    windows = [r for r in found if r.topic == "raw.windows"]
    assert [PARSERS["evtx_json"](r.value)["EventID"] for r in windows] == ["1", "4688"]
    assert [r.headers["position"] for r in windows] == ["line 1", "line 2"]


# ---- import: the stream parses exactly what the batch reader parses ----------------------------------

def test_import_gives_the_batch_fields_and_dead_letters(dev_servers, tmp_path: Path) -> None:
    config = make_config(tmp_path, dev_servers.kafka)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "bad.json").write_bytes(b'{"EventID": 1, "Image": "a.exe"}\n{"EventID": 2, "Image": \n'
                                      b'{"EventID": 3}\n[1, 2]\n')
    seven = next(REGRESSION.rglob("efc21479-9e83-41da-8cf1-122e06ba8db3.evtx"))
    data = bytearray(seven.read_bytes())
    data[4096 + 512 + 40 : 4096 + 512 + 60] = b"\xff" * 20  # damage the first record of the chunk
    (broken / "damaged.evtx").write_bytes(bytes(data))
    (broken / "cut.evtx").write_bytes(seven.read_bytes()[: 4096 + 3000])
    inputs = [REGRESSION, SAMPLES, broken]

    done = subprocess.run([sys.executable, "-m", "socpipe.cli", "collect", "import", *map(str, inputs),
                           "--config", str(tmp_path / "socpipe.yaml")],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    queued = {line.split()[0]: int(line.split()[1]) for line in done.stdout.splitlines()[:-1]}
    found = consume(config, sorted(queued), sum(queued.values()), timeout=120)  # every topic it wrote to
    assert len(found) == sum(queued.values())
    by_place = {}
    for r in found:
        if r.topic == "deadletter":
            doc = json.loads(r.value)
            by_place[(doc["origin"], doc["position"])] = r
        else:
            by_place[(r.headers["origin"], r.headers["position"])] = r
    assert len(by_place) == len(found)

    events = batch_dead = 0
    for path in walk_paths(inputs):  # everything the import read, .yml files too (unknown format)
        for record in read_file(path.absolute()):
            if isinstance(record, Event):
                origin, position = record.origin.rsplit(":", 1)
                sent = by_place.pop((origin, position))
                fields = PARSERS[PARSER_OF_SOURCE[sent.topic.removeprefix("raw.")]](sent.value)
                assert fields == record.fields, (origin, position)
                assert kind_of(PARSER_OF_SOURCE[sent.topic.removeprefix("raw.")], fields) == record.kind
                events += 1
                continue
            assert isinstance(record, DeadLetter)
            batch_dead += 1
            sent = by_place.pop((record.origin, record.position))
            if sent.topic == "deadletter":  # the collector could not frame it: the same dead letter
                doc = json.loads(sent.value)
                assert doc["reason"] == record.reason and base64.b64decode(doc["raw_base64"]) == record.raw
            else:  # framed but unparseable: the stream's parser refuses it for the same reason
                with pytest.raises(ParseError) as refused:
                    PARSERS[PARSER_OF_SOURCE[sent.topic.removeprefix("raw.")]](sent.value)
                assert refused.value.reason == record.reason and sent.value == record.raw
    assert by_place == {}  # nothing sent that the batch reader does not read
    assert events > 4500 and batch_dead >= 4
    dead = [json.loads(r.value) for r in found if r.topic == "deadletter"]
    assert {Path(d["origin"]).name for d in dead} >= {"bad.json", "damaged.evtx", "cut.evtx"}
    print(f"import contract: {events} events identical to the batch reader, {batch_dead} batch dead letters "
          f"({len(dead)} on the deadletter topic)")


# ---- fault: Kafka stops and comes back mid-stream ----------------------------------------------------

def test_kafka_outage_mid_stream_loses_and_repeats_nothing(dev_servers, dev_state_dir, tmp_path: Path) -> None:
    config = make_config(tmp_path, dev_servers.kafka)
    collector = config.get("collect", "id")
    producer = start_producer(config)
    listener = SyslogListener(producer, collector, AgencyHints(), tcp_port=0, udp_port=None)
    total, senders = 3000, 3
    progress = [0] * senders
    resumed = threading.Event()

    def send(index: int) -> None:
        with socket.create_connection(listener.tcp.getsockname()) as connection:
            for n in range(total // senders):
                if n == 2 * total // senders // 3:
                    resumed.wait()  # the last third after Kafka is back, behind what the spool holds
                line = f"<13>Dec  1 10:00:00 host{index} app: sender {index} message {n}"
                connection.sendall(f"{len(line)} {line}".encode())
                progress[index] = n
                time.sleep(0.004)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(senders)]
    try:
        for thread in threads:
            thread.start()
        while min(progress) < 100:
            time.sleep(0.05)
        servers.stop_server(dev_state_dir, "kafka")
        stopped_at = sum(progress)
        time.sleep(2.0)
        servers.resume_server(dev_state_dir, "kafka")
        resumed_at = sum(progress)
        resumed.set()
        for thread in threads:
            thread.join()
        found = consume(config, ["raw.syslog"], total, timeout=120)
    finally:
        listener.stop()
        counts = producer.close()
    print(f"fault test: {total} messages, Kafka stopped after ~{stopped_at} and back after ~{resumed_at}; "
          f"producer counts: {counts.line()}; consumed {len(found)}")
    assert len(found) == total and len({r.key for r in found}) == total
    per_origin: dict[str, list[bytes]] = {}
    for r in found:
        per_origin.setdefault(r.headers["origin"], []).append(r.value)
    assert sorted(v for values in per_origin.values() for v in values) == sorted(
        f"<13>Dec  1 10:00:00 host{i} app: sender {i} message {n}".encode()
        for i in range(senders) for n in range(total // senders))
    for values in per_origin.values():  # in order per sender
        assert [int(v.rsplit(b" ", 1)[1]) for v in values] == list(range(total // senders))
    assert counts.spooled > 0 and counts.replayed == counts.spooled and counts.dropped == 0
