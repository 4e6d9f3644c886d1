"""Property-based fuzzing (hypothesis) of the pcap reader: arbitrary bytes behind either container's magic,
valid captures with bytes flipped, inserted or cut, and valid containers of arbitrary packets (every link
type read, DNS/HTTP/TLS ports) never raise; every record comes out as a Zeek record the zeek parser reads
or as a dead letter whose bytes are the file's at its position; a classic capture read without a dead
letter was read to its last byte.

Budget: SOCPIPE_FUZZ_EXAMPLES examples per property (default 150, as tests/test_fuzz.py).
"""

from __future__ import annotations

import io
import os
import struct
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.frame import Frame, parse_frame
from ingest.pcap import PCAP_MAGICS, PCAPNG_MAGIC, frame_pcap, read_packets
from socpipe.dev.capture import Capture, client_hello, dns_answer, dns_query, tcp, udp
from socpipe.events import DeadLetter, Event

BUDGET = settings(max_examples=int(os.environ.get("SOCPIPE_FUZZ_EXAMPLES", "150")), deadline=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
_LINKTYPES = [0, 1, 12, 101, 113, 228, 229, 276, 105]
_SEQUENCE_NUMBERS = st.sampled_from([0, 1, 5, 20, 2**32 - 3]) | st.integers(0, 2**32 - 1)  # near ones collide


def _sample(tmp: Path, kind: str) -> bytes:
    capture = Capture()
    capture.tcp_session("10.0.0.1", "10.0.0.2", 40000, 80, [b"GET /a HTTP/1.1\r\nHo", b"st: x\r\n\r\n"],
                        b"HTTP/1.1 200")
    capture.tcp_session("10.0.0.1", "10.0.0.3", 40001, 443, [client_hello("x.example")])
    capture.dns("10.0.0.1", "10.0.0.53", 40002, "q.example", 7, ["192.0.2.1"])
    path = tmp / f"s.{kind}"
    capture.write_pcapng(path) if kind == "pcapng" else capture.write_pcap(path, big_endian=kind == "pcap-be")
    return path.read_bytes()


_SAMPLES: dict[str, bytes] = {}


def _valid(kind: str) -> bytes:
    if kind not in _SAMPLES:
        import tempfile

        with tempfile.TemporaryDirectory() as scratch:
            _SAMPLES[kind] = _sample(Path(scratch), kind)
    return _SAMPLES[kind]


def _check(data: bytes) -> list[Frame | DeadLetter]:
    """Read it all; every frame a Zeek record, every dead letter's bytes the file's at its byte position."""
    items = list(frame_pcap("fuzz", io.BytesIO(data)))
    for item in items:
        if isinstance(item, DeadLetter):
            assert item.reason and item.position.startswith(("byte ", "packet "))
            if item.position.startswith("byte "):
                at = int(item.position.removeprefix("byte "))
                assert 0 <= at <= len(data) and data[at:at + len(item.raw)] == item.raw
        else:
            event = parse_frame("fuzz", item)
            assert isinstance(event, Event) and event.kind in {"zeek_conn", "zeek_dns", "zeek_http", "zeek_ssl"}
    if data[:4] in PCAP_MAGICS and len(data) >= 24 and not any(isinstance(i, DeadLetter) for i in items):
        packets = [p for p in read_packets("fuzz", io.BytesIO(data)) if not isinstance(p, DeadLetter)]
        assert 24 + sum(16 + len(p[4]) for p in packets) == len(data)  # read to the last byte
    return items


@BUDGET
@given(st.sampled_from([*PCAP_MAGICS, PCAPNG_MAGIC, b""]), st.binary(max_size=600))
def test_arbitrary_bytes_behind_a_magic(magic: bytes, rest: bytes) -> None:
    _check(magic + rest)


@BUDGET
@given(st.sampled_from(["pcap", "pcap-be", "pcapng"]), st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)),
                                                               max_size=6),
       st.integers(0, 10**6), st.booleans())
def test_valid_captures_with_bytes_flipped_or_cut(kind: str, flips, cut: int, insert: bool) -> None:
    data = bytearray(_valid(kind))
    for where, value in flips:
        if insert:
            data.insert(where % (len(data) + 1), value)
        else:
            data[where % len(data)] = value
    _check(bytes(data[:len(data) - cut % 200]))


def _packet_payloads() -> st.SearchStrategy[bytes]:
    """Transport payloads shaped like DNS, HTTP and TLS starts, or anything."""
    return st.one_of(
        st.binary(max_size=300),
        st.builds(lambda q, cut: (q + dns_answer(q, ["192.0.2.9"]))[:cut],
                  st.builds(dns_query, st.from_regex(r"[a-z]{1,8}(\.[a-z]{1,8}){0,3}", fullmatch=True),
                            st.integers(0, 65535)), st.integers(0, 200)),
        st.builds(lambda head, tail: b"GET " + head + b"\r\n\r\n" + tail, st.binary(max_size=80),
                  st.binary(max_size=20)),
        st.builds(lambda name, cut: client_hello(name)[:cut], st.from_regex(r"[a-z.]{0,30}", fullmatch=True),
                  st.integers(0, 120)),
    )


@BUDGET
@given(st.sampled_from(_LINKTYPES), st.lists(st.tuples(st.sampled_from(["tcp", "udp", "raw"]), _packet_payloads(),
                                                       st.integers(0, 0xFF), st.sampled_from([53, 80, 443, 4789, 9]),
                                                       _SEQUENCE_NUMBERS),
                                             min_size=1, max_size=8))
def test_arbitrary_packets_in_a_valid_container(linktype: int, packets) -> None:
    """Segments with any flags and sequence numbers (out of order, overlapping, wrapping) reach reassembly."""
    capture = Capture(encapsulate=lambda ip: ip)
    for kind, payload, flags, port, seq in packets:
        if kind == "tcp":
            capture.send("10.0.0.1", "10.0.0.2", 6, tcp(40000, port, seq, 0, flags, payload), 40000, port)
        elif kind == "udp":
            capture.send("10.0.0.2", "10.0.0.1", 17, udp(port, 40000, payload), port, 40000)
        else:
            capture.frames.append((capture.clock, payload))
    frames = [frame if linktype in (12, 101, 228, 229) else _link_header(linktype) + frame
              for _, frame in capture.frames]
    data = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, linktype)
    data += b"".join(struct.pack("<IIII", 1_773_453_600 + i, 0, len(f), len(f)) + f for i, f in enumerate(frames))
    items = _check(data)
    if linktype == 105:
        assert [i.position for i in items if isinstance(i, DeadLetter)] == ["packet 1"]


def _link_header(linktype: int) -> bytes:
    return {0: b"\x02\0\0\0", 1: b"\x02\0\0\0\0\x01\x02\0\0\0\0\x02\x08\x00", 113: b"\0" * 14 + b"\x08\x00",
            276: b"\x08\x00" + b"\0" * 18, 105: b"\0" * 24}[linktype]
