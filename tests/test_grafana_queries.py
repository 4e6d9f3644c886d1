"""Every panel query of the Grafana dashboards, sent as the OpenSearch data source plugin sends it, against
the real dev OpenSearch loaded with the demo's data by the real pipeline (`collect import` + `run --once`),
and its numbers checked against the same figures computed from the lake.

Incidents and the action log are built on other branches; here they are made from the pipeline's alerts
as docs/records.md describes them (incident documents in OpenSearch, acknowledge/close actions in the
lake), so the incident panels are checked against handling times recomputed from the action log.
"""

from __future__ import annotations

import json
import shutil
import urllib.request
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest
import yaml
from conftest import ROOT
from stream_harness import pipeline

from alerting.actions import Action, append_to_lake, read_lake
from dashboards.grafana import query
from dashboards.grafana.dashboards import (
    CORRELATIONS,
    Settings,
    agency_dashboard,
    agency_sources,
    auditor_dashboard,
    auditor_sources,
    coverage_queries,
    soc_overview,
    soc_sources,
)
from socpipe import search
from socpipe.lake import read_table, write_lake_part
from socpipe.registry import Registry

pytestmark = pytest.mark.slow
REGISTRY = Registry.load(ROOT / "socpipe" / "demo" / "registry.yaml")
TODAY = datetime.now(UTC).date()
INCIDENT_MAPPING = {"dynamic": False, "properties": {
    "incident_id": {"type": "keyword"}, "@timestamp": {"type": "date"}, "first": {"type": "date"},
    "last": {"type": "date"}, "count": {"type": "integer"}, "level": {"type": "keyword"},
    "status": {"type": "keyword"}, "agency": {"properties": {"id": {"type": "keyword"}}},
    "host": {"properties": {"name": {"type": "keyword"}}}, "acknowledged_at": {"type": "date"},
    "closed_at": {"type": "date"}, "tta_seconds": {"type": "double"}, "ttc_seconds": {"type": "double"}}}


class Store:
    """The demo's data in the dev servers and the lake, and the plugin's requests run against it."""

    def __init__(self, pipe, settings: Settings, start: datetime, end: datetime) -> None:
        self.pipe, self.settings, self.start, self.end = pipe, settings, start, end
        self.client = pipe.search()

    def interval(self, ds: query.DataSource, target: dict) -> int:
        """The date histogram interval the request carries, in ms (as its text says it)."""
        (_, body), = query.msearch(ds, [target], self.start, self.end).searches()
        aggs = body["aggs"]
        while True:
            (agg,) = [a for a in aggs.values() if "date_histogram" in a or "terms" in a]
            if "date_histogram" in agg:
                return query.parse_interval(agg["date_histogram"]["interval"])
            aggs = agg["aggs"]

    def run(self, ds: query.DataSource, target: dict) -> list[dict]:
        request = query.msearch(ds, [target], self.start, self.end)
        (header, _), = request.searches()
        http = urllib.request.Request(self.pipe.servers.opensearch + request.path, data=request.body.encode(),
                                      headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(http, timeout=60) as answer:
            (response,) = json.load(answer)["responses"]
        return query.rows(response, target)


def _docs(table: pa.Table) -> list[dict]:
    return [json.loads(d) for d in table.column("document").to_pylist()]


@pytest.fixture(scope="module")
def store(dev_servers, tmp_path_factory):
    home = tmp_path_factory.mktemp("grafana")
    inputs = home / "inputs"
    inputs.mkdir()
    for sample in sorted((ROOT / "socpipe" / "demo" / "samples").glob("*.*")):  # the logs (network/ apart)
        shutil.copy(sample, inputs / sample.name)
    pipe = pipeline(dev_servers, home / "pipe")
    config = yaml.safe_load(pipe.config.read_text())
    config["hints"] = [{"path": str(inputs / "access-dichvucong.log"), "host": "dichvucong.ankhanh.gov.vn"},
                       {"path": str(inputs / "access-congthongtin.log"), "host": "ankhanh.gov.vn"}]
    config["detect"] = {"syslog_year": 2026}
    pipe.config.write_text(yaml.safe_dump(config))
    imported = pipe.socpipe("collect", "import", str(inputs))
    assert imported.returncode == 0, imported.stderr[-3000:]
    ran = pipe.socpipe("run", "--once")
    assert ran.returncode == 0, ran.stderr[-3000:]
    settings = Settings(f"{pipe.name}-alerts", f"{pipe.name}-events", f"{pipe.name}-incidents",
                        {"critical": 900, "high": 3600, "medium": 14400, "low": 86400},
                        {"critical": 86400, "high": 259200, "medium": 604800, "low": 1209600})
    alerts = _docs(read_table(pipe.lake / "alerts"))
    _incidents(pipe, settings, alerts)
    client = pipe.search()
    scopes = {a.id: REGISTRY.subtree(a.id) for a in REGISTRY.agencies.values()}
    for prefix in (settings.alerts, settings.events, settings.incidents):
        search.agency_aliases(client, prefix, scopes)
    client.indices.refresh(index=f"{pipe.name}-*")
    times = [datetime.fromisoformat(a["@timestamp"]) for a in alerts if a["@timestamp"]]
    start = min(times).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    return Store(pipe, settings, start, max(times) + timedelta(hours=1))


def _incidents(pipe, settings: Settings, alerts: list[dict]) -> None:
    """Incidents per rule and host (docs/records.md), a third left new, a third acknowledged, a third
    closed, with their actions in the lake; the documents carry the state the actions produced."""
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for a in sorted((a for a in alerts if a["@timestamp"]), key=lambda a: (a["@timestamp"], a["alert_id"])):
        groups[(a["rule"]["id"], (a.get("host") or {}).get("name") or "")].append(a)
    docs, actions, rows = [], [], []
    for n, ((_rule, host), members) in enumerate(sorted(groups.items())):
        first = members[0]
        detected = datetime.fromisoformat(first["@timestamp"])
        incident_id = f"{n:04x}" + first["alert_id"][:12]
        agency = (first.get("agency") or {}).get("id")
        doc = {"incident_id": incident_id, "@timestamp": detected.isoformat(), "first": detected.isoformat(),
               "last": members[-1]["@timestamp"], "count": len(members), "level": first["rule"]["level"],
               "rule": first["rule"], "agency": {"id": agency}, "host": {"name": host or None}, "status": "new"}
        rows.append({"incident_id": incident_id, "timestamp": detected, "level": doc["level"], "agency_id": agency,
                     "date": detected.strftime("%Y-%m-%d")})
        if n % 3:
            acked = detected + timedelta(seconds=300 + 997 * n)
            actions.append(Action(acked, "analyst1", "acknowledge", "incident", incident_id, agency,
                                  {"status": "new"}, {"status": "acknowledged"}))
            doc.update(status="acknowledged", acknowledged_at=acked.isoformat(),
                       tta_seconds=(acked - detected).total_seconds())
        if n % 3 == 2:
            closed = detected + timedelta(seconds=3600 + 7919 * n)
            actions.append(Action(closed, "analyst1", "status", "incident", incident_id, agency,
                                  {"status": "acknowledged"}, {"status": "closed"}))
            doc.update(status="closed", closed_at=closed.isoformat(), ttc_seconds=(closed - detected).total_seconds())
        docs.append((settings.incidents, incident_id, json.dumps(doc)))
    append_to_lake(pipe.lake, actions)
    write_lake_part(pa.Table.from_pylist(rows), pipe.lake / "incidents", "part-test", partitioning=("date",))
    search.ensure_index(pipe.search(), settings.incidents, INCIDENT_MAPPING, 0)
    assert search.write(pipe.search(), docs) == []


# ---- the same figures from the lake ----

def _in_range(store: Store, moment: datetime | None) -> bool:
    return moment is not None and store.start <= moment <= store.end


def lake_alerts(store: Store, scope: list[str] | None = None) -> list[dict]:
    out = []
    for a in _docs(read_table(store.pipe.lake / "alerts")):
        moment = datetime.fromisoformat(a["@timestamp"]) if a["@timestamp"] else None
        if _in_range(store, moment) and (scope is None or (a.get("agency") or {}).get("id") in scope):
            out.append(a)
    return out


def lake_events(store: Store, scope: list[str] | None = None) -> list[dict]:
    table = read_table(store.pipe.lake / "events", ("date", "kind"))
    return [r for r in table.select(["timestamp", "host_name", "agency_id", "system_id"]).to_pylist()
            if _in_range(store, r["timestamp"]) and (scope is None or r["agency_id"] in scope)]


def lake_incidents(store: Store, scope: list[str] | None = None) -> list[dict]:
    """Incidents from the lake with their state replayed from the action log."""
    state = {r["incident_id"]: {**r, "status": "new"} for r in read_table(store.pipe.lake / "incidents").to_pylist()}
    for action in read_lake(store.pipe.lake):
        incident = state[action.target_id]
        incident.update(action.after)
        seconds = (action.at - incident["timestamp"]).total_seconds()
        if action.kind == "acknowledge":
            incident["tta"] = seconds
        if action.after.get("status") == "closed":
            incident["ttc"] = seconds
    return [i for i in state.values()
            if _in_range(store, i["timestamp"]) and (scope is None or i["agency_id"] in scope)]


def _path(doc: dict, dotted: str):
    for part in dotted.split("."):
        doc = (doc or {}).get(part)
    return doc


def assert_top(rows: list[dict], key: str, expected: Counter, size: int) -> None:
    """A terms panel: each bucket's count is the lake's; it holds the `size` largest (ties at the edge
    may go either way)."""
    got = {r[key]: r["1"] for r in rows}
    assert len(got) == min(size, len(expected)), (got, expected)
    for value, n in got.items():
        assert expected[value] == n, (key, value, n, expected[value])
    if got:
        assert all(n <= min(got.values()) for v, n in expected.items() if v not in got)


def _ms(moment: datetime) -> int:
    """Epoch milliseconds, as the store keeps dates (sub-millisecond digits dropped)."""
    return int(moment.timestamp()) * 1000 + moment.microsecond // 1000


def _bucket(moment: datetime, interval_ms: int) -> int:
    ms = _ms(moment)
    return ms - ms % interval_ms


# ---- the panels ----

def check_alert_panels(store: Store, board: dict, ds: dict[str, query.DataSource], scope: list[str] | None,
                       correlation_rows: list[int] | None = None) -> int:
    alerts = lake_alerts(store, scope)
    correlation_rows = [] if correlation_rows is None else correlation_rows
    checked = 0
    for panel in board["panels"]:
        (target,) = panel["targets"][:1]
        if target["datasource"]["uid"] != ds["alerts"].uid:
            continue
        rows = store.run(ds["alerts"], target)
        fields = [b["field"] for b in target["bucketAggs"]]
        if fields == ["rule.level", "@timestamp"]:
            interval = store.interval(ds["alerts"], target)
            expected = Counter((a["rule"]["level"], _bucket(datetime.fromisoformat(a["@timestamp"]), interval))
                               for a in alerts)
            got = {(r["rule.level"], r["@timestamp"]): r["1"] for r in rows if r["1"]}
            assert got == dict(expected)
            assert sum(r["1"] for r in rows) == len(alerts)
        elif target["query"] == CORRELATIONS:  # layer 2's alerts per rule, and the latest
            correlations = [a for a in alerts if a.get("correlation")]
            expected = Counter(a["rule"]["title"] for a in correlations)
            assert_top(rows, "rule.title.raw", expected, int(target["bucketAggs"][0]["settings"]["size"]))
            for r in rows:
                latest = max(datetime.fromisoformat(a["@timestamp"]) for a in correlations
                             if a["rule"]["title"] == r["rule.title.raw"])
                assert r["3"] == _ms(latest)
            correlation_rows.append(len(rows))
        else:
            (field,) = fields
            expected = Counter(_path(a, field.removesuffix(".raw")) for a in alerts)
            expected.pop(None, None)
            assert_top(rows, field, expected, int(target["bucketAggs"][0]["settings"]["size"]))
        checked += 1
    return checked


def check_incident_panels(store: Store, board: dict, ds: query.DataSource, scope: list[str] | None) -> int:
    incidents = lake_incidents(store, scope)
    checked = 0
    for panel in board["panels"]:
        for target in panel["targets"]:
            if target["datasource"]["uid"] != ds.uid:
                continue
            rows = store.run(ds, target)
            fields = [b["field"] for b in target["bucketAggs"]]
            if fields == ["level", "@timestamp"]:
                interval = store.interval(ds, target)
                assert {(r["level"], r["@timestamp"]): r["1"] for r in rows if r["1"]} == dict(
                    Counter((i["level"], _bucket(i["timestamp"], interval)) for i in incidents))
            elif fields == ["status"]:
                open_ = [i for i in incidents if i["status"] != "closed"]
                assert {r["status"]: r["1"] for r in rows} == dict(Counter(i["status"] for i in open_))
                for r in rows:
                    oldest = min(i["timestamp"] for i in open_ if i["status"] == r["status"])
                    assert r["3"] == _ms(oldest)
            elif "tta_seconds:>" in target["query"]:
                level = target["query"].split()[0].split(":")[1]
                deadline = store.settings.ack_deadline[level]
                late = sum(1 for i in incidents if i["level"] == level and i.get("tta", 0) > deadline)
                assert sum(r["1"] for r in rows) == late
            else:  # handling times by level
                assert fields == ["level"]
                by_level = defaultdict(list)
                for i in incidents:
                    by_level[i["level"]].append(i)
                assert {r["level"] for r in rows} == set(by_level)
                for r in rows:
                    group = by_level[r["level"]]
                    assert r["1"] == len(group)
                    for avg_id, max_id, key in (("3", "4", "tta"), ("5", "6", "ttc")):
                        values = [i[key] for i in group if key in i]
                        assert r[avg_id] == (pytest.approx(sum(values) / len(values)) if values else None)
                        assert r[max_id] == (pytest.approx(max(values)) if values else None)
            checked += 1
    return checked


def check_silence_panel(store: Store, board: dict, ds: query.DataSource, scope: list[str] | None) -> int:
    (panel,) = [p for p in board["panels"] if p["targets"][0]["datasource"]["uid"] == ds.uid
                and p["targets"][0]["bucketAggs"][0]["field"] == "host.name"]
    rows = store.run(ds, panel["targets"][0])
    last: dict[str, datetime] = {}
    for e in lake_events(store, scope):
        if e["host_name"]:
            last[e["host_name"]] = max(last.get(e["host_name"], e["timestamp"]), e["timestamp"])
    assert {r["host.name"]: r["1"] for r in rows} == {h: _ms(t) for h, t in last.items()}
    assert [r["1"] for r in rows] == sorted(r["1"] for r in rows)  # the longest silent first
    return 1


def test_soc_overview_panels_equal_the_lake(store):
    board, ds = soc_overview(store.settings), soc_sources(store.settings)
    correlation_rows: list[int] = []
    checked = check_alert_panels(store, board, ds, None, correlation_rows)
    assert correlation_rows and correlation_rows[0] >= 3  # the demo's correlations, cross-agency included
    checked += check_incident_panels(store, board, ds["incidents"], None)
    checked += check_silence_panel(store, board, ds["events"], None)
    assert checked == sum(len(p["targets"]) for p in board["panels"])
    print(f"SOC overview: {checked} targets equal the lake ({len(lake_alerts(store))} alerts, "
          f"{len(lake_incidents(store))} incidents)")


def test_agency_dashboards_see_only_their_agency(store):
    alerts = lake_alerts(store)
    with_alerts = Counter((a.get("agency") or {}).get("id") for a in alerts)
    with_alerts.pop(None, None)
    assert len(with_alerts) >= 2
    parent = REGISTRY.agencies[next(iter(with_alerts))].parent  # a parent sees its subtree
    for agency_id in [*with_alerts, parent]:
        scope = REGISTRY.subtree(agency_id)
        board = agency_dashboard(store.settings, agency_id, REGISTRY.agencies[agency_id].name)
        ds = agency_sources(store.settings, agency_id)
        assert all(t["datasource"]["uid"].startswith(f"agency-{agency_id}-") for p in board["panels"]
                   for t in p["targets"])
        checked = check_alert_panels(store, board, ds, scope)
        checked += check_incident_panels(store, board, ds["incidents"], scope)
        checked += check_silence_panel(store, board, ds["events"], scope)
        assert checked == sum(len(p["targets"]) for p in board["panels"])
        level_panel = board["panels"][0]["targets"][0]
        seen = sum(r["1"] for r in store.run(ds["alerts"], level_panel))
        assert seen == len(lake_alerts(store, scope))
        assert seen < len(alerts) or REGISTRY.agencies[agency_id].parent is None  # only the root sees all
    print(f"agency dashboards: {len(with_alerts) + 1} agencies, each equal to its own scope in the lake")


def test_auditor_dashboard_panels_equal_the_lake(store):
    board, ds = auditor_dashboard(store.settings, REGISTRY, TODAY), auditor_sources(store.settings)
    events = lake_events(store)
    checked = 0
    tiers = {tier: ids for tier, ids, _ in coverage_queries(REGISTRY, TODAY) if ids}
    for panel, (tier, ids) in zip(board["panels"], tiers.items(), strict=False):
        rows = store.run(ds["events"], panel["targets"][0])
        assert {r["agency.id"]: r["1"] for r in rows} == dict(Counter(e["agency_id"] for e in events
                                                                      if e["agency_id"] in ids)), tier
        checked += 1
    (silence,) = [p for p in board["panels"] if p["targets"][0]["bucketAggs"][0]["field"] == "system.id"]
    rows = store.run(ds["events"], silence["targets"][0])
    day = 86_400_000
    expected = Counter((e["system_id"], _bucket(e["timestamp"], day)) for e in events if e["system_id"])
    assert {(r["system.id"], r["@timestamp"]): r["1"] for r in rows if r["1"]} == dict(expected)
    days = {r["@timestamp"] for r in rows}
    assert days == set(range(_bucket(store.start, day), _bucket(store.end, day) + 1, day))  # silent days are 0s
    checked += 1
    checked += check_incident_panels(store, board, ds["incidents"], None)
    assert checked == sum(len(p["targets"]) for p in board["panels"])
    print(f"auditor dashboard: {checked} targets equal the lake; coverage "
          + ", ".join(f"{t} {len({e['agency_id'] for e in events if e['agency_id'] in ids})}/{len(ids)}"
                      for t, ids in tiers.items()))
