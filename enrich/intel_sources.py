"""Where indicators come from: STIX 2.1 bundles, MISP feeds, CSV lists and a TAXII 2.1 collection.

The first three are files or folders, or http(s) URLs fetched with conditional requests (enrich/intel_http.py).
Each reader yields enrich/intel.py Indicators and notes what it could not use (an unsupported STIX pattern,
a value that is not of its type, a missing event file) with its id, so nothing is left out silently.

STIX patterns: the forms indicator feeds use are read, an OR of comparisons in one or more observations,
each `=` (or `ISSUBSET` for an address block) on ipv4-addr:value, ipv6-addr:value, domain-name:value,
url:value or file:hashes.(MD5|SHA-1|SHA-256). A pattern with AND, FOLLOWEDBY, a qualifier (WITHIN,
REPEATS, START/STOP) or another operator is reported and skipped: matching part of it would raise alerts the
pattern does not mean. In an OR, a comparison on another object is reported and the others are kept.
"""

from __future__ import annotations

import csv
import json
import logging
import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from enrich.intel import CIDR, DOMAIN, IP, MD5, SHA1, SHA256, TYPES, URL, Indicator, IntelSet, indicator
from enrich.intel_http import FeedSettings, Fetcher, is_url, shown

log = logging.getLogger(__name__)

STIX, MISP, CSV, TAXII = "stix", "misp", "csv", "taxii"
FORMATS = (STIX, MISP, CSV)

# STIX object path -> indicator type (hash names without quotes or dashes, upper case).
STIX_PATHS = {("ipv4-addr", "value"): IP, ("ipv6-addr", "value"): IP, ("domain-name", "value"): DOMAIN,
              ("url", "value"): URL, ("file", "hashes.MD5"): MD5, ("file", "hashes.SHA1"): SHA1,
              ("file", "hashes.SHA256"): SHA256}
# MISP attribute type -> indicator type per part of its value ("|" separates the parts of composite types).
MISP_TYPES: dict[str, tuple[str | None, ...]] = {
    "ip-dst": (IP,), "ip-src": (IP,), "domain": (DOMAIN,), "hostname": (DOMAIN,), "url": (URL,), "md5": (MD5,),
    "sha1": (SHA1,), "sha256": (SHA256,), "ip-dst|port": (IP, None), "ip-src|port": (IP, None),
    "domain|ip": (DOMAIN, IP), "hostname|port": (DOMAIN, None), "filename|md5": (None, MD5),
    "filename|sha1": (None, SHA1), "filename|sha256": (None, SHA256),
}
# A MISP event's threat_level_id (1 high, 2 medium, 3 low) as a confidence; 4 (undefined): the source's.
MISP_THREAT_CONFIDENCE = {"1": 85, "2": 50, "3": 15}
# The header of a CSV list; type and value are required, the other columns may be left out or empty.
CSV_COLUMNS = ("type", "value", "confidence", "id", "description")


class PatternError(ValueError):
    pass


@dataclass
class Loaded:
    """The indicators of every source, what was left out and why, and how many each source gave."""

    intel: IntelSet
    skipped: list[str] = field(default_factory=list)  # "source: id: reason"
    counts: dict[str, int] = field(default_factory=dict)

    def lines(self, limit: int = 20) -> list[str]:
        """What was loaded and the first `limit` indicators left out, for the log."""
        counts = ", ".join(f"{name} {n:,}" for name, n in self.counts.items())
        more = len(self.skipped) - limit
        return [f"threat intel: {len(self.intel):,} indicators ({counts}), {len(self.skipped):,} left out",
                *(f"  left out: {reason}" for reason in self.skipped[:limit]),
                *([f"  ... and {more:,} more left out"] if more > 0 else [])]


def load_intel(config: Any, fetcher: Fetcher | None = None) -> Loaded | None:
    """The indicator sources of a socpipe Config (`enrich.intel`), read now; None when none is set. A
    `fetcher` kept between calls makes the URL sources' requests conditional."""
    settings = config.get("enrich", "intel")
    http = {**settings["http"], "ca_file": config.path("enrich", "intel", "http", "ca_file")}
    sources = []
    for s in settings["sources"]:
        if s.get("url"):
            ca_file = str(config.base_dir / s["ca_file"]) if s.get("ca_file") else http["ca_file"]
            sources.append({**http, **s, "ca_file": ca_file})
        else:
            sources.append({**s, "path": str(config.base_dir / s["path"])} if s.get("path") else s)
    taxii = settings["taxii"]
    if not sources and not taxii.get("url"):
        return None
    return load_sources(sources, taxii if taxii.get("url") else None, fetcher)


def load_sources(sources: list[dict[str, Any]], taxii: dict[str, Any] | None = None,
                 fetcher: Fetcher | None = None) -> Loaded:
    """Read every source: [{name, format: stix|misp|csv, path or url, confidence}] (a url source's fetch
    settings: enrich/intel_http.FeedSettings) and a TAXII collection {url, collection, username, password,
    name, confidence}. Raises OSError (FeedError for a URL) or ValueError when a source cannot be read at all
    (a missing file, a server that does not answer or refuses)."""
    fetcher = fetcher or Fetcher()
    skipped: list[str] = []
    counts: dict[str, int] = {}
    indicators: list[Indicator] = []
    for source in sources:
        where = source.get("url") or source.get("path")
        name, kind = source.get("name") or where, source.get("format")
        if kind not in FORMATS:
            raise ValueError(f"intel source {name}: format {kind!r} is none of {', '.join(FORMATS)}")
        if not where or (source.get("url") and source.get("path")):
            raise ValueError(f"intel source {name}: give either a path or a url")
        if source.get("url") and not is_url(source["url"]):
            raise ValueError(f"intel source {name}: url {shown(source['url'])!r} is not http(s)")
        place = _Place(str(where), name, fetcher, FeedSettings.of(source, name) if source.get("url") else None)
        reader = {STIX: stix_source, MISP: misp_feed, CSV: csv_list}[kind]
        found = list(reader(place, name, source.get("confidence"), skipped))
        counts[name] = len(found)
        indicators += found
    if taxii:
        name = taxii.get("name") or TAXII
        found = list(taxii_collection(taxii, name, skipped))
        counts[name] = len(found)
        indicators += found
    return Loaded(IntelSet(indicators), skipped, counts)


class _Place:
    """Where a source's documents are: a file or folder, or a URL (a MISP feed's base URL) fetched."""

    def __init__(self, where: str, name: str, fetcher: Fetcher, http: FeedSettings | None) -> None:
        self.where, self.name, self.fetcher, self.http = where, name, fetcher, http

    @property
    def shown(self) -> str:
        return shown(self.where) if self.http else self.where

    def documents(self) -> list[bytes]:
        """The file or URL's bytes; of a folder, each *.json file's."""
        if self.http:
            return [self._get(self.where)]
        path = Path(self.where)
        return [file.read_bytes() for file in (sorted(path.glob("*.json")) if path.is_dir() else [path])]

    def member(self, name: str, version: str = "") -> bytes | None:
        """A file in the folder, or under the base URL (fetched again only when `version` changed); None
        when it is not there."""
        if self.http:
            return self._get(urljoin(self.where.rstrip("/") + "/", name), version, missing_ok=True)
        file = Path(self.where) / name
        return file.read_bytes() if file.is_file() else None

    def _get(self, url: str, version: str = "", missing_ok: bool = False) -> bytes | None:
        assert self.http is not None
        return self.fetcher.get(url, self.name, self.http, version, missing_ok)


class Refresher:
    """The indicator sets of a Config, read at start and again by a background thread every
    enrich.intel.refresh_seconds; the stream's driver ships the newest set to the next micro-batch. A read
    that fails is logged and the last set stays. URL sources are asked only whether they changed since."""

    def __init__(self, config: Any) -> None:
        self.config = config
        self.seconds = config.get("enrich", "intel", "refresh_seconds")
        self.fetcher = Fetcher()
        self.loaded = load_intel(config, self.fetcher)  # a source that cannot be read at start is an error
        self.version = 0  # counts the changes
        if self.loaded:
            log.info("\n".join(self.loaded.lines()))

    def reload(self) -> bool:
        """Read the sources again; True when the indicators changed."""
        try:
            loaded = load_intel(self.config, self.fetcher)
        except Exception as error:  # any source's failure: files, JSON, HTTP, TAXII
            log.error("threat intel not refreshed, the last indicators stay: %s: %s", type(error).__name__, error)
            return False
        if loaded is None or self.loaded is None or loaded.intel.indicators == self.loaded.intel.indicators:
            return False
        self.loaded = loaded
        self.version += 1
        log.info("threat intel refreshed: %s", "\n".join(loaded.lines()))
        return True

    def start(self, stopping: threading.Event) -> None:
        """Reload every refresh_seconds until `stopping` is set (not at all without sources or seconds)."""
        if self.loaded is None or not self.seconds:
            return

        def loop() -> None:
            while not stopping.wait(self.seconds):
                self.reload()

        threading.Thread(target=loop, name="intel-refresh", daemon=True).start()


# ---- STIX 2.1 ----------------------------------------------------------------------------------------

def stix_source(place: _Place, source: str, confidence: int | None, skipped: list[str]) -> Iterator[Indicator]:
    """A bundle file or URL, or every *.json bundle of a folder."""
    objects: list[dict[str, Any]] = []
    for document in place.documents():
        bundle = json.loads(document)
        objects += bundle.get("objects", []) if isinstance(bundle, dict) else []
    yield from stix_indicators(objects, source, confidence, skipped)


def stix_indicators(objects: Iterable[dict[str, Any]], source: str, confidence: int | None,
                    skipped: list[str]) -> Iterator[Indicator]:
    """The indicators of STIX objects: of several versions of one object the newest counts; revoked and
    expired (valid_until passed) indicators are left out."""
    newest: dict[str, dict[str, Any]] = {}
    for obj in objects:
        if isinstance(obj, dict) and obj.get("type") == "indicator" and "id" in obj:
            held = newest.get(obj["id"])
            if held is None or str(obj.get("modified", "")) > str(held.get("modified", "")):
                newest[obj["id"]] = obj
    now = datetime.now(UTC)
    for sid, obj in newest.items():
        if obj.get("revoked"):
            continue
        if obj.get("valid_until") and _stix_time(obj["valid_until"]) <= now:
            skipped.append(f"{source}: {sid}: expired (valid_until {obj['valid_until']})")
            continue
        if obj.get("pattern_type", "stix") != "stix":
            skipped.append(f"{source}: {sid}: pattern_type {obj.get('pattern_type')} is not stix")
            continue
        try:
            comparisons, unsupported = pattern_values(str(obj.get("pattern", "")))
        except PatternError as error:
            skipped.append(f"{source}: {sid}: {error}")
            continue
        skipped += [f"{source}: {sid}: {reason}" for reason in unsupported]
        level = obj.get("confidence", confidence)
        for kind, value in comparisons:
            found = indicator(kind, value, source, level, sid, obj.get("name") or obj.get("description"))
            if found is None:
                skipped.append(f"{source}: {sid}: {value!r} is not a {kind}")
            else:
                yield found


def _stix_time(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


_TOKEN = re.compile(r"""\s*(?:(?P<open>\[)|(?P<close>\])|(?P<or>OR)\b|(?P<cmp>
    (?P<object>[a-z0-9-]+):(?P<path>[A-Za-z0-9_-]+(?:\.(?:[A-Za-z0-9_-]+|'[^']*'))*)
    \s*(?P<op>=|ISSUBSET)\s*'(?P<value>(?:[^'\\]|\\.)*)'))""", re.VERBOSE)
_NEXT = {"open": ("open",), "cmp": ("cmp",), "cmp-end": ("or", "close"), "obs-end": ("or", "end")}


def pattern_values(pattern: str) -> tuple[list[tuple[str, str]], list[str]]:
    """The (indicator type, value) of each comparison of a supported pattern, and the reasons for the
    comparisons left out (on objects socpipe does not match). Raises PatternError for other forms."""
    text, position, expect = pattern.strip(), 0, "open"
    found: list[tuple[str, str]] = []
    unsupported: list[str] = []
    while position < len(text):
        match = _TOKEN.match(text, position)
        token = next((name for name in ("open", "close", "or", "cmp") if match and match.group(name)), None)
        if match is None or token not in _NEXT[expect]:
            raise PatternError(f"pattern not supported (an OR of = comparisons) at {text[position:][:40]!r}")
        position = match.end()
        if token == "cmp":
            path = ".".join(p.strip("'").replace("-", "").upper() if i else p
                            for i, p in enumerate(re.findall(r"'[^']*'|[^.]+", match["path"])))
            kind = STIX_PATHS.get((match["object"], path))
            value = re.sub(r"\\(.)", r"\1", match["value"])
            if kind is None:
                unsupported.append(f"{match['object']}:{match['path']} is not matched by socpipe")
            elif match["op"] == "ISSUBSET" and kind != IP:
                raise PatternError(f"ISSUBSET on {match['object']}:{match['path']}")
            else:
                found.append((CIDR if match["op"] == "ISSUBSET" else kind, value))
        expect = {"open": "cmp", "cmp": "cmp-end", "close": "obs-end",
                  "or": "cmp" if expect == "cmp-end" else "open"}[token]
    if expect != "obs-end":
        raise PatternError("pattern ends early")
    if not found and not unsupported:
        raise PatternError("pattern without comparisons")
    return found, unsupported


# ---- MISP feeds --------------------------------------------------------------------------------------

def misp_feed(place: _Place, source: str, confidence: int | None, skipped: list[str]) -> Iterator[Indicator]:
    """A MISP feed folder or base URL (manifest.json and one <event uuid>.json per event): the attributes
    marked for detection (to_ids) of the types in MISP_TYPES; deleted ones are left out. Over HTTP, only the
    event files whose manifest timestamp changed since they were fetched are fetched again."""
    manifest = json.loads(place.member("manifest.json") or b"null")
    if not isinstance(manifest, dict):
        raise ValueError(f"intel source {source}: no manifest.json (a JSON object) in {place.shown}")
    for uuid in sorted(manifest):
        entry = manifest[uuid]
        version = str(entry.get("timestamp") or "") if isinstance(entry, dict) else ""
        document = place.member(f"{uuid}.json", version)
        if document is None:
            skipped.append(f"{source}: event {uuid}: listed in manifest.json, no {uuid}.json")
            continue
        event = json.loads(document).get("Event", {})
        level = MISP_THREAT_CONFIDENCE.get(str(event.get("threat_level_id")), confidence)
        attributes = list(event.get("Attribute") or [])
        for obj in event.get("Object") or []:
            attributes += obj.get("Attribute") or []
        for attribute in attributes:
            if attribute.get("to_ids") not in (True, 1, "1", "true") or attribute.get("deleted") in (True, "1"):
                continue
            kinds = MISP_TYPES.get(attribute.get("type", ""))
            if kinds is None:
                continue  # an attribute of a type socpipe does not match (email, filename, mutex, ...)
            parts = str(attribute.get("value", "")).split("|")
            aid = attribute.get("uuid") or f"{uuid}/{attribute.get('id')}"
            if len(parts) != len(kinds):
                skipped.append(f"{source}: {aid}: {attribute.get('value')!r} is not a {attribute['type']}")
                continue
            for kind, value in zip(kinds, parts, strict=True):
                if kind is None:
                    continue
                found = indicator(kind, value, source, level, aid, attribute.get("comment") or event.get("info"))
                if found is None:
                    skipped.append(f"{source}: {aid}: {value!r} is not a {kind}")
                else:
                    yield found


# ---- CSV lists ---------------------------------------------------------------------------------------

def csv_list(place: _Place, source: str, confidence: int | None, skipped: list[str]) -> Iterator[Indicator]:
    """A CSV file or URL whose header names its columns among CSV_COLUMNS (type and value required); type
    is ip (an address or CIDR block), cidr, domain, url, md5, sha1 or sha256; lines starting with # are
    comments. A row without an id is named by its line number."""
    (document,) = place.documents()
    lines = document.decode("utf-8").splitlines(keepends=True)
    start = next((n for n, line in enumerate(lines) if line.strip() and not line.startswith("#")), len(lines))
    rows = csv.DictReader(lines[start:])
    missing = {"type", "value"} - set(rows.fieldnames or ())
    if missing:
        raise ValueError(f"{place.shown}: the CSV header must name {', '.join(sorted(missing))} (columns: "
                         f"{', '.join(CSV_COLUMNS)})")
    for row in rows:
        number = start + rows.line_num
        if (row.get(rows.fieldnames[0]) or "").startswith("#"):
            continue
        kind = (row.get("type") or "").strip().lower()
        rid = (row.get("id") or "").strip() or f"line {number}"
        level = confidence
        if (row.get("confidence") or "").strip():
            try:
                level = int(row["confidence"])
            except ValueError:
                skipped.append(f"{source}: {rid}: confidence {row['confidence']!r} is no number")
                continue
        found = indicator(kind, row.get("value") or "", source, level, rid,
                          (row.get("description") or "").strip() or None) if kind in TYPES else None
        if found is None:
            skipped.append(f"{source}: {rid}: {row.get('value')!r} is not a {kind or 'known type'}")
        else:
            yield found


# ---- TAXII 2.1 ---------------------------------------------------------------------------------------

def taxii_collection(settings: dict[str, Any], source: str, skipped: list[str]) -> Iterator[Indicator]:
    """The indicators of a TAXII 2.1 collection (every page)."""
    from taxii2client.v21 import Collection, as_pages

    url = f"{settings['url'].rstrip('/')}/collections/{settings['collection']}/"
    collection = Collection(url, user=settings.get("username"), password=settings.get("password"))
    objects: list[dict[str, Any]] = []
    for page in as_pages(collection.get_objects, per_request=settings.get("page_size") or 100, type="indicator"):
        objects += page.get("objects", [])
    yield from stix_indicators(objects, source, settings.get("confidence"), skipped)
