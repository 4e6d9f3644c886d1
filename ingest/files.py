"""Reading log files into events: pick the format, frame the records, parse each one.

Framing (frame_file, frame_lines, frame_json) is shared with the collectors, which send the frames'
bytes to Kafka instead of parsing them. A record that cannot be parsed becomes a DeadLetter and reading
goes on; a file that cannot be read any further ends with a DeadLetter saying where. Callers never get
an exception for bad data.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

import orjson

from ingest.evtxfile import EVTX_MAGIC, frame_evtx
from ingest.frame import Frame, parse_frame
from ingest.parsers import PARSERS, ParseError, check_text, json_parser
from ingest.pcap import SUFFIXES as CAPTURE_SUFFIXES
from ingest.pcap import frame_pcap, is_capture
from socpipe.events import DeadLetter, Event

Record = Event | DeadLetter

_JSON_SUFFIXES = {".json", ".jsonl", ".ndjson"}
_SNIFF_BYTES = 65536
_SNIFF_LINES = 20
_BOM = b"\xef\xbb\xbf"
_JSON_SPACE = re.compile(r"[ \t\r\n]*")
_DECODER = json.JSONDecoder()


def read_paths(paths: Iterable[Path]) -> Iterator[Record]:
    """Events of files and directories (see walk_paths)."""
    for path in walk_paths(paths):
        yield from read_file(path)


def walk_paths(paths: Iterable[Path]) -> Iterator[Path]:
    """Files as given, and the files of directories recursively in sorted order, skipping hidden ones."""
    for path in paths:
        if not path.is_dir():
            yield path
            continue
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(name for name in dirs if not name.startswith("."))
            yield from (Path(root, name) for name in sorted(files) if not name.startswith("."))


def read_file(path: Path) -> Iterator[Record]:
    """Events and dead letters of one file (.gz read transparently), format by extension or content."""
    origin = str(path)
    for item in frame_file(path):
        yield item if isinstance(item, DeadLetter) else parse_frame(origin, item)


def frame_file(path: Path) -> Iterator[Frame | DeadLetter]:
    """The records of one file, not parsed yet; a file that cannot be read further ends with a dead letter."""
    origin = str(path)
    position = "byte 0"
    try:
        for item in _frames(path, origin):
            position = item.position
            yield item
    except (OSError, EOFError, zlib.error) as err:
        yield DeadLetter(origin, f"after {position}", f"cannot read the file further: {err}", b"")


def _open(path: Path) -> BinaryIO:
    return gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")


def _frames(path: Path, origin: str) -> Iterator[Frame | DeadLetter]:
    head = _head(path)
    if not head.strip():
        return  # an empty file holds no records
    kind = sniff_format(path, head)
    if kind == "evtx":
        if path.suffix == ".gz":
            with _open(path) as file:
                data = file.read()
            yield from frame_evtx(origin, lambda: io.BytesIO(data))
        else:
            yield from frame_evtx(origin, lambda: path.open("rb"))
        return
    if kind is None:
        yield unknown_format(origin, head)
        return
    if kind == "pcap":
        with _open(path) as file:
            yield from frame_pcap(origin, file)
        return
    if kind == "zeek_tsv":
        from ingest.zeektsv import frame_zeek_tsv

        with _open(path) as file:
            yield from frame_zeek_tsv(origin, file)
        return
    with _open(path) as file:
        yield from frame_json(origin, file) if kind == "json" else frame_lines(file, kind)


def sniff_format(path: Path, head: bytes) -> str | None:
    """"evtx", "pcap" (pcap or pcapng), "json" (the first document picks the parser), "zeek_tsv", "syslog" or
    "access" by extension or the first bytes; None when the head matches no format."""
    suffix = (path.with_suffix("") if path.suffix == ".gz" else path).suffix.lower()
    if suffix == ".evtx" or head.startswith(EVTX_MAGIC):
        return "evtx"
    if suffix in CAPTURE_SUFFIXES or is_capture(head):
        return "pcap"
    if suffix in _JSON_SUFFIXES or head.removeprefix(_BOM).lstrip().startswith(b"{"):
        return "json"
    if head.startswith(b"#separator"):  # Zeek's TSV logs (ingest/zeektsv.py)
        return "zeek_tsv"
    return _sniff_text(head)


def unknown_format(origin: str, head: bytes) -> DeadLetter:
    return DeadLetter(origin, "byte 0", "unknown format: not EVTX, pcap, JSON, Zeek TSV, syslog or a web access log "
                      f"(raw holds the first {len(head[:4096])} bytes)", head[:4096])


def _head(path: Path) -> bytes:
    """The first bytes for sniffing; a truncated .gz still gives what it holds (reading reports the cut)."""
    head = b""
    with _open(path) as file:
        try:
            while len(head) < _SNIFF_BYTES and (block := file.read1(_SNIFF_BYTES - len(head))):
                head += block
        except EOFError:
            pass
    return head


def _sniff_text(head: bytes) -> str | None:
    """syslog or access, decided by the first non-empty lines that match either."""
    lines = [line for line in head.split(b"\n")[:-1] or [head] if line.strip()]
    for line in lines[:_SNIFF_LINES]:
        for parser_name in ("access", "syslog"):
            try:
                PARSERS[parser_name](line)
            except ParseError:
                continue
            return parser_name
    return None


def frame_lines(lines: Iterable[bytes], parser: str, first_line: int = 1) -> Iterator[Frame]:
    """One record per line, position "line N"; blank lines are not records."""
    for number, line in enumerate(lines, first_line):
        raw = line.rstrip(b"\r\n")
        if raw.strip():
            yield Frame(parser, f"line {number}", raw)


# ---- JSON --------------------------------------------------------------------------------------------

def frame_json(origin: str, lines: Iterable[bytes], first_line: int = 1, first_offset: int = 0,
               parser: str = "") -> Iterator[Frame | DeadLetter]:
    """JSON objects one per line or pretty-printed and concatenated. The first object decides the parser
    for the whole file (parsers.json_parser: the nested Windows form, Suricata EVE, Zeek, flow records or
    flat Sigma-named objects), unless `parser` was decided already (a tailed file read on from an offset)."""
    for item in _json_documents(origin, lines, first_line, first_offset):
        if isinstance(item, DeadLetter):
            yield item
            continue
        line, raw, document = item
        if not parser:
            parser = json_parser(document)
        yield Frame(parser, f"line {line}", raw, document)


def _json_documents(origin: str, lines: Iterable[bytes], first_line: int,
                    first_offset: int) -> Iterator[tuple[int, bytes, object] | DeadLetter]:
    """(line, raw bytes, decoded value) for each JSON value in the file, or a dead letter.

    Lines are grouped into blocks that start where a line starts with "{", so a decode error costs
    one block: it becomes a dead letter and decoding resumes at the next line starting with "{".
    """
    for line, offset, block in _json_blocks(lines, first_line, first_offset):
        # Fast path: a block that is exactly one JSON value (JSON lines), which orjson decodes to the same
        # value; anything else (several values, bad UTF-8 or JSON, NaN, huge integers) goes the careful way.
        try:
            document = orjson.loads(block)
        except orjson.JSONDecodeError:
            pass
        else:
            value = block.lstrip(b" \t\r\n")
            yield line + block.count(b"\n", 0, len(block) - len(value)), value.rstrip(b" \t\r\n"), document
            continue
        try:
            text = block.decode("utf-8").rstrip(" \t\r\n")  # so an error at the end points into the record
        except UnicodeDecodeError as err:
            reason = f"invalid UTF-8 at byte {offset + err.start}"
            yield DeadLetter(origin, f"line {line}", reason, block.rstrip(b" \t\r\n"))
            continue
        index = _JSON_SPACE.match(text).end()
        while index < len(text):
            at_line = line + text.count("\n", 0, index)
            try:
                document, end = _DECODER.raw_decode(text, index)
            except json.JSONDecodeError as err:
                reason = (f"invalid JSON at byte {offset + len(text[: err.pos].encode())} "
                          f"(line {line + err.lineno - 1}, column {err.colno}): {err.msg}")
                raw = text[index:].encode()
                yield DeadLetter(origin, f"line {at_line}", reason, raw)
                break
            try:
                check_text(document)
            except ParseError as err:
                yield DeadLetter(origin, f"line {at_line}", err.reason, text[index:end].encode())
            else:
                yield at_line, text[index:end].encode(), document
            index = _JSON_SPACE.match(text, end).end()


def _json_blocks(lines: Iterable[bytes], first_line: int,
                 first_offset: int) -> Iterator[tuple[int, int, bytes]]:
    """(first line number, byte offset, bytes) of runs of lines, each run starting at a "{" line."""
    start_line, start_offset, offset, run = first_line, first_offset, first_offset, []
    for number, line in enumerate(lines, first_line):
        if number == 1 and line.startswith(_BOM):
            offset, start_offset, line = len(_BOM), len(_BOM), line[len(_BOM) :]
        if line.startswith(b"{") and run:
            yield start_line, start_offset, b"".join(run)
            start_line, start_offset, run = number, offset, []
        run.append(line)
        offset += len(line)
    if run:
        yield start_line, start_offset, b"".join(run)
