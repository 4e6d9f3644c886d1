"""Parsers for one raw record each, shared by the file readers and the streaming path.

Every parser takes the bytes of one record and returns flat Sigma-named fields with string values,
or raises ParseError; framing records out of a file or a Kafka topic is the caller's job.
Values are left out when they carry nothing: JSON null in flat JSON, "-" in text logs. An empty value that
the record tells apart from a missing one (an empty EVTX element, "" in JSON) stays as "": Sigma's `''`
matches it and `null` does not.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

import orjson

from socpipe.events import (
    FLOW,
    JSON,
    SURICATA,
    SURICATA_EVENT_TYPES,
    SYSLOG,
    SYSTEM_PREFIX,
    WEBSERVER,
    WINDOWS,
    ZEEK,
)


class ParseError(ValueError):
    """A record that cannot be parsed; the message is the reason that goes into the dead letter."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# ---- values ------------------------------------------------------------------------------------------

def _scalar_text(value: object) -> str:
    """A JSON scalar as the string detection compares against (bools as JSON spells them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _list_text(items: list[object]) -> str:
    """A list as one string: items joined by newlines, so `contains` still finds any single item."""
    return "\n".join(
        json.dumps(item, ensure_ascii=False) if isinstance(item, dict | list) else _scalar_text(item)
        for item in items
        if item is not None
    )


# ---- flat JSON ---------------------------------------------------------------------------------------

_ONLY_TEXT = {str}


def flat_fields(document: object) -> dict[str, str]:
    """Fields of an already decoded flat JSON object: nested objects joined with ".", nulls left out."""
    if not isinstance(document, dict):
        raise ParseError(f"expected a JSON object, got {type(document).__name__}")
    if set(map(type, document.values())) <= _ONLY_TEXT:
        return document.copy()  # already flat text (most log lines): the same fields, without the walk
    fields: dict[str, str] = {}
    _flatten(fields, "", document)
    return fields


def _flatten(fields: dict[str, str], prefix: str, document: dict[str, object]) -> None:
    for key, value in document.items():
        name = f"{prefix}{key}" if prefix else key
        if type(value) is str:  # most values: checked first
            fields[name] = value
        elif isinstance(value, dict):
            _flatten(fields, f"{name}.", value)
        elif isinstance(value, list):
            fields[name] = _list_text(value)
        elif value is not None:
            fields[name] = _scalar_text(value)


def _load_json(raw: bytes) -> object:
    try:
        return orjson.loads(raw)  # the same value as json's, several times faster; what it refuses goes below
    except orjson.JSONDecodeError:
        pass
    try:
        document = json.loads(raw)  # also UTF-16/32, NaN, huge integers
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ParseError(f"invalid JSON: {err}") from None
    check_text(document)
    return document


def check_text(document: object) -> None:
    """ParseError when a string of a decoded JSON document is not Unicode text: a \\u escape can spell an
    unpaired surrogate, which UTF-8 (the lake, the search store, Kafka) cannot hold, so the record is a dead
    letter rather than a crash further down."""
    try:
        json.dumps(document, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as err:
        raise ParseError(f"invalid JSON: unpaired surrogate U+{ord(err.object[err.start]):04X} in a string") from None


def parse_flat_json(raw: bytes) -> dict[str, str]:
    """One JSON object whose keys already are Sigma field names (e.g. {"EventID": 1, "Image": ...})."""
    return flat_fields(_load_json(raw))


# ---- Windows events (EVTX JSON shape) ----------------------------------------------------------------

# System values that become fields: output name -> path under Event/System. Provider_Name is what
# Sigma rules use; the other extras follow the same Element_Attribute naming and are kept few.
_SYSTEM_FIELDS: dict[str, tuple[str, ...]] = {
    "EventID": ("EventID",),
    "Version": ("Version",),
    "Level": ("Level",),
    "Task": ("Task",),
    "Opcode": ("Opcode",),
    "Keywords": ("Keywords",),
    "EventRecordID": ("EventRecordID",),
    "Channel": ("Channel",),
    "Computer": ("Computer",),
    "Provider_Name": ("Provider", "#attributes", "Name"),
    "TimeCreated": ("TimeCreated", "#attributes", "SystemTime"),
    "Execution_ProcessID": ("Execution", "#attributes", "ProcessID"),
    "Execution_ThreadID": ("Execution", "#attributes", "ThreadID"),
    "Security_UserID": ("Security", "#attributes", "UserID"),
}
SYSTEM_FIELD_NAMES = tuple(_SYSTEM_FIELDS)
_ABSENT = object()  # a System path that leads nowhere, told apart from an element present and empty


def windows_fields(document: object) -> dict[str, str]:
    """Fields of an already decoded {"Event": {"System": ..., "EventData"|"UserData": ...}} document.

    EventData entries and the entries inside UserData's one provider-defined wrapper element become
    fields by their names. Data items without a Name are joined with newlines into one "Data" field,
    the way Sigma rules for classic logs (e.g. PowerShell 400/800) match on Data.

    An element that is present but empty (`<Data Name="StartModule"/>`, JSON null or "" in the export)
    is the empty string, not a missing field: Sigma's `''` matches only the first, `null` only the second.

    A name in both System and the event's own data (event 104's UserData Channel, the log that was
    cleared, beside System's Channel, the log that holds event 104): the plain name is the event's own
    value, as SigmaHQ's authors read it, and the System value is kept as "System.<name>"
    (socpipe.events.SYSTEM_PREFIX). Log-source routing reads "System.<name>" first (system_value).
    """
    event = document.get("Event") if isinstance(document, dict) else None
    if not isinstance(event, dict) or not isinstance(event.get("System"), dict):
        raise ParseError("not a Windows event: no Event/System object")
    fields: dict[str, str] = {}
    unnamed: list[str] = []
    has_unnamed = _put_section(fields, unnamed, event.get("EventData"))
    user_data = event.get("UserData")
    if isinstance(user_data, dict):
        for key, wrapper in user_data.items():
            if key != "#attributes":
                has_unnamed = _put_section(fields, unnamed, wrapper) or has_unnamed
    if unnamed or (has_unnamed and "Data" not in fields):
        fields["Data"] = "\n".join(unnamed)
    system = event["System"]
    for name, path in _SYSTEM_FIELDS.items():
        value: object = system
        for step in path:
            value = value.get(step, _ABSENT) if isinstance(value, dict) else _ABSENT
        if value is _ABSENT:
            continue
        if name in fields:
            name = SYSTEM_PREFIX + name
        _put_xml(fields, name, value)
    return fields


def _put_section(fields: dict[str, str], unnamed: list[str], section: object) -> bool:
    """EventData or a UserData wrapper; whether it held unnamed data. Its own #attributes (xmlns,
    Name="TaskDisabled") are not data."""
    if not isinstance(section, dict):
        texts = _xml_texts(section)
        unnamed.extend(texts)
        return bool(texts)
    has_unnamed = False
    for key, value in section.items():
        if key == "Data":
            for item in value if isinstance(value, list) else [value]:
                attributes = item.get("#attributes") if isinstance(item, dict) else None
                name = attributes.get("Name") if isinstance(attributes, dict) else None
                if name:
                    _put_xml(fields, _field_name(str(name)), item)
                else:
                    unnamed.extend(_xml_texts(item))
                    has_unnamed = True
        elif key != "#attributes":
            _put_xml(fields, _field_name(key), value)
    return has_unnamed


def _field_name(name: str) -> str:
    """Sigma rules name event data without spaces: Defender's "Threat Name" is ThreatName."""
    return name.replace(" ", "")


def _put_xml(fields: dict[str, str], name: str, value: object) -> None:
    """One element that is present: its #text if it has one, else its child elements as "name.child"
    fields, else (no text, no children) the empty string."""
    if isinstance(value, dict) and "#text" not in value:
        children = [(key, child) for key, child in value.items() if key != "#attributes"]
        for key, child in children:
            _put_xml(fields, f"{name}.{key}", child)
        if children:
            return
    fields[name] = "\n".join(_xml_texts(value))


def _xml_texts(value: object) -> list[str]:
    """The non-empty texts of an element value: scalar, {"#text": ...} or a list of those."""
    if isinstance(value, dict):
        value = value.get("#text")
    items = value if isinstance(value, list) else [value]
    texts = (_list_text(item) if isinstance(item, list) else _scalar_text(item) for item in items
             if item is not None and not isinstance(item, dict))
    return [text for text in texts if text]


def parse_evtx_json(raw: bytes) -> dict[str, str]:
    """One Windows event in the EVTX JSON shape (evtx_dump output, SigmaHQ regression .json files)."""
    return windows_fields(_load_json(raw))


# ---- syslog ------------------------------------------------------------------------------------------

_SD_ELEMENT = r'\[[^\]"]*(?:"(?:[^"\\]|\\.)*"[^\]"]*)*\]'
_RFC5424 = re.compile(
    r"<(?P<pri>\d{1,3})>\d{1,2} (?P<timestamp>\S+) (?P<host>\S+) (?P<program>\S+) (?P<pid>\S+) (?P<msgid>\S+) "
    rf"(?P<structured_data>-|(?:{_SD_ELEMENT})+)(?: (?P<message>.*))?",
    re.DOTALL,
)
# RFC 3164 as sent (with <PRI>) and as written to /var/log (without). The timestamp is the BSD one or,
# as rsyslog writes by default on current distributions, RFC 3339. Hostname and tag are optional.
_RFC3164 = re.compile(
    r"(?:<(?P<pri>\d{1,3})>)?"
    r"(?P<timestamp>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d"
    r"|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)) "
    r"(?:(?P<host>[^\s:\[\]]+) )?"
    r"(?:(?P<program>[^\s:\[\]]+)(?:\[(?P<pid>[^\]\s]+)\])?:(?: |$))?"
    r"(?P<message>.*)",
    re.DOTALL,
)


def _text_line(raw: bytes) -> str:
    """Text logs have no declared encoding: undecodable bytes stay visible as \\xNN escapes."""
    return raw.rstrip(b"\r\n").decode("utf-8", errors="backslashreplace")


def parse_syslog(raw: bytes) -> dict[str, str]:
    """One RFC 5424 or RFC 3164 syslog line (with or without <PRI>)."""
    line = _text_line(raw)
    match = _RFC5424.fullmatch(line) or _RFC3164.fullmatch(line)
    if not match:
        raise ParseError("not a syslog line (RFC 3164 or RFC 5424)")
    fields = {key: value for key, value in match.groupdict().items() if value and value != "-"}
    fields.pop("pri", None)
    if match["pri"] is not None:
        pri = int(match["pri"])
        if pri > 191:
            raise ParseError(f"syslog PRI {pri} is out of range (0-191)")
        fields["facility"], fields["severity"] = str(pri // 8), str(pri % 8)
    message = fields.get("message", "").removeprefix("\ufeff")  # RFC 5424 marks UTF-8 text with a BOM
    if message:
        fields["message"] = message
    else:
        fields.pop("message", None)
    return fields


# ---- web access logs ---------------------------------------------------------------------------------

_QUOTED = r'(?:[^"\\]|\\.)*'
_ACCESS = re.compile(
    rf'(?P<ip>\S+) \S+ (?P<user>\S+) \[(?P<date>[^\]]+)\] "(?P<request>{_QUOTED})" (?P<status>\d{{3}}) '
    rf'(?P<bytes>\d+|-)(?: "(?P<referer>{_QUOTED})" "(?P<agent>{_QUOTED})")?(?: .*)?',
    re.DOTALL,
)
_REQUEST = re.compile(r"(?P<method>[A-Za-z]+) (?P<uri>.+) (?P<version>HTTP/\d+(?:\.\d+)?)", re.DOTALL)


def parse_access(raw: bytes) -> dict[str, str]:
    """One Apache/Nginx access log line, combined or common format, with Sigma webserver field names.

    A request that is not "METHOD URI VERSION" (scanner garbage) still gives an event: the raw request
    goes to c-uri and method and version are left out. Values are kept as logged (escapes included).
    """
    match = _ACCESS.fullmatch(_text_line(raw))
    if not match:
        raise ParseError("not an access log line (Apache/Nginx common or combined format)")
    fields = {
        "c-ip": match["ip"],
        "cs-username": match["user"],
        "date": match["date"],
        "sc-status": match["status"],
        "sc-bytes": match["bytes"],
        "cs-referer": match["referer"],
        "cs-user-agent": match["agent"],
        "c-useragent": match["agent"],
    }
    request = _REQUEST.fullmatch(match["request"])
    if request:
        stem, _, query = request["uri"].partition("?")
        fields |= {
            "cs-method": request["method"],
            "c-uri": request["uri"],
            "cs-uri-stem": stem,
            "cs-uri-query": query,
            "cs-version": request["version"],
        }
    else:
        fields["c-uri"] = match["request"]
    return {key: value for key, value in fields.items() if value and value != "-"}


# ---- network: flow records, Suricata EVE, Zeek -------------------------------------------------------
#
# Native field names are kept (Zeek's id.orig_h, query, uri; Suricata's dest_ip, dns.rrname, http.url), so
# rules written for the sensor work. Two small sets are added where the record has the value and lacks the
# name: ECS context (source.ip, destination.port, network.transport, network.bytes, ...) for search and
# dashboards, and the generic names SigmaHQ's firewall, dns and proxy rules use (src_ip, dst_port, query,
# answer, record_type, c-uri, cs-host, c-useragent, ...), the mapping of pySigma's zeek pipelines read in
# reverse. network.bytes keeps each source's own convention: IP bytes for Zeek (orig_ip_bytes + resp_ip_bytes),
# whole frames for Suricata (bytes_toserver + bytes_toclient), the exporter's count for flows.

def parse_flow(raw: bytes) -> dict[str, str]:
    """One flow record as `socpipe collect netflow` sends it (ingest/netflow.py's fields, JSON)."""
    return flow_fields(_load_json(raw))


def flow_fields(document: object) -> dict[str, str]:
    fields = flat_fields(document)
    if "src_ip" not in fields and "dst_ip" not in fields:
        raise ParseError("not a flow record: no src_ip or dst_ip")
    return fields


def parse_eve(raw: bytes) -> dict[str, str]:
    """One Suricata EVE JSON record (any event_type)."""
    return eve_fields(_load_json(raw))


def eve_fields(document: object) -> dict[str, str]:
    fields = flat_fields(document)
    if "event_type" not in fields:
        raise ParseError("not a Suricata EVE record: no event_type")
    _network(fields, {"source.ip": "src_ip", "source.port": "src_port", "destination.ip": "dest_ip",
                      "destination.port": "dest_port", "dst_ip": "dest_ip", "dst_port": "dest_port",
                      "host.name": "host"},
             ("flow.bytes_toserver", "flow.bytes_toclient"), ("flow.pkts_toserver", "flow.pkts_toclient"))
    dns = document.get("dns") if isinstance(document, dict) else None
    if isinstance(dns, dict):
        query = dns
        if isinstance(dns.get("queries"), list) and dns["queries"] and isinstance(dns["queries"][0], dict):
            query = dns["queries"][0]  # EVE v3 (Suricata 8): the question in a list
        for name, key in (("query", "rrname"), ("record_type", "rrtype")):
            if name not in fields and isinstance(query.get(key), str):
                fields[name] = query[key]
        answers = dns.get("answers")
        if "answer" not in fields and isinstance(answers, list):
            data = [str(a["rdata"]) for a in answers if isinstance(a, dict) and a.get("rdata") is not None]
            if data:
                fields["answer"] = "\n".join(data)
    _proxy_aliases(fields, {"c-uri": "http.url", "cs-host": "http.hostname", "c-useragent": "http.http_user_agent",
                            "cs-method": "http.http_method", "sc-status": "http.status",
                            "cs-referrer": "http.http_refer", "cs-version": "http.protocol"})
    return fields


def parse_zeek(raw: bytes) -> dict[str, str]:
    """One record of a Zeek JSON log (conn, dns, http, ssl, files, notice, ...)."""
    return zeek_fields(_load_json(raw))


def zeek_fields(document: object) -> dict[str, str]:
    fields = flat_fields(document)  # {"id": {"orig_h": ...}} and {"id.orig_h": ...} give the same names
    if "ts" not in fields:
        raise ParseError("not a Zeek log record: no ts")
    ts = fields["ts"]
    try:
        fields.setdefault("@timestamp", datetime.fromtimestamp(float(ts), UTC).isoformat(timespec="microseconds"))
    except (ValueError, OverflowError, OSError):
        fields.setdefault("@timestamp", ts)  # Zeek's ISO 8601 timestamps (JSON::TS_ISO8601)
    _network(fields, {"source.ip": "id.orig_h", "source.port": "id.orig_p", "destination.ip": "id.resp_h",
                      "destination.port": "id.resp_p", "src_ip": "id.orig_h", "src_port": "id.orig_p",
                      "dst_ip": "id.resp_h", "dst_port": "id.resp_p", "answer": "answers", "record_type": "qtype_name"},
             ("orig_ip_bytes", "resp_ip_bytes"), ("orig_pkts", "resp_pkts"))
    _proxy_aliases(fields, {"c-uri": "uri", "cs-host": "host", "c-useragent": "user_agent", "cs-method": "method",
                            "sc-status": "status_code", "cs-referrer": "referrer", "cs-version": "version"})
    return fields


def _network(fields: dict[str, str], aliases: dict[str, str], byte_parts: tuple[str, ...],
             packet_parts: tuple[str, ...]) -> None:
    """A sensor record's ECS and generic names: its aliases, the transport from `proto`, and the bytes and
    packets of both directions summed from the sensor's own counters."""
    _alias(fields, {**aliases, "network.community_id": "community_id"})
    if "proto" in fields:
        fields.setdefault("network.transport", fields["proto"].lower())
    _sum(fields, "network.bytes", *byte_parts)
    _sum(fields, "network.packets", *packet_parts)


def _alias(fields: dict[str, str], aliases: dict[str, str]) -> None:
    """New name <- native name, only where the record has the native value and not the new name."""
    for alias, native in aliases.items():
        if native in fields and alias not in fields:
            fields[alias] = fields[native]


def _sum(fields: dict[str, str], name: str, *parts: str) -> None:
    if name not in fields and all(p in fields for p in parts):
        with contextlib.suppress(ValueError):
            fields[name] = str(sum(int(fields[p]) for p in parts))


def _proxy_aliases(fields: dict[str, str], aliases: dict[str, str]) -> None:
    """The proxy names (category proxy) of an HTTP request, when the record is one (it has a URI)."""
    uri_name = aliases["c-uri"]
    if uri_name not in fields:
        return
    _alias(fields, {**aliases, "cs-uri": uri_name, "r-dns": aliases["cs-host"]})
    stem, _, query = fields[uri_name].partition("?")
    fields.setdefault("c-uri-stem", stem)
    if query:
        fields.setdefault("c-uri-query", query)
    leaf = stem.rsplit("/", 1)[-1]
    if "." in leaf:
        fields.setdefault("c-uri-extension", leaf.rsplit(".", 1)[-1])


# Zeek logs told apart by fields only their records carry, for logs without a _path field (Zeek's JSON
# writer leaves it out; json-streaming-logs and most shippers add it). The first log with any marker wins.
_ZEEK_MARKERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("notice", ("note",)),
    ("x509", ("certificate.serial", "certificate.subject")),
    ("files", ("fuid",)),
    ("ssl", ("established", "server_name", "ja3")),
    ("http", ("status_code", "method")),
    ("dns", ("qtype_name", "query", "rcode_name")),
    ("dce_rpc", ("operation", "endpoint")),
    ("kerberos", ("request_type",)),
    ("rdp", ("cookie", "security_protocol")),
    ("conn", ("conn_state", "history")),
)


def zeek_log(fields: Mapping[str, str]) -> str | None:
    """The Zeek log a record comes from: its _path, else recognised by its fields."""
    if path := fields.get("_path"):
        return path
    if fields.get("action", "").startswith("SMB::FILE"):
        return "smb_files"
    return next((log for log, markers in _ZEEK_MARKERS if any(m in fields for m in markers)), None)


def json_parser(document: object) -> str:
    """The parser of a JSON file, decided by its first document: Windows (nested Event), Suricata EVE, Zeek,
    socpipe's flow records, or flat Sigma-named JSON."""
    if not isinstance(document, dict):
        return "json"
    if isinstance(document.get("Event"), dict):
        return "evtx_json"
    if "event_type" in document and "timestamp" in document:
        return "eve"
    if "ts" in document and ({"uid", "fuid", "_path", "id.orig_h", "note"} & document.keys()
                             or isinstance(document.get("id"), dict)):
        return "zeek"
    if "netflow_version" in document and "exporter" in document:
        return "flow"
    return "json"


# ---- registry ----------------------------------------------------------------------------------------

PARSERS: dict[str, Callable[[bytes], dict[str, str]]] = {
    "syslog": parse_syslog,
    "access": parse_access,
    "evtx_json": parse_evtx_json,
    "json": parse_flat_json,
    "flow": parse_flow,
    "eve": parse_eve,
    "zeek": parse_zeek,
}

_KIND_OF_PARSER = {"syslog": SYSLOG, "access": WEBSERVER, "evtx_json": WINDOWS, "flow": FLOW}


def kind_of(parser_name: str, fields: Mapping[str, str]) -> str:
    """The event kind for fields made by a parser; flat JSON is recognised by its field names, Suricata by its
    event_type, Zeek by its log."""
    if parser_name == "json":
        if "Channel" in fields:
            return WINDOWS
        if "c-uri" in fields or "cs-method" in fields:
            return WEBSERVER
        return JSON
    if parser_name == "eve":
        event_type = fields.get("event_type", "")
        return f"{SURICATA}_{event_type}" if event_type in SURICATA_EVENT_TYPES else SURICATA
    if parser_name == "zeek":
        log = zeek_log(fields)
        return f"{ZEEK}_{log}" if log else ZEEK
    try:
        return _KIND_OF_PARSER[parser_name]
    except KeyError:
        raise ValueError(f"unknown parser {parser_name!r}; known: {', '.join(PARSERS)}") from None
