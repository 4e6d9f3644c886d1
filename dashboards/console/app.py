"""`socpipe serve`: the console (server-rendered pages) and its JSON API under /api, on one FastAPI app.

Every route but the login page needs a session; the session names the user, whose scope
(dashboards/console/scope.py) the server applies to every query and write, whatever the request says.
State-changing requests carry the session's CSRF token (a form field or the X-CSRF-Token header); the
session cookie is signed, HttpOnly, SameSite=Strict and Secure when served over TLS; failed logins are
rate-limited per client address. Other parts of socpipe add their routes through `routers`.
"""


import secrets
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode, urlsplit

from fastapi import APIRouter, Depends, FastAPI, Form, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from itsdangerous import BadSignature, URLSafeTimedSerializer
from pydantic import BaseModel
from starlette.staticfiles import StaticFiles

from dashboards.console import i18n, oidc, pages, rule_book, suppress
from dashboards.console.scope import Scope
from dashboards.console.store import (
    GROUP_FIELDS,
    LEVELS,
    NOTICE_KINDS,
    STATUSES,
    VERDICT_REASONS,
    VERDICTS,
    Conflict,
    Filters,
    Forbidden,
    IncidentStore,
    timeline,
)
from dashboards.console.users import User, Users
from socpipe.config import DEFAULTS
from socpipe.registry import Registry

COOKIE = "socpipe_session"
LANDING = {"agency": "/open", "auditor": "/reports"}  # where each role lands after signing in
OptionalForm = Annotated[str | None, Form()]
OptionalInt = Annotated[int | None, Form()]
LOGIN_FAILURES = 5  # per client address and minute
HERE = Path(__file__).resolve().parent
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                               "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class Session:
    user: User
    scope: Scope
    csrf: str


class SuppressRequest(BaseModel):
    fields: list[str]
    alert_id: str | None = None  # none: the incident's first alert
    confirm: bool = False  # false: only the proposal and its count


class SavedFilterRequest(BaseModel):
    name: str
    params: dict[str, str] = {}


class BulkRequest(BaseModel):
    kind: str
    value: str | None = None
    note: str = ""
    reason: str | None = None  # a verdict's (VERDICT_REASONS)
    ids: list[str] | None = None  # none: every incident the filter `params` finds
    params: dict[str, str] = {}
    confirm: bool = False  # false: only how many it would change


class ActionRequest(BaseModel):
    kind: str
    value: str | None = None
    note: str = ""
    reason: str | None = None  # a verdict's (VERDICT_REASONS)
    seq_no: int | None = None
    primary_term: int | None = None


def create_app(store: IncidentStore, users: Users, registry: Registry | None, secret_key: str,
               secure_cookies: bool = False, routers: Iterable[APIRouter] = (),
               tuning: suppress.Tuning | None = None, sign_on: oidc.Settings | None = None,
               rules: Callable[[str], rule_book.RuleText | None] | None = None,
               deadlines: Mapping[str, Mapping[str, float]] | None = None, reports_dir: Path | None = None) -> FastAPI:
    """`rules`: a rule's words by its id (dashboards/console/rule_book.py), for the incident view; `deadlines`:
    audit.deadlines, shown to agency contacts; `reports_dir`: where `socpipe audit` writes, served read-only."""
    limits = deadlines if deadlines is not None else DEFAULTS["audit"]["deadlines"]
    # The OpenAPI description is served to signed-in users only (below): anonymous gets the login page alone.
    app = FastAPI(title="socpipe console", docs_url=None, openapi_url=None, redoc_url=None)
    signer = URLSafeTimedSerializer(secret_key, salt="socpipe-console")
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.globals.update(local_time=i18n.local_time, LEVELS=LEVELS, STATUSES=STATUSES, VERDICTS=VERDICTS,
                                 VERDICT_REASONS=VERDICT_REASONS,
                                 GROUPS=tuple(GROUP_FIELDS))
    failures: dict[str, deque[float]] = defaultdict(deque)
    names = {a.id: a.name for a in registry.agencies.values()} if registry else {}
    _harden(app)

    def session(request: Request) -> Session:
        token = request.cookies.get(COOKIE)
        try:
            data = signer.loads(token, max_age=12 * 3600) if token else None
        except BadSignature:
            data = None
        user = users.get(data["u"]) if data else None
        if user is None or user.disabled:
            raise HTTPException(401, "sign in first")
        return Session(user=user, scope=Scope.of(user, registry), csrf=data["c"])

    SessionDep = Annotated[Session, Depends(session)]

    def checked(request: Request, csrf: str | None, s: Session) -> None:
        if not csrf or not secrets.compare_digest(csrf, s.csrf):
            raise HTTPException(403, "missing or wrong CSRF token")

    def page(request: Request, name: str, s: Session | None, **context: Any) -> HTMLResponse:
        language = s.user.language if s else request.query_params.get("lang", "vi")
        return templates.TemplateResponse(request, name, {"t": i18n.WORDS.get(language, i18n.WORDS["vi"]),
                                                          "s": s, "names": names, **context})

    @app.exception_handler(HTTPException)
    async def errors(request: Request, error: HTTPException) -> Response:
        if error.status_code == 401 and not request.url.path.startswith("/api/"):
            return RedirectResponse("/login", 303)
        return JSONResponse({"detail": error.detail}, error.status_code)

    # ---- sign in -----------------------------------------------------------------------------------

    @app.get("/login", response_class=HTMLResponse)
    def login_page(request: Request) -> HTMLResponse:
        return page(request, "login.html", None, error=None)

    @app.post("/login")
    def login(request: Request, username: Annotated[str, Form()], password: Annotated[str, Form()]) -> Response:
        client = request.client.host if request.client else "?"
        recent = failures[client]
        while recent and recent[0] < time.monotonic() - 60:
            recent.popleft()
        if len(recent) >= LOGIN_FAILURES:
            return page(request, "login.html", None, error="too_many")
        user = users.authenticate(username, password)
        if user is None:
            recent.append(time.monotonic())
            return page(request, "login.html", None, error="bad_login")
        return start_session(RedirectResponse(LANDING.get(user.role, "/"), 303), user)

    def start_session(response: Response, user: User) -> Response:
        """The signed session cookie, the same for a local account and a sign-on (dashboards/console/oidc.py)."""
        response.set_cookie(COOKIE, signer.dumps({"u": user.name, "c": secrets.token_urlsafe(24)}), httponly=True,
                            samesite="strict", secure=secure_cookies, max_age=12 * 3600)
        return response

    if sign_on is not None:
        app.include_router(oidc.router(sign_on, users, registry, secret_key, secure_cookies, start_session))
        templates.env.globals["sign_on"] = oidc.LINK

    @app.post("/logout")
    def logout(request: Request, s: SessionDep, csrf: OptionalForm = None) -> Response:
        checked(request, csrf, s)
        response = RedirectResponse("/login", 303)
        response.delete_cookie(COOKIE)
        return response

    # ---- pages -------------------------------------------------------------------------------------

    def filters_of(request: Request, s: Session | None = None) -> Filters:
        """The request's filters, or the caller's own saved filter named by `saved` (narrowed by the scope
        like any other: the store ANDs the scope with whatever a filter says)."""
        saved = request.query_params.get("saved")
        if saved and s is not None:
            return store.saved_filters(s.scope).get(saved, Filters())
        return parsed(request.query_params)

    def parsed(params: Mapping[str, Any]) -> Filters:
        try:
            return Filters.of(params)
        except ValueError as error:
            raise HTTPException(400, f"bad filter: {error}") from None

    @app.get("/", response_class=HTMLResponse)
    def queue_page(request: Request, s: SessionDep) -> HTMLResponse:
        filters = filters_of(request, s)
        after = request.query_params.get("after")
        by = request.query_params.get("group") or "rule"
        incidents, cursor, total, groups = store.queue_with_groups(
            s.scope, filters, after.split("|") if after else None, by if by in GROUP_FIELDS else "rule")
        done = request.query_params.get("done")
        return page(request, "queue.html", s, incidents=incidents, total=total, groups=groups, by=by, filters=filters,
                    cursor="|".join(map(str, cursor)) if cursor else None, saved=store.saved_filters(s.scope),
                    done=int(done) if done and done.isdigit() else None,
                    conflicts=int(request.query_params.get("conflicts", "0") or 0) if request.query_params.get(
                        "conflicts", "0").isdigit() else 0)

    @app.get("/open", response_class=HTMLResponse)
    def open_page(request: Request, s: SessionDep) -> HTMLResponse:
        """Where an agency contact lands: their agency's open incidents, the nearest deadlines first."""
        incidents, total = store.open_incidents(s.scope)
        now = datetime.now(UTC)
        return page(request, "open.html", s, rows=[(i, pages.due(i, limits, now)) for i in incidents], total=total)

    @app.get("/api/open")
    def api_open(s: SessionDep) -> dict[str, Any]:
        incidents, total = store.open_incidents(s.scope)
        now = datetime.now(UTC)
        return {"total": total, "incidents": [
            {"incident": i, **{k: v.isoformat() if isinstance(v, datetime) else v
                               for k, v in asdict(pages.due(i, limits, now)).items()}} for i in incidents]}

    def reader(s: Session) -> None:
        """The audit reports cover every agency: auditors, analysts and admins read them, agency users not."""
        if s.scope.agencies is not None:
            raise HTTPException(403, "not allowed")

    @app.get("/reports", response_class=HTMLResponse)
    def reports_page(request: Request, s: SessionDep) -> HTMLResponse:
        """Where an auditor lands: the layer-3 reports `socpipe audit` wrote, read-only."""
        reader(s)
        return page(request, "reports.html", s, files=pages.reports(reports_dir), folder=reports_dir)

    @app.get("/reports/{name:path}")
    def report(name: str, s: SessionDep) -> FileResponse:
        reader(s)
        path = pages.report_file(reports_dir, name)
        if path is None:
            raise HTTPException(404, "no such report")
        return FileResponse(path, media_type=pages.REPORT_TYPES[path.suffix])

    @app.post("/language")
    def language(request: Request, s: SessionDep, lang: Annotated[str, Form()], csrf: OptionalForm = None) -> Response:
        """The user's language, kept with their account (every page after this one speaks it)."""
        checked(request, csrf, s)
        try:
            users.set_language(s.user.name, lang)
        except ValueError as error:
            raise HTTPException(400, str(error)) from None
        back = request.headers.get("referer", "")
        same_site = back.startswith(str(request.base_url))
        return RedirectResponse((urlsplit(back).path or "/") if same_site else "/", 303)

    @app.post("/filters")
    async def save_filter(request: Request, s: SessionDep) -> Response:
        """Save the queue's current filters (the form's filter fields) under a name, for this user only."""
        form = await request.form()
        checked(request, _text(form.get("csrf")), s)
        name = _text(form.get("name"))
        if not name:
            raise HTTPException(422, "a saved filter needs a name")
        _save(s, name, parsed({k: v for k, v in form.items() if isinstance(v, str)}))
        return RedirectResponse(f"/?saved={quote(name)}", 303)

    @app.get("/incidents/{incident_id}", response_class=HTMLResponse)
    def incident_page(request: Request, incident_id: str, s: SessionDep) -> HTMLResponse:
        doc, seq_no, term = _get(s, incident_id)
        alerts = store.alerts_of(s.scope, incident_id)
        history = store.history(s.scope, incident_id)
        return page(request, "incident.html", s, i=doc, seq_no=seq_no, term=term, history=history,
                    error=request.query_params.get("error"), alerts=alerts[:5], assignees=assignees(),
                    suppressed=request.query_params.get("suppressed"), **_about(s, doc, alerts, history))

    def _about(s: Session, doc: dict[str, Any], alerts: list[dict[str, Any]],
               history: list[dict[str, Any]]) -> dict[str, Any]:
        """The incident in plain words, where it belongs, what relates to it and what happened since."""
        rule_id = (doc.get("rule") or {}).get("id")
        text = rules(rule_id) if rules and rule_id else None
        return {"rule_text": text,  # the rule file's tags when it is loaded, else those the alert carried
                "tags": text.tags if text else rule_book.tags((doc.get("rule") or {}).get("tags") or []),
                "system": registry.systems.get((doc.get("system") or {}).get("id") or "") if registry else None,
                "contacts": _contacts((doc.get("agency") or {}).get("id")),
                "related": store.related(s.scope, doc), "base_events": store.base_events(s.scope, alerts),
                "timeline": timeline(alerts, history), "notices": [a for a in history if a["kind"] in NOTICE_KINDS]}

    def _contacts(agency: str | None) -> list[tuple[str, list[Any]]]:
        """Who answers for the agency, role by role along its escalation chain (registry.yaml)."""
        if registry is None or agency not in registry.agencies:
            return []
        return [(role, registry.role_contacts(agency, role)) for role in registry.escalation_chain(agency)]

    @app.post("/incidents/{incident_id}/actions")
    def incident_action(request: Request, incident_id: str, s: SessionDep, kind: Annotated[str, Form()],
                        value: OptionalForm = None, note: Annotated[str, Form()] = "", reason: OptionalForm = None,
                        seq_no: OptionalInt = None, primary_term: OptionalInt = None,
                        csrf: OptionalForm = None) -> Response:
        checked(request, csrf, s)
        try:
            _act(s, incident_id, ActionRequest(kind=kind, value=value, note=note, reason=reason, seq_no=seq_no,
                                               primary_term=primary_term))
        except HTTPException as error:
            if error.status_code != 409:
                raise
            return RedirectResponse(f"/incidents/{incident_id}?error=conflict", 303)
        return RedirectResponse(f"/incidents/{incident_id}", 303)

    @app.get("/incidents/{incident_id}/suppress", response_class=HTMLResponse)
    def suppress_page(request: Request, incident_id: str, s: SessionDep) -> HTMLResponse:
        """The proposed filter for the ticked fields and how many stored alerts it would have removed."""
        q = request.query_params
        proposal, count = _propose(s, incident_id, q.get("alert"), q.getlist("field"))
        return page(request, "suppress.html", s, incident_id=incident_id, proposal=proposal, count=count,
                    alert_id=q.get("alert"))

    @app.post("/incidents/{incident_id}/suppress")
    def suppress_write(request: Request, incident_id: str, s: SessionDep, csrf: OptionalForm = None,
                       alert: OptionalForm = None, field: Annotated[list[str] | None, Form()] = None) -> Response:
        checked(request, csrf, s)
        proposal, count = _propose(s, incident_id, alert, field or [])
        path, _ = _write(s, incident_id, proposal, count)
        return RedirectResponse(f"/incidents/{incident_id}?suppressed={quote(path.name)}", 303)

    @app.post("/bulk")
    async def bulk(request: Request, s: SessionDep) -> Response:
        """An action on every incident ticked on the page, or (`all`) on every incident the form's filter
        finds in the caller's scope, on every page: first a confirmation with the count, then (`confirm`)
        the action."""
        form = await request.form()
        checked(request, _text(form.get("csrf")), s)
        kind, value = _text(form.get("kind")), _text(form.get("value")) or None
        if not kind:
            raise HTTPException(422, "which action?")
        if not form.get("all"):
            ids = [i for i in form.getlist("id") if isinstance(i, str)]
            done, conflicts = _bulk(s, ids, ActionRequest(kind=kind, value=value))
            return RedirectResponse(f"/?done={done}&conflicts={conflicts}", 303)
        filters = parsed({k: v for k, v in form.items() if isinstance(v, str)})
        if not s.scope.may(kind):
            raise HTTPException(403, "not allowed")
        ids = store.matching_ids(s.scope, filters)
        if not form.get("confirm"):
            return page(request, "bulk.html", s, kind=kind, value=value, count=len(ids), filters=filters)
        done, conflicts = _bulk(s, ids, ActionRequest(kind=kind, value=value))
        return RedirectResponse(f"/?{urlencode(filters.params())}&done={done}&conflicts={conflicts}", 303)

    def _bulk(s: Session, ids: list[str], action: ActionRequest) -> tuple[int, int]:
        """The action on each incident; one changed meanwhile by someone else is left for them (counted)."""
        try:
            return store.act_many(s.scope, ids, action.kind, action.value, action.note, action.reason)
        except Forbidden:
            raise HTTPException(403 if not s.scope.may(action.kind) else 404, "not allowed") from None
        except ValueError as error:
            raise HTTPException(400, str(error)) from None

    # ---- API ---------------------------------------------------------------------------------------

    @app.get("/api/openapi.json")
    def api_description(s: SessionDep) -> dict[str, Any]:
        return app.openapi()

    @app.get("/api/session")
    def api_session(s: SessionDep) -> dict[str, Any]:
        """Who is signed in, and the CSRF token that state-changing API calls send as X-CSRF-Token."""
        return {"user": s.user.name, "role": s.user.role, "agency": s.user.agency, "csrf": s.csrf}

    @app.get("/api/incidents")
    def api_queue(request: Request, s: SessionDep) -> dict[str, Any]:
        after = request.query_params.get("after")
        incidents, cursor, total = store.queue(s.scope, filters_of(request, s), after.split("|") if after else None)
        return {"total": total, "incidents": incidents, "after": "|".join(map(str, cursor)) if cursor else None}

    @app.get("/api/groups")
    def api_groups(request: Request, s: SessionDep, by: str = "rule") -> dict[str, Any]:
        if by not in GROUP_FIELDS:
            raise HTTPException(400, f"group by one of {', '.join(GROUP_FIELDS)}")
        return {"by": by, "groups": store.groups(s.scope, filters_of(request, s), by)}

    @app.get("/api/incidents/{incident_id}")
    def api_incident(incident_id: str, s: SessionDep) -> dict[str, Any]:
        doc, seq_no, term = _get(s, incident_id)
        alerts, history = store.alerts_of(s.scope, incident_id), store.history(s.scope, incident_id)
        about = _about(s, doc, alerts, history)
        return {"incident": doc, "seq_no": seq_no, "primary_term": term, "history": history,
                "rule": asdict(about["rule_text"]) if about["rule_text"] else None,
                "tags": [asdict(t) for t in about["tags"]], "related": about["related"],
                "base_events": about["base_events"], "timeline": about["timeline"],
                "contacts": {role: [asdict(c) for c in people] for role, people in about["contacts"]}}

    @app.post("/api/incidents/{incident_id}/actions")
    def api_action(request: Request, incident_id: str, body: ActionRequest,
                   s: SessionDep) -> dict[str, Any]:
        checked(request, request.headers.get("x-csrf-token"), s)
        return {"incident": _act(s, incident_id, body)}

    @app.post("/api/incidents/{incident_id}/suppress")
    def api_suppress(request: Request, incident_id: str, body: SuppressRequest, s: SessionDep) -> dict[str, Any]:
        """A Sigma filter from the ticked event fields and the count of stored alerts it would have removed;
        with `confirm`, written to the tuning folder (and committed when configured)."""
        checked(request, request.headers.get("x-csrf-token"), s)
        proposal, count = _propose(s, incident_id, body.alert_id, body.fields)
        answer: dict[str, Any] = {"filter_id": proposal.filter_id, "filter": proposal.text, "would_remove": count}
        if body.confirm:
            path, commit = _write(s, incident_id, proposal, count)
            answer.update(path=str(path), commit=commit)
        return answer

    @app.post("/api/bulk")
    def api_bulk(request: Request, body: BulkRequest, s: SessionDep) -> dict[str, Any]:
        """An action on the listed incidents, or on all the filter `params` find in the caller's scope; without
        `confirm`, only how many it would change."""
        checked(request, request.headers.get("x-csrf-token"), s)
        if not s.scope.may(body.kind):
            raise HTTPException(403, "not allowed")
        ids = body.ids if body.ids is not None else store.matching_ids(s.scope, parsed(body.params))
        if not body.confirm:
            return {"matching": len(ids)}
        done, conflicts = _bulk(s, ids, ActionRequest(kind=body.kind, value=body.value, note=body.note,
                                                      reason=body.reason))
        return {"matching": len(ids), "done": done, "conflicts": conflicts}

    @app.get("/api/filters")
    def api_saved_filters(s: SessionDep) -> dict[str, Any]:
        """The caller's saved filters (name -> parameters)."""
        return {"filters": {name: f.params() for name, f in store.saved_filters(s.scope).items()}}

    @app.post("/api/filters")
    def api_save_filter(request: Request, body: SavedFilterRequest, s: SessionDep) -> dict[str, Any]:
        checked(request, request.headers.get("x-csrf-token"), s)
        filters = parsed(body.params)
        _save(s, body.name, filters)
        return {"name": body.name, "params": filters.params()}

    @app.delete("/api/filters/{name}")
    def api_delete_filter(request: Request, name: str, s: SessionDep) -> dict[str, Any]:
        checked(request, request.headers.get("x-csrf-token"), s)
        if not store.delete_filter(s.scope, name):
            raise HTTPException(404, "no such saved filter")
        return {"deleted": name}

    def _save(s: Session, name: str, filters: Filters) -> None:
        try:
            store.save_filter(s.scope, name, filters)
        except ValueError as error:
            raise HTTPException(400, str(error)) from None

    def _propose(s: Session, incident_id: str, alert_id: str | None,
                 fields: list[str]) -> tuple[suppress.Proposal, int]:
        if not s.scope.may("suppress"):
            raise HTTPException(403, "not allowed")
        if tuning is None or tuning.folder is None:
            raise HTTPException(409, "suppressing is off: no console.tuning_dir configured")
        try:
            alerts = store.alerts_of(s.scope, incident_id)
        except Forbidden:
            raise HTTPException(404, "no such incident") from None
        alert = next((a for a in alerts if (alert_id or None) in (None, a.get("alert_id"))), None)
        if alert is None:
            raise HTTPException(404, "no such alert of this incident in the store")
        logsource = tuning.logsource_of(alert["rule"]["id"])
        if logsource is None:
            raise HTTPException(409, f"rule {alert['rule']['id']} is not among the loaded rules")
        try:
            proposal = suppress.propose(alert, fields, logsource, s.user.name, incident_id)
        except ValueError as error:
            raise HTTPException(400, str(error)) from None
        return proposal, store.count_alerts(s.scope, [proposal.rule_id], proposal.selection)

    def _write(s: Session, incident_id: str, proposal: suppress.Proposal, count: int) -> tuple[Path, str | None]:
        assert tuning is not None and tuning.folder is not None
        try:
            path, commit = suppress.write(proposal, tuning.folder, tuning.commit, s.user.name)
        except RuntimeError as error:
            raise HTTPException(500, str(error)) from None
        store.record(s.scope, "suppress", incident_id, {"filter_id": proposal.filter_id, "path": path.name},
                     {"selection": proposal.selection, "rule_id": proposal.rule_id, "would_remove": count,
                      **({"commit": commit} if commit else {})})
        return path, commit

    def _get(s: Session, incident_id: str) -> tuple[dict[str, Any], int, int]:
        try:
            return store.get(s.scope, incident_id)
        except Forbidden:
            raise HTTPException(404, "no such incident") from None  # the same answer inside and outside scope

    def assignees() -> list[str]:
        """Whom an incident can be given to: the analysts' and admins' accounts in use."""
        return sorted(u.name for u in users.all().values() if u.role in ("analyst", "admin") and not u.disabled)

    def _act(s: Session, incident_id: str, body: ActionRequest) -> dict[str, Any]:
        if body.kind == "assign" and body.value and s.scope.may("assign") and body.value not in assignees():
            raise HTTPException(400, "assign to an analyst's account")
        try:
            return store.act(s.scope, incident_id, body.kind, body.value, body.note, body.seq_no, body.primary_term,
                             reason=body.reason)
        except Forbidden:
            raise HTTPException(403 if s.scope.may(body.kind) is False else 404, "not allowed") from None
        except Conflict:
            raise HTTPException(409, "the incident changed since you read it: reload") from None
        except ValueError as error:
            raise HTTPException(400, str(error)) from None

    for router in routers:
        app.include_router(router)
    return app


def _text(value: Any) -> str:
    """A form field's text (an uploaded file or nothing reads as empty)."""
    return value.strip() if isinstance(value, str) else ""


def links_app(routers: Iterable[APIRouter]) -> FastAPI:
    """Without a search store there is no console (it reads incidents there), but agency contacts must still
    be able to open their acknowledgement links: the other parts' routes alone, with the same headers."""
    app = FastAPI(title="socpipe", docs_url=None, openapi_url=None, redoc_url=None)
    _harden(app)
    for router in routers:
        app.include_router(router)
    return app


def _harden(app: FastAPI) -> None:
    """The security headers on every answer, and the static files."""
    @app.middleware("http")
    async def headers(request: Request, call_next: Any) -> Response:
        response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        return response

    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
