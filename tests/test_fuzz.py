"""Property-based fuzzing (hypothesis) of every reader, framer and decoder on the collector and stream
paths: syslog (RFC 3164/5424) and access-log lines, EVTX JSON and flat JSON documents, line and JSON
framing, the syslog TCP framer, EVTX files, the collector spool's record format and the Kafka envelope,
NetFlow/IPFIX datagrams and Zeek TSV lines.

Properties: arbitrary bytes never raise anything but the reader's own ParseError; every record comes
out either parsed or as a dead letter holding its exact bytes; framing loses and adds nothing (the frames'
bytes with their delimiters give back the input, whatever the read sizes), and the envelope and spool
encodings give back what was put in.

Budget: SOCPIPE_FUZZ_EXAMPLES examples per property (default 150, the CI run). A longer run:
    SOCPIPE_FUZZ_EXAMPLES=20000 .venv/bin/python -m pytest tests/test_fuzz.py
"""

from __future__ import annotations

import io
import json
import os
import re
import struct
from pathlib import Path

from conftest import SIGMAHQ
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.evtxfile import frame_evtx
from ingest.files import frame_json, frame_lines
from ingest.frame import Frame, parse_frame
from ingest.netflow import FlowDecoder
from ingest.parsers import PARSERS, ParseError
from ingest.spool import Message, _pack, _unpack
from ingest.syslog import MAX_MESSAGE, FramingError, StreamFramer
from ingest.zeektsv import frame_zeek_tsv
from layers.stream import parse_envelope
from socpipe.envelope import PARSER_OF_SOURCE, Envelope
from socpipe.events import DeadLetter, Event

BUDGET = settings(max_examples=int(os.environ.get("SOCPIPE_FUZZ_EXAMPLES", "150")), deadline=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SOURCES = sorted(PARSER_OF_SOURCE)
text = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)

# Inputs shaped like the real thing, so the fuzzer reaches past the first check of each parser.
MONTHS = st.sampled_from(["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"])
word = st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=12)
rfc3164 = st.builds(lambda pri, mon, day, clock, host, tag, msg: (
    f"{pri}{mon} {day:2d} {clock} {host} {tag}: {msg}".encode()),
    st.sampled_from(["", "<13>", "<191>", "<192>", "<0>"]), MONTHS, st.integers(0, 32),
    st.sampled_from(["00:00:00", "23:59:59", "25:61:61", "1:2:3"]), word, word, text)
rfc5424 = st.builds(lambda pri, ts, host, app, msg: f"<{pri}>1 {ts} {host} {app} - - - {msg}".encode(),
                    st.integers(0, 300), st.sampled_from(["2026-11-30T01:02:03Z", "2026-11-30T01:02:03.5+07:00",
                                                          "-", "garbage"]), word, word, text)
access = st.builds(lambda ip, user, req, status, size: (
    f'{ip} - {user} [30/Nov/2026:01:02:03 +0700] "{req}" {status} {size} "-" "curl/8"').encode(),
    st.sampled_from(["203.0.113.7", "::1", "x"]), word, text, st.integers(0, 1000), st.sampled_from(["-", "12", "x"]))
json_docs = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | text,
                         lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
                         max_leaves=12).map(lambda v: json.dumps(v).encode())
evtx_json = st.builds(lambda sys, data: json.dumps(
    {"Event": {"System": sys, "EventData": data}}).encode(),
    st.dictionaries(st.sampled_from(["EventID", "Channel", "Computer", "TimeCreated"]),
                    st.integers() | text | st.dictionaries(text, text, max_size=2), max_size=4),
    st.dictionaries(text, text | st.none() | st.lists(text, max_size=2), max_size=4) | text)
records = st.binary(max_size=300) | rfc3164 | rfc5424 | access | json_docs | evtx_json


def _only_parse_errors(parser: str, raw: bytes) -> None:
    try:
        fields = PARSERS[parser](raw)
    except ParseError as err:
        assert err.reason if hasattr(err, "reason") else str(err)
        return
    assert isinstance(fields, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in fields.items())


@BUDGET
@given(parser=st.sampled_from(sorted(PARSERS)), raw=records)
def test_parsers_give_fields_or_their_own_error(parser, raw):
    _only_parse_errors(parser, raw)
    record = parse_frame("fuzz", Frame(parser, "line 1", raw))
    assert isinstance(record, Event | DeadLetter)
    if isinstance(record, DeadLetter):
        assert record.raw == raw and record.reason and record.position == "line 1"


@BUDGET
@given(source=st.sampled_from([*SOURCES, "unknown"]), raw=records, key=st.binary(max_size=20),
       headers=st.lists(st.tuples(st.sampled_from(["received_at", "collector", "origin", "position", "agency", "x"]),
                                  st.none() | st.binary(max_size=20)), max_size=6))
def test_consumed_messages_become_events_or_dead_letters_with_their_bytes(source, raw, key, headers):
    envelope = Envelope.from_message(f"raw.{source}", key, raw, headers)
    assert envelope.raw == raw
    record = parse_envelope(envelope)
    assert isinstance(record, Event | DeadLetter)
    if isinstance(record, DeadLetter):
        assert record.raw == raw


@BUDGET
@given(raw=st.binary(max_size=200), source=st.sampled_from(SOURCES), collector=text, origin=text, position=text,
       received=text, record_id=text, agency=st.none() | text.filter(bool))
def test_envelope_round_trips_through_kafka_headers(raw, source, collector, origin, position, received, record_id,
                                                    agency):
    sent = Envelope(raw, source, collector, origin, position, received, record_id, agency)
    got = Envelope.from_message(sent.topic, record_id.encode(), raw, sent.headers())
    assert got == sent


@BUDGET
@given(topic=text, key=st.binary(max_size=50), value=st.binary(max_size=300),
       headers=st.lists(st.tuples(text, st.binary(max_size=30)), max_size=5), count=st.integers(1, 4))
def test_spool_records_round_trip(topic, key, value, headers, count):
    messages = [Message(topic, key + bytes([n]), value[n:], tuple(headers[n:])) for n in range(count)]
    assert _unpack(_pack(messages)) == messages


@BUDGET
@given(lines=st.lists(records.map(lambda r: r.replace(b"\n", b" ")), max_size=12), crlf=st.booleans(),
       parser=st.sampled_from(sorted(PARSERS)))
def test_line_framing_gives_back_every_line(lines, crlf, parser):
    end = b"\r\n" if crlf else b"\n"
    frames = list(frame_lines(io.BytesIO(end.join(lines) + end), parser))
    kept = [(n, line.rstrip(b"\r")) for n, line in enumerate(lines, 1) if line.rstrip(b"\r").strip()]
    assert [(f.position, f.raw) for f in frames] == [(f"line {n}", line) for n, line in kept]


_SPACE = re.compile(rb"[ \t\r\n]*")


@BUDGET
@given(parts=st.lists(json_docs | evtx_json | st.binary(max_size=60), max_size=8),
       separators=st.lists(st.sampled_from([b"\n", b" \n", b"\r\n", b"\n\n", b""]), min_size=8, max_size=8))
def test_json_framing_covers_every_byte_in_order(parts, separators):
    data = b"".join(p + s for p, s in zip(parts, separators, strict=False))
    items = list(frame_json("fuzz", io.BytesIO(data).readlines()))
    cursor = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    for item in items:
        assert isinstance(item, Frame | DeadLetter)
        if isinstance(item, Frame):
            record = parse_frame("fuzz", item)
            assert isinstance(record, Event | DeadLetter)
        found = data.find(item.raw, cursor)
        gap = data[cursor:found]
        assert found >= 0 and _SPACE.fullmatch(gap), (data, item.raw, cursor)
        cursor = found + len(item.raw)
    assert _SPACE.fullmatch(data[cursor:]), "bytes after the last record were dropped"


def _newline_framable(message: bytes) -> bytes:
    """What a sender can put in a newline-framed message: no LF, no CR at either end, and not starting
    like an octet count."""
    message = message.replace(b"\n", b"_").strip(b"\r") or b"x"
    return b"x" + message if re.match(rb"[1-9]", message) else message


def _tcp_stream(messages: list[bytes], counted: list[bool]) -> bytes:
    return b"".join(str(len(m)).encode() + b" " + m if c else m + b"\n" for m, c in zip(messages, counted, strict=True))


@BUDGET
@given(data=st.data(), messages=st.lists(st.binary(min_size=1, max_size=80), min_size=1, max_size=8))
def test_syslog_tcp_framer_gives_back_the_messages_whatever_the_reads(data, messages):
    counted = data.draw(st.lists(st.booleans(), min_size=len(messages), max_size=len(messages)))
    messages = [m if c else _newline_framable(m) for m, c in zip(messages, counted, strict=True)]
    stream = _tcp_stream(messages, counted)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=6)))
    framer, out = StreamFramer(), []
    for start, stop in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        out += list(framer.feed(stream[start:stop]))
    out += list(framer.end())
    assert out == messages


@BUDGET
@given(data=st.data(), stream=st.binary(max_size=400))
def test_syslog_tcp_framer_on_arbitrary_bytes_loses_nothing(data, stream):
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=5)))
    framer, out = StreamFramer(max_message=64), []
    for start, stop in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        out += list(framer.feed(stream[start:stop]))
    out += list(framer.end())
    payload = b"".join(item.raw if isinstance(item, FramingError) else item for item in out)
    # Only framing bytes (CR/LF, octet counts and their space) are not in some message or error.
    assert len(payload) <= len(stream)
    remaining = stream
    for item in out:
        piece = item.raw if isinstance(item, FramingError) else item
        at = remaining.find(piece)
        assert at >= 0, (stream, piece)
        assert re.fullmatch(rb"[\r\n]*(?:[1-9][0-9]{0,8} )?[\r\n]*", remaining[:at]), remaining[:at]
        remaining = remaining[at + len(piece):]
    assert not remaining.strip(b"\r\n")
    assert MAX_MESSAGE > 64


_EVTX = sorted((SIGMAHQ / "regression_data" / "rules" / "windows").rglob("*.evtx"), key=lambda p: p.stat().st_size)
SAMPLE = _EVTX[0].read_bytes() if _EVTX else b""


@BUDGET
@given(flips=st.lists(st.tuples(st.integers(0, max(len(SAMPLE) - 1, 0)), st.integers(0, 255)), max_size=30),
       cut=st.none() | st.integers(0, max(len(SAMPLE) - 1, 0)))
def test_damaged_evtx_files_give_records_or_dead_letters(flips, cut):
    data = bytearray(SAMPLE)
    for offset, value in flips:
        data[offset] = value
    blob = bytes(data[:cut] if cut is not None else data)
    for item in frame_evtx("fuzz.evtx", lambda: io.BytesIO(blob)):
        assert isinstance(item, Frame | DeadLetter)
        if isinstance(item, Frame):
            assert isinstance(parse_frame("fuzz.evtx", item), Event | DeadLetter)
        else:
            assert item.reason and (not item.raw or item.raw in blob)


def test_the_evtx_sample_exists():
    assert SAMPLE.startswith(b"ElfFile\x00"), Path(_EVTX[0]) if _EVTX else "no .evtx in the SigmaHQ snapshot"


# ---- NetFlow / IPFIX and Zeek TSV -------------------------------------------------------------------------

def _v9_datagram(records: int) -> bytes:
    """A v9 datagram holding a template (src/dst address, ports, protocol, bytes, packets) and its data."""
    fields = [(8, 4), (12, 4), (7, 2), (11, 2), (4, 1), (1, 4), (2, 4)]
    template = struct.pack("!HH", 256, len(fields)) + b"".join(struct.pack("!HH", *f) for f in fields)
    template_set = struct.pack("!HH", 0, 4 + len(template)) + template
    data = b"".join(struct.pack("!4s4sHHBII", bytes([10, 0, 0, n % 250]), b"\xc0\x00\x02\x01", 40000 + n, 443, 6,
                                100 * n, n) for n in range(records))
    data_set = struct.pack("!HH", 256, 4 + len(data)) + data
    return struct.pack("!HHIIII", 9, 2, 1000, 1_773_453_600, 1, 0) + template_set + data_set


V9 = _v9_datagram(5)


@BUDGET
@given(datagrams=st.lists(st.binary(max_size=300) | st.builds(
    lambda cut, flips: bytes(flips.get(i, b) for i, b in enumerate(V9[:cut])),
    st.integers(0, len(V9)), st.dictionaries(st.integers(0, len(V9) - 1), st.integers(0, 255), max_size=6)),
    max_size=8))
def test_netflow_decoder_gives_flows_or_dead_letters_holding_their_bytes(datagrams):
    """Hostile, truncated and bit-flipped datagrams: no exception, memory bounded, a refused datagram's dead
    letter holds its exact bytes, and the decoder keeps decoding good datagrams afterwards."""
    decoder = FlowDecoder(park_seconds=5, max_parked=4, max_templates=4)
    for n, datagram in enumerate(datagrams):
        flows, letters = decoder.decode(datagram, "192.0.2.1:2055", float(n))
        assert all(isinstance(v, str) for f in flows for v in f.values())
        for letter in letters:
            assert letter.reason and (letter.raw == datagram or letter.raw in datagram or letter.position != "datagram")
        assert len(decoder.templates) <= 4 and decoder._parked_count <= 4
    flows, letters = FlowDecoder().decode(V9, "192.0.2.1:2055", 0.0)
    assert len(flows) == 5 and not letters


@BUDGET
@given(lines=st.lists(st.binary(max_size=60), max_size=12))
def test_zeek_tsv_lines_give_frames_or_dead_letters(lines):
    header = (b"#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n"
              b"#fields\tts\tuid\tid.orig_h\ttunnel_parents\n#types\ttime\tstring\taddr\tset[string]\n")
    source = header + b"".join(line.replace(b"\n", b" ") + b"\n" for line in lines)
    for item in frame_zeek_tsv("fuzz.log", io.BytesIO(source)):
        if isinstance(item, DeadLetter):
            assert item.reason and item.raw in source
        else:
            assert isinstance(parse_frame("fuzz.log", item), Event | DeadLetter)
