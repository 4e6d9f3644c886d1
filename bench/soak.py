"""Soak: the whole stack for a long time under faults, then exactly-once counts and memory figures.

Starts its own dev servers, `socpipe run`, a TCP syslog collector, the layer-1 notifier (`socpipe notify`)
and an SMTP server (aiosmtpd, alerting/notify_sink.py), sends auth.log lines at a steady rate (every tenth
alerts) for --minutes, and on a schedule restarts Kafka, restarts OpenSearch, SIGKILLs the streaming job
and SIGKILLs the notifier (each started again at once), in turn. Then it waits for the pipeline to drain
and counts: every event exactly once in the lake and in OpenSearch, every alert exactly once in the
lake, OpenSearch and the Kafka `alerts` topic, every incident exactly once in OpenSearch, and every
notification exactly once on the Kafka `notifications` topic and in the SMTP server's mailbox. Resident
memory (RSS) of every process is sampled; a
process is flat when its RSS at the end is less than 10% above its RSS after warm-up (the first fifth of
the run), compared within one process lifetime (restarted processes are measured from their restart,
and judged on their longest lifetime; one shorter than a minute past its warm-up is printed, not judged:
in the 3-minute CI run the restarted servers and the job live about 80 s each).
Lines are dated with the clock, and each failure comes from an address of its own, so no correlation
fires: every alert is a single one, known before it is sent. The host changes every HOST_SECONDS of
sending, so the stream folds the alerts into one incident per host (docs/incidents.md: rule and host).
The notifier's route (ROUTE) sends each incident on its own to the province's SOC duty officer, at once,
never again (no repeat, no escalation): each incident is one notification, listed on `notifications` once
and accepted by the SMTP server once (by Message-ID, the notification id; a notifier killed between the
SMTP server's acceptance and its own record sends that message again under the same Message-ID, which a
relay drops: such duplicates are printed, not failed).

    python -m bench.soak                         # 30 minutes at 5,000 events/s
    python -m bench.soak --minutes 3 --rate 1000 # the CI-sized run (tests/test_soak.py)
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import yaml
from kafka import KafkaConsumer
from opensearchpy import OpenSearch
from opensearchpy.helpers import scan

from alerting.alerts import alert_id
from alerting.notify_kafka import TOPIC as NOTIFICATIONS
from alerting.notify_sink import SmtpSink
from bench.stream_latency import ALERT_EVERY, _config, _event_id, _line, _start, _wait_port
from rules.compiler import load_rules
from socpipe.config import STARTER_PACK
from socpipe.demo import REGISTRY
from socpipe.dev import servers
from socpipe.registry import Registry

GROWTH_LIMIT = 0.10
HOST_SECONDS = 10  # a new host (so a new incident) every this many seconds of sending
# The province (the registry's root, owner of hosts nobody registered) tells its SOC duty officer of each
# incident on its own, at once, once: grouped by incident, no wait, nothing repeated, no escalation deadline.
ROLE = "soc_duty"
ROUTE = {"group_by": ["incident_id"], "group_wait": 0, "group_interval": 86400, "repeat_interval": 864000,
         "roles": [ROLE], "channels": ["email"], "routes": []}
JUDGED_SECONDS = 60.0  # a process lifetime is judged flat or not only with this much time after its warm-up


@dataclass
class Memory:
    """RSS samples per process lifetime (a restart or SIGKILL starts a new one), each warmed up on its own:
    the first `warmup` seconds of a lifetime are not compared (a JVM grows its heap, Spark starts). Each
    sample also keeps the file-backed part (RssFile: mapped files such as the search store's index
    segments, which grow with the data it holds), printed beside the judged total."""

    warmup: float
    # (pid, seconds, MiB, of which file-backed MiB)
    samples: dict[str, list[tuple[int, float, float, float]]] = field(default_factory=dict)

    def sample(self, name: str, pids: list[int], elapsed: float) -> None:
        if pids:
            sizes = [_rss_mib(pid) for pid in pids]
            self.samples.setdefault(name, []).append((pids[0], elapsed, sum(t for t, _ in sizes),
                                                      sum(f for _, f in sizes)))

    def report(self) -> list[tuple[str, tuple[float, float], tuple[float, float], float, bool]]:
        """Per process, its longest lifetime: (name, (MiB, file-backed MiB) after warm-up, the same at the
        end, growth of the MiB, judged); judged is False when the lifetime had less than JUDGED_SECONDS
        after its warm-up."""
        out = []
        for name, samples in self.samples.items():
            lifetimes: dict[int, list[tuple[float, float, float]]] = {}
            for pid, seconds, rss, mapped in samples:
                lifetimes.setdefault(pid, []).append((seconds, rss, mapped))
            warm = max(([s for s in lifetime if s[0] >= lifetime[0][0] + self.warmup]
                        for lifetime in lifetimes.values()), key=lambda w: w[-1][0] - w[0][0] if w else -1.0)
            if not warm:
                out.append((name, (0.0, 0.0), (0.0, 0.0), 0.0, False))
                continue
            (t0, first, first_mapped), (t1, end, end_mapped) = warm[0], warm[-1]
            out.append((name, (first, first_mapped), (end, end_mapped), (end - first) / first if first else 0.0,
                        t1 - t0 >= JUDGED_SECONDS))
        return out


def _rss_mib(pid: int) -> tuple[float, float]:
    """VmRSS and RssFile of a process, MiB (0 when it is gone)."""
    sizes = {"VmRSS:": 0.0, "RssFile:": 0.0}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name = line.split(maxsplit=1)[0] if line else ""
            if name in sizes:
                sizes[name] = int(line.split()[1]) / 1024
    except OSError:
        pass
    return sizes["VmRSS:"], sizes["RssFile:"]


def _group(pid: int) -> list[int]:
    """The process and everything in its session (the job: driver, JVM, Python workers)."""
    members = [pid]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != pid:
            try:
                if os.getsid(int(entry.name)) == pid:
                    members.append(int(entry.name))
            except OSError:
                continue
    return members


def run(minutes: float, rate: int, drain_seconds: float) -> bool:
    seconds = minutes * 60
    rule_id = next(r.id for r in load_rules([STARTER_PACK]).rules if r.title.startswith("SSH Authentication"))
    with tempfile.TemporaryDirectory(prefix="socpipe-soak-") as tmp:
        home = Path(tmp)
        endpoints = servers.up(home / "dev")
        smtp = SmtpSink().start()
        config, name, port = _config(home, endpoints)
        notify_config = _notify_config(config, name, smtp.port)
        job = _start(config, home / "run.log", "run")
        collector = _start(config, home / "collect.log", "collect", "syslog", "--tcp", str(port))
        notifier = _start(notify_config, home / "notify.log", "notify")
        memory, faults = Memory(warmup=seconds / 5), []
        try:
            conn = socket.create_connection(_wait_port(port), timeout=60)
            total = int(rate * seconds)
            started, dated = time.monotonic(), time.time()
            sender = threading.Thread(target=_send, args=(conn, rate, total, started, dated), daemon=True)
            sender.start()
            schedule = [seconds * k / 9 for k in range(1, 9)]  # eight faults, two of each kind
            kinds = ["kafka", "opensearch", "job", "notifier"] * 2
            while sender.is_alive() or schedule:
                elapsed = time.monotonic() - started
                if schedule and elapsed >= schedule[0]:
                    schedule.pop(0)
                    kind = kinds.pop(0)
                    t0 = time.monotonic()
                    if kind == "job":
                        os.killpg(job.pid, signal.SIGKILL)
                        job.wait()
                        job = _start(config, home / "run.log", "run")
                    elif kind == "notifier":
                        os.killpg(notifier.pid, signal.SIGKILL)
                        notifier.wait()
                        notifier = _start(notify_config, home / "notify.log", "notify")
                    else:
                        servers.stop_server(home / "dev", kind)
                        time.sleep(5)
                        servers.resume_server(home / "dev", kind)
                    what = f"SIGKILL of the {kind}" if kind in ("job", "notifier") else f"restart of {kind}"
                    faults.append(f"{elapsed:.0f} s: {what} ({time.monotonic() - t0:.0f} s)")
                    print("fault", faults[-1], flush=True)
                for server, pid in servers.pids(home / "dev").items():
                    memory.sample(server, [pid] if pid else [], elapsed)
                memory.sample("job (driver, JVM, workers)", _group(job.pid), elapsed)
                memory.sample("collector", [collector.pid], elapsed)
                memory.sample("notifier", [notifier.pid], elapsed)
                time.sleep(2)
            sender.join()
            conn.close()
            sent_seconds = time.monotonic() - started
            print(f"sent {total} events in {sent_seconds:.0f} s ({total / sent_seconds:.0f}/s); draining ...",
                  flush=True)
            # Every line is distinct (its number is in it), so each is one event; every tenth alerts.
            alerts = {alert_id(rule_id, _event_id(_soak_line(i, rate, dated))) for i in range(0, total, ALERT_EVERY)}
            hosts = len({_host(i, rate) for i in range(0, total, ALERT_EVERY)})
            contacts = len(Registry.load(REGISTRY).role_contacts(_province(), ROLE))
            ok = _drain_and_count(home, endpoints, name, total, alerts, hosts, contacts, smtp, drain_seconds)
        finally:
            for process in (collector, job, notifier):
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
            servers.down(home / "dev")
            smtp.stop()
    print("faults:", *faults, sep="\n  ")
    flat = True
    for proc, (first, first_mapped), (end, end_mapped), growth, judged in memory.report():
        mapped = f"file-backed {first_mapped:.0f} -> {end_mapped:.0f} MiB"
        if judged:
            flat &= growth < GROWTH_LIMIT
            print(f"RSS {proc}: {first:.0f} MiB after warm-up, {end:.0f} MiB at the end ({growth:+.1%}) "
                  f"of its longest lifetime ({mapped})")
        else:
            print(f"RSS {proc}: not judged, no lifetime lasted {JUDGED_SECONDS:.0f} s past its warm-up "
                  f"({first:.0f} -> {end:.0f} MiB, {mapped}); run longer (--minutes) to judge it")
    print(f"load average at the end: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    print("soak passed" if ok and flat else "soak FAILED")
    return ok and flat


def _soak_line(i: int, rate: int, dated: float) -> bytes:
    """Line i, dated when it is due, from the host of its time; its failure (every tenth line) from an
    address of its own."""
    return _line(i, dated + i / rate, burst=1).replace(b" bench-web01 ", f" {_host(i, rate)} ".encode(), 1)


def _host(i: int, rate: int) -> str:
    return f"soak-h{i // (rate * HOST_SECONDS):04d}"


def _province() -> str:
    return next(a.id for a in Registry.load(REGISTRY).agencies.values() if a.parent is None)


def _notify_config(config: Path, name: str, smtp_port: int) -> Path:
    """The notifier's configuration: the job's, with the registry, the route and the SMTP server; the job's
    too gets the incidents index (the notifier reads what the stream writes)."""
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["incidents"] = {"index": f"{name}-incidents"}
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    data |= {"registry": str(REGISTRY),
             "notify": {"route": ROUTE, "tick_seconds": 2.0,
                        "deadlines": {level: None for level in ("critical", "high", "medium", "low", "informational")},
                        "smtp": {"host": "127.0.0.1", "port": smtp_port, "security": "none"}}}
    path = config.with_name("notify.yaml")
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def _send(conn: socket.socket, rate: int, total: int, started: float, dated: float) -> None:
    sent, tick = 0, 0.01
    while sent < total:
        due = min(total, int((time.monotonic() - started) * rate) + 1)
        if due > sent:
            conn.sendall(b"".join(_soak_line(i, rate, dated) + b"\n" for i in range(sent, due)))
            sent = due
        time.sleep(tick)


def _drain_and_count(home: Path, endpoints: servers.Endpoints, name: str, events: int, alerts: set[str], hosts: int,
                     contacts: int, smtp: SmtpSink, drain_seconds: float) -> bool:
    search = OpenSearch(endpoints.opensearch, timeout=60)
    want = {"lake events": events, "search events": events, "lake alerts": len(alerts),
            "search alerts": len(alerts), "kafka alerts": len(alerts), "search incidents": hosts,
            "kafka notifications": hosts * contacts, "smtp notifications": hosts * contacts}
    deadline = time.monotonic() + drain_seconds
    while True:
        try:
            counts, incidents, notified, keys, mail_ids = _counts(home, search, endpoints.kafka, name, smtp)
        except pa.ArrowInvalid:  # a lake file the job is writing right now: read again
            time.sleep(1)
            continue
        # Done when every store holds what it should (search documents are written after the lake).
        done = all(counts[store][1] >= want[store] for store in want)
        if done or time.monotonic() > deadline:
            break
        time.sleep(5)
    ok = True
    for store, expected in want.items():
        rows, unique = counts[store]
        # the mailbox: distinct Message-IDs (a relay drops a redelivery under the same id)
        good = unique == expected and (rows == unique or store == "smtp notifications")
        ok &= good
        extra = f" ({rows - unique} redelivered under the same Message-ID)" if rows > unique else ""
        print(f"{store}: {rows} records, {unique} distinct, {expected} expected{extra}"
              f"{'' if good else '  <-- NOT exactly once'}")
    every = all(n == contacts for n in notified.values()) and set(notified) == incidents
    same = keys == mail_ids
    print(f"notified incidents: {len(notified)} of {len(incidents)} in the store, each {sorted(set(notified.values()))}"
          f" time(s) ({contacts} expected){'' if every else '  <-- NOT exactly once'}; the topic's notifications "
          f"are the mailbox's: {same}")
    return ok and every and same


def _counts(home: Path, search: OpenSearch, kafka: str, name: str, smtp: SmtpSink
            ) -> tuple[dict[str, tuple[int, int]], set[str], Counter[str], set[str], set[str]]:
    """(rows, distinct) per store; the incident ids in the store, how often each was notified on the topic,
    the topic's notification ids and the mailbox's."""
    out = {}
    for table, column in (("events", "event_id"), ("alerts", "alert_id")):
        path = home / "lake" / table
        ids = (ds.dataset(path, format="parquet", partitioning="hive").to_table(columns=[column])
               .column(column).to_pylist() if path.is_dir() else [])
        out[f"lake {table}"] = (len(ids), len(set(ids)))
    for index in ("events", "alerts", "incidents"):
        pattern = f"{name}-{index}" + ("" if index == "incidents" else "-*")
        search.indices.refresh(index=pattern, ignore_unavailable=True, allow_no_indices=True)
        ids = [h["_id"] for h in scan(search, index=pattern, query={"query": {"match_all": {}}},
                                      _source=False, ignore_unavailable=True)]
        out[f"search {index}"] = (len(ids), len(set(ids)))
    incidents = set(ids)
    records: dict[str, list[tuple[bytes, bytes]]] = {}
    for topic in ("alerts", NOTIFICATIONS):
        consumer = KafkaConsumer(topic, bootstrap_servers=kafka, auto_offset_reset="earliest",
                                 consumer_timeout_ms=5000, isolation_level="read_committed")
        records[topic] = [(m.key, m.value) for m in consumer]
        consumer.close()
    keys = [k for k, _ in records["alerts"]]
    out["kafka alerts"] = (len(keys), len(set(keys)))
    sent = [(k.decode(), json.loads(v)) for k, v in records[NOTIFICATIONS]]
    out["kafka notifications"] = (len(sent), len({k for k, _ in sent}))
    notified = Counter(i for _, record in sent for i in record["incidents"])
    mail = [m.mail["Message-ID"].strip("<>").removesuffix("@socpipe") for m in smtp.messages()]
    out["smtp notifications"] = (len(mail), len(set(mail)))
    return out, incidents, notified, {k for k, _ in sent}, set(mail)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--rate", type=int, default=5000, help="events/s sent to the TCP syslog collector")
    parser.add_argument("--drain-seconds", type=float, default=600.0, help="wait for the backlog at most this long")
    args = parser.parse_args()
    print(f"load average at the start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    sys.exit(0 if run(args.minutes, args.rate, args.drain_seconds) else 1)


if __name__ == "__main__":
    main()
