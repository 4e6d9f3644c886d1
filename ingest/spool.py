"""A bounded on-disk FIFO of Kafka messages: the collector's write-ahead log.

Every message is appended here before it is sent, and the acknowledged cursor moves past it only when
Kafka has it. So an outage, or a restart with messages unacknowledged, loses nothing and keeps order:
what waits is sent first, before anything newer. The bound (bytes waiting) keeps a long outage from
filling the disk; a message that does not fit is refused and the caller counts it as dropped.

Layout: numbered segment files of entries (length, CRC-32, flags, message) and a `cursor` file holding
"segment offset" of the first unacknowledged entry. A torn entry at the end (a crash mid-write) is cut
off when the spool opens. One process at a time: a lock file guards the folder.
"""

from __future__ import annotations

import fcntl
import logging
import os
import struct
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger(__name__)

Position = tuple[int, int]  # (segment number, byte offset in it)

_ENTRY = struct.Struct("<IIB")  # payload length, CRC-32 of the payload, flags
SPOOLED = 1  # flag: appended while Kafka was unreachable, so sending it later is a replay
_SUFFIX = ".seg"


@dataclass(frozen=True, slots=True)
class Message:
    """One Kafka message as the collector produces it."""

    topic: str
    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True, slots=True)
class Entry:
    """A message read back with its flags and the position just after it (the cursor once it is acked)."""

    message: Message
    flags: int
    end: Position


class SpoolLocked(RuntimeError):
    """Another process holds the spool folder."""


class Spool:
    """Append, read from a position, acknowledge up to a position; thread-safe."""

    def __init__(self, directory: Path, max_bytes: int, segment_bytes: int = 64 << 20) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.max_bytes = max_bytes
        self._segment_bytes = max(1 << 16, min(segment_bytes, max_bytes // 4 or 1))
        self._lock = threading.Lock()
        self._lock_file = (directory / "lock").open("a")
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_file.close()
            raise SpoolLocked(f"{directory} is in use by another collector (give each its own "
                              "collect.state_dir)") from None
        self._sizes = {number: self._valid_size(number) for number in self._segment_numbers()}
        self.cursor = self._read_cursor()
        for number in [n for n in self._sizes if n < self.cursor[0]]:
            self._remove(number)
        if not self._sizes:
            self._sizes[self.cursor[0]] = 0
        self._tail = max(self._sizes)
        self._writer = self._path(self._tail).open("ab")
        self._readers: dict[int, BinaryIO] = {}
        self.pending_records = sum(1 for _ in self._scan(self.cursor))
        self.pending_bytes = sum(self._sizes.values()) - self.cursor[1]
        self.end_at_open: Position = (self._tail, self._sizes[self._tail])

    # ---- writing -----------------------------------------------------------------------------------

    def append(self, message: Message, flags: int = 0) -> bool:
        """Add a message at the end; False (nothing written) when it would cross max_bytes."""
        return self.append_all([message], flags) == 1

    def append_all(self, messages: list[Message], flags: int = 0) -> int:
        """Add messages at the end, in order, with one write: how many fit (the rest would cross max_bytes)."""
        entries = []
        for message in messages:
            payload = _pack(message)
            entries.append(_ENTRY.pack(len(payload), zlib.crc32(payload), flags) + payload)
        with self._lock:
            taken = 0
            for entry in entries:
                if self.pending_bytes + len(entry) > self.max_bytes:
                    break
                if self._sizes[self._tail] >= self._segment_bytes:
                    self._writer.flush()
                    self._writer.close()
                    self._tail += 1
                    self._sizes[self._tail] = 0
                    self._writer = self._path(self._tail).open("ab")
                self._writer.write(entry)
                self._sizes[self._tail] += len(entry)
                self.pending_bytes += len(entry)
                self.pending_records += 1
                taken += 1
            self._writer.flush()  # readers (the sender thread) read the file, not this buffer
        return taken

    # ---- reading and acknowledging -----------------------------------------------------------------

    def read(self, position: Position, limit: int) -> list[Entry]:
        """Up to `limit` entries from `position` on, as far as written."""
        with self._lock:
            entries: list[Entry] = []
            for entry in self._scan(position):
                entries.append(entry)
                if len(entries) >= limit:
                    break
            return entries

    def ack(self, position: Position, records: int) -> None:
        """Everything before `position` (`records` entries since the last ack) is in Kafka."""
        with self._lock:
            before = self._sizes_from(self.cursor)
            self.cursor = position
            self.pending_bytes -= before - self._sizes_from(position)
            self.pending_records -= records
            for number in [n for n in self._sizes if n < position[0]]:
                self._remove(number)

    def save_cursor(self) -> None:
        """Persist the acknowledged cursor (atomically), so a restart does not send acked entries again."""
        with self._lock:
            temporary = self.directory / "cursor.tmp"
            temporary.write_text(f"{self.cursor[0]} {self.cursor[1]}\n", encoding="ascii")
            temporary.replace(self.directory / "cursor")

    def close(self) -> None:
        self.save_cursor()
        with self._lock:
            self._writer.flush()
            os.fsync(self._writer.fileno())
            self._writer.close()
            for reader in self._readers.values():
                reader.close()
            self._readers.clear()
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()

    # ---- internals (callers hold the lock, or run in __init__) -------------------------------------

    def _scan(self, position: Position) -> Iterator[Entry]:
        number, offset = position
        while number in self._sizes:
            size = self._sizes[number]
            if offset >= size:
                if number >= self._tail:
                    return
                number, offset = number + 1, 0
                continue
            reader = self._reader(number)
            reader.seek(offset)
            length, crc, flags = _ENTRY.unpack(reader.read(_ENTRY.size))
            payload = reader.read(length)
            offset += _ENTRY.size + length
            yield Entry(_unpack(payload), flags, (number, offset))

    def _sizes_from(self, position: Position) -> int:
        return sum(size for number, size in self._sizes.items() if number >= position[0]) - position[1]

    def _reader(self, number: int) -> BinaryIO:
        if number not in self._readers:
            self._readers[number] = self._path(number).open("rb")
        return self._readers[number]

    def _remove(self, number: int) -> None:
        reader = self._readers.pop(number, None)
        if reader:
            reader.close()
        self._path(number).unlink(missing_ok=True)
        self._sizes.pop(number, None)

    def _path(self, number: int) -> Path:
        return self.directory / f"{number:012d}{_SUFFIX}"

    def _segment_numbers(self) -> list[int]:
        return sorted(int(p.name.removesuffix(_SUFFIX)) for p in self.directory.glob(f"*{_SUFFIX}"))

    def _read_cursor(self) -> Position:
        path = self.directory / "cursor"
        if path.exists():
            number, offset = (int(part) for part in path.read_text(encoding="ascii").split())
            if number in self._sizes or not self._sizes:
                return number, min(offset, self._sizes.get(number, 0))
        return (min(self._sizes), 0) if self._sizes else (0, 0)

    def _valid_size(self, number: int) -> int:
        """The length of the segment's intact entries; a torn or corrupt end is cut off (and logged)."""
        path = self._path(number)
        data = path.read_bytes()
        offset = 0
        while offset + _ENTRY.size <= len(data):
            length, crc, _ = _ENTRY.unpack_from(data, offset)
            payload = data[offset + _ENTRY.size : offset + _ENTRY.size + length]
            if len(payload) < length or zlib.crc32(payload) != crc:
                break
            offset += _ENTRY.size + length
        if offset < len(data):
            log.warning("spool %s: cutting %d bytes of a torn or corrupt entry at byte %d (a crash while "
                        "writing; that one record is lost)", path, len(data) - offset, offset)
            with path.open("r+b") as file:
                file.truncate(offset)
        return offset


def _pack(message: Message) -> bytes:
    topic = message.topic.encode()
    parts = [struct.pack("<H", len(topic)), topic, struct.pack("<I", len(message.key)), message.key,
             struct.pack("<I", len(message.value)), message.value, struct.pack("<H", len(message.headers))]
    for name, value in message.headers:
        encoded = name.encode()
        parts += [struct.pack("<H", len(encoded)), encoded, struct.pack("<I", len(value)), value]
    return b"".join(parts)


def _unpack(payload: bytes) -> Message:
    view = memoryview(payload)
    offset = 0

    def take(size_format: str) -> bytes:
        nonlocal offset
        (size,) = struct.unpack_from(size_format, view, offset)
        offset += struct.calcsize(size_format)
        data = bytes(view[offset : offset + size])
        offset += size
        return data

    topic, key, value = take("<H").decode(), take("<I"), take("<I")
    (count,) = struct.unpack_from("<H", view, offset)
    offset += 2
    headers = tuple((take("<H").decode(), take("<I")) for _ in range(count))
    return Message(topic, key, value, headers)
