"""Reading log files into events: pick the format, frame the records, parse each one.

A record that cannot be parsed becomes a DeadLetter and reading goes on; a file that cannot be read
any further ends with a DeadLetter saying where. Callers never get an exception for bad data.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import zlib
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from pathlib import Path
from typing import BinaryIO

from ingest.evtxfile import EVTX_MAGIC, read_evtx
from ingest.parsers import PARSERS, ParseError, flat_fields, kind_of, windows_fields
from socpipe.events import DeadLetter, Event

Record = Event | DeadLetter

_JSON_SUFFIXES = {".json", ".jsonl", ".ndjson"}
_SNIFF_BYTES = 65536
_SNIFF_LINES = 20
_BOM = b"\xef\xbb\xbf"
_JSON_SPACE = re.compile(r"[ \t\r\n]*")
_DECODER = json.JSONDecoder()


def read_paths(paths: Iterable[Path]) -> Iterator[Record]:
    """Events of files and directories; directories are read recursively in sorted order,
    skipping hidden files and directories."""
    for path in paths:
        if not path.is_dir():
            yield from read_file(path)
            continue
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(name for name in dirs if not name.startswith("."))
            for name in sorted(files):
                if not name.startswith("."):
                    yield from read_file(Path(root, name))


def read_file(path: Path) -> Iterator[Record]:
    """Events and dead letters of one file (.gz read transparently), format by extension or content."""
    origin = str(path)
    position = "byte 0"
    try:
        for record in _read(path, origin):
            position = record.position if isinstance(record, DeadLetter) else record.origin[len(origin) + 1 :]
            yield record
    except (OSError, EOFError, zlib.error) as err:
        yield DeadLetter(origin, f"after {position}", f"cannot read the file further: {err}", b"")


def _open(path: Path) -> BinaryIO:
    return gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")


def _read(path: Path, origin: str) -> Iterator[Record]:
    suffix = (path.with_suffix("") if path.suffix == ".gz" else path).suffix.lower()
    head = _head(path)
    if not head.strip():
        return  # an empty file holds no records
    if suffix == ".evtx" or head.startswith(EVTX_MAGIC):
        if path.suffix == ".gz":
            with _open(path) as file:
                data = file.read()
            yield from read_evtx(origin, lambda: io.BytesIO(data))
        else:
            yield from read_evtx(origin, lambda: path.open("rb"))
        return
    if suffix in _JSON_SUFFIXES or head.removeprefix(_BOM).lstrip().startswith(b"{"):
        with _open(path) as file:
            yield from _read_json(origin, file)
        return
    parser = _sniff_text(head)
    if parser is None:
        yield DeadLetter(origin, "byte 0", "unknown format: not EVTX, JSON, syslog or a web access log "
                         f"(raw holds the first {len(head[:4096])} bytes)", head[:4096])
        return
    with _open(path) as file:
        yield from _read_lines(origin, file, parser)


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


def _read_lines(origin: str, file: BinaryIO, parser_name: str) -> Iterator[Record]:
    """One record per line, position "line N"; blank lines are not records."""
    parse = PARSERS[parser_name]
    for number, line in enumerate(file, 1):
        raw = line.rstrip(b"\r\n")
        if raw.strip():
            yield _event(origin, f"line {number}", raw, parser_name, partial(parse, raw))


def _event(origin: str, position: str, raw: bytes, parser_name: str,
           make_fields: Callable[[], dict[str, str]]) -> Record:
    """The event, or the dead letter holding raw when the record does not parse."""
    try:
        fields = make_fields()
    except ParseError as err:
        return DeadLetter(origin, position, err.reason, raw)
    return Event(fields, kind_of(parser_name, fields), f"{origin}:{position}")


# ---- JSON --------------------------------------------------------------------------------------------

_FIELDS_OF = {"evtx_json": windows_fields, "json": flat_fields}


def _read_json(origin: str, file: BinaryIO) -> Iterator[Record]:
    """JSON objects one per line or pretty-printed and concatenated. The first object decides between
    the nested Windows form ({"Event": {...}}) and flat Sigma-named objects for the whole file."""
    parser_name = ""
    for item in _json_documents(origin, file):
        if isinstance(item, DeadLetter):
            yield item
            continue
        line, raw, document = item
        if not parser_name:
            nested = isinstance(document, dict) and isinstance(document.get("Event"), dict)
            parser_name = "evtx_json" if nested else "json"
        yield _event(origin, f"line {line}", raw, parser_name, partial(_FIELDS_OF[parser_name], document))


def _json_documents(origin: str, file: BinaryIO) -> Iterator[tuple[int, bytes, object] | DeadLetter]:
    """(line, raw bytes, decoded value) for each JSON value in the file, or a dead letter.

    Lines are grouped into blocks that start where a line starts with "{", so a decode error costs
    one block: it becomes a dead letter and decoding resumes at the next line starting with "{".
    """
    for line, offset, block in _json_blocks(file):
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
            yield at_line, text[index:end].encode(), document
            index = _JSON_SPACE.match(text, end).end()


def _json_blocks(file: BinaryIO) -> Iterator[tuple[int, int, bytes]]:
    """(first line number, byte offset, bytes) of runs of lines, each run starting at a "{" line."""
    start_line, start_offset, offset, lines = 1, 0, 0, []
    for number, line in enumerate(file, 1):
        if number == 1 and line.startswith(_BOM):
            offset, start_offset, line = len(_BOM), len(_BOM), line[len(_BOM) :]
        if line.startswith(b"{") and lines:
            yield start_line, start_offset, b"".join(lines)
            start_line, start_offset, lines = number, offset, []
        lines.append(line)
        offset += len(line)
    if lines:
        yield start_line, start_offset, b"".join(lines)
