"""Stream equals batch for packet captures: `socpipe collect import` of a pcapng and a truncated pcap into the
dev Kafka, then `socpipe run --once`, gives the events and alerts that `socpipe detect --input` gives on the
same files, and the truncated capture's dead letter on both paths."""

from __future__ import annotations

import base64
import json
from collections import Counter
from pathlib import Path

import pytest
from conftest import SIGMAHQ
from test_pcap import _conns

from ingest.files import read_paths
from socpipe.dev.capture import Capture
from socpipe.events import DeadLetter, Event

pytestmark = pytest.mark.slow


def _attacks(folder: Path) -> Path:
    """A pcapng of planted network attacks and ordinary traffic, and a cut copy of it as classic pcap."""
    capture = Capture()
    capture.dns("10.20.4.31", "10.20.0.2", 53127, "pool.supportxmr.com", 41251, ["141.94.96.144"])
    capture.dns("10.20.4.32", "10.20.0.2", 53140, "hcm.ankhanh.gov.vn", 7001, ["10.20.1.15"])
    capture.tcp_session("10.20.4.31", "198.51.100.80", 49822, 80, [
        b"GET /files/invoice_0314.exe HTTP/1.1\r\nHost: cdn-update.e", b"xample.top\r\nUser-Agent: curl/8.5\r\n\r\n"],
        b"HTTP/1.1 200 OK\r\n\r\n")
    capture.tcp_session("10.20.4.33", "198.51.100.99", 50422, 80, [
        b"PUT /share/q1-budget.xlsx HTTP/1.1\r\nHost: 198.51.100.99\r\n"
        b"User-Agent: Microsoft-WebDAV-MiniRedir/10.0.19045\r\n\r\n"], b"HTTP/1.1 201 Created\r\n\r\n")
    folder.mkdir()
    capture.write_pcapng(folder / "edge.pcapng")
    capture.write_pcap(folder / "whole.pcap")
    data = (folder / "whole.pcap").read_bytes()
    (folder / "whole.pcap").unlink()
    (folder / "cut.pcap").write_bytes(data[:len(data) - 30])
    return folder


def test_collect_import_then_run_gives_detects_alerts(dev_servers, tmp_path: Path) -> None:
    from stream_harness import pipeline

    pipe = pipeline(dev_servers, tmp_path / "pipe")
    captures = _attacks(tmp_path / "captures")
    rules = [str(SIGMAHQ / "rules" / "network"), str(SIGMAHQ / "rules" / "web" / "proxy_generic")]
    records = list(read_paths([captures]))
    events = [r for r in records if isinstance(r, Event)]
    (letter,) = [r for r in records if isinstance(r, DeadLetter)]
    assert letter.origin.endswith("cut.pcap") and "truncated" in letter.reason
    assert len(_conns(events)) == 4  # the cut file loses its last packet, not a flow

    imported = pipe.socpipe("collect", "import", str(captures))
    assert imported.returncode == 0, imported.stderr[-3000:]
    batch = pipe.socpipe("detect", "--rules", *rules, "--input", str(captures), "--out", str(tmp_path / "batch"))
    assert batch.returncode == 0, batch.stderr[-3000:]
    streamed = pipe.socpipe("run", "--once", "--rules", *rules)
    assert streamed.returncode == 0, streamed.stderr[-3000:]

    kinds = Counter(pipe.lake_column("events", "kind"))
    assert kinds == Counter(e.kind for e in events) and kinds["zeek_http"] == 4 and kinds["zeek_dns"] == 4
    assert len(pipe.search_ids("events")) == len(events)
    batch_alerts = [json.loads(line) for line in (tmp_path / "batch" / "alerts.jsonl").open()]
    titles = Counter(a["rule"]["title"] for a in batch_alerts)
    assert titles["DNS Events Related To Mining Pools"] == 2 and titles["WebDav Put Request"] == 2
    assert set(pipe.search_ids("alerts")) == {a["alert_id"] for a in batch_alerts}
    # the truncated capture's dead letter, in Kafka and in detect's output, with the same bytes
    (deadletter_key,) = pipe.kafka_keys("deadletter")
    assert "cut.pcap" in deadletter_key and letter.position in deadletter_key
    (batch_letter,) = [json.loads(line) for line in (tmp_path / "batch" / "deadletter.jsonl").open()]
    assert base64.b64decode(batch_letter["raw_base64"]) == letter.raw and batch_letter["position"] == letter.position
