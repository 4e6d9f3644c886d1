"""Packet captures written byte by byte: Ethernet, IPv4/IPv6, TCP and UDP with DNS, HTTP and TLS payloads, in
classic pcap or pcapng. The demo's sensor capture is made with it, and the pcap reader's tests build theirs
(tests/pcaps.py adds the encapsulations)."""

from __future__ import annotations

import ipaddress
import struct
from collections import Counter
from collections.abc import Callable
from pathlib import Path

Direction = tuple[str, str, int, int, int]  # src ip, dst ip, src port, dst port, protocol


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ip4(src: str, dst: str, proto: int, payload: bytes) -> bytes:
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, 0x4000, 64, proto, 0,
                         bytes(map(int, src.split("."))), bytes(map(int, dst.split("."))))
    return header[:10] + struct.pack("!H", _checksum(header)) + header[12:] + payload


ETHER_IP4, ETHER_IP6 = b"\x08\x00", b"\x86\xdd"
MACS = b"\x02\0\0\0\0\x01\x02\0\0\0\0\x02"


def ip6(src: str, dst: str, proto: int, payload: bytes) -> bytes:
    return (struct.pack("!IHBB", 6 << 28, len(payload), proto, 64) + ipaddress.IPv6Address(src).packed
            + ipaddress.IPv6Address(dst).packed + payload)


def ip_packet(src: str, dst: str, proto: int, payload: bytes) -> bytes:
    return ip6(src, dst, proto, payload) if ":" in src else ip4(src, dst, proto, payload)


def tcp(sport: int, dport: int, seq: int, ack: int, flags: int, payload: bytes = b"") -> bytes:
    header = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 0x50, flags, 65535, 0, 0)
    return header + payload


def udp(sport: int, dport: int, payload: bytes) -> bytes:
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def ethertype(ip: bytes) -> bytes:
    return ETHER_IP6 if ip[0] >> 4 == 6 else ETHER_IP4


def ethernet(ip: bytes) -> bytes:
    return MACS + ethertype(ip) + ip


class Capture:
    """Packets with times, and per direction (src, dst, sport, dport, proto) their packets and IP bytes."""

    def __init__(self, start: float = 1_773_453_600.0,
                 encapsulate: Callable[[bytes], bytes] = ethernet) -> None:
        self.clock, self.encapsulate = start, encapsulate
        self.frames: list[tuple[float, bytes]] = []
        self.packets: Counter[Direction] = Counter()
        self.octets: Counter[Direction] = Counter()

    def send(self, src: str, dst: str, proto: int, segment: bytes, sport: int, dport: int, gap: float = 0.01) -> None:
        ip = ip_packet(src, dst, proto, segment)
        self.clock += gap
        self.frames.append((self.clock, self.encapsulate(ip)))
        self.packets[(src, dst, sport, dport, proto)] += 1
        self.octets[(src, dst, sport, dport, proto)] += len(ip)

    def tcp_session(self, client: str, server: str, sport: int, dport: int, requests: list[bytes],
                    response: bytes = b"", order: list[int] | None = None, close: bool = True) -> None:
        """Handshake, the request segments (sent in `order`, default as given), a response, FIN both ways."""
        c, s = 1000, 5000
        self.send(client, server, 6, tcp(sport, dport, c, 0, 0x02), sport, dport)
        self.send(server, client, 6, tcp(dport, sport, s, c + 1, 0x12), dport, sport)
        self.send(client, server, 6, tcp(sport, dport, c + 1, s + 1, 0x10), sport, dport)
        starts = [c + 1 + sum(len(r) for r in requests[:i]) for i in range(len(requests))]
        for i in order or range(len(requests)):
            self.send(client, server, 6, tcp(sport, dport, starts[i], s + 1, 0x18, requests[i]), sport, dport)
        c += 1 + sum(len(r) for r in requests)
        if response:
            self.send(server, client, 6, tcp(dport, sport, s + 1, c, 0x18, response), dport, sport)
        s += 1 + len(response)
        if close:
            self.send(client, server, 6, tcp(sport, dport, c, s, 0x11), sport, dport)
            self.send(server, client, 6, tcp(dport, sport, s, c + 1, 0x11), dport, sport)
            self.send(client, server, 6, tcp(sport, dport, c + 1, s + 1, 0x10), sport, dport)

    def dns(self, client: str, server: str, sport: int, name: str, trans_id: int, answers: list[str],
            rcode: int = 0) -> None:
        query = dns_query(name, trans_id)
        self.send(client, server, 17, udp(sport, 53, query), sport, 53)
        self.send(server, client, 17, udp(53, sport, dns_answer(query, answers, rcode)), 53, sport)

    def write_pcap(self, path: Path, big_endian: bool = False, nanoseconds: bool = False, snaplen: int = 65535) -> None:
        order = ">" if big_endian else "<"
        scale = 1e9 if nanoseconds else 1e6
        with path.open("wb") as out:
            out.write(struct.pack(order + "IHHiIII", 0xA1B23C4D if nanoseconds else 0xA1B2C3D4, 2, 4, 0, 0,
                                  snaplen, 1))
            for stamp, frame in self.frames:
                seconds = int(stamp)
                fraction = round((stamp - seconds) * scale)
                out.write(struct.pack(order + "IIII", seconds, fraction, len(frame), len(frame)) + frame)

    def write_pcapng(self, path: Path, interfaces: int = 2, big_endian: bool = False) -> None:
        """One section; packets dealt to `interfaces` Ethernet interfaces in turn (the last in nanoseconds),
        every third one as an enhanced packet block on interface 0 written as a simple packet block."""
        order = ">" if big_endian else "<"

        def block(kind: int, body: bytes) -> bytes:
            body += b"\0" * (-len(body) % 4)
            return struct.pack(order + "II", kind, len(body) + 12) + body + struct.pack(order + "I", len(body) + 12)

        with path.open("wb") as out:
            out.write(block(0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1)))
            for n in range(interfaces):
                options = struct.pack(order + "HHB3x", 9, 1, 9) if n == interfaces - 1 and n else b""
                out.write(block(1, struct.pack(order + "HHI", 1, 0, 65535) + options + b"\0\0\0\0" * bool(options)))
            out.write(block(4, b"\0\0\0\0"))  # a name resolution block, skipped
            for i, (stamp, frame) in enumerate(self.frames):
                interface = i % interfaces
                if interface == 0 and i % 3 == 2:
                    out.write(block(3, struct.pack(order + "I", len(frame)) + frame))
                    continue
                units = round(stamp * (1e9 if interface == interfaces - 1 and interface else 1e6))
                out.write(block(6, struct.pack(order + "IIIII", interface, units >> 32, units & 0xFFFFFFFF,
                                               len(frame), len(frame)) + frame))


def dns_query(name: str, trans_id: int, qtype: int = 1) -> bytes:
    labels = b"".join(bytes([len(part)]) + part.encode() for part in name.split(".")) + b"\0"
    return struct.pack("!HHHHHH", trans_id, 0x0100, 1, 0, 0, 0) + labels + struct.pack("!HH", qtype, 1)


def dns_answer(query: bytes, answers: list[str], rcode: int = 0) -> bytes:
    records = b"".join(b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + bytes(map(int, a.split(".")))
                       for a in answers)
    return struct.pack("!HHHHHH", struct.unpack("!H", query[:2])[0], 0x8180 | rcode, 1, len(answers), 0, 0) + \
        query[12:] + records


def client_hello(server_name: str, padding: int = 0) -> bytes:
    """A TLS 1.2 record holding a ClientHello with the server_name extension (and a padding extension)."""
    name = server_name.encode()
    sni = struct.pack("!HHHBH", 0, len(name) + 5, len(name) + 3, 0, len(name)) + name
    pad = struct.pack("!HH", 21, padding) + b"\0" * padding if padding else b""
    extensions = sni + pad
    body = (b"\x03\x03" + bytes(32) + b"\x00" + b"\x00\x04\x13\x01\xc0\x2f" + b"\x01\x00"
            + struct.pack("!H", len(extensions)) + extensions)
    handshake = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + struct.pack("!H", len(handshake)) + handshake
