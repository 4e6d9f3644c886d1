"""`socpipe collect syslog | netflow | file | import`: set up the spool and producer, run a collector, stop cleanly.

Each command keeps its spool (and the file tail its offsets) under collect.state_dir/<command>, so a
syslog listener and a file tail on one machine do not share a spool. SIGTERM and SIGINT stop a
long-running collector: it stops reading, saves offsets, gives Kafka a few seconds for what is queued
(the rest stays in the spool for the next start), and logs its counts.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path

from ingest.producer import Counts, Producer
from ingest.spool import Spool
from ingest.stamp import AgencyHints, collector_id
from socpipe.config import Config

log = logging.getLogger("socpipe.collect")
CLOSE_SECONDS = 10.0
IMPORT_DRAIN_SECONDS = 300.0


def run(args: argparse.Namespace, config: Config) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("kafka").setLevel(logging.ERROR)  # refused connections during an outage are expected
    logging.getLogger("kafka.cluster").setLevel(logging.CRITICAL)  # "topic not found" before auto-creation
    command = args.collect_command
    collector = collector_id(config)
    hints = AgencyHints.from_config(config)
    state_dir = config.path("collect", "state_dir")
    assert state_dir is not None
    spool = Spool(state_dir / command / "spool", config.get("collect", "spool_max_bytes"))
    producer = Producer(config, spool)
    stop = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stop.set())
    try:
        if command == "import":
            return _import(args, producer, collector, hints)
        if command == "syslog":
            return _syslog(args, producer, collector, hints, stop)
        if command == "netflow":
            return _netflow(args, producer, collector, hints, stop, state_dir / command, config)
        return _file(args, producer, collector, hints, stop, config, state_dir / command)
    finally:
        counts = producer.close(CLOSE_SECONDS)
        log.info("collector %s stopped: %s; %d waiting in the spool", collector, counts.line(), producer.pending)


def _import(args: argparse.Namespace, producer: Producer, collector: str, hints: AgencyHints) -> int:
    from ingest.importer import import_paths

    queued = import_paths(args.paths, producer, collector, hints)
    drained = producer.wait_drained(IMPORT_DRAIN_SECONDS)
    for topic, count in sorted(queued.items()):
        print(f"{topic} {count}")
    counts: Counts = producer.counts
    print(f"{sum(queued.values())} records queued; {counts.line()}; {producer.pending} waiting in the spool")
    return 0 if drained and not counts.dropped else 1


def _syslog(args: argparse.Namespace, producer: Producer, collector: str, hints: AgencyHints,
            stop: threading.Event) -> int:
    from ingest.syslog import SyslogListener, tls_context

    if args.udp is None and args.tcp is None:
        raise SystemExit("socpipe collect syslog: give --udp PORT, --tcp PORT or both")
    if args.tls and args.tcp is None:
        raise SystemExit("socpipe collect syslog: --tls needs --tcp PORT (the TLS listener's port)")
    tls = tls_context(*args.tls) if args.tls else None
    listener = SyslogListener(producer, collector, hints, args.bind, args.udp, args.tcp, tls)
    try:
        stop.wait()
    finally:
        listener.stop()
    return 0


def _netflow(args: argparse.Namespace, producer: Producer, collector: str, hints: AgencyHints,
             stop: threading.Event, state_dir: Path, config: Config) -> int:
    from ingest.flowlisten import FlowListener
    from ingest.netflow import FlowDecoder

    decoder = FlowDecoder(config.get("collect", "netflow_park_seconds"), config.get("collect", "netflow_max_parked"),
                          config.get("collect", "netflow_max_templates"))
    listener = FlowListener(producer, collector, hints, state_dir, args.bind, args.udp, decoder)
    try:
        stop.wait()
    finally:
        listener.stop()
        log.info("netflow: %d flows, %d dead letters", listener.flows, listener.dead_letters)
    return 0


def _file(args: argparse.Namespace, producer: Producer, collector: str, hints: AgencyHints,
          stop: threading.Event, config: Config, state_dir: Path) -> int:
    from ingest.tail import FileTailer

    if folders := [str(p) for p in args.paths if p.is_dir()]:
        raise SystemExit(f"socpipe collect file: give files, not folders: {', '.join(folders)}")
    tailer = FileTailer(args.paths, producer, collector, hints, state_dir)
    try:
        tailer.run(stop, config.get("collect", "poll_seconds"))
    finally:
        tailer.close()
    return 0
