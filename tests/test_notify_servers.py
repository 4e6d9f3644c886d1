"""Layer 1 against real servers on 127.0.0.1: an SMTP server (aiosmtpd, with AUTH) and an HTTP webhook
receiver checking signatures. What the servers received is asserted, not what the notifier says it sent:
recipients per agency, UTF-8 Vietnamese headers and bodies, grouping and repeats on a controlled clock,
escalation and its stop on acknowledgement, a restart mid-send and an SMTP outage (nothing lost, nothing
twice), signed webhooks, and secrets that never reach a log. tests/test_notify_outbox.py covers the
outbox (no SMTP) and the token functions; tests/test_ack_links.py the acknowledgement pages."""

from __future__ import annotations

import logging
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from alerting.actions import read_lake
from alerting.channels import Message
from alerting.notify import Notifier
from alerting.notify_run import channels, open_state
from alerting.notify_sink import SmtpSink, WebhookSink
from dashboards.console.ack_links import ack_router
from dashboards.console.app import create_app
from dashboards.console.users import Users
from socpipe.config import Config, load_config
from socpipe.demo import REGISTRY
from socpipe.registry import Registry

# The test SMTP server takes AUTH without TLS (127.0.0.1 only); aiosmtpd warns at every connection.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
T0 = datetime(2026, 3, 16, 2, 0, tzinfo=UTC)  # Monday 09:00 in Hanoi, office hours
SECRETS = {"SOCPIPE__NOTIFY__SMTP__PASSWORD": "smtp-Mật-khẩu-7f3a", "SOCPIPE__NOTIFY__ACK_SECRET": "ack-9c1e2b",
           "SOCPIPE__NOTIFY__WEBHOOK_SECRET": "hook-44d0aa"}
LOGIN = ("socpipe", SECRETS["SOCPIPE__NOTIFY__SMTP__PASSWORD"])
ON_SITE = {"snv": {"it.snv@ankhanh.example"}, "stc": {"it.stc@ankhanh.example"},
           "vp-ubnd": {"it.vp@ankhanh.example"}, "skhcn": {"it.skhcn@ankhanh.example"},
           "xa-binh-lac": {"it.binhlac@ankhanh.example"}, "phuong-hoa-phong": {"it.hoaphong@ankhanh.example"}}
NO_DEADLINES = {"critical": None, "high": None, "medium": None, "low": None, "informational": None}


def incident(ident: str, agency: str, level: str = "high", rule: str = "r1", at: datetime = T0) -> dict[str, Any]:
    return {"incident_id": ident, "@timestamp": at.isoformat(), "count": 1, "level": level, "status": "new",
            "rule": {"id": rule, "title": "Đăng nhập bất thường vào máy chủ", "level": level, "tags": []},
            "agency": {"id": agency}, "host": {"name": f"host-{ident}"}, "escalation_step": 0}


def make_config(tmp_path: Path, smtp: SmtpSink, smtp_settings: dict[str, Any] | None = None,
                **notify: Any) -> Config:
    path = tmp_path / "socpipe.yaml"
    settings = {"state_path": "state.sqlite", "outbox_dir": "outbox", "base_url": "http://127.0.0.1:8400",
                "smtp": {"host": "127.0.0.1", "port": smtp.port, "security": "none", "username": LOGIN[0],
                         "sender": "SOC An Khánh <soc@ankhanh.example>", "timeout": 5, **(smtp_settings or {})},
                **notify}
    path.write_text(yaml.safe_dump({"registry": str(REGISTRY), "lake": {"path": "lake"}, "notify": settings},
                                   allow_unicode=True), encoding="utf-8")
    return load_config(path, environ=SECRETS)


def notifier(config: Config, registry: Registry | None = None, **kwargs: Any) -> Notifier:
    store, actions = open_state(config)
    return Notifier(config, registry or Registry.load(REGISTRY), store, actions, channels(config), **kwargs)


def subject(received: Any) -> str:
    """The subject as a mail client shows it (the parser decodes the RFC 2047 words)."""
    return str(received.mail["Subject"])


def incidents_of(received: Any) -> list[str]:
    return received.mail["X-Socpipe-Incidents"].split(",")


@pytest.fixture
def smtp():
    with SmtpSink(login=LOGIN) as sink:
        yield sink


def test_each_contact_receives_only_its_agency_incidents_in_vietnamese(tmp_path, smtp, caplog):
    caplog.set_level(logging.DEBUG)
    config = make_config(tmp_path, smtp)
    run = notifier(config)
    by_agency = {a: [f"{a}-1", f"{a}-2"] for a in ON_SITE}
    run.store.put_many("incident", [(i, incident(i, a, rule=i[-1])) for a, ids in by_agency.items() for i in ids])
    run.tick(T0)
    assert smtp.messages() == []  # group_wait
    report = run.tick(T0 + timedelta(seconds=31))
    assert report.failed == 0, report.errors
    received = smtp.messages()
    assert len(received) == 2 * len(ON_SITE)  # one message per agency and rule (group_by)
    for message in received:
        (recipient,) = message.rcpt_tos
        agency = next(a for a, addresses in ON_SITE.items() if recipient in addresses)
        assert set(incidents_of(message)) <= set(by_agency[agency])
        body = message.mail.get_body().get_content()
        others = [i for a, ids in by_agency.items() if a != agency for i in ids]
        assert not [i for i in others if f"host-{i}\n" in body or f"host-{i} " in body]
    assert Counter(r for m in received for r in m.rcpt_tos) == {a: 2 for addrs in ON_SITE.values() for a in addrs}

    snv = next(m for m in received if m.rcpt_tos == ("it.snv@ankhanh.example",) and incidents_of(m) == ["snv-1"])
    raw = snv.data.decode("ascii")  # headers and body travel 7-bit clean, UTF-8 encoded
    assert "=?utf-8?" in raw.lower() and "charset=\"utf-8\"" in raw.lower()
    assert subject(snv) == "[CAO] Sở Nội vụ: Đăng nhập bất thường vào máy chủ"
    body = snv.mail.get_body().get_content()
    assert body.startswith("Kính gửi Võ Thị Lan (Sở Nội vụ),\n")
    assert "Thời điểm phát hiện: 16/03/2026 09:00 (giờ Việt Nam)" in body
    assert "Xác nhận đã tiếp nhận: http://127.0.0.1:8400/ack?t=" in body
    assert str(snv.mail["From"]) == "SOC An Khánh <soc@ankhanh.example>"
    assert snv.mail["Message-ID"].startswith("<") and smtp.refused_logins == 0
    assert_no_secrets(caplog.text, config, tmp_path)


def test_group_wait_group_interval_and_repeat_on_a_controlled_clock(tmp_path, smtp):
    config = make_config(tmp_path, smtp, deadlines=NO_DEADLINES,
                         route={"group_wait": 30, "group_interval": 300, "repeat_interval": 3600})
    run = notifier(config)
    run.store.put("incident", "a", incident("a", "snv"))
    expected = [(0, 0), (29, 0), (31, 1)]  # (seconds after T0, messages received so far)
    for seconds, count in expected:
        run.tick(T0 + timedelta(seconds=seconds))
        assert len(smtp.messages()) == count, seconds
    run.store.put("incident", "b", incident("b", "snv", at=T0 + timedelta(seconds=60)))  # same group
    run.store.put("incident", "c", incident("c", "snv", rule="r2", at=T0 + timedelta(seconds=60)))  # another
    # c's group starts when the tick at 61 s sees it: its own group_wait, then its repeat at 91 + 3600 s
    for seconds, count in [(61, 1), (90, 1), (91, 2), (330, 2), (331, 3), (600, 3), (91 + 3599, 3),
                           (91 + 3601, 4), (331 + 3599, 4), (331 + 3601, 5), (331 + 3700, 5)]:
        run.tick(T0 + timedelta(seconds=seconds))
        assert len(smtp.messages()) == count, seconds
    first, other_group, interval, other_repeat, repeat = smtp.messages()
    assert incidents_of(first) == ["a"] and incidents_of(other_group) == incidents_of(other_repeat) == ["c"]
    assert incidents_of(interval) == ["a", "b"]  # b waited for group_interval after the first flush
    assert incidents_of(repeat) == ["a", "b"] and subject(repeat).startswith("[Nhắc lại][CAO]")


def test_escalation_on_deadline_stops_on_acknowledgement_and_resumes_when_it_expires(tmp_path, smtp):
    config = make_config(tmp_path, smtp, ack_timeout_seconds=1200)
    registry = Registry.load(REGISTRY)
    run = notifier(config, registry)
    run.store.put_many("incident", [("x", incident("x", "vp-ubnd", "critical", "r1")),
                                    ("y", incident("y", "vp-ubnd", "critical", "r2"))])
    run.tick(T0)
    run.tick(T0 + timedelta(seconds=31))
    first = {incidents_of(m)[0]: m for m in smtp.messages()}
    assert set(first) == {"x", "y"} and all(m.rcpt_tos == ("it.vp@ankhanh.example",) for m in first.values())
    link = re.search(r"http://127\.0\.0\.1:8400(/ack\?t=\S+)", first["y"].mail.get_body().get_content())
    assert link

    clock = [T0 + timedelta(minutes=5)]
    app = create_app(None, Users(tmp_path / "users.yaml"), registry, "k",  # type: ignore[arg-type]
                     routers=[ack_router(run.store, run.actions, config.get("notify", "ack_secret"), registry,
                                         lambda: clock[0])])
    client = TestClient(app)
    token = link.group(1).split("t=", 1)[1]
    answer = client.post("/ack", data={"t": token, "comment": "Đã ngắt mạng máy chủ"})
    assert answer.status_code == 200 and "Trần Thị Bình" in answer.text

    def sent_to(address: str) -> list[list[str]]:
        return [incidents_of(m) for m in smtp.messages() if address in m.rcpt_tos]

    assert run.tick(T0 + timedelta(minutes=14)).escalated == 0
    assert run.tick(T0 + timedelta(minutes=16)).escalated == 1  # critical: 15 min from detection
    assert sent_to("lv.cuong@ankhanh.example") == [["x"]]  # the agency head; y was acknowledged
    assert run.tick(T0 + timedelta(minutes=24)).unacknowledged == 0
    report = run.tick(T0 + timedelta(minutes=26))  # y acknowledged at +5 min, not moved on within 20 min
    assert report.unacknowledged == 1 and report.escalated == 0
    assert run.store.get("incident", "y")["status"] == "new"
    assert run.tick(T0 + timedelta(minutes=31)).escalated == 1  # x: second step at 2 x 15 min
    assert sent_to("soc-truc@ankhanh.example") == [["x"]]  # the SOC duty officer, end of the chain
    assert run.tick(T0 + timedelta(minutes=40)).escalated == 0
    assert run.tick(T0 + timedelta(minutes=42)).escalated == 1  # y: 15 min from the expiry at +26 min
    assert sent_to("lv.cuong@ankhanh.example") == [["x"], ["y"]]
    kinds = Counter((a.kind, a.target_id) for a in read_lake(config.path("lake", "path")))
    assert kinds[("acknowledge", "y")] == 1 and kinds[("unacknowledge", "y")] == 1
    assert kinds[("escalate", "x")] == 2 and kinds[("escalate", "y")] == 1


class Crash(Exception):
    """The process dies here (after the server accepted a message and its record was written)."""


def test_restart_mid_send_sends_every_message_once(tmp_path, smtp):
    config = make_config(tmp_path, smtp)
    agencies = list(ON_SITE)

    def crash_after_two(message: Message) -> None:
        if len(smtp.messages()) == 2:
            raise Crash

    first = notifier(config, on_send=crash_after_two)
    first.store.put_many("incident", [(a, incident(a, a)) for a in agencies])
    first.tick(T0)
    with pytest.raises(Crash):
        first.tick(T0 + timedelta(seconds=31))
    assert len(smtp.messages()) == 2
    restarted = notifier(config)  # a new process: state from the SQLite file only
    assert restarted.tick(T0 + timedelta(seconds=40)).sent == len(agencies) - 2
    assert restarted.tick(T0 + timedelta(seconds=400)).sent == 0
    received = smtp.messages()
    assert Counter(m.mail["Message-ID"] for m in received).most_common(1)[0][1] == 1
    assert sorted(incidents_of(m)[0] for m in received) == sorted(agencies)
    notified = [a for a in read_lake(config.path("lake", "path")) if a.kind == "notify"]
    assert sorted(a.target_id for a in notified) == sorted(agencies)  # the crashed tick's two are logged too


def test_smtp_down_messages_wait_and_go_once_when_it_is_back(tmp_path):
    sink = SmtpSink(login=LOGIN)  # its port, with nothing listening yet
    config = make_config(tmp_path, sink)
    run = notifier(config)
    run.store.put_many("incident", [("a", incident("a", "snv")), ("b", incident("b", "stc"))])
    run.tick(T0)
    down = run.tick(T0 + timedelta(seconds=31))
    assert down.sent == 0 and down.failed == 2 and "Connection refused" in down.errors[0]
    run.store.put("incident", "c", incident("c", "syt", at=T0 + timedelta(seconds=40)))
    assert run.tick(T0 + timedelta(seconds=80)).sent == 0
    with sink:
        back = run.tick(T0 + timedelta(seconds=120))
        assert back.sent == 3 and back.failed == 0
        assert run.tick(T0 + timedelta(seconds=200)).sent == 0
    run.store.put("incident", "d", incident("d", "snv", rule="r2", at=T0 + timedelta(seconds=300)))
    with sink:  # restarted: the connection the channel kept is dead, it connects again
        run.tick(T0 + timedelta(seconds=300))
        assert run.tick(T0 + timedelta(seconds=331)).sent == 1
        received = sink.messages()
    assert sorted(incidents_of(m)[0] for m in received) == ["a", "b", "c", "d"]
    assert Counter(m.rcpt_tos for m in received) == {("it.snv@ankhanh.example",): 2, ("it.stc@ankhanh.example",): 1,
                                                     ("it.syt@ankhanh.example",): 1}


def test_webhooks_are_signed_retried_and_acknowledged_by_reply(tmp_path, smtp, caplog):
    caplog.set_level(logging.DEBUG)
    with WebhookSink(SECRETS["SOCPIPE__NOTIFY__WEBHOOK_SECRET"], fail_first=1) as hooks, \
            WebhookSink("not-the-secret") as stranger:
        data = yaml.safe_load(REGISTRY.read_text(encoding="utf-8"))
        for contact in data["contacts"]:
            if contact["id"] == "snv-it":
                contact["webhook"] = f"{hooks.url}/snv"
            if contact["id"] == "stc-it":
                contact["webhook"] = f"{stranger.url}/stc"
        registry = Registry.from_dict(data)
        config = make_config(tmp_path, smtp, webhook_retry_seconds=[0.05],
                             route={"channels": ["email", "webhook"], "group_wait": 0})
        run = notifier(config, registry)
        run.store.put_many("incident", [("a", incident("a", "snv")), ("b", incident("b", "stc"))])
        report = run.tick(T0)
        assert report.sent == 3 and report.failed == 1  # stc's receiver refuses the signature: pending
        assert [p.signature_ok for p in hooks.posted] == [True, True]  # a 503, then the retry accepted
        delivered = hooks.posted[-1]
        body = delivered.json
        assert delivered.path == "/snv" and body["incidents"] == ["a"] and body["agency"] == "snv"
        assert body["subject"] == "[CAO] Sở Nội vụ: Đăng nhập bất thường vào máy chủ"
        assert "Đăng nhập bất thường".encode() in delivered.body  # UTF-8 as is, not \\u escapes
        assert delivered.headers["Idempotency-Key"] == body["notification_id"]
        assert [p.signature_ok for p in stranger.posted] == [False]
        assert run.tick(T0 + timedelta(seconds=5)).sent == 0  # what went is not sent again
        assert len(hooks.posted) == 2

        app = create_app(None, Users(tmp_path / "users.yaml"), registry, "k",  # type: ignore[arg-type]
                         routers=[ack_router(run.store, run.actions, config.get("notify", "ack_secret"), registry,
                                             lambda: T0 + timedelta(minutes=3))])
        reply = TestClient(app).post("/api/ack", json={"token": body["links"]["a"], "comment": "đã nhận"})
        assert reply.status_code == 200 and reply.json()["acknowledged_by"] == "contact:snv-it"
        again = TestClient(app).post("/api/ack", json={"token": body["links"]["a"]})
        assert again.status_code == 409 and again.json()["reason"] == "used"
        assert "đã được sử dụng" in again.json()["message"]["vi"]
        acks = [a for a in read_lake(config.path("lake", "path")) if a.kind == "acknowledge"]
        assert [(a.actor, a.detail) for a in acks] == [("contact:snv-it", {"via": "webhook", "comment": "đã nhận"})]
    assert_no_secrets(caplog.text, config, tmp_path)


def test_secrets_never_reach_logs_or_messages(tmp_path, caplog):
    """A wrong SMTP password and a failing webhook are logged as failures, never with a secret."""
    caplog.set_level(logging.DEBUG)
    with SmtpSink(login=("socpipe", "something-else")) as sink:
        config = make_config(tmp_path, sink)
        run = notifier(config)
        run.store.put("incident", "a", incident("a", "snv"))
        run.tick(T0)
        report = run.tick(T0 + timedelta(seconds=31))
    assert report.failed == 1 and sink.refused_logins == 1 and "Authentication" in report.errors[0]
    assert_no_secrets(caplog.text + "\n".join(report.errors), config, tmp_path)


def assert_no_secrets(text: str, config: Config, tmp_path: Path) -> None:
    """No secret in the text, the configuration's and channels' repr, or any file the notifier wrote."""
    written = [p.read_bytes().decode("utf-8", "replace") for p in tmp_path.rglob("*") if p.is_file()
               and p.name != "socpipe.yaml"]
    shown = [text, repr(config), *map(repr, channels(config).values()), *written]
    for secret in SECRETS.values():
        assert not [s for s in shown if secret in s], f"a secret ({secret[:4]}...) was written out"


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_smtp_over_starttls_and_tls_with_a_private_ca(tmp_path, security):
    """A relay with a certificate from the province's own CA (notify.smtp.ca_file); AUTH only inside TLS.
    Without that CA the certificate is refused and the message stays pending."""
    from socpipe.dev.tls import make

    files = make(tmp_path / "tls", "smtp")
    with SmtpSink(login=LOGIN, tls=(files.cert, files.key), implicit_tls=security == "tls") as sink:
        config = make_config(tmp_path, sink, {"security": security, "ca_file": str(files.ca)},
                             route={"group_wait": 0})
        run = notifier(config)
        run.store.put("incident", "a", incident("a", "snv"))
        assert run.tick(T0).sent == 1
        (message,) = sink.messages()
        assert message.rcpt_tos == ("it.snv@ankhanh.example",) and sink.refused_logins == 0

        config = make_config(tmp_path, sink, {"security": security}, route={"group_wait": 0})  # system CAs only
        run = notifier(config)
        run.store.put("incident", "b", incident("b", "stc"))
        report = run.tick(T0 + timedelta(seconds=1))
        assert report.sent == 0 and report.failed == 1 and "CERTIFICATE_VERIFY_FAILED" in report.errors[0]


def test_closed_incidents_get_their_resolved_notice_and_digest_but_merged_ones_nothing(tmp_path, smtp):
    """A tick reads only open incidents from the store, and those closed since they were routed."""
    config = make_config(tmp_path, smtp, deadlines=NO_DEADLINES)
    run = notifier(config)
    early = T0 - timedelta(hours=3)  # 06:00 in Hanoi, before the 07:30 digest
    run.store.put_many("incident", [("low", incident("low", "snv", "low", at=early)),
                                    ("high", incident("high", "snv", rule="r2", at=early)),
                                    ("gone", incident("gone", "stc", at=early) | {"merged_into": "high"}),
                                    ("shut", incident("shut", "syt", at=early) | {"status": "closed"})])
    run.tick(early)
    run.tick(early + timedelta(seconds=31))
    assert [incidents_of(m) for m in smtp.messages()] == [["high"]]
    for ident in ("low", "high"):
        run.store.put("incident", ident, run.store.get("incident", ident) | {
            "status": "closed", "closed_at": (early + timedelta(minutes=30)).isoformat()})
    run.tick(early + timedelta(minutes=40))
    resolved = smtp.messages()[1:]
    assert [(incidents_of(m), subject(m)) for m in resolved] == [
        (["high"], "[Đã xử lý] Sở Nội vụ: Đăng nhập bất thường vào máy chủ")]
    run.tick(T0 - timedelta(hours=1))  # 08:00 in Hanoi: the day's digest, closed or not
    digest = smtp.messages()[2:]
    assert [(incidents_of(m), subject(m)) for m in digest] == [
        (["low"], "[Tổng hợp ngày 2026-03-16] Sở Nội vụ: 1 sự cố")]
    for hour in (0, 1, 30):
        run.tick(T0 + timedelta(hours=hour))
    assert len(smtp.messages()) == 3  # nothing twice; stc and syt never heard of theirs


class AckMidTick:
    """The store as a tick sees it, with an acknowledgement landing just after the tick read the incidents."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.then = inner, None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def open_incidents(self) -> Any:
        docs = list(self.inner.open_incidents())
        if self.then is not None:
            self.then()
            self.then = None
        return iter(docs)


def test_an_acknowledgement_during_a_tick_stops_its_escalation_and_is_kept(tmp_path, smtp):
    from alerting.ack import acknowledge, make_token

    config = make_config(tmp_path, smtp)
    store, actions = open_state(config)
    racing = AckMidTick(store)
    run = Notifier(config, Registry.load(REGISTRY), racing, actions, channels(config))
    store.put("incident", "x", incident("x", "vp-ubnd", "critical"))
    run.tick(T0)
    run.tick(T0 + timedelta(seconds=31))
    secret = config.get("notify", "ack_secret")
    token = make_token(secret, "x", "vp-it", T0 + timedelta(days=1))
    racing.then = lambda: acknowledge(store, actions, secret, token, "", T0 + timedelta(minutes=15, seconds=59))
    report = run.tick(T0 + timedelta(minutes=16))  # past the deadline by the copy the tick read
    assert report.escalated == 0
    assert store.get("incident", "x")["status"] == "acknowledged"
    assert [m.rcpt_tos for m in smtp.messages()] == [("it.vp@ankhanh.example",)]  # the head was not told


def test_finished_incidents_are_forgotten_and_their_group_can_start_again(tmp_path, smtp):
    """Once an incident is closed and owes nothing, its routing state goes; a later incident of the same
    agency and rule makes a new group whose message is not mistaken for the old one's."""
    config = make_config(tmp_path, smtp, deadlines=NO_DEADLINES)
    run = notifier(config)
    run.store.put("incident", "first", incident("first", "snv"))
    run.tick(T0)
    run.tick(T0 + timedelta(seconds=31))
    run.store.patch("incident", "first", {"status": "closed", "closed_at": (T0 + timedelta(minutes=5)).isoformat()})
    run.tick(T0 + timedelta(minutes=6))  # the resolved notice
    run.tick(T0 + timedelta(minutes=7))
    assert list(run.store.all("track")) == [] and list(run.store.all("group")) == []
    run.store.put("incident", "second", incident("second", "snv", at=T0 + timedelta(minutes=8)))
    run.tick(T0 + timedelta(minutes=8))
    run.tick(T0 + timedelta(minutes=8, seconds=31))
    assert [(incidents_of(m), subject(m)[:12]) for m in smtp.messages()] == [
        (["first"], "[CAO] Sở Nội"), (["first"], "[Đã xử lý] S"), (["second"], "[CAO] Sở Nội")]


def test_quiet_hours_hold_medium_incidents_until_morning(tmp_path, smtp):
    config = make_config(tmp_path, smtp, deadlines=NO_DEADLINES, route={"repeat_interval": 86400})
    # the default tree's medium route keeps its quiet hours, 21:00-07:00
    run = notifier(config)
    night = datetime(2026, 3, 16, 15, 0, tzinfo=UTC)  # 22:00 in Hanoi
    run.store.put_many("incident", [("m", incident("m", "snv", "medium", at=night)),
                                    ("h", incident("h", "stc", "high", at=night))])
    for moment in (night, night + timedelta(seconds=31), night + timedelta(hours=8, minutes=59)):
        run.tick(moment)
    assert [incidents_of(m) for m in smtp.messages()] == [["h"]]  # high is not held
    run.tick(night + timedelta(hours=9, seconds=1))  # 07:00 in Hanoi
    assert [incidents_of(m) for m in smtp.messages()] == [["h"], ["m"]]


def test_maintenance_holds_and_the_digest_says_so_to_that_agency_only(tmp_path, smtp):
    window = {"agency": "snv", "start": (T0 - timedelta(hours=1)).isoformat(),
              "end": (T0 + timedelta(hours=2)).isoformat()}
    config = make_config(tmp_path, smtp, deadlines=NO_DEADLINES, maintenance=[window])
    run = notifier(config)
    run.store.put_many("incident", [("held", incident("held", "snv")), ("low", incident("low", "stc", "low")),
                                    ("free", incident("free", "syt"))])
    run.tick(T0)
    run.tick(T0 + timedelta(seconds=31))
    run.tick(T0 + timedelta(hours=1))
    by_recipient = {m.rcpt_tos[0]: m for m in smtp.messages()}
    assert len(by_recipient) == len(smtp.messages()) == 3
    assert incidents_of(by_recipient["it.syt@ankhanh.example"]) == ["free"]
    stc = by_recipient["it.stc@ankhanh.example"]  # today's digest (past 07:30): its own low incident
    assert incidents_of(stc) == ["low"] and "bảo trì" not in stc.mail.get_body().get_content()
    snv = by_recipient["it.snv@ankhanh.example"]  # its digest: no incident shown, the held one counted
    assert incidents_of(snv) == [""] and subject(snv) == "[Tổng hợp ngày 2026-03-16] Sở Nội vụ: 0 sự cố"
    assert "1 sự cố bị tạm giữ do đang trong thời gian bảo trì." in snv.mail.get_body().get_content()
    suppressed = [a for a in read_lake(config.path("lake", "path")) if a.kind == "suppress"]
    assert [(a.target_id, a.detail) for a in suppressed] == [("held", {"reason": "maintenance"})]
    run.tick(T0 + timedelta(hours=2))  # the window is over: routed as usual, after group_wait
    run.tick(T0 + timedelta(hours=2, seconds=31))
    assert [(m.rcpt_tos, incidents_of(m)) for m in smtp.messages()[3:]] == [(("it.snv@ankhanh.example",), ["held"])]


def test_zalo_bot_shape_for_zalo_contacts(tmp_path, smtp):
    with WebhookSink(SECRETS["SOCPIPE__NOTIFY__WEBHOOK_SECRET"]) as zalo:
        config = make_config(tmp_path, smtp, zalo_url=f"{zalo.url}/bot/sendMessage",
                             route={"channels": ["email", "webhook"], "group_wait": 0})
        run = notifier(config)  # the demo registry: skhcn-it has webhook zalo:skhcn-it
        run.store.put("incident", "z", incident("z", "skhcn"))
        assert run.tick(T0).sent == 2
        (posted,) = zalo.posted
    assert posted.path == "/bot/sendMessage" and posted.signature_ok
    assert set(posted.json) == {"chat_id", "text"} and posted.json["chat_id"] == "skhcn-it"
    assert posted.json["text"].startswith("[CAO] Sở Khoa học và Công nghệ: Đăng nhập bất thường vào máy chủ\n\n")
