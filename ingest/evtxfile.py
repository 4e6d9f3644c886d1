"""Windows .evtx files framed with the evtx library (pyevtx-rs), every damaged part becoming a dead letter.

Each record becomes a Frame holding the library's JSON rendering of it (the EVTX JSON shape that
parse_evtx_json reads), so a collector can send exactly what the batch reader parses.

The library raises one RuntimeError per bad record or chunk and can go on after it, but it silently
stops at a chunk cut short by truncation. So the file layout is checked here too: an EVTX file is a
4 KiB header and 64 KiB chunks, each a 512-byte header followed by records ("**\\0\\0", size, number,
..., size again). That layout also gives the original bytes of a failed record for its dead letter.
"""

from __future__ import annotations

import io
import re
import struct
from collections.abc import Callable, Iterator
from typing import BinaryIO

from evtx import PyEvtxParser

from ingest.frame import Frame
from socpipe.events import DeadLetter

EVTX_MAGIC = b"ElfFile\x00"
_HEADER_SIZE = 4096
_CHUNK_SIZE = 65536
_RECORDS_START = 512
_RECORD_MAGIC = b"**\x00\x00"
_RECORD_MIN_SIZE = 28  # magic, size, number, timestamp, trailing size
_FAILED_AT = re.compile(r"Failed to parse (record|chunk) number (\d+)")


def frame_evtx(origin: str, open_stream: Callable[[], BinaryIO]) -> Iterator[Frame | DeadLetter]:
    """Records of one EVTX file; open_stream gives a fresh seekable binary stream of its bytes.

    Positions are "record N" with N the record number in the file's record header, which is also
    the number in the library's errors; exported files renumber it, so it may differ from the
    EventRecordID field.
    """
    with open_stream() as blob:
        header = blob.read(_HEADER_SIZE)
        if not header.startswith(EVTX_MAGIC):
            yield DeadLetter(origin, "byte 0", "not an EVTX file: the header does not start with ElfFile", header)
            return
        if len(header) < _HEADER_SIZE:
            yield DeadLetter(origin, "byte 0", f"truncated EVTX file: header has {len(header)} of 4096 bytes",
                             header)
            return
        size = blob.seek(0, io.SEEK_END)
        chunks, cut = divmod(size - _HEADER_SIZE, _CHUNK_SIZE)
        if cut:
            yield from _read_truncated(origin, blob, size - cut)
            return
        with open_stream() as stream:
            yield from _records(origin, stream, blob)
        announced = struct.unpack_from("<H", header, 42)[0]
        if announced > chunks:
            yield DeadLetter(origin, f"byte {size}",
                             f"truncated EVTX file: the header announces {announced} chunks, the file holds {chunks}",
                             b"")


def _read_truncated(origin: str, blob: BinaryIO, start: int) -> Iterator[Frame | DeadLetter]:
    """A file whose last chunk is cut: read its complete records (the rest of the chunk zeroed so the
    library stops there instead of skipping the whole chunk), then dead-letter the incomplete bytes."""
    blob.seek(start)
    partial = blob.read()
    keep = max((offset + length for offset, length, _ in _record_spans(partial)), default=0)
    blob.seek(0)
    data = blob.read(start) + (partial[:keep] + bytes(_CHUNK_SIZE - keep) if keep else b"")
    yield from _records(origin, io.BytesIO(data), io.BytesIO(data))
    chunk = (start - _HEADER_SIZE) // _CHUNK_SIZE
    yield DeadLetter(origin, f"byte {start + keep}",
                     f"truncated EVTX file: chunk {chunk} ends after {len(partial)} of 65536 bytes, "
                     f"{len(partial) - keep} bytes of it after the last complete record", partial[keep:])


def _records(origin: str, stream: BinaryIO, blob: BinaryIO) -> Iterator[Frame | DeadLetter]:
    """Parse with the library from stream; blob (another stream of the same bytes) gives raw bytes."""
    last = 0
    try:
        records = PyEvtxParser(stream).records_json()
    except (RuntimeError, OSError) as err:
        yield DeadLetter(origin, "byte 0", f"EVTX parser could not open the file: {err}", b"")
        return
    previous_error = ""
    while True:
        try:
            record = next(records)
        except StopIteration:
            return
        except RuntimeError as err:  # one bad record or chunk; the iterator goes on after it
            if str(err) == previous_error:  # not advancing: never loop forever on one error
                yield DeadLetter(origin, f"after record {last}",
                                 f"EVTX reading stopped, rest of the file skipped: {err}", b"")
                return
            previous_error = str(err)
            yield _failure(origin, blob, str(err), last)
            continue
        except Exception as err:  # I/O or anything unexpected: the iterator cannot be trusted further
            yield DeadLetter(origin, f"after record {last}",
                             f"EVTX reading stopped, rest of the file skipped: {err}", b"")
            return
        previous_error = ""
        last = record["event_record_id"]
        yield Frame("evtx_json", f"record {last}", record["data"].encode())


def _failure(origin: str, blob: BinaryIO, message: str, last: int) -> DeadLetter:
    """The dead letter for a library error, located by the record or chunk number it names."""
    found = _FAILED_AT.search(message)
    if found and found[1] == "record":
        number = int(found[2])
        return DeadLetter(origin, f"record {number}", message, _record_bytes(blob, number))
    if found:
        offset = _HEADER_SIZE + int(found[2]) * _CHUNK_SIZE
        blob.seek(offset)
        return DeadLetter(origin, f"chunk {found[2]} (byte {offset})", message, blob.read(_CHUNK_SIZE))
    return DeadLetter(origin, f"after record {last}", message, b"")


def _record_spans(chunk: bytes) -> Iterator[tuple[int, int, int]]:
    """(offset, size, record number) of the complete, well-framed records at the start of a chunk."""
    offset = _RECORDS_START
    while offset + 16 <= len(chunk):
        magic, size, number = struct.unpack_from("<4sIQ", chunk, offset)
        end = offset + size
        if magic != _RECORD_MAGIC or size < _RECORD_MIN_SIZE or end > len(chunk):
            return
        if struct.unpack_from("<I", chunk, end - 4)[0] != size:
            return
        yield offset, size, number
        offset = end


def _record_bytes(blob: BinaryIO, number: int) -> bytes:
    """The original bytes of the record with this number, or b"" when its framing is damaged too."""
    blob.seek(_HEADER_SIZE)
    while chunk := blob.read(_CHUNK_SIZE):
        for offset, size, found in _record_spans(chunk):
            if found == number:
                return chunk[offset : offset + size]
    return b""
