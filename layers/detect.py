"""Batch detection on Spark: files -> events lake (Parquet) and every rule in one pass -> alerts.

The driver only plans: it cuts the inputs into splits at record boundaries (ingest/splits.py) and runs
one Spark task per split. A task reads its split, parses, normalises and enriches the events, writes them
to the Parquet lake (partitioned by date and kind, files named after the split, so a re-run writes the
same files), runs the Detector on them in batches of LAKE_BATCH_ROWS and writes its alerts and dead
letters to files of its own. The driver then merges those files in order into alerts.jsonl and
deadletter.jsonl, streaming: it never holds all events or all alerts.
"""

from __future__ import annotations

import contextlib
import gc
import heapq
import json
import shutil
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
from pyspark import Broadcast
from pyspark.sql import DataFrame, SparkSession

from alerting.alerts import agency_key, alert_document
from alerting.alerts import alert_id as alert_id_of
from enrich import intel as intel_sets
from enrich.assets import address_fields
from enrich.geoip import GeoIP
from enrich.intel import IntelSet
from enrich.normalise import HostHint, context, normalise
from enrich.seen_domains import SeenDomains
from ingest.splits import Split, read_split
from layers.correlate import correlate, hidden_rules
from layers.matcher.engine import Detector, fallback_count
from layers.matcher.fieldbatch import FieldBatch
from layers.matcher.intel import INTEL_RULE, INTEL_RULE_ID, IntelMatch, intel_matches
from rules.model import CompiledRule, RuleSet
from socpipe.events import SYSTEM_PREFIX, DeadLetter, Event, load_document
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
class Summary:
    events: int
    dead_letters: int
    rules_loaded: int
    rules_failed: int
    fallback_rules: int
    alerts_by_level: Counter[str] = field(default_factory=Counter)
    alerts_by_agency: Counter[str] = field(default_factory=Counter)
    # Windows names used by both System and the event's own data, per name: the plain field is the event
    # data's value, the System value is kept as "System.<name>" (ingest/parsers.py windows_fields).
    name_collisions: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    stages: dict[str, float] = field(default_factory=dict)  # seconds per stage, in order
    triage_lines: list[str] = field(default_factory=list)  # suppressed alerts and incidents (alerting/triage.py)
    correlation_lines: list[str] = field(default_factory=list)  # layer 2's alerts per correlation

    @property
    def alerts(self) -> int:
        return sum(self.alerts_by_level.values())

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


def event_row(event: Event, registry: Registry | None, hints: tuple[HostHint, ...],
              syslog_year: int | None, agency_hint: str | None = None, geoip: GeoIP | None = None,
              seen: SeenDomains | None = None) -> dict[str, Any]:
    """One lake row (EVENT_SCHEMA): the parsed event normalised, with its context, the registry's owner of
    its network addresses (enrich/assets.py), with `geoip` the country and AS of its public addresses
    (enrich/geoip.py) and with `seen` the newly-seen mark of its DNS question (enrich/seen_domains.py),
    all as fields the rules read. The event id is taken before normalising,
    so batch and stream give every event (and so every alert) the same id. `agency_hint` (from a
    collector) names the agency when the registry places the event nowhere."""
    identity = event.identity
    event = normalise(event)
    ctx = context(event, registry, hints, syslog_year)
    fields = event.fields if geoip is None else geoip.enrich(event.fields, ctx.source_ip)
    fields = address_fields(fields, registry)
    if seen is not None:
        fields = seen.mark(event.kind, fields)
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
        "fields": fields,
        "date": ctx.timestamp.date().isoformat() if ctx.timestamp else "unknown",
    }


_SCALAR_COLUMNS = [(f.name, f.type) for f in EVENT_SCHEMA if f.name != "fields"]


def rows_table(rows: list[dict[str, Any]]) -> pa.Table:
    """Lake rows (event_row) as an EVENT_SCHEMA table, the map column built from flat key and value arrays
    (pa.Table.from_pylist converts each event's map on its own, at about twice the cost)."""
    maps = [row["fields"] for row in rows]
    offsets = np.zeros(len(maps) + 1, dtype=np.int32)
    np.cumsum(np.fromiter(map(len, maps), dtype=np.int32, count=len(maps)), out=offsets[1:])
    keys = pa.array(list(chain.from_iterable(maps)), pa.string())
    values = pa.array(list(chain.from_iterable(map(dict.values, maps))), pa.string())
    columns = {name: pa.array([row[name] for row in rows], kind) for name, kind in _SCALAR_COLUMNS}
    columns["fields"] = pa.MapArray.from_arrays(pa.array(offsets), keys, values)
    return pa.Table.from_pydict({name: columns[name] for name in EVENT_SCHEMA.names}, schema=EVENT_SCHEMA)


_DETECTORS: dict[str, Detector] = {}


def detector_for(token: str, rules: Broadcast) -> Detector:
    """One Detector per Python worker and rule set: compiling the rules once, not once per batch."""
    detector = _DETECTORS.get(token)
    if detector is None:
        _DETECTORS.clear()
        detector = _DETECTORS[token] = Detector(rules.value)
    return detector


def alert_batch(detector: Detector, batch: pa.RecordBatch, intel: IntelSet | None = None) -> pa.RecordBatch:
    """The alerts (ALERT_SCHEMA) of one batch of lake rows (EVENT_SCHEMA): the rules' and, with `intel`,
    one "threat-intel match" per event and indicator found in it."""
    out: dict[str, list[Any]] = {name: [] for name in ALERT_ARROW_SCHEMA.names}
    encoded = FieldBatch(batch.column("fields"))
    matches = detector.match_batch(batch.column("kind"), encoded)
    by_row: dict[int, tuple[dict[str, str], list[int], list[IntelMatch]]] = {
        row: (fields, matched, []) for row, fields, matched in matches}
    if intel:
        found = intel_matches(intel, encoded, batch.column("source_ip"))
        others = sorted({m.row for m in found} - by_row.keys())
        for row, fields in zip(others, encoded.records(np.array(others, dtype=np.int64)), strict=True):
            by_row[row] = (fields, [], [])
        for match in found:
            by_row[match.row][2].append(match)
    # Only the rows that matched become Python objects.
    order = sorted(by_row)
    rows = pa.array(order, type=pa.int64())  # typed: take() refuses an empty null array
    columns = batch.drop_columns(["fields"]).take(rows).to_pydict()
    for j, row in enumerate(order):
        fields, matched, hits = by_row[row]
        ctx = context_doc({column: columns[column][j] for column in _CONTEXT_COLUMNS})
        event = (columns["event_id"][j], columns["kind"][j], columns["origin"][j], fields, columns["timestamp"][j])
        docs = [alert_document(detector.rules[i], *event, ctx) for i in matched]
        docs += [_intel_document(hit, *event, ctx) for hit in hits]
        for doc in docs:
            out["alert_id"].append(doc["alert_id"])
            out["timestamp"].append(doc["@timestamp"] or "")
            out["level"].append(doc["rule"]["level"])
            out["agency_id"].append(columns["agency_id"][j])
            out["document"].append(json.dumps(doc, ensure_ascii=False, sort_keys=True))
    return pa.RecordBatch.from_pydict(out, schema=ALERT_ARROW_SCHEMA)


def _intel_document(match: IntelMatch, event_id: str, kind: str, origin: str, fields: dict[str, str],
                    timestamp: Any, ctx: dict[str, Any]) -> dict[str, Any]:
    """The alert of a threat-intel match: a Sigma alert's document, its level the indicator's, its id from
    the event and the indicator (an event may meet several), and `threat` naming the indicator (ECS
    threat.indicator, threat.feed) and the event field and value that met it."""
    found = match.indicator
    doc = alert_document(replace(INTEL_RULE, level=intel_sets.level(found.confidence)), event_id, kind, origin, fields,
                         timestamp, ctx)
    doc["alert_id"] = alert_id_of(INTEL_RULE_ID, f"{event_id}\x1f{found.type}\x1f{found.value}")
    doc["threat"] = {
        "indicator": {"type": found.type, "value": found.value, "confidence": found.confidence, "id": found.id,
                      "description": found.description, "provider": found.source},
        "feed": {"name": found.source},
        "matched": {"field": match.field, "atomic": match.value},
    }
    return doc


_CONTEXT_COLUMNS = {"host_name": ("host", "name"), "source_ip": ("source", "ip"), "user_name": ("user", "name"),
                    "agency_id": ("agency", "id"), "system_id": ("system", "id"),
                    "system_level": ("system", "level")}


def name_collisions(table: pa.Table) -> Counter[str]:
    """Per System name, the events of `table` (EVENT_SCHEMA) whose own data used it too: the fields kept
    as "System.<name>" because of that."""
    fields = table.column("fields").combine_chunks()
    offsets = fields.offsets
    keys = fields.keys.slice(offsets[0].as_py(), offsets[-1].as_py() - offsets[0].as_py())  # a slice's own
    kept = keys.filter(pc.starts_with(keys, SYSTEM_PREFIX)).value_counts().to_pylist()
    return Counter({item["values"].removeprefix(SYSTEM_PREFIX): item["counts"] for item in kept})


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


# Alert lines of a task's part file: sort key and document, split by a byte JSON never holds unescaped.
_SEP = "\x1f"
PARTS_DIR = ".socpipe-parts"
STATS_SCHEMA = pa.schema([("split", pa.int64()), ("events", pa.int64()), ("dead_letters", pa.int64()),
                          ("alerts_by_level", pa.string()), ("alerts_by_agency", pa.string()),
                          ("name_collisions", pa.string())])
STATS_DDL = ("split bigint, events bigint, dead_letters bigint, alerts_by_level string, alerts_by_agency string, "
             "name_collisions string")


@dataclass(frozen=True)
class TaskSettings:
    """What every task needs besides its split and the rules, shipped once to every executor."""

    registry: Registry | None
    hints: tuple[HostHint, ...]
    syslog_year: int | None
    lake: str
    parts: str
    events_per_file: int
    geoip: GeoIP | None = None  # enrich/geoip.py: country and AS of public addresses
    intel: IntelSet | None = None  # enrich/intel.py: indicators whose matches raise alerts
    seen: SeenDomains | None = None  # enrich/seen_domains.py: the baseline of domains asked before


def run(
    spark: SparkSession,
    ruleset: RuleSet,
    splits: list[Split],
    out_dir: Path,
    lake: Path,
    registry: Registry | None = None,
    hints: tuple[HostHint, ...] = (),
    events_per_file: int = LAKE_BATCH_ROWS,
    syslog_year: int | None = None,
    triage: Callable[[list[dict[str, Any]], Path], tuple[set[str], list[str]]] | None = None,
    geoip: GeoIP | None = None,
    intel: IntelSet | None = None,
    seen: SeenDomains | None = None,
) -> Summary:
    """The whole batch job; writes DIR/alerts.jsonl (ordered by time, then alert id) and
    DIR/deadletter.jsonl (in reading order). `triage` (alerting/triage.py) takes the alert documents and
    gives the ids of those that stand and its summary lines; the summary counts the alerts that stand.
    `geoip`, `intel` and `seen` enrich the events, match them against indicators and mark DNS questions for
    domains not seen before (enrich/)."""
    started = time.monotonic()
    out_dir.mkdir(parents=True, exist_ok=True)
    parts = out_dir / PARTS_DIR
    shutil.rmtree(parts, ignore_errors=True)
    parts.mkdir()
    summary_stages: dict[str, float] = {}
    settings = TaskSettings(registry, hints, syslog_year, str(lake.resolve()), str(parts.resolve()), events_per_file,
                            geoip, intel, seen)
    summary = Summary(0, 0, len(ruleset.rules), len(ruleset.failures), fallback_count(ruleset.rules),
                      stages=summary_stages)
    if splits:
        rules = spark.sparkContext.broadcast(ruleset.rules)
        shipped = spark.sparkContext.broadcast(settings)
        token = uuid.uuid4().hex
        numbers = spark.range(len(splits), numPartitions=len(splits))
        stats = numbers.mapInArrow(lambda batches: _detect_splits(token, rules, shipped, splits, batches),
                                   STATS_DDL).collect()
        for row in stats:
            summary.events += row.events
            summary.dead_letters += row.dead_letters
            summary.alerts_by_level.update(json.loads(row.alerts_by_level))
            summary.alerts_by_agency.update(json.loads(row.alerts_by_agency))
            summary.name_collisions.update(json.loads(row.name_collisions))
    summary.stages["read+detect"] = time.monotonic() - started - sum(summary.stages.values())
    count = len(splits)
    with contextlib.ExitStack() as stack, (out_dir / "alerts.jsonl").open("w", encoding="utf-8") as alerts:
        parts_of_tasks = [stack.enter_context((parts / f"alerts-{i:06d}.txt").open(encoding="utf-8"))
                          for i in range(count)]
        merged: Iterable[str] = (line.split(_SEP, 2)[2] for line in heapq.merge(*parts_of_tasks))
        if ruleset.correlations or triage:  # they need every alert at once (alerts are far fewer than events)
            pairs = [(line, load_document(line)) for line in merged]
            if ruleset.correlations:  # layer 2 reads the alerts of the rules it names
                begun = time.monotonic()
                pairs = _correlated(pairs, ruleset, registry, summary)
                summary.stages["correlate"] = time.monotonic() - begun
            if triage:
                pairs = _triaged(pairs, triage, out_dir, summary)
            merged = (line for line, _ in pairs)
        alerts.writelines(merged)
    with (out_dir / "deadletter.jsonl").open("wb") as deadletters:
        for i in range(count):
            with (parts / f"deadletter-{i:06d}.jsonl").open("rb") as part:
                shutil.copyfileobj(part, deadletters)
    shutil.rmtree(parts)
    summary.seconds = time.monotonic() - started
    summary.stages["merge"] = summary.seconds - sum(summary.stages.values())
    return summary


Pairs = list[tuple[str, dict[str, Any]]]  # alert lines of alerts.jsonl and their documents


def _correlated(pairs: Pairs, ruleset: RuleSet, registry: Registry | None, summary: Summary) -> Pairs:
    """The alerts with the correlation alerts (layers/correlate.py) added in time order, less the alerts
    of rules that only correlations with `generate: false` name; the summary counts the result."""
    found = correlate(ruleset.correlations, ruleset.rules, (doc for _, doc in pairs),
                      *([registry.common_ancestor] if registry else []))
    hidden = hidden_rules(ruleset.correlations)
    kept = [(line, doc) for line, doc in pairs if doc["rule"]["id"] not in hidden]
    kept += [(json.dumps(doc, ensure_ascii=False, sort_keys=True) + "\n", doc) for doc in found]
    kept.sort(key=lambda pair: (pair[1]["@timestamp"] or "", pair[1]["alert_id"]))
    fired = Counter(doc["rule"]["title"] for doc in found)
    quiet = len(pairs) + len(found) - len(kept)
    summary.correlation_lines = [f"  {n:,} correlation alerts from {title}" for title, n in sorted(fired.items())]
    if quiet:
        summary.correlation_lines.append(f"  {quiet:,} alerts of rules that only correlations read (generate: false)")
    _recount(summary, [doc for _, doc in kept])
    return kept


def _triaged(pairs: Pairs, triage: Callable[[list[dict[str, Any]], Path], tuple[set[str], list[str]]],
             out_dir: Path, summary: Summary) -> Pairs:
    """The alerts that stand after triage; the summary's counts become theirs."""
    standing, summary.triage_lines = triage([doc for _, doc in pairs], out_dir)
    kept = [(line, doc) for line, doc in pairs if doc["alert_id"] in standing]
    _recount(summary, [doc for _, doc in kept])
    return kept


def _recount(summary: Summary, documents: list[dict[str, Any]]) -> None:
    """The summary's alert counts become those of these documents."""
    summary.alerts_by_level = Counter(doc["rule"]["level"] for doc in documents)
    summary.alerts_by_agency = Counter(agency_key(doc) for doc in documents)


def _detect_splits(token: str, rules: Broadcast, settings: Broadcast, splits: list[Split],
                   numbers: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    detector = detector_for(token, rules)
    for batch in numbers:
        for index in batch.column("id").to_pylist():
            yield _detect_split(detector, settings.value, index, splits[index])


@contextlib.contextmanager
def _rare_collections() -> Iterator[None]:
    """Python's cycle collector seldom, and blind to what existed before: a task makes millions of acyclic
    objects (reference counting frees them) and keeps up to a file's rows alive, and at the default
    thresholds the collector's passes over those and over the compiled rules took some 15% of a task's CPU.
    Cycles (a dead letter's exception and its frames) are still collected, less often."""
    thresholds = gc.get_threshold()
    gc.freeze()  # the rules, modules and anything older: left out of the task's collections
    gc.set_threshold(20_000, 10, 10)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def _detect_split(detector: Detector, settings: TaskSettings, index: int, split: Split) -> pa.RecordBatch:
    """Read, stage and detect one split; its alerts and dead letters go to its own part files."""
    with _rare_collections():
        return _detect_split_files(detector, settings, index, split)


def _detect_split_files(detector: Detector, settings: TaskSettings, index: int, split: Split) -> pa.RecordBatch:
    rows: list[dict[str, Any]] = []
    alerts: list[str] = []
    levels: Counter[str] = Counter()
    agencies: Counter[str] = Counter()
    collisions: Counter[str] = Counter()
    events = dead = chunk = 0
    lake, parts = Path(settings.lake), Path(settings.parts)

    def flush() -> None:
        nonlocal chunk
        table = rows_table(rows)
        collisions.update(name_collisions(table))
        write_lake_part(table, lake, f"part-{index:06d}-{chunk:04d}")
        chunk += 1
        rows.clear()
        for batch in table.to_batches(max_chunksize=LAKE_BATCH_ROWS):
            found = alert_batch(detector, batch, settings.intel).to_pydict()
            for alert_id, timestamp, level, agency, document in zip(
                    found["alert_id"], found["timestamp"], found["level"], found["agency_id"], found["document"],
                    strict=True):
                alerts.append(f"{timestamp}{_SEP}{alert_id}{_SEP}{document}\n")
                levels[level] += 1
                agencies[agency or "unassigned"] += 1

    with (parts / f"deadletter-{index:06d}.jsonl").open("w", encoding="utf-8") as deadletters:
        for record in read_split(split):
            if isinstance(record, DeadLetter):
                deadletters.write(json.dumps(record.to_json(), ensure_ascii=False) + "\n")
                dead += 1
                continue
            rows.append(event_row(record, settings.registry, settings.hints, settings.syslog_year,
                                  geoip=settings.geoip, seen=settings.seen))
            events += 1
            if len(rows) >= settings.events_per_file:
                flush()
        if rows:
            flush()
    alerts.sort()
    with (parts / f"alerts-{index:06d}.txt").open("w", encoding="utf-8") as out:
        out.writelines(alerts)
    stats = {"split": index, "events": events, "dead_letters": dead, "alerts_by_level": json.dumps(levels),
             "alerts_by_agency": json.dumps(agencies), "name_collisions": json.dumps(collisions)}
    return pa.RecordBatch.from_pylist([stats], schema=STATS_SCHEMA)
