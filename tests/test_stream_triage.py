"""`socpipe run` on the real servers with a Sigma filter, a suppression and incidents: two runs of the job
(a restart between them), the alerts of one suppression window split across the two, and an analyst's
change to the incident in between, which the second run must keep."""

from __future__ import annotations

import json
import shutil
import uuid
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.dataset as ds
import pytest
import yaml
from conftest import ROOT
from opensearchpy.helpers import scan
from stream_harness import envelopes, pipeline, send, ssh_lines

from alerting.alerts import alert_id
from alerting.incidents import incident_id
from alerting.triage import StreamTriage
from layers.detect import event_row
from layers.matcher.engine import Detector
from layers.stream import parse_envelope
from rules.compiler import load_rules
from rules.model import RuleSet
from socpipe.config import STARTER_PACK, load_config

SSH_FAILURE = "9153d6f0-65be-4a93-b53e-1b1c1fdffc02"  # rules/starter/lnx_sshd_auth_failure.yml
FILTER_ID = "3c1e8f2a-7b64-4d0e-9a55-2f6b8c9d0e13"
FILTER = f"""title: Logins from the monitoring probe are expected
id: {FILTER_ID}
logsource: {{product: linux, service: sshd}}
filter:
    rules: [{SSH_FAILURE}]
    probe:
        message|contains: 'from 203.0.113.7 '
    condition: not probe
"""


def _alert_ids(items) -> dict[int, str]:
    """Line number (its second of the day) -> the id of its SSH-failure alert, for the lines that alert."""
    detector = Detector(load_rules([STARTER_PACK]).rules)
    ids = {}
    for e in items:
        row = event_row(parse_envelope(e), None, (), None)
        for i in detector.match(row["kind"], dict(row["fields"])):
            assert detector.rules[i].id == SSH_FAILURE
            ids[int(e.position.split()[1]) - 1] = alert_id(SSH_FAILURE, row["event_id"])
    return ids


@pytest.mark.slow
def test_filters_suppression_and_incidents_across_batches_and_a_restart(dev_servers, tmp_path):
    pipe = pipeline(dev_servers, tmp_path, batch_records=120)  # several micro-batches per run
    (tmp_path / "tuning").mkdir()
    (tmp_path / "tuning" / "probe_filter.yml").write_text(FILTER)
    config = yaml.safe_load(pipe.config.read_text())
    config["rules"] = {"paths": [str(tmp_path / "tuning")]}
    config["incidents"]["window_seconds"] = 600
    config["suppression"] = {"rules": {SSH_FAILURE: {"group_by": ["host.name"], "duration": "1m"}}}
    pipe.config.write_text(yaml.safe_dump(config))

    # Line i is at 00:00:00 + i s on dvc-web02; every third one (i % 3 == 0) is a failed login from
    # 203.0.113.(i % 250). envelopes() numbers lines from 1, so line i gets position "line i+1".
    items = (envelopes(ssh_lines(0, 600), "/var/log/auth.log")
             + envelopes(ssh_lines(2000, 30), "/var/log/auth.log", first_line=2001))
    ids = _alert_ids(items)
    assert len(ids) == 210
    # Hand-computed: the filter takes i = 507 and 2007 (203.0.113.7). Suppression by host in 1-minute
    # windows keeps the first alert of each minute: 0, 60, ..., 540 and 2001; the 197 others are suppressed
    # (the windows of 507 and 2007 have earlier alerts: the filter comes first either way). The window
    # 300-360 is split between the runs (300-327 in the first, 330-357 in the second): only 300 stands.
    standing = {i: ids[i] for i in [*range(0, 600, 60), 2001]}
    filtered = {ids[507], ids[2007]}
    suppressed = set(ids.values()) - set(standing.values()) - filtered
    assert len(suppressed) == 197
    # Incidents, window 600 s: 0-540 (gaps of 60 s) is one; 2001 (00:33:21) is 1461 s later, its own.
    web02 = {"agency.id": "vp-ubnd", "host.name": "dvc-web02"}  # the demo registry's system of dvc-web02
    first, second = incident_id(SSH_FAILURE, web02, ids[0]), incident_id(SSH_FAILURE, web02, ids[2001])

    first_run = [e for e in items if int(e.position.split()[1]) <= 330]  # lines 0-329
    send(pipe, first_run)
    done = pipe.socpipe("run", "--once")
    assert done.returncode == 0, done.stderr[-3000:]
    search = pipe.search()
    index = f"{pipe.name}-incidents"
    search.indices.refresh(index=index)
    doc = search.get(index=index, id=first)["_source"]
    assert (doc["count"], doc["last"], doc["status"]) == (6, "2026-11-30T00:05:00+00:00", "new")
    # An analyst takes the incident between the runs.
    search.update(index=index, id=first, body={"doc": {"status": "acknowledged", "assignee": "analyst1",
                                                        "acknowledged_by": "analyst1"}}, refresh=True)

    send(pipe, [e for e in items if e not in first_run])
    done = pipe.socpipe("run", "--once")
    assert done.returncode == 0, done.stderr[-3000:]
    search.indices.refresh(index=index)
    docs = {h["_id"]: h["_source"] for h in scan(search, index=index, query={"query": {"match_all": {}}})}
    assert set(docs) == {first, second}
    one, two = docs[first], docs[second]
    assert (one["count"], one["first"], one["last"]) == (10, "2026-11-30T00:00:00+00:00", "2026-11-30T00:09:00+00:00")
    assert sorted(one["alert_ids"]) == sorted(standing[i] for i in range(0, 600, 60))
    assert (one["status"], one["assignee"], one["acknowledged_by"]) == ("acknowledged", "analyst1", "analyst1")
    assert (two["count"], two["status"], two["alert_ids"]) == (1, "new", [standing[2001]])
    assert one["group"] == web02 and one["rule"]["id"] == SSH_FAILURE and one["agency"]["ids"] == ["vp-ubnd"]

    # Standing alerts reach every alert store; every other one is a `suppress` action, none silently gone.
    assert set(pipe.search_ids("alerts")) == set(standing.values())
    assert sorted(pipe.lake_column("alerts", "alert_id")) == sorted(standing.values())
    assert sorted(pipe.kafka_keys("alerts")) == sorted(standing.values())
    search.indices.refresh(index="actions")
    actions = [h["_source"] for h in scan(search, index="actions", query={"query": {"terms": {
        "target_id": sorted(filtered | suppressed)}}})]
    assert sorted(a["target_id"] for a in actions) == sorted(filtered | suppressed)
    by = {a["target_id"]: a for a in actions}
    assert {by[i]["actor"] for i in filtered} == {"system:filter"}
    assert {by[i]["detail"]["filter_id"] for i in filtered} == {FILTER_ID}
    assert {by[i]["actor"] for i in suppressed} == {"system:suppression"}
    assert sorted(pipe.lake_column("actions", "target_id")) == sorted(filtered | suppressed)

    # The lake keeps each version detection wrote; the newest of the first incident is the final one.
    rows = zip(pipe.lake_column("incidents", "incident_id"), pipe.lake_column("incidents", "revision"),
               pipe.lake_column("incidents", "count"), strict=True)
    newest = {incident: count for incident, _, count in sorted(rows, key=lambda r: r[1])}
    assert newest == {first: 10, second: 1}
    assert pipe.kafka_keys("deadletter") == []  # the search store took every incident and action
    log = done.stderr + done.stdout
    assert "alerts suppressed by filter " + FILTER_ID in log and f"suppression of rule {SSH_FAILURE}" in log
    assert datetime.fromisoformat(one["@timestamp"]) == datetime(2026, 11, 30, tzinfo=UTC)


def _table(alerts: list[dict]) -> pa.Table:
    return pa.table({"doc_id": [a["alert_id"] for a in alerts], "document": [json.dumps(a) for a in alerts]})


@pytest.mark.slow
def test_redone_batch_late_first_alert_and_replays_on_the_real_search_store(dev_servers, tmp_path):
    """StreamTriage on OpenSearch without the job around it: a micro-batch redone after a crash writes the
    same incidents, a late first alert renames the incident and carries what the analyst set, a replayed
    alert is not counted twice."""
    name = f"t{uuid.uuid4().hex[:8]}"
    (tmp_path / "c.yaml").write_text(yaml.safe_dump({
        "opensearch": {"url": dev_servers.opensearch}, "lake": {"path": str(tmp_path / "lake")},
        "run": {"checkpoint_dir": str(tmp_path / "checkpoints")},
        "incidents": {"window_seconds": 600, "index": f"{name}-incidents"}}))
    triage = StreamTriage(load_config(tmp_path / "c.yaml", environ={}), RuleSet())
    search, index = triage.search, f"{name}-incidents"

    def run_batch(batch_id: int, alerts: list[dict]) -> dict[str, dict]:
        kept, pending = triage.tune(_table(alerts), batch_id)
        assert kept.num_rows == len(alerts)  # no filter, no suppression
        assert triage.write(pending) == []
        search.indices.refresh(index=index)
        return {h["_id"]: h["_source"] for h in scan(search, index=index, query={"query": {"match_all": {}}})}

    group = {"agency.id": "skhcn", "host.name": "dvc-web02"}
    docs = run_batch(0, [alert(600, 600), alert(1200, 1200)])
    late_id, first_id = incident_id("r", group, "a0600"), incident_id("r", group, "a0000")
    assert {i: d["count"] for i, d in docs.items()} == {late_id: 2}
    search.update(index=index, id=late_id, body={"doc": {"status": "acknowledged", "assignee": "analyst2"}},
                  refresh=True)

    for _ in range(2):  # the second time: batch 1 redone after a crash that came after its writes
        docs = run_batch(1, [alert(0, 0), alert(3000, 3000)])
        other = incident_id("r", group, "a3000")
        assert {i: (d["count"], d.get("merged_into")) for i, d in docs.items()} == {
            first_id: (3, None), late_id: (2, first_id), other: (1, None)}
        assert (docs[first_id]["status"], docs[first_id]["assignee"]) == ("acknowledged", "analyst2")
        assert docs[first_id]["alert_ids"] == ["a0000", "a0600", "a1200"]

    docs = run_batch(2, [alert(600, 600), alert(1700, 1700)])  # a replay of 600, and 1700 extends
    assert (docs[first_id]["count"], docs[first_id]["last"]) == (4, _at(1700))
    assert (docs[first_id]["status"], docs[first_id]["assignee"]) == ("acknowledged", "analyst2")
    rows = ds.dataset(tmp_path / "lake" / "incidents", format="parquet", partitioning="hive").to_table().to_pylist()
    newest = {r["incident_id"]: r for r in sorted(rows, key=lambda r: r["revision"])}
    assert newest[first_id]["count"] == 4 and json.loads(newest[late_id]["document"])["merged_into"] == first_id
    assert sorted(p.name for p in (tmp_path / "checkpoints" / "triage").iterdir()) == ["1.json", "2.json"]


T0 = datetime(2026, 11, 30, tzinfo=UTC)


def _at(seconds: int) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat()


def alert(n: int, seconds: int) -> dict:
    return {"alert_id": f"a{n:04d}", "@timestamp": _at(seconds), "rule": {"id": "r", "title": "t", "level": "low",
            "tags": []}, "host": {"name": "dvc-web02"}, "agency": {"id": "skhcn"}, "event": {}}


@pytest.mark.slow
def test_stream_incidents_equal_batch_incidents(dev_servers, tmp_path):
    """The demo's logs through `detect` and through `collect import` + `run` in micro-batches of 400
    records: the same incidents, with the same ids, counts, times and alerts. auth.log is cut in two and
    its later half sent first, so the stream gets its SSH and VPN alerts out of order across batches (the
    joining and renaming of incidents by late alerts is tested on its own above)."""
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for sample in sorted((ROOT / "socpipe" / "demo" / "samples").glob("*.[lj]*")):
        if sample.name != "auth.log":
            shutil.copy(sample, inputs / sample.name)
    auth = (ROOT / "socpipe" / "demo" / "samples" / "auth.log").read_bytes().splitlines(keepends=True)
    (inputs / "auth-a.log").write_bytes(b"".join(auth[len(auth) // 2:]))  # imported first: the later half
    (inputs / "auth-b.log").write_bytes(b"".join(auth[:len(auth) // 2]))
    pipe = pipeline(dev_servers, tmp_path / "pipe", batch_records=400)
    config = yaml.safe_load(pipe.config.read_text())
    config["incidents"]["lateness_seconds"] = 7 * 86400  # every late alert is within the allowed lateness
    config["correlation"] = {"lateness_seconds": 7 * 86400}  # the same for correlation windows
    pipe.config.write_text(yaml.safe_dump(config))
    batch = pipe.socpipe("detect", "--input", str(inputs), "--out", str(tmp_path / "batch"))
    assert batch.returncode == 0, batch.stderr[-3000:]
    imported = pipe.socpipe("collect", "import", str(inputs))
    assert imported.returncode == 0, imported.stderr[-3000:]
    streamed = pipe.socpipe("run", "--once")
    assert streamed.returncode == 0, streamed.stderr[-3000:]
    assert len(pipe.finished_batches) > 5
    # Time moves on: an event 8 days later brings the watermark past every correlation window.
    (tmp_path / "later").mkdir()
    (tmp_path / "later" / "later.log").write_bytes(b"Dec  5 12:00:00 dvc-web01 CRON[1]: (root) CMD (true)\n")
    assert pipe.socpipe("collect", "import", str(tmp_path / "later")).returncode == 0
    streamed = pipe.socpipe("run", "--once")
    assert streamed.returncode == 0, streamed.stderr[-3000:]

    correlation_ids = {c.id for c in load_rules([STARTER_PACK]).correlations}

    def summary(doc: dict) -> tuple:
        return doc["count"], doc["first"], doc["last"], sorted(doc["alert_ids"]), doc["agency"]["ids"]

    expected = {d["incident_id"]: summary(d) for d in map(json.loads, (tmp_path / "batch" / "incidents.jsonl").open())}
    search = pipe.search()
    index = f"{pipe.name}-incidents"
    search.indices.refresh(index=index)
    found = {h["_id"]: h["_source"] for h in scan(search, index=index, query={"query": {"match_all": {}}})}
    current = {i: summary(d) for i, d in found.items() if not d.get("merged_into")}
    assert len(expected) > 20 and current == expected
    assert sum(d["rule"]["id"] in correlation_ids for d in found.values()) >= 5  # layer 2's incidents too
    print(f"stream equals batch: {len(expected)} incidents from {sum(c for c, *_ in expected.values())} alerts, "
          f"{len(pipe.finished_batches)} micro-batches, {len(found) - len(current)} joined into others on the way")
