"""Threat intel and GeoIP in `socpipe run` on the real dev Kafka and OpenSearch: the indicator list changes
while the job runs, and the records sent after its refresh raise alerts on the new indicators, with no
restart; every intel alert equals what alert_batch gives with the indicators in force, and `socpipe
detect` on the same lines gives the same alert ids."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
import yaml
from stream_harness import envelopes, pipeline, send, stop, wait_for

from bench.enrich import asn_record, country_record, write_mmdb
from enrich.geoip import GeoIP
from enrich.intel_sources import load_sources
from layers.detect import EVENT_SCHEMA, alert_batch, event_row
from layers.matcher.engine import Detector
from layers.matcher.intel import INTEL_RULE_ID
from layers.stream import parse_envelope
from rules.compiler import load_rules
from socpipe.config import STARTER_PACK
from socpipe.events import Event

LISTED, LATER, CLEAN = "45.33.32.156", "198.51.100.77", "8.8.8.8"


def _lines(first: int, count: int) -> list[bytes]:
    """auth.log logins from the listed address, the one listed later and a clean public one, in turn."""
    addresses = (LISTED, LATER, CLEAN)
    return [f"Dec  7 10:{i // 60 % 60:02d}:{i % 60:02d} web01 sshd[{1000 + i}]: Accepted password for ops{i} from "
            f"{addresses[i % 3]} port {20000 + i} ssh2".encode() for i in range(first, first + count)]


def _intel_ids(items, intel_csv: Path, geoip: GeoIP) -> set[str]:
    """The intel alert ids alert_batch gives for these records with this indicator list."""
    intel = load_sources([{"name": "province", "format": "csv", "path": str(intel_csv)}]).intel
    rows = [event_row(r, None, (), None, geoip=geoip) for r in map(parse_envelope, items) if isinstance(r, Event)]
    batch = pa.RecordBatch.from_pylist(rows, schema=EVENT_SCHEMA)
    docs = [json.loads(d) for d in alert_batch(Detector(load_rules([STARTER_PACK]).rules), batch, intel)
            .column("document").to_pylist()]
    return {d["alert_id"] for d in docs if d["rule"]["id"] == INTEL_RULE_ID}


@pytest.mark.slow
def test_indicator_refresh_mid_stream_without_restart(dev_servers, tmp_path) -> None:
    pipe = pipeline(dev_servers, tmp_path / "pipe")
    home = pipe.home
    write_mmdb(home / "country.mmdb", {"8.8.8.0/24": country_record("US", "United States"),
                                       "45.33.0.0/16": country_record("US", "United States")}, "GeoLite2-Country")
    write_mmdb(home / "asn.mmdb", {"8.8.8.0/24": asn_record(15169, "GOOGLE")}, "GeoLite2-ASN")
    intel_csv = home / "intel.csv"
    intel_csv.write_text(f"type,value,confidence,description\nip,{LISTED},95,C2 of the test\n")
    config = yaml.safe_load(pipe.config.read_text())
    config["enrich"] = {"geoip": {"country_db": "country.mmdb", "asn_db": "asn.mmdb"},
                        "intel": {"sources": [{"name": "province", "format": "csv", "path": "intel.csv"}],
                                  "refresh_seconds": 1}}
    pipe.config.write_text(yaml.safe_dump(config))
    geoip = GeoIP(home / "country.mmdb", home / "asn.mmdb")

    def intel_alerts() -> dict[str, dict]:
        client = pipe.search()
        client.indices.refresh(index=f"{pipe.name}-alerts-*", ignore_unavailable=True, allow_no_indices=True)
        hits = client.search(index=f"{pipe.name}-alerts-*", ignore_unavailable=True, body={
            "size": 1000, "query": {"term": {"rule.id": INTEL_RULE_ID}}})["hits"]["hits"]
        return {h["_id"]: h["_source"] for h in hits}

    before = envelopes(_lines(0, 30), "/var/log/auth.log")
    after = envelopes(_lines(30, 30), "/var/log/auth.log", first_line=31)
    job = pipe.start()
    try:
        send(pipe, before)
        expected_before = _intel_ids(before, intel_csv, geoip)
        assert len(expected_before) == 10
        wait_for(lambda: set(intel_alerts()) == expected_before, "the first intel alerts", 240, pipe)
        assert {a["threat"]["indicator"]["value"] for a in intel_alerts().values()} == {LISTED}

        intel_csv.write_text(f"type,value,confidence,description\nip,{LISTED},95,C2 of the test\n"
                             f"cidr,198.51.100.0/24,40,scanner network\n")
        wait_for(lambda: "threat intel refreshed" in (home / "run.log").read_text(errors="replace"),
                 "the refresh", 60, pipe)
        send(pipe, after)
        expected_after = _intel_ids(after, intel_csv, geoip)
        assert len(expected_after) == 20
        wait_for(lambda: set(intel_alerts()) == expected_before | expected_after, "the intel alerts after the refresh",
                 120, pipe)
        assert job.poll() is None  # the same job all along
    finally:
        stop(job)
    alerts = intel_alerts()
    later = [a for a in alerts.values() if a["threat"]["indicator"]["value"] == "198.51.100.0/24"]
    assert len(later) == 10 and all(a["source"]["ip"] == LATER and a["rule"]["level"] == "medium" for a in later)
    assert all(a["threat"]["feed"]["name"] == "province" for a in alerts.values())
    # The same ids in the lake and on the alerts topic.
    assert set(alerts) <= set(pipe.lake_column("alerts", "alert_id")) and set(alerts) <= set(pipe.kafka_keys("alerts"))
    # GeoIP: the events of public sources carry the ECS fields, in the lake and the search store.
    client = pipe.search()
    client.indices.refresh(index=f"{pipe.name}-events-*")
    clean = [h["_source"]["event"] for h in client.search(index=f"{pipe.name}-events-*", body={
        "size": 100, "query": {"term": {"source.ip": CLEAN}}})["hits"]["hits"]]
    assert len(clean) == 20 and all(e["source.geo.country_iso_code"] == "US" and e["source.as.number"] == "15169"
                                    for e in clean)
    # Batch equals stream: `socpipe detect` over the later lines, with the refreshed list.
    log = tmp_path / "auth.log"
    log.write_bytes(b"\n".join(_lines(30, 30)) + b"\n")
    batch = pipe.socpipe("detect", "--input", str(log), "--out", str(tmp_path / "batch"))
    assert batch.returncode == 0, batch.stderr[-3000:]
    batch_intel = {d["alert_id"] for d in map(json.loads, (tmp_path / "batch" / "alerts.jsonl").open())
                   if d["rule"]["id"] == INTEL_RULE_ID}
    assert batch_intel == expected_after
