"""Events per system and day: the one pass over the events table that coverage, sources and retention
share (20 million events become a few thousand rows)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from pyspark.sql import functions as F

from layers.audit.lakeread import LakeReader


@dataclass(frozen=True)
class Day:
    agency_id: str | None
    system_id: str | None
    day: date
    events: int
    last: datetime | None


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def utc(micros: int | None) -> datetime | None:
    """A Spark timestamp collected as unix_micros, as an aware UTC time (Spark would hand back naive times
    in the Python process's own time zone)."""
    return None if micros is None else EPOCH + timedelta(microseconds=micros)


def daily_activity(reader: LakeReader) -> list[Day]:
    events = reader.table("events")
    if events is None:
        return []
    table = (events.groupBy("agency_id", "system_id", F.col("date").cast("string").alias("day"))
             .agg(F.count(F.lit(1)).alias("events"), F.unix_micros(F.max("timestamp")).alias("last"))
             .toArrow())  # Arrow, not Row objects: ~100,000 rows cross to Python in one go
    days = [Day(r["agency_id"], r["system_id"], date.fromisoformat(r["day"]), r["events"], utc(r["last"]))
            for r in table.to_pylist()]
    return sorted(days, key=lambda d: (d.day, d.agency_id or "", d.system_id or ""))
