"""Input splits: the files of a batch job cut into pieces that Spark tasks read in parallel.

A large plain-text file (syslog, web access log, JSON lines or concatenated JSON) is cut at record
boundaries into byte ranges of about `split_bytes`; each piece knows the number of its first line, so
reading the pieces one after another gives exactly the records, positions and dead letters of reading
the file whole (`read_paths`). EVTX, gzip and unrecognised files are one piece each.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ingest.files import Record, frame_file, frame_json, frame_lines, sniff_format, walk_paths
from ingest.frame import Frame, parse_frame
from socpipe.events import DeadLetter

SPLIT_BYTES = 64 * 1024 * 1024
_BLOCK = 16 * 1024 * 1024
_CUTTABLE = ("syslog", "access", "json")


@dataclass(frozen=True, slots=True)
class Split:
    """Bytes [start, end) of a file (end -1: the whole file, read as read_file reads it), whose first line
    is number `first_line`, framed as `framing` (syslog, access or json) by parser `parser`."""

    path: str
    start: int = 0
    end: int = -1
    first_line: int = 1
    framing: str = ""
    parser: str = ""


def plan_splits(paths: Iterable[Path], split_bytes: int = SPLIT_BYTES) -> list[Split]:
    """The splits of every input file, in reading order."""
    return [split for path in walk_paths(paths) for split in _file_splits(path, split_bytes)]


def read_split(split: Split) -> Iterator[Record]:
    """The events and dead letters of one split, as read_file gives them for that part of the file."""
    if split.end < 0:
        for item in frame_file(Path(split.path)):
            yield item if isinstance(item, DeadLetter) else parse_frame(split.path, item)
        return
    try:
        with open(split.path, "rb") as file:
            file.seek(split.start)
            lines = _lines_until(file, split.end)
            if split.framing == "json":
                frames: Iterable[Frame | DeadLetter] = frame_json(split.path, lines, split.first_line, split.start,
                                                                  split.parser)
            else:
                frames = frame_lines(lines, split.framing, split.first_line)
            for item in frames:
                yield item if isinstance(item, DeadLetter) else parse_frame(split.path, item)
    except OSError as err:
        yield DeadLetter(split.path, f"byte {split.start}", f"cannot read the file further: {err}", b"")


def _lines_until(file: BinaryIO, end: int) -> Iterator[bytes]:
    position = file.tell()
    for line in file:
        if position >= end:
            return
        position += len(line)
        yield line


def _file_splits(path: Path, split_bytes: int) -> list[Split]:
    whole = [Split(str(path))]
    try:
        size = path.stat().st_size
        if size <= split_bytes or path.suffix == ".gz":
            return whole
        with path.open("rb") as file:
            head = file.read(65536)
        framing = sniff_format(path, head)
        if framing not in _CUTTABLE:
            return whole
        parser = framing
        if framing == "json":  # the file's first document decides the parser for all of it
            first = next((f for f in frame_file(path) if isinstance(f, Frame)), None)
            if first is None:
                return whole
            parser = first.parser
        return _cut(path, size, split_bytes, framing, parser)
    except OSError:
        return whole  # read_split reads it whole and reports what fails


def _cut(path: Path, size: int, split_bytes: int, framing: str, parser: str) -> list[Split]:
    """Cut at the first record start after each multiple of split_bytes: a line start for line formats,
    a line starting with "{" for JSON (where read_file's JSON framing starts a block too)."""
    starts = [0]
    with path.open("rb") as file:
        for target in range(split_bytes, size, split_bytes):
            if target <= starts[-1]:
                continue
            file.seek(target - 1)
            file.readline()  # to the start of the next line (target itself when a line starts there)
            while True:
                offset = file.tell()
                line = file.readline()
                if not line:
                    offset = size
                    break
                if framing != "json" or line.startswith(b"{"):
                    break
            if starts[-1] < offset < size:
                starts.append(offset)
        splits = []
        line_number = 1
        for start, end in zip(starts, [*starts[1:], size], strict=True):
            splits.append(Split(str(path), start, end, line_number, framing, parser))
            line_number += _count_newlines(file, start, end)
    return splits


def _count_newlines(file: BinaryIO, start: int, end: int) -> int:
    file.seek(start)
    count, left = 0, end - start
    while left > 0:
        block = file.read(min(_BLOCK, left))
        if not block:
            break
        count += block.count(b"\n")
        left -= len(block)
    return count
