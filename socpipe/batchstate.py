"""State a streaming step keeps between micro-batches, in its checkpoint.

A micro-batch reads the state left by the newest micro-batch before it and writes its own; the one
before stays until the next is written, so a micro-batch redone after a crash starts from the same state
and writes the same result again.

BatchState keeps a small state whole, one JSON file per micro-batch. KeyedBatchState keeps a large one
(correlation's groups) as entries by key in SQLite: a micro-batch reads the entries it needs and writes
those it changed, so its cost follows the change, not the size of the state, and so does the memory.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any


class BatchState:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def before(self, batch_id: int) -> dict[str, Any] | None:
        """The state the newest earlier micro-batch left, or None at the start."""
        earlier = self._ids(below=batch_id)
        return json.loads((self.folder / f"{earlier[-1]}.json").read_text(encoding="utf-8")) if earlier else None

    def save(self, batch_id: int, state: dict[str, Any]) -> None:
        """The state after this micro-batch (written whole, then renamed); older ones but the last go."""
        path = self.folder / f"{batch_id}.json"
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(state, ensure_ascii=False), encoding="utf-8")
        temporary.replace(path)
        for old in self._ids(below=batch_id)[:-1]:
            (self.folder / f"{old}.json").unlink()

    def _ids(self, below: int) -> list[int]:
        return sorted(n for p in self.folder.glob("*.json") if (n := int(p.stem)) < below)


class KeyedBatchState:
    """Entries by part and key, each with the time it is next due, and a small header. It holds the
    state after the last micro-batch saved, and an undo list of what that micro-batch changed: a redone
    micro-batch first puts the entries back as they were before it."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")  # a killed process loses nothing committed
        for table in ("entries", "undo"):  # undo: value NULL for an entry that was not there
            self.db.execute(f"CREATE TABLE IF NOT EXISTS {table} (part TEXT, key TEXT, due REAL, value BLOB, "
                            "PRIMARY KEY (part, key)) WITHOUT ROWID")
        self.db.execute("CREATE INDEX IF NOT EXISTS entries_due ON entries (part, due)")
        self.db.execute("CREATE TABLE IF NOT EXISTS headers (batch INTEGER PRIMARY KEY, value TEXT)")

    def begin(self, batch_id: int) -> dict[str, Any] | None:
        """Start a micro-batch: the header the newest earlier one left (None at the start). When this
        micro-batch was saved before (a redone one), its changes are undone first."""
        with self._transaction():
            if self.db.execute("SELECT 1 FROM headers WHERE batch >= ?", (batch_id,)).fetchone():
                self.db.execute("DELETE FROM entries WHERE (part, key) IN (SELECT part, key FROM undo)")
                self.db.execute("INSERT INTO entries SELECT * FROM undo WHERE value IS NOT NULL")
                self.db.execute("DELETE FROM undo")
                self.db.execute("DELETE FROM headers WHERE batch >= ?", (batch_id,))
        row = self.db.execute("SELECT value FROM headers ORDER BY batch DESC LIMIT 1").fetchone()
        return json.loads(row[0]) if row else None

    def get(self, part: str, keys: Iterable[str]) -> dict[str, bytes]:
        """The entries of these keys that exist."""
        out: dict[str, bytes] = {}
        wanted = list(keys)
        for i in range(0, len(wanted), 500):  # SQLite's limit on bound parameters
            chunk = wanted[i:i + 500]
            out.update(self.db.execute(f"SELECT key, value FROM entries WHERE part = ? AND key IN "
                                       f"({','.join('?' * len(chunk))})", (part, *chunk)))
        return out

    def due(self, part: str, before: float) -> dict[str, bytes]:
        """The entries due before this time."""
        return dict(self.db.execute("SELECT key, value FROM entries WHERE part = ? AND due < ?", (part, before)))

    def save(self, batch_id: int, header: Mapping[str, Any],
             changes: Mapping[tuple[str, str], tuple[float, bytes] | None]) -> None:
        """This micro-batch's header and changed entries ((due, value), or None: gone), in one transaction,
        with the entries as they were before it in the undo list."""
        keys = list(changes)
        with self._transaction():
            self.db.execute("DELETE FROM undo")
            self.db.executemany("INSERT INTO undo (part, key) VALUES (?, ?)", keys)
            self.db.execute("UPDATE undo SET (due, value) = (SELECT due, value FROM entries e "
                            "WHERE e.part = undo.part AND e.key = undo.key)")
            self.db.executemany("DELETE FROM entries WHERE part = ? AND key = ?",
                                (key for key, change in changes.items() if change is None))
            self.db.executemany("INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?)",
                                ((*key, *change) for key, change in changes.items() if change is not None))
            self.db.execute("DELETE FROM headers WHERE batch < (SELECT max(batch) FROM headers)")
            self.db.execute("INSERT INTO headers VALUES (?, ?)", (batch_id, json.dumps(header, ensure_ascii=False)))

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def close(self) -> None:
        self.db.close()
