"""Layer 1 on the stream: Kafka raw.* -> parse -> events -> every rule -> alerts, search store, lake.

Spark Structured Streaming reads the raw topics. Each task of a micro-batch parses and matches its
records in one pass (mapInArrow, with the parsers, normalisation and Detector of `socpipe detect`) and
writes its events itself, in parallel with the other tasks: one Parquet part of lake/events and a bulk
request to OpenSearch events-*. Only the alerts, dead letters and a summary per task reach the driver,
which keeps what must be serial: correlation, triage, lake/alerts, OpenSearch alerts-*, the lake's hash
chain, and Kafka `alerts` and `deadletter`. Exactly once, end to end: after a crash Spark replays an
unfinished micro-batch with the same offsets (fixed per batch id in the checkpoint, and cut into the
same tasks); its lake files are named after the batch id and each task's first record (rewritten, not
added), search documents have stable ids (overwritten), the events are written before the batch's
Kafka transaction, and that transaction also commits the batch id to a ledger (a consumer group's
offset), so a redone batch whose records were committed is not sent again and a half-sent one is
aborted, never seen by read_committed consumers.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
from kafka import KafkaAdminClient, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError
from kafka.structs import OffsetAndMetadata
from opensearchpy import OpenSearch
from pyspark import Broadcast
from pyspark.errors import StreamingQueryException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.pandas.types import from_arrow_schema
from pyspark.sql.streaming import StreamingQuery

from enrich.geoip import GeoIP
from enrich.intel import IntelSet
from enrich.intel_sources import Refresher
from enrich.normalise import HostHint
from enrich.seen_domains import SeenDomains
from ingest.frame import Frame, parse_frame
from layers.correlate import Correlator, hidden_rules, single_agency
from layers.detect import EVENT_SCHEMA, alert_batch, context_doc, detector_for, event_row, name_collisions
from rules.model import RuleSet
from socpipe import kafka_client, lakechain, search
from socpipe.batchstate import KeyedBatchState
from socpipe.config import ENV_PREFIX, Config
from socpipe.envelope import (
    ALERTS_TOPIC,
    DEADLETTER_TOPIC,
    PARSER_OF_SOURCE,
    RAW_TOPICS,
    TRANSACTION_PREFIX,
    Envelope,
)
from socpipe.events import DeadLetter, Event, load_document
from socpipe.lake import write_lake_files, write_lake_part
from socpipe.registry import Registry

log = logging.getLogger(__name__)

EVENT, ALERT, DEAD, SUMMARY = "event", "alert", "deadletter", "summary"
MESSAGE_COLUMNS = ["key", "value", "topic", "headers", "timestamp"]  # of a Kafka record, as parsing reads them
LEDGER_WAIT_SECONDS = 60.0  # retriable Kafka errors while reading the ledger, before the batch fails
# One row per event, alert or dead letter of a micro-batch; event rows fill the lake columns too.
RESULT_SCHEMA = pa.schema([
    ("row", pa.string()),
    ("doc_id", pa.string()),  # record id of an event, alert_id of an alert, record id of a dead letter
    ("index_date", pa.string()),  # YYYY-MM-DD of the daily search index
    ("document", pa.string()),  # JSON for OpenSearch or Kafka
    ("level", pa.string()),  # of an alert
    *EVENT_SCHEMA,
])
# What a task sends the driver: alerts, dead letters, and one summary row (doc_id: the task's lake part;
# timestamp: its newest event time; document: its events, lake files, name clashes and stage seconds as JSON).
TASK_SCHEMA = pa.schema([RESULT_SCHEMA.field(name) for name in
                         ("row", "doc_id", "index_date", "document", "level", "timestamp", "agency_id")])
# The lake's alerts table (lake/alerts), beside its events table (lake/events).
ALERT_LAKE_SCHEMA = pa.schema([("alert_id", pa.string()), ("timestamp", pa.timestamp("us", tz="UTC")),
                               ("level", pa.string()), ("agency_id", pa.string()), ("document", pa.string()),
                               ("date", pa.string())])


@dataclass(frozen=True)
class ParseSettings:
    """What parsing needs besides the record, shipped once to every executor."""

    registry: Registry | None
    hints: tuple[HostHint, ...]
    syslog_year: int | None
    topic_prefix: str
    geoip: GeoIP | None = None  # enrich/geoip.py: country and AS of public addresses
    seen: SeenDomains | None = None  # enrich/seen_domains.py: the baseline of domains asked before


def parse_envelope(envelope: Envelope) -> Event | DeadLetter:
    """The event of one raw record, parsed by the parser its topic names (as batch reading parses the
    same frame), or its dead letter."""
    parser = PARSER_OF_SOURCE.get(envelope.source)
    if parser is None:
        return DeadLetter(envelope.origin, envelope.position, f"no parser for topic raw.{envelope.source}",
                          envelope.raw)
    return parse_frame(envelope.origin, Frame(parser, envelope.position, envelope.raw))


def micro_batch_results(detector: Any, settings: ParseSettings, batch: pa.RecordBatch,
                        intel: IntelSet | None = None) -> pa.RecordBatch:
    """Events, their alerts (the rules' and, with `intel`, the threat-intel matches) and the dead letters
    (RESULT_SCHEMA) of a batch of Kafka records."""
    columns = batch.to_pydict()
    events: list[dict[str, Any]] = []
    event_rows: list[dict[str, Any]] = []
    dead_rows: list[dict[str, Any]] = []
    index_dates: dict[str, str] = {}  # event id -> its index date, for alerts of events without a time
    for key, value, topic, headers, appended in zip(columns["key"], columns["value"], columns["topic"],
                                                    columns["headers"], columns["timestamp"], strict=True):
        topic = topic.removeprefix(settings.topic_prefix)
        envelope = Envelope.from_message(topic, key, value, [(h["key"], h["value"]) for h in headers or ()])
        # Without a collector's stamp, Kafka's append time: a replay must land in the same daily index.
        received = envelope.received_at or appended.astimezone(UTC).isoformat()
        meta = {"record_id": envelope.record_id, "collector": envelope.collector, "received_at": received}
        record = parse_envelope(envelope)
        if isinstance(record, DeadLetter):
            doc = {**record.to_json(), **meta, "topic": topic}
            dead_rows.append({"row": DEAD, "doc_id": envelope.record_id, "index_date": received[:10],
                              "document": json.dumps(doc, ensure_ascii=False)})
            continue
        row = event_row(record, settings.registry, settings.hints, settings.syslog_year, envelope.agency,
                        settings.geoip, settings.seen)
        events.append(row)
        doc = {"@timestamp": row["timestamp"].isoformat() if row["timestamp"] else None,
               "event": dict(row["fields"]),
               "event_meta": {"id": row["event_id"], "kind": row["kind"], "origin": row["origin"], **meta},
               **context_doc(row)}
        index_dates[row["event_id"]] = row["date"] if row["timestamp"] else received[:10]
        event_rows.append({**row, "row": EVENT, "doc_id": search.document_id(envelope.record_id or row["event_id"]),
                           "index_date": index_dates[row["event_id"]], "document": orjson.dumps(doc).decode()})
    alerts = alert_batch(detector, pa.RecordBatch.from_pylist(events, schema=EVENT_SCHEMA), intel).to_pydict()
    alert_rows = [{"row": ALERT, "doc_id": alert_id,
                   "index_date": timestamp[:10] if timestamp else index_dates[json.loads(document)["event_meta"]["id"]],
                   "timestamp": datetime.fromisoformat(timestamp) if timestamp else None, "level": level,
                   "agency_id": agency, "document": document}
                  for alert_id, timestamp, level, agency, document in zip(
                      alerts["alert_id"], alerts["timestamp"], alerts["level"], alerts["agency_id"],
                      alerts["document"], strict=True)]
    return pa.RecordBatch.from_pylist(event_rows + alert_rows + dead_rows, schema=RESULT_SCHEMA)


@dataclass(frozen=True)
class EventSink:
    """Where each task writes its events: the lake's events table and the search store's events-*. The
    store's password is not shipped with the tasks: a Python worker reads it from its own environment
    (SOCPIPE__OPENSEARCH__PASSWORD, inherited in local mode; spark.executorEnv on a cluster)."""

    token: str  # names the search client a Python worker keeps
    lake: Path  # lake/events
    prefix: str  # run.events_index
    config: Config  # opensearch.url, username and ca_certs only

    @classmethod
    def of(cls, config: Config, token: str) -> EventSink:
        store = {key: config.get("opensearch", key) for key in ("url", "username", "ca_certs")}
        return cls(token, Path(config.path("lake", "path")) / "events", config.get("run", "events_index"),
                   Config({"opensearch": store}, config.base_dir))


_SEARCH_CLIENTS: dict[str, OpenSearch] = {}


def search_for(sink: EventSink) -> OpenSearch:
    """One search client per Python worker and job, reused by every task it runs (as detector_for)."""
    client = _SEARCH_CLIENTS.get(sink.token)
    if client is None:
        _SEARCH_CLIENTS.clear()
        password = os.environ.get(f"{ENV_PREFIX}OPENSEARCH__PASSWORD") or None
        client = _SEARCH_CLIENTS[sink.token] = search.client_as(sink.config, sink.config.get("opensearch", "username"),
                                                                password)
    return client


def _task_results(token: str, rules: Broadcast, settings: Broadcast, intel: Broadcast | None, sink: EventSink,
                  batch_id: int, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """One task's share of a micro-batch (one Kafka offset range): parse and match its records, write its
    events to the lake (one part named after the batch and the task's first record, so a redone batch
    rewrites the same files) and to the search store (stable ids), then yield TASK_SCHEMA rows: alerts,
    dead letters (with the documents the store refused) and the task's summary."""
    started = time.monotonic()
    detector = detector_for(token, rules)
    first, results = "", []
    for batch in batches:
        if not first and batch.num_rows:
            first = "-".join(str(batch.column(c)[0]) for c in ("topic", "partition", "offset"))
        results.append(micro_batch_results(detector, settings.value, batch.select(MESSAGE_COLUMNS),
                                           intel.value if intel else None))
    if not first:
        return
    table = pa.Table.from_batches(results, RESULT_SCHEMA)
    is_event = pc.equal(table.column("row"), EVENT)
    events = table.filter(is_event)
    matched = time.monotonic()
    name = f"stream-{batch_id:010d}-{first}"
    files = (write_lake_files(events.select(EVENT_SCHEMA.names).cast(EVENT_SCHEMA), sink.lake, name)
             if events.num_rows else [])
    stored = time.monotonic()
    rejected = search.write(search_for(sink), Sinks.docs(events, sink.prefix))
    indexed = time.monotonic()
    summary = {"events": events.num_rows, "files": [str(f) for f in files],
               "clashes": dict(name_collisions(events)) if events.num_rows else {},
               "seconds": [matched - started, stored - matched, indexed - stored]}
    yield from table.filter(pc.invert(is_event)).select(TASK_SCHEMA.names).cast(TASK_SCHEMA).to_batches()
    latest = pc.max(events.column("timestamp")).as_py() if events.num_rows else None
    yield pa.RecordBatch.from_pylist(
        [*({"row": DEAD, "doc_id": r.doc_id, "document": refused_letter(r)} for r in rejected),
         {"row": SUMMARY, "doc_id": name, "timestamp": latest, "document": json.dumps(summary)}],
        schema=TASK_SCHEMA)


def drop_stale_parts(table: Path, batch_id: int, written: list[Path]) -> None:
    """Delete the events a crashed run of this batch left under other names than the redone run's: its
    tasks, cut by minPartitions (spark.master's cores), may have started at other offsets."""
    kept = set(written)
    stale = [p for p in table.glob(f"date=*/kind=*/stream-{batch_id:010d}-*.parquet") if p not in kept]
    if stale:
        log.warning("batch %s: %s lake files of an earlier run of it were cut differently; deleted", batch_id,
                    len(stale))
        lakechain.record_deleted(table, stale, f"batch {batch_id} redone")
        for path in stale:
            path.unlink()


def refused_letter(rejected: search.Rejected) -> str:
    """The dead letter of a document the search store refused: why, and the document itself."""
    return json.dumps({"reason": f"search store refused the document for {rejected.index}: {rejected.reason}",
                       "raw": rejected.source}, ensure_ascii=False)


class StreamCorrelation:
    """Layer 2 on the stream: each micro-batch's alerts go into the correlation windows, and the watermark
    (the newest event time seen, less correlation.lateness_seconds) judges the windows that ended before
    it (layers/correlate.py). The groups live in the checkpoint (socpipe/batchstate.py KeyedBatchState);
    a micro-batch reads those its alerts fall in and those due, and writes back those it changed."""

    def __init__(self, config: Config, ruleset: RuleSet, registry: Registry | None) -> None:
        self.ruleset = ruleset
        self.hidden = hidden_rules(ruleset.correlations)
        self.lateness = float(config.get("correlation", "lateness_seconds"))
        self.owner = registry.common_ancestor if registry else single_agency
        self.states = KeyedBatchState(Path(config.path("run", "checkpoint_dir")) / "correlation.sqlite")

    def apply(self, alerts: pa.Table, latest: datetime | None, batch_id: int) -> tuple[pa.Table, pa.Table]:
        """The alerts that stand, with the correlation alerts that started in this micro-batch; and the
        revisions for the search store and Kafka only (written over the older version under the same id;
        the lake and incidents keep the judged first): correlation alerts that grew, early (provisional)
        ones, and early ones withdrawn. `latest`: the newest event time of the micro-batch."""
        header = self.states.begin(batch_id) or {}
        correlator = Correlator(self.ruleset.correlations, self.ruleset.rules, self.owner, header, self.states)
        docs = [load_document(d) for d in alerts.column("document").to_pylist()]
        correlator.add(docs)
        newest = max(latest.timestamp() if latest else -math.inf, header.get("newest") or -math.inf)
        found = correlator.advance(newest - self.lateness)
        early = correlator.provisional()
        self.states.save(batch_id, {**correlator.header(), "newest": newest if math.isfinite(newest) else None},
                         correlator.changes())
        if correlator.late:
            log.warning("batch %s: %s alerts came later than correlation.lateness_seconds allows and were not "
                        "correlated", batch_id, correlator.late)
        standing = alerts.filter(pa.array([d["rule"]["id"] not in self.hidden for d in docs], type=pa.bool_()))
        started = [d for i, d in found.items() if i in correlator.started]
        grown = list(({i: d for i, d in found.items() if i not in correlator.started} | early).values())
        return (pa.concat_tables([standing, _alert_rows(started, alerts.schema)]),
                _alert_rows(grown, alerts.schema))


def _alert_rows(docs: list[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    """Correlation alerts as rows of the micro-batch's alerts (TASK_SCHEMA, as the driver received it)."""
    return pa.Table.from_pylist([
        {"row": ALERT, "doc_id": d["alert_id"], "index_date": d["@timestamp"][:10],
         "timestamp": datetime.fromisoformat(d["@timestamp"]), "level": d["rule"]["level"],
         "agency_id": d["agency"]["id"], "document": json.dumps(d, ensure_ascii=False, sort_keys=True)}
        for d in docs], schema=TASK_SCHEMA).cast(schema)


class Sinks:
    """The foreachBatch writer: its tasks write the events (lake and search store, idempotent); it writes
    the alerts (lake and search store, idempotent) and Kafka (one transaction per batch)."""

    def __init__(self, spark: SparkSession, config: Config, ruleset: RuleSet, settings: ParseSettings,
                 triage: Any = None) -> None:
        self.rules = spark.sparkContext.broadcast(ruleset.rules)
        self.settings = spark.sparkContext.broadcast(settings)
        self.token = uuid.uuid4().hex
        self.lake = Path(config.path("lake", "path"))
        checkpoint = Path(config.path("run", "checkpoint_dir"))
        self.ledger = checkpoint / "finished-batches"
        self.ledger.mkdir(parents=True, exist_ok=True)
        self.prefixes = {"events": config.get("run", "events_index"), "alerts": config.get("run", "alerts_index")}
        self.search = search.client(config)
        self.last_batch = -1  # the newest batch this process ran: one not newer may be a redone one
        self.sink = EventSink.of(config, self.token)
        search.ensure_templates(self.search, self.prefixes, config.get("opensearch", "replicas"))
        self.topics = kafka_client.topic(config, ALERTS_TOPIC), kafka_client.topic(config, DEADLETTER_TOPIC)
        self.kafka = KafkaBatches(config, checkpoint)
        self.triage = triage  # alerting/triage.py StreamTriage: filters, suppression, incidents
        self.correlation = StreamCorrelation(config, ruleset, settings.registry) if ruleset.correlations else None
        self.intel = Refresher(config)  # enrich.intel: its thread reloads the sources (run() starts it)
        self.intel_version = self.intel.version
        self.intel_shipped = spark.sparkContext.broadcast(self.intel.loaded.intel) if self.intel.loaded else None

    def __call__(self, raw: DataFrame, batch_id: int) -> None:
        marker = self.ledger / str(batch_id)
        if marker.exists():
            log.info("batch %s was finished before a restart; skipped", batch_id)
            return
        started = time.monotonic()
        token, rules, settings, intel, sink = self.token, self.rules, self.settings, self._intel(raw), self.sink
        table = (raw.select(*MESSAGE_COLUMNS, "partition", "offset")
                 .mapInArrow(lambda batches: _task_results(token, rules, settings, intel, sink, batch_id, batches),
                             from_arrow_schema(TASK_SCHEMA))
                 .toArrow())
        kinds = table.column("row")
        alerts, dead, summaries = (table.filter(pc.equal(kinds, name)) for name in (ALERT, DEAD, SUMMARY))
        tasks = [json.loads(d) for d in summaries.column("document").to_pylist()]
        # The tasks' lake files go into the hash chain here: a chain takes one writer at a time.
        written = [Path(f) for task in tasks for f in task["files"]]
        if batch_id <= self.last_batch or self.last_batch < 0:
            drop_stale_parts(self.lake / "events", batch_id, written)
        self.last_batch = batch_id
        lakechain.record_written(self.lake / "events", written)
        tasks_done = time.monotonic()
        latest = pc.max(summaries.column("timestamp")).as_py() if summaries.num_rows else None
        alerts, revised = (self.correlation.apply(alerts, latest, batch_id) if self.correlation
                           else (alerts, alerts.slice(0, 0)))
        alerts, triaged = self.triage.tune(alerts, batch_id) if self.triage else (alerts, None)
        matched = time.monotonic()
        if alerts.num_rows:
            alert_table = alerts.select(["doc_id", "timestamp", "level", "agency_id", "document", "index_date"])
            write_lake_part(alert_table.rename_columns(ALERT_LAKE_SCHEMA.names).cast(ALERT_LAKE_SCHEMA),
                            self.lake / "alerts", f"stream-{batch_id:010d}", partitioning=("date",))
        stored = time.monotonic()
        rejected = search.write(self.search, [*self.docs(alerts, self.prefixes["alerts"]),
                                              *self.docs(revised, self.prefixes["alerts"])])
        if self.triage:
            rejected += self.triage.write(triaged)
        indexed = time.monotonic()
        alerts_topic, deadletter_topic = self.topics
        sent = self.kafka.send(batch_id, [*self._records(alerts_topic, alerts), *self._records(alerts_topic, revised),
                                          *self._records(deadletter_topic, dead),
                                          *((deadletter_topic, r.doc_id, refused_letter(r)) for r in rejected)])
        if not sent:
            log.info("batch %s: its Kafka records were committed before a restart; not sent again", batch_id)
        events, dead_letters = sum(task["events"] for task in tasks), dead.num_rows + len(rejected)
        marker.write_text(f"{events} {alerts.num_rows} {dead_letters}\n", encoding="utf-8")
        done = time.monotonic()
        slowest = [max((task["seconds"][stage] for task in tasks), default=0.0) for stage in range(3)]
        log.info("batch %s: %s events, %s alerts, %s dead letters in %.2f s (%s tasks %.2f, slowest task: "
                 "parse+detect %.2f, lake %.2f, search %.2f; driver: correlate+triage %.2f, lake %.2f, search %.2f, "
                 "kafka %.2f)", batch_id, events, alerts.num_rows, dead_letters, done - started, len(tasks),
                 tasks_done - started, *slowest, matched - tasks_done, stored - matched, indexed - stored,
                 done - indexed)
        if clashes := sum((Counter(task["clashes"]) for task in tasks), Counter()):  # docs/windows-fields.md
            log.info("batch %s: name clashes %s (the field is the event data's value, the System value is "
                     "System.<name>)", batch_id, ", ".join(f"{n} {c}" for n, c in sorted(clashes.items())))

    def _intel(self, raw: DataFrame) -> Broadcast | None:
        """The newest indicator set as a broadcast: shipped again only when the refresh changed it."""
        if self.intel.version != self.intel_version and self.intel.loaded:
            old, self.intel_version = self.intel_shipped, self.intel.version
            self.intel_shipped = raw.sparkSession.sparkContext.broadcast(self.intel.loaded.intel)
            if old is not None:
                old.unpersist(blocking=False)
        return self.intel_shipped

    @staticmethod
    def _records(topic: str, rows: pa.Table) -> list[tuple[str, str, str]]:
        """(topic, key, value) of rows' documents, keyed by their id."""
        return [(topic, k or "", v) for k, v in zip(rows.column("doc_id").to_pylist(),
                                                    rows.column("document").to_pylist(), strict=True)]

    @staticmethod
    def docs(table: pa.Table, prefix: str) -> list[tuple[str, str, str]]:
        """(index, id, document) of rows for the search store."""
        return [(search.index_name(prefix, date), doc_id, document)
                for date, doc_id, document in zip(table.column("index_date").to_pylist(),
                                                   table.column("doc_id").to_pylist(),
                                                   table.column("document").to_pylist(), strict=True)]


class KafkaBatches:
    """Each micro-batch's Kafka records in one transaction that also commits the batch id to a ledger.

    The ledger is the committed offset of a consumer group of the job's own (on the first raw topic,
    which the job may read; the offset is the batch id + 1). The transactional id and the group are
    named after an id kept in the checkpoint folder, so a restarted job fences the killed one (Kafka
    aborts its open transaction) and learns which batch was committed last; a new checkpoint folder
    starts a new ledger. Consumers of `alerts` read with isolation_level=read_committed."""

    def __init__(self, config: Config, checkpoint: Path) -> None:
        marker = checkpoint / "kafka-sink-id"
        if not marker.exists():
            marker.write_text(uuid.uuid4().hex[:16] + "\n", encoding="utf-8")
        self.name = kafka_client.topic(config, f"{TRANSACTION_PREFIX}{marker.read_text(encoding='utf-8').strip()}")
        self.ledger = TopicPartition(kafka_client.topic(config, RAW_TOPICS[0]), 0)
        self.options = kafka_client.python_options(config)
        self.producer: KafkaProducer | None = None
        self.committed: int | None = None  # the last batch committed; None: read the ledger again

    def send(self, batch_id: int, records: list[tuple[str, str, str]]) -> bool:
        """Send (topic, key, value) records and the batch id in one transaction; False (nothing sent)
        when the ledger shows the batch committed already. Raises when Kafka did not take them (the
        batch is then redone after the query restarts; the open transaction is aborted)."""
        producer = self._producer()
        if batch_id <= self._last_committed():
            return False
        try:
            producer.begin_transaction()
            for topic, key, value in records:
                producer.send(topic, key=key.encode(), value=value.encode())
            producer.send_offsets_to_transaction({self.ledger: OffsetAndMetadata(batch_id + 1, "", -1)}, self.name)
            producer.commit_transaction()
        except Exception:
            self.committed = None  # the commit may or may not have reached Kafka: ask the ledger next time
            self.close()
            raise
        self.committed = batch_id
        return True

    def close(self) -> None:
        """Drop the producer (an open transaction is aborted when the next one fences it)."""
        if self.producer is not None:
            with contextlib.suppress(Exception):
                self.producer.close(timeout=5)
            self.producer = None

    def _producer(self) -> KafkaProducer:
        # init_transactions completes or aborts a transaction a killed job left open, so the ledger is
        # read after it.
        if self.producer is None:
            producer = KafkaProducer(**self.options, acks="all", linger_ms=20, transactional_id=self.name)
            producer.init_transactions()
            self.producer = producer
        return self.producer

    def _last_committed(self) -> int:
        if self.committed is None:
            offset = self._ledger_offset()
            self.committed = offset.offset - 1 if offset is not None and offset.offset >= 0 else -1
        return self.committed

    def _ledger_offset(self) -> OffsetAndMetadata | None:
        """The ledger group's committed offset; retried while Kafka says to (a new cluster has no group
        coordinator until its offsets topic exists)."""
        deadline = time.monotonic() + LEDGER_WAIT_SECONDS
        admin = KafkaAdminClient(**self.options)
        try:
            while True:
                try:
                    return admin.list_group_offsets({self.name: [self.ledger]}).get(self.name, {}).get(self.ledger)
                except KafkaError as error:
                    if not error.retriable or time.monotonic() > deadline:
                        raise
                    log.info("kafka ledger not readable yet (%s); retrying", type(error).__name__)
                    time.sleep(1)
        finally:
            admin.close()


def ensure_topics(config: Config) -> None:
    """Create the raw, alerts and dead-letter topics when missing, so the job can subscribe at once."""
    admin = KafkaAdminClient(**kafka_client.python_options(config))
    try:
        existing = set(admin.list_topics())
        missing = [NewTopic(t, num_partitions=1, replication_factor=1)
                   for t in _topics(config) if t not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # another job or collector was first
                admin.create_topics(missing)
    finally:
        admin.close()


def run(spark: SparkSession, config: Config, ruleset: RuleSet, settings: ParseSettings, once: bool = False,
        triage: Any = None) -> None:
    """Run until stopped (SIGTERM or Ctrl-C); with `once`, process what Kafka holds now and return.

    A query that fails (Kafka or the search store away longer than their clients wait, a broken batch)
    is logged and started again from its checkpoint after run.restart_seconds: the batch it was on is
    redone, nothing is skipped. With `once` a failure ends the run with the error instead."""
    ensure_topics(config)
    sinks = Sinks(spark, config, ruleset, settings, triage)
    stopping = _stop_requested()
    sinks.intel.start(stopping)
    try:
        while not stopping.is_set():
            query = _start_query(spark, config, sinks, once)
            try:
                while not query.awaitTermination(1) and not stopping.is_set():
                    pass
            except StreamingQueryException as error:
                if once:
                    raise
                wait = config.get("run", "restart_seconds")
                log.error("the streaming query failed; restarting from its checkpoint in %s s: %s", wait,
                          str(error).splitlines()[0])
                stopping.wait(wait)
                continue
            if stopping.is_set():
                log.info("stop requested: stopping the query (an unfinished batch is redone on the next start)")
                query.stop()
            query.awaitTermination()
            return
    finally:
        sinks.kafka.close()


def _start_query(spark: SparkSession, config: Config, sinks: Sinks, once: bool) -> StreamingQuery:
    reader = (spark.readStream.format("kafka").options(**kafka_client.spark_options(config))
              .option("subscribe", ",".join(_topics(config)[:len(RAW_TOPICS)]))
              .option("startingOffsets", "earliest")
              .option("includeHeaders", "true")
              .option("maxOffsetsPerTrigger", str(config.get("run", "max_records_per_batch")))
              .option("minPartitions", str(spark.sparkContext.defaultParallelism)))
    writer = (reader.load().writeStream.foreachBatch(sinks)
              .option("checkpointLocation", str(Path(config.path("run", "checkpoint_dir")) / "kafka")))
    writer = writer.trigger(availableNow=True) if once else writer.trigger(
        processingTime=f"{config.get('run', 'trigger_seconds')} seconds")
    query = writer.start()
    log.info("streaming from the raw topics into the lake at %s", sinks.lake)
    return query


def _topics(config: Config) -> list[str]:
    """The raw topics first, then alerts and dead letters, with the configured prefix."""
    return [kafka_client.topic(config, t) for t in (*RAW_TOPICS, ALERTS_TOPIC, DEADLETTER_TOPIC)]


def _stop_requested() -> threading.Event:
    """Set by SIGTERM or SIGINT; the main thread then stops the query (py4j must not be re-entered
    from a signal handler while the main thread waits inside a JVM call)."""
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, frame: stopping.set())
    return stopping
