"""Shared by the console tests: demo-registry incidents of three agencies in a real OpenSearch, and users."""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from pathlib import Path

from fastapi.testclient import TestClient

from alerting.incidents import batch_incidents
from dashboards.console import rule_book
from dashboards.console.app import create_app
from dashboards.console.store import IncidentStore, load_incidents
from dashboards.console.suppress import Tuning
from dashboards.console.users import Users
from rules.compiler import load_rules
from socpipe import search
from socpipe.demo import REGISTRY
from socpipe.registry import Registry

PASSWORD = "Mật-khẩu đủ dài 2026"
PS_RULE = "3b1f0e6a-8d52-4c1e-9f7a-2a6c5d4e3f10"  # a real Sigma rule (RULES below), for suppress-from-alert
RULES = f"""title: Encoded PowerShell
id: {PS_RULE}
description: PowerShell started with a base64-encoded command, which attackers use to hide what it runs.
falsepositives:
    - Backup and management scripts that encode their commands
tags:
    - attack.execution
    - attack.t1059.001
logsource: {{product: windows, category: process_creation}}
detection:
    sel: {{CommandLine|contains: ' -enc '}}
    condition: sel
level: high
"""
POWERSHELL = "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe"
# (rule, title, level, agency, host, minute): skhcn is the agency user's own; xa-binh-lac's parent is not skhcn.
ALERTS = [("r-ssh", "SSH brute force", "low", "vp-ubnd", "portal", m) for m in (0, 5, 10)] + [
    (PS_RULE, "Encoded PowerShell", "high", "skhcn", "ws-skhcn-01", 1),
    (PS_RULE, "Encoded PowerShell", "high", "skhcn", "ws-skhcn-02", 2),
    ("r-web", "Web shell upload", "critical", "xa-binh-lac", "web-xa", 3),
]


def alerts() -> list[dict]:
    return [{"alert_id": f"a{n}", "@timestamp": f"2026-03-14T02:{minute:02d}:00+00:00",
             "rule": {"id": rule, "title": title, "level": level, "tags": ["attack.t1059"]},
             "host": {"name": host}, "agency": {"id": agency}, "event": event(host, minute)}
            for n, (rule, title, level, agency, host, minute) in enumerate(ALERTS)]


def event(host: str, minute: int) -> dict:
    """The native event: the same backup job's PowerShell (a path with backslashes) on both skhcn hosts."""
    if host.startswith("ws-skhcn"):
        return {"Image": POWERSHELL, "User": "SKHCN\\backup", "Computer": host, "EventID": "1",
                "CommandLine": f"powershell.exe -nop -enc SQBFAFgA{minute} *"}
    return {"message": f"event on {host}", "Computer": host}


def console(dev_servers, tmp_path: Path) -> tuple[TestClient, IncidentStore, list[dict]]:
    """The app over fresh indices (incidents, alerts with their events, saved filters), with RULES in
    tmp_path/rules and a tuning folder tmp_path/tuning that is a git repository (filters are committed)."""
    from opensearchpy import OpenSearch

    client = OpenSearch(dev_servers.opensearch, timeout=30)
    name = uuid.uuid4().hex[:8]
    index, alerts_prefix = f"incidents-test-{name}", f"alerts-test-{name}"
    incidents = batch_incidents(alerts(), 3600)
    path = tmp_path / "incidents.jsonl"
    path.write_text("".join(json.dumps(i) + "\n" for i in incidents), encoding="utf-8")
    load_incidents(client, index, path)
    search.ensure_index(client, search.index_name(alerts_prefix, "2026-03-14"), search.MAPPINGS["alerts"], 0)
    search.write(client, [(search.index_name(alerts_prefix, a["@timestamp"]), a["alert_id"], json.dumps(a))
                          for a in alerts()])
    client.indices.refresh(index=f"{alerts_prefix}-*")
    store = IncidentStore(client, index, tmp_path / "lake", alerts=alerts_prefix,
                          saved_filters=f"console-filters-test-{name}", events=f"events-test-{name}")
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "powershell.yml").write_text(RULES, encoding="utf-8")
    logsources = {r.id: r.logsource for r in load_rules([tmp_path / "rules"]).rules}
    subprocess.run(["git", "init", "-q", str(tmp_path / "tuning")], check=True)
    tuning = Tuning(tmp_path / "tuning", True, logsources.get)
    users = Users(tmp_path / "users.yaml")
    users.add("analyst", PASSWORD, "analyst", language="en")
    users.add("an", PASSWORD, "analyst")
    users.add("khcn", PASSWORD, "agency", "skhcn")
    users.add("auditor", PASSWORD, "auditor")
    app = create_app(store, users, Registry.load(REGISTRY), "test-secret", tuning=tuning,
                     rules=rule_book.book(lambda: [tmp_path / "rules"]), reports_dir=tmp_path / "audit-out")
    return TestClient(app), store, incidents


def sign_in(client: TestClient, name: str) -> str:
    """Sign in; returns the session's CSRF token."""
    client.cookies.clear()
    response = client.post("/login", data={"username": name, "password": PASSWORD}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return client.get("/api/session").json()["csrf"]


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)
