"""The console against a real OpenSearch: per-agency scope on every route (table-driven over the app's own
routes), read-only auditors, CSRF, concurrent edits, and the action log in the store and the lake."""

from __future__ import annotations

import pytest
from console_fixtures import PASSWORD, console, sign_in
from fastapi.routing import APIRoute

from alerting.actions import read_lake

pytestmark = pytest.mark.slow

OTHER = "xa-binh-lac"  # never visible to the skhcn user


@pytest.fixture
def setup(dev_servers, tmp_path):
    client, store, incidents = console(dev_servers, tmp_path)
    by_agency = {i["agency"]["id"]: i["incident_id"] for i in incidents}
    return client, store, incidents, by_agency, tmp_path


# Every route of the app, with what each kind of caller must get. A new route without a line here fails.
def route_cases(own: str, other: str) -> dict[tuple[str, str], dict]:
    return {
        ("GET", "/login"): {"path": "/login", "anonymous": 200},
        ("POST", "/login"): {"path": "/login", "anonymous": 422},  # no form: refused, nothing revealed
        ("POST", "/logout"): {"path": "/logout", "form": {}},
        ("GET", "/"): {"path": f"/?agency={OTHER}&group=agency"},
        ("GET", "/incidents/{incident_id}"): {"path": f"/incidents/{other}", "own": f"/incidents/{own}"},
        ("POST", "/incidents/{incident_id}/actions"): {"path": f"/incidents/{other}/actions",
                                                        "form": {"kind": "comment", "note": "x"}},
        ("POST", "/bulk"): {"path": "/bulk", "form": {"kind": "status", "value": "closed", "id": [other]}},
        ("GET", "/api/openapi.json"): {"path": "/api/openapi.json"},
        ("GET", "/api/session"): {"path": "/api/session"},
        ("GET", "/api/incidents"): {"path": f"/api/incidents?agency={OTHER}"},
        ("GET", "/api/groups"): {"path": "/api/groups?by=agency"},
        ("GET", "/api/incidents/{incident_id}"): {"path": f"/api/incidents/{other}", "own": f"/api/incidents/{own}"},
        ("POST", "/api/incidents/{incident_id}/actions"): {"path": f"/api/incidents/{other}/actions",
                                                            "json": {"kind": "comment", "note": "x"}},
    }


def _routes(app) -> set[tuple[str, str]]:
    return {(method, r.path) for r in app.routes if isinstance(r, APIRoute) for method in r.methods}


def test_every_route_applies_the_scope(setup):
    client, store, incidents, by_agency, _ = setup
    own, other = by_agency["skhcn"], by_agency[OTHER]
    cases = route_cases(own, other)
    assert _routes(client.app) == set(cases)  # a route without a case here is a route without a scope check

    for (method, _), case in cases.items():  # anonymous: the login page and nothing else
        response = client.request(method, case["path"], follow_redirects=False, data=case.get("form"),
                                  json=case.get("json"))
        expected = case.get("anonymous")
        if expected:
            assert response.status_code == expected, (method, case)
        else:
            assert response.status_code in (401, 303), (method, case, response.status_code)
            assert response.status_code == 401 or response.headers["location"] == "/login"
            assert other not in response.text and OTHER not in response.text

    csrf = sign_in(client, "khcn")
    for (method, _), case in cases.items():
        if method != "GET" or case["path"] in ("/login",):
            continue
        response = client.get(case["path"])
        assert other not in response.text and "web-xa" not in response.text, case["path"]
        assert "Web shell" not in response.text, case["path"]
        if "own" in case:
            assert client.get(case["own"]).status_code == 200
    queue = client.get("/api/incidents").json()
    assert {i["agency"]["id"] for i in queue["incidents"]} == {"skhcn"} and queue["total"] == 2
    assert client.get(f"/api/incidents?agency={OTHER}").json()["total"] == 0  # tampering finds nothing
    for by in ("agency", "rule", "host", "level", "status"):
        groups = client.get(f"/api/groups?by={by}").json()["groups"]
        assert sum(n for _, n in groups) == 2 and OTHER not in str(groups) and "r-web" not in str(groups)
    assert client.get("/api/groups?by=agency.id").status_code == 400
    # Writes outside the scope: the same 404 as a missing incident; inside, only what an agency may do.
    assert client.post(f"/api/incidents/{other}/actions", json={"kind": "comment"},
                       headers={"X-CSRF-Token": csrf}).status_code == 404
    assert client.post("/bulk", data={"kind": "comment", "id": [other], "csrf": csrf}).status_code == 404
    assert client.post(f"/api/incidents/{own}/actions", json={"kind": "status", "value": "closed"},
                       headers={"X-CSRF-Token": csrf}).status_code == 403
    acked = client.post(f"/api/incidents/{own}/actions", json={"kind": "acknowledge", "note": "Đang xử lý"},
                        headers={"X-CSRF-Token": csrf})
    assert acked.status_code == 200 and acked.json()["incident"]["acknowledged_by"] == "khcn"


def test_auditors_read_everything_and_change_nothing(setup):
    client, store, incidents, by_agency, _ = setup
    csrf = sign_in(client, "auditor")
    assert client.get("/api/incidents").json()["total"] == len(incidents)
    for kind in ("acknowledge", "comment", "assign", "status", "verdict"):
        response = client.post(f"/api/incidents/{by_agency[OTHER]}/actions", json={"kind": kind, "value": "closed"},
                               headers={"X-CSRF-Token": csrf})
        assert response.status_code == 403, kind
    assert client.get(f"/api/incidents/{by_agency[OTHER]}").json()["incident"]["status"] == "new"


def test_csrf_rate_limit_and_disabled_accounts(setup):
    client, store, incidents, by_agency, tmp_path = setup
    sign_in(client, "analyst")
    target = f"/api/incidents/{by_agency[OTHER]}/actions"
    assert client.post(target, json={"kind": "comment"}).status_code == 403  # no token
    assert client.post(target, json={"kind": "comment"}, headers={"X-CSRF-Token": "forged"}).status_code == 403
    headers = client.get("/").headers
    assert "frame-ancestors 'none'" in headers["content-security-policy"] and headers["x-frame-options"] == "DENY"
    client.cookies.clear()
    for _ in range(5):
        assert "Sai tên đăng nhập" in client.post("/login", data={"username": "analyst", "password": "no"}).text
    locked = client.post("/login", data={"username": "analyst", "password": PASSWORD}, follow_redirects=False)
    assert locked.status_code == 200 and "Quá nhiều lần thử" in locked.text  # refused even with the right one
    assert "socpipe_session" not in locked.headers.get("set-cookie", "")


def test_concurrent_edits_conflict_and_the_action_log_is_complete(setup):
    client, store, incidents, by_agency, tmp_path = setup
    csrf = sign_in(client, "analyst")
    target = by_agency["vp-ubnd"]
    seen = client.get(f"/api/incidents/{target}").json()
    stale = {"seq_no": seen["seq_no"], "primary_term": seen["primary_term"]}
    first = client.post(f"/api/incidents/{target}/actions", json={"kind": "assign", "value": "an", **stale},
                        headers={"X-CSRF-Token": csrf})
    second = client.post(f"/api/incidents/{target}/actions", json={"kind": "assign", "value": "binh", **stale},
                         headers={"X-CSRF-Token": csrf})
    assert first.status_code == 200 and second.status_code == 409
    for kind, value in (("verdict", "false_positive"), ("status", "closed")):
        assert client.post(f"/api/incidents/{target}/actions", json={"kind": kind, "value": value, "note": "lab"},
                           headers={"X-CSRF-Token": csrf}).status_code == 200
    done = client.get(f"/api/incidents/{target}").json()
    incident = done["incident"]
    assert (incident["assignee"], incident["verdict"], incident["status"]) == ("an", "false_positive", "closed")
    assert incident["ttc_seconds"] > 0 and incident["tta_seconds"] == incident["ttc_seconds"]
    assert [a["kind"] for a in done["history"]] == ["assign", "verdict", "status"]
    lake = [a for a in read_lake(tmp_path / "lake") if a.target_id == target]
    assert [(a.kind, a.after.get("assignee") or a.after.get("verdict") or a.after.get("status")) for a in lake] == \
        [("assign", "an"), ("verdict", "false_positive"), ("status", "closed")]
    assert lake[0].before == {"assignee": None} and lake[0].actor == "analyst"
