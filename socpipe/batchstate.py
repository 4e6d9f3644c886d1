"""State a streaming step keeps between micro-batches, one JSON file per micro-batch in its checkpoint.

A micro-batch reads the state left by the newest micro-batch before it and writes its own; the one
before stays until the next is written, so a micro-batch redone after a crash starts from the same state
and writes the same result again.
"""

from __future__ import annotations

import json
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
