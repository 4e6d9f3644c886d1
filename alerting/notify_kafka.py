"""The notification log on Kafka: every accepted message as a record of the topic `notifications` (key: the
notification id), when Kafka is configured (kafka.bootstrap_servers).

Records go in transactions of the stream's kind (layers/stream.py KafkaBatches: an idempotent,
transactional producer that commits a batch number to a ledger group in the same transaction) under the
notifier's own transactional id, so consumers reading with isolation_level=read_committed see each
notification once: the batch is written to the store before it is sent, and a restarted notifier sends a
batch again only if the ledger does not have it (a stopped one's open transaction is aborted when the new
producer fences it).
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError
from kafka.structs import TopicPartition

from alerting.notify_store import NotifyStore
from layers.stream import KafkaBatches
from socpipe import kafka_client
from socpipe.config import Config

TOPIC = "notifications"
TRANSACTIONAL_ID = "socpipe-notify"  # one notifier per installation: a second one fences the first


class NotificationLog(KafkaBatches):
    """KafkaBatches with the notifier's transactional id and its ledger on `notifications` partition 0."""

    def __init__(self, config: Config) -> None:
        # not super().__init__: that names the transactional id and ledger after a checkpoint folder
        self.name = kafka_client.topic(config, TRANSACTIONAL_ID)
        self.topic = kafka_client.topic(config, TOPIC)
        self.ledger = TopicPartition(self.topic, 0)
        self.options = kafka_client.python_options(config)
        self.producer = None
        self.committed = None
        self._ensure_topic()

    def __repr__(self) -> str:
        return f"NotificationLog(topic={self.topic!r})"  # never the options (a SASL password)

    def _ensure_topic(self) -> None:
        admin = KafkaAdminClient(**self.options)
        try:
            if self.topic not in set(admin.list_topics()):
                with contextlib.suppress(TopicAlreadyExistsError):
                    admin.create_topics([NewTopic(self.topic, num_partitions=1, replication_factor=1)])
        finally:
            admin.close()

    def publish(self, store: NotifyStore, sent: list[tuple[str, dict[str, Any]]]) -> None:
        """Send the sent records not on Kafka yet. A batch a stopped notifier decided is finished first (sent
        again unless the ledger has it); the last batch's ids are kept, so records it holds that were not
        marked logged before a stop are not sent twice."""
        # the store's record of the last batch (number, notification ids, records), by topic name
        state = store.get("feed", self.topic) or {"batch": self._last_committed(), "nids": [], "records": None}
        if state["records"]:
            self.send(state["batch"], [tuple(r) for r in state["records"]])
            state = {**state, "records": None}
            store.put("feed", self.topic, state)
        published = set(state["nids"])
        fresh = [(nid, doc) for nid, doc in sent if nid not in published]
        if not fresh:
            return
        records = [(self.topic, nid, json.dumps(record(doc), ensure_ascii=False)) for nid, doc in fresh]
        state = {"batch": state["batch"] + 1, "nids": [nid for nid, _ in fresh], "records": records}
        store.put("feed", self.topic, state)  # decided before it is sent
        self.send(state["batch"], records)
        store.put("feed", self.topic, {**state, "records": None})


def record(sent: dict[str, Any]) -> dict[str, Any]:
    """A sent record as the topic holds it: the message's log entry with its incidents and agency."""
    rows = sent.get("actions") or []
    return {**{k: v for k, v in sent.items() if k not in ("actions", "logged")},
            "incidents": [r["target_id"] for r in rows], "agency_ids": sorted({r["agency_id"] for r in rows
                                                                               if r.get("agency_id")})}

