"""Packet captures (classic pcap and pcapng) read into Zeek-shaped conn, dns, http and ssl records.

The container is read with struct, block by block from a buffered file: classic pcap in either byte order
with micro- or nanosecond timestamps, and pcapng's section header, interface description, enhanced, simple
and (obsolete) packet blocks, with several sections and interfaces, each with its own link type, time
resolution and offset (a simple packet block has no time: it takes the previous packet's). The packets go
to ingest.pcapflows, whose records are framed like Zeek's JSON logs (parser `zeek`, topic raw.zeek), so a
capture gives the same fields on the batch path and in Kafka.

A broken container gives a dead letter with the byte position, the reason and the bytes concerned: a bad
header ends the file; a truncated last packet ends it after the flows so far; a pcapng block that holds a
bad packet is skipped and reading goes on when the block's length can still be trusted.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Iterator
from typing import BinaryIO

import orjson

from ingest.frame import Frame
from ingest.pcapflows import FlowTable, PacketItem
from socpipe.events import DeadLetter

log = logging.getLogger(__name__)

PCAP_MAGICS = {b"\xd4\xc3\xb2\xa1": ("<", 10**6), b"\xa1\xb2\xc3\xd4": (">", 10**6),
               b"\x4d\x3c\xb2\xa1": ("<", 10**9), b"\xa1\xb2\x3c\x4d": (">", 10**9)}
PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
SUFFIXES = {".pcap", ".pcapng", ".cap"}
MAX_PACKET = 262144  # Wireshark's largest packet (WTAP_MAX_PACKET_SIZE_STANDARD); longer means a broken file
MAX_BLOCK = 16 * 1024 * 1024
_CHUNK = 1 << 20
_RAW_LIMIT = 4096  # bytes of a broken header kept in its dead letter
_BYTE_ORDER = {b"\x4d\x3c\x2b\x1a": "<", b"\x1a\x2b\x3c\x4d": ">"}
_SHB, _IDB, _PB, _SPB, _EPB = 0x0A0D0D0A, 1, 2, 3, 6


def is_capture(head: bytes) -> bool:
    return head[:4] in PCAP_MAGICS or head[:4] == PCAPNG_MAGIC


def frame_pcap(origin: str, file: BinaryIO, metadata: bool = True) -> Iterator[Frame | DeadLetter]:
    """The capture's Zeek records (conn, and dns/http/ssl when `metadata`) and dead letters."""
    table = FlowTable(origin, metadata)
    for item in table.run(read_packets(origin, file)):
        if type(item) is DeadLetter:
            yield item
        else:
            index, path, document = item
            yield Frame("zeek", f"packet {index} {path}", orjson.dumps(document), document)
    log.info("%s: %d packets, %d flows, %d packets without a flow (not IP, or IP fragments after the first)",
             origin, table.packets, table.emitted, table.skipped)


def read_packets(origin: str, file: BinaryIO) -> Iterator[PacketItem | DeadLetter]:
    """(packet number from 1, byte offset, time, link type, bytes) of each packet, then a dead letter if the
    file ends in the middle of something."""
    head = file.read(24)
    if head[:4] == PCAPNG_MAGIC:
        yield from _pcapng(origin, file, head)
    elif head[:4] in PCAP_MAGICS and len(head) == 24:
        yield from _pcap(origin, file, head)
    else:
        yield DeadLetter(origin, "byte 0", "not a pcap or pcapng file: the header is too short or its magic "
                         "number is unknown", head)


def _pcap(origin: str, file: BinaryIO, head: bytes) -> Iterator[PacketItem | DeadLetter]:
    order, divisor = PCAP_MAGICS[head[:4]]
    linktype = struct.unpack_from(order + "I", head, 20)[0] & 0x0FFFFFFF  # the top bits carry FCS flags
    record = struct.Struct(order + "IIII").unpack_from
    buffer, position, base, index = b"", 0, 24, 0
    while True:
        if position + 16 > len(buffer):
            buffer, base, position = buffer[position:] + file.read(_CHUNK), base + position, 0
            if not buffer:
                return
            if len(buffer) < 16:
                yield DeadLetter(origin, f"byte {base}", f"truncated: the file ends {len(buffer)} bytes into the "
                                 f"16-byte header of packet {index + 1}", buffer)
                return
        seconds, fraction, captured, _ = record(buffer, position)
        index += 1
        if captured > MAX_PACKET:
            yield DeadLetter(origin, f"byte {base + position}", f"packet {index} claims {captured} captured bytes "
                             f"(at most {MAX_PACKET}): the file cannot be read further",
                             buffer[position:position + _RAW_LIMIT])
            return
        end = position + 16 + captured
        if end > len(buffer):
            buffer, base, position = buffer[position:] + file.read(max(_CHUNK, captured + 16)), base + position, 0
            end = 16 + captured
            if end > len(buffer):
                yield DeadLetter(origin, f"byte {base}", f"truncated: packet {index} has {captured} captured "
                                 f"bytes, the file ends after {len(buffer) - 16}", buffer)
                return
        yield index, base + position, seconds + fraction / divisor, linktype, buffer[position + 16:end]
        position = end


class _Interface:
    __slots__ = ("divisor", "linktype", "offset", "snaplen")

    def __init__(self, linktype: int, snaplen: int, divisor: int, offset: int) -> None:
        self.linktype, self.snaplen, self.divisor, self.offset = linktype, snaplen, divisor, offset


def _pcapng(origin: str, file: BinaryIO, head: bytes) -> Iterator[PacketItem | DeadLetter]:
    buffer, position, base, index, ts = head, 0, 0, 0, 0.0
    order, interfaces = "<", []
    epb = struct.Struct("<IIIII").unpack_from
    while True:
        if position + 12 > len(buffer):
            buffer, base, position = buffer[position:] + file.read(_CHUNK), base + position, 0
            if not buffer:
                return
            if len(buffer) < 12:
                yield DeadLetter(origin, f"byte {base}", f"truncated: the file ends {len(buffer)} bytes into a "
                                 "block header", buffer)
                return
        at = base + position
        kind = struct.unpack_from(order + "I", buffer, position)[0]
        if kind == _SHB:  # a new section: its own byte order and interfaces
            mark = buffer[position + 8:position + 12]
            if mark not in _BYTE_ORDER:
                yield DeadLetter(origin, f"byte {at}", "section header block with an unknown byte-order magic",
                                 buffer[position:position + _RAW_LIMIT])
                return
            order, interfaces = _BYTE_ORDER[mark], []
            epb = struct.Struct(order + "IIIII").unpack_from
        length = struct.unpack_from(order + "I", buffer, position + 4)[0]
        if length < 12 or length % 4 or length > MAX_BLOCK:
            yield DeadLetter(origin, f"byte {at}", f"block of type {kind:#x} has length {length} (a multiple of 4, "
                             f"from 12 to {MAX_BLOCK}): the file cannot be read further",
                             buffer[position:position + _RAW_LIMIT])
            return
        if position + length > len(buffer):
            buffer, base, position = buffer[position:] + file.read(max(_CHUNK, length)), at, 0
            if length > len(buffer):
                yield DeadLetter(origin, f"byte {at}", f"truncated: a block of type {kind:#x} and {length} bytes, "
                                 f"the file ends after {len(buffer)}", buffer)
                return
        block = position
        position += length
        if struct.unpack_from(order + "I", buffer, position - 4)[0] != length:
            yield DeadLetter(origin, f"byte {at}", f"block of type {kind:#x}: its trailing length differs from its "
                             f"leading length {length}: the file cannot be read further", buffer[block:position])
            return
        if kind in (_EPB, _PB, _SPB):
            index += 1
            if kind == _EPB and length >= 32:
                interface, high, low, captured, _ = epb(buffer, block + 8)
                start = block + 28
            elif kind == _PB and length >= 32:
                interface, _, high, low, captured, _ = struct.unpack_from(order + "HHIIII", buffer, block + 8)
                start = block + 28
            elif kind == _SPB and length >= 16 and interfaces:
                interface, high, low, start = 0, -1, 0, block + 12  # no time: the previous packet's
                captured = min(struct.unpack_from(order + "I", buffer, block + 8)[0],
                               interfaces[0].snaplen or MAX_PACKET, length - 16)
            else:
                yield DeadLetter(origin, f"byte {at}", f"packet {index}: a {length}-byte packet block is too short, "
                                 "or a simple packet block comes before any interface", buffer[block:position])
                continue
            if interface >= len(interfaces) or start + captured > position - 4:
                reason = (f"names interface {interface} of {len(interfaces)} in its section"
                          if interface >= len(interfaces) else f"claims {captured} bytes, more than its block holds")
                yield DeadLetter(origin, f"byte {at}", f"packet {index} {reason}", buffer[block:position])
                continue
            described = interfaces[interface]
            if high >= 0:
                ts = (high << 32 | low) / described.divisor + described.offset
            yield index, at, ts, described.linktype, buffer[start:start + captured]
        elif kind == _IDB:
            if length < 20:
                yield DeadLetter(origin, f"byte {at}", "interface description block shorter than 20 bytes",
                                 buffer[block:position])
                continue
            linktype, _, snaplen = struct.unpack_from(order + "HHI", buffer, block + 8)
            divisor, offset = _interface_options(buffer, block + 16, position - 4, order)
            interfaces.append(_Interface(linktype, snaplen, divisor, offset))


def _interface_options(buffer: bytes, position: int, end: int, order: str) -> tuple[int, int]:
    """if_tsresol (9) as units per second, and if_tsoffset (14); the defaults are microseconds and 0."""
    divisor, offset = 1_000_000, 0
    while position + 4 <= end:
        code, size = struct.unpack_from(order + "HH", buffer, position)
        value = buffer[position + 4:min(position + 4 + size, end)]
        if code == 0:
            break
        if code == 9 and value:
            divisor = 2 ** (value[0] & 0x7F) if value[0] & 0x80 else 10 ** value[0]
        elif code == 14 and len(value) == 8:
            offset = struct.unpack(order + "q", value)[0]
        position += 4 + (size + 3) // 4 * 4
    return divisor, offset
