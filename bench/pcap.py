"""pcap reader throughput: packets/s for reading a capture into flows (Zeek conn records), and with the dns,
http and ssl metadata, on one core.

    .venv/bin/python -m bench.pcap [--packets 1000000] [--out DIR]

Writes a reproducible classic pcap (tests/pcaps.py's builder, seed 1) of about --packets packets: TCP
sessions with an HTTP request (some split across segments) or a TLS ClientHello and a response, and DNS
lookups with answers, between a few thousand hosts. Then reads it three times in this process (container
only; + flows; + flows and metadata) and prints packets per CPU-second (time.process_time) for each.
"""

from __future__ import annotations

import argparse
import random
import struct
import sys
import tempfile
import time
from pathlib import Path

from ingest.pcap import frame_pcap, read_packets

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from pcaps import Capture, client_hello, tcp  # noqa: E402


def write_capture(path: Path, packets: int, seed: int = 1) -> int:
    """The capture, written session by session; returns the packets written."""
    rng = random.Random(seed)
    written, clock = 0, 1_773_453_600.0
    with path.open("wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        while written < packets:
            capture = Capture(clock)
            for _ in range(200):
                _session(capture, rng)
            for stamp, frame in capture.frames:
                seconds = int(stamp)
                out.write(struct.pack("<IIII", seconds, round((stamp - seconds) * 1e6), len(frame), len(frame)))
                out.write(frame)
            written += len(capture.frames)
            clock = capture.clock
    return written


def _session(capture: Capture, rng: random.Random) -> None:
    client = f"10.{rng.randrange(20, 30)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
    server = f"198.51.100.{rng.randrange(1, 255)}"
    sport = rng.randrange(1024, 65535)
    kind = rng.random()
    if kind < 0.3:
        capture.dns(client, "10.20.0.2", sport, f"host{rng.randrange(5000)}.example.org", rng.randrange(65536),
                    [f"198.51.100.{rng.randrange(1, 255)}"])
        return
    body = bytes(rng.randrange(256) for _ in range(rng.randrange(200, 1400)))
    if kind < 0.7:
        request = (f"GET /page/{rng.randrange(10**6)} HTTP/1.1\r\nHost: www{rng.randrange(100)}.example.org\r\n"
                   "User-Agent: Mozilla/5.0\r\n\r\n").encode()
        cut = rng.randrange(10, len(request) - 10)
        requests, port = ([request[:cut], request[cut:]] if rng.random() < 0.3 else [request]), 80
        response = b"HTTP/1.1 200 OK\r\n\r\n" + body
    else:
        requests, port, response = [client_hello(f"cdn{rng.randrange(100)}.example.net")], 443, body
    capture.tcp_session(client, server, sport, port, requests, response)
    for _ in range(rng.randrange(0, 6)):  # more of the response
        capture.send(server, client, 6, tcp(port, sport, 0, 0, 0x10, body[:rng.randrange(100, 1200)]), port, sport,
                     gap=0.001)


def _rate(path: Path, read) -> tuple[float, int]:
    start = time.process_time()
    with path.open("rb") as file:
        count = read(file)
    return time.process_time() - start, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--packets", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, help="directory for the capture (default: a temporary one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        path = (args.out or Path(scratch)) / "bench.pcap"
        started = time.monotonic()
        packets = write_capture(path, args.packets)
        print(f"capture: {packets} packets, {path.stat().st_size / 1e6:.0f} MB, written in "
              f"{time.monotonic() - started:.0f} s")
        for label, read in (
                ("container only", lambda f: sum(1 for _ in read_packets(str(path), f))),
                ("reading + flows (conn)", lambda f: sum(1 for _ in frame_pcap(str(path), f, metadata=False))),
                ("reading + flows + dns/http/ssl", lambda f: sum(1 for _ in frame_pcap(str(path), f)))):
            seconds, records = _rate(path, read)
            print(f"{label}: {packets / seconds:,.0f} packets per CPU-second ({records} records, {seconds:.1f} s)")


if __name__ == "__main__":
    main()
