"""How a message leaves: SMTP (STARTTLS, TLS or plain, with authentication), an outbox of .eml files when
no SMTP relay is configured, and signed JSON webhooks (generic, or the Zalo Bot API's sendMessage shape).

A channel either delivers (the server accepted the message) or raises SendError; the caller keeps the
message pending and tries again later, so an SMTP outage delays messages and loses none.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
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


def email_message(message: Message, sender: str, at: Any) -> EmailMessage:
    """UTF-8 headers and body; Message-ID from the notification id, so a relay can drop a duplicate."""
    mail = EmailMessage()
    name, address = parseaddr(sender)
    mail["From"] = formataddr((name, address))
    mail["To"] = str(Address(addr_spec=message.address))
    mail["Subject"] = message.subject
    mail["Date"] = format_datetime(at)
    mail["Message-ID"] = f"<{message.notification_id}@socpipe>"
    mail["X-Socpipe-Incidents"] = ",".join(message.payload.get("incidents", []))
    mail.set_content(message.body, charset="utf-8")
    return mail


class EmailChannel:
    """SMTP when notify.smtp.host is set, otherwise one .eml file per message in notify.outbox_dir."""

    def __init__(self, config: Config) -> None:
        self.smtp: dict[str, Any] = dict(config.get("notify", "smtp"))
        self.outbox = config.path("notify", "outbox_dir")

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

    def _smtp_send(self, mail: EmailMessage) -> None:
        host, port, security = self.smtp["host"], int(self.smtp["port"]), self.smtp.get("security", "starttls")
        timeout = float(self.smtp.get("timeout") or 10)
        context = ssl.create_default_context()
        smtp_class = smtplib.SMTP_SSL if security == "tls" else smtplib.SMTP
        kwargs: dict[str, Any] = {"context": context} if security == "tls" else {}
        with smtp_class(host, port, timeout=timeout, **kwargs) as smtp:
            if security == "starttls":
                smtp.starttls(context=context)
            if self.smtp.get("username"):
                smtp.login(self.smtp["username"], self.smtp.get("password") or "")
            smtp.send_message(mail)


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
