"""The notification log on the real dev Kafka (socpipe/dev, fixture `dev_servers`): every accepted message is
a record of `notifications` keyed by its notification id, read with isolation_level=read_committed. A
notifier that dies after its transaction committed, or in the middle of one, leaves each notification on
the topic exactly once after a restart; the half-written transaction is visible only to a read_uncommitted
reader."""

from __future__ import annotations

import json
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from kafka import KafkaConsumer, TopicPartition
from test_notify_servers import T0, incident

from alerting.notify import Notifier
from alerting.notify_kafka import NotificationLog
from alerting.notify_run import channels, open_state
from socpipe import kafka_client
from socpipe.config import Config, load_config
from socpipe.demo import REGISTRY
from socpipe.registry import Registry

pytestmark = pytest.mark.slow
AGENCIES = ("snv", "stc", "xa-binh-lac")


class Crash(Exception):
    """The notifier process dies."""


class DiesAfterCommit(NotificationLog):
    def send(self, batch_id: int, records: list[tuple[str, str, str]]) -> bool:
        super().send(batch_id, records)
        raise Crash


class DiesInTransaction(NotificationLog):
    def send(self, batch_id: int, records: list[tuple[str, str, str]]) -> bool:
        producer = self._producer()
        producer.begin_transaction()
        for topic, key, value in records:
            producer.send(topic, key=key.encode(), value=value.encode())
        producer.flush()  # on the broker, not committed
        raise Crash


def make_config(tmp_path: Path, kafka: str) -> Config:
    path = tmp_path / "socpipe.yaml"
    path.write_text(yaml.safe_dump({
        "registry": str(REGISTRY), "lake": {"path": "lake"},
        "kafka": {"bootstrap_servers": kafka, "topic_prefix": f"t{uuid.uuid4().hex[:8]}."},
        "notify": {"state_path": "state.sqlite", "outbox_dir": "outbox", "route": {"group_wait": 0}}}))
    return load_config(path, environ={})


def notifier(config: Config, publisher: NotificationLog) -> Notifier:
    store, actions = open_state(config)
    return Notifier(config, Registry.load(REGISTRY), store, actions, channels(config), publisher=publisher)


def topic_records(config: Config, isolation: str) -> list[tuple[str, dict[str, Any]]]:
    """The topic's records up to its end as this isolation level sees it (read_committed: the last stable
    offset, before an open transaction)."""
    partition = TopicPartition(kafka_client.topic(config, "notifications"), 0)
    consumer = KafkaConsumer(**kafka_client.python_options(config), enable_auto_commit=False,
                             isolation_level=isolation)
    try:
        consumer.assign([partition])
        consumer.seek_to_beginning(partition)
        end = consumer.end_offsets([partition])[partition]
        records = []
        deadline = time.monotonic() + 30
        while consumer.position(partition) < end and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                records += [(r.key.decode(), json.loads(r.value)) for r in batch]
        return records
    finally:
        consumer.close()


def add(run: Notifier, tag: str) -> None:
    run.store.put_many("incident", [(f"{a}-{tag}", incident(f"{a}-{tag}", a)) for a in AGENCIES])


def test_each_notification_once_on_the_topic_across_crashes(tmp_path, dev_servers):
    config = make_config(tmp_path, dev_servers.kafka)
    first = notifier(config, DiesAfterCommit(config))
    add(first, "a")
    with pytest.raises(Crash):
        first.tick(T0)  # mail went out, the batch was committed, the process died before marking it
    restarted = notifier(config, NotificationLog(config))
    assert restarted.tick(T0 + timedelta(seconds=1)).sent == 0
    committed = topic_records(config, "read_committed")
    assert sorted(k for k, _ in committed) == sorted(n for n, _ in restarted.store.all("sent"))
    assert len(committed) == len(AGENCIES)
    restarted.publisher.close()  # type: ignore[union-attr]

    third = notifier(config, DiesInTransaction(config))
    add(third, "b")
    with pytest.raises(Crash):
        third.tick(T0 + timedelta(seconds=301))  # group_interval after the first messages
    assert len(topic_records(config, "read_uncommitted")) == 2 * len(AGENCIES)  # the open transaction's
    assert len(topic_records(config, "read_committed")) == len(AGENCIES)
    last = notifier(config, NotificationLog(config))  # fences the dead producer: its transaction is aborted
    assert last.tick(T0 + timedelta(seconds=302)).sent == 0
    last.publisher.close()  # type: ignore[union-attr]
    third.publisher.close()  # type: ignore[union-attr]  # the fenced producer of the dead process

    committed = topic_records(config, "read_committed")
    sent = dict(last.store.all("sent"))
    assert sorted(k for k, _ in committed) == sorted(sent) and len(sent) == 2 * len(AGENCIES)
    for key, value in committed:
        assert value["notification_id"] == key and value["channel"] == "email"
        (agency,) = value["agency_ids"]
        assert value["incidents"] and all(i.rsplit("-", 1)[0] == agency for i in value["incidents"])
        assert value["recipient"] == sent[key]["recipient"] and value["at"] == sent[key]["at"]
    assert not [d for d in sent.values() if not d["logged"]]
