"""Events per system and day: the one pass over the events table that coverage, sources and retention
share (20 million events become about a hundred thousand rows).

One Spark task per group of lake files: each Python worker reads three columns of its files with pyarrow
and aggregates them (as layers/detect.py reads the lake for detection: Spark's own reader and hash
aggregation over string keys cost ~20x more CPU here); Spark merges the partial counts.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import functions as F

from layers.audit.lakeread import LakeReader
from socpipe.lakechain import day_of

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
PARTIAL = pa.schema([("agency_id", pa.string()), ("system_id", pa.string()), ("day", pa.string()),
                     ("events", pa.int64()), ("last", pa.int64())])
PARTIAL_DDL = "agency_id string, system_id string, day string, events long, last long"
FILES_PER_TASK = 8


@dataclass(frozen=True)
class Day:
    agency_id: str | None
    system_id: str | None
    day: date
    events: int
    last: datetime | None


def utc(micros: int | None) -> datetime | None:
    """A Spark timestamp collected as unix_micros, as an aware UTC time (Spark would hand back naive times
    in the Python process's own time zone)."""
    return None if micros is None else EPOCH + timedelta(microseconds=micros)


def daily_activity(reader: LakeReader) -> list[Day]:
    files = [str(p) for p in reader.paths("events")]
    if not files:
        return []
    tasks = (len(files) + FILES_PER_TASK - 1) // FILES_PER_TASK
    partial = reader.spark.range(tasks, numPartitions=tasks).mapInArrow(
        lambda batches: _count_files(files, batches), PARTIAL_DDL)
    table = (partial.groupBy("agency_id", "system_id", "day")
             .agg(F.sum("events").alias("events"), F.max("last").alias("last"))
             .toArrow())  # Arrow, not Row objects: ~100,000 rows cross to Python in one go
    days = [Day(r["agency_id"], r["system_id"], date.fromisoformat(r["day"]), r["events"], utc(r["last"]))
            for r in table.to_pylist()]
    return sorted(days, key=lambda d: (d.day, d.agency_id or "", d.system_id or ""))


def _count_files(files: list[str], tasks: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    for batch in tasks:
        for task in batch.column("id").to_pylist():
            for path in files[task * FILES_PER_TASK:(task + 1) * FILES_PER_TASK]:
                table = pq.read_table(path, columns=["agency_id", "system_id", "timestamp"])
                counts = table.group_by(["agency_id", "system_id"], use_threads=False).aggregate(
                    [([], "count_all"), ("timestamp", "max")])
                yield pa.RecordBatch.from_arrays(
                    [counts.column("agency_id").combine_chunks(), counts.column("system_id").combine_chunks(),
                     pa.array([day_of(path.replace("\\", "/"))] * counts.num_rows, pa.string()),
                     counts.column("count_all").combine_chunks(),
                     counts.column("timestamp_max").combine_chunks().cast(pa.int64())], schema=PARTIAL)
