"""GeoIP on real MaxMind DB files: small Country and ASN databases written here with mmdb-writer (the dev
extra; nothing is downloaded), read through maxminddb's C reader as production reads GeoLite2."""

from __future__ import annotations

import pickle
from pathlib import Path

import maxminddb
import pyarrow as pa
import pytest
import yaml

from bench.enrich import asn_record, country_record, write_mmdb
from enrich.geoip import GeoIP, public_address
from ingest.parsers import flow_fields, parse_syslog, zeek_fields
from layers.detect import EVENT_SCHEMA, alert_batch, event_row
from layers.matcher.engine import Detector
from rules.compiler import load_rules
from socpipe.config import load_config
from socpipe.events import FLOW, SYSLOG, WINDOWS, Event

# Public blocks with their country and AS, and non-public blocks a careless database might hold: these must
# never be looked up.
PUBLIC = {"8.8.8.0/24": ("US", "United States", 15169, "GOOGLE"),
          "1.1.1.0/24": ("AU", "Australia", 13335, "CLOUDFLARENET"),
          "14.160.0.0/11": ("VN", "Vietnam", 45899, "VNPT Corp"),
          "2001:4860::/32": ("US", "United States", 15169, "GOOGLE")}
NOT_PUBLIC = ("10.0.0.0/8", "192.168.0.0/16", "127.0.0.0/8", "203.0.113.0/24", "100.64.0.0/10", "fc00::/7",
              "2001:db8::/32", "224.0.0.0/4")


@pytest.fixture(scope="module")
def databases(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("geoip")
    country, asn = folder / "GeoLite2-Country-Test.mmdb", folder / "GeoLite2-ASN-Test.mmdb"
    write_mmdb(country, {**{b: country_record(iso, name) for b, (iso, name, _, _) in PUBLIC.items()},
                         **{b: country_record("XX", "Nowhere") for b in NOT_PUBLIC}}, "GeoLite2-Country")
    write_mmdb(asn, {**{b: asn_record(n, org) for b, (_, _, n, org) in PUBLIC.items()},
                     **{b: asn_record(64512, "PRIVATE") for b in NOT_PUBLIC}}, "GeoLite2-ASN")
    return country, asn


def test_the_databases_are_read_by_the_c_reader(databases) -> None:
    reader = maxminddb.open_database(str(databases[0]), maxminddb.MODE_MMAP_EXT)
    assert type(reader).__module__ == "maxminddb.extension"
    assert reader.metadata().database_type == "GeoLite2-Country"
    assert reader.get("10.1.2.3")["country"]["iso_code"] == "XX"  # present in the file, so skipping is ours


def test_public_addresses_get_country_and_as(databases) -> None:
    geoip = GeoIP(*databases)
    assert geoip.lookup("8.8.8.8") == {"geo.country_iso_code": "US", "geo.country_name": "United States",
                                       "as.number": "15169", "as.organization.name": "GOOGLE"}
    assert geoip.lookup("14.191.5.6")["geo.country_iso_code"] == "VN"
    assert geoip.lookup("2001:4860:4860::8888")["as.number"] == "15169"
    assert geoip.lookup("::ffff:1.1.1.1")["geo.country_name"] == "Australia"  # IPv4-mapped: as IPv4
    assert geoip.lookup("9.9.9.9") == {}  # public, not in the database
    assert geoip.lookup("not-an-address") == {}


@pytest.mark.parametrize("address", ["10.1.2.3", "192.168.1.1", "127.0.0.1", "203.0.113.7", "100.64.0.1",
                                     "fd00::1", "2001:db8::5", "224.0.0.251", "::1", "169.254.0.1"])
def test_private_loopback_documentation_and_multicast_are_skipped(databases, address) -> None:
    assert public_address(address) is None
    assert GeoIP(*databases).lookup(address) == {}


def test_halves_are_optional(databases) -> None:
    assert GeoIP(databases[0], None).lookup("8.8.8.8") == {"geo.country_iso_code": "US",
                                                          "geo.country_name": "United States"}
    assert GeoIP(None, databases[1]).lookup("8.8.8.8") == {"as.number": "15169", "as.organization.name": "GOOGLE"}


def _flow(src: str, dst: str) -> Event:
    return Event(flow_fields({"netflow_version": 9, "exporter": "10.0.0.1", "src_ip": src, "dst_ip": dst,
                              "source.ip": src, "destination.ip": dst, "src_port": 50000, "dst_port": 443,
                              "protocol": 6}), FLOW, "test")


def test_event_rows_carry_ecs_geo_fields_of_source_and_destination(databases) -> None:
    geoip = GeoIP(*databases)
    outbound = event_row(_flow("10.20.1.5", "8.8.8.8"), None, (), None, geoip=geoip)["fields"]
    assert outbound["destination.geo.country_iso_code"] == "US"
    assert outbound["destination.as.organization.name"] == "GOOGLE"
    assert not any(name.startswith("source.geo") or name.startswith("source.as") for name in outbound)
    both = event_row(_flow("1.1.1.1", "14.160.1.1"), None, (), None, geoip=geoip)["fields"]
    assert (both["source.geo.country_iso_code"], both["source.as.number"]) == ("AU", "13335")
    assert (both["destination.geo.country_name"], both["destination.as.number"]) == ("Vietnam", "45899")
    # The source of a syslog line is in its message (the event context); Sysmon names its destination itself.
    ssh = Event(parse_syslog(b"<38>Dec  7 10:00:00 web01 sshd[42]: Failed password for root from 1.1.1.1 port "
                             b"40000 ssh2"), SYSLOG, "test")
    assert event_row(ssh, None, (), 2026, geoip=geoip)["fields"]["source.geo.country_iso_code"] == "AU"
    sysmon = Event({"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": "3", "SourceIp": "10.1.1.1",
                    "DestinationIp": "2001:4860:4860::8844", "Image": "C:\\x.exe"}, WINDOWS, "test")
    assert event_row(sysmon, None, (), None, geoip=geoip)["fields"]["destination.as.number"] == "15169"
    # Zeek: id.resp_h, whose ECS alias the parser adds.
    zeek = Event(zeek_fields({"ts": 1733565600.0, "uid": "C1", "id.orig_h": "10.1.1.1", "id.orig_p": 5,
                              "id.resp_h": "8.8.8.8", "id.resp_p": 53, "proto": "udp", "query": "x.vn"}),
                 "zeek_dns", "test")
    assert event_row(zeek, None, (), None, geoip=geoip)["fields"]["destination.geo.country_iso_code"] == "US"


def test_private_traffic_and_own_values_are_left_alone(databases) -> None:
    geoip = GeoIP(*databases)
    inside = _flow("10.20.1.5", "192.168.1.9")
    row = event_row(inside, None, (), None, geoip=geoip)
    assert row["fields"] is inside.fields  # nothing to add: no copy
    tagged = Event({**_flow("10.0.0.1", "8.8.8.8").fields, "destination.geo.country_iso_code": "ZZ"}, FLOW, "t")
    fields = event_row(tagged, None, (), None, geoip=geoip)["fields"]
    assert fields["destination.geo.country_iso_code"] == "ZZ" and fields["destination.as.number"] == "15169"
    # The id is the event's own, with or without enrichment: batch and stream agree whatever is configured.
    assert event_row(tagged, None, (), None, geoip=geoip)["event_id"] == event_row(tagged, None, (), None)["event_id"]


def test_rules_read_the_geo_fields(databases, tmp_path) -> None:
    rule = tmp_path / "outbound_to_kp.yml"
    rule.write_text(yaml.safe_dump({
        "title": "Flow to an Australian network", "id": "0c2c7f55-93e4-4b2c-9d36-5a2a9b0d6c11", "status": "test",
        "logsource": {"category": "firewall"}, "level": "high",
        "detection": {"selection": {"destination.geo.country_iso_code": "AU", "destination.as.number": 13335},
                      "condition": "selection"}}))
    detector = Detector(load_rules([rule]).rules)
    events = [_flow("10.0.0.1", "1.1.1.1"), _flow("10.0.0.1", "8.8.8.8"), _flow("10.0.0.2", "1.1.1.2")]

    def alerts(geoip: GeoIP | None) -> int:
        rows = [event_row(e, None, (), None, geoip=geoip) for e in events]
        return alert_batch(detector, pa.RecordBatch.from_pylist(rows, schema=EVENT_SCHEMA)).num_rows

    assert alerts(GeoIP(*databases)) == 2
    assert alerts(None) == 0


def test_pickled_for_spark_and_configured(databases, tmp_path) -> None:
    geoip = GeoIP(*databases)
    geoip.lookup("8.8.8.8")  # opened here
    copy = pickle.loads(pickle.dumps(geoip))
    assert copy.lookup("1.1.1.1")["as.number"] == "13335"
    assert GeoIP.of(load_config(None, environ={})) is None  # the default: off
    (tmp_path / "socpipe.yaml").write_text(yaml.safe_dump({"enrich": {"geoip": {
        "country_db": str(databases[0]), "asn_db": databases[1].name}}}))
    (tmp_path / databases[1].name).write_bytes(databases[1].read_bytes())  # relative: from the config's folder
    configured = GeoIP.of(load_config(tmp_path / "socpipe.yaml", environ={}))
    assert configured.asn_db == str(tmp_path / databases[1].name)
    assert configured.lookup("8.8.8.8")["geo.country_iso_code"] == "US"
