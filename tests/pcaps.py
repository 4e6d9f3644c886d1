"""Small pcap files for the network tests: conversations between documentation addresses with the
per-direction packet and byte counts they hold, softflowd reading them, and the encapsulations the pcap
reader unwraps (the capture builder itself is socpipe/dev/capture.py)."""

from __future__ import annotations

import random
import socket
import struct
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

from socpipe.dev.capture import MACS, Direction, ethernet, ethertype, ip4, udp


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
            ip = ip4(src, dst, proto, segment)
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


def exported(start: Callable[[int], subprocess.Popen[bytes]], seconds: float = 30.0) -> Iterator[tuple[bytes, str]]:
    """The datagrams of an exporter that `start(port)` runs against a socket on 127.0.0.1, each with its sender
    as HOST:PORT, until the exporter has exited (with status 0) and its last datagrams are read."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.bind(("127.0.0.1", 0))
        receiver.settimeout(0.5)
        run = start(receiver.getsockname()[1])
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                data, sender = receiver.recvfrom(65535)
            except TimeoutError:
                if run.poll() is not None:
                    break
                continue
            yield data, f"{sender[0]}:{sender[1]}"
    assert run.wait(10) == 0, run.args


def softflowd(pcap: Path, port: int, version: int, tag: str = "0") -> subprocess.Popen[bytes]:
    """Debian's softflowd reading the pcap and exporting NetFlow `version` (5, 9, 10 = IPFIX) to 127.0.0.1:port;
    it exits at the end of the file."""
    return subprocess.Popen(["softflowd", "-r", str(pcap), "-n", f"127.0.0.1:{port}", "-v", str(version), "-d",
                             "-p", str(pcap.with_suffix(f".{tag}.pid"))],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# Encapsulations: each takes the inner IP packet and gives an Ethernet frame; ENCAP_OVERHEAD is what it adds
# to the inner packet's bytes (for comparing frame bytes with IP bytes).
def vlan(ip: bytes) -> bytes:
    return MACS + b"\x81\x00\x00\x64" + ethertype(ip) + ip


def qinq(ip: bytes) -> bytes:
    return MACS + b"\x88\xa8\x00\x0a\x81\x00\x00\x64" + ethertype(ip) + ip


def pppoe(ip: bytes) -> bytes:
    protocol = b"\x00\x57" if ip[0] >> 4 == 6 else b"\x00\x21"
    return MACS + b"\x88\x64" + struct.pack("!BBHH", 0x11, 0, 0x1234, len(ip) + 2) + protocol + ip


def gre(ip: bytes) -> bytes:  # with a key, between two routers
    return ethernet(ip4("203.0.113.1", "203.0.113.2", 47, b"\x20\x00" + ethertype(ip) + b"\0\0\0\x2a" + ip))


def vxlan(ip: bytes) -> bytes:
    inner = ethernet(ip)
    return ethernet(ip4("203.0.113.3", "203.0.113.4", 17, udp(49152, 4789, b"\x08\0\0\0\0\x01\x00\x00" + inner)))


ENCAPSULATIONS = {"ethernet": ethernet, "vlan": vlan, "qinq": qinq, "pppoe": pppoe, "gre": gre, "vxlan": vxlan}
ENCAP_OVERHEAD = {"ethernet": 14, "vlan": 18, "qinq": 22, "pppoe": 22, "gre": 14 + 20 + 8,
                  "vxlan": 14 + 20 + 8 + 8 + 14}


