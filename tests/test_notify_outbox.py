"""Layer-1 scheduler against the outbox (no SMTP configured): recipients per agency, group wait, ack tokens."""

from __future__ import annotations

import email
from datetime import UTC, datetime, timedelta

import pytest

from alerting.ack import AckError, make_token, verify_token
from alerting.channels import EmailChannel
from alerting.notify import Notifier
from alerting.notify_store import ActionLog, SqliteStore
from socpipe.config import load_config
from socpipe.demo import REGISTRY
from socpipe.registry import Registry

T0 = datetime(2026, 3, 16, 2, 0, tzinfo=UTC)  # Monday 09:00 in Hanoi


def _incident(ident, agency, level="high"):
    return {"incident_id": ident, "@timestamp": T0.isoformat(), "count": 1, "level": level, "status": "new",
            "rule": {"id": "r1", "title": "Đăng nhập bất thường", "level": level, "tags": []},
            "agency.id": agency, "host.name": f"h-{ident}", "escalation_step": 0}


def test_each_agency_contact_gets_only_its_own_incidents(tmp_path):
    config = load_config(environ={"SOCPIPE__NOTIFY__OUTBOX_DIR": str(tmp_path / "out")})
    store = SqliteStore(tmp_path / "s.sqlite")
    store.put_many("incident", [("a1", _incident("a1", "snv")), ("b1", _incident("b1", "stc")),
                                ("c1", _incident("c1", "tt-binh-lac"))])
    notifier = Notifier(config, Registry.load(REGISTRY), store, ActionLog(tmp_path / "lake"),
                        {"email": EmailChannel(config)})
    assert notifier.tick(T0).sent == 0  # group_wait
    report = notifier.tick(T0 + timedelta(seconds=31))
    assert report.sent == 3, report.errors
    mails = {m["To"]: m for m in (email.message_from_bytes(p.read_bytes()) for p in (tmp_path / "out").glob("*.eml"))}
    assert set(mails) == {"it.snv@ankhanh.example", "it.stc@ankhanh.example", "it.binhlac@ankhanh.example"}
    assert mails["it.snv@ankhanh.example"]["X-Socpipe-Incidents"] == "a1"
    assert "Sở Nội vụ" in str(email.header.make_header(email.header.decode_header(mails["it.snv@ankhanh.example"]
                                                                                 ["Subject"])))
    assert notifier.tick(T0 + timedelta(seconds=60)).sent == 0  # nothing twice


def test_ack_tokens_valid_expired_tampered():
    token = make_token("k", "i1", "c1", T0 + timedelta(hours=1))
    assert verify_token("k", token, T0).incident_id == "i1"
    with pytest.raises(AckError, match="expired"):
        verify_token("k", token, T0 + timedelta(hours=2))
    with pytest.raises(AckError) as err:
        verify_token("k", token[:-2] + ("AA" if token[-2:] != "AA" else "BB"), T0)
    assert err.value.reason == "tampered"


def test_escalation_on_deadline_and_none_after_acknowledgement(tmp_path):
    from alerting.ack import acknowledge

    config = load_config(environ={"SOCPIPE__NOTIFY__OUTBOX_DIR": str(tmp_path / "out"),
                                  "SOCPIPE__NOTIFY__ACK_SECRET": "s3cret"})
    store, actions = SqliteStore(tmp_path / "s.sqlite"), ActionLog(tmp_path / "lake")
    store.put_many("incident", [("x", _incident("x", "vp-ubnd", "critical")),
                                ("y", _incident("y", "vp-ubnd", "critical") | {"host.name": "other"})])
    store.put("incident", "y", {**store.get("incident", "y"), "rule": {**store.get("incident", "y")["rule"],
                                                                       "id": "r2"}})
    notifier = Notifier(config, Registry.load(REGISTRY), store, actions, {"email": EmailChannel(config)})
    notifier.tick(T0 + timedelta(seconds=31))
    token = make_token("s3cret", "y", "vp-it", T0 + timedelta(days=1))
    acknowledge(store, actions, "s3cret", token, "đang xử lý", T0 + timedelta(minutes=5))
    with pytest.raises(AckError, match="already used"):
        acknowledge(store, actions, "s3cret", token, "", T0 + timedelta(minutes=6))
    report = notifier.tick(T0 + timedelta(minutes=16))  # critical: 15 min from detection
    assert report.escalated == 1
    assert store.get("incident", "x")["escalation_step"] == 1 and store.get("incident", "y")["escalation_step"] == 0
    heads = [p for p in (tmp_path / "out").glob("*.eml") if b"lv.cuong@ankhanh.example" in p.read_bytes()]
    assert len(heads) == 1 and b"X-Socpipe-Incidents: x" in heads[0].read_bytes()
