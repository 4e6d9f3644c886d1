"""Acknowledgement: signed, expiring links bound to one incident and one contact, used once.

A link in a mail can be forwarded, previewed by a scanner or replayed, so the token names the incident,
the contact and the expiry under an HMAC-SHA256 signature, acknowledging takes a POST (a preview only
GETs), and a used token is remembered in the store. Opening it records who acknowledged, when and an
optional comment, on the incident (docs/records.md) and in the action log.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from alerting.actions import Action
from alerting.notify_store import ActionLog, NotifyStore
from alerting.routing import value

OPEN = ("new", "escalated")  # statuses an acknowledgement moves on from
REASONS = ("disabled", "malformed", "tampered", "expired", "used", "unknown", "closed")


class AckError(ValueError):
    """A refused acknowledgement; `reason` is one of REASONS."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class AckClaim:
    incident_id: str
    contact_id: str
    expires: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_token(secret: str, incident_id: str, contact_id: str, expires: datetime) -> str:
    """payload.signature, both base64url; the payload is [incident, contact, expiry epoch seconds]."""
    payload = _b64(json.dumps([incident_id, contact_id, int(expires.timestamp())], separators=(",", ":")).encode())
    signature = _b64(hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest())
    return f"{payload}.{signature}"


def verify_token(secret: str, token: str, now: datetime) -> AckClaim:
    """The claim of a genuine, unexpired token; AckError otherwise (signature checked first)."""
    payload, _, signature = token.partition(".")
    if not payload or not signature:
        raise AckError("malformed", "the acknowledgement link is incomplete")
    expected = _b64(hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(expected, signature):
        raise AckError("tampered", "the acknowledgement link's signature does not match")
    try:
        incident_id, contact_id, expires = json.loads(_unb64(payload))
    except (ValueError, TypeError):
        raise AckError("malformed", "the acknowledgement link cannot be read") from None
    claim = AckClaim(str(incident_id), str(contact_id), datetime.fromtimestamp(int(expires), UTC))
    if now >= claim.expires:
        raise AckError("expired", f"the acknowledgement link expired at {claim.expires.isoformat()}")
    return claim


def token_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:32]


def check(store: NotifyStore, secret: str | None, token: str, now: datetime) -> tuple[AckClaim, dict[str, Any]]:
    """The claim and its open incident, if the token may acknowledge it now; AckError otherwise. Reads only:
    the confirmation page calls it, and a mail scanner opening the link changes nothing."""
    if not secret:
        raise AckError("disabled", "acknowledgement links are not configured (notify.ack_secret)")
    claim = verify_token(secret, token, now)
    used = store.get("token", token_key(token))
    if used is not None:
        raise AckError("used", f"this link was already used at {used['at']}")
    incident = store.get("incident", claim.incident_id)
    if incident is None:
        raise AckError("unknown", f"incident {claim.incident_id} does not exist")
    if incident.get("status") not in OPEN:
        by = incident.get("acknowledged_by") or incident.get("status")
        raise AckError("closed", f"incident {claim.incident_id} is already {incident.get('status')} ({by})")
    return claim, incident


def acknowledge(store: NotifyStore, actions: ActionLog, secret: str | None, token: str, comment: str,
                now: datetime, via: str = "link") -> dict[str, Any]:
    """Acknowledge the token's incident as its contact; returns the updated incident. Replays are refused
    (the token is claimed atomically, so two clicks at once acknowledge once), and so is a second
    acknowledgement of an incident someone already acknowledged (it names who)."""
    claim, incident = check(store, secret, token, now)
    key = token_key(token)
    if not store.put_new("token", key, {"at": now.isoformat(), "incident_id": claim.incident_id,
                                        "contact": claim.contact_id}):
        raise AckError("used", f"this link was already used at {(store.get('token', key) or {}).get('at')}")
    actor = f"contact:{claim.contact_id}"
    before = {k: incident.get(k) for k in ("status", "acknowledged_at", "acknowledged_by")}
    detected = datetime.fromisoformat(incident["@timestamp"])
    after = {"status": "acknowledged", "acknowledged_at": now.astimezone(UTC).isoformat(), "acknowledged_by": actor}
    incident = store.patch("incident", claim.incident_id, {**after, "tta_seconds": (now - detected).total_seconds()}) \
        or incident
    detail = {"via": via, "comment": comment} if comment else {"via": via}
    actions.record([Action(now, actor, "acknowledge", "incident", claim.incident_id, value(incident, "agency.id"),
                           before, after, detail)])
    return incident
