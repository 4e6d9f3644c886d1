"""Sign-on with the province's OpenID Connect provider: the authorization-code flow with PKCE (authlib).

The provider says who the user is and, in two claims, their console role and agency; nothing of its tokens is
kept. A sign-on writes the user into the users file as `oidc:<name>` without a password (local sign-in never
matches it, and no provider account can take a local account's name) with this sign-on's role and agency, then
starts the same signed session as a local sign-in, so every scope check applies unchanged and
`socpipe users disable oidc:<name>` shuts the account out. The flow's state, nonce and PKCE verifier travel in
a short-lived signed cookie, not in server memory, so any console process can finish a sign-on.
"""

from __future__ import annotations

import functools
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from html import escape
from typing import Any

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.requests_client import OAuth2Session
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from dashboards.console.users import LANGUAGES, ROLES, User, Users
from socpipe.config import Config
from socpipe.registry import Registry

STATE_COOKIE = "socpipe_oidc"
PREFIX = "oidc:"
SECRET_VARIABLE = "SOCPIPE__CONSOLE__OIDC__CLIENT_SECRET"
ALGORITHMS = ["RS256", "PS256", "ES256"]  # asymmetric only: an HS256 token signed with the client secret is refused
TIMEOUT = 10.0
# The login page's link, in the page's language.
LINK = {"vi": "Đăng nhập bằng tài khoản của tỉnh", "en": "Sign in with the province's account"}
# Why a sign-on was refused, in both languages (the user's own is unknown until sign-on succeeds).
REFUSALS = {
    "state": ("Lượt đăng nhập không hợp lệ hoặc đã quá hạn. Hãy đăng nhập lại.",
              "This sign-on attempt is invalid or has expired. Please sign in again."),
    "provider": ("Hệ thống đăng nhập của tỉnh không xác nhận lượt đăng nhập này. Hãy đăng nhập lại.",
                 "The province's sign-on service did not confirm this sign-in. Please sign in again."),
    "no_role": ("Tài khoản của bạn chưa được cấp vai trò trên hệ thống giám sát (analyst, agency, auditor hoặc "
                "admin). Hãy liên hệ quản trị viên.",
                "Your account has no role in the monitoring console (analyst, agency, auditor or admin). "
                "Please ask an administrator."),
    "no_agency": ("Tài khoản có vai trò cơ quan nhưng không gắn với một cơ quan có trong danh mục. Hãy liên hệ "
                  "quản trị viên.",
                  "Your account has the agency role but no single agency known to the registry. Please ask an "
                  "administrator."),
    "disabled": ("Tài khoản này đã bị khóa trên hệ thống giám sát.", "This account is disabled in the console."),
}


@dataclass(frozen=True)
class Settings:
    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    role_claim: str = "socpipe_role"
    agency_claim: str = "socpipe_agency"
    username_claim: str = "preferred_username"
    roles: Mapping[str, str] = field(default_factory=lambda: {r: r for r in ROLES})
    scope: str = "openid profile"
    login_seconds: int = 600


def settings(config: Config) -> Settings | None:
    """The console.oidc knobs; None when no issuer is configured (local accounts only)."""
    knobs = config.get("console", "oidc")
    if not knobs["issuer"]:
        return None
    secret = knobs["client_secret"]
    if not secret or secret != os.environ.get(SECRET_VARIABLE):
        raise ValueError(f"console.oidc: the client secret is read from {SECRET_VARIABLE} only (not the file)")
    roles = dict(knobs["roles"]) or {r: r for r in ROLES}
    unknown = sorted(set(roles.values()) - set(ROLES))
    if unknown or not knobs["client_id"]:
        raise ValueError(f"console.oidc: needs a client_id, and roles mapped to {', '.join(ROLES)} (not {unknown})")
    return Settings(knobs["issuer"].rstrip("/"), knobs["client_id"], secret, knobs["role_claim"],
                    knobs["agency_claim"], knobs["username_claim"], roles, knobs["scope"],
                    int(knobs["login_seconds"]))


class Refused(Exception):
    """A sign-on that does not start a session; the argument is a key of REFUSALS."""


def router(options: Settings, users: Users, registry: Registry | None, secret_key: str, secure_cookies: bool,
           start_session: Callable[[Response, User], Response]) -> APIRouter:
    """/oidc/login sends the browser to the provider; /oidc/callback takes it back and signs the user in."""
    routes = APIRouter(include_in_schema=False)
    signer = URLSafeTimedSerializer(secret_key, salt="socpipe-oidc")

    def client(request: Request) -> OAuth2Session:
        return OAuth2Session(options.client_id, options.client_secret, scope=options.scope,
                             redirect_uri=str(request.url_for("oidc_callback")), code_challenge_method="S256")

    @routes.get("/oidc/login")
    def oidc_login(request: Request) -> Response:
        state, nonce, verifier = (secrets.token_urlsafe(32) for _ in range(3))
        try:
            endpoint = _metadata(options.issuer)["authorization_endpoint"]
        except (KeyError, ValueError, requests.RequestException):
            return _refusal("provider")
        url, _ = client(request).create_authorization_url(endpoint, state=state, nonce=nonce, code_verifier=verifier)
        response = RedirectResponse(url, 303)
        # Lax, not Strict: the provider's redirect back is a cross-site navigation that must carry it.
        response.set_cookie(STATE_COOKIE, signer.dumps({"s": state, "n": nonce, "v": verifier}), path="/oidc",
                            max_age=options.login_seconds, httponly=True, samesite="lax", secure=secure_cookies)
        return response

    @routes.get("/oidc/callback")
    def oidc_callback(request: Request) -> Response:
        try:
            claims = _verified_claims(request, options, signer, client(request))
            user = _provision(claims, options, users, registry)
        except Refused as refusal:
            response: Response = _refusal(str(refusal))
        else:
            # The session cookie is SameSite=Strict, which a browser withholds on a redirect that continues the
            # provider's cross-site navigation: a page of our own moves on to the queue instead.
            response = start_session(HTMLResponse('<!doctype html><meta http-equiv="refresh" content="0;url=/">'
                                                  '<a href="/">socpipe</a>'), user)
        response.delete_cookie(STATE_COOKIE, path="/oidc")  # one attempt per state, whatever its outcome
        return response

    return routes


def _verified_claims(request: Request, options: Settings, signer: URLSafeTimedSerializer,
                     client: OAuth2Session) -> dict[str, Any]:
    """The ID token's claims, once the state matches this browser's cookie, the code (with the PKCE verifier)
    has been exchanged and the token's signature, issuer, audience, expiry and nonce are checked."""
    query = request.query_params
    try:
        flow = signer.loads(request.cookies.get(STATE_COOKIE) or "", max_age=options.login_seconds)
    except (SignatureExpired, BadSignature):
        raise Refused("state") from None
    if not secrets.compare_digest(query.get("state", ""), flow["s"]):
        raise Refused("state")
    if query.get("error") or not query.get("code"):
        raise Refused("provider")
    metadata = _metadata(options.issuer)
    try:
        token = client.fetch_token(metadata["token_endpoint"], code=query["code"], code_verifier=flow["v"],
                                   timeout=TIMEOUT)
        keys = KeySet.import_key_set(_get_json(metadata["jwks_uri"]))
        claims = jwt.decode(token["id_token"], keys, algorithms=ALGORITHMS).claims
        jwt.JWTClaimsRegistry(leeway=60, iss={"essential": True, "value": options.issuer},
                              aud={"essential": True, "value": options.client_id}, exp={"essential": True},
                              sub={"essential": True}, nonce={"essential": True, "value": flow["n"]}).validate(claims)
    except (AuthlibBaseError, JoseError, KeyError, ValueError, requests.RequestException):
        raise Refused("provider") from None
    return claims


def _provision(claims: dict[str, Any], options: Settings, users: Users, registry: Registry | None) -> User:
    """The console user for these claims, written to the users file if new or changed."""
    roles = {options.roles[v] for v in _values(claims.get(options.role_claim)) if v in options.roles}
    if len(roles) != 1:
        raise Refused("no_role")
    role, agency = roles.pop(), None
    if role == "agency":
        # A single-valued claim, or one group per agency (a group path's last part is the agency id).
        agencies = {v.rstrip("/").rsplit("/", 1)[-1] for v in _values(claims.get(options.agency_claim))}
        agency = agencies.pop() if len(agencies) == 1 else None
        if registry is None or agency not in registry.agencies:
            raise Refused("no_agency")
    name = PREFIX + str(claims.get(options.username_claim) or claims["sub"])
    accounts = users.all()
    known = accounts.get(name)
    if known is not None and (known.disabled or known.password_hash):
        raise Refused("disabled")
    locale = str(claims.get("locale") or "")[:2]
    language = locale if locale in LANGUAGES else known.language if known else "vi"
    user = User(name, role, agency, language)
    if user != known:
        accounts[name] = user
        users._save(accounts)  # the file's own writer: same format, atomic replace, mode 600
    return user


def _values(claim: Any) -> list[str]:
    """A claim as a list of strings: providers send single values or lists (roles, groups)."""
    values = claim if isinstance(claim, list) else [claim]
    return [v for v in values if isinstance(v, str) and v]


@functools.cache
def _metadata(issuer: str) -> dict[str, Any]:
    """The provider's discovery document, fetched once per process; its issuer must be the configured one."""
    document = _get_json(f"{issuer}/.well-known/openid-configuration")
    if document.get("issuer") != issuer:
        raise ValueError(f"the discovery document at {issuer} names another issuer: {document.get('issuer')}")
    return document


def _get_json(url: str) -> dict[str, Any]:
    response = requests.get(url, timeout=TIMEOUT)
    response.raise_for_status()
    return response.json()


def _refusal(reason: str) -> HTMLResponse:
    vietnamese, english = REFUSALS[reason]
    return HTMLResponse(
        '<!doctype html><html lang="vi"><head><meta charset="utf-8"><title>socpipe</title>'
        '<link rel="stylesheet" href="/static/console.css"></head><body><main class="login">'
        f'<p class="error" id="refused" data-reason="{reason}">{escape(vietnamese)}</p>'
        f'<p class="error" lang="en">{escape(english)}</p>'
        f'<p><a href="/login">{escape(LINK["vi"])} / {escape(LINK["en"])}</a></p></main></body></html>', 403)
