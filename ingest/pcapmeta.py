"""Protocol metadata out of packet payloads, in the fields of Zeek's dns, http and ssl logs.

DNS messages (UDP), the first HTTP request of a TCP stream (request line and headers, once reassembled) and
the server name of a TLS ClientHello. Each parser takes bytes and returns fields, or None when the bytes are
not that protocol; none of them raises on hostile bytes.
"""

from __future__ import annotations

import socket
import struct

DNS_PORTS = {53, 5353, 5355}
HTTP_METHODS = (b"GET ", b"POST ", b"HEAD ", b"PUT ", b"DELETE ", b"OPTIONS ", b"CONNECT ", b"PATCH ", b"TRACE ",
                b"PROPFIND ", b"PROPPATCH ", b"MKCOL ", b"COPY ", b"MOVE ", b"LOCK ", b"UNLOCK ", b"SEARCH ")
MORE = "more"  # the bytes so far are the start of a ClientHello: wait for the next segment

# Zeek's names (base/protocols/dns/consts.zeek); other values give Zeek's query-N / unknown-N.
QTYPE_NAMES = {1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 13: "HINFO", 15: "MX", 16: "TXT", 28: "AAAA",
               33: "SRV", 35: "NAPTR", 39: "DNAME", 41: "OPT", 43: "DS", 46: "RRSIG", 47: "NSEC", 48: "DNSKEY",
               50: "NSEC3", 52: "TLSA", 64: "SVCB", 65: "HTTPS", 99: "SPF", 251: "IXFR", 252: "AXFR", 255: "*",
               257: "CAA"}
RCODE_NAMES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED", 6: "YXDOMAIN",
               7: "YXRRSET", 8: "NXRRSET", 9: "NOTAUTH", 10: "NOTZONE", 16: "BADVERS"}
QCLASS_NAMES = {1: "C_INTERNET", 3: "C_CHAOS", 4: "C_HESIOD", 254: "C_NONE", 255: "C_ANY"}
_NAME_ANSWERS = {2, 5, 12, 39}  # NS, CNAME, PTR, DNAME: the answer is a name
_MAX_ANSWERS = 64
_MAX_POINTERS = 32
_HEADER = struct.Struct("!HHHHHH").unpack_from
_RR = struct.Struct("!HHIH").unpack_from
_PAIR = struct.Struct("!HH").unpack_from


class _Bad(Exception):
    """Bytes that do not hold the message they start like."""


# ---- DNS ---------------------------------------------------------------------------------------------

def dns_message(payload: bytes) -> dict[str, object] | None:
    """A DNS query or response: its id, flags, first question and answers (Zeek's names), or None."""
    try:
        return _dns(payload)
    except (_Bad, IndexError, struct.error, UnicodeDecodeError):
        return None


def _dns(payload: bytes) -> dict[str, object] | None:
    trans_id, flags, questions, answers, _, _ = _HEADER(payload, 0)
    if questions != 1 or flags & 0x7800:  # standard queries of one question, as resolvers send
        return None
    name, offset = _name(payload, 12)
    qtype, qclass = _PAIR(payload, offset)
    offset += 4
    rcode = flags & 15
    message: dict[str, object] = {
        "response": bool(flags & 0x8000), "trans_id": trans_id, "query": name, "qclass": qclass,
        "qclass_name": QCLASS_NAMES.get(qclass, f"unknown-{qclass}"), "qtype": qtype,
        "qtype_name": QTYPE_NAMES.get(qtype, f"query-{qtype}"), "rcode": rcode,
        "rcode_name": RCODE_NAMES.get(rcode, f"unknown-{rcode}"), "AA": bool(flags & 0x400), "TC": bool(flags & 0x200),
        "RD": bool(flags & 0x100), "RA": bool(flags & 0x80), "Z": flags >> 4 & 7,
    }
    if message["response"]:
        data, ttls = [], []
        for _ in range(min(answers, _MAX_ANSWERS)):
            _, offset = _name(payload, offset)
            rtype, _, ttl, length = _RR(payload, offset)
            offset += 10
            if offset + length > len(payload):
                raise _Bad
            data.append(_rdata(payload, offset, rtype, length))
            ttls.append(float(ttl))
            offset += length
        if data:
            message["answers"], message["TTLs"] = data, ttls
    return message


def _rdata(payload: bytes, offset: int, rtype: int, length: int) -> str:
    """An answer as Zeek writes it: addresses, names, TXT with its length, or <unknown type=N>."""
    if rtype == 1 and length == 4:
        return socket.inet_ntop(socket.AF_INET, payload[offset:offset + 4])
    if rtype == 28 and length == 16:
        return socket.inet_ntop(socket.AF_INET6, payload[offset:offset + 16])
    if rtype in _NAME_ANSWERS:
        return _name(payload, offset)[0]
    if rtype == 15:
        return _name(payload, offset + 2)[0]
    if rtype == 33:
        return _name(payload, offset + 6)[0]
    if rtype == 6:
        return _name(payload, offset)[0]
    if rtype == 16:
        texts, end = [], offset + length
        while offset < end:
            size = payload[offset]
            text = payload[offset + 1:offset + 1 + size].decode("ascii", "backslashreplace")
            texts.append(f"TXT {len(text)} {text}")
            offset += 1 + size
        return " ".join(texts)
    return f"<unknown type={rtype}>"


def _name(payload: bytes, offset: int) -> tuple[str, int]:
    """A (possibly compressed) domain name and the offset just after it (after its first pointer, if any)."""
    labels: list[str] = []
    after, jumps = -1, 0
    while True:
        size = payload[offset]
        if size == 0:
            offset += 1
            break
        if size & 0xC0 == 0xC0:
            jumps += 1
            if jumps > _MAX_POINTERS:
                raise _Bad
            if after < 0:
                after = offset + 2
            offset = (size & 0x3F) << 8 | payload[offset + 1]
            continue
        if size & 0xC0:
            raise _Bad
        label = payload[offset + 1:offset + 1 + size]
        if len(label) != size:
            raise _Bad
        labels.append(label.decode("ascii", "backslashreplace"))
        offset += 1 + size
    return ".".join(labels), after if after >= 0 else offset


# ---- HTTP --------------------------------------------------------------------------------------------

def looks_like_http(start: bytes) -> bool:
    return start.startswith(HTTP_METHODS)


def http_request(stream: bytes) -> dict[str, object] | None:
    """The request line and headers of a complete request head (up to the blank line), or None."""
    head, found, _ = stream.partition(b"\r\n\r\n")
    if not found:
        return None
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        return None
    fields: dict[str, object] = {"trans_depth": 1, "method": parts[0], "uri": parts[1],
                                 "version": parts[2].removeprefix("HTTP/")}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        header = name.strip().lower()
        if colon and header in _HTTP_HEADERS and _HTTP_HEADERS[header] not in fields:
            fields[_HTTP_HEADERS[header]] = value.strip()
    return fields


_HTTP_HEADERS = {"host": "host", "user-agent": "user_agent", "referer": "referrer", "origin": "origin"}


def http_status(start: bytes) -> dict[str, object] | None:
    """The status of a response from its first bytes (status line only)."""
    line = start.split(b"\r\n", 1)[0].decode("latin-1")
    parts = line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not (len(parts[1]) == 3 and parts[1].isascii()
                                                                  and parts[1].isdigit()):
        return None
    return {"status_code": int(parts[1]), "status_msg": parts[2] if len(parts) > 2 else ""}


# ---- TLS ---------------------------------------------------------------------------------------------

def looks_like_tls(start: bytes) -> bool:
    return len(start) >= 3 and start[0] == 0x16 and start[1] == 3


def tls_client_hello(stream: bytes) -> dict[str, object] | str | None:
    """The ClientHello's server name (SNI); MORE when its records are not all here yet;
    None when the stream does not start with a ClientHello."""
    try:
        return _client_hello(stream)
    except (_Bad, IndexError, struct.error, UnicodeDecodeError):
        return None


def _client_hello(stream: bytes) -> dict[str, object] | str | None:
    handshake, offset = bytearray(), 0
    while len(handshake) < 4 or len(handshake) < 4 + int.from_bytes(handshake[1:4], "big"):
        if offset + 5 > len(stream):
            return MORE
        if stream[offset] != 0x16:
            raise _Bad
        length = stream[offset + 3] << 8 | stream[offset + 4]
        if offset + 5 + length > len(stream):
            return MORE
        handshake += stream[offset + 5:offset + 5 + length]
        offset += 5 + length
    if handshake[0] != 1:
        return None
    body = bytes(handshake[4:4 + int.from_bytes(handshake[1:4], "big")])
    position = 2 + 32  # client version, random
    position += 1 + body[position]  # session id
    position += 2 + (body[position] << 8 | body[position + 1])  # cipher suites
    position += 1 + body[position]  # compression methods
    fields: dict[str, object] = {}
    if position + 2 > len(body):
        return fields
    end = min(position + 2 + (body[position] << 8 | body[position + 1]), len(body))
    position += 2
    while position + 4 <= end:
        kind, length = _PAIR(body, position)
        position += 4
        if kind == 0 and length >= 5 and body[position + 2] == 0:  # server_name list, first entry host_name
            size = body[position + 3] << 8 | body[position + 4]
            fields["server_name"] = body[position + 5:position + 5 + size].decode("ascii", "backslashreplace")
        position += length
    return fields
