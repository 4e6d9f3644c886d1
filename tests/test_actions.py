"""The action log: content-derived ids, append-only lake writes that a replay does not duplicate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from alerting.actions import Action, append_to_lake, read_lake


def _ack(minute: int, note: str = "") -> Action:
    return Action(datetime(2026, 3, 14, 2, minute, tzinfo=UTC), "contact:ankhanh-it", "acknowledge", "incident",
                  "inc1", "ankhanh", {"status": "new"}, {"status": "acknowledged"}, {"note": note})


def test_same_content_same_id_and_time_zone_does_not_matter():
    local = datetime(2026, 3, 14, 9, 5, tzinfo=timezone(timedelta(hours=7)))
    same = Action(local, "contact:ankhanh-it", "acknowledge", "incident", "inc1", "ankhanh",
                  {"status": "new"}, {"status": "acknowledged"}, {"note": ""})
    assert same.action_id == _ack(5).action_id
    assert _ack(5, "checked").action_id != _ack(5).action_id


def test_lake_keeps_each_action_once_in_time_order(tmp_path):
    append_to_lake(tmp_path, [_ack(9), _ack(5, "Đã kiểm tra")])
    append_to_lake(tmp_path, [_ack(9), _ack(5, "Đã kiểm tra")])  # a replay of the same write
    append_to_lake(tmp_path, [_ack(7)])
    actions = read_lake(tmp_path)
    assert [a.at.minute for a in actions] == [5, 7, 9]
    assert actions[0].detail == {"note": "Đã kiểm tra"} and actions[0].after == {"status": "acknowledged"}
    assert sorted(p.parent.name for p in (tmp_path / "actions").rglob("*.parquet")) == ["date=2026-03-14"] * 2


def test_unknown_kind_and_naive_time_are_refused():
    with pytest.raises(ValueError, match="unknown action kind"):
        Action(datetime(2026, 1, 1, tzinfo=UTC), "a", "delete", "incident", "i", None)
    with pytest.raises(ValueError, match="time zone"):
        Action(datetime(2026, 1, 1), "a", "comment", "incident", "i", None)
