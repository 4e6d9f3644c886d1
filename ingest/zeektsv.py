"""Zeek's TSV logs (the default ASCII writer) framed as the JSON records Zeek's JSON writer gives.

A TSV line means nothing without its file's #fields and #types header, so unlike other formats the frame
cannot carry the line's own bytes: each line becomes the JSON document Zeek would have written (same field
names, numbers as numbers, sets and vectors as lists, unset fields left out) plus "_path" from #path, and
the `zeek` parser reads that, on the batch path and in Kafka alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import orjson

from ingest.frame import Frame
from socpipe.events import DeadLetter

TSV_MAGIC = b"#separator"
_NUMBERS = {"count": int, "int": int, "port": int, "time": float, "interval": float, "double": float}


def frame_zeek_tsv(origin: str, lines: Iterable[bytes]) -> Iterator[Frame | DeadLetter]:
    """One frame per data line; header lines (#...) set the separators, path, names and types as they come
    (a rotated log concatenated to the next keeps working)."""
    separator, set_separator, empty, unset = "\t", ",", "(empty)", "-"
    path, names, types = "", [], []
    for number, raw in enumerate(lines, 1):
        line = raw.rstrip(b"\r\n").decode("utf-8", errors="backslashreplace")
        if not line:
            continue
        if line.startswith("#"):
            key, _, value = line.partition(" " if line.startswith("#separator") else separator)
            if key == "#separator":
                try:
                    separator = value.encode().decode("unicode_escape") or separator
                except UnicodeDecodeError:
                    yield DeadLetter(origin, f"line {number}", "a #separator Zeek cannot have written; the "
                                     "separator is left as it was", raw.rstrip(b"\r\n"))
            elif key == "#set_separator":
                set_separator = value
            elif key == "#empty_field":
                empty = value
            elif key == "#unset_field":
                unset = value
            elif key == "#path":
                path = value
            elif key == "#fields":
                names = value.split(separator)
            elif key == "#types":
                types = value.split(separator)
            continue
        values = line.split(separator)
        if not names or len(values) != len(names):
            reason = ("a Zeek TSV line before its #fields header" if not names else
                      f"{len(values)} values for {len(names)} #fields")
            yield DeadLetter(origin, f"line {number}", reason, raw.rstrip(b"\r\n"))
            continue
        document: dict[str, object] = {"_path": path} if path else {}
        kinds = types if len(types) == len(names) else [""] * len(names)  # no usable #types: strings
        for name, kind, value in zip(names, kinds, values, strict=True):
            if value == unset:
                continue
            document[name] = _value(kind, value, set_separator, empty)
        yield Frame("zeek", f"line {number}", orjson.dumps(document), document)


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
