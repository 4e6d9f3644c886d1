"""The console against a real OpenSearch: per-agency scope on every route (table-driven over the app's own
routes), read-only auditors, CSRF, concurrent edits, and the action log in the store and the lake."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from console_fixtures import PASSWORD, PS_RULE, alerts, console, csrf_of, sign_in
from fastapi.routing import APIRoute

from alerting.actions import ACTIONS_INDEX, Action, read_lake, search_documents
from alerting.tuning import Tuning
from dashboards.console.i18n import local_time
from dashboards.console.serve import agency_aliases
from dashboards.console.users import Users
from rules.compiler import load_rules
from socpipe import search
from socpipe.demo import REGISTRY
from socpipe.registry import Registry

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
        ("GET", "/incidents/{incident_id}/suppress"): {"path": f"/incidents/{other}/suppress?field=Computer"},
        ("POST", "/incidents/{incident_id}/suppress"): {"path": f"/incidents/{other}/suppress",
                                                         "form": {"field": "Computer"}},
        ("POST", "/api/incidents/{incident_id}/suppress"): {"path": f"/api/incidents/{other}/suppress",
                                                             "json": {"fields": ["Computer"], "confirm": True}},
        ("POST", "/filters"): {"path": "/filters", "form": {"name": "theirs", "agency": OTHER}},
        ("GET", "/api/filters"): {"path": "/api/filters"},
        ("POST", "/api/filters"): {"path": "/api/filters", "json": {"name": "theirs", "params": {"agency": OTHER}}},
        ("DELETE", "/api/filters/{name}"): {"path": "/api/filters/theirs"},
        ("POST", "/api/bulk"): {"path": "/api/bulk", "json": {"kind": "acknowledge", "params": {"agency": OTHER}}},
        ("GET", "/open"): {"path": "/open"},
        ("GET", "/api/open"): {"path": "/api/open"},
        ("GET", "/reports"): {"path": "/reports"},
        ("GET", "/reports/{name:path}"): {"path": "/reports/report.json"},
        ("POST", "/language"): {"path": "/language", "form": {"lang": "en"}},
    }


def _routes(app) -> set[tuple[str, str]]:
    return {(method, r.path) for r in app.routes if isinstance(r, APIRoute) for method in r.methods}


def test_every_route_applies_the_scope(setup):
    client, store, incidents, by_agency, tmp_path = setup
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
    for by in ("agency", "rule", "host", "level", "status", "source"):
        groups = client.get(f"/api/groups?by={by}").json()["groups"]
        assert sum(n for _, n in groups) == (0 if by == "source" else 2)  # (no incident here has a source)
        assert OTHER not in str(groups) and "r-web" not in str(groups)
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
    # Suppressing is the analysts': refused to an agency user before anything is looked up, in scope or not.
    for incident in (own, other):
        assert client.post(f"/api/incidents/{incident}/suppress", json={"fields": ["Computer"]},
                           headers={"X-CSRF-Token": csrf}).status_code == 403
    assert not (tmp_path / "tuning").exists() or list((tmp_path / "tuning").glob("*.yml")) == []
    # Bulk on "all matching": the other agency's incidents are neither counted nor reached, named or filtered.
    for body in ({"kind": "acknowledge", "params": {"agency": OTHER}}, {"kind": "acknowledge", "params": {}}):
        answer = client.post("/api/bulk", json=body, headers={"X-CSRF-Token": csrf}).json()
        assert answer == {"matching": 0 if body["params"] else 2}
    assert client.post("/api/bulk", json={"kind": "acknowledge", "ids": [other], "confirm": True},
                       headers={"X-CSRF-Token": csrf}).status_code == 404
    assert client.post("/api/bulk", json={"kind": "status", "value": "closed", "params": {}},
                       headers={"X-CSRF-Token": csrf}).status_code == 403
    confirm = client.post("/bulk", data={"csrf": csrf, "all": "1", "kind": "acknowledge", "agency": OTHER})
    assert '<b id="bulk-count">0</b>' in confirm.text and other not in confirm.text


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
    second = client.post(f"/api/incidents/{target}/actions", json={"kind": "assign", "value": "analyst", **stale},
                         headers={"X-CSRF-Token": csrf})
    assert first.status_code == 200 and second.status_code == 409
    for nobody in ("binh", "khcn", "auditor"):  # no account, or not an analyst's: nobody to give it to
        assert client.post(f"/api/incidents/{target}/actions", json={"kind": "assign", "value": nobody},
                           headers={"X-CSRF-Token": csrf}).status_code == 400
    assert client.post(f"/api/incidents/{target}/actions", json={"kind": "verdict", "value": "false_positive"},
                       headers={"X-CSRF-Token": csrf}).status_code == 400  # a verdict needs a reason
    assert client.post(f"/api/incidents/{target}/actions", json={"kind": "verdict", "value": "false_positive",
                       "reason": "because"}, headers={"X-CSRF-Token": csrf}).status_code == 400  # from the list
    for kind, value in (("verdict", "false_positive"), ("status", "closed")):
        assert client.post(f"/api/incidents/{target}/actions", json={"kind": kind, "value": value, "note": "lab",
                                                                       "reason": "test_or_exercise"},
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
    assert incident["verdict_reason"] == "test_or_exercise" and lake[1].detail == {"note": "lab"}
    page = client.get(f"/incidents/{target}").text  # the page's form offers the fixed reasons
    assert '<select name="reason" id="verdict-reason">' in page and "<option>rule_too_broad</option>" in page


def test_suppress_from_an_alert_writes_a_filter_socpipe_loads_and_commits_it(setup):
    client, store, incidents, by_agency, tmp_path = setup
    csrf = sign_in(client, "analyst")
    ps = [i["incident_id"] for i in incidents if i["rule"]["id"] == PS_RULE]
    page = client.get(f"/incidents/{ps[0]}").text
    assert 'name="field" value="Image"' in page and "SKHCN\\backup" in page  # every field, tickable
    # The same Image and User on both hosts: the proposal would have removed both stored alerts (two incidents).
    preview = client.post(f"/api/incidents/{ps[0]}/suppress", json={"fields": ["Image", "User"]},
                          headers={"X-CSRF-Token": csrf}).json()
    assert preview["would_remove"] == 2 and "path" not in preview
    assert list((tmp_path / "tuning").glob("*.yml")) == []  # a preview writes nothing
    narrower = client.post(f"/api/incidents/{ps[0]}/suppress", json={"fields": ["Image", "Computer"]},
                           headers={"X-CSRF-Token": csrf}).json()
    assert narrower["would_remove"] == 1
    assert client.post(f"/api/incidents/{ps[0]}/suppress", json={"fields": ["NoSuchField"]},
                       headers={"X-CSRF-Token": csrf}).status_code == 400
    shown = client.get(f"/incidents/{ps[0]}/suppress?field=Image&field=User")
    assert shown.status_code == 200 and '<b id="would-remove">2</b>' in shown.text

    written = client.post(f"/api/incidents/{ps[0]}/suppress", json={"fields": ["Image", "User"], "confirm": True},
                          headers={"X-CSRF-Token": csrf}).json()
    path = Path(written["path"])
    assert path.parent == tmp_path / "tuning" and written["would_remove"] == 2
    document = yaml.safe_load(path.read_text())
    assert document["filter"]["rules"] == [PS_RULE] and document["filter"]["condition"] == "not selection"
    assert document["logsource"] == {"product": "windows", "category": "process_creation"}
    log = subprocess.run(["git", "-C", str(path.parent), "log", "--format=%H %an", "--name-only"],
                         capture_output=True, text=True, check=True).stdout.split()
    assert log == [written["commit"], "analyst", path.name]

    # socpipe's own loader takes the file as a filter of the rule, and the filter takes away exactly the
    # alerts with that Image and User (the backslashes of the path matched literally).
    ruleset = load_rules([tmp_path / "rules", tmp_path / "tuning"])
    assert ruleset.failures == [] and [(f.id, f.rule_ids) for f in ruleset.filters] == \
        [(written["filter_id"], (PS_RULE,))]
    outcome = Tuning.of(ruleset, {}).apply(alerts())
    assert sorted(a["alert_id"] for a in outcome.kept) == sorted(
        a["alert_id"] for a in alerts() if a["rule"]["id"] != PS_RULE)
    assert outcome.counts == {f"filter {written['filter_id']}": 2}
    history = client.get(f"/api/incidents/{ps[0]}").json()["history"]
    assert history[-1]["kind"] == "suppress" and history[-1]["after"]["path"] == path.name

    # The page's way: tick, see the count, confirm; the incident page names the file written.
    page_csrf = csrf_of(client.get(f"/incidents/{ps[1]}").text)
    done = client.post(f"/incidents/{ps[1]}/suppress", data={"csrf": page_csrf, "field": ["Computer"]})
    assert done.status_code == 200 and 'id="suppressed"' in done.text and len(list(path.parent.glob("*.yml"))) == 2
    sign_in(client, "auditor")
    assert client.get(f"/incidents/{ps[0]}/suppress?field=Image").status_code == 403


def test_saved_filters_never_widen_the_scope(setup):
    client, store, incidents, by_agency, _ = setup
    csrf = sign_in(client, "analyst")
    saved = client.post("/api/filters", json={"name": "critical", "params": {"level": "critical"}},
                        headers={"X-CSRF-Token": csrf})
    assert saved.status_code == 200
    assert client.get("/api/incidents?saved=critical").json()["total"] == 1  # the web shell, for the analyst

    csrf = sign_in(client, "khcn")
    assert client.get("/api/filters").json()["filters"] == {}  # another user's filters are not theirs
    assert client.get("/api/incidents?saved=critical").json()["total"] == 2  # unknown to khcn: no filter
    client.post("/api/filters", json={"name": "theirs", "params": {"agency": OTHER}}, headers={"X-CSRF-Token": csrf})
    assert client.get("/api/incidents?saved=theirs").json()["total"] == 0
    # Tampered in the store: a filter of khcn's naming the other agency and carrying a query and a scope of
    # its own. Only the known keys are read, and they are ANDed with khcn's scope.
    store.client.index(index=store.saved, id="forged", refresh="wait_for", body={
        "user": "khcn", "name": "forged", "scope": None, "query": {"match_all": {}},
        "params": {"agency": OTHER, "level": ["critical"], "query": {"match_all": {}}, "agencies": None}})
    store.client.index(index=store.saved, id="forged2", refresh="wait_for", body={
        "user": "khcn", "name": "everything", "params": {}})
    for name, total in (("forged", 0), ("everything", 2)):
        queue = client.get(f"/api/incidents?saved={name}").json()
        assert queue["total"] == total and {i["agency"]["id"] for i in queue["incidents"]} <= {"skhcn"}
        groups = client.get(f"/api/groups?by=agency&saved={name}").json()["groups"]
        assert OTHER not in str(groups)
        page = client.get(f"/?saved={name}&group=agency").text
        assert by_agency[OTHER] not in page and "Web shell" not in page
    assert client.post("/filters", data={"name": "mine", "level": "high", "csrf": csrf},
                       follow_redirects=False).headers["location"] == "/?saved=mine"
    assert client.get("/api/filters").json()["filters"]["mine"] == {"level": "high"}
    assert client.delete("/api/filters/mine", headers={"X-CSRF-Token": csrf}).status_code == 200
    assert client.delete("/api/filters/mine", headers={"X-CSRF-Token": csrf}).status_code == 404


def test_per_agency_filtered_aliases_show_only_the_agency_subtree(setup):
    client, store, incidents, by_agency, _ = setup
    registry = Registry.load(REGISTRY)
    names = agency_aliases(store.client, registry, [store.index, store.alerts])
    assert f"{store.index}-agency-skhcn" in names and f"{store.alerts}-agency-ankhanh" in names
    store.client.indices.refresh(index=f"{store.alerts}-*")
    for agency in ("skhcn", OTHER, "ankhanh", "vp-ubnd"):
        subtree = set(registry.subtree(agency))
        for prefix, documents in ((store.index, incidents), (store.alerts, alerts())):
            found = store.client.search(index=f"{prefix}-agency-{agency}", body={"size": 100})["hits"]["hits"]
            expected = {d["agency"]["id"] for d in documents if d["agency"]["id"] in subtree}
            assert {h["_source"]["agency"]["id"] for h in found} == expected, (prefix, agency)
            assert len(found) == sum(d["agency"]["id"] in subtree for d in documents)
    assert "skhcn" not in set(registry.subtree(OTHER))  # (the test would show nothing if it were)


def _incident(n: int, agency: str, **extra) -> dict:
    return {"incident_id": f"bulk-{agency}-{n:03d}", "@timestamp": "2026-03-15T01:00:00+00:00",
            "first": "2026-03-15T01:00:00+00:00", "last": f"2026-03-15T01:{n % 60:02d}:00+00:00", "count": 1,
            "level": "medium", "status": "new", "rule": {"id": "r-bulk", "title": "Bulk", "tags": []},
            "agency": {"id": agency}, "alert_ids": [], **extra}


def test_queue_filters_each_narrow_on_the_server(setup):
    client, store, incidents, by_agency, _ = setup
    registry = Registry.load(REGISTRY)
    store.client.update(index=store.index, id=by_agency[OTHER], body={"doc": {"system": {"id": "s", "level": 4}}},
                        refresh="wait_for")
    sign_in(client, "analyst")

    def total(query: str) -> int:
        answer = client.get(f"/api/incidents?{query}")
        assert answer.status_code == 200, (query, answer.text)
        return answer.json()["total"]

    assert total("") == 4
    # Most severe first, then newest: the low SSH incident is the newest, yet last.
    assert [(i["level"], i["last"][11:16]) for i in client.get("/api/incidents").json()["incidents"]] == [
        ("critical", "02:03"), ("high", "02:02"), ("high", "02:01"), ("low", "02:10")]
    # A group of the grouped counts is a link to the queue narrowed to it.
    grouped = client.get("/?level=high&group=agency").text
    assert 'href="/?level=high&amp;agency=skhcn&amp;group=agency"' in grouped
    narrowed = client.get("/?level=high&agency=skhcn&group=agency").text
    assert 'id="total">2<' in narrowed
    assert total("level=high") == 2 and total("status=new") == 4 and total(f"rule={PS_RULE}") == 2
    assert total("system_level=4") == 1 and total("system_level=3") == 0
    assert total("tag=attack.t1059") == 4 and total("tag=attack.t1190") == 0
    parent = registry.agencies[OTHER].parent
    assert parent and total(f"agency={parent}") == sum(
        i["agency"]["id"] in registry.subtree(parent) for i in incidents) >= 1  # the subtree, not the unit alone
    assert total(f"agency={OTHER}") == 1
    # Local (Asia/Ho_Chi_Minh) times on `last`: 09:02 there is 02:02 UTC.
    assert total("since=2026-03-14T09:02") == 3 and total("until=2026-03-14T09:01:30") == 1
    assert total("since=2026-03-14T09:01:30&until=2026-03-14T09:02:30") == 1
    assert client.get("/api/incidents?since=yesterday").status_code == 400
    assert client.get("/api/incidents?system_level=high").status_code == 400
    # Free text over the alerts' events (which incidents do not copy), in any case, and over the title.
    assert total("q=SQBFAFgA1") == 1 and total("q=sqbfafga") == 2 and total("q=brute") == 1
    assert total("q=event%20on%20web-xa") == 1
    page = client.get("/?q=sqbfafga&level=high&since=2026-03-14").text
    assert page.count('data-href="/incidents/') == 2 and 'value="2026-03-14"' in page
    sign_in(client, "khcn")
    assert total("q=event%20on%20web-xa") == 0 and total("system_level=4") == 0 and total("q=sqbfafga") == 2
    assert total(f"agency={parent}") == 2  # a wider agency is still narrowed to the caller's scope


def test_bulk_actions_cover_all_matching_not_the_page(setup):
    client, store, incidents, by_agency, _ = setup
    extra = [_incident(n, agency) for agency in ("skhcn", OTHER) for n in range(55)]  # more than a page (50)
    search.write(store.client, [(store.index, i["incident_id"], json.dumps(i)) for i in extra])
    store.client.indices.refresh(index=store.index)
    csrf = sign_in(client, "khcn")
    queue = client.get("/?rule=r-bulk").text
    assert queue.count('data-href="/incidents/') == 50 and 'id="bulk-all-acknowledge"' in queue
    assert 'id="bulk-all-status"' not in queue  # an agency user may not close
    confirm = client.post("/bulk", data={"csrf": csrf, "all": "1", "kind": "acknowledge", "rule": "r-bulk"})
    assert '<b id="bulk-count">55</b>' in confirm.text
    assert client.get("/api/incidents?rule=r-bulk&status=new").json()["total"] == 55  # nothing done yet
    done = client.post("/bulk", data={"csrf": csrf, "all": "1", "confirm": "1", "kind": "acknowledge",
                                      "rule": "r-bulk"}, follow_redirects=False)
    assert done.status_code == 303 and "done=55" in done.headers["location"]
    assert client.get("/api/incidents?rule=r-bulk&status=acknowledged").json()["total"] == 55

    csrf = sign_in(client, "analyst")
    assert client.get("/api/incidents?rule=r-bulk&status=new").json()["total"] == 55  # the other agency's
    body = {"kind": "status", "value": "closed", "params": {"rule": "r-bulk", "status": "new"}}
    assert client.post("/api/bulk", json=body, headers={"X-CSRF-Token": csrf}).json() == {"matching": 55}
    answer = client.post("/api/bulk", json={**body, "confirm": True}, headers={"X-CSRF-Token": csrf}).json()
    assert answer == {"matching": 55, "done": 55, "conflicts": 0}
    closed = client.get(f"/api/incidents?rule=r-bulk&agency={OTHER}&status=closed").json()
    assert closed["total"] == 55 and all(i["ttc_seconds"] > 0 for i in closed["incidents"])
    assert client.get("/api/incidents?rule=r-bulk&agency=skhcn&status=acknowledged").json()["total"] == 55
    # Ticked ones only, as before: the form's ids.
    ticked = [by_agency["vp-ubnd"]]
    client.post("/bulk", data={"csrf": csrf, "kind": "status", "value": "in_progress", "id": ticked})
    assert client.get("/api/incidents?status=in_progress").json()["total"] == 1


def test_incident_view_in_plain_words_with_related_timeline_and_notices(setup):
    client, store, incidents, by_agency, _ = setup
    ps = sorted((i for i in incidents if i["rule"]["id"] == PS_RULE), key=lambda i: i["host"]["name"])
    own, sibling = ps[0]["incident_id"], ps[1]["incident_id"]
    other = by_agency[OTHER]
    for target, doc in ((own, {"source": {"ip": "203.0.113.9"}, "system": {"id": "mail", "level": 3}}),
                        (other, {"source": {"ip": "203.0.113.9"}})):
        store.client.update(index=store.index, id=target, body={"doc": doc}, refresh="wait_for")
    theirs = {**_incident(1, OTHER), "incident_id": "ps-elsewhere", "host": {"name": "web-xa"},
              "rule": {"id": PS_RULE, "title": "Encoded PowerShell", "tags": []}}
    # A correlation across two agencies, its base events one in each.
    corr = {"alert_id": "corr-1", "@timestamp": "2026-03-14T03:00:00+00:00", "agency": {"id": "skhcn", "ids":
            ["skhcn", OTHER]}, "rule": {"id": "r-corr", "title": "Spread", "tags": []},
            "correlation": {"type": "event_count", "events": ["ev-own", "ev-theirs"], "events_count": 2}}
    cross = {**_incident(2, "skhcn"), "incident_id": "corr-incident", "alert_ids": ["corr-1"],
             "agency": {"id": "skhcn", "ids": ["skhcn", OTHER]}, "first": corr["@timestamp"],
             "last": corr["@timestamp"], "rule": corr["rule"]}
    search.ensure_index(store.client, search.index_name(store.events, "2026-03-14"), search.MAPPINGS["events"], 0)
    search.write(store.client, [(store.index, d["incident_id"], json.dumps(d)) for d in (theirs, cross)] + [
        (search.index_name(store.alerts, "2026-03-14"), "corr-1", json.dumps(corr))] + [
        (search.index_name(store.events, "2026-03-14"), e, json.dumps({
            "@timestamp": "2026-03-14T02:59:00+00:00", "agency": {"id": a}, "host": {"name": f"h-{a}"},
            "event_meta": {"id": e}, "event": {"message": f"base of {a}"}})) for e, a in (("ev-own", "skhcn"),
                                                                                      ("ev-theirs", OTHER))])
    store.client.indices.refresh(index=",".join([store.index, f"{store.alerts}-*", f"{store.events}-*"]))
    # A notification as `socpipe notify` logs it, before anyone acknowledged.
    notified = Action(datetime(2026, 3, 14, 2, 30, tzinfo=UTC), "system:notify", "notify", "incident", own, "skhcn",
                      {}, {}, {"channel": "email", "recipient": "duc@skhcn", "kind": "first"})
    search.write(store.client, search_documents([notified]))
    store.client.indices.refresh(index=ACTIONS_INDEX)

    csrf = sign_in(client, "analyst")
    client.post(f"/api/incidents/{own}/actions", json={"kind": "acknowledge", "note": "xem"},
                headers={"X-CSRF-Token": csrf})
    page = client.get(f"/incidents/{own}").text
    assert "base64-encoded command" in page and "Backup and management scripts" in page
    assert "<code>T1059.001</code> Command and Scripting Interpreter: PowerShell" in page
    assert "Phạm Minh Đức" in page  # skhcn's on-site contact from the registry
    system = Registry.load(REGISTRY).systems["mail"]
    assert f"{system.name} (mail)" in page
    assert client.get("/api/groups?by=source").json()["groups"] == [["203.0.113.9", 2]]
    assert client.get("/?group=source").text.count('<span class="key">203.0.113.9</span> <b>2</b>') == 1
    answer = client.get(f"/api/incidents/{own}").json()
    related = {k: [r["incident_id"] for r in v] for k, v in answer["related"].items()}
    assert related == {"host": [], "source": [other], "rule": ["ps-elsewhere", sibling]}
    kinds = [t["kind"] for t in answer["timeline"]]  # (other tests may have acted on it since: after these)
    assert kinds[:2] == ["alert", "notify"] and kinds[-1] == "acknowledge"
    stamps = [datetime.fromisoformat(t["at"]) for t in answer["timeline"]]
    assert stamps == sorted(stamps)
    assert "recipient=duc@skhcn" in page.split('id="notices"')[1].split("</ol>")[0]
    assert [t["id"] for t in answer["tags"]] == [None, "T1059.001"] and answer["rule"]["falsepositives"]
    assert [e["event_meta"]["id"] for e in client.get("/api/incidents/corr-incident").json()["base_events"]] == [
        "ev-own", "ev-theirs"]

    sign_in(client, "khcn")  # the same views, scoped: nothing of the other agency
    answer = client.get(f"/api/incidents/{own}").json()
    assert {k: [r["incident_id"] for r in v] for k, v in answer["related"].items()} == {
        "host": [], "source": [], "rule": [sibling]}
    page = client.get(f"/incidents/{own}").text
    assert other not in page and "ps-elsewhere" not in page and "web-xa" not in page
    assert client.get("/api/groups?by=source").json()["groups"] == [["203.0.113.9", 1]]  # theirs not counted
    base = client.get("/incidents/corr-incident").text
    assert "ev-own" in base and "ev-theirs" not in base and "base of xa" not in base


def test_agency_contacts_land_on_open_incidents_with_deadlines_auditors_on_reports(setup):
    client, store, incidents, by_agency, tmp_path = setup
    out = tmp_path / "audit-out"
    (out / "2026-Q1").mkdir(parents=True)
    (out / "report.json").write_text('{"period": "2026-Q1"}', encoding="utf-8")
    (out / "2026-Q1" / "coverage.csv").write_text("agency,monitored\nskhcn,true\n", encoding="utf-8")
    (tmp_path / "secret.txt").write_text("not a report", encoding="utf-8")
    (out / "link.txt").symlink_to(tmp_path / "secret.txt")

    client.cookies.clear()
    landed = client.post("/login", data={"username": "khcn", "password": PASSWORD}, follow_redirects=False)
    assert landed.headers["location"] == "/open"
    csrf = client.get("/api/session").json()["csrf"]
    page = client.get("/open").text
    assert '<b id="open-total">2</b>' in page and by_agency[OTHER] not in page and "web-xa" not in page
    own = [i for i in incidents if i["agency"]["id"] == "skhcn"][0]
    detected = datetime.fromisoformat(own["@timestamp"])
    # audit.deadlines' defaults for a high incident: acknowledge within 60 minutes, close within 72 hours.
    assert local_time((detected + timedelta(minutes=60)).isoformat()) in page
    assert local_time((detected + timedelta(hours=72)).isoformat()) in page
    assert page.count('class="level-high late"') == 2  # (March is long past)
    client.post(f"/api/incidents/{own['incident_id']}/actions", json={"kind": "acknowledge"},
                headers={"X-CSRF-Token": csrf})
    rows = {r["incident"]["incident_id"]: r for r in client.get("/api/open").json()["incidents"]}
    assert set(rows) == {i["incident_id"] for i in incidents if i["agency"]["id"] == "skhcn"}
    assert rows[own["incident_id"]]["acknowledge"] is None and rows[own["incident_id"]]["close"]
    for path in ("/reports", "/reports/report.json"):
        assert client.get(path).status_code == 403  # the reports cover every agency

    client.cookies.clear()
    landed = client.post("/login", data={"username": "auditor", "password": PASSWORD}, follow_redirects=False)
    assert landed.headers["location"] == "/reports"
    listing = client.get("/reports").text
    assert 'href="/reports/2026-Q1/coverage.csv"' in listing and 'href="/reports/report.json"' in listing
    assert "link.txt" not in listing  # a link out of the folder is not a report
    assert client.get("/reports/2026-Q1/coverage.csv").text == "agency,monitored\nskhcn,true\n"
    for path in ("/reports/link.txt", "/reports/..%2Fsecret.txt", "/reports/%2E%2E/secret.txt", "/reports/nothing"):
        answer = client.get(path)
        assert answer.status_code == 404 and "not a report" not in answer.text, path
    assert client.post("/reports/report.json").status_code == 405  # read-only
    assert client.get("/api/open").json()["total"] == len(incidents)  # every agency's, none closed


def test_language_is_the_users_own_and_dates_are_vietnam_time(setup):
    client, store, incidents, by_agency, tmp_path = setup
    csrf = sign_in(client, "analyst")  # an English speaker
    queue = client.get("/").text
    assert ">Incidents<" in queue and "14/03/2026 09:10:00" in queue  # 02:10 UTC is 09:10 in Hà Nội
    assert client.post("/language", data={"lang": "vi"}).status_code == 403  # no CSRF token
    assert client.post("/language", data={"lang": "fr", "csrf": csrf}).status_code == 400
    moved = client.post("/language", data={"lang": "vi", "csrf": csrf}, headers={"referer": "http://testserver/open"},
                        follow_redirects=False)
    assert moved.status_code == 303 and moved.headers["location"] == "/open"
    assert Users(tmp_path / "users.yaml").get("analyst").language == "vi"
    assert ">Sự cố<" in client.get("/").text and 'lang="vi"' in client.get("/").text
    sign_in(client, "analyst")  # kept with the account, not the session
    assert 'id="lang-en"' in client.get("/").text and ">Sự cố<" in client.get("/").text
    assert Users(tmp_path / "users.yaml").get("khcn").language == "vi"  # nobody else's changed
