"""Small pcap files written byte by byte for the network tests: Ethernet, IPv4, TCP and UDP conversations
between documentation addresses, with the per-direction packet and byte counts they hold."""

from __future__ import annotations

import random
import struct
import subprocess
from collections import Counter
from pathlib import Path

Direction = tuple[str, str, int, int, int]  # src ip, dst ip, src port, dst port, protocol


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _ip(src: str, dst: str, proto: int, payload: bytes) -> bytes:
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, 0x4000, 64, proto, 0,
                         bytes(map(int, src.split("."))), bytes(map(int, dst.split("."))))
    return header[:10] + struct.pack("!H", _checksum(header)) + header[12:] + payload


def write_pcap(path: Path, conversations: int = 6, seed: int = 1) -> tuple[Counter[Direction], Counter[Direction]]:
    """Write the pcap; returns packets and IP bytes per direction."""
    rng = random.Random(seed)
    packets: Counter[Direction] = Counter()
    octets: Counter[Direction] = Counter()
    frames = []
    clock = 1_773_453_600.0  # 2026-03-14 02:00 UTC
    for n in range(conversations):
        client, server = f"198.51.100.{10 + n}", f"192.0.2.{20 + n % 3}"
        proto = 17 if n == conversations - 1 else 6
        sport, dport = 40000 + n, 53 if proto == 17 else (443, 22, 3389)[n % 3]
        for i in range(rng.randrange(4, 12)):
            forward = i % 2 == 0
            src, dst, sp, dp = (client, server, sport, dport) if forward else (server, client, dport, sport)
            body = bytes(rng.randrange(256) for _ in range(rng.randrange(40, 600)))
            if proto == 6:
                flags = 0x02 if i == 0 else 0x18
                segment = struct.pack("!HHIIBBHHH", sp, dp, i, 0, 0x50, flags, 65535, 0, 0) + body
            else:
                segment = struct.pack("!HHHH", sp, dp, 8 + len(body), 0) + body
            ip = _ip(src, dst, proto, segment)
            key = (src, dst, sp, dp, proto)
            packets[key] += 1
            octets[key] += len(ip)
            clock += 0.01
            frames.append((clock, b"\x02\0\0\0\0\x01\x02\0\0\0\0\x02\x08\x00" + ip))
    with path.open("wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for stamp, frame in frames:
            out.write(struct.pack("<IIII", int(stamp), int(stamp % 1 * 1e6), len(frame), len(frame)) + frame)
    return packets, octets


def softflowd(pcap: Path, port: int, version: int, tag: str = "0") -> subprocess.Popen[bytes]:
    """Debian's softflowd reading the pcap and exporting NetFlow `version` (5, 9, 10 = IPFIX) to 127.0.0.1:port;
    it exits at the end of the file."""
    return subprocess.Popen(["softflowd", "-r", str(pcap), "-n", f"127.0.0.1:{port}", "-v", str(version), "-d",
                             "-p", str(pcap.with_suffix(f".{tag}.pid"))],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
