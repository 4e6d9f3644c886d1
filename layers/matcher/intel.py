"""Threat-intel matching of a batch of events: the values of the fields that carry addresses, domains, URLs
and file hashes, each distinct value looked up once in the IntelSet (enrich/intel.py).

A match becomes an alert of the rule "threat-intel match" (INTEL_RULE, layers/detect.py alert_batch), in the
same document shape, sinks and ids as the Sigma rules' alerts, so batch detection and the stream give the
same alerts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from enrich.intel import Indicator, IntelSet
from layers.matcher.fieldbatch import FieldBatch, group
from rules import ir
from rules.model import CompiledRule

INTEL_RULE_ID = "f626ca14-1a3c-5b19-9a85-736d2ef4890a"  # uuid5(URL, "socpipe:rule:threat-intel-match")
# The level of each alert is its indicator's (enrich/intel.py level()).
INTEL_RULE = CompiledRule(INTEL_RULE_ID, "threat-intel match", "medium", ("threat-intel",), "enrich/intel.py",
                          (None, None, None), (), False, ir.Const(True))

# The fields looked at, per kind of indicator, in order: of several fields holding one indicator, the
# first names the match. Source addresses are the event context's (enrich/normalise.py: source.ip, IpAddress,
# SourceIp, SourceAddress, c-ip, a syslog message's), named source.ip; destinations are the ECS name, which
# the network parsers add beside Zeek's id.resp_h and Suricata's dest_ip, then the Windows and generic ones.
CONTEXT_ADDRESS = "source.ip"
ADDRESS_FIELDS = ("destination.ip", "DestinationIp", "DestAddress", "dst_ip")
DOMAIN_FIELDS = ("destination.domain", "url.domain", "query", "dns.rrname", "QueryName", "DestinationHostname",
                 "server_name", "tls.sni", "cs-host", "http.hostname")
URL_FIELDS = ("url.full", "url.original", "c-uri", "http.url")  # absolute URLs; else cs-host + c-uri
HASH_FIELDS = ("file.hash.sha256", "file.hash.sha1", "file.hash.md5", "sha256", "sha1", "md5", "fileinfo.sha256",
               "fileinfo.sha1", "fileinfo.md5", "Hashes", "Hash")  # Sysmon: "SHA1=...,MD5=...,SHA256=..."
URL_HOST, URL_PATH = "cs-host", "c-uri"


@dataclass(frozen=True, slots=True)
class IntelMatch:
    row: int
    field: str  # the event field whose value matched
    value: str  # that value (a URL from cs-host and c-uri: both joined)
    indicator: Indicator


def intel_matches(intel: IntelSet, batch: FieldBatch, source_ips: pa.Array | pa.ChunkedArray) -> list[IntelMatch]:
    """One match per event and indicator, ordered by event: the first field in the order above that held
    the indicator names it."""
    found: dict[tuple[int, Indicator], IntelMatch] = {}

    def take(name: str, rows: np.ndarray, codes: np.ndarray, values: list[str | None],
             look: Callable[[list[str | None]], list[Indicator | None]]) -> None:
        hits = look(values)
        matched = np.array([hit is not None for hit in hits], dtype=bool)
        if not matched.any():
            return
        keep = matched[codes]
        for row, code in zip(rows[keep].tolist(), codes[keep].tolist(), strict=True):
            key = (row, hits[code])
            if key not in found:
                found[key] = IntelMatch(row, name, values[code], hits[code])

    def each(fields: tuple[str, ...], look: Callable[[list[str | None]], list[Indicator | None]]) -> None:
        for name in fields:
            column = batch.column(name)
            if column.entry_rows.size:
                take(name, column.entry_rows, column.entry_codes, column.values, look)

    if intel.has_addresses:
        if isinstance(source_ips, pa.ChunkedArray):
            source_ips = source_ips.combine_chunks()
        encoded = pc.dictionary_encode(source_ips)
        codes = encoded.indices.to_numpy(zero_copy_only=False)
        present = np.flatnonzero(encoded.indices.is_valid().to_numpy(zero_copy_only=False))
        take(CONTEXT_ADDRESS, present, codes[present].astype(np.int64), encoded.dictionary.to_pylist(),
             intel.addresses)
        each(ADDRESS_FIELDS, intel.addresses)
    if intel.domains:
        each(DOMAIN_FIELDS, lambda values: [intel.domain(v) if v else None for v in values])
    if intel.urls:
        each(URL_FIELDS, lambda values: [intel.url(v) if v and "://" in v else None for v in values])
        _host_and_path(batch, take, intel)
    if intel.hashes:
        each(HASH_FIELDS, lambda values: [_hash(intel, v) if v else None for v in values])
    return sorted(found.values(), key=lambda m: m.row)


def _host_and_path(batch: FieldBatch, take: Callable[..., None], intel: IntelSet) -> None:
    """URLs of HTTP records that give the host and the path apart (Zeek, Suricata, access logs)."""
    host, path = batch.column(URL_HOST), batch.column(URL_PATH)
    if not host.entry_rows.size or not path.entry_rows.size:
        return
    wanted = np.array([bool(h) and intel.url_host(h) for h in host.values] + [False], dtype=bool)  # [-1]: none
    rows = np.flatnonzero(wanted[host.codes] & (path.codes >= 0))
    if not rows.size:
        return
    numbers, firsts = group(host.codes[rows] * (len(path.distinct) + 1) + path.codes[rows])
    urls = [f"{h}{p}" if p and p.startswith("/") else None
            for h, p in ((host.values[host.codes[r]], path.values[path.codes[r]]) for r in rows[firsts].tolist())]
    take(URL_PATH, rows, numbers, urls, lambda values: [intel.url(v) if v else None for v in values])


def _hash(intel: IntelSet, value: str) -> Indicator | None:
    """A hash field's indicator; Sysmon's Hashes hold several, ALGORITHM=hex, comma-separated."""
    if "=" not in value:
        return intel.hash(value)
    return next((hit for part in value.split(",") if (hit := intel.hash(part.partition("=")[2]))), None)
