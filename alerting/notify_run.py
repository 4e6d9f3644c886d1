"""`socpipe notify`: the layer-1 scheduler as a long-running process, built from the configuration.

Every piece of state lives in the store (the search store when opensearch.url is set, else SQLite at
notify.state_path), so the process can be stopped at any moment and started again: a tick cut short by
a stop or a crash is resumed by the next one without sending anything twice. SIGTERM and Ctrl-C let the
running tick finish, then stop. The console (`socpipe serve`) opens the same store for acknowledgements.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from alerting.channels import EmailChannel, WebhookChannel
from alerting.matrix import MatrixChannel
from alerting.notify import Channel, Notifier
from alerting.notify_alerts import AlertFeed, add_alerts, read_jsonl
from alerting.notify_store import ActionLog, NotifyStore, SearchStore, SqliteStore
from alerting.routing import channels_used, parse_route
from socpipe.config import Config
from socpipe.registry import Registry

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


def open_state(config: Config) -> tuple[NotifyStore, ActionLog]:
    """The scheduler's store and action log: the search store (incidents index as layer 2 writes it) when
    one is configured, SQLite otherwise; actions go to the lake's `actions/` either way."""
    lake = config.path("lake", "path")
    if config.get("opensearch", "url"):
        from socpipe import search

        client = search.client(config)
        store: NotifyStore = SearchStore(client, config.get("opensearch", "replicas"),
                                         config.get("incidents", "index"))
        return store, ActionLog(lake, client)
    path = config.path("notify", "state_path")
    assert path is not None
    return SqliteStore(path), ActionLog(lake)


def channels(config: Config) -> dict[str, Channel]:
    return {"email": EmailChannel(config), "webhook": WebhookChannel(config), "matrix": MatrixChannel(config)}


def add_incidents(store: NotifyStore, path: Path, unit: str = "incidents") -> int:
    """Incidents from a JSON-lines file (`socpipe detect`/`demo` write incidents.jsonl), or with unit `alerts`
    the per-alert incidents of an alerts.jsonl, that the store does not hold yet: one already there keeps its
    state (acknowledged, escalated) when the file is read again."""
    docs = read_jsonl(path)
    if unit == "alerts":
        return add_alerts(store, docs)
    return store.add_incidents((d["incident_id"], d) for d in docs if d.get("@timestamp"))


def loop(tick: Callable[[datetime], Any], seconds: float, stop: threading.Event, once: bool = False,
         clock: Callable[[], datetime] = utc_now) -> int:
    """Tick until `stop` is set (or once); a failed tick is logged and retried at the next one, since the
    store or a server being away for a while must not end the process. Returns the exit status: with
    `once`, 1 if a message stayed pending or the tick failed; 0 after a requested stop."""
    status = 0
    while not stop.is_set():
        started = time.monotonic()
        try:
            report = tick(clock())
        except Exception as exc:  # noqa: BLE001 - a long-running process reports and carries on
            log.error("notify tick failed: %s: %s", type(exc).__name__, exc)
            status = 1
        else:
            status = 1 if report.failed else 0
            if report.sent or report.failed or report.escalated or report.unacknowledged:
                log.info("sent %d, pending %d, escalated %d, unacknowledged %d (%.1f s)", report.sent,
                         report.failed, report.escalated, report.unacknowledged, time.monotonic() - started)
        if once:
            break
        stop.wait(max(0.0, seconds - (time.monotonic() - started)))
    return status if once else 0


def run_command(once: bool, incidents: Path | None, config: Config, stop: threading.Event | None = None) -> int:
    """The CLI command: build the notifier from the configuration and tick every notify.tick_seconds.
    `incidents`: a file of the configured unit to add first (incidents.jsonl, or alerts.jsonl)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("opensearch").setLevel(logging.WARNING)
    settings = config.get("notify")
    if settings["unit"] not in ("incidents", "alerts"):
        log.error("notify.unit %r: 'incidents' (layer 2's) or 'alerts' (each alert on its own)", settings["unit"])
        return 2
    registry_path = config.path("registry")
    if registry_path is None:
        log.error("layer 1 needs the agency registry (contacts, roles, escalation): set `registry`")
        return 2
    matrix = settings["matrix"]
    if "matrix" in channels_used(parse_route(settings["route"])) and not (matrix["homeserver"] and matrix["token"]):
        log.error("a route sends on matrix: set notify.matrix.homeserver and SOCPIPE__NOTIFY__MATRIX__TOKEN")
        return 2
    if not settings["ack_secret"]:
        log.warning("SOCPIPE__NOTIFY__ACK_SECRET is not set: messages go out without acknowledgement links")
    stop = stop or threading.Event()
    ticking = threading.Event()
    if not once and threading.current_thread() is threading.main_thread():
        def request_stop(signum: int, frame: FrameType | None) -> None:
            """The first signal lets the running tick finish. Before the first tick (waiting for the search
            store to answer) or at a second signal (a tick waiting for it) the process stops at once: every
            decision is in the store already, so what was cut short is resumed by the next start."""
            name = signal.Signals(signum).name
            if stop.is_set() or not ticking.is_set():
                log.warning("%s: stopping now", name)
                raise SystemExit(128 + signum)
            log.info("%s: stopping after this tick", name)
            stop.set()

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
    store, actions = open_state(config)
    if incidents is not None:
        log.info("%d new %s from %s", add_incidents(store, incidents, settings["unit"]), settings["unit"], incidents)
    outlets = channels(config)
    publisher = None
    if config.get("kafka", "bootstrap_servers"):
        from alerting.notify_kafka import NotificationLog

        publisher = NotificationLog(config)
    notifier = Notifier(config, Registry.load(registry_path), store, actions, outlets, publisher=publisher)
    tick: Callable[[datetime], Any] = notifier.tick
    if settings["unit"] == "alerts" and isinstance(store, SearchStore):
        from socpipe import search

        feed = AlertFeed(search.client(config), config.get("run", "alerts_index"), store,
                         float(config.get("incidents", "lateness_seconds")))

        def tick(now: datetime) -> Any:
            feed(now)
            return notifier.tick(now)
    ticking.set()
    smtp = settings["smtp"]
    log.info("notify: every %g s, mail via %s", settings["tick_seconds"],
             f"{smtp['host']}:{smtp['port']}" if smtp["host"] else config.path("notify", "outbox_dir"))
    try:
        return loop(tick, float(settings["tick_seconds"]), stop, once)
    finally:
        email = outlets["email"]
        if isinstance(email, EmailChannel):
            email.close()
        if publisher is not None:
            publisher.close()
