"""Network sensor logs: Suricata EVE JSON and Zeek JSON and TSV logs (small realistic samples in
tests/data/network) read by the batch reader, `collect import` and the streaming parser alike, each record to
its own kind, native field names kept, ECS context and the generic Sigma names added."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from test_collectors import consume, make_config

from enrich.normalise import event_time
from ingest.files import frame_file, read_file, read_paths
from ingest.frame import Frame
from layers.stream import parse_envelope
from socpipe.envelope import Envelope
from socpipe.events import DeadLetter, Event

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "tests" / "data" / "network"


def _events(name: str) -> list[Event]:
    records = list(read_file(SAMPLES / name))
    assert not [r for r in records if isinstance(r, DeadLetter)]
    return records  # type: ignore[return-value]


def test_each_record_gets_its_own_kind() -> None:
    kinds = Counter(e.kind for e in read_paths([SAMPLES]) if isinstance(e, Event))
    assert kinds == {"suricata_alert": 1, "suricata_flow": 1, "suricata_dns": 2, "suricata_http": 1,
                     "suricata_tls": 1, "suricata_fileinfo": 1, "zeek_conn": 6, "zeek_dns": 3, "zeek_http": 3,
                     "zeek_ssl": 1, "zeek_files": 1, "zeek_notice": 1}


def test_suricata_native_names_ecs_and_sigma_names() -> None:
    alert, flow, dns2, dns3, http, tls, fileinfo = _events("eve.json")
    assert alert.fields["alert.signature_id"] == "2024217" and alert.fields["alert.severity"] == "1"
    assert alert.fields["alert.metadata.attack_target"] == "Web_Server"
    assert (alert.fields["source.ip"], alert.fields["destination.ip"], alert.fields["destination.port"]) == (
        "203.0.113.45", "10.20.1.15", "80")
    assert flow.fields["network.transport"] == "tcp"
    assert flow.fields["network.bytes"] == str(1783 + 2305)  # Suricata counts whole frames
    assert flow.fields["network.packets"] == "11"
    assert (dns2.fields["dns.rrname"], dns2.fields["query"], dns2.fields["record_type"]) == (
        "pool.supportxmr.com", "pool.supportxmr.com", "A")
    assert dns2.fields["answer"] == "141.94.96.144\n141.94.96.71"
    assert (dns3.fields["query"], dns3.fields["record_type"]) == ("update.sysinfo-cdn.top", "TXT")  # EVE v3
    assert http.fields["http.url"] == "/files/invoice_0314.exe?dl=1"
    assert (http.fields["c-uri"], http.fields["cs-host"], http.fields["cs-method"], http.fields["c-useragent"],
            http.fields["sc-status"], http.fields["c-uri-extension"], http.fields["c-uri-query"]) == (
        "/files/invoice_0314.exe?dl=1", "cdn-update.example.top", "GET", "Microsoft-CryptoAPI/10.0", "200", "exe",
        "dl=1")
    assert tls.fields["tls.sni"] == "cdn.example.top" and tls.fields["tls.ja3.hash"].startswith("72a589")
    assert fileinfo.fields["fileinfo.sha256"].startswith("9d1e7c") and fileinfo.fields["dst_ip"] == "10.20.4.31"
    assert event_time(alert.kind, alert.fields).isoformat() == "2026-03-13T19:00:01.104512+00:00"


def test_zeek_native_names_ecs_and_sigma_names() -> None:
    conn = _events("conn.log")[0].fields
    assert (conn["id.orig_h"], conn["id.resp_p"], conn["conn_state"]) == ("203.0.113.45", "80", "SF")
    assert (conn["source.ip"], conn["destination.ip"], conn["destination.port"], conn["network.transport"]) == (
        "203.0.113.45", "10.20.1.15", "80", "tcp")
    assert (conn["src_ip"], conn["dst_ip"], conn["dst_port"]) == ("203.0.113.45", "10.20.1.15", "80")
    assert conn["network.bytes"] == str(1783 + 2305) and conn["network.packets"] == "11"  # IP bytes
    assert conn["@timestamp"] == "2026-03-14T02:00:00.981032+00:00"
    dns = _events("dns.log")[0].fields
    assert (dns["query"], dns["answer"], dns["record_type"]) == ("pool.supportxmr.com", "141.94.96.144\n141.94.96.71",
                                                                 "A")
    put = _events("http.log")[1].fields
    assert (put["method"], put["cs-method"], put["user_agent"], put["c-uri"]) == (
        "PUT", "PUT", "Microsoft-WebDAV-MiniRedir/10.0.19045", "/share/q1-budget.xlsx")
    (ssl,) = _events("ssl.log")
    assert ssl.fields["server_name"] == "cdn.example.top" and "c-uri" not in ssl.fields
    (files,) = _events("files.log")
    assert files.fields["md5"] == "4f3c9a2b7d1e6f8a0b5c3d2e1f4a6b7c"
    (notice,) = _events("notice.log")
    assert notice.fields["note"] == "Scan::Port_Scan"
    event = next(read_file(SAMPLES / "conn.log"))
    assert event_time(event.kind, event.fields).timestamp() == pytest.approx(1773453600.981032)


def test_zeek_tsv_reads_as_zeek_json() -> None:
    tsv, json_ = _events("conn.tsv.log"), _events("conn.log")
    assert [e.kind for e in tsv] == ["zeek_conn"] * 3
    for a, b in zip(tsv, json_, strict=True):
        fields = {k: v for k, v in a.fields.items() if k not in ("_path", "tunnel_parents")}
        assert fields == b.fields
    assert tsv[0].fields["_path"] == "conn" and "service" not in tsv[1].fields  # "-" is unset


def test_stream_parses_what_import_sends_as_the_batch_reader_does() -> None:
    topics = Counter()
    for path in sorted(SAMPLES.iterdir()):
        batch = list(read_file(path))
        frames = [f for f in frame_file(path) if isinstance(f, Frame)]
        streamed = [parse_envelope(Envelope(f.raw, f.source, "test", str(path), f.position, "", f"{path}|{n}"))
                    for n, f in enumerate(frames)]
        assert [(e.kind, e.fields) for e in streamed] == [(e.kind, e.fields) for e in batch]
        topics.update(f"raw.{f.source}" for f in frames)
    assert topics == {"raw.suricata": 7, "raw.zeek": 15}


def test_bad_sensor_records_are_dead_letters(tmp_path: Path) -> None:
    eve = tmp_path / "eve.json"
    eve.write_bytes(b'{"timestamp": "2026-03-14T02:00:00+0700", "event_type": "dns", "dns": {"rrname": "a.vn"}}\n'
                    b'{"timestamp": "2026-03-14T02:00:01+0700", "src_ip": "10.0.0.1"}\n[1, 2]\n')
    records = list(read_file(eve))
    assert [type(r).__name__ for r in records] == ["Event", "DeadLetter", "DeadLetter"]
    assert "no event_type" in records[1].reason
    tsv = tmp_path / "conn.log"
    lines = (SAMPLES / "conn.tsv.log").read_bytes().splitlines(keepends=True)
    tsv.write_bytes(b"".join(lines[:9]) + b"1773453600.0\tCx\t10.0.0.1\n" + b"".join(lines[9:]))
    records = list(read_file(tsv))
    assert [type(r).__name__ for r in records] == ["Event", "DeadLetter", "Event", "Event"]
    assert records[1].reason == "3 values for 21 #fields" and records[1].raw == b"1773453600.0\tCx\t10.0.0.1"


@pytest.mark.slow
def test_collect_import_sends_sensor_logs_to_their_topics(dev_servers, tmp_path: Path) -> None:
    config = make_config(tmp_path, dev_servers.kafka)
    done = subprocess.run([sys.executable, "-m", "socpipe.cli", "--config", str(tmp_path / "socpipe.yaml"), "collect",
                           "import", str(SAMPLES)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "raw.suricata 7" in done.stdout and "raw.zeek 15" in done.stdout
    found = consume(config, ["raw.suricata", "raw.zeek"], 22)
    assert Counter(c.topic for c in found) == {"raw.suricata": 7, "raw.zeek": 15}
    kinds = Counter(parse_envelope(Envelope.from_message(c.topic, c.key.encode(), c.value, [
        (k, v.encode()) for k, v in c.headers.items()])).kind for c in found)
    assert kinds["zeek_conn"] == 6 and kinds["suricata_dns"] == 2


def test_a_record_from_outside_belongs_to_the_agency_it_reached():
    from enrich.normalise import context
    from socpipe.demo import REGISTRY
    from socpipe.registry import Registry

    registry = Registry.load(REGISTRY)
    inbound = Event({"source.ip": "203.0.113.9", "destination.ip": "10.10.10.21", "destination.port": "22"}, "zeek")
    outbound = Event({"source.ip": "10.10.10.21", "destination.ip": "10.10.20.5"}, "zeek")
    outside = Event({"source.ip": "203.0.113.9", "destination.ip": "198.51.100.1"}, "zeek")
    assert (context(inbound, registry).agency_id, context(inbound, registry).system_id) == ("vp-ubnd", "dvc-portal")
    assert context(outbound, registry).system_id == "dvc-portal"  # its own source first
    assert context(outside, registry).agency_id is None
