"""Batch detection on Spark: files -> events lake (Parquet) -> every rule in one pass -> alerts.

Stage 1 reads, normalises and enriches on the driver and stages events as a Parquet lake partitioned
by date and kind; unreadable records go to the dead-letter file with their original bytes. Stage 2 runs
one Spark task per lake file: a Python worker reads the file and runs the Detector on it in batches of
LAKE_BATCH_ROWS events, building the Detector once and reusing it.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.dataset as ds
from pyspark import Broadcast
from pyspark.sql import DataFrame, SparkSession

from alerting.alerts import alert_document
from enrich.normalise import HostHint, context, normalise
from ingest import read_paths
from layers.engine import Detector, fallback_count
from rules.model import CompiledRule, RuleSet
from socpipe.events import DeadLetter, Event
from socpipe.lake import LAKE_BATCH_ROWS, write_lake_part
from socpipe.registry import Registry

EVENT_SCHEMA = pa.schema([
    ("event_id", pa.string()),
    ("kind", pa.string()),
    ("origin", pa.string()),
    ("timestamp", pa.timestamp("us", tz="UTC")),
    ("host_name", pa.string()),
    ("source_ip", pa.string()),
    ("user_name", pa.string()),
    ("agency_id", pa.string()),
    ("system_id", pa.string()),
    ("system_level", pa.int32()),
    ("fields", pa.map_(pa.string(), pa.string())),
    ("date", pa.string()),
])
ALERT_ARROW_SCHEMA = pa.schema([(name, pa.string()) for name in ("alert_id", "timestamp", "level", "agency_id",
                                                                  "document")])
ALERT_SCHEMA = ", ".join(f"{name} string" for name in ALERT_ARROW_SCHEMA.names)  # the same, as Spark DDL


@dataclass
class StageResult:
    events: int = 0
    dead_letters: int = 0


@dataclass
class Summary:
    events: int
    dead_letters: int
    rules_loaded: int
    rules_failed: int
    fallback_rules: int
    alerts_by_level: Counter[str] = field(default_factory=Counter)
    alerts_by_agency: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    triage_lines: list[str] = field(default_factory=list)  # suppressed alerts and incidents (alerting/triage.py)

    @property
    def alerts(self) -> int:
        return sum(self.alerts_by_level.values())

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


def stage_events(
    records: Iterable[Event | DeadLetter],
    lake: Path,
    deadletters: IO[str],
    registry: Registry | None = None,
    hints: tuple[HostHint, ...] = (),
    events_per_file: int = LAKE_BATCH_ROWS,
    syslog_year: int | None = None,
) -> StageResult:
    """Write events to the Parquet lake and dead letters (one JSON object a line) to `deadletters`."""
    result = StageResult()
    rows: list[dict[str, Any]] = []
    part = 0

    def flush() -> None:
        nonlocal part
        write_lake_part(pa.Table.from_pylist(rows, schema=EVENT_SCHEMA), lake, f"part-{part:05d}")
        part += 1
        rows.clear()

    for record in records:
        if isinstance(record, DeadLetter):
            deadletters.write(json.dumps(record.to_json(), ensure_ascii=False) + "\n")
            result.dead_letters += 1
            continue
        rows.append(event_row(record, registry, hints, syslog_year))
        result.events += 1
        if len(rows) >= events_per_file:
            flush()
    if rows:
        flush()
    return result


def event_row(event: Event, registry: Registry | None, hints: tuple[HostHint, ...],
              syslog_year: int | None, agency_hint: str | None = None) -> dict[str, Any]:
    """One lake row (EVENT_SCHEMA): the parsed event normalised, with its context. The event id is
    taken before normalising, so batch and stream give every event (and so every alert) the same id.
    `agency_hint` (from a collector) names the agency when the registry places the event nowhere."""
    identity = event.identity
    event = normalise(event)
    ctx = context(event, registry, hints, syslog_year)
    return {
        "event_id": identity,
        "kind": event.kind,
        "origin": event.origin,
        "timestamp": ctx.timestamp,
        "host_name": ctx.host,
        "source_ip": ctx.source_ip,
        "user_name": ctx.user,
        "agency_id": ctx.agency_id or agency_hint,
        "system_id": ctx.system_id,
        "system_level": ctx.system_level,
        "fields": list(event.fields.items()),
        "date": ctx.timestamp.strftime("%Y-%m-%d") if ctx.timestamp else "unknown",
    }


_DETECTORS: dict[str, Detector] = {}


def detector_for(token: str, rules: Broadcast) -> Detector:
    """One Detector per Python worker and rule set: compiling the rules once, not once per batch."""
    detector = _DETECTORS.get(token)
    if detector is None:
        _DETECTORS.clear()
        detector = _DETECTORS[token] = Detector(rules.value)
    return detector


def alert_batch(detector: Detector, batch: pa.RecordBatch) -> pa.RecordBatch:
    """The alerts (ALERT_SCHEMA) of one batch of lake rows (EVENT_SCHEMA)."""
    out: dict[str, list[Any]] = {name: [] for name in ALERT_ARROW_SCHEMA.names}
    matches = detector.match_batch(batch.column("kind"), batch.column("fields"))
    # Only the rows that matched become Python objects.
    rows = pa.array([row for row, _, _ in matches], type=pa.int64())  # typed: take() refuses an empty null array
    columns = batch.drop_columns(["fields"]).take(rows).to_pydict()
    for j, (_, fields, matched) in enumerate(matches):
        ctx = context_doc({column: columns[column][j] for column in _CONTEXT_COLUMNS})
        for i in matched:
            doc = alert_document(detector.rules[i], columns["event_id"][j], columns["kind"][j],
                                 columns["origin"][j], fields, columns["timestamp"][j], ctx)
            out["alert_id"].append(doc["alert_id"])
            out["timestamp"].append(doc["@timestamp"] or "")
            out["level"].append(doc["rule"]["level"])
            out["agency_id"].append(columns["agency_id"][j])
            out["document"].append(json.dumps(doc, ensure_ascii=False, sort_keys=True))
    return pa.RecordBatch.from_pydict(out, schema=ALERT_ARROW_SCHEMA)


_CONTEXT_COLUMNS = {"host_name": ("host", "name"), "source_ip": ("source", "ip"), "user_name": ("user", "name"),
                    "agency_id": ("agency", "id"), "system_id": ("system", "id"),
                    "system_level": ("system", "level")}


def context_doc(row: Mapping[str, Any]) -> dict[str, Any]:
    """The ECS-named context of a lake row, as nested objects for event and alert documents."""
    doc: dict[str, Any] = {}
    for column, (obj, key) in _CONTEXT_COLUMNS.items():
        if row[column] is not None:
            doc.setdefault(obj, {})[key] = row[column]
    return doc


# Field names read as Parquet stored them, a dictionary of names and a code per entry, which the detector
# would otherwise compute.
LAKE_FORMAT = ds.ParquetFileFormat(read_options=ds.ParquetReadOptions(dictionary_columns=["fields.key_value.key"]))
LAKE_PARTITIONING = ds.partitioning(pa.schema([("date", pa.string()), ("kind", pa.string())]), flavor="hive")


def match_lake(spark: SparkSession, lake: Path, rules: list[CompiledRule]) -> DataFrame:
    """Alerts (alert_id, timestamp, level, agency_id, document JSON) for every rule match on the events of
    the lake, its Parquet files read by the Python workers (so the lake must be where they can read it, as
    Spark's own reader would need too).

    Spark's reader would hand the map column to Python row by row (~25 us of CPU an event, more than
    detection costs); pyarrow reads the same files in ~4 us an event. Spark runs one task per file and
    gathers the alerts."""
    files = sorted(str(p) for p in lake.rglob("*.parquet"))
    broadcast = spark.sparkContext.broadcast(rules)
    token = uuid.uuid4().hex
    # File numbers from spark.range, so no Python worker runs but the detecting ones.
    numbers = spark.range(len(files), numPartitions=max(len(files), 1))
    return numbers.mapInArrow(lambda batches: _match_files(token, broadcast, str(lake), files, batches), ALERT_SCHEMA)


def _match_files(token: str, rules: Broadcast, lake: str, files: list[str],
                 numbers: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    detector = detector_for(token, rules)
    for batch in numbers:
        events = ds.dataset([files[i] for i in batch.column("id").to_pylist()], format=LAKE_FORMAT,
                            partitioning=LAKE_PARTITIONING, partition_base_dir=lake)
        for rows in events.to_batches(batch_size=LAKE_BATCH_ROWS, use_threads=False):
            yield alert_batch(detector, rows)


def run(
    spark: SparkSession,
    ruleset: RuleSet,
    inputs: list[Path],
    out_dir: Path,
    lake: Path,
    registry: Registry | None = None,
    hints: tuple[HostHint, ...] = (),
    events_per_file: int = LAKE_BATCH_ROWS,
    syslog_year: int | None = None,
    triage: Callable[[list[dict[str, Any]], Path], tuple[set[str], list[str]]] | None = None,
) -> Summary:
    """The whole batch job; writes DIR/alerts.jsonl and DIR/deadletter.jsonl. `triage` (alerting/triage.py)
    takes the alert documents and gives the ids of those that stand and its summary lines."""
    started = time.monotonic()
    out_dir.mkdir(parents=True, exist_ok=True)
    with (out_dir / "deadletter.jsonl").open("w", encoding="utf-8") as deadletters:
        staged = stage_events(read_paths(inputs), lake, deadletters, registry, hints, events_per_file,
                              syslog_year)
    summary = Summary(staged.events, staged.dead_letters, len(ruleset.rules), len(ruleset.failures),
                      fallback_count(ruleset.rules))
    rows = []
    if staged.events:
        rows = match_lake(spark, lake, ruleset.rules).collect()
    rows.sort(key=lambda r: (r.timestamp, r.alert_id))
    if triage:
        standing, summary.triage_lines = triage([json.loads(r.document) for r in rows], out_dir)
        rows = [r for r in rows if r.alert_id in standing]
    with (out_dir / "alerts.jsonl").open("w", encoding="utf-8") as alerts:
        for r in rows:
            alerts.write(r.document + "\n")
            summary.alerts_by_level[r.level] += 1
            summary.alerts_by_agency[r.agency_id or "unassigned"] += 1
    summary.seconds = time.monotonic() - started
    return summary
