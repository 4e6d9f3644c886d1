"""Acknowledgement links through the app `socpipe serve` builds (dashboards/console/serve.py; without a
search store it serves the links alone, tests/test_notify_search.py has it beside the console): a valid
link shows a bilingual confirmation and only the POST records who, when and the comment; expired,
tampered, malformed, replayed and closed links are refused in Vietnamese and English."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from alerting.ack import make_token, token_key
from alerting.actions import read_lake
from alerting.notify_run import open_state
from dashboards.console import serve
from socpipe.config import Config, load_config
from socpipe.demo import REGISTRY

SECRET = "ack-links-test-secret"


@pytest.fixture
def setup(tmp_path: Path) -> tuple[TestClient, Config]:
    config = load_config(environ={"SOCPIPE__REGISTRY": str(REGISTRY),
                                  "SOCPIPE__NOTIFY__STATE_PATH": str(tmp_path / "state.sqlite"),
                                  "SOCPIPE__LAKE__PATH": str(tmp_path / "lake"),
                                  "SOCPIPE__NOTIFY__ACK_SECRET": SECRET})
    store, _ = open_state(config)
    detected = (datetime.now(UTC) - timedelta(minutes=10)).isoformat()
    for ident, status in (("i1", "new"), ("i2", "new"), ("closed1", "closed")):
        store.put("incident", ident, {"incident_id": ident, "@timestamp": detected, "level": "critical",
                                      "status": status, "agency": {"id": "snv"}, "host": {"name": "may-chu-01"},
                                      "rule": {"id": "r", "title": "Mã độc tống tiền", "level": "critical"}})
    return TestClient(serve.build(config)), config  # no search store: `socpipe serve` answers the links only


def token(incident: str = "i1", hours: float = 72, secret: str = SECRET) -> str:
    return make_token(secret, incident, "snv-it", datetime.now(UTC) + timedelta(hours=hours))


def test_a_valid_link_confirms_then_records_who_when_and_the_comment(setup):
    client, config = setup
    t = token()
    for _ in range(2):  # opening (a mail scanner, a second look) acknowledges nothing
        page = client.get(f"/ack?t={t}")
        assert page.status_code == 200
        assert "Xác nhận đã tiếp nhận · Acknowledge" in page.text and "Võ Thị Lan (Sở Nội vụ)" in page.text
        assert "NGHIÊM TRỌNG · CRITICAL" in page.text and "Mã độc tống tiền" in page.text
        assert page.headers["Referrer-Policy"] == "same-origin"  # the token never leaves in a Referer
    store, _ = open_state(config)
    assert store.get("incident", "i1")["status"] == "new"

    done = client.post("/ack", data={"t": t, "comment": "  Đã cách ly máy chủ  "})
    assert done.status_code == 200
    assert "Đã ghi nhận: Võ Thị Lan (Sở Nội vụ) xác nhận" in done.text and "Recorded: Võ Thị Lan" in done.text
    incident = store.get("incident", "i1")
    assert incident["status"] == "acknowledged" and incident["acknowledged_by"] == "contact:snv-it"
    assert 590 <= incident["tta_seconds"] <= 700
    (action,) = read_lake(config.path("lake", "path"))
    assert (action.kind, action.actor, action.target_id, action.agency_id) == ("acknowledge", "contact:snv-it",
                                                                             "i1", "snv")
    assert action.detail == {"via": "link", "comment": "Đã cách ly máy chủ"}
    assert action.before["status"] == "new" and action.after["status"] == "acknowledged"

    replay = client.post("/ack", data={"t": t, "comment": "again"})
    assert replay.status_code == 409 and "đã được sử dụng" in replay.text and "already used" in replay.text
    assert client.get(f"/ack?t={t}").status_code == 409
    assert len(read_lake(config.path("lake", "path"))) == 1
    assert client.get("/", follow_redirects=False).status_code == 404  # no console without a search store
    assert client.get("/static/console.css").status_code == 200


@pytest.mark.parametrize(("make", "status", "vi", "en"), [
    (lambda: token(hours=-1), 410, "đã hết hạn", "has expired"),
    (lambda: token(secret="someone-else"), 400, "chữ ký không khớp", "signature does not match"),
    (lambda: token()[:-3] + ("AAA" if not token().endswith("AAA") else "BBB"), 400, "không hợp lệ", "not valid"),
    (lambda: "abc", 400, "không đầy đủ", "incomplete"),
    (lambda: token("closed1"), 409, "không còn chờ xác nhận", "no longer awaits"),
    (lambda: token("nope"), 404, "Không tìm thấy", "not found"),
], ids=["expired", "other-key", "tampered", "malformed", "closed", "unknown"])
def test_refused_links_say_why_in_both_languages(setup, make, status, vi, en):
    client, config = setup
    t = make()
    for answer in (client.get(f"/ack?t={t}"), client.post("/ack", data={"t": t})):
        assert answer.status_code == status and vi in answer.text and en in answer.text
        assert "<form" not in answer.text
    api = client.post("/api/ack", json={"token": t})
    assert api.status_code == status and api.json()["acknowledged"] is False
    assert vi in api.json()["message"]["vi"] and en in api.json()["message"]["en"]
    assert read_lake(config.path("lake", "path")) == []


def test_a_tampered_payload_cannot_point_at_another_incident(setup):
    client, _ = setup
    payload, signature = token("i1").split(".")
    other_payload = token("i2").split(".")[0]
    assert client.post("/ack", data={"t": f"{other_payload}.{signature}"}).status_code == 400
    assert payload != other_payload


def test_two_clicks_at_once_acknowledge_once(setup):
    client, config = setup
    t = token("i2")
    answers: list[int] = []
    threads = [threading.Thread(target=lambda: answers.append(client.post("/ack", data={"t": t}).status_code))
               for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [200, 409, 409, 409]
    assert [a.kind for a in read_lake(config.path("lake", "path"))] == ["acknowledge"]
    store, _ = open_state(config)
    assert store.get("token", token_key(t))["contact"] == "snv-it"


def test_without_an_ack_secret_links_are_refused(tmp_path):
    config = load_config(environ={"SOCPIPE__NOTIFY__STATE_PATH": str(tmp_path / "s.sqlite"),
                                  "SOCPIPE__LAKE__PATH": str(tmp_path / "lake")})
    answer = TestClient(serve.build(config)).get(f"/ack?t={token()}")
    assert answer.status_code == 503 and "chưa được cấu hình" in answer.text and "not configured" in answer.text
