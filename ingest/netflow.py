"""NetFlow v5, v9 and IPFIX datagrams decoded into flow records.

Our own decoder, not scapy's: scapy crashes on softflowd's IPFIX, keys templates by template id alone (two
exporters' template 256 collide) and decodes ~20k flows/s. Here a template is keyed by (exporter address,
observation domain, template id) and compiled once into a struct format, so a data set is decoded with one
`iter_unpack`. Data that arrives before its template is parked for a bounded time and decoded when the
template comes; what never finds its template goes to the dead letters with its bytes. Memory is bounded:
at most `max_templates` templates and `max_parked` parked sets.

Byte counts are the exporter's (softflowd: IP total length plus Ethernet padding; pmacct: IP total length),
recorded as sent. Sampling: a flow record keeps the exporter's raw `bytes` and `packets` (and the ECS
`network.bytes`/`network.packets`: what rules see) and, when the exporter states a 1-in-N rate, adds
`sampling_rate` N and `estimated_bytes`/`estimated_packets` (raw times N, rounded). The rate comes from the v5
header, from the data record itself, or from an earlier options record of the same exporter and observation
domain (per sampler id when the data record names one: v9 FLOW_SAMPLER_ID, as pmacct sends): elements 34
samplingInterval, 50 samplerRandomInterval, 305/306 samplingPacketInterval/Space (softflowd's IPFIX: 1 packet
selected out of interval + space) and 309/310 samplingSize/Population. Flows that come before the options
record carry no rate.
"""

from __future__ import annotations

import functools
import socket
import struct
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from socpipe.events import DeadLetter

V5_HEADER = struct.Struct("!HHIIIIBBH")
V5_RECORD = struct.Struct("!4s4s4sHHIIIIHHxBBBHHBBxx")
V9_HEADER = struct.Struct("!HHIIII")
IPFIX_HEADER = struct.Struct("!HHIII")
SET_HEADER = struct.Struct("!HH")
TRANSPORTS = {1: "icmp", 6: "tcp", 17: "udp", 47: "gre", 50: "esp", 58: "ipv6-icmp", 132: "sctp"}

# Information elements socpipe keeps (the same numbers in v9 and IPFIX), by name.
ELEMENTS: dict[int, str] = {
    1: "bytes", 2: "packets", 4: "protocol", 5: "tos", 6: "tcp_flags", 7: "src_port", 8: "src_ip",
    10: "input_interface", 11: "dst_port", 12: "dst_ip", 14: "output_interface", 16: "src_as", 17: "dst_as",
    21: "end_uptime_ms", 22: "start_uptime_ms", 27: "src_ip", 28: "dst_ip", 34: "sampling_interval",
    48: "sampler_id", 50: "sampler_random_interval", 85: "bytes", 86: "packets", 150: "start_s", 151: "end_s",
    152: "start_ms", 153: "end_ms", 160: "system_init_ms", 305: "sampling_packet_interval",
    306: "sampling_packet_space", 309: "sampling_size", 310: "sampling_population",
}
_ADDRESSES = {8: socket.AF_INET, 12: socket.AF_INET, 27: socket.AF_INET6, 28: socket.AF_INET6}
_UINT = {1: "B", 2: "H", 4: "I", 8: "Q"}
# Fields that let a data record carry its own sampling rate, or name the sampler whose rate applies.
_PER_RECORD_SAMPLING = frozenset({"sampling_interval", "sampler_random_interval", "sampling_packet_interval",
                                  "sampling_size", "sampler_id"})
# A flow record's native fields, in the order they are written, and the ECS names that repeat them.
_NATIVE = ("src_ip", "dst_ip", "src_port", "dst_port", "protocol", "bytes", "packets", "tcp_flags",
           "input_interface", "output_interface")
_ECS_NAMES = (("source.ip", "src_ip"), ("source.port", "src_port"), ("destination.ip", "dst_ip"),
              ("destination.port", "dst_port"))
_SECOND_TEXT: dict[int, str] = {}  # epoch second -> its ISO text, for _iso
_SECOND_TEXT_KEPT = 100_000


class DecodeError(ValueError):
    pass


@dataclass(frozen=True)
class Template:
    """A compiled data template: one struct for the record, the name of each unpacked value, and converters for
    the values that are not plain integers (addresses, odd-length numbers), applied column by column."""

    record: struct.Struct
    names: tuple[str, ...]  # per struct item (elements socpipe does not keep are skipped by the struct)
    converters: tuple[tuple[int, Callable[[Any], Any]], ...]  # (struct item, converter)
    options: bool = False
    elements: tuple[tuple[int, int], ...] = ()  # (element id, length) as announced: what state() keeps

    @classmethod
    def compile(cls, elements: list[tuple[int, int]], options: bool = False) -> Template:
        fmt, names, converters = "!", [], {}
        for element, length in elements:
            if length == 0xFFFF:
                raise DecodeError(f"variable-length element {element} in a template (not supported)")
            name = ELEMENTS.get(element, "")
            if not name:
                fmt += f"{length}x"  # not kept: skipped by the struct itself
                continue
            converters.pop(name, None)  # a name given twice: the last value counts, with its own converter
            if element in _ADDRESSES and length in (4, 16):
                fmt += f"{length}s"
                converters[name] = (len(names), functools.partial(socket.inet_ntop, _ADDRESSES[element]))
            elif length in _UINT:
                fmt += _UINT[length]
            else:
                fmt += f"{length}s"
                converters[name] = (len(names), functools.partial(int.from_bytes, byteorder="big"))
            names.append(name)
        if struct.calcsize(fmt) == 0:
            raise DecodeError("a template of zero length")
        return cls(struct.Struct(fmt), tuple(names), tuple(converters.values()), options, tuple(elements))

    @property
    def sampled_per_record(self) -> bool:
        """Whether a record of this template can state its own sampling rate or name its sampler."""
        return not _PER_RECORD_SAMPLING.isdisjoint(self.names)

    def columns(self, data: bytes) -> dict[str, list[Any]]:
        """The values of a data set by name, one list per name (a name given twice: the last value counts);
        no names when the set holds no whole record."""
        size = self.record.size
        usable = len(data) - len(data) % size  # the rest is padding
        if not usable:
            return {}
        columns: list[Iterable[Any]] = list(zip(*self.record.iter_unpack(data[:usable]), strict=True))
        for index, convert in self.converters:
            columns[index] = map(convert, columns[index])
        return {name: list(column) for name, column in zip(self.names, columns, strict=True)}

    def decode(self, data: bytes) -> list[dict[str, Any]]:
        """The records of a data set, one dict each."""
        return _rows(self.columns(data))


@dataclass
class _Packet:
    version: int
    exporter: str
    domain: int
    export_s: int
    uptime_ms: int | None  # v9 only: for *_uptime_ms times
    head: dict[str, str] = field(init=False)  # the first fields of each of its flow records

    def __post_init__(self) -> None:
        self.head = {"exporter": self.exporter, "observation_domain": str(self.domain),
                     "netflow_version": str(self.version)}


@dataclass
class FlowDecoder:
    """Stateful per collector: templates and sampling rates per exporter and observation domain."""

    park_seconds: float = 60.0
    max_parked: int = 10_000
    max_templates: int = 10_000
    templates: OrderedDict[tuple[str, int, int], Template] = field(default_factory=OrderedDict)
    sampling: dict[tuple[str, int, int], float] = field(default_factory=dict)  # (exporter, domain, sampler id or 0)
    init_ms: dict[tuple[str, int], int] = field(default_factory=dict)  # IPFIX systemInitTimeMilliseconds
    changes: int = 0  # templates, sampling rates or start times learned: a collector saves state() when it moves
    _parked: OrderedDict[tuple[str, int, int, int], tuple[float, bytes, _Packet]] = field(default_factory=OrderedDict)
    _parked_count: int = 0

    def decode(self, datagram: bytes, exporter: str, now: float) -> tuple[list[dict[str, Any]], list[DeadLetter]]:
        """Flow records of one datagram (and of parked sets its templates release), and dead letters."""
        letters = self.expire(now)
        try:
            if len(datagram) < 2:
                raise DecodeError("datagram shorter than a version number")
            version = struct.unpack_from("!H", datagram)[0]
            if version == 5:
                return self._v5(datagram, exporter), letters
            if version in (9, 10):
                flows, refused = self._sets(datagram, exporter, version, now)
                return flows, letters + refused
            raise DecodeError(f"not NetFlow v5/v9 or IPFIX (version {version})")
        except (DecodeError, struct.error, ValueError, OSError) as error:
            return [], [*letters, DeadLetter(f"netflow://{exporter}", "datagram", str(error), datagram)]

    def state(self) -> dict[str, Any]:
        """Templates, sampling rates and exporter start times as JSON-ready data, so a restarted collector
        decodes at once instead of waiting (and parking data) until each exporter sends its templates again."""
        return {"templates": [[*key, t.options, [list(e) for e in t.elements]] for key, t in self.templates.items()],
                "sampling": [[*key, rate] for key, rate in self.sampling.items()],
                "init_ms": [[*key, ms] for key, ms in self.init_ms.items()]}

    def restore(self, state: dict[str, Any]) -> None:
        """Load what state() gave (templates that no longer compile are skipped)."""
        for exporter, domain, tid, options, elements in state.get("templates", [])[-self.max_templates:]:
            try:
                self.templates[(exporter, domain, tid)] = Template.compile([(e, n) for e, n in elements], options)
            except DecodeError:
                continue
        for exporter, domain, *sampler, rate in state.get("sampling", []):  # no sampler id: saved before it was kept
            self.sampling[(exporter, domain, sampler[0] if sampler else 0)] = rate
        self.init_ms.update({(e, d): ms for e, d, ms in state.get("init_ms", [])})

    def expire(self, now: float) -> list[DeadLetter]:
        """Parked sets whose template did not come within park_seconds, as dead letters."""
        letters = []
        while self._parked:
            key, (since, data, packet) = next(iter(self._parked.items()))
            if now - since < self.park_seconds:
                break
            del self._parked[key]
            self._parked_count -= 1
            letters.append(DeadLetter(f"netflow://{packet.exporter}", f"domain {packet.domain} template {key[2]}",
                                      f"no template {key[2]} from {packet.exporter} within {self.park_seconds:.0f} s",
                                      data))
        return letters

    # ---- v5 ----------------------------------------------------------------------------------------

    def _v5(self, datagram: bytes, exporter: str) -> list[dict[str, Any]]:
        if len(datagram) < V5_HEADER.size:
            raise DecodeError("v5 header cut short")
        _, count, uptime, secs, nsecs, _, _, engine_id, sampling = V5_HEADER.unpack_from(datagram)
        if len(datagram) < V5_HEADER.size + count * V5_RECORD.size:
            raise DecodeError(f"v5 datagram says {count} records but holds {len(datagram)} bytes")
        packet = _Packet(5, exporter, engine_id, secs, uptime)
        base_ms = secs * 1000 + nsecs // 1_000_000 - uptime
        if not count:
            return []
        (src, dst, _, inp, outp, pkts, octets, first, last, sport, dport, flags, proto, tos, sas, das, _,
         _) = zip(*V5_RECORD.iter_unpack(datagram[V5_HEADER.size:V5_HEADER.size + count * V5_RECORD.size]),
                  strict=True)
        return _records(packet, {
            "src_ip": list(map(socket.inet_ntoa, src)), "dst_ip": list(map(socket.inet_ntoa, dst)),
            "input_interface": inp, "output_interface": outp, "packets": pkts, "bytes": octets,
            "start_ms": [base_ms + ms for ms in first], "end_ms": [base_ms + ms for ms in last], "src_port": sport,
            "dst_port": dport, "tcp_flags": flags, "protocol": proto, "tos": tos, "src_as": sas, "dst_as": das},
            sampling & 0x3FFF or None)

    # ---- v9 and IPFIX ------------------------------------------------------------------------------

    def _sets(self, datagram: bytes, exporter: str, version: int, now: float) -> tuple[list[dict[str, Any]],
                                                                                      list[DeadLetter]]:
        if version == 9:
            if len(datagram) < V9_HEADER.size:
                raise DecodeError("v9 header cut short")
            _, _, uptime, secs, _, domain = V9_HEADER.unpack_from(datagram)
            packet, offset, end = _Packet(9, exporter, domain, secs, uptime), V9_HEADER.size, len(datagram)
            template_set, options_set = 0, 1
        else:
            if len(datagram) < IPFIX_HEADER.size:
                raise DecodeError("IPFIX header cut short")
            _, length, secs, _, domain = IPFIX_HEADER.unpack_from(datagram)
            if length > len(datagram) or length < IPFIX_HEADER.size:
                raise DecodeError(f"IPFIX message length {length} but {len(datagram)} bytes received")
            packet, offset, end = _Packet(10, exporter, domain, secs, None), IPFIX_HEADER.size, length
            template_set, options_set = 2, 3
        flows: list[dict[str, Any]] = []
        letters: list[DeadLetter] = []
        while offset + SET_HEADER.size <= end:
            set_id, set_length = SET_HEADER.unpack_from(datagram, offset)
            if set_length < SET_HEADER.size or offset + set_length > end:
                raise DecodeError(f"set {set_id} at byte {offset} has length {set_length}")
            body = datagram[offset + SET_HEADER.size: offset + set_length]
            offset += set_length
            if set_id in (template_set, options_set):
                for tid in self._templates(body, packet, set_id == options_set):
                    flows += self._release(packet, tid)
            elif set_id >= 256:
                flows += self._data(body, packet, set_id, now, letters)
            # set ids 4..255 are reserved: skipped
        return flows, letters

    def _templates(self, body: bytes, packet: _Packet, options: bool) -> list[int]:
        """Learn the templates of a (options) template set; returns their ids."""
        learned, offset = [], 0
        ipfix = packet.version == 10
        while len(body) - offset >= 4:
            if options:
                if ipfix:
                    tid, count, scope_count = struct.unpack_from("!HHH", body, offset)
                    offset += 6
                else:
                    tid, scope_bytes, option_bytes = struct.unpack_from("!HHH", body, offset)
                    offset += 6
                    count = (scope_bytes + option_bytes) // 4
            else:
                tid, count = struct.unpack_from("!HH", body, offset)
                offset += 4
            if tid < 256:
                break  # padding at the end of the set
            elements = []
            for _ in range(count):
                element, length = struct.unpack_from("!HH", body, offset)
                offset += 4
                if ipfix and element & 0x8000:
                    offset += 4  # enterprise number: its elements are not ours, skipped by length
                    element = 0
                elements.append((element, length))
            key = (packet.exporter, packet.domain, tid)
            if count == 0:  # IPFIX template withdrawal
                self.templates.pop(key, None)
                self.changes += 1
                continue
            if key not in self.templates and len(self.templates) >= self.max_templates:
                raise DecodeError(f"more than {self.max_templates} templates: template {tid} refused")
            self.templates[key] = Template.compile(elements, options)
            self.changes += 1
            learned.append(tid)
        return learned

    def _data(self, body: bytes, packet: _Packet, tid: int, now: float,
              letters: list[DeadLetter]) -> list[dict[str, Any]]:
        template = self.templates.get((packet.exporter, packet.domain, tid))
        if template is None:
            if self._parked_count >= self.max_parked:
                letters.append(DeadLetter(f"netflow://{packet.exporter}", f"domain {packet.domain} template {tid}",
                                          f"no template {tid} yet and {self.max_parked} sets already wait", body))
            else:
                self._parked[(packet.exporter, packet.domain, tid, id(body))] = (now, body, packet)
                self._parked_count += 1
            return []
        if not template.options:
            return self._flows(packet, template, template.columns(body))
        for r in template.decode(body):  # sampling rates (per sampler) and the exporter's start time
            rate = _rate(r)
            if rate:
                self.sampling[(packet.exporter, packet.domain, r.get("sampler_id", 0))] = rate
                self.changes += 1
            if r.get("system_init_ms"):
                self.init_ms[(packet.exporter, packet.domain)] = r["system_init_ms"]
                self.changes += 1
        return []

    def _flows(self, packet: _Packet, template: Template, columns: dict[str, list[Any]]) -> list[dict[str, str]]:
        """The flow records of a data set's columns, with the sampling rate that applies to each."""
        init = self.init_ms.get((packet.exporter, packet.domain))
        if not template.sampled_per_record:  # one rate for the whole set
            return _records(packet, columns, self._sampling(packet, 0), init)
        return _records(packet, columns, [_rate(r) or self._sampling(packet, r.get("sampler_id", 0))
                                          for r in _rows(columns)], init)

    def _sampling(self, packet: _Packet, sampler: int) -> float | None:
        """The rate an options record gave for this sampler, else for the whole exporter and domain."""
        return self.sampling.get((packet.exporter, packet.domain, sampler)) or self.sampling.get(
            (packet.exporter, packet.domain, 0))

    def _release(self, packet: _Packet, tid: int) -> list[dict[str, Any]]:
        """Decode the sets that waited for this template."""
        waiting = [k for k in self._parked if k[:3] == (packet.exporter, packet.domain, tid)]
        flows = []
        for key in waiting:
            since, body, parked_packet = self._parked.pop(key)
            self._parked_count -= 1
            flows += self._data(body, parked_packet, tid, since, [])
        return flows


def _rate(r: dict[str, Any]) -> float | None:
    """The 1-in-N sampling rate a (data or options) record states, or None."""
    if r.get("sampling_interval") or r.get("sampler_random_interval"):
        return r.get("sampling_interval") or r["sampler_random_interval"]
    if r.get("sampling_packet_interval"):
        return (r["sampling_packet_interval"] + r.get("sampling_packet_space", 0)) / r["sampling_packet_interval"]
    if r.get("sampling_size") and r.get("sampling_population"):
        return r["sampling_population"] / r["sampling_size"]
    return None


def _rows(columns: dict[str, list[Any]]) -> list[dict[str, Any]]:
    return [dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)]


def _records(packet: _Packet, values: dict[str, Sequence[Any]], sampling: float | None | list[float | None],
             init_ms: int | None = None) -> list[dict[str, str]]:
    """The flows of one data set or v5 datagram, given its values by name, as flat string fields: the native
    names and the ECS ones; estimated totals when sampled (`sampling`: one rate for all, or one per record);
    `init_ms` the exporter's start time for uptime-relative times, unless the records carry their own.
    Fields without a value are left out. Built column by column: each value is turned into text once, for
    both of its names, and each record is one copy of a dict with every key, updated with its values."""
    count = len(next(iter(values.values()), ()))
    if not count:
        return []
    names, columns = list(packet.head), [[value] * count for value in packet.head.values()]
    start, end = _time_columns(packet, values, count, init_ms)
    for name, column in (("start", start), ("end", end)):
        if column is not None:
            names.append(name)
            columns.append(column)
    text = {name: list(map(str, values[name])) for name in _NATIVE if name in values}
    names += text
    columns += text.values()
    rates = sampling if isinstance(sampling, list) else [sampling] * count
    sampled = [rate is not None for rate in rates]
    if any(sampled):
        names.append("sampling_rate")
        columns.append([None if rate is None else f"{rate:g}" for rate in rates])
    for ecs, name in _ECS_NAMES:
        if name in text:
            names.append(ecs)
            columns.append(text[name])
    if "protocol" in text:
        names += ("network.transport", "network.iana_number")
        columns += ([TRANSPORTS.get(number) or number_text
                     for number, number_text in zip(values["protocol"], text["protocol"], strict=True)],
                    text["protocol"])
    for ecs, name in (("network.bytes", "bytes"), ("network.packets", "packets")):
        if name in text:
            names.append(ecs)
            columns.append(text[name])
    for name, column in (("event.start", start), ("event.end", end)):
        if column is not None:
            names.append(name)
            columns.append(column)
    if any(sampled):
        for estimated, name in (("estimated_bytes", "bytes"), ("estimated_packets", "packets")):
            if name in text:
                names.append(estimated)
                columns.append([None if rate is None else str(round(value * rate))
                                for value, rate in zip(values[name], rates, strict=True)])
    if not all(sampled) and any(sampled):  # some records state no rate: their sampling fields are left out
        return [{name: value for name, value in zip(names, row, strict=True) if value is not None}
                for row in zip(*columns, strict=True)]
    empty = dict.fromkeys(names)  # copying a dict of the right size and updating it beats growing a new one
    flows = []
    for row in zip(*columns, strict=True):
        flow = empty.copy()
        flow.update(zip(names, row, strict=True))
        flows.append(flow)
    return flows


def _time_columns(packet: _Packet, values: dict[str, Sequence[Any]], count: int,
                  init_ms: int | None) -> tuple[list[str] | None, list[str] | None]:
    """Start and end of each record as ISO text, from whichever times the records carry (None: not carried)."""
    if "start_ms" in values or "end_ms" in values:
        return _iso_column(values, "start_ms", 0, 1), _iso_column(values, "end_ms", 0, 1)
    if "start_s" in values or "end_s" in values:
        return _iso_column(values, "start_s", 0, 1000), _iso_column(values, "end_s", 0, 1000)
    if packet.uptime_ms is not None and ("start_uptime_ms" in values or "end_uptime_ms" in values):
        base = packet.export_s * 1000 - packet.uptime_ms
        return _iso_column(values, "start_uptime_ms", base, 1), _iso_column(values, "end_uptime_ms", base, 1)
    if "start_uptime_ms" in values and ("system_init_ms" in values or init_ms is not None):
        inits = values.get("system_init_ms") or [init_ms] * count
        ends = values.get("end_uptime_ms") or [0] * count
        return ([_iso(init + uptime) for init, uptime in zip(inits, values["start_uptime_ms"], strict=True)],
                [_iso(init + uptime) for init, uptime in zip(inits, ends, strict=True)])
    return None, None


def _iso_column(values: dict[str, Sequence[Any]], name: str, base: int, scale: int) -> list[str] | None:
    if name not in values:
        return None
    return [_iso(base + value * scale) for value in values[name]]


def _iso(ms: int) -> str:
    """Milliseconds since the epoch as ISO 8601 UTC, as datetime.isoformat(timespec="milliseconds") writes it.
    The text of each second is kept (bounded): an exporter's flows start and end within a few seconds."""
    seconds, milliseconds = divmod(ms, 1000)
    text = _SECOND_TEXT.get(seconds)
    if text is None:
        if len(_SECOND_TEXT) >= _SECOND_TEXT_KEPT:
            _SECOND_TEXT.clear()
        text = _SECOND_TEXT[seconds] = datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")[:-6]
    return f"{text}.{milliseconds:03d}+00:00"
