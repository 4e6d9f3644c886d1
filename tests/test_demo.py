"""`socpipe demo`, the embedded default, run as a user runs it."""

from __future__ import annotations

import json
import time

import pyarrow.dataset as ds
import yaml
from conftest import ROOT
from test_cli import socpipe

CORRELATION_IDS = {str(doc["id"]) for path in sorted((ROOT / "rules/starter/correlations").glob("*.yml"))
                   for doc in yaml.safe_load_all(path.read_text(encoding="utf-8"))}


def test_demo_runs_end_to_end(tmp_path):
    out = tmp_path / "demo-out"
    started = time.monotonic()
    result = socpipe("demo", "--out", str(out))
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr[-3000:]
    assert elapsed < 180  # the bound for the demo on this machine

    lake = ds.dataset(out / "lake", format="parquet", partitioning="hive")
    table = lake.to_table(columns=["kind", "date", "agency_id"])
    assert table.num_rows >= 3000
    assert set(table.column("kind").to_pylist()) == {"windows", "syslog", "webserver", "flow", "zeek_conn", "zeek_dns",
                                                     "zeek_ssl", "zeek_http"}  # the last two from the capture
    assert "2026-11-27" in set(table.column("date").to_pylist())

    alerts = [json.loads(line) for line in (out / "alerts.jsonl").read_text().splitlines()]
    assert len({a["alert_id"] for a in alerts}) == len(alerts) > 0
    planted = yaml.safe_load((ROOT / "socpipe/demo/planted.yaml").read_text())
    found = {(a["rule"]["id"], a.get("host", {}).get("name")) for a in alerts}
    missing = [p for p in planted if (p["rule"], p["host"]) not in found]
    assert missing == []
    # Correlations (layer 2, the network attacks among them): every named agency listed, the system's level.
    for p in planted:
        if p["rule"] in CORRELATION_IDS:
            docs = [a for a in alerts if a["rule"]["id"] == p["rule"] and a.get("host", {}).get("name") == p["host"]]
            agencies = set(p.get("agencies", []))
            assert any(agencies <= set(a["agency"]["ids"]) for a in docs), (p, [a["agency"] for a in docs])
            assert any(a.get("system", {}).get("level", 0) >= p.get("min_system_level", 0) for a in docs), p
    assert all(a.get("agency", {}).get("id") for a in alerts)
    assert (out / "deadletter.jsonl").read_text() == ""
    # Incidents (alerting/incidents.py): every alert in one, far fewer incidents, each planted attack its own.
    incidents = [json.loads(line) for line in (out / "incidents.jsonl").read_text().splitlines()]
    assert sum(i["count"] for i in incidents) == len(alerts) and len(incidents) * 5 < len(alerts)
    in_incidents = {(i["rule"]["id"], i["group"].get("host.name")) for i in incidents}
    assert [p for p in planted if p["rule"] not in CORRELATION_IDS and (p["rule"], p["host"]) not in in_incidents] == []
    # A correlation's incident folds by the correlation's group (source.ip, ...), not by host.
    assert {p["rule"] for p in planted if p["rule"] in CORRELATION_IDS} <= {i["rule"]["id"] for i in incidents}
    assert f"{len(alerts)} alerts folded into {len(incidents)} incidents" in result.stdout

    report = (out / "report.html").read_text()
    assert "<svg" in report and "Alerts by level" in report and "Alerts by agency" in report
    assert "Sở Nội vụ" in report
    assert "events read" in result.stdout and "alerts by agency" in result.stdout

    # Layers 3 and 4 (socpipe/audit_demo.py): the auditor's report and the national exports.
    audit = out / "audit"
    assert {"report.vi.html", "report.en.html", "report.json", "manifest.json", "coverage.csv"} <= {
        p.name for p in audit.iterdir()}
    assert socpipe("audit", "verify", str(audit / "report.json")).returncode == 0
    bundles = sorted((out / "national").rglob("initial.stix.json"))
    assert bundles and all((b.parent / "mau-03.html").exists() for b in bundles)


def test_demo_outbox_tells_each_contact_only_one_agencys_incidents(tmp_path):
    import email
    import email.policy

    out = tmp_path / "demo-out"
    assert socpipe("demo", "--out", str(out)).returncode == 0
    incidents = {i["incident_id"]: i for i in map(json.loads, (out / "incidents.jsonl").read_text().splitlines())}
    eml_paths = sorted((out / "outbox").glob("*.eml"))
    mails = [email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in eml_paths]
    assert len(mails) >= 10 and all(m["To"] and m["Message-ID"] for m in mails)
    for mail in mails:
        ids = [i.strip() for i in str(mail["X-Socpipe-Incidents"]).split(",")]
        agencies = {incidents[i]["agency"]["id"] for i in ids}
        assert len(agencies) == 1, (mail["To"], agencies)  # never another agency's incident in a message
