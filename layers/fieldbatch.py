"""The `fields` map column of one Arrow batch, flattened once so detection works on whole columns.

Per event Python dicts cost more than matching itself, so the prefilter scans the lowercased values
of a field for all events of a batch at once, and only events that still have candidate rules get a
dict for the exact predicates.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


class FieldBatch:
    def __init__(self, fields: pa.MapArray):
        offsets = fields.offsets.to_numpy()
        start, end = int(offsets[0]), int(offsets[-1])
        self.num_rows = len(fields)
        self.offsets = offsets - start  # the map's offsets are absolute into its children, even for a slice
        self.keys = fields.keys.slice(start, end - start)
        self.values = fields.items.slice(start, end - start)
        self.row_of = np.repeat(np.arange(self.num_rows), np.diff(offsets))  # the event of each flat entry
        encoded = pc.dictionary_encode(self.keys)
        codes = encoded.indices.to_numpy(zero_copy_only=False)
        order = np.argsort(codes, kind="stable")
        bounds = np.searchsorted(codes[order], np.arange(len(encoded.dictionary) + 1))
        names = encoded.dictionary.to_pylist()
        self._positions = {name: order[bounds[i]:bounds[i + 1]] for i, name in enumerate(names)}
        self._codes = codes
        self._names = np.array(names, dtype=object)  # one str object per name: dict lookups reuse its hash
        self._lowered: pa.StringArray | None = None

    def positions(self, name: str) -> np.ndarray:
        """Flat positions of the entries named `name`, in event order."""
        return self._positions.get(name, np.empty(0, dtype=np.int64))

    @property
    def lowered(self) -> pa.StringArray:
        """Every value lowercased exactly as Python's str.lower does (a null reads as ""): Arrow's
        lowercasing agrees on ASCII only, so non-ASCII values are lowered in Python."""
        if self._lowered is None:
            values = self.values.fill_null("")
            lowered = pc.utf8_lower(values)
            non_ascii = pc.invert(pc.string_is_ascii(values))
            if pc.any(non_ascii).as_py():
                texts = [v.lower() for v in values.filter(non_ascii).to_pylist()]
                lowered = pc.replace_with_mask(lowered, non_ascii, pa.array(texts, pa.string()))
            self._lowered = lowered
        return self._lowered

    def records(self, rows: np.ndarray) -> list[dict[str, str | None]]:
        """The fields of the given events as dicts (a repeated key keeps its last value, as dict() does)."""
        starts, ends = self.offsets[rows], self.offsets[rows + 1]
        counts = ends - starts
        if len(rows) == self.num_rows:
            keys, values = self._names[self._codes].tolist(), self.values.to_pylist()
        else:
            flat = np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
            keys, values = self._names[self._codes[flat]].tolist(), self.values.take(flat).to_pylist()
        bounds = np.concatenate(([0], np.cumsum(counts))).tolist()
        return [dict(zip(keys[a:b], values[a:b], strict=True)) for a, b in zip(bounds, bounds[1:], strict=False)]


def distinct(values: np.ndarray) -> np.ndarray:
    """The sorted distinct values of an int64 array, by sorting: np.unique (numpy 2.4) hashes them
    instead, some 50 times slower on the (event, rule) keys of a batch."""
    ordered = np.sort(values)
    return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))] if ordered.size else ordered
