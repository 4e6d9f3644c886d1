"""Layer 4: selection and clocks, STIX bundles valid under stix2-validator --strict with the incident-core
extension checked, the forms, and the transports: files, a real TCP syslog listener, and a real TAXII 2.1
server (medallion 3.0.0, started here), with idempotent re-sends and retries recorded as actions."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import audit_lake
import pytest
from stix2validator import ValidationOptions, validate_file
from taxii_server import medallion

from alerting.actions import read_lake
from alerting.national.stix import INCIDENT_CORE, check_incident_core
from alerting.national.transports import FileTransport, SyslogTransport, TaxiiTransport
from layers.national import job
from socpipe.config import DEFAULTS
from socpipe.registry import Registry

NOW = datetime(2025, 7, 5, tzinfo=UTC)
REGISTRY = Registry.from_dict({**audit_lake.REGISTRY, "systems": [s for s in audit_lake.REGISTRY["systems"]
                                                                  if "level" in s]})


def _settings(**changes) -> job.Settings:
    return job.Settings.from_config({**DEFAULTS["national"], "retry_seconds": 0, **changes})


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    audit_lake.build(tmp_path / "lake", exports=False)
    return tmp_path / "lake"


def test_files_bundles_valid_strict_and_forms(lake: Path, tmp_path: Path) -> None:
    out = tmp_path / "national"
    outcomes = job.run(lake, REGISTRY, _settings(), [FileTransport(out)], NOW)
    assert {o.incident_id: o.reasons for o in outcomes} == {
        "aa01": ["level critical", "system level 4", "tag attack.impact"],
        "aa02": ["verdict true_positive_impact"]}
    assert sorted(p.name for p in (out / "aa01").iterdir()) == [
        "full.json", "full.stix.json", "full.syslog", "initial.json", "initial.stix.json", "initial.syslog",
        "mau-03.html", "mau-03.pdf", "mau-04.html", "mau-04.pdf"]
    assert not (out / "aa02" / "full.stix.json").exists()  # not closed: no full report yet
    bundles = sorted(out.rglob("*.stix.json"))
    for path in bundles:
        result = validate_file(str(path), ValidationOptions(strict=True))
        assert result.is_valid, result.as_dict()
        assert check_incident_core(json.loads(path.read_text())) == []
    cli = subprocess.run([str(Path(sys.executable).parent / "stix2_validator"), "--strict", *map(str, bundles)],
                         capture_output=True, text=True)
    assert cli.returncode == 0 and cli.stdout.count("STIX JSON: Valid") == 3, cli.stdout
    full = json.loads((out / "aa01" / "full.stix.json").read_text())
    assert sorted({o["type"] for o in full["objects"]}) == [
        "domain-name", "file", "identity", "incident", "indicator", "ipv4-addr", "marking-definition", "observed-data",
        "relationship", "report", "sighting"]
    ext = next(o for o in full["objects"] if o["type"] == "incident")["extensions"][INCIDENT_CORE]
    assert ext == {"extension_type": "property-extension", "determination": "suspected",
                   "investigation_status": "closed", "criticality": 90, "detection_methods": ["automated-tool"]}
    patterns = sorted(o["pattern"] for o in full["objects"] if o["type"] == "indicator")
    # 10.10.40.5 is the province's own LGSP network: context, not an indicator.
    assert patterns == ["[domain-name:value = 'c2.evil.example']", f"[file:hashes.'SHA-256' = '{'ab' * 32}']",
                        "[ipv4-addr:value = '198.51.100.23']", "[ipv4-addr:value = '203.0.113.7']"]
    agencies = [o for o in full["objects"] if o["type"] == "identity" and o["name"] == "Sở A"]
    assert agencies[0]["sectors"] == ["government"]
    sightings = [o for o in full["objects"] if o["type"] == "sighting"]
    assert sightings and all(s["where_sighted_refs"] == [agencies[0]["id"]] for s in sightings)
    aa02 = json.loads((out / "aa02" / "initial.stix.json").read_text())
    assert next(o for o in aa02["objects"] if o["type"] == "incident")["extensions"][INCIDENT_CORE][
        "determination"] == "suspected"  # the lake's incident was built before the verdict: the form is as detected
    line = (out / "aa01" / "initial.syslog").read_text().strip()
    assert re.match(r'^<106>1 2025-07-01T01:00:00Z socpipe socpipe - national-initial \[socpipe@32473 incident="aa01"'
                    r' stage="initial" level="critical" agency="dept-a" system="s-dept-a" '
                    r'detected="2025-07-01T01:00:00\+00:00" deadline="2025-07-02T01:00:00\+00:00"\] \ufeff\{', line)
    record = json.loads((out / "aa01" / "initial.json").read_text())
    assert record["deadlines"] == {"initial": "2025-07-02T01:00:00+00:00", "full": "2025-07-04T01:00:00+00:00"}
    assert record["sent"]["initial"] == NOW.isoformat()
    mau03 = (out / "aa01" / "mau-03.html").read_text()
    assert "Mẫu 03" in mau03 and "BÁO CÁO BAN ĐẦU" in mau03 and "01 giờ 00 phút, ngày 02/07/2025" in mau03
    assert "Sở A" in mau03 and "LGSP" in mau03
    assert "Mẫu 04" in (out / "aa01" / "mau-04.html").read_text()
    assert all((out / "aa01" / f"mau-0{n}.pdf").read_bytes().startswith(b"%PDF") for n in (3, 4))


def test_clocks_overdue_escalated_once(lake: Path, tmp_path: Path) -> None:
    for _ in range(2):
        outcomes = job.run(lake, REGISTRY, _settings(), [FileTransport(tmp_path / "n")], NOW)
    # Sent on 07-05: aa01's 24 h and 72 h clocks (07-02, 07-04) and aa02's 24 h clock (07-03) ran out.
    assert {o.incident_id: o.overdue for o in outcomes} == {"aa01": ["initial", "full"], "aa02": ["initial"]}
    escalations = [a for a in read_lake(lake) if a.kind == "escalate" and a.actor == "system:national"]
    assert sorted((a.target_id, a.detail["stage"]) for a in escalations) == [
        ("aa01", "full"), ("aa01", "initial"), ("aa02", "initial")]


@pytest.mark.slow
def test_taxii_push_idempotent_resend(lake: Path, tmp_path: Path) -> None:
    from taxii2client.v21 import Collection

    with medallion(tmp_path) as server:
        taxii = TaxiiTransport(server.api_root, server.collection, server.username, server.password)
        assert server.password not in repr(taxii)
        first = job.run(lake, REGISTRY, _settings(), [taxii], NOW)
        assert all(o.sent and not o.failed for o in first)
        collection = Collection(taxii.destination, user=server.username, password=server.password)
        held = collection.get_objects()["objects"]
        incidents = collection.get_objects(type="incident", version="all")["objects"]
        assert len(incidents) == 3  # aa01 initial and full (two versions), aa02 initial
        assert {o["type"] for o in held} >= {"incident", "indicator", "sighting", "report", "identity"}
        exports = [a for a in read_lake(lake) if a.kind == "export"]
        assert len(exports) == 3 and all(a.detail["outcome"] == "sent" for a in exports)
        # Again: the action log knows what went out, nothing is sent twice.
        second = job.run(lake, REGISTRY, _settings(), [taxii], NOW)
        assert all(not o.sent and o.skipped for o in second)
        assert len([a for a in read_lake(lake) if a.kind == "export"]) == 3
        # A lake that lost its log sends again: the server holds every version and says so; nothing doubles.
        other = tmp_path / "other"
        audit_lake.build(other, exports=False)
        third = job.run(other, REGISTRY, _settings(), [taxii], NOW)
        assert all(o.sent and not o.failed for o in third)
        assert all("0 added" in line for o in third for line in o.sent)
        assert len(collection.get_objects()["objects"]) == len(held)


def test_unreachable_transport_retried_and_recorded(lake: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens there once closed
    outcomes = job.run(lake, REGISTRY, _settings(attempts=2), [SyslogTransport("127.0.0.1", port)], NOW)
    assert all(o.failed and not o.sent for o in outcomes)
    failed = [a for a in read_lake(lake) if a.kind == "export"]
    assert len(failed) == 6 and {a.detail["attempt"] for a in failed} == {1, 2}  # 3 stages, 2 attempts each
    assert all(a.detail["outcome"] == "failed" and "refused" in a.detail["error"].lower() for a in failed)


def test_syslog_over_tcp_to_a_listener(lake: Path) -> None:
    received: list[bytes] = []
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def accept() -> None:
        for _ in range(3):
            conn, _ = server.accept()
            with conn:
                data = b""
                while chunk := conn.recv(65536):
                    data += chunk
                received.append(data)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    job.run(lake, REGISTRY, _settings(), [SyslogTransport("127.0.0.1", port)], NOW)
    thread.join(timeout=10)
    server.close()
    assert len(received) == 3
    for frame in received:
        length, _, message = frame.partition(b" ")
        assert int(length) == len(message) and message.startswith(b"<")
        assert json.loads(message.decode().split("\ufeff", 1)[1])["incident_id"] in ("aa01", "aa02")


def test_taxii_password_only_from_the_environment_and_never_shown(tmp_path: Path) -> None:
    from socpipe.config import load_config
    from socpipe.national_commands import transports

    config = load_config(None, {"SOCPIPE__NATIONAL__TAXII__PASSWORD": "0123",
                                "SOCPIPE__NATIONAL__TAXII__URL": "http://127.0.0.1:9/national/",
                                "SOCPIPE__NATIONAL__TAXII__COLLECTION": "c1",
                                "SOCPIPE__NATIONAL__TRANSPORTS": "[files, taxii]"})
    files, taxii = transports(config, tmp_path)
    assert taxii.password == "0123" and "0123" not in repr(taxii) and files.folder == tmp_path
