"""`socpipe demo --serve`: the demo's results in the console, so a newcomer sees the product in a browser.

After `socpipe demo` has written its alerts and incidents, this starts the dev servers (socpipe/dev/servers.py,
as `socpipe dev up` does; those already running are reused), indexes the alerts and incidents into that
OpenSearch, creates demo accounts with new random passwords (printed once: an analyst, an auditor and an agency
contact for each of the two agencies with the most incidents), and serves the console until Ctrl-C.
"""

from __future__ import annotations

import copy
import json
import secrets
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from opensearchpy import OpenSearch

from dashboards.console.serve import serve
from dashboards.console.store import load_incidents
from dashboards.console.users import Users
from socpipe import search
from socpipe.config import Config
from socpipe.demo import REGISTRY
from socpipe.dev import servers
from socpipe.registry import Registry

AGENCY_USERS = 2


def serve_demo(config: Config, out: Path) -> int:
    state_dir = config.path("dev", "state_dir")
    assert state_dir is not None
    endpoints = servers.up(state_dir, config.get("dev", "kafka_port"), config.get("dev", "opensearch_port"))
    demo = _demo_config(config, endpoints.opensearch, out)
    client = search.client(demo)
    alerts = _load_alerts(client, demo, out / "alerts.jsonl")
    incidents = load_incidents(client, demo.get("incidents", "index"), out / "incidents.jsonl",
                               demo.get("opensearch", "replicas"))
    print(f"loaded {alerts} alerts and {incidents} incidents into {endpoints.opensearch}", flush=True)
    accounts = _demo_users(demo, out / "incidents.jsonl")
    print("demo users (new passwords at every start):", flush=True)
    for name, role, password in accounts:
        print(f"  {name:<12} {role:<24} {password}", flush=True)
    print(f"console: http://{demo.get('console', 'host')}:{demo.get('console', 'port')}/ (Ctrl-C stops it; "
          f"`socpipe dev down` stops the servers)", flush=True)
    return serve(demo)


def _demo_config(config: Config, opensearch: str, out: Path) -> Config:
    """The configuration with the dev OpenSearch, the demo's registry, and accounts and tuning in `out`."""
    data = copy.deepcopy(config.data)
    data["opensearch"]["url"] = opensearch
    data["registry"] = str(REGISTRY)
    data["lake"]["path"] = str((out / "lake").resolve())
    data["console"]["users_file"] = str((out / "users.yaml").resolve())
    data["console"]["tuning_dir"] = data["console"]["tuning_dir"] or str((out / "tuning").resolve())
    return Config(data, config.base_dir)


def _load_alerts(client: OpenSearch, config: Config, path: Path) -> int:
    """The demo's alerts into the daily alerts indices, as the streaming job writes them."""
    prefix = config.get("run", "alerts_index")
    search.ensure_templates(client, {"alerts": prefix}, config.get("opensearch", "replicas"))
    today = datetime.now(UTC).date().isoformat()
    docs = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    rejected = search.write(client, [(search.index_name(prefix, d.get("@timestamp") or today),
                                      search.document_id(d["alert_id"]), json.dumps(d, ensure_ascii=False))
                                     for d in docs])
    for r in rejected:
        print(f"alert {r.doc_id} refused by the store: {r.reason}", flush=True)
    client.indices.refresh(index=f"{prefix}-*")
    return len(docs) - len(rejected)


def _demo_users(config: Config, incidents: Path) -> list[tuple[str, str, str]]:
    """A fresh users file: (name, role, password) of each demo account."""
    path = config.path("console", "users_file")
    assert path is not None
    path.unlink(missing_ok=True)
    users = Users(path)
    registry = Registry.load(REGISTRY)
    counts = Counter((json.loads(line).get("agency") or {}).get("id")
                     for line in incidents.read_text(encoding="utf-8").splitlines() if line.strip())
    agencies = [a for a, _ in counts.most_common() if a in registry.agencies][:AGENCY_USERS]
    accounts = [("analyst", "analyst", None, "analyst"), ("auditor", "auditor", None, "auditor")] + [
        (agency, "agency", agency, f"agency: {agency}") for agency in agencies]
    made = []
    for name, role, agency, shown in accounts:
        password = secrets.token_urlsafe(12)
        users.add(name, password, role, agency, "vi")
        made.append((name, shown, password))
    return made
