"""The record types every room of the pipeline passes along.

An event is flat: Sigma field names (Image, CommandLine, EventID, c-uri, ...) mapped to strings,
because detection runs on the native names of each source and Spark stores them as map<string,string>.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

import orjson

# The kind of source an event came from; it decides which rule log sources can apply.
WINDOWS = "windows"      # EVTX files and their JSON exports
SYSLOG = "syslog"        # Linux syslog and auth logs (RFC 3164 / 5424)
WEBSERVER = "webserver"  # Apache/Nginx access logs
JSON = "json"            # flat JSON lines whose source is unknown: no log-source filter applies
FLOW = "flow"            # NetFlow v5/v9 and IPFIX flow records (socpipe collect netflow)
# Network sensors: one source each (topic raw.suricata, raw.zeek), and a kind per record type, so a Sigma log
# source selects by kind alone: suricata_<event_type> (EVE JSON), zeek_<log> (conn, dns, http, ssl, ...).
SURICATA = "suricata"
ZEEK = "zeek"
SURICATA_EVENT_TYPES = ("alert", "flow", "dns", "http", "tls", "fileinfo", "anomaly", "netflow", "smtp", "ssh")
ZEEK_LOGS = ("conn", "dns", "http", "ssl", "files", "notice", "x509", "dce_rpc", "smb_files", "smb_mapping",
             "kerberos", "rdp", "ntlm", "ssh", "smtp", "weird")
KINDS = (WINDOWS, SYSLOG, WEBSERVER, JSON, FLOW, SURICATA, ZEEK,
         *(f"{SURICATA}_{t}" for t in SURICATA_EVENT_TYPES), *(f"{ZEEK}_{log}" for log in ZEEK_LOGS))

# A Windows System value whose name the event's own data (EventData/UserData) also uses is kept under this
# prefix ("System.Channel"); the plain name is the event data's value (ingest/parsers.py windows_fields).
SYSTEM_PREFIX = "System."


def system_value(fields: dict[str, str], name: str) -> str | None:
    """A Windows event's System value of `name` (Channel, EventID, Computer, ...): "System.<name>" when the
    event data used the name too, else the plain field."""
    value = fields.get(SYSTEM_PREFIX + name)
    return fields.get(name) if value is None else value


@dataclass(frozen=True, slots=True)
class Event:
    """One parsed event: its fields, its kind, and where it was read (file and position)."""

    fields: dict[str, str]
    kind: str
    origin: str = ""

    @property
    def identity(self) -> str:
        """Stable hash of the event's content, so re-reading the same record gives the same id."""
        return event_identity(self.kind, self.fields)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A record that could not be read: where it was, why, and its original bytes."""

    origin: str
    position: str
    reason: str
    raw: bytes = field(repr=False)

    def to_json(self) -> dict[str, str]:
        """The dead-letter document: the exact bytes in base64, and as text when they are UTF-8."""
        doc = {
            "origin": self.origin,
            "position": self.position,
            "reason": self.reason,
            "raw_base64": base64.b64encode(self.raw).decode("ascii"),
        }
        with contextlib.suppress(UnicodeDecodeError):
            doc["raw"] = self.raw.decode("utf-8")
        return doc


_KEY = itemgetter(0)


def event_identity(kind: str, fields: dict[str, str]) -> str:
    """sha256 of the compact JSON of [kind, sorted fields]: orjson writes the same bytes as the standard
    library here (UTF-8, the same escapes), five times faster; what it refuses (lone surrogates) goes the
    standard library's way."""
    items = sorted(fields.items(), key=_KEY)  # keys are distinct: the order of sorting the pairs, found faster
    try:
        canonical = orjson.dumps([kind, items])
    except orjson.JSONEncodeError:
        canonical = json.dumps([kind, items], ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return hashlib.sha256(canonical).hexdigest()[:32]


def load_document(text: str | bytes) -> Any:
    """A JSON document socpipe wrote (an alert's), decoded by orjson, several times faster than the standard
    library; what orjson refuses (a lone surrogate that a reader kept from escaped JSON input) goes the
    standard library's way."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)
