"""The Matrix notifier against a real Synapse home server (tests/synapse_server.py) on 127.0.0.1: each
agency's room receives only that agency's incidents, Vietnamese text arrives intact, a notifier that dies
after the server accepted a message re-sends it under the same transaction id and the server keeps one,
and a home server outage delays messages without losing any. What the rooms hold is read back from the
server as a member reads it, not taken from the notifier."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from synapse_server import SERVER_NAME, Synapse
from test_notify_servers import T0, incident

from alerting.channels import Message
from alerting.matrix import EVENT_KEY
from alerting.notify import Notifier
from alerting.notify_run import channels, open_state, run_command
from socpipe.config import Config, load_config
from socpipe.demo import REGISTRY
from socpipe.registry import Registry

pytestmark = pytest.mark.slow
AGENCIES = ("snv", "stc", "xa-binh-lac", "syt")  # syt has no room: told by mail only
SUBJECT = "[CAO] Sở Nội vụ: Đăng nhập bất thường vào máy chủ"


class Crash(Exception):
    """The notifier process dies: after the server accepted a message, before it was logged."""


@pytest.fixture(scope="module")
def synapse(tmp_path_factory):
    with Synapse(tmp_path_factory.mktemp("synapse")) as server:
        server.admin = server.register("soc-admin", "mật-khẩu-quản-trị", admin=True)
        server.bot = server.register("socpipe", "mật-khẩu-bot")
        yield server


@pytest.fixture
def rooms(synapse, request):
    """A fresh room per agency with a room (its alias per test), the bot invited; {agency: room id}."""
    bot = f"@socpipe:{SERVER_NAME}"
    suffix = request.node.name[-40:].replace("[", "-").replace("]", "").lower()
    return {a: synapse.create_room(synapse.admin, f"{a}-{suffix}", [bot]) for a in AGENCIES[:3]}


def setup(tmp_path: Path, synapse: Synapse, rooms: dict[str, str]) -> tuple[Config, Registry]:
    """snv by an alias in notify.matrix.rooms, xa-binh-lac by a room id there, stc by its contact's chat
    handle; syt's contact has a Matrix user handle, which is not a room."""
    data = yaml.safe_load(REGISTRY.read_text(encoding="utf-8"))
    alias = synapse.call("GET", f"/_matrix/client/v3/rooms/{rooms['snv']}/state/m.room.canonical_alias",
                         token=synapse.admin)["alias"]
    for contact in data["contacts"]:
        if contact["id"] == "stc-it":
            contact["chat"] = rooms["stc"]
        if contact["id"] == "syt-it":
            contact["chat"] = f"@syt-it:{SERVER_NAME}"
    path = tmp_path / "socpipe.yaml"
    path.write_text(yaml.safe_dump({"registry": str(REGISTRY), "lake": {"path": "lake"}, "notify": {
        "state_path": "state.sqlite", "outbox_dir": "outbox", "route": {"channels": ["email", "matrix"],
                                                                        "group_wait": 0},
        "matrix": {"homeserver": synapse.url, "timeout": 5,
                   "rooms": {"snv": alias, "xa-binh-lac": rooms["xa-binh-lac"]}}}}, allow_unicode=True))
    environ = {"SOCPIPE__NOTIFY__MATRIX__TOKEN": synapse.bot, "SOCPIPE__NOTIFY__ACK_SECRET": "ack-3e1f"}
    return load_config(path, environ=environ), Registry.from_dict(data)


def notifier(config: Config, registry: Registry, outlets: dict[str, Any] | None = None) -> Notifier:
    store, actions = open_state(config)
    return Notifier(config, registry, store, actions, outlets or channels(config))


def received(synapse: Synapse, room: str) -> list[dict[str, Any]]:
    return [e["content"] for e in synapse.messages(synapse.admin, room) if e["sender"] != synapse.admin]


def add_incidents(run: Notifier, at_seconds: int = 0) -> dict[str, list[str]]:
    ids = {a: [f"{a}-{at_seconds}-1", f"{a}-{at_seconds}-2"] for a in AGENCIES}
    run.store.put_many("incident", [(i, incident(i, a, rule=i[-1], at=T0 + timedelta(seconds=at_seconds)))
                                    for a, own in ids.items() for i in own])
    return ids


def test_each_agency_room_receives_only_its_own_incidents_in_vietnamese(tmp_path, synapse, rooms, caplog):
    caplog.set_level(logging.DEBUG)
    config, registry = setup(tmp_path, synapse, rooms)
    run = notifier(config, registry)
    ids = add_incidents(run)
    report = run.tick(T0)
    assert report.failed == 0, report.errors
    assert report.sent == 2 * len(AGENCIES) + 2 * len(rooms)  # mail to each on-site contact, one room message
    for agency, room in rooms.items():
        contents = received(synapse, room)
        assert len(contents) == 2  # one per rule (group_by), not one per contact
        assert sorted(i for c in contents for i in c[EVENT_KEY]["incidents"]) == sorted(ids[agency])
        assert {c[EVENT_KEY]["agency"] for c in contents} == {agency}
        others = [i for a, own in ids.items() if a != agency for i in own]
        assert not [i for c in contents for i in others if f"host-{i}" in c["body"]]
    snv = received(synapse, rooms["snv"])[0]
    assert snv["msgtype"] == "m.text" and snv["body"].startswith(SUBJECT + "\n\nKính gửi Võ Thị Lan (Sở Nội vụ),\n")
    assert "Thời điểm phát hiện: 16/03/2026 09:00 (giờ Việt Nam)" in snv["body"]
    assert "Xác nhận đã tiếp nhận: http://127.0.0.1:8400/ack?t=" in snv["body"]
    addresses = {d["address"] for _, d in run.store.all("sent") if d["channel"] == "matrix"}
    assert addresses == {*config.get("notify", "matrix")["rooms"].values(), rooms["stc"]}  # by alias, id, chat
    assert run.tick(T0 + timedelta(seconds=60)).sent == 0
    token = synapse.bot
    shown = [caplog.text, repr(config), *map(repr, channels(config).values()),
             *(p.read_bytes().decode("utf-8", "replace") for p in tmp_path.rglob("*") if p.is_file())]
    assert not [s for s in shown if token in s]


def test_a_resend_after_a_crash_is_deduplicated_by_the_transaction_id(tmp_path, synapse, rooms):
    config, registry = setup(tmp_path, synapse, rooms)
    real = channels(config)

    class DiesAfterMatrixAccepted:
        """The Matrix channel, then the process dies before the notifier logs what the server took."""

        def __init__(self) -> None:
            self.accepted: list[str] = []

        def send(self, message: Message, at: Any) -> None:
            real["matrix"].send(message, at)
            self.accepted.append(message.notification_id)
            if len(self.accepted) == 2:
                raise Crash

    dying = DiesAfterMatrixAccepted()
    first = notifier(config, registry, {**real, "matrix": dying})
    ids = add_incidents(first)
    with pytest.raises(Crash):
        first.tick(T0)
    crashed = dying.accepted[-1]
    assert first.store.get("sent", crashed) is None  # the server has it, the notifier's log does not
    restarted = notifier(config, registry)  # a new process: state from the SQLite file only
    report = restarted.tick(T0 + timedelta(seconds=5))
    assert report.failed == 0, report.errors
    assert restarted.store.get("sent", crashed)["at"] == (T0 + timedelta(seconds=5)).isoformat()  # sent again
    assert restarted.tick(T0 + timedelta(seconds=60)).sent == 0
    per_room = {a: received(synapse, r) for a, r in rooms.items()}
    notifications = Counter(c[EVENT_KEY]["notification_id"] for contents in per_room.values() for c in contents)
    assert len(notifications) == 2 * len(rooms) and set(notifications.values()) == {1}
    for agency, contents in per_room.items():
        assert sorted(i for c in contents for i in c[EVENT_KEY]["incidents"]) == sorted(ids[agency])


def test_a_home_server_outage_delays_messages_and_loses_none(tmp_path, synapse, rooms):
    config, registry = setup(tmp_path, synapse, rooms)
    run = notifier(config, registry)
    synapse.stop()
    try:
        ids = add_incidents(run, 10)
        down = run.tick(T0 + timedelta(seconds=10))
        assert down.failed == 2 * len(rooms) and "Connection refused" in down.errors[0]
        assert down.sent == 2 * len(AGENCIES)  # mail is not held up by the chat server
        assert run.tick(T0 + timedelta(seconds=20)).failed == 2 * len(rooms)
    finally:
        synapse.start()
    back = run.tick(T0 + timedelta(seconds=30))
    assert back.sent == 2 * len(rooms) and back.failed == 0
    assert run.tick(T0 + timedelta(seconds=40)).sent == 0
    for agency, room in rooms.items():
        contents = received(synapse, room)
        assert sorted(i for c in contents for i in c[EVENT_KEY]["incidents"]) == sorted(ids[agency])


def test_socpipe_notify_sends_to_rooms_and_refuses_matrix_routes_without_a_token(tmp_path, synapse, rooms):
    config, _ = setup(tmp_path, synapse, rooms)
    settings = yaml.safe_load((tmp_path / "socpipe.yaml").read_text())
    settings["notify"]["route"]["channels"] = ["matrix"]
    (tmp_path / "socpipe.yaml").write_text(yaml.safe_dump(settings, allow_unicode=True))
    assert run_command(True, None, load_config(tmp_path / "socpipe.yaml", environ={})) == 2  # no token
    config = load_config(tmp_path / "socpipe.yaml", environ={"SOCPIPE__NOTIFY__MATRIX__TOKEN": synapse.bot})
    store, _ = open_state(config)
    store.put("incident", "snv-now", incident("snv-now", "snv", at=datetime.now(UTC)))
    assert run_command(True, None, config) == 0
    assert run_command(True, None, config) == 0  # a new process: nothing twice
    (content,) = received(synapse, rooms["snv"])
    assert content[EVENT_KEY]["incidents"] == ["snv-now"] and content["body"].startswith(SUBJECT)
    assert not received(synapse, rooms["stc"]) and not (tmp_path / "outbox").exists()
