"""Threat intelligence: indicator sets and lookups that cost microseconds.

An IntelSet holds the indicators of every configured source (enrich/intel_sources.py), normalised once:
exact values in hash maps (IP addresses and CIDR blocks in one table of sorted integer ranges, searched with
numpy), domains matched with their parent domains (an indicator evil.example matches a.b.evil.example).
Layer 2 raises a "threat-intel match" alert for each event and indicator that meet (layers/matcher/intel.py).
The set is pickled to every Spark worker (a broadcast) and rebuilt by the driver on each refresh.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

IP, CIDR, DOMAIN, URL, MD5, SHA1, SHA256 = "ip", "cidr", "domain", "url", "md5", "sha1", "sha256"
TYPES = (IP, CIDR, DOMAIN, URL, MD5, SHA1, SHA256)
HASH_LENGTHS = {32: MD5, 40: SHA1, 64: SHA256}

# Indicator confidence (0-100, STIX 2.1's scale) -> alert level: STIX's None/Low/Med/High scale (Appendix A),
# with its top decile as critical. An indicator without a confidence gives `medium`.
LEVEL_FROM = ((90, "critical"), (70, "high"), (30, "medium"), (1, "low"), (0, "informational"))
UNKNOWN_CONFIDENCE_LEVEL = "medium"


def level(confidence: int | None) -> str:
    """The alert level of a match on an indicator of this confidence."""
    if confidence is None:
        return UNKNOWN_CONFIDENCE_LEVEL
    return next(name for floor, name in LEVEL_FROM if confidence >= floor)


@dataclass(frozen=True, slots=True)
class Indicator:
    type: str  # one of TYPES
    value: str  # normalised as looked up (normalise())
    source: str  # the configured source's name
    confidence: int | None = None  # 0-100
    id: str | None = None  # STIX indicator id, MISP attribute uuid, CSV line
    description: str | None = None


class IntelSet:
    """Every indicator, ready for lookups; of two indicators of the same type and value the more confident
    one counts (the first loaded on a tie)."""

    def __init__(self, indicators: Iterable[Indicator] = ()):
        best: dict[tuple[str, str], Indicator] = {}
        for indicator in indicators:
            key = (_family(indicator.type), indicator.value)
            held = best.get(key)
            if held is None or _rank(indicator) > _rank(held):
                best[key] = indicator
        self.indicators = list(best.values())
        self.domains = {i.value: i for i in self.indicators if i.type == DOMAIN}
        self.urls = {i.value: i for i in self.indicators if i.type == URL}
        self.url_hosts = frozenset(value.partition("/")[0] for value in self.urls)  # rules out most requests
        self.hashes = {i.value: i for i in self.indicators if i.type in HASH_LENGTHS.values()}
        networks = [i for i in self.indicators if i.type in (IP, CIDR)]
        self._v4 = _Ranges([(n, i) for i in networks if (n := network_range(i.value)) and n[0] == 4])
        self._v6 = _Ranges([(n, i) for i in networks if (n := network_range(i.value)) and n[0] == 6])

    def __len__(self) -> int:
        return len(self.indicators)

    @property
    def has_addresses(self) -> bool:
        return bool(self._v4.indicators or self._v6.indicators)

    def addresses(self, values: list[str | None]) -> list[Indicator | None]:
        """Per value, the most specific IP or CIDR indicator holding the address, else None."""
        found: list[Indicator | None] = [None] * len(values)
        for version, ranges in ((4, self._v4), (6, self._v6)):
            if not ranges.indicators:
                continue
            positions, numbers = [], []
            for k, value in enumerate(values):
                parsed = address_number(value) if value else None
                if parsed is not None and parsed[0] == version:
                    positions.append(k)
                    numbers.append(parsed[1])
            for k, indicator in zip(positions, ranges.find(numbers), strict=True):
                found[k] = indicator
        return found

    def domain(self, value: str) -> Indicator | None:
        """The indicator of this domain or of its nearest parent domain."""
        name = domain_name(value)
        while name:
            if (hit := self.domains.get(name)) is not None:
                return hit
            name = name.partition(".")[2]
        return None

    def url(self, value: str) -> Indicator | None:
        return self.urls.get(url_key(value)) if self.urls else None

    def url_host(self, host: str) -> bool:
        """Whether some URL indicator leads to this host (a request's host, port included if not default)."""
        return url_key(host).partition("/")[0] in self.url_hosts

    def hash(self, value: str) -> Indicator | None:
        return self.hashes.get(value.strip().lower())


class _Ranges:
    """CIDR blocks of one IP version as disjoint integer ranges, each labelled with the most specific block
    covering it (blocks nest or are disjoint), so one binary search finds an address's indicator."""

    def __init__(self, blocks: list[tuple[tuple[int, int, int], Indicator]]):
        self.indicators: list[Indicator] = []
        starts: list[int] = []
        ends: list[int] = []
        labels: list[int] = []

        def emit(start: int, end: int, label: int) -> None:
            if start <= end:
                starts.append(start)
                ends.append(end)
                labels.append(label)

        open_blocks: list[tuple[int, int]] = []  # (end, label), innermost last
        cursor = 0
        for (_, start, end), indicator in sorted(blocks, key=lambda b: (b[0][1], -b[0][2])):
            while open_blocks and open_blocks[-1][0] < start:
                block_end, label = open_blocks.pop()
                emit(cursor, block_end, label)
                cursor = block_end + 1
            if open_blocks:
                emit(cursor, start - 1, open_blocks[-1][1])
            open_blocks.append((end, len(self.indicators)))
            self.indicators.append(indicator)
            cursor = start
        while open_blocks:
            block_end, label = open_blocks.pop()
            emit(cursor, block_end, label)
            cursor = block_end + 1
        # IPv4 fits uint64; IPv6 numbers stay Python ints (an object array: numpy compares them as such).
        kind = np.uint64 if all(end < 1 << 64 for end in ends) else object
        self.starts = np.array(starts, dtype=kind)
        self.ends = np.array(ends, dtype=kind)
        self.labels = np.array(labels, dtype=np.int64)

    def find(self, numbers: list[int]) -> list[Indicator | None]:
        if not numbers:
            return []
        wanted = np.array(numbers, dtype=self.starts.dtype)
        at = np.searchsorted(self.starts, wanted, side="right") - 1
        inside = (at >= 0) & (wanted <= self.ends[np.maximum(at, 0)])
        labels = self.labels[np.maximum(at, 0)]
        return [self.indicators[label] if hit else None
                for label, hit in zip(labels.tolist(), inside.tolist(), strict=True)]


def _rank(indicator: Indicator) -> int:
    return -1 if indicator.confidence is None else indicator.confidence


def _family(kind: str) -> str:
    return IP if kind in (IP, CIDR) else kind


# ---- normal forms: the indicator's value and the event's value meet in these --------------------------

def address_number(text: str) -> tuple[int, int] | None:
    """(4 or 6, the address as an integer); an IPv4-mapped IPv6 address counts as IPv4; None when `text`
    is no address."""
    text = text.strip()
    try:
        return 4, int.from_bytes(socket.inet_pton(socket.AF_INET, text), "big")
    except OSError:
        pass
    try:
        number = int.from_bytes(socket.inet_pton(socket.AF_INET6, text.partition("%")[0]), "big")
    except OSError:
        return None
    return (4, number & 0xFFFFFFFF) if number >> 32 == 0xFFFF else (6, number)


def network_range(text: str) -> tuple[int, int, int] | None:
    """(version, first, last) address of an address or CIDR block, as integers; None when it is neither.
    Host bits set in a block (10.1.2.3/8) are cleared."""
    address, _, prefix = text.strip().partition("/")
    parsed = address_number(address)
    if parsed is None:
        return None
    version, number = parsed
    bits = 32 if version == 4 else 128
    if prefix:
        if not prefix.isdigit() or int(prefix) > bits:
            return None
        length = int(prefix) - (96 if version == 4 and ":" in address else 0)  # ::ffff:a.b.c.d/104
        if length < 0:
            return None
    else:
        length = bits
    span = (1 << (bits - length)) - 1
    first = number & ~span
    return version, first, first | span


def domain_name(value: str) -> str:
    """A host or domain name as indicators are kept: lower case, without a trailing dot or a port."""
    name = value.strip().lower().rstrip(".")
    if name.count(":") == 1:  # host:port (an IPv6 literal has several colons)
        name = name.partition(":")[0]
    return name


def url_key(value: str) -> str:
    """A URL as indicators are kept: without its scheme and fragment, the host lower case, without the
    scheme's default port, an empty path as "/"; path and query as they are."""
    text = value.strip()
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "", text
    rest = rest.partition("#")[0]
    cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    host, path = rest[:cut].lower(), rest[cut:]
    host = host.rpartition("@")[2]  # user:password@ is not part of where the URL leads
    default = {"http": ":80", "https": ":443"}.get(scheme.lower())
    if default and host.endswith(default):
        host = host[:-len(default)]
    if not path.startswith("/"):
        path = "/" + path
    return host + path


def normalise(kind: str, value: str) -> str | None:
    """The value an indicator of this type is kept under; None when the value is not one of its type."""
    value = value.strip()
    if kind in (IP, CIDR):
        found = network_range(value)
        if found is None:
            return None
        version, first, last = found
        if first == last:
            return socket.inet_ntop(socket.AF_INET if version == 4 else socket.AF_INET6,
                                    first.to_bytes(4 if version == 4 else 16, "big"))
        length = (32 if version == 4 else 128) - (last - first).bit_length()
        start = socket.inet_ntop(socket.AF_INET if version == 4 else socket.AF_INET6,
                                 first.to_bytes(4 if version == 4 else 16, "big"))
        return f"{start}/{length}"
    if kind == DOMAIN:
        name = domain_name(value)
        return name if name and " " not in name else None
    if kind == URL:
        return url_key(value) if value else None
    if kind in HASH_LENGTHS.values():
        digest = value.lower()
        return digest if HASH_LENGTHS.get(len(digest)) == kind and all(c in "0123456789abcdef" for c in digest) \
            else None
    return None


def indicator(kind: str, value: str, source: str, confidence: int | None = None, id: str | None = None,
              description: str | None = None) -> Indicator | None:
    """An indicator with its value normalised (an address with a prefix becomes a CIDR block, a block of
    one address an IP); None when the value does not fit the type."""
    kept = normalise(kind, value)
    if kept is None:
        return None
    if kind in (IP, CIDR):
        kind = CIDR if "/" in kept else IP
    return Indicator(kind, kept, source, confidence, id, description)
