"""The `fields` map column of one Arrow batch, dictionary-encoded per field so detection works on values.

Log values repeat: in a batch of 10,000 Windows events there are some 60 distinct Images and 1,000
distinct command lines for 4,000. So the prefilter scans each distinct value once, and a rule's exact
predicate runs once per distinct combination of the values it reads; Python dicts are built only for
those combinations and for the events that raise alerts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


@dataclass(frozen=True)
class Column:
    """The values of one field (or of several, for keywords) in a batch: each distinct value once, and per
    entry (an event's value of the field) its event and the index of its value."""

    num_rows: int
    distinct: pa.StringArray  # the distinct values; a null is a field present with a null value
    entry_rows: np.ndarray  # int64, ascending: the event of each entry
    entry_codes: np.ndarray  # int64: the index into `distinct` of each entry

    @cached_property
    def values(self) -> list[str | None]:
        return self.distinct.to_pylist()

    @cached_property
    def non_ascii(self) -> np.ndarray:
        """Indices of the distinct values that hold a non-ASCII character."""
        offsets, data = utf8_buffer(self.distinct)
        return distinct(np.searchsorted(offsets, np.flatnonzero(data >= 0x80), side="right") - 1)

    @cached_property
    def texts(self) -> list[tuple[pa.StringArray, np.ndarray | None]]:
        """The distinct values lowercased, as the prefilter scans them: (strings, the index into `distinct`
        of each, None when the same). Arrow lowercases the ASCII letters of every value, fast; the values
        with other characters come again, lowered in Python (str.lower, what the compiled rules use)."""
        values = self.distinct.fill_null("")
        texts: list[tuple[pa.StringArray, np.ndarray | None]] = [(pc.ascii_lower(values), None)]
        if self.non_ascii.size:
            lowered = [v.lower() for v in values.take(self.non_ascii).to_pylist()]
            texts.append((pa.array(lowered, pa.string()), self.non_ascii))
        return texts

    @cached_property
    def lowered_values(self) -> list[str]:
        """Each distinct value lowercased as str.lower does; a null reads as ""."""
        lowered = self.texts[0][0].to_pylist()
        for text, indices in self.texts[1:]:
            for i, value in zip(indices.tolist(), text.to_pylist(), strict=True):
                lowered[i] = value
        return lowered

    @cached_property
    def counts(self) -> np.ndarray:
        """Entries per distinct value."""
        return np.bincount(self.entry_codes, minlength=len(self.distinct))

    @cached_property
    def codes(self) -> np.ndarray:
        """Per event, the index of its value, or -1 when it lacks the field (one entry per event at most)."""
        codes = np.full(self.num_rows, -1, dtype=np.int64)
        codes[self.entry_rows] = self.entry_codes
        return codes

    def rows_with(self, pairs: np.ndarray, payload: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(event, payload[k]) for each entry and each k with pairs[k] == the entry's value index (`pairs`
        sorted ascending; value order in the result is that of the entries)."""
        bounds = np.searchsorted(pairs, np.arange(len(self.distinct) + 1))
        starts = bounds[self.entry_codes]
        counts = bounds[self.entry_codes + 1] - starts
        return np.repeat(self.entry_rows, counts), payload[spans(starts, counts)]


class FieldBatch:
    def __init__(self, fields: pa.MapArray):
        offsets = fields.offsets.to_numpy()
        start, end = int(offsets[0]), int(offsets[-1])
        self.num_rows = len(fields)
        self.offsets = offsets - start  # the map's offsets are absolute into its children, even for a slice
        self.values = fields.items.slice(start, end - start)
        self.row_of = np.repeat(np.arange(self.num_rows), np.diff(offsets))  # the event of each flat entry
        keys = fields.keys.slice(start, end - start)
        # The lake's reader takes Parquet's dictionary of field names as stored; other batches are encoded here.
        if pa.types.is_dictionary(keys.type) and pc.count_distinct(keys.dictionary).as_py() < len(keys.dictionary):
            keys = keys.cast(pa.string())
        if not pa.types.is_dictionary(keys.type):
            keys = pc.dictionary_encode(keys)
        codes = keys.indices.to_numpy(zero_copy_only=False)
        names = keys.dictionary.to_pylist()
        # Stable, so each name's entries stay in event order; on 16-bit codes numpy sorts by radix, 6x faster.
        order = np.argsort(codes.astype(np.int16) if len(names) < 1 << 15 else codes, kind="stable")
        bounds = np.searchsorted(codes[order], np.arange(len(names) + 1))
        self._positions = {name: order[bounds[i]:bounds[i + 1]] for i, name in enumerate(names)}
        self._codes = codes
        self._names = np.array(names, dtype=object)  # one str object per name: dict lookups reuse its hash
        self._columns: dict[str, Column] = {}

    def column(self, name: str) -> Column:
        """The field `name` of every event; of a repeated key, the last value counts (as in a dict)."""
        column = self._columns.get(name)
        if column is None:
            positions = self._positions.get(name)
            if positions is None:
                column = self._columns[name] = Column(self.num_rows, pa.array([], pa.string()),
                                                      np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64))
                return column
            rows = self.row_of[positions]
            last = np.append(rows[1:] != rows[:-1], True)
            encoded = pc.dictionary_encode(self.values.take(positions[last]), null_encoding="encode")
            column = self._columns[name] = Column(self.num_rows, encoded.dictionary, rows[last],
                                                  encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64))
        return column

    def encoded(self) -> dict[str, Column]:
        """The fields encoded so far that some event has."""
        return {name: column for name, column in self._columns.items() if column.entry_rows.size}

    def values_except(self, names: Iterable[str]) -> Column:
        """Every value of the other fields (for Sigma keywords, which search all fields), repeated keys
        included. Not deduplicated: timestamps, record ids and GUIDs make most of them unique."""
        keep = np.ones(len(self.values), dtype=bool)
        for name in names:
            keep[self._positions[name]] = False
        positions = np.flatnonzero(keep)
        return Column(self.num_rows, self.values.take(positions), self.row_of[positions], np.arange(positions.size))

    def records(self, rows: np.ndarray) -> list[dict[str, str | None]]:
        """The fields of the given events as dicts (a repeated key keeps its last value, as dict() does)."""
        starts, ends = self.offsets[rows], self.offsets[rows + 1]
        counts = ends - starts
        flat = spans(starts, counts)
        keys, values = self._names[self._codes[flat]].tolist(), self.values.take(flat).to_pylist()
        bounds = np.concatenate(([0], np.cumsum(counts))).tolist()
        return [dict(zip(keys[a:b], values[a:b], strict=True)) for a, b in zip(bounds, bounds[1:], strict=False)]


def spans(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The indices starts[k], ..., starts[k] + counts[k] - 1 for each k, one run after the other."""
    return np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())


def distinct(values: np.ndarray) -> np.ndarray:
    """The sorted distinct values of an int64 array, by sorting: np.unique (numpy 2.4) hashes them
    instead, some 50 times slower on the (event, rule) keys of a batch."""
    ordered = np.sort(values)
    return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))] if ordered.size else ordered


def utf8_buffer(strings: pa.StringArray) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, bytes) of a string array: string i is bytes[offsets[i]:offsets[i + 1]]."""
    _, offsets_buffer, data = strings.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int32)[strings.offset:strings.offset + len(strings) + 1]
    if data is None:
        return offsets - offsets[0], np.empty(0, dtype=np.uint8)
    return offsets - offsets[0], np.frombuffer(data, dtype=np.uint8)[offsets[0]:offsets[-1]]


def group(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Number the distinct values of an int64 array: (the number of each element, an element index of each
    number). np.unique with return_inverse does the same some 3 times slower."""
    order = np.argsort(keys)
    ordered = keys[order]
    starts = np.concatenate(([True], ordered[1:] != ordered[:-1])) if keys.size else np.empty(0, dtype=bool)
    numbers = np.empty(keys.size, dtype=np.int64)
    numbers[order] = np.cumsum(starts) - 1
    return numbers, order[starts]
