"""The collector -> Kafka contract: one record per message, its original bytes untouched.

The message value is the record exactly as it arrived (a syslog line, an access-log line, one JSON
document, one EVTX record rendered as JSON); the collector's stamp travels in Kafka headers, so no
byte of the record is re-encoded. The topic names the parser: raw.<source>. The message key is the
record id: unique per record and the same when a collector sends a record again after a restart, so
stores keyed on it never hold a record twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from socpipe.events import FLOW, JSON, SURICATA, SYSLOG, WEBSERVER, WINDOWS, ZEEK

# Source type -> the parser (ingest.parsers.PARSERS) that turns its records into fields.
PARSER_OF_SOURCE = {SYSLOG: "syslog", WEBSERVER: "access", WINDOWS: "evtx_json", JSON: "json", FLOW: "flow",
                    SURICATA: "eve", ZEEK: "zeek"}
RAW_PREFIX = "raw."
RAW_TOPICS = tuple(f"{RAW_PREFIX}{source}" for source in PARSER_OF_SOURCE)
ALERTS_TOPIC = "alerts"
DEADLETTER_TOPIC = "deadletter"
# The streaming job's Kafka transactional id and ledger group: this, then an id kept with its checkpoints.
TRANSACTION_PREFIX = "socpipe-run-"
_HEADERS = ("received_at", "collector", "source", "origin", "position", "agency")


@dataclass(frozen=True, slots=True)
class Envelope:
    """One record as a collector stamps it."""

    raw: bytes
    source: str  # syslog | webserver | windows | json | flow | suricata | zeek: decides the topic and the parser
    collector: str  # the collector's configured id
    origin: str  # file path, or the sender as udp://IP:PORT, tcp://IP:PORT, tls://IP:PORT (netflow: the exporter)
    position: str  # where in the origin: "line N", "record N", "message N"
    received_at: str  # ISO 8601 UTC, when the collector read the record
    record_id: str  # the Kafka key (see the module docstring)
    agency: str | None = None  # agency id hinted by configuration (sender network or file path)

    @property
    def topic(self) -> str:
        return f"{RAW_PREFIX}{self.source}"

    def headers(self) -> list[tuple[str, bytes]]:
        return [(name, value.encode()) for name in _HEADERS if (value := getattr(self, name)) is not None]

    @classmethod
    def from_message(cls, topic: str, key: bytes | None, value: bytes,
                     headers: Iterable[tuple[str, bytes | None]]) -> Envelope:
        """The envelope of a consumed message; missing headers read as empty (hand-made test messages)."""
        found = {name: (data or b"").decode("utf-8", "replace") for name, data in headers}
        return cls(
            raw=value,
            source=topic.removeprefix(RAW_PREFIX),
            collector=found.get("collector", ""),
            origin=found.get("origin", topic),
            position=found.get("position", ""),
            received_at=found.get("received_at", ""),
            record_id=(key or b"").decode("utf-8", "replace"),
            agency=found.get("agency") or None,
        )
