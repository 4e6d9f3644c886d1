"""Console bench: the queue page (with its grouped counts) and the incident view over millions of incidents.

    .venv/bin/python -m bench.console [--alerts 2000000] [--requests 100] [--state-dir DIR]

Generates --alerts incidents (one alert each, so as many alerts; issue 12's target is 2,000,000) across the
demo registry's agencies, 200 rules and 20,000 hosts over 90 days, and bulk-loads the incidents into one
index and their alerts (with native event fields) into daily alerts indices of the dev OpenSearch
(socpipe/dev/servers.py; started in --state-dir, or reused when already running there). Then the console
app as `socpipe serve` builds it answers, in this process, requests as a browser sends them: the queue page
grouped by each of rule, agency, host, level and status, with and without filters, the next page
(search_after), an agency user's queue, and the incident view of random incidents. The figures are the
server-side times (request in, page rendered out, OpenSearch queries included, its request cache off):
p50, p95, max per kind.
Targets (issue 12): queue with grouped counts p95 <= 300 ms, incident view p95 <= 200 ms.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from fastapi.testclient import TestClient
from opensearchpy import OpenSearch
from opensearchpy.helpers import parallel_bulk

from alerting.incidents import severity
from dashboards.console.app import create_app
from dashboards.console.store import IncidentStore
from dashboards.console.users import Users
from socpipe import search
from socpipe.demo import REGISTRY
from socpipe.dev import servers
from socpipe.registry import Registry

PASSWORD = "bench-password-not-secret"
LEVELS = (("critical", 1), ("high", 9), ("medium", 30), ("low", 45), ("informational", 15))
STATUSES = (("new", 60), ("acknowledged", 15), ("in_progress", 10), ("closed", 14), ("escalated", 1))
END = datetime(2026, 12, 1, tzinfo=UTC)


def documents(count: int, agencies: list[str], seed: int = 12) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(incident, its alert) pairs, reproducible from the seed."""
    pick = random.Random(seed)
    rules = [(str(uuid.UUID(int=pick.getrandbits(128))), f"Quy tắc {n}: hành vi bất thường số {n}") for n in range(200)]
    levels, level_weights = zip(*LEVELS, strict=True)
    statuses, status_weights = zip(*STATUSES, strict=True)
    for n in range(count):
        rule_id, title = rules[int(pick.paretovariate(1.2)) % len(rules)]  # a few rules fire most
        level = pick.choices(levels, level_weights)[0]
        agency = agencies[int(pick.paretovariate(1.1)) % len(agencies)]
        host = f"may-{agency}-{pick.randrange(20000 // len(agencies) + 1):04d}"
        at = (END - timedelta(seconds=pick.randrange(90 * 86400))).isoformat()
        alert_id = f"b{n:09d}"
        event = {"EventID": str(pick.choice((1, 4624, 4625, 4688))), "Computer": host,
                 "Image": f"C:\\Windows\\System32\\tool{pick.randrange(50)}.exe",
                 "CommandLine": f"tool.exe /run {pick.getrandbits(32):08x}",
                 "User": f"{agency}\\user{pick.randrange(99)}"}
        common = {"@timestamp": at, "rule": {"id": rule_id, "title": title, "level": level, "tags": ["attack.t1059"]},
                  "host": {"name": host}, "agency": {"id": agency}, "level": level}
        incident = {**common, "incident_id": f"i{n:09d}", "first": at, "last": at, "count": 1, "alert_ids": [alert_id],
                    "group": {"agency.id": agency, "host.name": host},
                    "status": pick.choices(statuses, status_weights)[0],
                    "severity": severity(level)}
        yield incident, {**common, "alert_id": alert_id, "event": event}


def load(client: OpenSearch, index: str, alerts: str, count: int, agencies: list[str]) -> float:
    """Bulk-load; returns documents per second."""
    from alerting.incidents import MAPPING

    search.ensure_index(client, index, MAPPING, 0)
    client.indices.put_settings(index=index, body={"refresh_interval": "-1"})
    days = {search.index_name(alerts, (END - timedelta(days=d)).date().isoformat()) for d in range(92)}
    for name in days:
        client.indices.create(index=name, ignore=400, body={
            "settings": {"number_of_shards": 1, "number_of_replicas": 0, "refresh_interval": "-1"},
            "mappings": search.MAPPINGS["alerts"]})

    def actions() -> Iterator[dict[str, Any]]:
        for incident, alert in documents(count, agencies):
            yield {"_index": index, "_id": incident["incident_id"], "_source": orjson.dumps(incident).decode()}
            yield {"_index": search.index_name(alerts, alert["@timestamp"]), "_id": alert["alert_id"],
                   "_source": orjson.dumps(alert).decode()}

    started, done = time.monotonic(), 0
    for ok, item in parallel_bulk(client, actions(), thread_count=2, chunk_size=4000, request_timeout=300):
        if not ok:
            raise RuntimeError(f"refused: {item}")
        done += 1
        if done % 500_000 == 0:
            print(f"  {done:,} documents, {done / (time.monotonic() - started):,.0f}/s", flush=True)
    rate = done / (time.monotonic() - started)
    for name in (index, f"{alerts}-*"):
        client.indices.put_settings(index=name, body={"refresh_interval": "1s"})
        client.indices.refresh(index=name, request_timeout=600)
    return rate


def timed(client: TestClient, paths: list[str]) -> list[float]:
    times = []
    for path in paths:
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code, response.text[:300])
    return times


def figures(name: str, times: list[float], target: float) -> str:
    p95 = statistics.quantiles(times, n=20)[-1]
    return (f"{name:<34} n={len(times):<4} p50 {statistics.median(times):6.0f} ms  p95 {p95:6.0f} ms  "
            f"max {max(times):6.0f} ms  (target p95 <= {target:.0f} ms: {'met' if p95 <= target else 'NOT met'})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--alerts", type=int, default=2_000_000, help="incidents to load, one alert each")
    parser.add_argument("--requests", type=int, default=100, help="timed requests per kind")
    parser.add_argument("--state-dir", type=Path, help="dev servers' state (default: a temporary one, stopped after)")
    parser.add_argument("--reuse", help="skip loading: the index suffix a previous run printed")
    args = parser.parse_args()
    registry = Registry.load(REGISTRY)
    agencies = sorted(registry.agencies)
    temporary = None if args.state_dir else tempfile.TemporaryDirectory(prefix="socpipe-bench-console-")
    state_dir = args.state_dir or Path(temporary.name) / "servers"  # type: ignore[union-attr]
    endpoints = servers.up(state_dir)
    try:
        client = OpenSearch(endpoints.opensearch, timeout=120)
        suffix = args.reuse or uuid.uuid4().hex[:6]
        index, alerts = f"incidents-bench-{suffix}", f"alerts-bench-{suffix}"
        if not args.reuse:
            print(f"loading {args.alerts:,} incidents and {args.alerts:,} alerts (suffix {suffix}) ...", flush=True)
            rate = load(client, index, alerts, args.alerts, agencies)
            print(f"loaded at {rate:,.0f} documents/s", flush=True)
        # Uncached figures: OpenSearch's shard request cache would answer repeated grouped counts from memory.
        client.indices.put_settings(index=f"{index},{alerts}-*", body={"index.requests.cache.enable": False})
        counts = [client.count(index=name)["count"] for name in (index, f"{alerts}-*")]
        print(f"incidents: {counts[0]:,}, alerts: {counts[1]:,}")
        with tempfile.TemporaryDirectory(prefix="socpipe-bench-console-") as tmp:
            store = IncidentStore(client, index, Path(tmp) / "lake", alerts=alerts,
                                  saved_filters=f"console-filters-bench-{suffix}")
            users = Users(Path(tmp) / "users.yaml")
            users.add("analyst", PASSWORD, "analyst")
            province_unit = max(agencies, key=lambda a: len(registry.subtree(a)) if registry.agencies[a].parent else 0)
            users.add("contact", PASSWORD, "agency", province_unit)
            app = TestClient(create_app(store, users, registry, "bench-secret"))
            pick = random.Random(7)

            def sign_in(name: str) -> None:
                app.cookies.clear()
                assert app.post("/login", data={"username": name, "password": PASSWORD},
                                follow_redirects=False).status_code == 303

            sign_in("analyst")
            groups = ("rule", "agency", "host", "level", "status")
            filters = ("", "&level=high", "&status=new", f"&agency={agencies[0]}", "&q=may", "&level=low&status=new")
            queue = [f"/?group={pick.choice(groups)}{pick.choice(filters)}" for _ in range(args.requests)]
            timed(app, queue[:5])  # warm caches as a working console has them
            results = [figures("queue page + grouped counts", timed(app, queue), 300)]
            first = app.get("/?group=rule").text
            cursor = first.split('after=')[1].split('"')[0] if 'after=' in first else None
            if cursor:
                results.append(figures("queue next page (search_after)",
                                       timed(app, [f"/?group=rule&after={cursor}"] * max(20, args.requests // 5)), 300))
            views = [f"/incidents/i{pick.randrange(args.alerts):09d}" for _ in range(args.requests)]
            timed(app, views[:5])
            results.append(figures("incident view", timed(app, views), 200))
            sign_in("contact")
            scoped = [f"/?group={pick.choice(groups)}{pick.choice(filters[:3])}" for _ in range(args.requests)]
            timed(app, scoped[:5])
            results.append(figures(f"agency user's queue ({province_unit})", timed(app, scoped), 300))
        print("\n".join(results))
        with open("/proc/loadavg") as f:
            print(f"load average during the run: {f.read().strip()}")
    finally:
        if temporary is not None:
            servers.down(state_dir)
            temporary.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
