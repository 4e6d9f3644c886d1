"""Input splits: reading the pieces of a file one after another gives exactly what reading it whole gives
(records, positions, dead letters), whatever the split size."""

from __future__ import annotations

import json
import random

import pytest

from ingest import read_paths
from ingest.splits import Split, plan_splits, read_split
from socpipe.demo import SAMPLES


def _pieces(paths, split_bytes):
    splits = plan_splits(paths, split_bytes)
    return splits, [record for split in splits for record in read_split(split)]


@pytest.mark.parametrize("split_bytes", [64, 1000, 50_000, 10**9])
def test_demo_samples_read_in_pieces_equal_read_whole(split_bytes):
    splits, pieces = _pieces([SAMPLES], split_bytes)
    assert pieces == list(read_paths([SAMPLES]))
    if split_bytes == 64:
        assert len(splits) > 100  # the files really were cut


def test_concatenated_json_with_broken_records_and_blank_lines(tmp_path):
    rng = random.Random(7)
    chunks = []
    for n in range(300):
        doc = {"EventID": str(n), "CommandLine": "x" * rng.randrange(0, 80), "Image": "C:\\t\\é.exe"}
        roll = rng.random()
        if roll < 0.1:
            chunks.append('{"EventID": "broken", \n')
        elif roll < 0.3:
            chunks.append(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
        elif roll < 0.35:
            chunks.append("\n\n")
        else:
            chunks.append(json.dumps(doc, ensure_ascii=False) + "\n")
    path = tmp_path / "events.json"
    path.write_text("".join(chunks), encoding="utf-8")
    whole = list(read_paths([path]))
    assert any(getattr(r, "reason", "") for r in whole)  # the broken records are dead letters
    for split_bytes in (40, 333, 4096):
        splits, pieces = _pieces([path], split_bytes)
        assert len(splits) > 1
        assert pieces == whole, split_bytes


def test_splits_cover_the_file_without_gaps(tmp_path):
    path = tmp_path / "auth.log"
    line = b"Mar 14 02:15:00 host sshd[1]: Failed password for root from 203.0.113.7\n"
    path.write_bytes(line * 2000)
    splits = plan_splits([path], 10_000)
    assert splits[0].start == 0 and splits[-1].end == path.stat().st_size
    assert all(a.end == b.start for a, b in zip(splits, splits[1:], strict=False))
    assert all(s.start % len(line) == 0 for s in splits)  # cut at line starts
    assert [s.first_line for s in splits] == [1 + s.start // len(line) for s in splits]


def test_small_gzip_and_evtx_files_are_one_split_each(tmp_path):
    (tmp_path / "a.log.gz").write_bytes(b"")
    assert plan_splits([tmp_path], 1) == [Split(str(tmp_path / "a.log.gz"))]
