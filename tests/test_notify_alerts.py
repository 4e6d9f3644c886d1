"""notify.unit `alerts` (installations without layer 2): every alert is notified as an incident of its own,
through the same routing, grouping, acknowledgement links and escalation, mailed to a real SMTP server
(aiosmtpd). Three alerts that layer 2 would fold into one incident are three notified units here; early
and withdrawn correlation alerts are not notified; an acknowledged alert is not escalated, the others are.
Also `socpipe notify --once --incidents alerts.jsonl` with the unit switched, on the embedded store."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_notify_servers import LOGIN, SECRETS, T0, incidents_of, make_config, notifier

from alerting.ack import acknowledge
from alerting.actions import read_lake
from alerting.incidents import batch_incidents
from alerting.notify_run import add_incidents, run_command
from alerting.notify_sink import SmtpSink
from socpipe.config import load_config
from socpipe.demo import REGISTRY

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")


def alert(ident: str, agency: str, seconds: int, rule: str = "r-brute", base: datetime = T0,
          **extra: Any) -> dict[str, Any]:
    return {"alert_id": ident, "@timestamp": (base + timedelta(seconds=seconds)).isoformat(),
            "rule": {"id": rule, "title": "Dò mật khẩu SSH", "level": "high", "tags": ["attack.t1110"]},
            "host": {"name": f"may-chu-{agency}"}, "agency": {"id": agency}, **extra}


def alerts_file(tmp_path: Path, base: datetime = T0) -> tuple[Path, list[dict[str, Any]]]:
    early = {"type": "event_count", "group": {"source.ip": "203.0.113.9"}, "provisional": True}
    gone = {**early, "provisional": None, "withdrawn": True}
    alerts = [alert("bl-1", "xa-binh-lac", 0, base=base), alert("bl-2", "xa-binh-lac", 60, base=base),
              alert("bl-3", "xa-binh-lac", 120, base=base), alert("stc-1", "stc", 30, base=base),
              alert("bl-early", "xa-binh-lac", 90, "r-corr", base, correlation=early),
              alert("bl-gone", "xa-binh-lac", 95, "r-corr", base, correlation=gone)]
    path = tmp_path / "alerts.jsonl"
    path.write_text("".join(json.dumps(a, ensure_ascii=False) + "\n" for a in alerts), encoding="utf-8")
    return path, alerts


def test_each_alert_is_notified_acknowledged_and_escalated_on_its_own(tmp_path):
    path, alerts = alerts_file(tmp_path)
    assert len(batch_incidents(alerts[:3], 3600)) == 1  # layer 2 would make one incident of bl-1..3
    with SmtpSink(login=LOGIN) as smtp:
        config = make_config(tmp_path, smtp, unit="alerts", route={"group_wait": 0})
        run = notifier(config)
        assert add_incidents(run.store, path, "alerts") == 4  # the early and the withdrawn one are left out
        assert add_incidents(run.store, path, "alerts") == 0
        assert run.tick(T0 + timedelta(seconds=150)).failed == 0
        first = smtp.messages()
        by_recipient = {m.rcpt_tos: m for m in first}
        assert set(by_recipient) == {("it.binhlac@ankhanh.example",), ("it.stc@ankhanh.example",)}
        binhlac = by_recipient[("it.binhlac@ankhanh.example",)]
        assert sorted(incidents_of(binhlac)) == ["bl-1", "bl-2", "bl-3"]  # one message (group_by rule)...
        body = binhlac.mail.get_body().get_content()
        tokens = re.findall(r"Xác nhận đã tiếp nhận: \S+/ack\?t=(\S+)", body)
        assert len(tokens) == 3  # ...with a link for each alert
        assert incidents_of(by_recipient[("it.stc@ankhanh.example",)]) == ["stc-1"]

        acknowledged = acknowledge(run.store, run.actions, SECRETS["SOCPIPE__NOTIFY__ACK_SECRET"], tokens[1],
                                   "đã chặn IP", T0 + timedelta(minutes=5))
        assert acknowledged["incident_id"] == "bl-2" and acknowledged["alert_ids"] == ["bl-2"]
        # high: one hour from each alert's own detection time. bl-2's acknowledgement expires 30 min after it
        # was given (it was not moved on), and its deadline then runs from that moment.
        report = run.tick(T0 + timedelta(seconds=3599))
        assert report.escalated == 0 and report.unacknowledged == 1
        assert run.tick(T0 + timedelta(seconds=3700)).escalated == 2  # bl-1 (at +0 s), stc-1 (at +30 s)
        assert run.tick(T0 + timedelta(seconds=3721)).escalated == 1  # bl-3 (at +120 s)
        escalations = [m for m in smtp.messages() if m.rcpt_tos == ("chutich.binhlac@ankhanh.example",)]
        assert sorted(incidents_of(m)[0] for m in escalations) == ["bl-1", "bl-3"]
        assert all(str(m.mail["Subject"]).startswith("[Chuyển cấp][CAO]") for m in escalations)
    kinds = {(a.kind, a.target_id) for a in read_lake(config.path("lake", "path"))}
    assert {("acknowledge", "bl-2"), ("escalate", "bl-1"), ("escalate", "bl-3"), ("notify", "stc-1")} <= kinds
    assert not {a for a in kinds if a[1] in ("bl-early", "bl-gone")}


def test_socpipe_notify_with_unit_alerts_writes_one_message_per_group(tmp_path):
    path, _ = alerts_file(tmp_path, datetime.now(UTC) - timedelta(minutes=3))  # deadlines not yet reached
    config_path = tmp_path / "socpipe.yaml"
    config_path.write_text(yaml.safe_dump({"registry": str(REGISTRY), "lake": {"path": "lake"}, "notify": {
        "unit": "alerts", "state_path": "state.sqlite", "outbox_dir": "outbox", "route": {"group_wait": 0}}}))
    config = load_config(config_path, environ={})
    assert run_command(True, path, config) == 0
    assert run_command(True, path, config) == 0  # read again, a new process: nothing twice
    outbox = sorted((tmp_path / "outbox").glob("*.eml"))
    headers = sorted(p.read_text().split("X-Socpipe-Incidents: ", 1)[1].split("\n", 1)[0] for p in outbox)
    assert headers == ["bl-1,bl-2,bl-3", "stc-1"]
    config_path.write_text(yaml.safe_dump({"registry": str(REGISTRY), "notify": {"unit": "events"}}))
    assert run_command(True, None, load_config(config_path, environ={})) == 2


@pytest.mark.slow
def test_alerts_of_the_search_store_are_notified_each_once(dev_servers, tmp_path):
    """`socpipe notify --once` with a search store: judged alerts of run.alerts_index become incidents of
    their own (older ones than the lateness at the first start are not sent), late and newly judged alerts
    come in at the next run, and an acknowledged alert keeps its state when the feed reads it again."""
    from opensearchpy import OpenSearch

    from socpipe.search import index_name

    search = OpenSearch(dev_servers.opensearch, timeout=30)
    tag = uuid.uuid4().hex[:8]
    prefix, incidents_index = f"alerts-notify-{tag}", f"incidents-notify-{tag}"
    now = datetime.now(UTC).replace(microsecond=0)

    def index(alerts: list[dict[str, Any]]) -> None:
        for a in alerts:
            search.index(index=index_name(prefix, a["@timestamp"]), id=a["alert_id"], body=a)
        search.indices.refresh(index=f"{prefix}-*")

    _, alerts = alerts_file(tmp_path, now - timedelta(minutes=5))
    index([*alerts, alert("old-1", "snv", -7200, base=now)])  # two hours old: before notify started
    config_path = tmp_path / "socpipe.yaml"
    config_path.write_text(yaml.safe_dump({
        "registry": str(REGISTRY), "lake": {"path": "lake"}, "opensearch": {"url": dev_servers.opensearch},
        "incidents": {"index": incidents_index}, "run": {"alerts_index": prefix},
        "notify": {"unit": "alerts", "outbox_dir": "outbox", "route": {"group_wait": 0, "group_interval": 0}}}))
    config = load_config(config_path, environ={})

    def outbox() -> list[str]:
        return sorted(p.read_text().split("X-Socpipe-Incidents: ", 1)[1].split("\n", 1)[0]
                      for p in (tmp_path / "outbox").glob("*.eml"))

    assert run_command(True, None, config) == 0
    assert outbox() == ["bl-1,bl-2,bl-3", "stc-1"]
    search.update(index=incidents_index, id="bl-2", refresh=True, body={"doc": {
        "status": "acknowledged", "acknowledged_at": now.isoformat(), "acknowledged_by": "contact:binhlac-it"}})

    judged = {**alerts[4], "correlation": {**alerts[4]["correlation"], "provisional": None}}
    index([alert("bl-4", "xa-binh-lac", -600, base=now), alert("stc-2", "stc", -60, base=now), judged])
    assert run_command(True, None, config) == 0  # a new process: the feed's position from the store
    assert outbox() == ["bl-1,bl-2,bl-3", "bl-1,bl-3,bl-4", "bl-early", "stc-1", "stc-1,stc-2"]
    assert run_command(True, None, config) == 0
    assert len(outbox()) == 5
    search.indices.refresh(index=incidents_index)
    held = {h["_id"]: h["_source"] for h in search.search(index=incidents_index, size=100)["hits"]["hits"]}
    assert sorted(held) == ["bl-1", "bl-2", "bl-3", "bl-4", "bl-early", "stc-1", "stc-2"]
    assert held["bl-2"]["status"] == "acknowledged" and held["bl-4"]["alert_ids"] == ["bl-4"]
