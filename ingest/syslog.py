"""`socpipe collect syslog`: a syslog listener on UDP, TCP and TLS that sends each message to raw.syslog.

UDP carries one message per datagram (RFC 5426), sent as it arrived. TCP carries a stream, framed per
message (RFC 6587): "LEN SP MSG" when the message starts with a digit (octet counting, so a message may
hold newlines), else up to the next newline. TLS (RFC 5425) is the TCP listener inside TLS. Messages
are not parsed here; the streaming job parses them, and dead-letters what is not syslog.
"""

from __future__ import annotations

import itertools
import logging
import re
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from ingest.producer import Producer
from ingest.spool import Message
from ingest.stamp import AgencyHints, deadletter_message, envelope_message, received_now
from socpipe.envelope import Envelope
from socpipe.events import SYSLOG, DeadLetter

log = logging.getLogger(__name__)

MAX_MESSAGE = 1 << 20  # longer TCP messages (or lines without a newline) become dead letters
_COUNT = re.compile(rb"([1-9][0-9]{0,8}) ")
_PARTIAL_COUNT = re.compile(rb"[1-9][0-9]{0,8}")
_POLL = 0.5  # sockets wake this often to notice a stop


@dataclass(frozen=True, slots=True)
class FramingError:
    reason: str
    raw: bytes


class StreamFramer:
    """Splits a TCP byte stream into messages, octet-counted or newline-ended, decided per message."""

    def __init__(self, max_message: int = MAX_MESSAGE) -> None:
        self._buffer = b""
        self._max = max_message

    def feed(self, data: bytes) -> Iterator[bytes | FramingError]:
        """The messages completed by `data`."""
        self._buffer += data
        while True:
            self._buffer = self._buffer.lstrip(b"\r\n")  # blank lines and a newline after a counted frame
            counted = _COUNT.match(self._buffer)
            if counted:
                length, start = int(counted[1]), counted.end()
                if length > self._max:
                    yield FramingError(f"octet count {length} is over the limit of {self._max} bytes; "
                                       "read as a newline-framed message instead", self._buffer[: start])
                    self._buffer = self._buffer[start:]
                    continue
                if len(self._buffer) < start + length:
                    return
                yield self._buffer[start : start + length]
                self._buffer = self._buffer[start + length :]
                continue
            if _PARTIAL_COUNT.fullmatch(self._buffer):
                return  # digits so far: the rest of the count is still to come
            end = self._buffer.find(b"\n")
            if end < 0:
                if len(self._buffer) > self._max:
                    yield FramingError(f"no newline within {self._max} bytes", self._buffer)
                    self._buffer = b""
                return
            message, self._buffer = self._buffer[:end].rstrip(b"\r"), self._buffer[end + 1 :]
            yield message

    def end(self) -> Iterator[bytes | FramingError]:
        """The sender closed: a last line needs no newline, a cut octet-counted frame is an error."""
        rest, self._buffer = self._buffer.strip(b"\r\n"), b""
        counted = _COUNT.match(rest)
        if counted:
            yield FramingError(f"connection closed inside an octet-counted frame: {len(rest) - counted.end()} of "
                               f"{counted[1].decode()} bytes", rest)
        elif rest:
            yield rest

    def rest(self) -> bytes:
        """What is buffered and unframed (when the collector stops mid-message)."""
        return self._buffer.strip(b"\r\n")


class SyslogListener:
    """Binds the wanted listeners, then serves them on threads until stop()."""

    def __init__(self, producer: Producer, collector: str, hints: AgencyHints, bind: str = "127.0.0.1",
                 udp_port: int | None = None, tcp_port: int | None = None,
                 tls: ssl.SSLContext | None = None) -> None:
        self._producer, self._collector, self._hints, self._tls = producer, collector, hints, tls
        self._started = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        self._sequence = itertools.count(1)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        family = socket.AF_INET6 if ":" in bind else socket.AF_INET
        self.udp: socket.socket | None = None
        self.tcp: socket.socket | None = None
        if udp_port is not None:
            self.udp = socket.socket(family, socket.SOCK_DGRAM)
            self.udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
            self.udp.bind((bind, udp_port))
            self.udp.settimeout(_POLL)
            self._spawn(self._serve_udp, "syslog-udp")
        if tcp_port is not None:
            self.tcp = socket.socket(family, socket.SOCK_STREAM)
            self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.tcp.bind((bind, tcp_port))
            self.tcp.listen(64)
            self.tcp.settimeout(_POLL)
            self._spawn(self._serve_tcp, "syslog-tls" if tls else "syslog-tcp")
        scheme = "tls" if tls else "tcp"
        for name, sock in (("udp", self.udp), (scheme, self.tcp)):
            if sock is not None:
                log.info("syslog listening on %s://%s:%d", name, *sock.getsockname()[:2])

    def stop(self) -> None:
        self._stop.set()
        while alive := [t for t in self._threads if t.is_alive()]:  # connections accepted meanwhile too
            for thread in alive:
                thread.join()
        for sock in (self.udp, self.tcp):
            if sock is not None:
                sock.close()

    def _spawn(self, target: Callable[..., None], name: str, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()]
        self._threads.append(thread)
        thread.start()

    # ---- receiving ---------------------------------------------------------------------------------

    def _serve_udp(self) -> None:
        assert self.udp is not None
        while not self._stop.is_set():
            try:
                datagram, sender = self.udp.recvfrom(65535)
            except TimeoutError:
                continue
            if datagram:
                self._producer.send(self._message(datagram, "udp", sender))

    def _serve_tcp(self) -> None:
        assert self.tcp is not None
        while not self._stop.is_set():
            try:
                connection, sender = self.tcp.accept()
            except TimeoutError:
                continue
            self._spawn(self._serve_connection, "syslog-connection", connection, sender)

    def _serve_connection(self, connection: socket.socket, sender: tuple) -> None:
        scheme = "tls" if self._tls else "tcp"
        framer = StreamFramer()
        if self._tls:
            connection.settimeout(10.0)
            try:
                connection = self._tls.wrap_socket(connection, server_side=True)
            except (OSError, ssl.SSLError) as err:
                log.warning("TLS handshake with %s failed: %s", _origin(scheme, sender), err)
                connection.close()
                return
        with connection:
            connection.settimeout(_POLL)
            while True:
                if self._stop.is_set():
                    if rest := framer.rest():
                        stopped = FramingError("collector stopped before the message was complete", rest)
                        self._producer.send(self._deadletter(stopped, scheme, sender))
                    return
                try:
                    data = connection.recv(65536)
                except TimeoutError:
                    continue
                except OSError as err:
                    log.warning("connection from %s failed: %s", _origin(scheme, sender), err)
                    data = b""
                messages = [self._deadletter(item, scheme, sender) if isinstance(item, FramingError)
                            else self._message(item, scheme, sender)
                            for item in (framer.feed(data) if data else framer.end())]
                self._producer.send_all(messages)  # one spool write per read from the socket
                if not data:
                    return

    # ---- stamping ----------------------------------------------------------------------------------

    def _message(self, message: bytes, scheme: str, sender: tuple) -> Message:
        number = next(self._sequence)
        envelope = Envelope(
            raw=message, source=SYSLOG, collector=self._collector, origin=_origin(scheme, sender),
            position=f"message {number}", received_at=received_now(),
            record_id=f"{self._collector}|{self._started}|{number}", agency=self._hints.for_sender(sender[0]))
        return envelope_message(envelope)

    def _deadletter(self, error: FramingError, scheme: str, sender: tuple) -> Message:
        number = next(self._sequence)
        origin = _origin(scheme, sender)
        log.error("%s message %d: %s (sent to the dead-letter topic)", origin, number, error.reason)
        letter = DeadLetter(origin, f"message {number}", error.reason, error.raw)
        record_id = f"{self._collector}|{self._started}|{number}"
        return deadletter_message(letter, self._collector, received_now(), record_id)


def _origin(scheme: str, sender: tuple) -> str:
    host = f"[{sender[0]}]" if ":" in sender[0] else sender[0]
    return f"{scheme}://{host}:{sender[1]}"


def tls_context(certificate: str, key: str) -> ssl.SSLContext:
    """A server context for the TLS listener (TLS 1.2 or newer)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certificate, key)
    return context
