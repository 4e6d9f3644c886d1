"""End-to-end latency of the streaming spine: collector -> Kafka -> Spark -> OpenSearch, on real servers.

Starts its own dev servers (Kafka, OpenSearch), `socpipe run` and `socpipe collect syslog --tcp`, warms
them up (a few events, then 20 s at 1,000 events/s, not measured), then sends auth.log lines over TCP
at a steady rate, each dated with the time it is due to be sent (RFC 3339), so event time follows the
clock as in production. Every tenth line is a failed SSH login that the starter pack alerts on, and
the failures come in bursts of twenty from one address, each burst a password-guessing episode of the
starter correlation `ssh_brute_force` (gte 20 in 10 minutes): its twentieth failure completes the window.
Each alert's id is known before it is sent (rule id + event content; for a correlation, its group and
first event), so a poller asks OpenSearch for the pending ids and notes when each becomes searchable.
Latency = searchable time - send time of the line that raised it (the collector stamps received_at on
arrival, so this is "event received -> alert searchable" plus the loopback hop). A rate is sustained
when nothing is missing and the median latency of the last fifth of the run is at most 1.25 x that of
the first fifth + 2 s (no growing backlog).

    python -m bench.stream_latency --rates 2000 --seconds 60
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import yaml
from opensearchpy import OpenSearch

from alerting.alerts import alert_id
from ingest.parsers import parse_syslog
from layers.correlate import episode_id
from layers.detect import event_row
from rules.compiler import load_rules
from socpipe.config import STARTER_PACK
from socpipe.dev import servers
from socpipe.events import SYSLOG, Event

ROOT = Path(__file__).resolve().parents[1]
ALERT_EVERY = 10
BURST = 20  # failures from one address: one episode of ssh_brute_force (gte 20 in 10 minutes)
TICK = 0.01  # the sender paces itself in 10 ms steps
WARM_RATE = 1000  # events/s of the second warm-up step, so the measured runs start from a running pipeline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", default="2000", help="events/s to try, comma-separated, in order")
    parser.add_argument("--seconds", type=float, default=60.0, help="sending time per rate")
    parser.add_argument("--drain-seconds", type=float, default=120.0, help="wait for late alerts at most this long")
    args = parser.parse_args()
    ruleset = load_rules([STARTER_PACK])
    rule_id = next(r.id for r in ruleset.rules if r.title.startswith("SSH Authentication"))
    correlation = next(c for c in ruleset.correlations if c.name == "ssh_brute_force")
    assert correlation.type == "event_count" and correlation.condition == (("gte", BURST),), correlation
    ids = _Ids(rule_id, correlation.id)
    print(f"load average at the start: {_load()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="socpipe-latency-") as tmp:
        home = Path(tmp)
        endpoints = servers.up(home / "dev")
        jobs: list[subprocess.Popen[bytes]] = []
        try:
            config, name, port = _config(home, endpoints)
            jobs.append(_start(config, home / "run.log", "run"))
            jobs.append(_start(config, home / "collect.log", "collect", "syslog", "--tcp", str(port)))
            search = OpenSearch(endpoints.opensearch, timeout=30)
            sustained = 0
            with socket.create_connection(_wait_port(port), timeout=30) as conn:
                print("warming up (Spark start, rule compilation, Python workers) ...", flush=True)
                _measure(conn, search, name, ids, 50, 5.0, 240.0, first=0)
                _measure(conn, search, name, ids, WARM_RATE, 20.0, 240.0, first=1_000_000)
                for n, rate in enumerate(int(r) for r in args.rates.split(",")):
                    ok = _measure(conn, search, name, ids, rate, args.seconds, args.drain_seconds,
                                  first=(n + 1) * 10_000_000)
                    sustained = max(sustained, rate) if ok else sustained
                    if not ok:
                        break
            batches = [line for line in (home / "run.log").read_text(errors="replace").splitlines()
                       if re.search(r"layers\.stream: batch \d+: \d+ events", line)]
            print("micro-batches of the job (first and last):", *batches[:8], "...", *batches[-4:], sep="\n  ")
            largest = sorted(batches, key=lambda line: int(re.search(r"batch \d+: (\d+) events", line)[1]))[-3:]
            print("the largest micro-batches (what limits the rate):", *largest, sep="\n  ")
            print(f"highest rate sustained: {sustained} events/s" if sustained else "no rate sustained")
            print(f"load average at the end: {_load()}")
        finally:
            for job in reversed(jobs):
                job.send_signal(signal.SIGTERM)
                try:
                    job.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    os.killpg(job.pid, signal.SIGKILL)
            servers.down(home / "dev")


class _Ids:
    """The ids of the alerts a run's lines raise, known before they are sent."""

    def __init__(self, rule_id: str, correlation_id: str) -> None:
        self.rule_id, self.correlation_id = rule_id, correlation_id

    def expected(self, lines: list[bytes], first: int) -> tuple[dict[str, int], dict[str, int]]:
        """Single alerts and correlation alerts: id -> index of the line whose arrival raises it."""
        single: dict[str, int] = {}
        bursts: dict[str, int] = {}
        for i in range(0, len(lines), ALERT_EVERY):
            event = _event_id(lines[i])
            single[alert_id(self.rule_id, event)] = i
            failure = (first + i) // ALERT_EVERY
            if failure % BURST == 0 and i + (BURST - 1) * ALERT_EVERY < len(lines):  # a whole burst in the run
                group = {"source.ip": _source(failure)}
                bursts[episode_id(self.correlation_id, group, event)] = i + (BURST - 1) * ALERT_EVERY
        return single, bursts


def _measure(conn: socket.socket, search: OpenSearch, name: str, ids: _Ids, rate: int, seconds: float,
             drain: float, first: int) -> bool:
    """Send `rate` lines/s for `seconds`; returns whether the rate was sustained (and prints figures)."""
    total = int(rate * seconds)
    due_at = time.time() + 1.0  # the lines' event time: when each is due to be sent
    lines = [_line(first + i, due_at + i / rate) for i in range(total)]
    single, bursts = ids.expected(lines, first)
    expected = single | bursts
    sent_at: dict[int, float] = {}
    seen_at: dict[str, float] = {}
    done = threading.Event()
    poller = threading.Thread(target=_poll, args=(search, name, expected, seen_at, done), daemon=True)
    poller.start()
    while time.time() < due_at:
        time.sleep(0.001)
    started = time.monotonic()
    per_tick = rate * TICK
    sent = 0
    while sent < total:
        due = min(total, int((time.monotonic() - started) / TICK * per_tick) + 1)
        if due > sent:
            now = time.monotonic()
            conn.sendall(b"".join(line + b"\n" for line in lines[sent:due]))
            for i in range(sent - sent % ALERT_EVERY, due, ALERT_EVERY):
                if i >= sent:
                    sent_at[i] = now
            sent = due
        time.sleep(TICK / 2)
    send_seconds = time.monotonic() - started
    deadline = time.monotonic() + drain
    while len(seen_at) < len(expected) and time.monotonic() < deadline:
        time.sleep(0.2)
    done.set()
    poller.join()
    if first < 10_000_000:  # the warm-up
        return True
    print(f"rate {rate} events/s: sent {total} lines in {send_seconds:.1f} s ({total / send_seconds:.0f}/s)")
    ok = True
    for what, wanted in (("alert", single), ("correlation alert", bursts)):
        latencies = sorted(seen_at[a] - sent_at[i] for a, i in wanted.items() if a in seen_at)
        missing = len(wanted) - len(latencies)
        fifth = max(1, len(wanted) // 5)
        order = sorted(wanted.items(), key=lambda item: item[1])
        early = sorted(seen_at[a] - sent_at[i] for a, i in order[:fifth] if a in seen_at)
        late = sorted(seen_at[a] - sent_at[i] for a, i in order[-fifth:] if a in seen_at)
        growing = bool(early and late) and _pct(late, 50) > 1.25 * _pct(early, 50) + 2.0
        print(f"  {len(wanted)} {what}s expected, {missing} missing")
        if latencies:
            print(f"  latency received -> {what} searchable: p50 {_pct(latencies, 50):.2f} s, "
                  f"p95 {_pct(latencies, 95):.2f} s, p99 {_pct(latencies, 99):.2f} s, max {latencies[-1]:.2f} s")
            print(f"  p50 first fifth {_pct(early, 50):.2f} s, last fifth {_pct(late, 50):.2f} s"
                  f"{' (growing backlog)' if growing else ''}")
        ok = ok and not missing and not growing
    return ok


def _poll(search: OpenSearch, name: str, expected: dict[str, int], seen_at: dict[str, float],
          done: threading.Event) -> None:
    """Ask for the pending alert ids every 200 ms and note when each first becomes searchable."""
    while not done.is_set():
        pending = [a for a in expected if a not in seen_at]
        for chunk in range(0, len(pending), 5000):
            ids = pending[chunk:chunk + 5000]
            try:
                found = search.search(index=f"{name}-alerts-*", body={"query": {"ids": {"values": ids}}},
                                      params={"size": len(ids), "_source": "false",
                                              "ignore_unavailable": "true", "allow_no_indices": "true"})
            except Exception as error:  # the store is busy; ask again next round
                print(f"  poll: {type(error).__name__}", file=sys.stderr)
                continue
            now = time.monotonic()
            for hit in found["hits"]["hits"]:
                seen_at.setdefault(hit["_id"], now)
        time.sleep(0.2)


def _line(i: int, at: float, burst: int = BURST) -> bytes:
    """Line i, dated `at` (RFC 3339, UTC); failures come `burst` at a time from one address."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + f".{int(at % 1 * 1e6):06d}Z"
    if i % ALERT_EVERY == 0:
        source = _source(i // ALERT_EVERY, burst)
        text = f"Failed password for invalid user b{i} from {source} port {1024 + i % 60000} ssh2"
    else:
        text = f"Accepted publickey for svc{i} from 10.30.{i % 200}.{i % 250} port {1024 + i % 60000} ssh2"
    return f"{stamp} bench-web01 sshd[{1000 + i % 30000}]: {text}".encode()


def _source(failure: int, burst: int = BURST) -> str:
    """The address of a failure's burst (198.18.0.0/15, the benchmarking range)."""
    n = failure // burst
    return f"198.{18 + (n >> 16) % 2}.{(n >> 8) % 256}.{n % 256}"


def _event_id(line: bytes) -> str:
    return event_row(Event(parse_syslog(line), SYSLOG), None, (), None)["event_id"]


def _load() -> str:
    """The 1, 5 and 15-minute load averages: the machine is shared."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _pct(values: list[float], pct: int) -> float:
    return values[min(len(values) - 1, int(len(values) * pct / 100))] if values else float("nan")


def _config(home: Path, endpoints: servers.Endpoints) -> tuple[Path, str, int]:
    name = f"bench{uuid.uuid4().hex[:6]}"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = {
        "kafka": {"bootstrap_servers": endpoints.kafka},
        "opensearch": {"url": endpoints.opensearch},
        "lake": {"path": str(home / "lake")},
        "run": {"checkpoint_dir": str(home / "checkpoints"), "trigger_seconds": 0.5,
                "events_index": f"{name}-events", "alerts_index": f"{name}-alerts"},
        "collect": {"state_dir": str(home / "collect"), "id": name},
        "spark": {"master": "local[2]"},
    }
    path = home / "socpipe.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path, name, port


def _start(config: Path, log: Path, *command: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "socpipe.cli", "--config", str(config), *command], cwd=ROOT,
                            stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True)


def _wait_port(port: int, timeout: float = 60.0) -> tuple[str, int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return "127.0.0.1", port
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"collector not listening on {port}")


if __name__ == "__main__":
    main()
