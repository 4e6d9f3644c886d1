"""The action log: every change of state and every message sent, as an append-only record.

OpenSearch holds the current state of alerts and incidents; the action log (lake `actions/` and the
search index `actions`) says how it got there: who acknowledged, assigned, escalated, notified or
exported what, and when. Layer-3 reports are computed from it, so a record is never updated or deleted,
and its id is derived from its content: writing the same action twice (a retry, a replay) keeps one.
See docs/records.md.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from socpipe.lake import read_table, write_lake_part

KINDS = frozenset({"acknowledge", "unacknowledge", "assign", "status", "verdict", "comment", "escalate", "notify",
                   "export", "suppress"})
TARGET_TYPES = frozenset({"incident", "alert"})
ACTIONS_INDEX = "actions"
LAKE_SCHEMA = pa.schema([
    ("action_id", pa.string()),
    ("at", pa.timestamp("us", tz="UTC")),
    ("actor", pa.string()),
    ("kind", pa.string()),
    ("target_type", pa.string()),
    ("target_id", pa.string()),
    ("agency_id", pa.string()),
    ("before", pa.string()),  # JSON objects, as text: their keys differ by kind
    ("after", pa.string()),
    ("detail", pa.string()),
    ("date", pa.string()),
])
_KEYWORD = {"type": "keyword"}
MAPPING: dict[str, Any] = {"dynamic": False, "properties": {
    "action_id": _KEYWORD, "at": {"type": "date"}, "actor": _KEYWORD, "kind": _KEYWORD, "target_type": _KEYWORD,
    "target_id": _KEYWORD, "agency_id": _KEYWORD,
    "before": {"type": "flat_object"}, "after": {"type": "flat_object"}, "detail": {"type": "flat_object"},
}}


@dataclass(frozen=True)
class Action:
    """One change of state or one message sent. `at` must be timezone-aware."""

    at: datetime
    actor: str
    kind: str
    target_type: str
    target_id: str
    agency_id: str | None
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)
    detail: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown action kind {self.kind!r} (known: {', '.join(sorted(KINDS))})")
        if self.target_type not in TARGET_TYPES:
            raise ValueError(f"unknown action target {self.target_type!r}")
        if self.at.tzinfo is None:
            raise ValueError("an action's time must carry its time zone")

    @property
    def action_id(self) -> str:
        content = json.dumps([self.target_type, self.target_id, self.kind, self.actor, self.at.astimezone(UTC)
                              .isoformat(), self.before, self.after, self.detail], sort_keys=True, default=str)
        return hashlib.sha256(content.encode()).hexdigest()[:32]

    def document(self) -> dict[str, Any]:
        """The action as the search index `actions` stores it."""
        return {"action_id": self.action_id, "at": self.at.astimezone(UTC).isoformat(), "actor": self.actor,
                "kind": self.kind, "target_type": self.target_type, "target_id": self.target_id,
                "agency_id": self.agency_id, "before": self.before, "after": self.after, "detail": self.detail}

    def row(self) -> dict[str, Any]:
        """The action as a lake row (LAKE_SCHEMA)."""
        at = self.at.astimezone(UTC)
        return {"action_id": self.action_id, "at": at, "actor": self.actor, "kind": self.kind,
                "target_type": self.target_type, "target_id": self.target_id, "agency_id": self.agency_id,
                "before": _json(self.before), "after": _json(self.after), "detail": _json(self.detail),
                "date": at.strftime("%Y-%m-%d")}

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Action:
        return cls(row["at"], row["actor"], row["kind"], row["target_type"], row["target_id"], row["agency_id"],
                   json.loads(row["before"]), json.loads(row["after"]), json.loads(row["detail"]))


def _json(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def append_to_lake(lake: Path, actions: Iterable[Action]) -> int:
    """Write actions to the lake's `actions/` table (one file per write, named after its content, so the
    same actions written again replace their own file). Returns how many were written."""
    rows = [a.row() for a in actions]
    if not rows:
        return 0
    name = "part-" + hashlib.sha256("".join(sorted(r["action_id"] for r in rows)).encode()).hexdigest()[:24]
    write_lake_part(pa.Table.from_pylist(rows, schema=LAKE_SCHEMA), lake / "actions", name, partitioning=("date",))
    return len(rows)


def read_lake(lake: Path) -> list[Action]:
    """Every action in the lake, oldest first (ties by id), each once."""
    table = read_table(lake / "actions")
    if table is None:
        return []
    unique = {r["action_id"]: r for r in table.to_pylist()}
    return [Action.from_row(r) for r in sorted(unique.values(), key=lambda r: (r["at"], r["action_id"]))]


def search_documents(actions: Iterable[Action]) -> list[tuple[str, str, str]]:
    """(index, id, JSON source) triples for socpipe.search.write."""
    return [(ACTIONS_INDEX, a.action_id, json.dumps(a.document(), ensure_ascii=False)) for a in actions]
