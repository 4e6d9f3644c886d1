"""The keyed checkpoint of the stream's correlation groups: the state after the last micro-batch, and an
undo list that puts a redone micro-batch's entries back."""

from __future__ import annotations

from pathlib import Path

from socpipe.batchstate import KeyedBatchState


def _all(states: KeyedBatchState) -> dict[tuple[str, str], tuple[float, bytes]]:
    return {(p, k): (d, v) for p, k, d, v in states.db.execute("SELECT part, key, due, value FROM entries")}


def test_entries_are_read_by_key_and_by_due_time(tmp_path: Path):
    states = KeyedBatchState(tmp_path / "s.sqlite")
    assert states.begin(0) is None
    states.save(0, {"n": 0}, {("c", "a"): (10.0, b"a0"), ("c", "b"): (20.0, b"b0"), ("d", "a"): (5.0, b"da")})
    assert states.begin(1) == {"n": 0}
    assert states.get("c", ["a", "x"]) == {"a": b"a0"}
    assert states.get("c", [f"k{i}" for i in range(2000)] + ["b"]) == {"b": b"b0"}  # over SQLite's parameter limit
    assert states.due("c", 20.0) == {"a": b"a0"}
    states.save(1, {"n": 1}, {("c", "a"): None, ("c", "b"): (30.0, b"b1")})
    assert states.begin(2) == {"n": 1}
    assert _all(states) == {("c", "b"): (30.0, b"b1"), ("d", "a"): (5.0, b"da")}


def test_a_redone_micro_batch_starts_from_the_state_before_it(tmp_path: Path):
    states = KeyedBatchState(tmp_path / "s.sqlite")
    states.save(0, {"n": 0}, {("c", "a"): (1.0, b"a0"), ("c", "b"): (2.0, b"b0")})
    before = _all(states)
    states.begin(1)
    states.save(1, {"n": "first try"}, {("c", "a"): (9.0, b"a1"), ("c", "b"): None, ("c", "new"): (3.0, b"n1")})
    states.close()
    states = KeyedBatchState(tmp_path / "s.sqlite")  # after a restart
    assert states.begin(1) == {"n": 0}
    assert _all(states) == before
    states.save(1, {"n": 1}, {("c", "b"): (4.0, b"b1")})
    assert states.begin(1) == {"n": 0}  # redone again: still the state before it
    assert _all(states) == before
    states.save(1, {"n": 1}, {("c", "b"): (4.0, b"b1")})
    assert states.begin(2) == {"n": 1}
    assert _all(states) == {("c", "a"): (1.0, b"a0"), ("c", "b"): (4.0, b"b1")}
    assert states.db.execute("SELECT count(*) FROM headers").fetchone()[0] == 2  # the last two, no more
