"""Shared by the console tests: demo-registry incidents of three agencies in a real OpenSearch, and users."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

from fastapi.testclient import TestClient

from alerting.incidents import batch_incidents
from dashboards.console.app import create_app
from dashboards.console.store import IncidentStore, load_incidents
from dashboards.console.users import Users
from socpipe.demo import REGISTRY
from socpipe.registry import Registry

PASSWORD = "Mật-khẩu đủ dài 2026"
# (rule, title, level, agency, host, minute): skhcn is the agency user's own; xa-binh-lac's parent is not skhcn.
ALERTS = [("r-ssh", "SSH brute force", "low", "vp-ubnd", "portal", m) for m in (0, 5, 10)] + [
    ("r-ps", "Encoded PowerShell", "high", "skhcn", "ws-skhcn-01", 1),
    ("r-ps", "Encoded PowerShell", "high", "skhcn", "ws-skhcn-02", 2),
    ("r-web", "Web shell upload", "critical", "xa-binh-lac", "web-xa", 3),
]


def alerts() -> list[dict]:
    return [{"alert_id": f"a{n}", "@timestamp": f"2026-03-14T02:{minute:02d}:00+00:00",
             "rule": {"id": rule, "title": title, "level": level, "tags": ["attack.t1059"]},
             "host": {"name": host}, "agency": {"id": agency}}
            for n, (rule, title, level, agency, host, minute) in enumerate(ALERTS)]


def console(dev_servers, tmp_path: Path) -> tuple[TestClient, IncidentStore, list[dict]]:
    from opensearchpy import OpenSearch

    client = OpenSearch(dev_servers.opensearch, timeout=30)
    index = f"incidents-test-{uuid.uuid4().hex[:8]}"
    incidents = batch_incidents(alerts(), 3600)
    path = tmp_path / "incidents.jsonl"
    path.write_text("".join(json.dumps(i) + "\n" for i in incidents), encoding="utf-8")
    load_incidents(client, index, path)
    store = IncidentStore(client, index, tmp_path / "lake")
    users = Users(tmp_path / "users.yaml")
    users.add("analyst", PASSWORD, "analyst", language="en")
    users.add("khcn", PASSWORD, "agency", "skhcn")
    users.add("auditor", PASSWORD, "auditor")
    app = create_app(store, users, Registry.load(REGISTRY), "test-secret")
    return TestClient(app), store, incidents


def sign_in(client: TestClient, name: str) -> str:
    """Sign in; returns the session's CSRF token."""
    client.cookies.clear()
    response = client.post("/login", data={"username": name, "password": PASSWORD}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return client.get("/api/session").json()["csrf"]


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)
