"""What GeoIP and threat-intel matching add to detection, per event (issue 13's target: at most 2 us).

Run from the repository root: python -m bench.enrich [--events N]. It writes a country and an ASN database
(MaxMind DB format, with mmdb-writer) of --networks networks, builds an indicator set of 50,000 CIDR blocks,
100,000 addresses, 100,000 domains, 20,000 URLs and 50,000 hashes, and generates network events (flows,
DNS, HTTP, file records) whose values repeat as a province's do: a few thousand outside addresses and domains
for many events. It times staging (event_row) and detection (alert_batch with the starter pack) in one
process, without and with enrichment, and prints the CPU microseconds each adds per event, best of --runs.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from enrich.geoip import GeoIP
from enrich.intel import CIDR, DOMAIN, IP, MD5, SHA256, URL, Indicator, IntelSet, indicator
from layers.detect import LAKE_BATCH_ROWS, alert_batch, event_row, rows_table
from layers.matcher.engine import Detector
from rules.compiler import load_rules
from socpipe.config import STARTER_PACK
from socpipe.events import FLOW, Event

COUNTRIES = (("VN", "Vietnam"), ("US", "United States"), ("CN", "China"), ("RU", "Russia"), ("SG", "Singapore"),
             ("KP", "North Korea"), ("DE", "Germany"), ("JP", "Japan"))


def write_mmdb(path: Path, networks: dict[str, dict[str, Any]], database_type: str) -> None:
    """A MaxMind DB file (IPv6 tree holding IPv4 too, as GeoLite2's) of CIDR block -> record."""
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type=database_type, languages=["en"],
                        description=f"socpipe test {database_type}")
    for block, record in networks.items():
        writer.insert_network(IPSet([block]), record)
    writer.to_db_file(str(path))


def country_record(iso: str, name: str) -> dict[str, Any]:
    return {"country": {"iso_code": iso, "names": {"en": name}}}


def asn_record(number: int, organisation: str) -> dict[str, Any]:
    return {"autonomous_system_number": number, "autonomous_system_organization": organisation}


def _public(r: random.Random) -> str:
    while True:
        first = r.randrange(1, 224)
        if first not in (10, 127, 100, 169, 172, 192, 198, 203):
            return f"{first}.{r.randrange(256)}.{r.randrange(256)}.{r.randrange(1, 255)}"


def databases(folder: Path, networks: int, r: random.Random) -> tuple[Path, Path]:
    blocks = {f"{_public(r).rsplit('.', 1)[0]}.0/24" for _ in range(networks)}
    country, asn = folder / "country.mmdb", folder / "asn.mmdb"
    write_mmdb(country, {b: country_record(*r.choice(COUNTRIES)) for b in blocks}, "GeoLite2-Country")
    write_mmdb(asn, {b: asn_record(r.randrange(1, 400_000), f"AS org {i}") for i, b in enumerate(blocks)},
               "GeoLite2-ASN")
    return country, asn


def indicators(r: random.Random) -> tuple[IntelSet, list[str], list[str]]:
    """The indicator set, and some of its addresses and domains for the events to meet."""
    found: list[Indicator | None] = []
    found += [indicator(CIDR, f"{_public(r).rsplit('.', 1)[0]}.0/24", "bench", 60) for _ in range(50_000)]
    addresses = [_public(r) for _ in range(100_000)]
    found += [indicator(IP, a, "bench", 80) for a in addresses]
    domains = [f"c2-{i}.example{r.randrange(100)}.net" for i in range(100_000)]
    found += [indicator(DOMAIN, d, "bench", 50) for d in domains]
    found += [indicator(URL, f"http://{d}/gate.php", "bench", 70) for d in domains[:20_000]]
    found += [indicator(MD5 if i % 2 else SHA256, f"{r.getrandbits(128 if i % 2 else 256):0{32 if i % 2 else 64}x}",
                        "bench", 90) for i in range(50_000)]
    return IntelSet(f for f in found if f), addresses[:50], domains[:50]


def events(n: int, r: random.Random, bad_ips: list[str], bad_domains: list[str]) -> list[Event]:
    """Flows (60%), DNS (20%), HTTP (15%) and file records (5%) of 200 agency hosts and 5,000 outside
    addresses and 3,000 domains; about one event in 2,000 meets an indicator."""
    inside = [f"10.{a}.{b}.{c}" for a, b, c in ((r.randrange(20), r.randrange(256), r.randrange(1, 255))
                                              for _ in range(200))]
    outside = [_public(r) for _ in range(5_000)]
    names = [f"www.site{i}.vn" for i in range(3_000)]
    out = []
    for i in range(n):
        bad = r.random() < 0.0005
        host, peer = r.choice(inside), r.choice(bad_ips) if bad else r.choice(outside)
        base = {"@timestamp": f"2026-12-07T10:{i // 60 % 60:02d}:{i % 60:02d}+00:00", "source.ip": host,
                "destination.ip": peer, "source.port": str(r.randrange(1024, 65535)), "destination.port": "443"}
        share = r.random()
        if share < 0.6:
            out.append(Event({**base, "src_ip": host, "dst_ip": peer, "protocol": "6", "bytes": str(r.randrange(9999))},
                             FLOW, f"bench:{i}"))
        elif share < 0.8:
            name = r.choice(bad_domains) if bad else r.choice(names)
            out.append(Event({**base, "query": name, "qtype_name": "A", "_path": "dns", "ts": "1"}, "zeek_dns",
                             f"bench:{i}"))
        elif share < 0.95:
            name = r.choice(bad_domains) if bad else r.choice(names)
            out.append(Event({**base, "cs-host": name, "c-uri": f"/p/{r.randrange(50)}", "_path": "http", "ts": "1"},
                             "zeek_http", f"bench:{i}"))
        else:
            out.append(Event({**base, "md5": f"{r.getrandbits(128):032x}", "_path": "files", "ts": "1"}, "zeek_files",
                             f"bench:{i}"))
    return out


def timed(work: Callable[[], int], runs: int) -> tuple[float, int]:
    """Best CPU seconds of `runs` runs, and the work's result."""
    best, result = float("inf"), 0
    for _ in range(runs):
        started = time.process_time()
        result = work()
        best = min(best, time.process_time() - started)
    return best, result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--networks", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    r = random.Random(13)
    with tempfile.TemporaryDirectory(prefix="socpipe-bench-enrich-") as tmp:
        began = time.monotonic()
        country, asn = databases(Path(tmp), args.networks, r)
        intel, bad_ips, bad_domains = indicators(r)
        corpus = events(args.events, r, bad_ips, bad_domains)
        print(f"setup {time.monotonic() - began:.1f} s: {args.networks:,} networks per database, "
              f"{len(intel):,} indicators, {len(corpus):,} events")
        detector = Detector(load_rules([STARTER_PACK]).rules)

        def stage(geoip: GeoIP | None) -> list[Any]:
            rows = [event_row(e, None, (), None, geoip=geoip) for e in corpus]
            return [b for first in range(0, len(rows), LAKE_BATCH_ROWS)
                    for b in rows_table(rows[first:first + LAKE_BATCH_ROWS]).to_batches()]

        def detect(batches: list[Any], with_intel: IntelSet | None) -> int:
            return sum(alert_batch(detector, b, with_intel).num_rows for b in batches)

        plain_batches = stage(None)
        geoip = GeoIP(country, asn)
        geo_batches = stage(geoip)
        detect(plain_batches, None)  # routes, compiles: one-off costs, left out
        detect(geo_batches, intel)
        stage_plain, _ = timed(lambda: len(stage(None)), args.runs)
        stage_geo, _ = timed(lambda: len(stage(GeoIP(country, asn))), args.runs)  # a cold cache each run
        detect_plain, plain_alerts = timed(lambda: detect(plain_batches, None), args.runs)
        detect_intel, intel_alerts = timed(lambda: detect(geo_batches, intel), args.runs)
        n = len(corpus)
        per = 1e6 / n
        print(f"staging (event_row + Arrow): {stage_plain * per:.2f} us/event, with GeoIP {stage_geo * per:.2f} "
              f"(+{(stage_geo - stage_plain) * per:.2f})")
        print(f"detection (starter pack): {detect_plain * per:.2f} us/event, {plain_alerts:,} alerts; with "
              f"threat intel {detect_intel * per:.2f} (+{(detect_intel - detect_plain) * per:.2f}), {intel_alerts:,}")
        added = (stage_geo - stage_plain + detect_intel - detect_plain) * per
        print(f"GeoIP + threat intel add {added:.2f} us of CPU per event (target: at most 2)")
        addresses = [_public(r) for _ in range(100_000)]
        looked, _ = timed(lambda: sum(len(geoip.lookup(a)) for a in addresses), 1)
        ranged, _ = timed(lambda: len(intel.addresses(addresses)), 1)
        print(f"uncached: GeoIP (country + ASN) {len(addresses) / looked:,.0f} addresses/s; intel address lookups "
              f"{len(addresses) / ranged:,.0f}/s")
        print(f"load average {' '.join(Path('/proc/loadavg').read_text().split()[:3])} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
