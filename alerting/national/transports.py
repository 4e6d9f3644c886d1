"""Pluggable transports to the national centre: files, syslog (RFC 5424 over TCP or UDP), TAXII 2.1.

The centre's intake format is not public, so each transport takes the whole export (bundle, JSON form,
syslog line) and sends what it carries. `send` returns a receipt or raises TransportError; retries and the
record of what was sent live in layers/national/job.py.
"""

from __future__ import annotations

import hashlib
import json
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import weasyprint


class TransportError(RuntimeError):
    """A send that did not go through (the message says where and why, never a secret)."""


@dataclass(frozen=True)
class Export:
    """One incident's export for one stage, in every form."""

    incident_id: str
    stage: str
    bundle: str  # STIX 2.1 JSON
    record: str  # JSON form
    syslog: str  # RFC 5424 line
    form_html: str  # Mẫu 03 / Mẫu 04


class Transport(Protocol):
    name: str

    @property
    def destination(self) -> str: ...

    def send(self, export: Export) -> str: ...


@dataclass
class FileTransport:
    """Writes the export's files into a folder (a hand-over folder, or the demo's output)."""

    folder: Path
    name: str = "files"

    @property
    def destination(self) -> str:
        return str(self.folder)

    def send(self, export: Export) -> str:
        folder = self.folder / export.incident_id
        try:
            folder.mkdir(parents=True, exist_ok=True)
            form = "mau-03" if export.stage == "initial" else "mau-04"
            files = {f"{export.stage}.stix.json": export.bundle, f"{export.stage}.json": export.record + "\n",
                     f"{export.stage}.syslog": export.syslog + "\n", f"{form}.html": export.form_html}
            for name, text in files.items():
                (folder / name).write_text(text, encoding="utf-8")
            # The form to sign and file, as layer 3 prints its report (WeasyPrint, fonts from the system).
            weasyprint.HTML(string=export.form_html).write_pdf(folder / f"{form}.pdf")
        except OSError as exc:
            raise TransportError(f"files {folder}: {exc}") from exc
        digest = hashlib.sha256(export.bundle.encode()).hexdigest()
        return f"{folder.name}/{export.stage}.stix.json sha256:{digest}"


@dataclass
class SyslogTransport:
    """The RFC 5424 line to a collector: octet-counted framing over TCP (RFC 6587), or one UDP datagram."""

    host: str
    port: int
    protocol: str = "tcp"
    timeout: float = 10.0
    name: str = "syslog"

    @property
    def destination(self) -> str:
        return f"{self.protocol}://{self.host}:{self.port}"

    def send(self, export: Export) -> str:
        data = export.syslog.encode("utf-8")
        try:
            if self.protocol == "udp":
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                    sock.sendto(data, (self.host, self.port))
            else:
                with socket.create_connection((self.host, self.port), timeout=self.timeout) as sock:
                    sock.sendall(f"{len(data)} ".encode() + data)
        except OSError as exc:
            raise TransportError(f"syslog {self.destination}: {exc}") from exc
        return f"{len(data)} bytes to {self.destination}"


@dataclass
class TaxiiTransport:
    """Adds the bundle's objects to a TAXII 2.1 collection and waits for the server's status."""

    url: str  # the API root, e.g. http://127.0.0.1:5000/trustgroup1/
    collection: str
    username: str | None = None
    password: str | None = None
    timeout: float = 30.0
    name: str = "taxii"

    def __repr__(self) -> str:
        return f"TaxiiTransport(url={self.url!r}, collection={self.collection!r})"  # never the password

    @property
    def destination(self) -> str:
        return f"{self.url.rstrip('/')}/collections/{self.collection}/"

    def send(self, export: Export) -> str:
        from taxii2client.exceptions import TAXIIServiceException
        from taxii2client.v21 import Collection

        try:
            collection = Collection(self.destination, user=self.username, password=self.password)
            status = collection.add_objects(export.bundle, wait_for_completion=True, poll_interval=1,
                                            timeout=int(self.timeout))
            failures = list(status.failures or [])
            held = _held(collection, failures) if failures else set()
        except (TAXIIServiceException, OSError, ValueError) as exc:  # requests' errors are OSErrors
            raise TransportError(f"taxii {self.destination}: {type(exc).__name__}: {exc}") from exc
        # The server refuses a version it already holds: a re-send (or an object shared by bundles, as the
        # TLP marking) is received, which is what idempotence asks for. Anything else failed.
        # Objects without `modified` (observables, markings) are immutable: held at all is held.
        immutable = {o["id"] for o in json.loads(export.bundle)["objects"] if "modified" not in o}
        held_ids = {i for i, _ in held}
        refused = [f for f in failures if (f["id"], f.get("version")) not in held
                   and not (f["id"] in immutable and f["id"] in held_ids)]
        if refused:
            raise TransportError(f"taxii status {status.id}: {len(refused)} objects refused: {refused[:3]}")
        return (f"status {status.id} {status.status}: {status.success_count} added, "
                f"{len(failures)} already held")


def _held(collection: Any, failures: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """(id, version) pairs the collection's manifest lists for the refused objects."""
    manifest = collection.get_manifest(id=",".join(sorted({f["id"] for f in failures})), version="all")
    return {(m["id"], m["version"]) for m in manifest.get("objects", [])}
