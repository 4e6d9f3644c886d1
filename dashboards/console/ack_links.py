"""Acknowledgement by agency contacts: the signed links in notifications, and the webhook reply API.

Contacts have no console account: the signed token (alerting/ack.py) is their credential, bound to one
incident, one contact and an expiry. Opening the link (GET) only shows a confirmation page, so a mail
scanner previewing it acknowledges nothing; the contact's POST records who, when and the comment, on the
incident and in the action log. A chat bot or webhook receiver replies with the same token as JSON to
/api/ack. Every page is in Vietnamese and English: the contact's language is not known before the token
is checked, and a refusal must be understood either way.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel

from alerting.ack import AckError, acknowledge, check
from alerting.notify_run import utc_now
from alerting.notify_store import ActionLog, NotifyStore
from alerting.render import LEVEL_NAMES, local_time
from alerting.routing import value
from socpipe.registry import Registry

COMMENT_MAX = 2000
STATUS = {"disabled": 503, "malformed": 400, "tampered": 400, "expired": 410, "used": 409, "closed": 409,
          "unknown": 404}
# Why a link was refused, as the contact reads it: (Vietnamese, English).
REFUSALS = {
    "disabled": ("Chức năng xác nhận qua liên kết chưa được cấu hình. Vui lòng liên hệ SOC tỉnh.",
                 "Acknowledgement links are not configured. Please contact the provincial SOC."),
    "malformed": ("Liên kết xác nhận không đầy đủ. Hãy mở lại liên kết trong thư thông báo.",
                  "The acknowledgement link is incomplete. Open the link from the notification again."),
    "tampered": ("Liên kết xác nhận không hợp lệ (chữ ký không khớp).",
                 "The acknowledgement link is not valid (its signature does not match)."),
    "expired": ("Liên kết xác nhận đã hết hạn. Vui lòng liên hệ SOC tỉnh để xác nhận sự cố.",
                "The acknowledgement link has expired. Please contact the provincial SOC to acknowledge."),
    "used": ("Liên kết này đã được sử dụng; sự cố đã được ghi nhận xác nhận trước đó.",
             "This link was already used; the acknowledgement was recorded before."),
    "closed": ("Sự cố không còn chờ xác nhận (đã được xác nhận, đang xử lý hoặc đã đóng).",
               "The incident no longer awaits acknowledgement (acknowledged, in progress or closed)."),
    "unknown": ("Không tìm thấy sự cố của liên kết này.", "The incident of this link was not found."),
}
HERE = Path(__file__).resolve().parent
HANOI = ZoneInfo("Asia/Ho_Chi_Minh")  # an agency the registry does not know


class AckRequest(BaseModel):
    token: str
    comment: str = ""


def ack_router(store: NotifyStore, actions: ActionLog, secret: str | None, registry: Registry | None,
               clock: Callable[[], datetime] = utc_now) -> APIRouter:
    """GET /ack?t= (confirmation page), POST /ack (form: t, comment), POST /api/ack (JSON: token, comment)."""
    router = APIRouter()
    templates = Jinja2Templates(directory=HERE / "templates")
    levels = LEVEL_NAMES["vi"], LEVEL_NAMES["en"]

    def facts(contact_id: str, incident: dict[str, Any]) -> dict[str, Any]:
        """What the page shows of the incident, times in the agency's zone."""
        contact = registry.contacts.get(contact_id) if registry else None
        agency_id = str(value(incident, "agency.id") or "")
        agency = registry.agencies.get(agency_id) if registry else None
        zone = registry.working_hours(agency_id).zone if registry and agency else HANOI
        level = str(value(incident, "level") or value(incident, "rule.level") or "")
        return {"contact": contact.name if contact else contact_id, "agency": agency.name if agency else agency_id,
                "title": value(incident, "rule.title") or "-", "host": value(incident, "host.name") or "-",
                "level_vi": levels[0].get(level, level), "level_en": levels[1].get(level, level),
                "detected": local_time(incident.get("@timestamp"), zone),
                "acknowledged": local_time(incident.get("acknowledged_at"), zone),
                "incident_id": incident.get("incident_id")}

    def refused(request: Request, error: AckError) -> HTMLResponse:
        vi, en = REFUSALS[error.reason]
        return templates.TemplateResponse(request, "ack.html", {"state": "refused", "vi": vi, "en": en},
                                          status_code=STATUS[error.reason])

    @router.get("/ack", response_class=HTMLResponse)
    def ack_page(request: Request, t: str = "") -> HTMLResponse:
        try:
            claim, incident = check(store, secret, t, clock())
        except AckError as error:
            return refused(request, error)
        return templates.TemplateResponse(request, "ack.html", {"state": "confirm", "token": t,
                                                                "f": facts(claim.contact_id, incident),
                                                                "comment_max": COMMENT_MAX})

    @router.post("/ack", response_class=HTMLResponse)
    def ack_submit(request: Request, t: Annotated[str, Form()] = "",
                   comment: Annotated[str, Form()] = "") -> HTMLResponse:
        try:
            incident = acknowledge(store, actions, secret, t, _comment(comment), clock(), via="link")
        except AckError as error:
            return refused(request, error)
        who = str(incident["acknowledged_by"]).removeprefix("contact:")
        return templates.TemplateResponse(request, "ack.html", {"state": "done", "f": facts(who, incident)})

    @router.post("/api/ack")
    def ack_api(body: AckRequest) -> JSONResponse:
        """The webhook reply: a link of the notification's `links` (or its token alone) and an optional
        comment."""
        token = parse_qs(urlsplit(body.token).query).get("t", [body.token])[0]
        try:
            incident = acknowledge(store, actions, secret, token, _comment(body.comment), clock(), via="webhook")
        except AckError as error:
            vi, en = REFUSALS[error.reason]
            return JSONResponse({"acknowledged": False, "reason": error.reason, "message": {"vi": vi, "en": en}},
                                STATUS[error.reason])
        return JSONResponse({"acknowledged": True, "incident_id": incident["incident_id"],
                             "acknowledged_by": incident["acknowledged_by"],
                             "acknowledged_at": incident["acknowledged_at"]})

    return router


def _comment(text: str) -> str:
    """A comment as recorded: trimmed, and cut at COMMENT_MAX so a pasted log cannot bloat the action log."""
    return text.strip()[:COMMENT_MAX]
