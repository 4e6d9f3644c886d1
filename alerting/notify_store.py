"""Where layer 1 keeps its state: incidents, routing groups, sent notifications, used links.

The scheduler must survive restarts and never send a message twice, so nothing lives only in memory: every
decision is written before the message goes out and every message is logged when the server accepted it.
Two stores with one interface: SQLite for the embedded default (one file, transactions), and the search
store (incidents in `incidents` as docs/records.md defines them, the rest in `notify-state`) when one is
configured. Every message, acknowledgement and escalation is also an action record (alerting/actions.py).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Protocol

import orjson

from alerting.actions import ACTIONS_INDEX, MAPPING, Action, append_to_lake, search_documents
from alerting.incidents import MAPPING as INCIDENTS_MAPPING
from alerting.incidents import STATE_FIELDS

INCIDENTS_INDEX = "incidents"
STATE_INDEX = "notify-state"
KINDS = ("incident", "group", "sent", "token", "track", "digest", "feed")


class NotifyStore(Protocol):
    """Documents by kind and id (kinds: KINDS)."""

    def get(self, kind: str, ident: str) -> dict[str, Any] | None: ...

    def put(self, kind: str, ident: str, doc: dict[str, Any]) -> None: ...

    def put_many(self, kind: str, docs: Iterable[tuple[str, dict[str, Any]]]) -> None: ...

    def all(self, kind: str) -> Iterator[tuple[str, dict[str, Any]]]: ...

    def put_new(self, kind: str, ident: str, doc: dict[str, Any]) -> bool:
        """Write only if absent, atomically; False if the id was already there (a used ack link)."""
        ...

    def delete(self, kind: str, idents: Iterable[str]) -> None:
        """Forget state documents of finished incidents (never incidents themselves, nor sent records)."""
        ...

    def patch(self, kind: str, ident: str, changes: dict[str, Any]) -> dict[str, Any] | None:
        """Change some fields of a document in one atomic step and return it (None if absent): the scheduler,
        acknowledgements and the console write the same incident, and a whole-document write from a copy read
        earlier would undo what another wrote in between (an acknowledgement during a tick)."""
        ...

    def add_incidents(self, docs: Iterable[tuple[str, dict[str, Any]]]) -> int:
        """Write the incidents the store does not hold yet, in one step; one already there keeps its state
        (acknowledged, escalated). Returns how many were new."""
        ...

    def open_incidents(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Incidents not closed and not merged into another: what a tick works on. The incidents index keeps
        every incident ever, so reading closed ones at every tick would grow without end."""
        ...


class SqliteStore:
    """The embedded store: one table (kind, id, JSON), one transaction per call; safe across threads."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS docs (kind TEXT, id TEXT, doc TEXT, PRIMARY KEY (kind, id))")
        self._lock = threading.Lock()

    def get(self, kind: str, ident: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT doc FROM docs WHERE kind = ? AND id = ?", (kind, ident)).fetchone()
        return None if row is None else orjson.loads(row[0])

    def put(self, kind: str, ident: str, doc: dict[str, Any]) -> None:
        self.put_many(kind, [(ident, doc)])

    def put_many(self, kind: str, docs: Iterable[tuple[str, dict[str, Any]]]) -> None:
        rows = [(kind, ident, json.dumps(doc, ensure_ascii=False, default=str)) for ident, doc in docs]
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR REPLACE INTO docs VALUES (?, ?, ?)", rows)
            self._db.execute("COMMIT")

    def put_new(self, kind: str, ident: str, doc: dict[str, Any]) -> bool:
        with self._lock:
            cursor = self._db.execute("INSERT OR IGNORE INTO docs VALUES (?, ?, ?)",
                                      (kind, ident, json.dumps(doc, ensure_ascii=False, default=str)))
        return cursor.rowcount == 1

    def all(self, kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
        with self._lock:
            rows = self._db.execute("SELECT id, doc FROM docs WHERE kind = ? ORDER BY id", (kind,)).fetchall()
        return ((ident, orjson.loads(doc)) for ident, doc in rows)

    def delete(self, kind: str, idents: Iterable[str]) -> None:
        rows = [(kind, ident) for ident in idents]
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany("DELETE FROM docs WHERE kind = ? AND id = ?", rows)
            self._db.execute("COMMIT")

    def patch(self, kind: str, ident: str, changes: dict[str, Any]) -> dict[str, Any] | None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")  # other processes on the file wait for this one
            try:
                row = self._db.execute("SELECT doc FROM docs WHERE kind = ? AND id = ?", (kind, ident)).fetchone()
                doc = None if row is None else {**orjson.loads(row[0]), **changes}
                if doc is not None:
                    self._db.execute("INSERT OR REPLACE INTO docs VALUES (?, ?, ?)",
                                     (kind, ident, json.dumps(doc, ensure_ascii=False, default=str)))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return doc

    def add_incidents(self, docs: Iterable[tuple[str, dict[str, Any]]]) -> int:
        rows = [("incident", ident, json.dumps(doc, ensure_ascii=False, default=str)) for ident, doc in docs]
        with self._lock:
            before = self._db.total_changes
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR IGNORE INTO docs VALUES (?, ?, ?)", rows)
            self._db.execute("COMMIT")
            return self._db.total_changes - before

    def open_incidents(self) -> Iterator[tuple[str, dict[str, Any]]]:
        with self._lock:
            rows = self._db.execute("SELECT id, doc FROM docs WHERE kind = 'incident' AND json_extract(doc, "
                                    "'$.status') IS NOT 'closed' AND json_extract(doc, '$.merged_into') IS NULL "
                                    "ORDER BY id").fetchall()
        return ((ident, orjson.loads(doc)) for ident, doc in rows)

    def close(self) -> None:
        self._db.close()


class SearchStore:
    """The search store: incidents in `incidents` (the contract's index), the rest in `notify-state`.
    Writes refresh at once, so the next tick (perhaps of a restarted process) reads what was decided."""

    def __init__(self, search: Any, replicas: int = 0, incidents_index: str = INCIDENTS_INDEX) -> None:
        from socpipe.search import ensure_index

        self._search, self._incidents = search, incidents_index
        ensure_index(search, STATE_INDEX, {"dynamic": False, "properties": {"kind": {"type": "keyword"}}}, replicas)
        ensure_index(search, incidents_index, INCIDENTS_MAPPING, replicas)
        ensure_index(search, ACTIONS_INDEX, MAPPING, replicas)

    def _where(self, kind: str, ident: str) -> tuple[str, str]:
        return (self._incidents, ident) if kind == "incident" else (STATE_INDEX, f"{kind}:{ident}")

    def get(self, kind: str, ident: str) -> dict[str, Any] | None:
        index, doc_id = self._where(kind, ident)
        found = self._search.get(index=index, id=doc_id, ignore=404)
        if not found.get("found"):
            return None
        source = found["_source"]
        return source if kind == "incident" else orjson.loads(source["doc"])

    def put(self, kind: str, ident: str, doc: dict[str, Any]) -> None:
        self.put_many(kind, [(ident, doc)])

    def put_many(self, kind: str, docs: Iterable[tuple[str, dict[str, Any]]]) -> None:
        from socpipe.search import bulk

        actions: list[dict[str, Any]] = []
        for ident, doc in docs:
            index, doc_id = self._where(kind, ident)
            if kind == "incident":
                # Only the fields people and the scheduler change: detection goes on updating count, last and
                # alert_ids of the same document (alerting/incidents.py STATE_FIELDS), and must not be undone.
                state = {k: doc[k] for k in STATE_FIELDS if k in doc}
                actions.append({"_op_type": "update", "_index": index, "_id": doc_id, "doc": state, "upsert": doc})
            else:
                source = json.dumps({"kind": kind, "doc": json.dumps(doc, ensure_ascii=False, default=str)},
                                    ensure_ascii=False)
                actions.append({"_op_type": "index", "_index": index, "_id": doc_id, "_source": source})
        rejected = bulk(self._search, actions)
        if rejected:
            raise RuntimeError(f"search store refused {kind} {rejected[0].doc_id}: {rejected[0].reason}")
        self._search.indices.refresh(index=self._incidents if kind == "incident" else STATE_INDEX)

    def put_new(self, kind: str, ident: str, doc: dict[str, Any]) -> bool:
        from opensearchpy.exceptions import ConflictError

        index, doc_id = self._where(kind, ident)
        body = {"kind": kind, "doc": json.dumps(doc, ensure_ascii=False, default=str)}
        try:
            self._search.index(index=index, id=doc_id, body=body, op_type="create", refresh=True)
        except ConflictError:
            return False
        return True

    def all(self, kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
        from opensearchpy.helpers import scan

        if kind == "incident":
            yield from self._incidents_where({"match_all": {}})
            return
        prefix = f"{kind}:"
        query = {"query": {"term": {"kind": kind}}}
        for hit in scan(self._search, index=STATE_INDEX, query=query):
            yield hit["_id"][len(prefix):], orjson.loads(hit["_source"]["doc"])


    def delete(self, kind: str, idents: Iterable[str]) -> None:
        from socpipe.search import bulk

        assert kind != "incident", "incidents belong to layer 2"
        actions = [{"_op_type": "delete", "_index": STATE_INDEX, "_id": f"{kind}:{ident}"} for ident in idents]
        if actions:
            bulk(self._search, actions)
            self._search.indices.refresh(index=STATE_INDEX)

    def patch(self, kind: str, ident: str, changes: dict[str, Any]) -> dict[str, Any] | None:
        from opensearchpy.exceptions import NotFoundError

        if kind != "incident":  # state documents have one writer, the scheduler
            doc = self.get(kind, ident)
            if doc is not None:
                self.put(kind, ident, doc | changes)
            return None if doc is None else doc | changes
        try:  # a partial update is atomic per document in the store
            self._search.update(index=self._incidents, id=ident, body={"doc": changes}, refresh=True)
        except NotFoundError:
            return None
        return self.get(kind, ident)

    def add_incidents(self, docs: Iterable[tuple[str, dict[str, Any]]]) -> int:
        from socpipe.search import bulk

        actions = [{"_op_type": "create", "_index": self._incidents, "_id": ident,
                    "_source": json.dumps(doc, ensure_ascii=False, default=str)} for ident, doc in docs]
        rejected = bulk(self._search, actions)
        refused = [r for r in rejected if "version_conflict" not in r.reason]  # a conflict: already there
        if refused:
            raise RuntimeError(f"search store refused incident {refused[0].doc_id}: {refused[0].reason}")
        self._search.indices.refresh(index=self._incidents)
        return len(actions) - len(rejected)

    def open_incidents(self) -> Iterator[tuple[str, dict[str, Any]]]:
        yield from self._incidents_where({"bool": {"must_not": [{"term": {"status": "closed"}},
                                                                {"exists": {"field": "merged_into"}}]}})

    def _incidents_where(self, query: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
        from opensearchpy.helpers import scan

        for hit in scan(self._search, index=self._incidents, query={"query": query}):
            yield hit["_id"], hit["_source"]


class ActionLog:
    """Appends action records to the lake and, when there is one, the search index `actions`."""

    def __init__(self, lake: Path | None, search: Any = None) -> None:
        self.lake, self.search = lake, search

    def record(self, actions: list[Action]) -> None:
        if not actions:
            return
        if self.lake is not None:
            append_to_lake(self.lake, actions)
        if self.search is not None:
            from socpipe.search import write

            write(self.search, search_documents(actions))
