"""Zeek's TSV logs (the default ASCII writer) framed as the JSON records Zeek's JSON writer gives.

A TSV line means nothing without its file's #fields and #types header, so unlike other formats the frame
cannot carry the line's own bytes: each line becomes the JSON document Zeek would have written (same field
names, numbers as numbers, sets and vectors as lists, unset fields left out) plus "_path" from #path, and
the `zeek` parser reads that, on the batch path and in Kafka alike. The header read so far is a ZeekHeader,
which the file tail keeps with its offset, so a tailed log read on from the middle (the next poll, or a
restarted collector) frames its lines as reading the whole file does.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import orjson

from ingest.frame import Frame
from socpipe.events import DeadLetter

TSV_MAGIC = b"#separator"
_NUMBERS = {"count": int, "int": int, "port": int, "time": float, "interval": float, "double": float}


@dataclass
class ZeekHeader:
    """What a TSV log's header lines said so far (the defaults are Zeek's); plain values, saved as JSON."""

    separator: str = "\t"
    set_separator: str = ","
    empty: str = "(empty)"
    unset: str = "-"
    path: str = ""
    names: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)

    def frames(self, origin: str, lines: Iterable[bytes], first_line: int = 1) -> Iterator[Frame | DeadLetter]:
        """One frame per data line; header lines (#...) change this header as they come (a rotated log
        concatenated to the next keeps working; #open and #close lines are not records)."""
        for number, raw in enumerate(lines, first_line):
            line = raw.rstrip(b"\r\n").decode("utf-8", errors="backslashreplace")
            if not line:
                continue
            if line.startswith("#"):
                letter = self._header_line(line)
                if letter:
                    yield DeadLetter(origin, f"line {number}", letter, raw.rstrip(b"\r\n"))
                continue
            values = line.split(self.separator)
            names = self.names
            if not names or len(values) != len(names):
                reason = ("a Zeek TSV line before its #fields header" if not names else
                          f"{len(values)} values for {len(names)} #fields")
                yield DeadLetter(origin, f"line {number}", reason, raw.rstrip(b"\r\n"))
                continue
            document: dict[str, object] = {"_path": self.path} if self.path else {}
            kinds = self.types if len(self.types) == len(names) else [""] * len(names)  # no usable #types
            for name, kind, value in zip(names, kinds, values, strict=True):
                if value == self.unset:
                    continue
                document[name] = _value(kind, value, self.set_separator, self.empty)
            yield Frame("zeek", f"line {number}", orjson.dumps(document), document)

    def _header_line(self, line: str) -> str:
        """Take one header line; the reason for a dead letter, or ""."""
        key, _, value = line.partition(" " if line.startswith("#separator") else self.separator)
        if key == "#separator":
            try:
                self.separator = value.encode().decode("unicode_escape") or self.separator
            except UnicodeDecodeError:
                return "a #separator Zeek cannot have written; the separator is left as it was"
        elif key == "#set_separator":
            self.set_separator = value
        elif key == "#empty_field":
            self.empty = value
        elif key == "#unset_field":
            self.unset = value
        elif key == "#path":
            self.path = value
        elif key == "#fields":
            self.names = value.split(self.separator)
        elif key == "#types":
            self.types = value.split(self.separator)
        return ""


def frame_zeek_tsv(origin: str, lines: Iterable[bytes]) -> Iterator[Frame | DeadLetter]:
    """The frames of a whole TSV log (or of several concatenated)."""
    return ZeekHeader().frames(origin, lines)


def _value(kind: str, value: str, set_separator: str, empty: str) -> object:
    if kind.startswith(("set[", "vector[")):
        inner = kind[kind.index("[") + 1:-1]
        return [] if value == empty else [_value(inner, item, set_separator, empty) for item in
                                          value.split(set_separator)]
    if value == empty:
        return ""
    if kind == "bool":
        return value == "T"
    convert = _NUMBERS.get(kind)
    if convert is not None:
        try:
            return convert(value)
        except ValueError:
            return value
    return value
