"""`socpipe collect netflow`: NetFlow v5/v9 and IPFIX over UDP, one flow record per Kafka message on raw.flow.

Unlike syslog, a datagram is decoded here (ingest/netflow.py): a v9/IPFIX data set means nothing without the
exporter's template, which only this process has seen, so the collector sends each flow as one JSON record
(the decoder's fields: native names and ECS names) and the streaming job's `flow` parser reads it back.
Templates are kept per exporter (address and port, RFC 7011's transport session) and observation domain; they
are saved under the collector's state folder when they change and loaded at start, so a restarted collector
decodes at once. Datagrams, sets and records that cannot be decoded go to the dead-letter topic with their
bytes and the reason.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import select
import socket
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson

from ingest.netflow import FlowDecoder
from ingest.producer import Producer
from ingest.spool import Message
from ingest.stamp import AgencyHints, deadletter_message, received_now
from socpipe.envelope import RAW_PREFIX, Envelope
from socpipe.events import FLOW, DeadLetter

log = logging.getLogger(__name__)

_POLL = 0.5  # the socket wakes this often to notice a stop and expire parked sets
_SAVE_SECONDS = 1.0  # templates are saved at most this often (and at stop)
_GATHER_SECONDS = 0.001  # after queuing, datagrams gather in the socket this long (a flow is older anyway)
_GATHER_DATAGRAMS = 64  # datagrams whose messages are queued together, at most
_TOPIC = f"{RAW_PREFIX}{FLOW}"


class FlowListener:
    """Binds one UDP socket, then decodes and produces on a thread until stop()."""

    def __init__(self, producer: Producer, collector: str, hints: AgencyHints, state_dir: Path,
                 bind: str = "127.0.0.1", port: int = 2055, decoder: FlowDecoder | None = None) -> None:
        self._producer, self._collector, self._hints = producer, collector, hints
        self._started = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        self._sequence = itertools.count(1)
        self._stop = threading.Event()
        self.decoder = decoder or FlowDecoder()
        self._state = state_dir / "templates.json"
        self._saved_changes = 0
        self._load()
        self.flows = self.dead_letters = 0
        family = socket.AF_INET6 if ":" in bind else socket.AF_INET
        self.socket = socket.socket(family, socket.SOCK_DGRAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.socket.bind((bind, port))
        self.socket.setblocking(False)
        self._thread = threading.Thread(target=self._serve, name="netflow-udp", daemon=True)
        self._thread.start()
        log.info("netflow listening on udp://%s:%d", *self.socket.getsockname()[:2])

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.socket.close()
        self._save()

    def _serve(self) -> None:
        """Decode what the socket holds, then queue the messages of those datagrams together (one spool write,
        one wake of the sender) and let datagrams gather for _GATHER_SECONDS: when the collector keeps up,
        each datagram otherwise came alone, with its own write and wake-ups."""
        last_save = time.monotonic()
        ready = select.poll()
        ready.register(self.socket, select.POLLIN)
        messages: list[Message] = []
        datagrams = 0
        while not self._stop.is_set():
            try:
                datagram, sender = self.socket.recvfrom(65535)
            except BlockingIOError:
                if messages:
                    self._producer.send_all(messages)
                    messages, datagrams = [], 0
                    time.sleep(_GATHER_SECONDS)
                elif not ready.poll(_POLL * 1000):  # quiet: sets whose template never came are dead letters now
                    messages = self._messages([], self.decoder.expire(time.monotonic()))
            else:
                messages += self._messages(*self.decoder.decode(datagram, _exporter(sender), time.monotonic()))
                datagrams += 1
                if datagrams >= _GATHER_DATAGRAMS:
                    self._producer.send_all(messages)
                    messages, datagrams = [], 0
            if self.decoder.changes != self._saved_changes and time.monotonic() - last_save >= _SAVE_SECONDS:
                self._save()
                last_save = time.monotonic()
        if messages:
            self._producer.send_all(messages)

    def _messages(self, flows: list[dict[str, str]], letters: list[DeadLetter]) -> list[Message]:
        """The Kafka messages of one datagram's flows and dead letters."""
        if not flows and not letters:
            return []
        number = next(self._sequence)
        received = received_now()
        record_id = f"{self._collector}|{self._started}|{number}"
        key, position = f"{record_id}|".encode(), f"datagram {number} flow ".encode()  # then the flow's number
        messages: list[Message] = []
        stamps: dict[str, tuple[tuple[tuple[str, bytes], ...], tuple[tuple[str, bytes], ...]]] = {}
        add, dumps = messages.append, orjson.dumps
        for i, flow in enumerate(flows, 1):
            exporter = flow["exporter"]
            if exporter not in stamps:
                stamps[exporter] = self._stamp(exporter, received)
            before, after = stamps[exporter]
            index = b"%d" % i
            add(Message(_TOPIC, key + index, dumps(flow), (*before, ("position", position + index), *after)))
        for i, letter in enumerate(letters):
            log.error("%s %s: %s (sent to the dead-letter topic)", letter.origin, letter.position, letter.reason)
            messages.append(deadletter_message(letter, self._collector, received, f"{record_id}|dead {i + 1}"))
        self.flows += len(flows)
        self.dead_letters += len(letters)
        return messages

    def _stamp(self, exporter: str, received: str) -> tuple[tuple[tuple[str, bytes], ...],
                                                           tuple[tuple[str, bytes], ...]]:
        """The envelope headers of this datagram's flows from one exporter, before and after the position
        (the one header that differs from flow to flow): built once per datagram, not once per flow."""
        headers = Envelope(raw=b"", source=FLOW, collector=self._collector, origin=f"udp://{exporter}", position="",
                           received_at=received, record_id="",
                           agency=self._hints.for_sender(exporter.rpartition(":")[0].strip("[]"))).headers()
        at = [name for name, _ in headers].index("position")
        return tuple(headers[:at]), tuple(headers[at + 1:])

    def _load(self) -> None:
        try:
            self.decoder.restore(json.loads(self._state.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return
        except (OSError, ValueError, TypeError) as error:
            log.warning("templates in %s not loaded (%s): waiting for the exporters to send them", self._state,
                        error)
            return
        self._saved_changes = self.decoder.changes
        log.info("%d templates loaded from %s", len(self.decoder.templates), self._state)

    def _save(self) -> None:
        """Write the templates to a new file and rename it over the old one: a crash leaves one or the other."""
        self._state.parent.mkdir(parents=True, exist_ok=True)
        partial = self._state.with_suffix(".tmp")
        partial.write_text(json.dumps(self.decoder.state()), encoding="utf-8")
        os.replace(partial, self._state)
        self._saved_changes = self.decoder.changes


def _exporter(sender: tuple) -> str:
    host = f"[{sender[0]}]" if ":" in sender[0] else sender[0]
    return f"{host}:{sender[1]}"
