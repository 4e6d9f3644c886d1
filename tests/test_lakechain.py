"""The lake's hash chain: what the lake writer records, and what verify finds when the lake is changed."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa

from socpipe.lake import write_lake_part
from socpipe.lakechain import heads, record_deleted, verify_table


def _write(table: Path, name: str, day: str, values: list[int]) -> None:
    rows = pa.table({"value": values, "date": [day] * len(values)})
    write_lake_part(rows, table, name, partitioning=("date",))


def test_clean_table_verifies_and_rewrites_keep_one_line(tmp_path: Path) -> None:
    table = tmp_path / "alerts"
    _write(table, "part-a", "2026-03-01", [1, 2])
    _write(table, "part-a", "2026-03-01", [1, 2])  # the same batch again: same file, same content
    _write(table, "part-b", "2026-03-02", [3])
    assert verify_table(table) == []
    lines = (table / "_chain" / "2026-03-01.jsonl").read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["file"] == "date=2026-03-01/part-a-0.parquet"
    assert sorted(heads(table)) == ["2026-03-01", "2026-03-02"]


def test_changed_deleted_and_unrecorded_files_are_found(tmp_path: Path) -> None:
    table = tmp_path / "events"
    _write(table, "part-a", "2026-03-01", [1, 2])
    _write(table, "part-b", "2026-03-02", [3])
    (table / "date=2026-03-01" / "part-a-0.parquet").write_bytes(b"not what was written")
    (table / "date=2026-03-02" / "part-b-0.parquet").unlink()
    (table / "date=2026-03-03").mkdir()
    (table / "date=2026-03-03" / "slipped-in.parquet").write_bytes(b"x")
    found = {p.where: p.reason for p in verify_table(table)}
    assert found == {
        "events/date=2026-03-01/part-a-0.parquet": "file changed since it was written",
        "events/date=2026-03-02/part-b-0.parquet": "file deleted (the chain records it)",
        "events/date=2026-03-03/slipped-in.parquet": "file not recorded in the chain",
    }


def test_edited_or_cut_chain_is_found(tmp_path: Path) -> None:
    table = tmp_path / "events"
    _write(table, "part-a", "2026-03-01", [1])
    _write(table, "part-b", "2026-03-01", [2])
    kept = heads(table)
    chain = table / "_chain" / "2026-03-01.jsonl"
    first, second = chain.read_text().splitlines()
    # Cutting the last line off and deleting its file leaves a consistent chain: only the kept head shows it.
    chain.write_text(first + "\n")
    (table / "date=2026-03-01" / "part-b-0.parquet").unlink()
    assert verify_table(table) == []
    assert [p.reason for p in verify_table(table, kept)] == ["the chain no longer holds the head the report recorded"]
    edited = json.loads(second)
    edited["sha256"] = "0" * 64
    chain.write_text(first + "\n" + json.dumps(edited) + "\n")
    assert "chain broken" in verify_table(table)[0].reason


def test_retention_deletion_is_recorded_not_a_problem(tmp_path: Path) -> None:
    table = tmp_path / "events"
    _write(table, "part-a", "2026-03-01", [1])
    path = table / "date=2026-03-01" / "part-a-0.parquet"
    record_deleted(table, [path], "retention")
    path.unlink()
    assert verify_table(table) == []
    assert json.loads((table / "_chain" / "2026-03-01.jsonl").read_text().splitlines()[-1])["op"] == "delete"
