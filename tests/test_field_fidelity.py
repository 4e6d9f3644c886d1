"""Issue 9: empty values and colliding Windows field names, in every reader, in batch and in the stream.

Sigma's `''` matches a field present and empty, `null` one that is missing; a name in both System and the
event's own data (event 104's UserData Channel) reads as the event's own value in rules, while routing reads
the System value, kept as "System.<name>".
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pytest
from conftest import SIGMAHQ

from enrich.normalise import context, normalise
from ingest import read_file
from ingest.parsers import SYSTEM_FIELD_NAMES, parse_evtx_json, parse_flat_json
from ingest.splits import plan_splits
from layers.matcher.engine import Detector
from layers.matcher.plain_path import PlainMatcher
from rules.compiler import load_rules
from socpipe.events import SYSTEM_PREFIX, WINDOWS, Event, system_value

RULES = SIGMAHQ / "rules" / "windows"
LSASS = RULES / "create_remote_thread" / "create_remote_thread_win_susp_password_dumper_lsass.yml"
FIREWALL = RULES / "builtin" / "firewall_as" / "win_firewall_as_add_rule.yml"
CLEARED = RULES / "builtin" / "system" / "microsoft_windows_eventlog" / "win_system_eventlog_cleared.yml"
CORE_CLEARED = RULES / "builtin" / "system" / "microsoft_windows_eventlog" / "win_system_susp_eventlog_cleared.yml"
SMB_GUEST = RULES / "builtin" / "smbclient" / "security" / "win_smbclient_security_susp_failed_guest_logon.yml"
RULE_IDS = {LSASS: "f239b326-2f41-4d6b-9dfa-c846a60ef505", FIREWALL: "cde0a575-7d3d-4a49-9817-b8004a7bf105",
            CLEARED: "a62b37e0-45d3-48d9-a517-90c1a1b0186b", CORE_CLEARED: "100ef69e-3327-481c-8e5c-6d80d9507556",
            SMB_GUEST: "71886b70-d7b4-4dbf-acce-87d2ca135262"}
SYSMON = "Microsoft-Windows-Sysmon/Operational"
FIREWALL_CHANNEL = "Microsoft-Windows-Windows Firewall With Advanced Security/Firewall"


def windows_event(channel: str, event_id: int, data: dict[str, str | None], provider: str = "",
                  user_data: dict[str, str] | None = None, record: int = 1) -> dict[str, object]:
    """An EVTX JSON document; a None value is an empty element (<Data Name="X"/>, no #text)."""
    system: dict[str, object] = {"EventID": event_id, "Channel": channel, "Computer": "ws01.example",
                                 "EventRecordID": record,
                                 "TimeCreated": {"#attributes": {"SystemTime": "2026-11-27T03:00:00.000000Z"}}}
    if provider:
        system["Provider"] = {"#attributes": {"Name": provider}}
    items = [{"#attributes": {"Name": k}, **({} if v is None else {"#text": v})} for k, v in data.items()]
    event: dict[str, object] = {"System": system, "EventData": {"Data": items}}
    if user_data is not None:
        event = {"System": system, "UserData": {"LogFileCleared": {"#attributes": {"xmlns": "ns"}, **user_data}}}
    return {"Event": event}


def remote_thread(start_module: str | None, present: bool = True, record: int = 1) -> dict[str, object]:
    data: dict[str, str | None] = {"SourceImage": "C:\\Users\\x\\dumper.exe",
                                   "TargetImage": "C:\\Windows\\System32\\lsass.exe"}
    if present:
        data["StartModule"] = start_module
    return windows_event(SYSMON, 8, data, "Microsoft-Windows-Sysmon", record=record)


def firewall_rule(path: str | None, modifier: str, present: bool = True, record: int = 1) -> dict[str, object]:
    data: dict[str, str | None] = {"RuleName": "x", "ModifyingApplication": modifier}
    if present:
        data["ApplicationPath"] = path
    return windows_event(FIREWALL_CHANNEL, 2004, data, record=record)


def cleared(log: str, record: int = 1) -> dict[str, object]:
    return windows_event("System", 104, {}, "Microsoft-Windows-Eventlog",
                         user_data={"SubjectUserName": "admin", "Channel": log}, record=record)


SVCHOST = "C:\\Windows\\System32\\svchost.exe"
# (document, the ids of the rules above that must fire on it), each as Sigma specifies.
CASES: list[tuple[str, dict[str, object], set[str]]] = [
    ("empty StartModule", remote_thread(None, record=1), {RULE_IDS[LSASS]}),
    ("StartModule missing", remote_thread(None, present=False, record=2), set()),
    ("StartModule set", remote_thread("C:\\x.dll", record=3), set()),
    ("empty ApplicationPath, odd modifier", firewall_rule(None, "C:\\Users\\x\\evil.exe", record=4),
     {RULE_IDS[FIREWALL]}),
    ("empty ApplicationPath, svchost", firewall_rule(None, SVCHOST, record=5), set()),
    ("ApplicationPath missing", firewall_rule(None, "C:\\Users\\x\\evil.exe", present=False, record=6), set()),
    ("Application log cleared", cleared("Application", record=7), {RULE_IDS[CLEARED]}),
    ("Security log cleared", cleared("Security", record=8), {RULE_IDS[CORE_CLEARED]}),
    ("empty UserName, SMB guest logon", windows_event("Microsoft-Windows-SmbClient/Security", 31017,
                                                      {"UserName": None, "ServerName": "\\10.0.0.5"}, record=9),
     {RULE_IDS[SMB_GUEST]}),
]


@pytest.fixture(scope="module")
def rules():
    ruleset = load_rules(list(RULE_IDS))
    assert not ruleset.failures and {r.id for r in ruleset.rules} == set(RULE_IDS.values())
    return ruleset


def parsed(document: dict[str, object]) -> Event:
    return normalise(Event(parse_evtx_json(json.dumps(document).encode()), WINDOWS, "test"))


# ---- readers -------------------------------------------------------------------------------------------

def test_an_empty_element_is_an_empty_field_in_every_shape() -> None:
    for element in ({"#attributes": {"Name": "StartModule"}}, {"#attributes": {"Name": "StartModule"}, "#text": None},
                    {"#attributes": {"Name": "StartModule"}, "#text": ""}):
        document = {"Event": {"System": {"EventID": 8}, "EventData": {"Data": [element]}}}
        assert parse_evtx_json(json.dumps(document).encode())["StartModule"] == ""
    for value in (None, ""):  # evtx_dump's shape: the name as key
        document = {"Event": {"System": {"EventID": 8}, "EventData": {"StartModule": value}}}
        assert parse_evtx_json(json.dumps(document).encode())["StartModule"] == ""
    assert "StartModule" not in parse_evtx_json(b'{"Event": {"System": {"EventID": 8}, "EventData": {}}}')
    assert parse_flat_json(b'{"StartModule": "", "Other": null}') == {"StartModule": ""}  # null: no value


def test_an_evtx_file_keeps_its_empty_elements() -> None:
    """Defender 1116 in the SigmaHQ snapshot has <Data Name="Unused"></Data>."""
    path = next((SIGMAHQ / "regression_data").rglob("a7c3e5f2-8b1d-4e9a-b6c2-3d7f5e8a9b4c.evtx"))
    events = [e for e in read_file(path) if isinstance(e, Event)]
    assert events and all(e.fields["Unused"] == "" and e.fields["Unused2"] == "" for e in events)
    exported = [e for e in read_file(path.with_suffix(".json")) if isinstance(e, Event)]
    assert [e.fields["Unused"] for e in exported] == [""] * len(exported)


def test_event_104_reads_the_cleared_log_as_channel_and_keeps_the_system_one() -> None:
    fields = parse_evtx_json(json.dumps(cleared("Application")).encode())
    assert fields["Channel"] == "Application"
    assert fields[f"{SYSTEM_PREFIX}Channel"] == "System"
    assert system_value(fields, "Channel") == "System" and system_value(fields, "EventID") == "104"


def test_every_system_name_resolves_to_the_event_data_and_keeps_the_system_value() -> None:
    document = windows_event("Security", 4624, {}, "Microsoft-Windows-Security-Auditing")
    system = document["Event"]["System"]  # type: ignore[index]
    system.update({"Version": 2, "Level": 0, "Task": 12544, "Opcode": 0, "Keywords": "0x8020000000000000",
                   "Execution": {"#attributes": {"ProcessID": 4, "ThreadID": 8}},
                   "Security": {"#attributes": {"UserID": "S-1-5-18"}}})
    plain = parse_evtx_json(json.dumps(document).encode())
    assert set(SYSTEM_FIELD_NAMES) <= set(plain)
    document["Event"]["EventData"] = {name: f"data {name}" for name in SYSTEM_FIELD_NAMES}  # type: ignore[index]
    fields = parse_evtx_json(json.dumps(document).encode())
    for name in SYSTEM_FIELD_NAMES:
        assert fields[name] == f"data {name}"
        assert fields[SYSTEM_PREFIX + name] == plain[name]
        assert system_value(fields, name) == plain[name]
    assert system_value(plain, "Channel") == "Security"


def test_normalisation_and_context_read_the_system_values() -> None:
    document = windows_event("Security", 4688, {"NewProcessName": "C:\\x.exe", "Computer": "not-the-host",
                                                "TimeCreated": "yesterday", "EventID": "1", "Channel": "x"})
    event = parsed(document)
    assert event.fields["Image"] == "C:\\x.exe"  # 4688 aliases: the System EventID and Channel decide
    ctx = context(event, None)
    assert ctx.host == "ws01.example"
    assert ctx.timestamp == datetime(2026, 11, 27, 3, 0, tzinfo=UTC)


# ---- matching ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "document", "expected"), CASES, ids=[c[0] for c in CASES])
def test_the_examples_match_as_sigma_specifies(rules, name, document, expected) -> None:
    event = parsed(document)
    detector, plain = Detector(rules.rules), PlainMatcher(rules.rules)
    assert {rules.rules[i].id for i in detector.match(event.kind, event.fields)} == expected
    assert {rules.rules[i].id for i in plain.match(event.kind, event.fields)} == expected


def test_flat_json_with_an_empty_value_matches_too(rules) -> None:
    fields = parse_flat_json(json.dumps({"Channel": SYSMON, "EventID": 8, "StartModule": "",
                                         "TargetImage": "C:\\Windows\\System32\\lsass.exe"}).encode())
    detector = Detector(rules.rules)
    assert {rules.rules[i].id for i in detector.match(WINDOWS, fields)} == {RULE_IDS[LSASS]}
    del fields["StartModule"]
    assert detector.match(WINDOWS, fields) == []


@pytest.mark.slow
def test_batch_lake_and_summary(spark, rules, tmp_path) -> None:
    from alerting.triage import Triage  # noqa: F401 (the batch job's own imports, as `socpipe detect`)
    from layers import detect
    from socpipe.report import summary_lines

    logs = tmp_path / "events.json"
    logs.write_text("".join(json.dumps(document) + "\n" for _, document, _ in CASES), encoding="utf-8")
    summary = detect.run(spark, rules, plan_splits([logs]), tmp_path / "out", tmp_path / "lake")
    alerts = [json.loads(line) for line in (tmp_path / "out" / "alerts.jsonl").read_text().splitlines()]
    found = {(a["event"]["EventRecordID"], a["rule"]["id"]) for a in alerts}
    assert found == {(str(i + 1), rule) for i, (_, _, ids) in enumerate(CASES) for rule in ids}
    lake = ds.dataset(tmp_path / "lake", format="parquet", partitioning="hive").to_table()
    rows = {dict(f)["EventRecordID"]: dict(f) for f in lake.column("fields").to_pylist()}
    assert rows["1"]["StartModule"] == "" and "StartModule" not in rows["2"]
    assert rows["7"]["Channel"] == "Application" and rows["7"]["System.Channel"] == "System"
    assert summary.name_collisions == {"Channel": 2}
    assert any(line.startswith("name clashes") and "Channel 2" in line for line in summary_lines(summary))


def _stream_results(rules) -> list[dict]:
    """The CASES as Kafka records through the stream's micro-batch step (its result rows)."""
    from layers.stream import ParseSettings, micro_batch_results

    appended = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
    messages = pa.RecordBatch.from_pylist(
        [{"key": f"r{i}".encode(), "value": json.dumps(document).encode(), "topic": "raw.windows", "headers": [],
          "timestamp": appended} for i, (_, document, _) in enumerate(CASES)],
        schema=pa.schema([("key", pa.binary()), ("value", pa.binary()), ("topic", pa.string()),
                          ("headers", pa.list_(pa.struct([("key", pa.string()), ("value", pa.binary())]))),
                          ("timestamp", pa.timestamp("us", tz="UTC"))]))
    return micro_batch_results(Detector(rules.rules), ParseSettings(None, (), None, ""), messages).to_pylist()


def test_stream_micro_batch(rules) -> None:
    from layers.stream import ALERT, EVENT

    results = _stream_results(rules)
    alerts = [json.loads(r["document"]) for r in results if r["row"] == ALERT]
    found = {(a["event"]["EventRecordID"], a["rule"]["id"]) for a in alerts}
    assert found == {(str(i + 1), rule) for i, (_, _, ids) in enumerate(CASES) for rule in ids}
    documents = {json.loads(r["document"])["event"]["EventRecordID"]: json.loads(r["document"])["event"]
                 for r in results if r["row"] == EVENT}  # what the search store is sent
    assert documents["1"]["StartModule"] == "" and "StartModule" not in documents["2"]
    assert documents["7"]["Channel"] == "Application" and documents["7"]["System.Channel"] == "System"
    lake_rows = {r["fields"] and dict(r["fields"])["EventRecordID"]: dict(r["fields"])
                 for r in results if r["row"] == EVENT}  # what the lake is written
    assert lake_rows["1"]["StartModule"] == ""


def test_rule_files_are_where_the_snapshot_has_them() -> None:
    assert all(Path(p).is_file() for p in RULE_IDS)


@pytest.mark.slow
def test_the_search_store_keeps_empty_values_and_system_names(rules, dev_servers) -> None:
    """The stream's event documents written to the real OpenSearch (events template, flat_object) come
    back with the empty value present and the System value beside the event's own."""
    import uuid

    from opensearchpy import OpenSearch

    from layers.stream import EVENT
    from socpipe import search

    results = [r for r in _stream_results(rules) if r["row"] == EVENT]
    client = OpenSearch(dev_servers.opensearch, timeout=30)
    prefix = f"fidelity{uuid.uuid4().hex[:6]}-events"
    search.ensure_templates(client, {"events": prefix}, 0)
    assert search.write(client, [(search.index_name(prefix, r["index_date"]), r["doc_id"], r["document"])
                                 for r in results]) == []
    client.indices.refresh(index=f"{prefix}-*")
    stored = {hit["_source"]["event"]["EventRecordID"]: hit["_source"]["event"] for hit in client.search(
        index=f"{prefix}-*", body={"query": {"match_all": {}}, "size": 100})["hits"]["hits"]}
    assert len(stored) == len(results)
    assert stored["1"]["StartModule"] == "" and "StartModule" not in stored["2"]
    assert stored["7"]["Channel"] == "Application" and stored["7"]["System.Channel"] == "System"
    found = client.search(index=f"{prefix}-*", body={"query": {"term": {"event.Channel": "Application"}}})
    assert [h["_source"]["event"]["EventRecordID"] for h in found["hits"]["hits"]] == ["7"]
