"""A bounded on-disk FIFO of Kafka messages: the collector's write-ahead log.

Every message is appended here before it is sent, and the acknowledged cursor moves past it only when
Kafka has it. So an outage, or a restart with messages unacknowledged, loses nothing and keeps order:
what waits is sent first, before anything newer. The bound (bytes waiting) keeps a long outage from
filling the disk; a message that does not fit is refused and the caller counts it as dropped.

Layout: numbered segment files of entries (length, CRC-32, flags, payload) and a `cursor` file. An entry holds
the messages of one append_all (flag BATCH: their count, the length of every part, then the parts), so a
datagram of 30 flows costs one write, one CRC and one read, not 30. Entries without that flag, as releases
before it wrote them, hold one message each and are still read. The cursor file holds "segment offset" of the
first unacknowledged entry, and a third number, the messages of that entry already acknowledged, when it is
not zero. A torn entry at the end (a crash mid-write) is cut off when the spool opens. One process at a
time: a lock file guards the folder.
"""

from __future__ import annotations

import fcntl
import logging
import os
import struct
import threading
import zlib
from collections import OrderedDict
from collections.abc import Iterator
from itertools import accumulate, pairwise
from pathlib import Path
from typing import BinaryIO, NamedTuple

log = logging.getLogger(__name__)

# (segment number, byte offset of an entry in it, messages of that entry before the position)
Position = tuple[int, int, int]

_ENTRY = struct.Struct("<IIB")  # payload length, CRC-32 of the payload, flags
_COUNTS = struct.Struct("<II")  # a batch's messages and parts
SPOOLED = 1  # flag: appended while Kafka was unreachable, so sending it later is a replay
BATCH = 2  # flag: the payload holds a batch of messages (without it: one message, the format before batches)
_SUFFIX = ".seg"
_RECENT_BYTES = 32 << 20  # the latest entries' messages kept in memory for the sender


class Message(NamedTuple):
    """One Kafka message as the collector produces it."""

    topic: str
    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()


class Batch(NamedTuple):
    """The messages of one entry read back from `start` on, with the entry's flags; `end` is the position
    just after the entry (the cursor once they are all acknowledged)."""

    messages: list[Message]
    flags: int
    start: Position
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
        # The latest entries as appended, by (segment, offset): the sender, close behind the writer, reads its
        # messages from here instead of reading back and decoding the bytes just written (bounded); each
        # holds the messages, the entry's flags, the offset after it and its size.
        self._recent: OrderedDict[tuple[int, int], tuple[list[Message], int, int, int]] = OrderedDict()
        self._recent_bytes = 0
        self.pending_records = sum(_count(flags, payload) for *_, flags, payload in self._scan(self.cursor))
        self.pending_records = max(0, self.pending_records - self.cursor[2])
        self.pending_bytes = sum(self._sizes.values()) - self.cursor[1]
        self.end_at_open: Position = (self._tail, self._sizes[self._tail], 0)

    # ---- writing -----------------------------------------------------------------------------------

    def append(self, message: Message, flags: int = 0) -> bool:
        """Add a message at the end; False (nothing written) when it would cross max_bytes."""
        return self.append_all([message], flags) == 1

    def append_all(self, messages: list[Message], flags: int = 0) -> int:
        """Add messages at the end, in order, as one entry: how many fit (the rest would cross max_bytes)."""
        if not messages:
            return 0
        payload = _pack(messages)
        with self._lock:
            room = self.max_bytes - self.pending_bytes - _ENTRY.size
            if len(payload) > room:
                messages = messages[:_fitting(messages, room)]
                if not messages:
                    return 0
                payload = _pack(messages)
            if self._sizes[self._tail] >= self._segment_bytes:
                self._writer.flush()
                self._writer.close()
                self._tail += 1
                self._sizes[self._tail] = 0
                self._writer = self._path(self._tail).open("ab")
            self._writer.write(_ENTRY.pack(len(payload), zlib.crc32(payload), flags | BATCH) + payload)
            self._writer.flush()  # what is not in _recent any more is read from the file, not this buffer
            size = _ENTRY.size + len(payload)
            start = self._sizes[self._tail]
            self._recent[(self._tail, start)] = (messages, flags | BATCH, start + size, size)
            self._recent_bytes += size
            while self._recent_bytes > _RECENT_BYTES:
                self._recent_bytes -= self._recent.popitem(last=False)[1][3]
            self._sizes[self._tail] += size
            self.pending_bytes += size
            self.pending_records += len(messages)
        return len(messages)

    # ---- reading and acknowledging -----------------------------------------------------------------

    def read(self, position: Position, limit: int) -> list[Batch]:
        """The entries from `position` on, as far as written, until they hold `limit` messages or more."""
        with self._lock:
            batches: list[Batch] = []
            taken = 0
            skip = position[2]  # messages of the first entry acknowledged already
            for number, offset, end, flags, messages in self._entries(position):
                first, skip = skip, 0
                if first:
                    messages = messages[first:]
                    if not messages:
                        continue
                batches.append(Batch(messages, flags, (number, offset, first), (number, end, 0)))
                taken += len(messages)
                if taken >= limit:
                    break
            return batches

    def ack(self, position: Position, records: int) -> None:
        """Everything before `position` (`records` messages since the last ack) is in Kafka."""
        with self._lock:
            before = self._sizes_from(self.cursor)
            self.cursor = position
            self.pending_bytes -= before - self._sizes_from(position)
            self.pending_records -= records
            for number in [n for n in self._sizes if n < position[0]]:
                self._remove(number)
            while self._recent and next(iter(self._recent)) < position[:2]:
                self._recent_bytes -= self._recent.popitem(last=False)[1][3]

    def save_cursor(self) -> None:
        """Persist the acknowledged cursor (atomically), so a restart does not send acked entries again."""
        with self._lock:
            number, offset, index = self.cursor
            temporary = self.directory / "cursor.tmp"
            temporary.write_text(f"{number} {offset} {index}\n" if index else f"{number} {offset}\n",
                                 encoding="ascii")
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

    def _scan(self, position: Position) -> Iterator[tuple[int, int, int, int, bytes]]:
        """(segment, offset, offset after it, flags, payload) of each entry from `position` on."""
        number, offset, _ = position
        while number in self._sizes:
            size = self._sizes[number]
            if offset >= size:
                if number >= self._tail:
                    return
                number, offset = number + 1, 0
                continue
            reader = self._reader(number)
            reader.seek(offset)
            length, _, flags = _ENTRY.unpack(reader.read(_ENTRY.size))
            end = offset + _ENTRY.size + length
            yield number, offset, end, flags, reader.read(length)
            offset = end

    def _entries(self, position: Position) -> Iterator[tuple[int, int, int, int, list[Message]]]:
        """(segment, offset, offset after it, flags, messages) of each entry from `position` on: from the
        recent entries kept in memory while they reach, else read from the segment files."""
        number, offset, _ = position
        while (number, offset) in self._recent:
            messages, flags, end, _ = self._recent[(number, offset)]
            yield number, offset, end, flags, messages
            offset = end
            if offset >= self._sizes[number] and number < self._tail:
                number, offset = number + 1, 0
        for segment, at, end, flags, payload in self._scan((number, offset, 0)):
            yield segment, at, end, flags, _unpack(payload) if flags & BATCH else [_unpack_one(payload)]

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
            number, offset, *index = (int(part) for part in path.read_text(encoding="ascii").split())
            if number in self._sizes or not self._sizes:
                size = self._sizes.get(number, 0)
                return (number, offset, index[0] if index else 0) if offset < size else (number, size, 0)
        return (min(self._sizes), 0, 0) if self._sizes else (0, 0, 0)

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


def _pack(messages: list[Message]) -> bytes:
    """A batch payload: message and part counts, each message's header count, each part's length, the parts."""
    parts: list[bytes] = []
    for topic, key, value, headers in messages:
        parts += (topic.encode(), key, value)
        for name, data in headers:
            parts += (name.encode(), data)
    count = len(messages)
    return b"".join((_COUNTS.pack(count, len(parts)),
                     struct.pack(f"<{count}H", *[len(m.headers) for m in messages]),
                     struct.pack(f"<{len(parts)}I", *map(len, parts)), *parts))


def _fitting(messages: list[Message], room: int) -> int:
    """How many of the messages, from the first, fit in a batch payload of at most `room` bytes."""
    size = _COUNTS.size
    for taken, message in enumerate(messages):
        size += len(_pack([message])) - _COUNTS.size
        if size > room:
            return taken
    return len(messages)


def _unpack(payload: bytes) -> list[Message]:
    count, total = _COUNTS.unpack_from(payload)
    headers = struct.unpack_from(f"<{count}H", payload, _COUNTS.size)
    lengths_at = _COUNTS.size + 2 * count
    lengths = struct.unpack_from(f"<{total}I", payload, lengths_at)
    parts = [payload[start:end] for start, end in pairwise(accumulate(lengths, initial=lengths_at + 4 * total))]
    messages, at = [], 0
    for pairs in headers:
        names, values = parts[at + 3 : at + 3 + 2 * pairs : 2], parts[at + 4 : at + 4 + 2 * pairs : 2]
        messages.append(Message(parts[at].decode(), parts[at + 1], parts[at + 2],
                                tuple(zip([name.decode() for name in names], values, strict=True))))
        at += 3 + 2 * pairs
    return messages


def _count(flags: int, payload: bytes) -> int:
    return _COUNTS.unpack_from(payload)[0] if flags & BATCH else 1


def _unpack_one(payload: bytes) -> Message:
    """A message as entries without the BATCH flag hold it (topic, key, value, headers; each with its length)."""
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
