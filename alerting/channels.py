"""How a message leaves: SMTP (STARTTLS, TLS or plain, with authentication), an outbox of .eml files when
no SMTP relay is configured, and signed JSON webhooks (generic, or the Zalo Bot API's sendMessage shape).

A channel either delivers (the server accepted the message) or raises SendError; the caller keeps the
message pending and tries again later, so an SMTP outage delays messages and loses none.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import smtplib
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.header import Header
from email.headerregistry import Address
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr, parseaddr
from pathlib import Path
from typing import Any

from socpipe.config import Config

SIGNATURE_HEADER = "X-Socpipe-Signature"


class SendError(RuntimeError):
    """The message was not accepted; it stays pending."""


@dataclass(frozen=True)
class Message:
    """One notification to one contact on one channel; `notification_id` makes sending idempotent."""

    notification_id: str
    channel: str
    contact_id: str
    address: str  # mail address, webhook URL or zalo:CHAT_ID
    subject: str
    body: str
    payload: dict[str, Any]  # what a webhook posts (ids, level, links)


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def email_message(message: Message, sender: str, at: Any) -> MIMEText:
    """UTF-8 headers and body; Message-ID from the notification id, so a relay can drop a duplicate.
    Built with the legacy Header encoder: Python 3.11's EmailMessage folds a long Vietnamese subject into
    encoded words and drops the space between them ("bất thường" arrives as "bấtthường")."""
    mail = MIMEText(message.body, "plain", "utf-8")
    name, address = parseaddr(sender)
    mail["From"] = formataddr((name, address), charset="utf-8")
    mail["To"] = str(Address(addr_spec=message.address))
    mail["Subject"] = Header(message.subject, "utf-8")
    mail["Date"] = format_datetime(at)
    mail["Message-ID"] = f"<{message.notification_id}@socpipe>"
    mail["X-Socpipe-Incidents"] = ",".join(message.payload.get("incidents", []))
    return mail


class EmailChannel:
    """SMTP when notify.smtp.host is set, otherwise one .eml file per message in notify.outbox_dir."""

    def __init__(self, config: Config) -> None:
        self.smtp: dict[str, Any] = dict(config.get("notify", "smtp"))
        self.outbox = config.path("notify", "outbox_dir")
        self._connection: smtplib.SMTP | None = None
        self._context: ssl.SSLContext | None = None
        self._ca_file = config.path("notify", "smtp", "ca_file")

    def __repr__(self) -> str:
        return f"EmailChannel(host={self.smtp.get('host')!r})"  # never the password

    def send(self, message: Message, at: Any) -> None:
        mail = email_message(message, self.smtp["sender"], at)
        if not self.smtp.get("host"):
            assert self.outbox is not None
            self.outbox.mkdir(parents=True, exist_ok=True)
            path = self.outbox / f"{message.notification_id}.eml"
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(mail.as_bytes())
            tmp.replace(path)  # a file is whole or absent
            return
        try:
            self._smtp_send(mail)
        except (OSError, smtplib.SMTPException) as exc:
            raise SendError(f"SMTP {self.smtp['host']}:{self.smtp['port']}: {exc}") from exc

    def _smtp_send(self, mail: MIMEText) -> None:
        """One connection kept for the messages that follow (a tick sends many): a fresh TLS context and
        handshake per message cost more than the message. A kept connection the server has meanwhile
        closed is opened again once; any other failure drops it, and the message stays pending."""
        reused = self._connection is not None
        try:
            if self._connection is None:
                self._connection = self._connect()
            self._connection.send_message(mail)
        except smtplib.SMTPServerDisconnected:
            self.close()
            if not reused:
                raise
            self._connection = self._connect()
            self._connection.send_message(mail)
        except (OSError, smtplib.SMTPException):
            self.close()
            raise

    def _connect(self) -> smtplib.SMTP:
        host, port, security = self.smtp["host"], int(self.smtp["port"]), self.smtp.get("security", "starttls")
        timeout = float(self.smtp.get("timeout") or 10)
        if security != "none" and self._context is None:
            self._context = ssl.create_default_context(cafile=str(self._ca_file) if self._ca_file else None)
        smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=self._context) if security == "tls" else \
            smtplib.SMTP(host, port, timeout=timeout)
        try:
            if security == "starttls":
                smtp.starttls(context=self._context)
            if self.smtp.get("username"):
                _login(smtp, self.smtp["username"], self.smtp.get("password") or "")
        except BaseException:
            smtp.close()
            raise
        return smtp

    def close(self) -> None:
        """Say QUIT on the kept connection, if any (at shutdown; a broken one is just dropped)."""
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.quit()
            except (OSError, smtplib.SMTPException):
                connection.close()


def _login(smtp: smtplib.SMTP, username: str, password: str) -> None:
    """smtplib encodes credentials as ASCII and fails on a Vietnamese password; AUTH PLAIN is UTF-8
    (RFC 4616), so such credentials go that way and ASCII ones through smtplib's own choice of mechanism."""
    if (username + password).isascii():
        smtp.login(username, password)
        return
    smtp.ehlo_or_helo_if_needed()
    if "plain" not in smtp.esmtp_features.get("auth", "").lower().split():
        raise smtplib.SMTPException("the server offers no AUTH PLAIN, needed for a non-ASCII password")
    secret = base64.b64encode(f"\0{username}\0{password}".encode()).decode()
    code, answer = smtp.docmd("AUTH", f"PLAIN {secret}")
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, answer)


class WebhookChannel:
    """POSTs JSON signed with notify.webhook_secret, retried with back-off; `zalo:ID` addresses get the
    Zalo Bot API body {chat_id, text} at notify.zalo_url."""

    def __init__(self, config: Config) -> None:
        self.secret = config.get("notify", "webhook_secret") or ""
        self.waits = [float(w) for w in config.get("notify", "webhook_retry_seconds")]
        self.zalo_url = config.get("notify", "zalo_url")

    def __repr__(self) -> str:
        return "WebhookChannel()"

    def send(self, message: Message, at: Any) -> None:
        if message.address.startswith("zalo:"):
            if not self.zalo_url:
                raise SendError(f"contact {message.contact_id}: zalo address but notify.zalo_url is not set")
            url, data = self.zalo_url, {"chat_id": message.address[5:], "text": f"{message.subject}\n\n{message.body}"}
        else:
            url, data = message.address, {"notification_id": message.notification_id, "subject": message.subject,
                                          "text": message.body, **message.payload}
        body = json.dumps(data, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json; charset=utf-8", "Idempotency-Key": message.notification_id}
        if self.secret:
            headers[SIGNATURE_HEADER] = sign(self.secret, body)
        error: Exception | None = None
        for wait in [0.0, *self.waits]:
            time.sleep(wait)
            try:
                with urllib.request.urlopen(urllib.request.Request(url, body, headers), timeout=10) as answer:
                    if 200 <= answer.status < 300:
                        return
            except urllib.error.HTTPError as exc:
                error = exc
                if 400 <= exc.code < 500 and exc.code != 429:
                    break  # the receiver refuses this body: retrying does not help
            except OSError as exc:
                error = exc
        raise SendError(f"webhook {url}: {error}")


def outbox_files(outbox: Path) -> list[Path]:
    return sorted(outbox.glob("*.eml"))
