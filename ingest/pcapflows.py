"""Captured packets into bidirectional flows, written as Zeek conn records, with the dns, http and ssl records
of their payloads, so the zeek Sigma mappings and SigmaHQ's zeek rules read them as they read Zeek's logs.

A flow is the 5-tuple in both directions; its originator sends the first packet seen (or receives the first
SYN-ACK when the capture starts there). Flows expire as softflowd's defaults do: idle for 3600 s (TCP and
other protocols), 300 s (UDP, ICMP, and TCP after a FIN each way), 120 s (TCP after a RST), or alive for a
week; expiry is checked every 60 s of capture time and at the end of the capture.

Byte convention, as Zeek's: orig_ip_bytes/resp_ip_bytes sum the IP total length of each packet (the IP
header's, not the captured length); orig_bytes/resp_bytes sum the transport payload by the IP header (Zeek
counts TCP payload by sequence numbers, so retransmitted bytes differ). Packets inside tunnels count as their
inner IP packet. Every record's position is "packet N <log>", N counted from 1 in the file: the flow's first
packet for conn, the query's (or an unasked response's) for dns, the first request bytes' for http and ssl.
"""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ingest.packets import ICMP, ICMP6, LINKTYPE_NAMES, TCP, UDP, dissect, supported
from ingest.pcapmeta import (
    DNS_PORTS,
    MORE,
    dns_message,
    http_request,
    http_status,
    looks_like_http,
    looks_like_tls,
    tls_client_hello,
)
from socpipe.events import DeadLetter

Record = tuple[int, str, dict[str, object]]  # first packet, Zeek log, the record as Zeek's JSON writer has it
PacketItem = tuple[int, int, float, int, bytes]  # packet number, byte offset, time, link type, bytes


@dataclass(frozen=True, slots=True)
class Timeouts:
    """softflowd's defaults, as `softflowd -h` (1.1.0) prints them (-t general, tcp, tcp.rst, tcp.fin, udp,
    icmp, maxlife, expint)."""

    general: float = 3600
    tcp: float = 3600
    tcp_rst: float = 120
    tcp_fin: float = 300
    udp: float = 300
    icmp: float = 300
    maxlife: float = 7 * 24 * 3600
    expint: float = 60


MAX_FLOWS = 1_000_000  # beyond this the least recently active eighth is expired early (bounded memory)
_STREAM_LIMIT = 16384  # bytes of a stream's start kept to find the first HTTP request or the ClientHello
_PENDING_SEGMENTS = 32
_PENDING_QUERIES = 256
_PROTO_NAMES = {TCP: "tcp", UDP: "udp", ICMP: "icmp", ICMP6: "icmp"}
_SYN, _HANDSHAKE, _ACK, _DATA, _FIN, _RST = 1, 2, 4, 8, 16, 32
_LETTERS = ((_SYN, "S"), (_HANDSHAKE, "H"), (_ACK, "A"), (_DATA, "D"), (_FIN, "F"), (_RST, "R"))
# History letters of each set of new flag bits, in Zeek's order: upper case from the originator.
_ORIG_LETTERS = ["".join(c for bit, c in _LETTERS if bit & mask) for mask in range(64)]
_RESP_LETTERS = [letters.lower() for letters in _ORIG_LETTERS]


def _tcp_mask(flags: int, payload: bool) -> int:
    """The history letters one TCP segment stands for (as bits): S or H, else D with payload or A for a pure
    ACK; F and R on top."""
    if flags & 2:
        mask = _HANDSHAKE if flags & 16 else _SYN
    elif payload:
        mask = _DATA
    elif flags & 16 and not flags & 5:
        mask = _ACK
    else:
        mask = 0
    return mask | (_FIN if flags & 1 else 0) | (_RST if flags & 4 else 0)


_TCP_MASKS = [_tcp_mask(index & 0x17, bool(index & 32)) for index in range(64)]  # by flags & 0x17 | 32 if payload
_BASE62 = bytes.maketrans(bytes(range(256)),
                          bytes(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"[i % 62]
                                for i in range(256)))


class _Stream:
    """The start of the originator's TCP byte stream, reassembled in sequence order from `next` (the SYN's
    sequence number + 1, or the first segment's when the capture missed the SYN); the first bytes' packet
    and time are the request's."""

    __slots__ = ("data", "index", "next", "pending", "ts")

    def __init__(self, next_seq: int) -> None:
        self.next, self.data, self.index, self.ts = next_seq & 0xFFFFFFFF, bytearray(), 0, 0.0
        self.pending: dict[int, tuple[int, float, bytes]] = {}

    def add(self, index: int, ts: float, seq: int, payload: bytes) -> None:
        ahead = (seq - self.next) & 0xFFFFFFFF
        if ahead and ahead < 0x80000000:
            if len(self.pending) < _PENDING_SEGMENTS:
                self.pending[seq] = (index, ts, payload)
            return
        self._append(index, ts, seq, payload)
        while self.next in self.pending:
            index, ts, payload = self.pending.pop(self.next)
            self._append(index, ts, self.next, payload)

    def _append(self, index: int, ts: float, seq: int, payload: bytes) -> None:
        overlap = (self.next - seq) & 0xFFFFFFFF  # bytes already had (a retransmission overlapping the end)
        if overlap < len(payload):
            if not self.data:
                self.index, self.ts = index, ts
            self.data += payload[overlap:]
            self.next = (self.next + len(payload) - overlap) & 0xFFFFFFFF


class Flow:
    __slots__ = ("dns", "dport", "dst", "first", "history", "ids", "index", "key", "last", "meta", "obytes", "oip",
                 "omask", "opkts", "proto", "rbytes", "rip", "rmask", "rpkts", "service", "sport", "src", "status",
                 "stream")

    def __init__(self, key: tuple, index: int, ts: float) -> None:
        self.key, self.index, self.first, self.last = key, index, ts, ts
        self.proto, self.src, self.dst, self.sport, self.dport = key
        self.opkts = self.oip = self.obytes = self.rpkts = self.rip = self.rbytes = self.omask = self.rmask = 0
        self.history = self.service = ""
        self.ids: dict[str, object] | None = None
        self.stream: _Stream | bool | None = None  # None: no SYN or payload yet; False: nothing (more) to find
        self.status: dict[str, object] | None = None  # the first response's HTTP status
        self.meta: dict[str, tuple[int, float, dict[str, object]]] = {}
        self.dns: dict[int, tuple[int, float, dict[str, object]]] = {}


class FlowTable:
    """Feed it the reader's packets (run): it yields the records of flows as they expire, and dead letters."""

    def __init__(self, origin: str, metadata: bool = True, timeouts: Timeouts = Timeouts(),
                 max_flows: int = MAX_FLOWS) -> None:
        self.origin, self.metadata, self.timeouts, self.max_flows = origin, metadata, timeouts, max_flows
        self.flows: dict[tuple, Flow] = {}  # both directions' keys -> the flow
        self.by_first: dict[int, Flow] = {}  # live flows by first packet number, in that order
        self.packets = self.skipped = self.emitted = 0
        self._unsupported: set[int] = set()

    def run(self, items: Iterable[PacketItem | DeadLetter]) -> Iterator[Record | DeadLetter]:
        flows, by_first, metadata = self.flows, self.by_first, self.metadata
        next_check, packets = None, 0
        for item in items:
            if type(item) is not tuple:
                yield item
                continue
            index, _, ts, linktype, data = item
            packets += 1
            if next_check is None or ts >= next_check:
                if next_check is not None:
                    yield from self._expire(ts)
                next_check = ts + self.timeouts.expint
            packet = dissect(data, linktype)
            if packet is None:
                self.skipped += 1
                if linktype not in self._unsupported and not supported(linktype):
                    self._unsupported.add(linktype)
                    yield DeadLetter(self.origin, f"packet {index}", f"link type {linktype} is not read (read: "
                                     f"{', '.join(sorted(set(LINKTYPE_NAMES.values())))}); its packets are "
                                     "skipped, this is the first", data)
                continue
            proto, src, dst, sport, dport, length, flags, seq, start, size = packet
            key = (proto, src, dst, sport, dport)
            flow = flows.get(key)
            if flow is None:
                if proto == TCP and flags & 0x12 == 0x12:  # a SYN-ACK first: its receiver opened the connection
                    flow = Flow((proto, dst, src, dport, sport), index, ts)
                else:
                    flow = Flow(key, index, ts)
                    if proto == TCP and flags & 2 and metadata:
                        flow.stream = _Stream(seq + 1)
                flows[flow.key] = flows[(proto, flow.dst, flow.src, flow.dport, flow.sport)] = flow
                by_first[index] = flow
                if len(by_first) > self.max_flows:
                    yield from self._evict()
            forward = flow.src == src and flow.sport == sport
            flow.last = ts
            mask = _TCP_MASKS[flags & 0x17 | (32 if size else 0)] if proto == TCP else _DATA
            if forward:
                flow.opkts += 1
                flow.oip += length
                flow.obytes += size
                if mask & ~flow.omask:
                    flow.history += _ORIG_LETTERS[mask & ~flow.omask]
                    flow.omask |= mask
            else:
                flow.rpkts += 1
                flow.rip += length
                flow.rbytes += size
                if mask & ~flow.rmask:
                    flow.history += _RESP_LETTERS[mask & ~flow.rmask]
                    flow.rmask |= mask
            if metadata and size:
                if proto == TCP:
                    if forward and flow.stream is not False:
                        self._stream(flow, index, ts, seq, data[start:start + size])
                    elif not forward and flow.status is None and flow.service == "http":
                        flow.status = http_status(data[start:start + 64]) or {}
                elif proto == UDP and (sport in DNS_PORTS or dport in DNS_PORTS):
                    yield from self._dns(flow, index, ts, data[start:start + size])
        self.packets = packets
        yield from self._expire(None)

    # ---- expiry ----------------------------------------------------------------------------------------

    def _expire(self, now: float | None) -> Iterator[Record]:
        """Flows idle or alive past their timeouts at `now` (all of them when None), oldest first."""
        if now is None:
            done = list(self.by_first.values())
        else:
            t = self.timeouts
            idle_since = now - min(t.general, t.tcp, t.tcp_rst, t.tcp_fin, t.udp, t.icmp)  # later: none expire
            done = [f for f in self.by_first.values() if f.last <= idle_since and now - f.last >= self._idle(f)
                    or now - f.first >= t.maxlife]
        for flow in done:
            yield from self._emit(flow)

    def _evict(self) -> Iterator[Record]:
        oldest = sorted(self.by_first.values(), key=lambda f: f.last)[:max(len(self.by_first) // 8, 1)]
        for flow in sorted(oldest, key=lambda f: f.index):
            yield from self._emit(flow)

    def _idle(self, flow: Flow) -> float:
        t = self.timeouts
        if flow.proto == TCP:
            if (flow.omask | flow.rmask) & _RST:
                return t.tcp_rst
            return t.tcp_fin if flow.omask & flow.rmask & _FIN else t.tcp
        return t.udp if flow.proto == UDP else t.icmp if flow.proto in (ICMP, ICMP6) else t.general

    def _emit(self, flow: Flow) -> Iterator[Record]:
        del self.by_first[flow.index]
        self.flows.pop(flow.key, None)
        self.flows.pop((flow.proto, flow.dst, flow.src, flow.dport, flow.sport), None)
        ids = _ids(flow)
        conn: dict[str, object] = {"_path": "conn", "ts": flow.first, **ids,
                                   "proto": _PROTO_NAMES.get(flow.proto, "unknown_transport")}
        if flow.service:
            conn["service"] = flow.service
        conn |= {"duration": round(flow.last - flow.first, 6), "orig_bytes": flow.obytes,
                 "resp_bytes": flow.rbytes, "conn_state": _conn_state(flow)}
        if flow.history:
            conn["history"] = flow.history
        conn |= {"orig_pkts": flow.opkts, "orig_ip_bytes": flow.oip, "resp_pkts": flow.rpkts,
                 "resp_ip_bytes": flow.rip}
        self.emitted += 1
        yield flow.index, "conn", conn
        for log, (index, ts, fields) in flow.meta.items():
            if log == "http" and flow.status:
                fields = fields | flow.status
            yield index, log, {"_path": log, "ts": ts, **ids, **fields}
        for index, ts, query in flow.dns.values():
            yield index, "dns", _dns_record(ts, ids, query, None)

    # ---- metadata --------------------------------------------------------------------------------------

    def _stream(self, flow: Flow, index: int, ts: float, seq: int, payload: bytes) -> None:
        stream = flow.stream
        if stream is None:
            stream = flow.stream = _Stream(seq)
        stream.add(index, ts, seq, payload)
        if not stream.data:
            return  # segments after a gap: wait for the first bytes
        data = bytes(stream.data)
        if looks_like_http(data):
            fields = http_request(data)
            if fields is not None:
                flow.meta["http"], flow.service, flow.stream = (stream.index, stream.ts, fields), "http", False
                return
        elif not looks_like_tls(data):
            flow.stream = False
            return
        else:
            hello = tls_client_hello(data)
            if isinstance(hello, dict):
                flow.meta["ssl"], flow.service, flow.stream = (stream.index, stream.ts, hello), "ssl", False
                return
            if hello != MORE:
                flow.stream = False
                return
        if len(data) > _STREAM_LIMIT:
            flow.stream = False

    def _dns(self, flow: Flow, index: int, ts: float, payload: bytes) -> Iterator[Record]:
        message = dns_message(payload)
        if message is None:
            return
        flow.service = "dns"
        if not message["response"]:
            if len(flow.dns) >= _PENDING_QUERIES:  # unanswered for long: written without an answer
                first = next(iter(flow.dns))
                q_index, q_ts, query = flow.dns.pop(first)
                yield q_index, "dns", _dns_record(q_ts, _ids(flow), query, None)
            flow.dns.pop(message["trans_id"], None)
            flow.dns[message["trans_id"]] = (index, ts, message)
            return
        asked = flow.dns.pop(message["trans_id"], None)
        if asked is None:
            yield index, "dns", _dns_record(ts, _ids(flow), message, message)
        else:
            q_index, q_ts, query = asked
            yield q_index, "dns", _dns_record(q_ts, _ids(flow), query, message, round(ts - q_ts, 6))


def _ids(flow: Flow) -> dict[str, object]:
    """The uid (like Zeek's: C and base62, here a hash of the flow's first packet and key) and the id fields."""
    if flow.ids is None:
        digest = hashlib.blake2b(repr((flow.first, flow.index, flow.key)).encode(), digest_size=16).digest()
        flow.ids = {"uid": "C" + digest.translate(_BASE62).decode(), "id.orig_h": _address(flow.src),
                    "id.orig_p": flow.sport, "id.resp_h": _address(flow.dst), "id.resp_p": flow.dport}
    return flow.ids


def _address(raw: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6, raw)


def _dns_record(ts: float, ids: dict[str, object], query: dict[str, object], response: dict[str, object] | None,
                rtt: float | None = None) -> dict[str, object]:
    record: dict[str, object] = {"_path": "dns", "ts": ts, **ids, "proto": "udp", "trans_id": query["trans_id"]}
    if rtt is not None:
        record["rtt"] = rtt
    record |= {name: query[name] for name in ("query", "qclass", "qclass_name", "qtype", "qtype_name")}
    flags = response or query
    if response is not None:
        record |= {"rcode": response["rcode"], "rcode_name": response["rcode_name"]}
    record |= {name: flags[name] for name in ("AA", "TC", "RD", "RA", "Z")}
    if response is not None and "answers" in response:
        record |= {"answers": response["answers"], "TTLs": response["TTLs"]}
    record["rejected"] = response is not None and response["rcode"] == 5
    return record


def _conn_state(flow: Flow) -> str:
    """Zeek's conn_state from the TCP flags seen each way (SF for UDP/ICMP with a reply, S0 without)."""
    orig, resp = flow.omask, flow.rmask
    if flow.proto != TCP:
        return "SF" if flow.rpkts else "S0"
    if not orig & _SYN:
        if resp & _HANDSHAKE:
            return "RSTRH" if resp & _RST else "SHR" if resp & _FIN else "OTH"
        return "OTH"
    if not resp & _HANDSHAKE:
        if resp & _RST:
            return "REJ"
        return "RSTOS0" if orig & _RST else "SH" if orig & _FIN else "S0"
    if orig & _RST:
        return "RSTO"
    if resp & _RST:
        return "RSTR"
    if orig & _FIN and resp & _FIN:
        return "SF"
    return "S2" if orig & _FIN else "S3" if resp & _FIN else "S1"
