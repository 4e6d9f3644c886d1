"""OpenID Connect sign-on to the console against a real Keycloak (tests/keycloak_server.py): the browser's
path is driven with an HTTP client that follows the redirects and posts Keycloak's own login form. Roles and
agencies come from the token's claims; the session is a local account's, so the scope checks apply as they do
for local users (through the API, against the real OpenSearch)."""

from __future__ import annotations

import html
import http.cookiejar
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
import uvicorn
import yaml
from console_fixtures import console
from fastapi.testclient import TestClient
from itsdangerous import URLSafeTimedSerializer
from keycloak_server import Keycloak, realm

from alerting.notify_sink import HOST, free_port
from dashboards.console import oidc
from dashboards.console.app import create_app
from dashboards.console.store import IncidentStore
from dashboards.console.users import Users
from socpipe.demo import REGISTRY
from socpipe.registry import Registry

pytestmark = pytest.mark.slow

CLIENT_ID, SECRET = "socpipe-console", "client-secret-for-tests-only"
PASSWORD = "Mật-khẩu của tỉnh 2026"
AGENCY = "skhcn"
PEOPLE = [
    {"username": "lan", "password": PASSWORD, "role": "analyst"},
    {"username": "minh", "password": PASSWORD, "role": "agency", "agency": AGENCY},
    {"username": "thu", "password": PASSWORD, "role": "kiem-toan"},  # the province's name, mapped to auditor
    {"username": "hoa", "password": PASSWORD},  # no role at all
    {"username": "tuan", "password": PASSWORD, "role": "agency", "agency": "so-khong-ton-tai"},
    {"username": "vy", "password": PASSWORD, "role": "superuser"},  # a role the console does not know
    {"username": "an", "password": PASSWORD, "role": "analyst"},  # disabled in the console by the test
]


@dataclass
class Site:
    url: str
    users: Users
    registry: Registry
    store: IncidentStore
    incidents: list[dict]
    settings: oidc.Settings


@pytest.fixture(scope="module")
def site(request, tmp_path_factory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("oidc")
    port = free_port()
    url = f"http://{HOST}:{port}"
    keycloak = Keycloak(folder / "keycloak", [realm("province", CLIENT_ID, SECRET, f"{url}/oidc/callback", PEOPLE)])
    keycloak.launch()  # starting while the session's OpenSearch does
    try:
        dev_servers = request.getfixturevalue("dev_servers")
        keycloak.wait()
        _, store, incidents = console(dev_servers, folder)
        users, registry = Users(folder / "users.yaml"), Registry.load(REGISTRY)
        roles = {"analyst": "analyst", "agency": "agency", "kiem-toan": "auditor", "admin": "admin"}
        settings = oidc.Settings(keycloak.issuer("province"), CLIENT_ID, SECRET, roles=roles)
        server = uvicorn.Server(uvicorn.Config(create_app(store, users, registry, "test-secret", sign_on=settings),
                                               host=HOST, port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        yield Site(url, users, registry, store, incidents, settings)
        server.should_exit = True
        thread.join(10)
    finally:
        keycloak.stop()


class BrowserCookies(http.cookiejar.CookieJar):
    """Cookies kept as browsers keep them on 127.0.0.1: Keycloak's `Version=1` ones as plain cookies (browsers
    ignore the attribute) and its Secure ones sent over http too (loopback is a secure context to browsers).
    Done when they are stored: httpx copies the cookies into a default jar for each request."""

    def make_cookies(self, response: object, request: object) -> list[http.cookiejar.Cookie]:
        cookies = super().make_cookies(response, request)
        for cookie in cookies:
            cookie.version, cookie.secure = 0, False
        return cookies


def browser_for(site: Site, **options: object) -> httpx.Client:
    return httpx.Client(base_url=site.url, follow_redirects=True, timeout=30,
                        cookies=BrowserCookies(), **options)


def to_keycloak(site: Site, username: str) -> tuple[httpx.Client, httpx.Request]:
    """Start a sign-on at the console, post Keycloak's login form, and stop at the redirect back to the
    console: the callback request the browser would send (not yet sent)."""
    browser = browser_for(site)
    form = browser.get("/oidc/login")
    assert form.status_code == 200 and "kc-form-login" in form.text, form.text[:500]
    action = html.unescape(re.search(r'<form[^>]*id="kc-form-login"[^>]*action="([^"]+)"', form.text).group(1))
    person = next(p for p in PEOPLE if p["username"] == username)
    back = browser.post(action, data={"username": username, "password": person["password"]},
                        follow_redirects=False)
    assert back.status_code == 302, back.text[:500]
    callback = httpx.URL(back.headers["location"])
    assert str(callback).startswith(f"{site.url}/oidc/callback?"), callback
    return browser, browser.build_request("GET", callback)


def sign_on(site: Site, username: str) -> tuple[httpx.Client, httpx.Response]:
    browser, callback = to_keycloak(site, username)
    return browser, browser.send(callback)


def refusal(response: httpx.Response) -> str:
    assert response.status_code == 403, response.text[:500]
    return re.search(r'data-reason="([^"]+)"', response.text).group(1)


def test_login_page_links_to_the_provider(site):
    page = httpx.get(f"{site.url}/login?lang=en")
    assert 'href="/oidc/login"' in page.text and "Sign in with the province&#39;s account" in page.text
    assert "Đăng nhập bằng tài khoản của tỉnh" in httpx.get(f"{site.url}/login").text


def test_analyst_sees_every_agency(site):
    browser, done = sign_on(site, "lan")
    assert done.status_code == 200 and 'url=/"' in done.text
    session = browser.get("/api/session").json()
    assert (session["user"], session["role"], session["agency"]) == ("oidc:lan", "analyst", None)
    queue = browser.get("/api/incidents").json()
    assert queue["total"] == len(site.incidents)
    assert {i["agency"]["id"] for i in queue["incidents"]} == {i["agency"]["id"] for i in site.incidents}
    # the same record as a local account: in the users file, with no password local sign-in could match
    record = site.users.get("oidc:lan")
    assert record.role == "analyst" and record.password_hash == ""
    local = httpx.post(f"{site.url}/login", data={"username": "oidc:lan", "password": ""}, follow_redirects=False)
    assert local.status_code != 303


def test_agency_user_sees_only_their_agency(site):
    browser, done = sign_on(site, "minh")
    assert done.status_code == 200
    assert browser.get("/api/session").json()["agency"] == AGENCY
    subtree = set(site.registry.subtree(AGENCY))
    own = [i for i in site.incidents if i["agency"]["id"] in subtree]
    others = [i for i in site.incidents if i["agency"]["id"] not in subtree]
    assert own and others
    queue = browser.get("/api/incidents").json()
    assert sorted(i["incident_id"] for i in queue["incidents"]) == sorted(i["incident_id"] for i in own)
    assert queue["total"] == len(own)
    for incident in others:  # neither by id nor by a filter naming the other agency
        assert browser.get(f"/api/incidents/{incident['incident_id']}").status_code == 404
        assert browser.get("/api/incidents", params={"agency": incident["agency"]["id"]}).json()["total"] == 0
    groups = browser.get("/api/groups", params={"by": "agency"}).json()["groups"]
    assert {key for key, _ in groups} <= subtree, groups


def test_mapped_role_is_read_only(site):
    browser, done = sign_on(site, "thu")
    assert done.status_code == 200
    assert browser.get("/api/session").json()["role"] == "auditor"
    assert browser.get("/api/incidents").json()["total"] == len(site.incidents)
    csrf = browser.get("/api/session").json()["csrf"]
    target = site.incidents[0]["incident_id"]
    acted = browser.post(f"/api/incidents/{target}/actions", json={"kind": "comment", "note": "x"},
                         headers={"X-CSRF-Token": csrf})
    assert acted.status_code == 403


@pytest.mark.parametrize(("username", "reason"), [("hoa", "no_role"), ("vy", "no_role"), ("tuan", "no_agency")])
def test_without_valid_role_or_agency_refused(site, username, reason):
    browser, done = sign_on(site, username)
    assert refusal(done) == reason
    vietnamese, english = oidc.REFUSALS[reason]
    assert html.escape(vietnamese, quote=False) in done.text and html.escape(english, quote=False) in done.text
    assert browser.get("/api/session").status_code == 401
    assert site.users.get(f"oidc:{username}") is None


def test_tampered_state_or_code_refused(site):
    browser, callback = to_keycloak(site, "lan")
    query = parse_qs(callback.url.query.decode())
    state = query["state"][0]
    tampered = {k: v[0] for k, v in query.items()} | {"state": state[:-1] + ("B" if state[-1] == "A" else "A")}
    assert refusal(browser.get(f"/oidc/callback?{urlencode(tampered)}")) == "state"
    # the attempt is spent: its state cookie went with the refusal, so even the genuine answer is refused now
    assert refusal(browser.get(callback.url)) == "state"
    assert browser.get("/api/session").status_code == 401

    browser, callback = to_keycloak(site, "lan")
    query = {k: v[0] for k, v in parse_qs(callback.url.query.decode()).items()}
    assert refusal(browser.get(f"/oidc/callback?{urlencode(query | {'code': query['code'][::-1]})}")) == "provider"
    assert browser.get("/api/session").status_code == 401


def test_code_used_twice_refused(site):
    browser, callback = to_keycloak(site, "minh")
    cookie = browser.cookies.get(oidc.STATE_COOKIE)
    assert browser.send(callback).status_code == 200
    replay = browser_for(site)
    replay.cookies.set(oidc.STATE_COOKIE, cookie, domain=HOST, path="/oidc")
    assert refusal(replay.send(replay.build_request("GET", callback.url))) == "provider"
    assert replay.get("/api/session").status_code == 401


@pytest.mark.parametrize("part", ["v", "n"])
def test_wrong_pkce_verifier_or_nonce_refused(site, part):
    """The state cookie re-signed (the test knows the key) with another PKCE verifier: Keycloak refuses the
    code; with another nonce: the console refuses the ID token."""
    browser, callback = to_keycloak(site, "lan")
    signer = URLSafeTimedSerializer("test-secret", salt="socpipe-oidc")
    flow = signer.loads(browser.cookies.get(oidc.STATE_COOKIE))
    browser.cookies.set(oidc.STATE_COOKIE, signer.dumps(flow | {part: flow[part][::-1]}), domain=HOST, path="/oidc")
    assert refusal(browser.get(callback.url)) == "provider"
    assert browser.get("/api/session").status_code == 401


def test_expired_state_refused(site):
    """A sign-on that took longer than login_seconds: the state cookie is refused before any token exchange."""
    brief = replace(site.settings, login_seconds=1)
    app = create_app(site.store, site.users, site.registry, "test-secret", sign_on=brief)
    with TestClient(app) as browser:
        started = browser.get("/oidc/login", follow_redirects=False)
        assert started.status_code == 303
        state = parse_qs(urlsplit(started.headers["location"]).query)["state"][0]
        time.sleep(2.5)
        late = browser.get("/oidc/callback", params={"state": state, "code": "anything"})
        assert late.status_code == 403 and 'data-reason="state"' in late.text


def test_disabled_account_shut_out(site):
    browser, done = sign_on(site, "an")
    assert done.status_code == 200 and browser.get("/api/session").status_code == 200
    site.users.disable("oidc:an")
    assert browser.get("/api/session").status_code == 401  # the running session ends, as for a local account
    _, done = sign_on(site, "an")
    assert refusal(done) == "disabled"


def test_anonymous_callback_reveals_nothing(site):
    answer = httpx.get(f"{site.url}/oidc/callback", params={"state": "x", "code": "y"})
    assert refusal(answer) == "state"
    assert "skhcn" not in answer.text and "incident" not in answer.text.lower()


def test_settings_take_the_secret_from_the_environment_only(tmp_path, monkeypatch):
    from socpipe.config import load_config

    monkeypatch.delenv(oidc.SECRET_VARIABLE, raising=False)
    assert oidc.settings(load_config(None, environ={})) is None  # no issuer: local accounts only
    knobs = {"console": {"oidc": {"issuer": "https://sso.example/realms/p/", "client_id": CLIENT_ID,
                                  "roles": {"soc-analyst": "analyst"}}}}
    environ = {oidc.SECRET_VARIABLE: "0123", "SOCPIPE__CONSOLE__OIDC__CLIENT_ID": CLIENT_ID,
               "SOCPIPE__CONSOLE__OIDC__ISSUER": knobs["console"]["oidc"]["issuer"]}
    monkeypatch.setenv(oidc.SECRET_VARIABLE, "0123")
    settings = oidc.settings(load_config(None, environ=environ))
    assert (settings.issuer, settings.client_secret) == ("https://sso.example/realms/p", "0123")  # verbatim
    assert "0123" not in repr(settings)
    path = tmp_path / "socpipe.yaml"
    path.write_text(yaml.safe_dump({"console": {"oidc": {**knobs["console"]["oidc"], "client_secret": "0123"}}}))
    monkeypatch.delenv(oidc.SECRET_VARIABLE)
    with pytest.raises(ValueError, match=oidc.SECRET_VARIABLE):
        oidc.settings(load_config(path, environ={}))
    path.write_text(yaml.safe_dump({"console": {"oidc": {**knobs["console"]["oidc"], "roles": {"x": "root"}}}}))
    monkeypatch.setenv(oidc.SECRET_VARIABLE, "s")
    with pytest.raises(ValueError, match="root"):
        oidc.settings(load_config(path, environ={oidc.SECRET_VARIABLE: "s"}))
