"""GeoIP: the country and autonomous system of an event's public addresses, from MaxMind DB files.

Analysts ask "where is this address, whose network is it" of every outside address; rules and the search
store read the answer as ECS fields (source.geo.country_iso_code, destination.as.number, ...). The files are
GeoLite2/GeoIP2 Country (or City) and ASN databases, read with maxminddb's C reader (libmaxminddb, memory
mapped). Addresses repeat, so each one is looked up once and remembered (a bounded cache per direction);
private, loopback, link-local, shared, documentation and multicast addresses are never looked up.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import maxminddb

# Where the destination address of an event is: the ECS name the network parsers add, Sysmon's, Sigma's
# generic firewall name. The source address is the event's context (enrich/normalise.py), which already
# reads IpAddress, SourceIp, c-ip, source.ip and syslog messages.
DESTINATION_FIELDS = ("destination.ip", "DestinationIp", "dst_ip")
_NOTHING: dict[str, str] = {}


class GeoIP:
    """The configured databases (None: that half is off), opened on first use in each process: a Spark
    task receives this object pickled, paths only, and opens its own memory map."""

    def __init__(self, country_db: str | Path | None, asn_db: str | Path | None, cache_size: int = 100_000):
        self.country_db = str(country_db) if country_db else None
        self.asn_db = str(asn_db) if asn_db else None
        self.cache_size = cache_size
        self._readers: tuple[Any, Any] | None = None
        self._caches: dict[str, dict[str, dict[str, str]]] = {"source.": {}, "destination.": {}}

    def __getstate__(self) -> tuple[str | None, str | None, int]:
        return self.country_db, self.asn_db, self.cache_size

    def __setstate__(self, state: tuple[str | None, str | None, int]) -> None:
        self.__init__(*state)

    @classmethod
    def of(cls, config: Any) -> GeoIP | None:
        """The `enrich.geoip` settings of a socpipe Config; None when no database is set."""
        country, asn = config.path("enrich", "geoip", "country_db"), config.path("enrich", "geoip", "asn_db")
        if not country and not asn:
            return None
        return cls(country, asn, config.get("enrich", "geoip", "cache_size"))

    def lookup(self, ip: str) -> dict[str, str]:
        """The ECS geo and as fields of one address, without the source./destination. prefix; {} for an
        address that is not public, not an address, or not in the databases."""
        address = public_address(ip)
        if address is None:
            return {}
        country_reader, asn_reader = self._open()
        found: dict[str, str] = {}
        if country_reader is not None and (record := country_reader.get(address)):
            country = record.get("country") or record.get("registered_country") or {}
            if country.get("iso_code"):
                found["geo.country_iso_code"] = country["iso_code"]
            if name := (country.get("names") or {}).get("en"):
                found["geo.country_name"] = name
        if asn_reader is not None and (record := asn_reader.get(address)):
            if record.get("autonomous_system_number") is not None:
                found["as.number"] = str(record["autonomous_system_number"])
            if record.get("autonomous_system_organization"):
                found["as.organization.name"] = record["autonomous_system_organization"]
        return found

    def enrich(self, fields: dict[str, str], source_ip: str | None) -> dict[str, str]:
        """`fields` with the geo and as fields of its source and destination addresses added (a name the
        event has already is left alone); the same dict when there is nothing to add."""
        source = self._fields("source.", source_ip) if source_ip else _NOTHING
        destination = _NOTHING
        for name in DESTINATION_FIELDS:
            if (value := fields.get(name)) is not None:
                destination = self._fields("destination.", value)
                break
        if not source and not destination:
            return fields
        return {**source, **destination, **fields}

    def _fields(self, prefix: str, ip: str) -> dict[str, str]:
        cache = self._caches[prefix]
        found = cache.get(ip)
        if found is None:
            if len(cache) >= self.cache_size:
                cache.clear()
            found = cache[ip] = {prefix + name: value for name, value in self.lookup(ip).items()}
        return found

    def _open(self) -> tuple[Any, Any]:
        if self._readers is None:
            self._readers = tuple(maxminddb.open_database(path, maxminddb.MODE_MMAP_EXT) if path else None
                                  for path in (self.country_db, self.asn_db))
        return self._readers


def public_address(text: str) -> str | None:
    """The address in `text` when it is a public one (an IPv4-mapped IPv6 address as its IPv4 form), else
    None."""
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if not address.is_global or address.is_multicast:
        return None
    return str(address)
