"""Local receivers for the notifier's tests and bench: an SMTP server (aiosmtpd, a dev dependency) and an
HTTP webhook receiver that checks the HMAC signature, both on 127.0.0.1.

They are real servers on real sockets, so what is tested is what the SMTP relay or the chat bridge of an
agency would see: envelopes, UTF-8 headers, signatures, the moment a message was accepted.
"""

from __future__ import annotations

import hmac
import json
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from alerting.channels import SIGNATURE_HEADER, sign

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Received:
    """One message as the SMTP server accepted it; `at` is time.time() at acceptance."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    at: float

    @property
    def mail(self) -> EmailMessage:
        parsed = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


class SmtpSink:
    """aiosmtpd on 127.0.0.1 keeping every accepted message; with `login`, AUTH PLAIN/LOGIN is required
    (without TLS: a test server only). stop() and start() again on the same port model an outage."""

    def __init__(self, port: int | None = None, login: tuple[str, str] | None = None,
                 tls: tuple[Path, Path] | None = None, implicit_tls: bool = False) -> None:
        """`tls`: certificate chain and key (PEM); STARTTLS is then required, or with `implicit_tls` the
        socket speaks TLS from the start (port 465 style)."""
        self.port = port or free_port()
        self.login, self.tls, self.implicit_tls = login, tls, implicit_tls
        self.received: list[Received] = []
        self.refused_logins = 0
        self._lock = threading.Lock()
        self._controller: Any = None

    def start(self) -> SmtpSink:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword

        sink = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
                with sink._lock:
                    sink.received.append(Received(envelope.mail_from, tuple(envelope.rcpt_tos),
                                                  bytes(envelope.original_content or envelope.content),
                                                  time.time()))
                return "250 Message accepted for delivery"

        def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
            ok = isinstance(data, LoginPassword) and self.login is not None and \
                (data.login.decode(), data.password.decode()) == self.login
            if not ok:
                self.refused_logins += 1
            return AuthResult(success=ok, handled=False)  # failed: aiosmtpd answers 535

        options: dict[str, Any] = {"enable_SMTPUTF8": True}
        if self.login:
            # aiosmtpd does not count implicit TLS as TLS for AUTH: require it only where STARTTLS is.
            options |= {"authenticator": authenticate, "auth_required": True,
                        "auth_require_tls": self.tls is not None and not self.implicit_tls}
        if self.tls:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*self.tls)
            options |= {"ssl_context": context} if self.implicit_tls else \
                {"tls_context": context, "require_starttls": True}
        self._controller = Controller(Handler(), hostname=HOST, port=self.port, **options)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def messages(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    def clear(self) -> None:
        with self._lock:
            self.received.clear()

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass(frozen=True)
class Posted:
    path: str
    headers: dict[str, str]
    body: bytes
    signature_ok: bool

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class WebhookSink:
    """An HTTP server on 127.0.0.1 that keeps every POST and checks its X-Socpipe-Signature against
    `secret`; a wrong or missing signature is answered 401 (and kept, so tests can see it came)."""

    def __init__(self, secret: str, fail_first: int = 0) -> None:
        self.secret, self.fail_first = secret, fail_first
        self.posted: list[Posted] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                given = self.headers.get(SIGNATURE_HEADER) or ""
                ok = hmac.compare_digest(given, sign(sink.secret, body))
                sink.posted.append(Posted(self.path, dict(self.headers.items()), body, ok))
                failing = len(sink.posted) <= sink.fail_first
                self.send_response(503 if failing else 200 if ok else 401)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet test server
                pass

        self._server = ThreadingHTTPServer((HOST, 0), Handler)
        self.url = f"http://{HOST}:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> WebhookSink:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
