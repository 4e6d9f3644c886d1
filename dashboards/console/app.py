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
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from itsdangerous import BadSignature, URLSafeTimedSerializer
from pydantic import BaseModel
from starlette.staticfiles import StaticFiles

from dashboards.console import i18n
from dashboards.console.scope import Scope
from dashboards.console.store import (
    GROUP_FIELDS,
    LEVELS,
    STATUSES,
    VERDICTS,
    Conflict,
    Filters,
    Forbidden,
    IncidentStore,
)
from dashboards.console.users import User, Users
from socpipe.registry import Registry

COOKIE = "socpipe_session"
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


class ActionRequest(BaseModel):
    kind: str
    value: str | None = None
    note: str = ""
    seq_no: int | None = None
    primary_term: int | None = None


def create_app(store: IncidentStore, users: Users, registry: Registry | None, secret_key: str,
               secure_cookies: bool = False, routers: Iterable[APIRouter] = ()) -> FastAPI:
    # The OpenAPI description is served to signed-in users only (below): anonymous gets the login page alone.
    app = FastAPI(title="socpipe console", docs_url=None, openapi_url=None, redoc_url=None)
    signer = URLSafeTimedSerializer(secret_key, salt="socpipe-console")
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.globals.update(local_time=i18n.local_time, LEVELS=LEVELS, STATUSES=STATUSES, VERDICTS=VERDICTS,
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
        response = RedirectResponse("/", 303)
        response.set_cookie(COOKIE, signer.dumps({"u": user.name, "c": secrets.token_urlsafe(24)}), httponly=True,
                            samesite="strict", secure=secure_cookies, max_age=12 * 3600)
        return response

    @app.post("/logout")
    def logout(request: Request, s: SessionDep, csrf: OptionalForm = None) -> Response:
        checked(request, csrf, s)
        response = RedirectResponse("/login", 303)
        response.delete_cookie(COOKIE)
        return response

    # ---- pages -------------------------------------------------------------------------------------

    def filters_of(request: Request) -> Filters:
        q = request.query_params
        return Filters(q.get("level") or None, q.get("status") or None, q.get("agency") or None,
                       q.get("rule") or None, q.get("q") or None)

    @app.get("/", response_class=HTMLResponse)
    def queue_page(request: Request, s: SessionDep) -> HTMLResponse:
        filters = filters_of(request)
        after = request.query_params.get("after")
        incidents, cursor, total = store.queue(s.scope, filters, after.split("|") if after else None)
        by = request.query_params.get("group") or "rule"
        groups = store.groups(s.scope, filters, by if by in GROUP_FIELDS else "rule")
        return page(request, "queue.html", s, incidents=incidents, total=total, groups=groups, by=by, filters=filters,
                    cursor="|".join(map(str, cursor)) if cursor else None)

    @app.get("/incidents/{incident_id}", response_class=HTMLResponse)
    def incident_page(request: Request, incident_id: str, s: SessionDep) -> HTMLResponse:
        doc, seq_no, term = _get(s, incident_id)
        return page(request, "incident.html", s, i=doc, seq_no=seq_no, term=term,
                    history=store.history(s.scope, incident_id), error=request.query_params.get("error"))

    @app.post("/incidents/{incident_id}/actions")
    def incident_action(request: Request, incident_id: str, s: SessionDep, kind: Annotated[str, Form()],
                        value: OptionalForm = None, note: Annotated[str, Form()] = "",
                        seq_no: OptionalInt = None, primary_term: OptionalInt = None,
                        csrf: OptionalForm = None) -> Response:
        checked(request, csrf, s)
        try:
            _act(s, incident_id, ActionRequest(kind=kind, value=value, note=note, seq_no=seq_no,
                                               primary_term=primary_term))
        except HTTPException as error:
            if error.status_code != 409:
                raise
            return RedirectResponse(f"/incidents/{incident_id}?error=conflict", 303)
        return RedirectResponse(f"/incidents/{incident_id}", 303)

    @app.post("/bulk")
    def bulk(request: Request, s: SessionDep, kind: Annotated[str, Form()], value: OptionalForm = None,
             csrf: OptionalForm = None, id: Annotated[list[str] | None, Form()] = None) -> Response:  # noqa: A002
        """An action on every incident ticked on the page."""
        checked(request, csrf, s)
        for incident_id in id or []:
            _act(s, incident_id, ActionRequest(kind=kind, value=value))
        return RedirectResponse("/", 303)

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
        incidents, cursor, total = store.queue(s.scope, filters_of(request), after.split("|") if after else None)
        return {"total": total, "incidents": incidents, "after": "|".join(map(str, cursor)) if cursor else None}

    @app.get("/api/groups")
    def api_groups(request: Request, s: SessionDep, by: str = "rule") -> dict[str, Any]:
        if by not in GROUP_FIELDS:
            raise HTTPException(400, f"group by one of {', '.join(GROUP_FIELDS)}")
        return {"by": by, "groups": store.groups(s.scope, filters_of(request), by)}

    @app.get("/api/incidents/{incident_id}")
    def api_incident(incident_id: str, s: SessionDep) -> dict[str, Any]:
        doc, seq_no, term = _get(s, incident_id)
        return {"incident": doc, "seq_no": seq_no, "primary_term": term,
                "history": store.history(s.scope, incident_id)}

    @app.post("/api/incidents/{incident_id}/actions")
    def api_action(request: Request, incident_id: str, body: ActionRequest,
                   s: SessionDep) -> dict[str, Any]:
        checked(request, request.headers.get("x-csrf-token"), s)
        return {"incident": _act(s, incident_id, body)}

    def _get(s: Session, incident_id: str) -> tuple[dict[str, Any], int, int]:
        try:
            return store.get(s.scope, incident_id)
        except Forbidden:
            raise HTTPException(404, "no such incident") from None  # the same answer inside and outside scope

    def _act(s: Session, incident_id: str, body: ActionRequest) -> dict[str, Any]:
        try:
            return store.act(s.scope, incident_id, body.kind, body.value, body.note, body.seq_no, body.primary_term)
        except Forbidden:
            raise HTTPException(403 if s.scope.may(body.kind) is False else 404, "not allowed") from None
        except Conflict:
            raise HTTPException(409, "the incident changed since you read it: reload") from None
        except ValueError as error:
            raise HTTPException(400, str(error)) from None

    for router in routers:
        app.include_router(router)
    return app


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
