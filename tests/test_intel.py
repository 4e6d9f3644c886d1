"""Threat intelligence: indicator sets from STIX 2.1 bundles (written with the stix2 library), MISP feeds,
CSV lists and a real TAXII 2.1 server (medallion); lookups of addresses, blocks, domains, URLs and hashes;
and the "threat-intel match" alerts the detector raises from them."""

from __future__ import annotations

import functools
import json
import pickle
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
import stix2
import yaml
from taxii_server import medallion

from enrich.intel import CIDR, DOMAIN, IP, MD5, SHA1, SHA256, URL, Indicator, IntelSet, indicator, level, url_key
from enrich.intel_sources import PatternError, Refresher, load_intel, load_sources, pattern_values
from ingest.parsers import flow_fields, parse_syslog, zeek_fields
from layers.detect import EVENT_SCHEMA, alert_batch, event_row
from layers.matcher.engine import Detector
from layers.matcher.intel import INTEL_RULE_ID
from rules.compiler import load_rules
from socpipe.config import STARTER_PACK, load_config
from socpipe.events import FLOW, SYSLOG, WINDOWS, Event

SHA256_HEX = "a" * 63 + "1"
SHA1_HEX = "b" * 39 + "2"
MD5_HEX = "c" * 31 + "3"


# ---- STIX patterns -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("pattern", "expected"), [
    ("[ipv4-addr:value = '198.51.100.7']", [(IP, "198.51.100.7")]),
    ("[ipv4-addr:value = '198.51.100.0/24']", [(IP, "198.51.100.0/24")]),
    ("[ipv4-addr:value ISSUBSET '10.0.0.0/8']", [(CIDR, "10.0.0.0/8")]),
    ("[ipv6-addr:value = '2001:db8::1']", [(IP, "2001:db8::1")]),
    ("[domain-name:value = 'evil.example']", [(DOMAIN, "evil.example")]),
    ("[url:value = 'http://evil.example/it\\'s']", [(URL, "http://evil.example/it's")]),
    ("[file:hashes.'SHA-256' = 'ab'] OR [file:hashes.MD5 = 'cd' OR file:hashes.'SHA-1' = 'ef']",
     [(SHA256, "ab"), (MD5, "cd"), (SHA1, "ef")]),
])
def test_supported_patterns(pattern, expected) -> None:
    assert pattern_values(pattern) == (expected, [])


@pytest.mark.parametrize("pattern", [
    "[file:hashes.MD5 = 'cd' AND file:name = 'x.exe']",  # AND: matching one half would over-match
    "[ipv4-addr:value = '1.2.3.4'] FOLLOWEDBY [domain-name:value = 'x.example']",
    "[url:value = 'http://x.example/'] WITHIN 300 SECONDS",
    "[domain-name:value LIKE '%.example']",
    "[domain-name:value = 'x.example'",
    "[domain-name:value ISSUBSET 'x.example']",
    "",
])
def test_unsupported_patterns_raise(pattern) -> None:
    with pytest.raises(PatternError):
        pattern_values(pattern)


def test_or_keeps_the_comparisons_socpipe_matches_and_names_the_others() -> None:
    found, unsupported = pattern_values("[email-addr:value = 'a@x.example' OR domain-name:value = 'x.example']")
    assert found == [(DOMAIN, "x.example")]
    assert unsupported == ["email-addr:value is not matched by socpipe"]


# ---- lookups -----------------------------------------------------------------------------------------

def _set(*specs: tuple[str, str, int | None]) -> IntelSet:
    made = [indicator(kind, value, "test", confidence, f"id-{i}") for i, (kind, value, confidence) in enumerate(specs)]
    return IntelSet(i for i in made if i is not None)  # a value not of its type gives none


def test_addresses_match_the_most_specific_block() -> None:
    intel = _set((CIDR, "45.0.0.0/8", 20), (CIDR, "45.33.0.0/16", 50), (IP, "45.33.32.156", 95),
                 (CIDR, "45.33.64.0/24", 60), (CIDR, "2a03:2880::/32", 70), (IP, "2a03:2880::face", 90))
    found = intel.addresses(["45.33.32.156", "45.33.32.157", "45.33.64.9", "45.200.1.1", "46.0.0.1",
                             "::ffff:45.33.32.156", "2a03:2880::face", "2a03:2880:1::1", "2a03:2881::1", "x", None])
    assert [f.value if f else None for f in found] == [
        "45.33.32.156", "45.33.0.0/16", "45.33.64.0/24", "45.0.0.0/8", None, "45.33.32.156", "2a03:2880::face",
        "2a03:2880::/32", None, None, None]
    assert found[0].type == IP and found[1].type == CIDR and found[0].confidence == 95


def test_blocks_edges_and_host_bits() -> None:
    intel = _set((CIDR, "192.0.2.130/25", None), (CIDR, "0.0.0.0/31", None), (CIDR, "255.255.255.254/31", None))
    assert intel.indicators[0].value == "192.0.2.128/25"  # host bits cleared
    hits = intel.addresses(["192.0.2.127", "192.0.2.128", "192.0.2.255", "193.0.0.0", "0.0.0.1", "0.0.0.2",
                            "255.255.255.255"])
    assert [bool(h) for h in hits] == [False, True, True, False, True, False, True]


def test_domains_match_themselves_and_their_subdomains_only() -> None:
    intel = _set((DOMAIN, "Evil.Example.", 80), (DOMAIN, "cdn.good.example", 40))
    assert intel.domain("evil.example").value == "evil.example"
    assert intel.domain("a.b.EVIL.example.").value == "evil.example"
    assert intel.domain("evil.example:8443").value == "evil.example"
    assert intel.domain("notevil.example") is None
    assert intel.domain("good.example") is None and intel.domain("x.cdn.good.example").confidence == 40


def test_urls_and_hashes() -> None:
    intel = _set((URL, "HTTP://Evil.Example:80/gate.php?id=1#top", None), (URL, "https://x.example", None),
                 (SHA256, SHA256_HEX.upper(), None), (MD5, MD5_HEX, None), (SHA1, "nothex" * 5 + "0" * 10, None))
    assert url_key("http://evil.example/gate.php?id=1") == "evil.example/gate.php?id=1"
    assert intel.url("https://evil.example/gate.php?id=1") is not None  # the scheme is not part of the key
    assert intel.url("http://evil.example/gate.php?id=2") is None
    assert intel.url("https://x.example:443/").value == "x.example/"
    assert intel.hash(SHA256_HEX).type == SHA256 and intel.hash(MD5_HEX.upper()).type == MD5
    assert len(intel.hashes) == 2  # the SHA-1 that is not hex was refused


def test_duplicates_keep_the_most_confident_and_pickle() -> None:
    intel = IntelSet([indicator(IP, "198.51.100.7", "a", 30), indicator(IP, "198.51.100.7", "b", 80),
                      indicator(CIDR, "198.51.100.7/32", "c", 10)])
    assert len(intel) == 1 and intel.addresses(["198.51.100.7"])[0].source == "b"
    assert pickle.loads(pickle.dumps(intel)).addresses(["198.51.100.7"])[0].confidence == 80


@pytest.mark.parametrize(("confidence", "expected"), [
    (None, "medium"), (0, "informational"), (1, "low"), (29, "low"), (30, "medium"), (69, "medium"), (70, "high"),
    (89, "high"), (90, "critical"), (100, "critical")])
def test_levels_from_confidence(confidence, expected) -> None:
    assert level(confidence) == expected


# ---- sources -----------------------------------------------------------------------------------------

def stix_bundle(path: Path) -> dict[str, str]:
    """A bundle of indicators as a national centre or CERT shares them; returns name -> id."""
    now = datetime.now(UTC)
    made = {
        "c2": stix2.Indicator(name="C2 server", pattern="[ipv4-addr:value = '45.33.32.156']", pattern_type="stix",
                              confidence=90, valid_from=now),
        "net": stix2.Indicator(name="bulletproof host", pattern="[ipv4-addr:value ISSUBSET '185.220.100.0/22']",
                               pattern_type="stix", valid_from=now),
        "domain": stix2.Indicator(name="phishing", pattern="[domain-name:value = 'dichvucong-gov.example']",
                                  pattern_type="stix", confidence=75, valid_from=now),
        "hash": stix2.Indicator(pattern=f"[file:hashes.'SHA-256' = '{SHA256_HEX}']", pattern_type="stix",
                                confidence=20, valid_from=now),
        "and": stix2.Indicator(pattern=f"[file:hashes.MD5 = '{MD5_HEX}' AND file:name = 'x.exe']", pattern_type="stix",
                               valid_from=now),
        "expired": stix2.Indicator(pattern="[domain-name:value = 'old.example']", pattern_type="stix",
                                   valid_from=now - timedelta(days=30), valid_until=now - timedelta(days=1)),
        "snort": stix2.Indicator(pattern="alert tcp any any -> any 80", pattern_type="snort", valid_from=now),
    }
    revoked = stix2.Indicator(pattern="[domain-name:value = 'revoked.example']", pattern_type="stix",
                              valid_from=now).new_version(revoked=True)
    path.write_text(stix2.Bundle(*made.values(), revoked, stix2.Identity(name="CERT", identity_class="organization"))
                    .serialize())
    return {name: obj.id for name, obj in made.items()}


def misp_feed(folder: Path) -> None:
    """A MISP feed as MISP writes it (manifest.json, one file per event)."""
    folder.mkdir()
    events = {
        "5f0c1a2e-0000-4000-8000-000000000001": ("1", [
            ("ip-dst", "203.0.113.66", True), ("domain", "update-flash.example", True), ("url",
             "http://update-flash.example/install.exe", True), ("md5", MD5_HEX, True), ("ip-dst|port",
             "198.51.100.23|8443", True), ("email-src", "x@y.example", True), ("hostname", "context.example", False),
            ("sha1", "nothex", True)]),
        "5f0c1a2e-0000-4000-8000-000000000002": ("3", [("domain|ip", "low.example|192.0.2.99", True)]),
    }
    manifest = {}
    for uuid, (threat, attributes) in events.items():
        manifest[uuid] = {"info": "test event", "threat_level_id": threat, "timestamp": "1733500000"}
        doc = {"Event": {"uuid": uuid, "info": "test event", "threat_level_id": threat, "Attribute": [
            {"uuid": f"{uuid[:-4]}{i:04d}", "type": kind, "category": "Network activity", "value": value,
             "to_ids": to_ids, "comment": ""} for i, (kind, value, to_ids) in enumerate(attributes)],
            "Object": [{"name": "file", "Attribute": [
                {"uuid": f"{uuid[:-6]}ob0001", "type": "sha1", "value": SHA1_HEX, "to_ids": True}]}]}}
        (folder / f"{uuid}.json").write_text(json.dumps(doc))
    manifest["5f0c1a2e-0000-4000-8000-00000000dead"] = {"info": "missing"}
    (folder / "manifest.json").write_text(json.dumps(manifest))


CSV_TEXT = """# province blocklist, kept by the SOC
type,value,confidence,id,description
ip,192.0.2.200,95,blk-1,scanner seen at five agencies
cidr,198.18.0.0/15,,blk-2,
domain,.bad,,blk-3,
url,https://pastebin.example/raw/x,60,,
sha256,{sha},100,blk-5,ransomware
md5,zz,50,blk-6,
""".format(sha="d" * 64)


def test_stix_misp_and_csv_sources(tmp_path) -> None:
    ids = stix_bundle(tmp_path / "cert.json")
    misp_feed(tmp_path / "misp")
    (tmp_path / "list.csv").write_text(CSV_TEXT)
    loaded = load_sources([{"name": "cert", "format": "stix", "path": str(tmp_path / "cert.json")},
                           {"name": "misp", "format": "misp", "path": str(tmp_path / "misp"), "confidence": 40},
                           {"name": "local", "format": "csv", "path": str(tmp_path / "list.csv"), "confidence": 50}])
    intel = loaded.intel
    assert loaded.counts == {"cert": 4, "misp": 9, "local": 5}  # the object SHA-1 is in both events
    c2 = intel.addresses(["45.33.32.156"])[0]
    assert (c2.source, c2.id, c2.confidence, c2.description) == ("cert", ids["c2"], 90, "C2 server")
    assert intel.addresses(["185.220.103.255"])[0].id == ids["net"]
    assert intel.domain("www.dichvucong-gov.example").confidence == 75
    assert intel.hash(SHA256_HEX).id == ids["hash"]
    assert intel.domain("old.example") is None and intel.domain("revoked.example") is None
    skipped = "\n".join(loaded.skipped)
    assert f"cert: {ids['and']}: pattern not supported" in skipped
    assert f"cert: {ids['expired']}: expired" in skipped and f"cert: {ids['snort']}: pattern_type snort" in skipped
    # MISP: threat level 1 -> 85, 3 -> 15; composite values split; only to_ids attributes; object attributes too.
    assert intel.addresses(["203.0.113.66"])[0].confidence == 85
    assert intel.addresses(["198.51.100.23"])[0].type == IP
    assert intel.url("http://update-flash.example/install.exe").source == "misp"
    assert intel.domain("low.example").confidence == 15 and intel.addresses(["192.0.2.99"])[0].confidence == 15
    assert intel.hash(SHA1_HEX).type == SHA1 and intel.hash(MD5_HEX).type == MD5
    assert intel.domain("context.example") is None
    assert "misp: event 5f0c1a2e-0000-4000-8000-00000000dead: listed in manifest.json" in skipped
    assert "'nothex' is not a sha1" in skipped
    # CSV: the header names the columns; an empty confidence is the source's; rows without an id by line.
    assert intel.addresses(["192.0.2.200"])[0].description == "scanner seen at five agencies"
    assert intel.addresses(["198.19.255.1"])[0].confidence == 50
    assert intel.url("https://pastebin.example/raw/x").id == "line 6"
    assert "local: blk-6: 'zz' is not a md5" in skipped and "local: blk-3: '.bad' is not a domain" not in skipped
    assert any(line.startswith("threat intel: 17 indicators") for line in loaded.lines())


def test_csv_needs_its_header(tmp_path) -> None:
    (tmp_path / "bad.csv").write_text("ip,1.2.3.4\n")
    with pytest.raises(ValueError, match="header"):
        load_sources([{"name": "x", "format": "csv", "path": str(tmp_path / "bad.csv")}])


def test_configured_sources(tmp_path) -> None:
    assert load_intel(load_config(None, environ={})) is None
    (tmp_path / "list.csv").write_text(CSV_TEXT)
    (tmp_path / "socpipe.yaml").write_text(yaml.safe_dump({"enrich": {"intel": {"sources": [
        {"name": "local", "format": "csv", "path": "list.csv"}]}}}))
    loaded = load_intel(load_config(tmp_path / "socpipe.yaml", environ={}))
    assert loaded.counts == {"local": 5}


@pytest.mark.slow
def test_taxii_collection(tmp_path) -> None:
    """Indicators pushed to a real TAXII 2.1 server (medallion) are read back over several pages, the newest
    version of each."""
    from taxii2client.v21 import Collection

    now = datetime.now(UTC)
    first = [stix2.Indicator(pattern=f"[ipv4-addr:value = '198.51.100.{i}']", pattern_type="stix", confidence=60,
                             valid_from=now) for i in range(1, 151)]
    raised = first[0].new_version(confidence=95)
    with medallion(tmp_path) as server:
        collection = Collection(f"{server.api_root}collections/{server.collection}/", user=server.username,
                                password=server.password)
        collection.add_objects(stix2.Bundle(*first, stix2.Identity(name="CERT", identity_class="organization"))
                               .serialize(), wait_for_completion=True, poll_interval=0.2, timeout=30)
        collection.add_objects(stix2.Bundle(raised).serialize(), wait_for_completion=True, poll_interval=0.2,
                               timeout=30)
        loaded = load_sources([], {"url": server.api_root, "collection": server.collection,
                                   "username": server.username, "password": server.password, "name": "national"})
        assert loaded.counts == {"national": 150} and not loaded.skipped
        assert loaded.intel.addresses(["198.51.100.1"])[0].confidence == 95
        assert loaded.intel.addresses(["198.51.100.150"])[0].source == "national"
        with pytest.raises(Exception, match="401|Unauthorized"):
            load_sources([], {"url": server.api_root, "collection": server.collection, "username": "soc",
                              "password": "wrong"})


# ---- alerts ------------------------------------------------------------------------------------------

def _flow(src: str, dst: str) -> Event:
    return Event(flow_fields({"netflow_version": 9, "exporter": "10.0.0.1", "src_ip": src, "dst_ip": dst,
                              "source.ip": src, "destination.ip": dst, "src_port": 50000, "dst_port": 443,
                              "protocol": 6, "event.start": "2026-12-07T10:00:00+00:00"}), FLOW, "test")


def _zeek(log: str, **fields: object) -> Event:
    return Event(zeek_fields({"ts": 1733565600.0, "uid": "C1", "id.orig_h": "10.1.1.1", "id.orig_p": 5,
                              "id.resp_h": "10.9.9.9", "id.resp_p": 80, "_path": log, **fields}), f"zeek_{log}", "t")


@pytest.fixture(scope="module")
def intel() -> IntelSet:
    return _set((IP, "45.33.32.156", 95), (CIDR, "185.220.100.0/22", None), (DOMAIN, "evil.example", 75),
                (URL, "http://drop.example/p.exe", 60), (SHA256, SHA256_HEX, 20), (SHA1, SHA1_HEX, 0),
                (DOMAIN, "c2.evil.example", 80))


@functools.cache
def _detector() -> Detector:
    return Detector(load_rules([STARTER_PACK]).rules)


def _alerts(events: list[Event], intel: IntelSet | None) -> list[dict]:
    rows = [event_row(e, None, (), 2026) for e in events]
    detector = _detector()
    batch = pa.RecordBatch.from_pylist(rows, schema=EVENT_SCHEMA)
    return [json.loads(d) for d in alert_batch(detector, batch, intel).column("document").to_pylist()]


def test_matches_raise_alerts_naming_indicator_source_and_field(intel) -> None:
    events = [
        _flow("10.20.1.5", "45.33.32.156"),  # 0: destination address
        _flow("185.220.101.7", "10.20.1.5"),  # 1: source in a block
        _zeek("dns", query="www.evil.example", qtype_name="A"),  # 2: parent domain
        _zeek("http", host="drop.example", uri="/p.exe", method="GET", status_code=200),  # 3: host + uri
        Event({"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": "1", "Image": "C:\\t\\x.exe",
               "Hashes": f"MD5={MD5_HEX},SHA256={SHA256_HEX.upper()},IMPHASH=00"}, WINDOWS, "t"),  # 4: Sysmon
        Event(parse_syslog(b"<38>Dec  7 10:00:00 web01 sshd[1]: Accepted password for ops from 45.33.32.156 "
                           b"port 4 ssh2"), SYSLOG, "t"),  # 5: the context's address, from the message
        _zeek("dns", query="api.c2.evil.example", qtype_name="A", **{"id.resp_h": "45.33.32.156"}),  # 6: two
        _flow("10.20.1.5", "45.33.32.157"),  # no match
        _zeek("dns", query="notevil.example"),  # no match
    ]
    alerts = [a for a in _alerts(events, intel) if a["rule"]["id"] == INTEL_RULE_ID]
    by_event = {}
    for alert in alerts:
        by_event.setdefault(alert["event_meta"]["id"], []).append(alert)
    ids = [event_row(e, None, (), 2026)["event_id"] for e in events]
    assert set(by_event) == set(ids[:7])

    def one(k: int) -> dict:
        [alert] = by_event[ids[k]]
        return alert

    assert one(0)["rule"] == {"id": INTEL_RULE_ID, "title": "threat-intel match", "level": "critical",
                              "tags": ["threat-intel"]}
    assert one(0)["threat"] == {
        "indicator": {"type": "ip", "value": "45.33.32.156", "confidence": 95, "id": "id-0", "description": None,
                      "provider": "test"},
        "feed": {"name": "test"}, "matched": {"field": "destination.ip", "atomic": "45.33.32.156"}}
    assert one(0)["event"]["dst_ip"] == "45.33.32.156" and one(0)["source"]["ip"] == "10.20.1.5"
    assert one(1)["threat"]["matched"] == {"field": "source.ip", "atomic": "185.220.101.7"}
    assert (one(1)["rule"]["level"], one(1)["threat"]["indicator"]["value"]) == ("medium", "185.220.100.0/22")
    assert one(2)["threat"]["matched"] == {"field": "query", "atomic": "www.evil.example"}
    assert one(2)["rule"]["level"] == "high"
    assert one(3)["threat"]["matched"] == {"field": "c-uri", "atomic": "drop.example/p.exe"}
    assert (one(4)["threat"]["indicator"]["type"], one(4)["rule"]["level"]) == ("sha256", "low")
    assert one(4)["threat"]["matched"]["field"] == "Hashes"
    assert one(5)["threat"]["matched"] == {"field": "source.ip", "atomic": "45.33.32.156"}
    both = by_event[ids[6]]
    assert sorted(a["threat"]["indicator"]["value"] for a in both) == ["45.33.32.156", "c2.evil.example"]
    assert len({a["alert_id"] for a in alerts}) == len(alerts) == 8
    # Stable ids: the same events give the same alerts; without indicators, none.
    assert sorted(a["alert_id"] for a in alerts) == sorted(
        a["alert_id"] for a in _alerts(events, intel) if a["rule"]["id"] == INTEL_RULE_ID)
    assert not [a for a in _alerts(events, None) if a["rule"]["id"] == INTEL_RULE_ID]
    assert not [a for a in _alerts(events, IntelSet()) if a["rule"]["id"] == INTEL_RULE_ID]


def test_rule_alerts_and_intel_alerts_of_one_event(intel) -> None:
    """An auth.log failure from a listed address: the starter pack's alert and the intel alert, side by side."""
    event = Event(parse_syslog(b"<38>Dec  7 10:00:00 web01 sshd[1]: Failed password for root from 45.33.32.156 "
                               b"port 4 ssh2"), SYSLOG, "t")
    alerts = _alerts([event], intel)
    rules = [a["rule"]["id"] for a in alerts]
    assert INTEL_RULE_ID in rules and len(rules) >= 2
    assert len({a["event_meta"]["id"] for a in alerts}) == 1


def test_indicator_is_what_the_lookup_gives(intel) -> None:
    assert isinstance(intel.addresses(["45.33.32.156"])[0], Indicator)


def test_refresher_reads_again_and_keeps_the_last_set_on_failure(tmp_path, caplog) -> None:
    listing = tmp_path / "list.csv"
    listing.write_text("type,value\nip,192.0.2.1\n")
    (tmp_path / "socpipe.yaml").write_text(yaml.safe_dump({"enrich": {"intel": {"refresh_seconds": 0.2, "sources": [
        {"name": "local", "format": "csv", "path": "list.csv"}]}}}))
    refresher = Refresher(load_config(tmp_path / "socpipe.yaml", environ={}))
    assert len(refresher.loaded.intel) == 1 and refresher.version == 0
    assert not refresher.reload() and refresher.version == 0  # unchanged: nothing new to ship
    listing.write_text("type,value\nip,192.0.2.1\ndomain,new.example\n")
    assert refresher.reload() and refresher.version == 1
    assert refresher.loaded.intel.domain("x.new.example") is not None
    listing.unlink()
    assert not refresher.reload() and len(refresher.loaded.intel) == 2 and refresher.version == 1
    assert "threat intel not refreshed" in caplog.text and "list.csv" in caplog.text
    # On its schedule, in the background.
    listing.write_text("type,value\nurl,http://x.example/a\n")
    stopping = threading.Event()
    refresher.start(stopping)
    deadline = time.monotonic() + 10
    while refresher.version < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    stopping.set()
    assert refresher.version == 2 and refresher.loaded.intel.url("http://x.example/a") is not None
