"""The collectors' Kafka producer: every message goes through the disk spool, in order, at most once per session.

A collector thread appends a message to the spool (ingest.spool) and returns at once; a sender thread reads
the spool in order and hands messages to librdkafka's idempotent producer (confluent-kafka, acks=all), and
moves the spool's cursor when Kafka acknowledges. librdkafka, not kafka-python: a collector must keep up with
a busy syslog feed on one core, and kafka-python spends ~100 us of CPU per message in Python (about 10,000
messages per CPU-second), librdkafka ~7 us (bench/collector_throughput.py). When Kafka is unreachable nothing
is lost and nothing reorders: the producer keeps retrying what is in flight (a long delivery timeout, so
retries stay inside one idempotent session, where the broker drops duplicates), and new messages wait in the
spool behind it. Only messages whose outcome is truly unknown are sent again: those in flight at a crash or at
a shutdown while Kafka was down, and those whose delivery timed out. Consumers can drop such duplicates by key
(the record id).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka import Producer as KafkaProducer

from ingest.spool import SPOOLED, Message, Position, Spool
from socpipe.config import Config
from socpipe.kafka_client import librdkafka_options, topic

log = logging.getLogger(__name__)

# Errors that concern one record and will not change on a retry: the record is dropped, loudly.
_RECORD_ERRORS = frozenset({KafkaError.MSG_SIZE_TOO_LARGE, KafkaError.INVALID_MSG_SIZE,
                            KafkaError.INVALID_RECORD})
_PRODUCER_OPTIONS: dict[str, Any] = {
    "acks": "all",
    "enable.idempotence": True,
    "linger.ms": 5,
    "delivery.report.only.error": True,  # see _Delivery: success is read from the empty queue
    "message.timeout.ms": 600000,  # keep retrying in-session through an outage of up to 10 minutes
    "reconnect.backoff.max.ms": 1000,  # and reconnect within a second once Kafka is back
}
_DROP_LOG_SECONDS = 10.0
_DRAIN_SECONDS = 0.05  # after this long with messages in flight, send no more until they are all settled
# librdkafka's own messages (connection refused while Kafka is away, ...) through Python logging.
_LIBRDKAFKA_LOG = logging.getLogger("kafka.librdkafka")


@dataclass
class Counts:
    """What the producer did: acknowledged by Kafka, spooled during an outage, sent from the spool
    after one (replayed), dropped (spool full, or a record Kafka refuses)."""

    sent: int = 0
    spooled: int = 0
    replayed: int = 0
    dropped: int = 0

    def line(self) -> str:
        return f"sent {self.sent}, spooled {self.spooled}, replayed {self.replayed}, dropped {self.dropped}"


class _Delivery:
    """The failures of one batch's produce() calls, with the record's key. librdkafka reports only failures
    (delivery.report.only.error, inside poll(), in the sender thread): a Python call per delivered message
    would take the GIL once per message, and with the collector's own thread busy on the other core that
    hand-over cost more than the message itself. Success is known when nothing is left in librdkafka."""

    __slots__ = ("failures", "sent")

    def __init__(self) -> None:
        self.sent = 0  # messages of the batch handed to librdkafka (the others were settled before)
        self.failures: list[tuple[bytes, KafkaException]] = []

    def __call__(self, error: KafkaError | None, message: Any) -> None:
        if error is not None:
            self.failures.append((message.key() or b"", KafkaException(error)))


def _record_error(error: BaseException | None) -> bool:
    """True for an error of the record itself, which a retry would not change."""
    return isinstance(error, KafkaException) and error.args[0].code() in _RECORD_ERRORS


@dataclass(slots=True)
class _InFlight:
    """Messages of one spool entry handed to Kafka together (or settled before: `settled`, by index)."""

    delivery: _Delivery
    messages: list[Message]
    start: Position  # the position of messages[0]
    end: Position  # the cursor once all of them are settled
    flags: int
    since: float
    settled: dict[int, BaseException | None]

    def outcomes(self) -> list[BaseException | None]:
        """Each message's error or None, in order (failures are matched to messages by key, in order)."""
        failed: dict[bytes, list[BaseException]] = {}
        for key, error in self.delivery.failures:
            failed.setdefault(key, []).append(error)
        found: list[BaseException | None] = []
        for index, message in enumerate(self.messages, self.start[2]):
            if index in self.settled:
                found.append(self.settled[index])
            else:
                errors = failed.get(message.key or b"")
                found.append(errors.pop(0) if errors else None)
        return found

    def after(self, k: int) -> Position:
        """The position just after messages[k]."""
        return self.end if k == len(self.messages) - 1 else (self.start[0], self.start[1], self.start[2] + k + 1)


class Producer:
    """Thread-safe: send() from any thread; close() once at the end."""

    def __init__(self, config: Config, spool: Spool, window: int = 2000, stall_seconds: float = 2.0) -> None:
        self.counts = Counts()
        self._options = {**librdkafka_options(config), **_PRODUCER_OPTIONS}
        self._topic_prefix = topic(config, "")  # kafka.topic_prefix, applied when sending (not in the spool)
        self._spool = spool
        self._window = window
        self._stall_seconds = stall_seconds
        self._unreachable = False
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._deadline = float("inf")
        self._last_drop_log = 0.0
        # The sender thread's own state.
        self._inflight: deque[_InFlight] = deque()
        self._inflight_messages = 0
        self._read_at = spool.cursor
        self._failed = False  # a send failed: resend from the cursor once nothing is in flight
        self._settled_ahead: dict[Position, BaseException | None] = {}  # settled after a failure: not resent
        if spool.pending_records:
            log.warning("spool %s holds %d records from a previous run (%d bytes): replaying them first",
                        spool.directory, spool.pending_records, spool.pending_bytes)
        self._thread = threading.Thread(target=self._run, name="kafka-sender", daemon=True)
        self._thread.start()

    def room(self) -> int:
        """Bytes the spool takes before its bound: readers that can wait (file tail, import) check it."""
        return self._spool.max_bytes - self._spool.pending_bytes

    @property
    def pending(self) -> int:
        """Records not yet acknowledged by Kafka."""
        return self._spool.pending_records

    def send(self, message: Message) -> bool:
        """Queue one message; False when the spool is full and the message was dropped (logged)."""
        return self.send_all([message]) == 1

    def send_all(self, messages: list[Message]) -> int:
        """Queue messages in order (one spool write for all); the ones past the spool's bound are dropped
        (logged) and the count of those queued is returned."""
        with self._lock:
            flags = SPOOLED if self._unreachable else 0
            taken = self._spool.append_all(messages, flags)
            if taken:
                if flags:
                    self.counts.spooled += taken
                self._wake.set()
            if taken == len(messages):
                return taken
            self.counts.dropped += len(messages) - taken
            now = time.monotonic()
            if now - self._last_drop_log >= _DROP_LOG_SECONDS:
                self._last_drop_log = now
                latest = messages[-1]
                log.error("spool full (%d of at most %d bytes waiting for Kafka): %d records dropped so far, "
                          "latest %s on %s", self._spool.pending_bytes, self._spool.max_bytes,
                          self.counts.dropped, latest.key.decode("utf-8", "replace"), latest.topic)
            return taken

    def wait_drained(self, timeout: float) -> bool:
        """Block until Kafka acknowledged everything queued, or the timeout; True when drained."""
        deadline = time.monotonic() + timeout
        while self._spool.pending_records and time.monotonic() < deadline:
            time.sleep(0.05)
        return not self._spool.pending_records

    def close(self, timeout: float = 10.0) -> Counts:
        """Send what Kafka takes within `timeout`; the rest stays in the spool for the next start."""
        self._deadline = time.monotonic() + timeout
        self._stop.set()
        self._wake.set()
        self._thread.join()
        self._spool.close()
        if self._spool.pending_records:
            log.warning("%d records (%d bytes) stay in the spool %s and are sent on the next start",
                        self._spool.pending_records, self._spool.pending_bytes, self._spool.directory)
        if self.counts.dropped:
            log.error("%d records were dropped (spool full or refused by Kafka)", self.counts.dropped)
        return self.counts

    # ---- the sender thread -------------------------------------------------------------------------

    def _run(self) -> None:
        kafka: KafkaProducer | None = None
        last_save = time.monotonic()
        while not (self._stop.is_set() and (not self._spool.pending_records or time.monotonic() >= self._deadline)):
            if kafka is None:
                kafka = self._connect()
                continue
            kafka.poll(0)  # failure reports
            self._settle(len(kafka) == 0)
            if self._inflight and time.monotonic() - self._inflight[0].since > self._stall_seconds:
                self._set_unreachable()
            if time.monotonic() - last_save > 0.5:
                self._spool.save_cursor()
                last_save = time.monotonic()
            if not self._send_more(kafka):
                kafka.purge()
                kafka = None
                self._inflight.clear()  # their outcome is unknown: sent again (consumers dedup by key)
                self._inflight_messages = 0
                self._settled_ahead.clear()
                self._failed, self._read_at = False, self._spool.cursor
                continue
            if self._inflight:
                kafka.poll(0.005)  # returns at a failure report, else after linger.ms
            else:
                self._wake.wait(0.2)
            self._wake.clear()
        if kafka is not None:
            kafka.flush(max(0.0, min(5.0, self._deadline - time.monotonic())))
            self._settle(len(kafka) == 0)  # what Kafka took while closing is not sent again
        # Anything still in flight has an unknown outcome: it stays behind the cursor, sent again next start.

    def _settle(self, drained: bool) -> None:
        """Acknowledge finished sends in order: all of them once librdkafka holds nothing (`drained`: every
        message delivered or its failure reported), before that only batches it never had. The cursor stops
        at a failure, and once nothing is in flight any more, sending resumes from there (skipping what was
        acknowledged meanwhile). The window bounds what is in flight, so the queue does drain."""
        acked_to, acked = None, 0
        while self._inflight and (drained or not self._inflight[0].delivery.sent):
            item = self._inflight.popleft()
            self._inflight_messages -= len(item.messages)
            replay = bool(item.flags & SPOOLED) or item.end <= self._spool.end_at_open
            if not (self._failed or item.delivery.failures or item.settled):  # all went through
                self._reachable()
                self.counts.sent += len(item.messages)
                self.counts.replayed += len(item.messages) if replay else 0
                acked_to, acked = item.end, acked + len(item.messages)
                continue
            for k, error in enumerate(item.outcomes()):
                final = error is None or _record_error(error)
                if self._failed:
                    if final:
                        self._settled_ahead[(*item.start[:2], item.start[2] + k)] = error
                    continue
                if not final:
                    log.warning("Kafka did not take %s: %s; sending again from the spool",
                                item.messages[k].key.decode("utf-8", "replace"), error)
                    self._set_unreachable()
                    self._failed = True
                    continue
                if error is None:
                    self._reachable()
                    self.counts.sent += 1
                    self.counts.replayed += replay
                else:
                    self._drop_refused(item.messages[k].key, error)
                acked_to, acked = item.after(k), acked + 1
        if acked_to is not None:
            self._spool.ack(acked_to, acked)
        if self._failed and not self._inflight:
            self._failed, self._read_at = False, self._spool.cursor

    def _send_more(self, kafka: KafkaProducer) -> bool:
        """Hand the next spooled messages to Kafka, in order, within the window; False when the producer
        is broken and a new one is needed."""
        room = 0 if self._failed else self._window - self._inflight_messages
        if self._inflight and time.monotonic() - self._inflight[0].since > _DRAIN_SECONDS:
            room = 0  # a steady trickle would keep librdkafka's queue from ever draining: let it drain first
        for batch in self._spool.read(self._read_at, room) if room > 0 else []:
            number, offset, first = batch.start
            delivery, settled, stopped = _Delivery(), {}, None
            produced, produce, prefix, ahead = 0, kafka.produce, self._topic_prefix, self._settled_ahead
            for index, (name, key, value, headers) in enumerate(batch.messages, first):
                if ahead and (number, offset, index) in ahead:
                    settled[index] = ahead.pop((number, offset, index))
                    continue
                try:
                    produce(prefix + name, value=value, key=key, headers=list(headers), on_delivery=delivery)
                except BufferError:  # librdkafka's own queue is full: wait for acknowledgements
                    stopped = index
                    break
                except KafkaException as error:
                    if not _record_error(error):  # a producer in a fatal state: start a new session
                        log.warning("Kafka producer failed (%s); starting a new one", error)
                        self._set_unreachable()
                        return False
                    settled[index] = error
                    continue
                produced += 1
            delivery.sent = produced
            messages, end = batch.messages, batch.end
            if stopped is not None:
                messages, end = messages[: stopped - first], (number, offset, stopped)
            if messages:
                self._inflight.append(_InFlight(delivery, messages, batch.start, end, batch.flags,
                                                time.monotonic(), settled))
                self._inflight_messages += len(messages)
                self._read_at = end
            if stopped is not None:
                return True
        return True

    def _connect(self) -> KafkaProducer | None:
        try:
            return KafkaProducer(self._options, logger=_LIBRDKAFKA_LOG)
        except KafkaException as error:  # a bad setting (librdkafka connects in the background)
            self._set_unreachable(f"cannot connect to Kafka: {error}")
            time.sleep(0.5)
            return None

    def _set_unreachable(self, why: str = "Kafka does not acknowledge") -> None:
        with self._lock:
            if not self._unreachable:
                self._unreachable = True
                log.warning("%s: spooling to %s (%d records waiting)", why, self._spool.directory,
                            self._spool.pending_records)

    def _reachable(self) -> None:
        if self._unreachable:
            with self._lock:
                self._unreachable = False
            log.warning("Kafka acknowledges again: sending the %d records waiting in the spool",
                        self._spool.pending_records)

    def _drop_refused(self, key: bytes, error: BaseException) -> None:
        self.counts.dropped += 1
        log.error("Kafka refused record %s for good, dropped: %s", key.decode("utf-8", "replace"), error)
