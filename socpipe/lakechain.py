"""A hash chain per lake table and day: a changed, deleted or slipped-in lake file is detected.

Auditors reproduce their reports from the lake, so the lake must show when someone changed it. Every file
the lake writer writes (and every file retention deletes) becomes one line of `TABLE/_chain/DAY.jsonl`,
where DAY is the file's `date=` partition: the file's path, its SHA-256, and the hash of the previous line,
so a line taken out or edited breaks the chain. `verify_table` re-checks the chain against the files on
disk; an audit report keeps the chains' head hashes, so cutting lines off the end is detected as well.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

CHAIN_DIR = "_chain"
GENESIS = "0" * 64
UNDATED = "undated"
_HEADS: dict[Path, tuple[int, str, int, dict[str, str | None]]] = {}  # chain file -> (size, head, seq, state)


@dataclass(frozen=True)
class Problem:
    """One way a table differs from its chain; `where` names the file or chain line."""

    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def day_of(relative: str) -> str:
    """The `date=` partition a file lies in (UNDATED for a table without one)."""
    for part in relative.split("/"):
        if part.startswith("date="):
            return part[len("date="):]
    return UNDATED


def record_written(table: Path, files: Iterable[Path]) -> None:
    """Append a `write` line per file (skipped when the chain already holds the same content for it)."""
    for path in sorted(Path(f) for f in files):
        _append(table, path, "write", sha256_file(path), None)


def record_deleted(table: Path, files: Iterable[Path], reason: str) -> None:
    """Append a `delete` line per file, before the caller deletes it."""
    for path in sorted(Path(f) for f in files):
        _append(table, path, "delete", None, reason)


def _append(table: Path, path: Path, op: str, sha: str | None, reason: str | None) -> None:
    relative = path.resolve().relative_to(table.resolve()).as_posix()
    chain = table / CHAIN_DIR / f"{day_of(relative)}.jsonl"
    _, head, seq, state = _head(chain)
    if op == "write" and state.get(relative) == sha:
        return
    line: dict[str, Any] = {"seq": seq + 1, "op": op, "file": relative, "sha256": sha, "reason": reason,
                            "at": datetime.now(UTC).isoformat(timespec="seconds"), "prev": head}
    line["hash"] = _line_hash(line)
    chain.parent.mkdir(parents=True, exist_ok=True)
    with chain.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(line, sort_keys=True) + "\n")
    state[relative] = sha
    _HEADS[chain] = (chain.stat().st_size, line["hash"], seq + 1, state)


def _line_hash(line: dict[str, Any]) -> str:
    body = {k: v for k, v in line.items() if k != "hash"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _head(chain: Path) -> tuple[int, str, int, dict[str, str | None]]:
    """(size, head hash, last seq, file -> sha256 or None if deleted), remembered while the file keeps
    its size, so a writer appending every second does not re-read the day's chain each time."""
    size = chain.stat().st_size if chain.exists() else 0
    known = _HEADS.get(chain)
    if known and known[0] == size:
        return known
    head, seq, state = GENESIS, 0, {}
    if size:
        for line in _lines(chain):
            head, seq = line["hash"], line["seq"]
            state[line["file"]] = line["sha256"]
    return size, head, seq, state


def _lines(chain: Path) -> list[dict[str, Any]]:
    return [json.loads(text) for text in chain.read_text(encoding="utf-8").splitlines() if text.strip()]


def heads(table: Path) -> dict[str, str]:
    """Day -> the hash of the last line of that day's chain."""
    folder = table / CHAIN_DIR
    if not folder.is_dir():
        return {}
    return {p.stem: _lines(p)[-1]["hash"] for p in sorted(folder.glob("*.jsonl")) if p.stat().st_size}


def verify_table(table: Path, expected_heads: dict[str, str] | None = None) -> list[Problem]:
    """Every way the table's files differ from its chains: broken or edited lines, files changed,
    missing or never recorded, and (given the heads a report kept) chains cut short or rewritten."""
    problems: list[Problem] = []
    recorded: dict[str, str | None] = {}
    folder = table / CHAIN_DIR
    for chain in sorted(folder.glob("*.jsonl")) if folder.is_dir() else []:
        where = f"{chain.relative_to(table.parent).as_posix()}"
        head, seq = GENESIS, 0
        for number, text in enumerate(chain.read_text(encoding="utf-8").splitlines(), 1):
            try:
                line = json.loads(text)
                ok = line["prev"] == head and line["seq"] == seq + 1 and line["hash"] == _line_hash(line)
            except (ValueError, KeyError, TypeError):
                problems.append(Problem(f"{where}:{number}", "unreadable chain line"))
                break
            if not ok:
                problems.append(Problem(f"{where}:{number}", "chain broken: a line was changed, removed or inserted"))
                break
            head, seq = line["hash"], line["seq"]
            recorded[line["file"]] = line["sha256"]
        if expected_heads and chain.stem in expected_heads and not _has_line(chain, expected_heads[chain.stem]):
            problems.append(Problem(where, "the chain no longer holds the head the report recorded"))
    if expected_heads:
        for day in sorted(set(expected_heads) - {p.stem for p in folder.glob("*.jsonl")} if folder.is_dir()
                          else expected_heads):
            problems.append(Problem(f"{table.name}/{CHAIN_DIR}/{day}.jsonl", "chain file deleted"))
    on_disk = {p.relative_to(table).as_posix() for p in table.rglob("*.parquet")
               if not any(part.startswith(("_", ".")) for part in p.relative_to(table).parts)}
    for relative, sha in sorted(recorded.items()):
        path = table / relative
        if sha is None:
            continue
        if relative not in on_disk:
            problems.append(Problem(f"{table.name}/{relative}", "file deleted (the chain records it)"))
        elif sha256_file(path) != sha:
            problems.append(Problem(f"{table.name}/{relative}", "file changed since it was written"))
    for relative in sorted(on_disk - {r for r, s in recorded.items() if s is not None}):
        problems.append(Problem(f"{table.name}/{relative}", "file not recorded in the chain"))
    return problems


def _has_line(chain: Path, digest: str) -> bool:
    return any(line.get("hash") == digest for line in _lines(chain))
