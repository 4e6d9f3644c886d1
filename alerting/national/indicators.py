"""The indicators an incident carries: external addresses, domains, URLs and file hashes seen in its
alerts' events. Addresses and names of the province's own systems (the registry) are context, not
indicators, and are left out."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from socpipe.registry import Registry

IP_FIELDS = ("source.ip", "SourceIp", "DestinationIp", "src_ip", "dest_ip", "c-ip", "IpAddress")
DOMAIN_FIELDS = ("QueryName", "DestinationHostname", "cs-host", "dns.query")
URL_FIELDS = ("url", "c-uri-full", "cs-referer")
HASH_FIELDS = ("Hashes", "Hash", "sha256", "md5", "sha1")
_HASH = re.compile(r"(?:(MD5|SHA1|SHA256)=)?([0-9a-fA-F]{64}|[0-9a-fA-F]{40}|[0-9a-fA-F]{32})")
_HASH_NAMES = {32: "MD5", 40: "SHA-1", 64: "SHA-256"}
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


@dataclass(frozen=True, order=True)
class Indicator:
    kind: str  # ipv4-addr, ipv6-addr, domain-name, url, file
    value: str
    hash_name: str | None = None  # for files: MD5, SHA-1, SHA-256


def indicators(incident: Mapping[str, Any], events: Iterable[Mapping[str, Any]],
               registry: Registry | None) -> list[Indicator]:
    found: set[Indicator] = set()
    fields = [{"source.ip": incident.get("source.ip")}, *events]
    for event in fields:
        for name in IP_FIELDS:
            address = _address(event.get(name))
            if address is not None and (registry is None or registry.locate(None, str(address)) is None):
                found.add(Indicator(f"ipv{address.version}-addr", str(address)))
        for name in DOMAIN_FIELDS:
            domain = str(event.get(name) or "").strip().rstrip(".").lower()
            if _DOMAIN.match(domain) and (registry is None or registry.locate(domain, None) is None):
                found.add(Indicator("domain-name", domain))
        for name in URL_FIELDS:
            url = str(event.get(name) or "")
            if url.startswith(("http://", "https://")):
                found.add(Indicator("url", url))
        for name in HASH_FIELDS:
            for _, digest in _HASH.findall(str(event.get(name) or "")):
                found.add(Indicator("file", digest.lower(), _HASH_NAMES[len(digest)]))
    return sorted(found)


def _address(value: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(str(value).strip())
    except ValueError:
        return None
    return None if address.is_loopback or address.is_unspecified or address.is_link_local else address


def pattern(indicator: Indicator) -> str:
    """The STIX pattern that matches the indicator."""
    value = indicator.value.replace("\\", "\\\\").replace("'", "\\'")
    if indicator.kind == "file":
        return f"[file:hashes.'{indicator.hash_name}' = '{value}']"
    return f"[{indicator.kind}:value = '{value}']"
