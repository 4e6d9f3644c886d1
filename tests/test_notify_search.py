"""Layer 1 on the search store, as deployed: layer-2 incidents in OpenSearch, `socpipe notify --once` (twice:
a restart sends nothing again) mailing aiosmtpd, and the link acknowledged through the app `socpipe serve`
builds, visible to the console and in the `actions` index; detection's own fields are left alone."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from fastapi.testclient import TestClient

from alerting.incidents import batch_incidents
from alerting.notify_run import run_command
from alerting.notify_sink import SmtpSink
from dashboards.console import serve
from dashboards.console.store import load_incidents
from socpipe.config import load_config
from socpipe.demo import REGISTRY

pytestmark = pytest.mark.slow
SECRET = "search-ack-secret"


def test_notify_and_acknowledge_through_the_search_store(dev_servers, tmp_path):
    from opensearchpy import OpenSearch

    search = OpenSearch(dev_servers.opensearch, timeout=30)
    index = f"incidents-notify-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC) - timedelta(minutes=2)
    alerts = [{"alert_id": f"al{n}", "@timestamp": (now + timedelta(seconds=n)).isoformat(),
               "rule": {"id": "r-ps", "title": "PowerShell mã hóa", "level": "high", "tags": []},
               "host": {"name": host}, "agency": {"id": agency}}
              for n, (agency, host) in enumerate([("skhcn", "ws-01"), ("xa-binh-lac", "web-xa")])]
    incidents = batch_incidents(alerts, 3600)
    path = tmp_path / "incidents.jsonl"
    path.write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in incidents), encoding="utf-8")
    load_incidents(search, index, path)
    by_agency = {i["agency"]["id"]: i["incident_id"] for i in incidents}

    with SmtpSink() as smtp:
        config_path = tmp_path / "socpipe.yaml"
        config_path.write_text(yaml.safe_dump({
            "registry": str(REGISTRY), "lake": {"path": "lake"}, "opensearch": {"url": dev_servers.opensearch},
            "incidents": {"index": index}, "console": {"users_file": "users.yaml"},
            "notify": {"route": {"group_wait": 0}, "base_url": "http://127.0.0.1:8400",
                       "smtp": {"host": "127.0.0.1", "port": smtp.port, "security": "none"}}}), encoding="utf-8")
        config = load_config(config_path, environ={"SOCPIPE__NOTIFY__ACK_SECRET": SECRET})
        assert run_command(True, None, config) == 0
        assert run_command(True, None, config) == 0  # a new process: state from the store, nothing twice
        received = smtp.messages()
    assert sorted(m.rcpt_tos for m in received) == [("it.binhlac@ankhanh.example",), ("it.skhcn@ankhanh.example",)]
    skhcn = next(m for m in received if m.rcpt_tos == ("it.skhcn@ankhanh.example",))
    assert skhcn.mail["X-Socpipe-Incidents"] == by_agency["skhcn"]
    link = re.search(r"http://127\.0\.0\.1:8400(/ack\?t=\S+)", skhcn.mail.get_body().get_content())
    assert link

    search.update(index=index, id=by_agency["skhcn"], body={"doc": {"count": 7}}, refresh=True)  # detection
    client = TestClient(serve.build(config))
    assert client.get(link.group(1)).status_code == 200
    token = link.group(1).split("t=", 1)[1]
    assert client.post("/ack", data={"t": token, "comment": "đang kiểm tra"}).status_code == 200
    assert client.post("/ack", data={"t": token}).status_code == 409

    doc = search.get(index=index, id=by_agency["skhcn"])["_source"]
    assert doc["status"] == "acknowledged" and doc["acknowledged_by"] == "contact:skhcn-it"
    assert doc["count"] == 7 and doc["agency"]["id"] == "skhcn"  # detection's update kept
    search.indices.refresh(index="actions")
    found = search.search(index="actions", body={"query": {"bool": {"filter": [
        {"term": {"target_id": by_agency["skhcn"]}}, {"term": {"kind": "acknowledge"}}]}}})
    (hit,) = found["hits"]["hits"]
    assert hit["_source"]["actor"] == "contact:skhcn-it" and hit["_source"]["detail"]["comment"] == "đang kiểm tra"
    other = search.get(index=index, id=by_agency["xa-binh-lac"])["_source"]
    assert other["status"] == "new"

    closed = by_agency["xa-binh-lac"]
    search.update(index=index, id=closed, body={"doc": {"status": "closed", "closed_at": now.isoformat()}},
                  refresh=True)
    with SmtpSink(port=smtp.port) as smtp:
        assert run_command(True, None, config) == 0  # the resolved notice; then its state is forgotten
        assert run_command(True, None, config) == 0
        (resolved,) = smtp.messages()
    assert resolved.rcpt_tos == ("it.binhlac@ankhanh.example",) and str(resolved.mail["Subject"]).startswith(
        "[Đã xử lý]")
    assert not search.exists(index="notify-state", id=f"track:{closed}")
    assert search.exists(index="notify-state", id=f"track:{by_agency['skhcn']}")  # still open (acknowledged)
