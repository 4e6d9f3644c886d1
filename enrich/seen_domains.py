"""Newly seen domains: DNS questions for a registered domain that the province has not asked about before.

A domain registered last week for a phishing campaign or a C2 server is new to every agency, while the
domains of ordinary work (ministries, banks, news, cloud services) come back day after day. The baseline
is the set of registered domains (a public suffix and one label more, by the Public Suffix List that the
publicsuffixlist package ships: vietcombank.com.vn, x.duckdns.org) asked in the events lake over the last
N days, which `socpipe baseline domains` writes to a text file, one per line. Detection reads that file:
each DNS record (DNS_KINDS, field `query`) gains dns.question.registered_domain and, when the domain is
not in the baseline, dns.question.newly_seen = "true", which rule net_dns_newly_seen_domain reads. The
fields are added before the rules run and are written to the lake, so batch and stream see the same.

Like GeoIP, the object travels to Spark tasks as its path: each process reads the file on first use, and
again when the file has changed (looked at every `check_seconds`), so a nightly rebuild reaches a running
stream without a restart.
"""

from __future__ import annotations

import ipaddress
import os
import time
from collections.abc import Iterable
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
from publicsuffixlist import PublicSuffixList

DNS_KINDS = ("zeek_dns", "suricata_dns")  # records whose `query` is a DNS question (category dns)
QUERY = "query"
REGISTERED, NEWLY_SEEN = "dns.question.registered_domain", "dns.question.newly_seen"
_SUFFIXES = PublicSuffixList()


@lru_cache(maxsize=100_000)
def registered_domain(name: str) -> str | None:
    """The registered domain of a DNS name, lower case; None for an address, a reverse (.arpa) name, a bare
    public suffix or a single label."""
    name = name.strip().rstrip(".").lower()
    if not name or name.endswith(".arpa"):
        return None
    try:
        ipaddress.ip_address(name)
        return None
    except ValueError:
        pass
    return _SUFFIXES.privatesuffix(name)


class SeenDomains:
    """The baseline file of registered domains; `mark` adds the fields to a DNS record."""

    def __init__(self, path: str | Path, check_seconds: float = 60.0) -> None:
        self.path = str(path)
        self.check_seconds = check_seconds
        self._domains: frozenset[str] | None = None
        self._stamp: tuple[int, int] | None = None  # the file's mtime and size when read
        self._checked = 0.0

    def __getstate__(self) -> tuple[str, float]:
        return self.path, self.check_seconds

    def __setstate__(self, state: tuple[str, float]) -> None:
        self.__init__(*state)

    @classmethod
    def of(cls, config: Any) -> SeenDomains | None:
        """The `enrich.new_domains` settings of a socpipe Config; None when no baseline is set."""
        path = config.path("enrich", "new_domains", "baseline")
        if path is None:
            return None
        if not path.is_file():
            raise ValueError(f"enrich.new_domains.baseline: {path} does not exist; build it with "
                             "`socpipe baseline domains`")
        return cls(path, config.get("enrich", "new_domains", "check_seconds"))

    @property
    def domains(self) -> frozenset[str]:
        now = time.monotonic()
        if self._domains is None or now - self._checked >= self.check_seconds:
            self._checked = now
            stat = os.stat(self.path)
            if (stat.st_mtime_ns, stat.st_size) != self._stamp:
                self._domains = read_baseline(Path(self.path))
                self._stamp = (stat.st_mtime_ns, stat.st_size)
        assert self._domains is not None
        return self._domains

    def mark(self, kind: str, fields: dict[str, str]) -> dict[str, str]:
        """`fields` with the registered domain of its question and, when the baseline lacks it, the newly
        seen mark; the same dict for other records and for names without a registered domain."""
        if kind not in DNS_KINDS or REGISTERED in fields or not (query := fields.get(QUERY)):
            return fields
        domain = registered_domain(query)
        if domain is None:
            return fields
        added = {REGISTERED: domain}
        if domain not in self.domains:
            added[NEWLY_SEEN] = "true"
        return {**fields, **added}


def read_baseline(path: Path) -> frozenset[str]:
    """The domains of a baseline file (one per line; blank lines and # comments skipped)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


def lake_domains(lake: Path, days: int, until: date) -> set[str]:
    """The registered domains of the DNS questions in an events lake (date=/kind= partitions, the layout of
    `socpipe run`'s lake/events) over the `days` days that end with `until`."""
    since = (until - timedelta(days=days - 1)).isoformat()
    if not lake.is_dir():
        return set()
    schema = pa.schema([("date", pa.string()), ("kind", pa.string())])
    dataset = ds.dataset(lake, format="parquet", partitioning=ds.partitioning(schema, flavor="hive"))
    wanted = ((ds.field("date") >= since) & (ds.field("date") <= until.isoformat())
              & ds.field("kind").isin(list(DNS_KINDS)))
    found: set[str] = set()
    for batch in dataset.to_batches(columns=["fields"], filter=wanted):
        queries = pc.unique(pc.map_lookup(batch.column("fields"), QUERY, "first").drop_null())
        found.update(d for q in queries.to_pylist() if (d := registered_domain(q)))
    return found


def write_baseline(path: Path, domains: Iterable[str], header: str) -> None:
    """The baseline file, sorted, written whole to a temporary file then renamed, so a running stream
    never reads half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text("".join([f"# {header}\n", *(f"{d}\n" for d in sorted(domains))]), encoding="utf-8")
    temporary.replace(path)
