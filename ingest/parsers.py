"""Parsers for one raw record each, shared by the file readers and the streaming path.

Every parser takes the bytes of one record and returns flat Sigma-named fields with string values,
or raises ParseError; framing records out of a file or a Kafka topic is the caller's job.
Values are left out when they carry nothing: JSON null in flat JSON, "-" in text logs. An empty value that
the record tells apart from a missing one (an empty EVTX element, "" in JSON) stays as "": Sigma's `''`
matches it and `null` does not.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping

from socpipe.events import JSON, SYSLOG, SYSTEM_PREFIX, WEBSERVER, WINDOWS


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

def flat_fields(document: object) -> dict[str, str]:
    """Fields of an already decoded flat JSON object: nested objects joined with ".", nulls left out."""
    if not isinstance(document, dict):
        raise ParseError(f"expected a JSON object, got {type(document).__name__}")
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
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ParseError(f"invalid JSON: {err}") from None


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


# ---- registry ----------------------------------------------------------------------------------------

PARSERS: dict[str, Callable[[bytes], dict[str, str]]] = {
    "syslog": parse_syslog,
    "access": parse_access,
    "evtx_json": parse_evtx_json,
    "json": parse_flat_json,
}

_KIND_OF_PARSER = {"syslog": SYSLOG, "access": WEBSERVER, "evtx_json": WINDOWS}


def kind_of(parser_name: str, fields: Mapping[str, str]) -> str:
    """The event kind for fields made by a parser; flat JSON is recognised by its field names."""
    if parser_name == "json":
        if "Channel" in fields:
            return WINDOWS
        if "c-uri" in fields or "cs-method" in fields:
            return WEBSERVER
        return JSON
    try:
        return _KIND_OF_PARSER[parser_name]
    except KeyError:
        raise ValueError(f"unknown parser {parser_name!r}; known: {', '.join(PARSERS)}") from None
