"""Layer 4's overdue reporting clocks told through layer 1, on the real SMTP server of
tests/test_notify_servers.py: the national job (layers/national/job.py) runs on a lake and records a clock
that ran out in the action log; the notifier's next tick tells the agency's head and the SOC duty officer,
once per incident and stage, across ticks, restarts and re-runs of the national job. What the server
received is asserted."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import audit_lake
import pytest
from test_notify_servers import LOGIN, NO_DEADLINES, T0, incident, incidents_of, make_config, notifier, subject

from alerting.actions import read_lake
from alerting.national.transports import FileTransport
from alerting.notify_sink import SmtpSink
from alerting.render import render
from layers.audit.contract import write_incidents
from layers.national import job
from socpipe.config import DEFAULTS
from socpipe.demo import REGISTRY
from socpipe.registry import Registry

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
VP_HEAD, SOC_DUTY = "lv.cuong@ankhanh.example", "soc-truc@ankhanh.example"  # vp-ubnd's head; the province's SOC
SKHCN = {"it.skhcn@ankhanh.example", "giamdoc.skhcn@ankhanh.example", "noc.ttdl@ankhanh.example"}
OVERDUE_24 = "[Quá hạn báo cáo cơ quan giám sát quốc gia (24 giờ)] "
OVERDUE_72 = "[Quá hạn báo cáo cơ quan giám sát quốc gia (72 giờ)] "


@pytest.fixture
def smtp():
    with SmtpSink(login=LOGIN) as sink:
        yield sink


def national(lake, now, transports=()) -> list[job.Outcome]:
    settings = job.Settings.from_config({**DEFAULTS["national"], "retry_seconds": 0})
    return job.run(lake, Registry.load(REGISTRY), settings, list(transports), now, say=lambda _: None)


def lake_incident(ident: str, agency: str) -> dict:
    """The incident as layer 2 writes it to the lake (flat keys), critical: reportable."""
    return audit_lake.incident(ident, "critical", agency, f"s-{agency}", 3, T0.replace(tzinfo=None).isoformat())


def notices(smtp, prefix: str) -> list:
    return [m for m in smtp.messages() if subject(m).startswith(prefix)]


@pytest.mark.slow
def test_an_overdue_national_clock_is_told_once_to_the_head_and_the_soc_duty_officer(tmp_path, smtp):
    config = make_config(tmp_path, smtp, deadlines=NO_DEADLINES)
    lake = config.path("lake", "path")
    run = notifier(config)
    run.store.put_many("incident", [("late", incident("late", "vp-ubnd", "critical")),
                                    ("ontime", incident("ontime", "skhcn", "critical"))])
    run.tick(T0)
    run.tick(T0 + timedelta(seconds=31))  # first notices to each agency's on-site contact
    routed = len(smtp.messages())
    # "ontime" reaches the lake first and is reported within the hour; "late" only a day later, no transport up.
    write_incidents(lake, [lake_incident("ontime", "skhcn")])
    national(lake, T0 + timedelta(hours=1), [FileTransport(tmp_path / "national")])
    write_incidents(lake, [lake_incident("late", "vp-ubnd")])
    outcomes = national(lake, T0 + timedelta(hours=25))
    assert {o.incident_id: o.overdue for o in outcomes} == {"ontime": [], "late": ["initial"]}

    report = run.tick(T0 + timedelta(hours=25, minutes=1))
    assert report.failed == 0, report.errors
    told = notices(smtp, OVERDUE_24)
    assert sorted(r for m in told for r in m.rcpt_tos) == sorted([VP_HEAD, SOC_DUTY])
    assert all(incidents_of(m) == ["late"] for m in told)
    assert subject(told[0]) == OVERDUE_24 + "Văn phòng Ủy ban nhân dân tỉnh: Đăng nhập bất thường vào máy chủ"
    body = told[0].mail.get_body().get_content()
    assert "hạn gửi báo cáo ban đầu (Mẫu 03) là 17/03/2026 09:00 (giờ Việt Nam, 24 giờ sau khi phát hiện)" in body
    assert "Sự cố late của Văn phòng Ủy ban nhân dân tỉnh" in body and "`socpipe national`" in body
    assert "/ack?t=" not in body  # nothing to acknowledge: the report must be sent
    # the notification log: one notify action per recipient, like every other message
    logged = [a for a in read_lake(lake) if a.kind == "notify" and a.detail["kind"] == "national_overdue"]
    assert sorted(a.detail["address"] for a in logged) == sorted([VP_HEAD, SOC_DUTY])
    assert {a.target_id for a in logged} == {"late"}

    # not again: the next tick, the national job run again, a restarted notifier
    run.tick(T0 + timedelta(hours=26))
    national(lake, T0 + timedelta(hours=26))
    notifier(config).tick(T0 + timedelta(hours=27))
    assert len(notices(smtp, OVERDUE_24)) == 2
    # The 72 h clock: neither was reported in full (neither is closed); each agency's own head hears of its own.
    national(lake, T0 + timedelta(hours=73))
    notifier(config).tick(T0 + timedelta(hours=73, minutes=1))
    full = sorted((m.rcpt_tos, incidents_of(m)) for m in notices(smtp, OVERDUE_72))
    assert full == sorted([((VP_HEAD,), ["late"]), ((SOC_DUTY,), ["late"]), ((SOC_DUTY,), ["ontime"]),
                           (("giamdoc.skhcn@ankhanh.example",), ["ontime"])])
    # another agency's contacts never heard of "late", nor anyone of a clock met in time
    skhcn_heard = [m for m in smtp.messages()[routed:] if set(m.rcpt_tos) & SKHCN]
    assert [(subject(m)[:len(OVERDUE_72)], incidents_of(m)) for m in skhcn_heard
            if "Quá hạn" in subject(m)] == [(OVERDUE_72, ["ontime"])]


def test_the_overdue_notice_in_english():
    text = render("national_overdue", "en", "Data Centre operations", "Sở Khoa học và Công nghệ", None,
                  [{"incident_id": "x1", "@timestamp": "2026-03-16T02:00:00+00:00", "level": "critical",
                    "rule": {"title": "Ransomware"}}], {}, ZoneInfo("Asia/Ho_Chi_Minh"), {},
                  {"stage": "full", "hours": 72, "deadline": "2026-03-19T02:00:00+00:00"})
    assert text.subject == "[National report overdue (72 h)] Sở Khoa học và Công nghệ: Ransomware"
    assert "its full report (Mẫu 04) was due at 19/03/2026 09:00 (Vietnam time, 72 h after detection)" in text.body
    assert "What to do: prepare and send the full report (Mẫu 04) now" in text.body
