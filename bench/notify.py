"""Layer-1 bench: 10,000 incidents across 500 agencies routed, rendered and mailed to a local SMTP server.

    .venv/bin/python -m bench.notify [--incidents 10000] [--agencies 500] [--rate 50] [--tick 0.5]

A generated registry (a province, 500 agencies with their on-site contact and head; the SOC duty officer
at the province) and the scheduler as `socpipe notify` builds it (SQLite state, EmailChannel over SMTP)
send to aiosmtpd on 127.0.0.1, which notes when it accepted each message. Each incident is its own group
(group_by incident_id, group_wait 0), so every delay measured is the pipeline's, not a configured wait.

1. Throughput: all incidents in the store at once, ticks until every one was mailed: notifications/s.
2. Latency: a fresh store fed at --rate incidents/s while `notify`'s loop ticks every --tick seconds;
   delay = SMTP acceptance time - time the incident was written to the store; p50, p95, max.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from alerting.notify import Notifier
from alerting.notify_run import channels, loop, open_state
from alerting.notify_sink import SmtpSink
from socpipe.config import Config, load_config
from socpipe.registry import Registry

LEVELS = ("critical", "high")  # medium waits for office hours and low for the digest: not a delay to measure
RULES = [(f"r{n:02d}", f"Quy tắc phát hiện số {n}: hành vi bất thường") for n in range(20)]


def registry(agencies: int) -> dict[str, Any]:
    units = [{"id": f"a{n:03d}", "name": f"Ủy ban nhân dân xã số {n}", "type": "commune", "parent": "tinh",
              "roles": {"on_site": [f"it{n:03d}"], "head": [f"head{n:03d}"]}} for n in range(agencies)]
    contacts = [{"id": f"it{n:03d}", "name": f"Cán bộ CNTT xã {n}", "email": f"it{n:03d}@xa.example"}
                for n in range(agencies)]
    contacts += [{"id": f"head{n:03d}", "name": f"Chủ tịch xã {n}", "email": f"head{n:03d}@xa.example"}
                 for n in range(agencies)]
    contacts.append({"id": "soc", "name": "Trực ban SOC", "email": "soc@tinh.example"})
    province = {"id": "tinh", "name": "Ủy ban nhân dân tỉnh", "type": "province", "roles": {"soc_duty": ["soc"]},
                "escalation": ["on_site", "head", "soc_duty"]}
    return {"agencies": [province, *units], "contacts": contacts}


def incidents(count: int, agencies: int, seed: int = 15) -> list[dict[str, Any]]:
    pick = random.Random(seed)
    out = []
    for n in range(count):
        rule, title = pick.choice(RULES)
        level = pick.choice(LEVELS)
        out.append({"incident_id": f"inc{n:06d}", "count": 1, "level": level, "status": "new",
                    "rule": {"id": rule, "title": title, "level": level, "tags": []},
                    "agency": {"id": f"a{pick.randrange(agencies):03d}"}, "host": {"name": f"may-{n}"},
                    "escalation_step": 0})
    return out


def configure(home: Path, smtp_port: int, tick: float) -> Config:
    home.mkdir(parents=True)
    path = home / "socpipe.yaml"
    path.write_text(yaml.safe_dump({"lake": {"path": "lake"}, "notify": {
        "state_path": "state.sqlite", "tick_seconds": tick,
        "route": {"group_by": ["incident_id"], "group_wait": 0, "routes": []},
        "smtp": {"host": "127.0.0.1", "port": smtp_port, "security": "none", "sender": "SOC <soc@tinh.example>"},
    }}), encoding="utf-8")
    return load_config(path, environ={"SOCPIPE__NOTIFY__ACK_SECRET": "bench-secret"})


def notifier(config: Config, reg: Registry) -> Notifier:
    store, actions = open_state(config)
    return Notifier(config, reg, store, actions, channels(config))


def throughput(home: Path, reg: Registry, docs: list[dict[str, Any]], sink: SmtpSink) -> None:
    config = configure(home, sink.port, 0)
    run = notifier(config, reg)
    now = datetime.now(UTC).isoformat()
    run.store.put_many("incident", [(d["incident_id"], {**d, "@timestamp": now}) for d in docs])
    before = len(sink.messages())
    started, ticks = time.monotonic(), 0
    while len(sink.messages()) - before < len(docs) and ticks < 1000:
        report = run.tick(datetime.now(UTC))
        ticks += 1
        if report.failed:
            print(f"  tick {ticks}: {report.failed} pending: {report.errors[:1]}")
    seconds = time.monotonic() - started
    sent = len(sink.messages()) - before
    print(f"throughput: {sent} notifications for {len(docs)} incidents in {seconds:.1f} s over {ticks} ticks: "
          f"{sent / seconds:.0f} notifications/s (load average {os.getloadavg()[0]:.2f})")


def latency(home: Path, reg: Registry, docs: list[dict[str, Any]], sink: SmtpSink, rate: float,
            tick: float) -> None:
    config = configure(home, sink.port, tick)
    run = notifier(config, reg)
    written: dict[str, float] = {}
    stop = threading.Event()
    worker = threading.Thread(target=loop, args=(run.tick, tick, stop))
    worker.start()
    start = time.monotonic()
    try:
        for n, doc in enumerate(docs):
            time.sleep(max(0.0, start + n / rate - time.monotonic()))
            at = time.time()
            run.store.put("incident", doc["incident_id"], {**doc, "@timestamp": datetime.now(UTC).isoformat()})
            written[doc["incident_id"]] = at
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(_accepted(sink)) < len(docs):
            time.sleep(0.2)
    finally:
        stop.set()
        worker.join()
    accepted = _accepted(sink)
    delays = sorted(accepted[i] - written[i] for i in written if i in accepted)
    p95 = delays[int(0.95 * (len(delays) - 1))] if delays else float("nan")
    print(f"latency at {rate:g} incidents/s (tick {tick:g} s): {len(delays)}/{len(docs)} mailed, incident -> "
          f"SMTP accepted p50 {statistics.median(delays):.2f} s, p95 {p95:.2f} s, max {delays[-1]:.2f} s "
          f"(load average {os.getloadavg()[0]:.2f})")


def _accepted(sink: SmtpSink) -> dict[str, float]:
    """First acceptance time of each incident named in a message's X-Socpipe-Incidents."""
    first: dict[str, float] = {}
    for message in sink.messages():
        for ident in message.mail["X-Socpipe-Incidents"].split(","):
            first.setdefault(ident, message.at)
    return first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--incidents", type=int, default=10000)
    parser.add_argument("--agencies", type=int, default=500)
    parser.add_argument("--rate", type=float, default=50.0, help="incidents/s fed in the latency run")
    parser.add_argument("--tick", type=float, default=0.5, help="notify.tick_seconds in the latency run")
    parser.add_argument("--skip-latency", action="store_true")
    args = parser.parse_args()
    reg = Registry.from_dict(registry(args.agencies))
    docs = incidents(args.incidents, args.agencies)
    print(f"{args.incidents} incidents, {args.agencies} agencies, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.2f} at start")
    with tempfile.TemporaryDirectory(prefix="socpipe-notify-bench-") as tmp, SmtpSink() as sink:
        throughput(Path(tmp) / "throughput", reg, docs, sink)
        if not args.skip_latency:
            sink.clear()
            latency(Path(tmp) / "latency", reg, docs, sink, args.rate, args.tick)


if __name__ == "__main__":
    main()
