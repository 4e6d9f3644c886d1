"""What a collector adds to a record before Kafka: its id, the time, an agency hint, the message form.

Records go out as socpipe.envelope.Envelope (original bytes, stamp in headers, record id as key);
records a collector cannot frame go to the dead-letter topic as the DeadLetter's JSON document plus
the collector and the time, so the original bytes are kept there too (base64).
"""

from __future__ import annotations

import fnmatch
import functools
import ipaddress
import json
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ingest.spool import Message
from socpipe.config import Config
from socpipe.envelope import DEADLETTER_TOPIC, Envelope
from socpipe.events import DeadLetter
from socpipe.registry import Registry


def collector_id(config: Config) -> str:
    return str(config.get("collect", "id") or socket.gethostname())


def received_now() -> str:
    """The current time as ISO 8601 UTC with microseconds, e.g. 2026-12-01T14:05:12.123456Z."""
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def envelope_message(envelope: Envelope) -> Message:
    return Message(envelope.topic, envelope.record_id.encode(), envelope.raw, tuple(envelope.headers()))


def deadletter_message(letter: DeadLetter, collector: str, received_at: str, record_id: str) -> Message:
    document = letter.to_json() | {"collector": collector, "received_at": received_at}
    return Message(DEADLETTER_TOPIC, record_id.encode(), json.dumps(document, ensure_ascii=False).encode())


@dataclass(frozen=True)
class AgencyHints:
    """collect.agency_hints: the agency of a syslog sender (by network) or of a file (by path glob)."""

    networks: tuple[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str], ...] = ()
    globs: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_config(cls, config: Config) -> AgencyHints:
        """The hints, checked: each names a network or a glob, and an agency of the registry if one is set."""
        registry_path = config.path("registry")
        known = set(Registry.load(registry_path).agencies) if registry_path else None
        networks, globs = [], []
        for number, hint in enumerate(config.get("collect", "agency_hints"), 1):
            if not isinstance(hint, dict) or "agency" not in hint or ("sender" in hint) == ("path" in hint):
                raise ValueError(f"collect.agency_hints item {number}: expected {{sender: CIDR, agency: ID}} "
                                 f"or {{path: GLOB, agency: ID}}, got {hint!r}")
            if known is not None and str(hint["agency"]) not in known:
                raise ValueError(f"collect.agency_hints item {number}: agency {hint['agency']!r} is not in the "
                                 f"registry {registry_path}")
            if "sender" in hint:
                try:
                    networks.append((ipaddress.ip_network(str(hint["sender"]), strict=False), str(hint["agency"])))
                except ValueError as err:
                    raise ValueError(f"collect.agency_hints item {number}: {err}") from None
            else:
                globs.append((str(config.base_dir / str(hint["path"])), str(hint["agency"])))
        return cls(tuple(networks), tuple(globs))

    def for_sender(self, address: str) -> str | None:
        return _agency_of_sender(self.networks, address) if self.networks else None

    def for_path(self, path: Path) -> str | None:
        return next((agency for glob, agency in self.globs if fnmatch.fnmatch(str(path), glob)), None)


@functools.lru_cache(maxsize=65536)
def _agency_of_sender(networks: tuple[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str], ...],
                      address: str) -> str | None:
    """Remembered per sender: a syslog feed comes from a few addresses, each sending many messages."""
    ip = ipaddress.ip_address(address.partition("%")[0])  # without an IPv6 zone (fe80::1%eth0)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:  # an IPv4 sender on a dual-stack socket
        ip = ip.ipv4_mapped
    return next((agency for network, agency in networks if ip in network), None)
