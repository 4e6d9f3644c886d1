"""Apache Kafka 4.x, one KRaft node (broker and controller in one JVM) on 127.0.0.1."""

from __future__ import annotations

import base64
import logging
import shutil
import subprocess
import uuid
from pathlib import Path

from socpipe import jars
from socpipe.dev.process import LOG4J2_CONSOLE, java

VERSION = "4.4.0"
LOG4J = "2.25.4"
# The published POM leaves out a logging binding; Kafka 4.4 logs through slf4j 1.7, so the 1.x binding.
JARS = jars.JarSet("kafka", VERSION, (
    f"org.apache.kafka:kafka_2.13:{VERSION}",
    f"org.apache.logging.log4j:log4j-api:{LOG4J}",
    f"org.apache.logging.log4j:log4j-core:{LOG4J}",
    f"org.apache.logging.log4j:log4j-slf4j-impl:{LOG4J}",
))
HEAP = "512m"
# One node: every internal topic with one replica, and no wait for other group members (docker-compose too).
SINGLE_NODE = {
    "node.id": "1",
    "process.roles": "broker,controller",
    "controller.listener.names": "CONTROLLER",
    "num.partitions": "1",
    "offsets.topic.replication.factor": "1",
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
    "share.coordinator.state.topic.replication.factor": "1",
    "share.coordinator.state.topic.min.isr": "1",
    "group.initial.rebalance.delay.ms": "0",
}

_LOG4J2 = LOG4J2_CONSOLE + """\
logger.kafka.name = kafka
logger.kafka.level = warn
logger.apache.name = org.apache.kafka
logger.apache.level = warn
"""


def prepare(directory: Path, port: int, controller_port: int, secure: bool = False) -> list[str]:
    """Write fresh config and storage (dev data is throw-away) and return the java command line. Secure:
    TLS and SASL/SCRAM-SHA-512 on the client listener, ACLs enforced (socpipe/dev/kafka_secure.py)."""
    home = jars.ensure(JARS)
    data = directory / "data"
    shutil.rmtree(data, ignore_errors=True)
    properties = {
        "controller.quorum.bootstrap.servers": f"127.0.0.1:{controller_port}",
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(data.resolve()),
        **SINGLE_NODE,
    }
    scram: list[str] = []
    (directory / "credentials.json").unlink(missing_ok=True)  # a former secured run's
    if secure:
        from socpipe.dev import kafka_secure

        secured, scram = kafka_secure.prepare(directory, port, controller_port)
        properties.update(secured)
    config = directory / "server.properties"
    config.unlink(missing_ok=True)
    config.touch(mode=0o600)  # a secured broker's file holds its own password
    config.write_text("".join(f"{k}={v}\n" for k, v in properties.items()), encoding="utf-8")
    log_config = directory / "log4j2.properties"
    log_config.write_text(_LOG4J2, encoding="utf-8")
    base = [java(), f"-Xms{HEAP}", f"-Xmx{HEAP}", f"-Dlog4j2.configurationFile={log_config.resolve()}",
            "-cp", jars.classpath(home)]
    # --standalone goes with controller.quorum.bootstrap.servers (StorageTool refuses it with the older voters).
    # The id is passed as --cluster-id=ID: a random id may start with "-", which would read as an option.
    format_storage = [*base, "kafka.tools.StorageTool", "format", f"--cluster-id={_cluster_id()}",
                      "-c", str(config.resolve()), "--standalone", *scram]
    done = subprocess.run(format_storage, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"kafka storage format failed:\n{done.stdout}{done.stderr}")
    # The broker's fixed heap is touched at start (AlwaysPreTouch), so its resident memory is whole from the
    # first moment and bench/soak.py's "flat after warm-up" measures growth, not the heap filling in.
    return [base[0], "-XX:+AlwaysPreTouch", *base[1:], "kafka.Kafka", str(config.resolve())]


def check(bootstrap: str, options: dict | None = None) -> None:
    """A real client round trip: metadata through the admin API (raises until the broker answers);
    `options`: TLS and SASL settings of a secured broker (kafka-python keywords)."""
    from kafka import KafkaAdminClient

    quiet = logging.getLogger("kafka")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # refused connections while the broker starts are expected, not news
    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000, **(options or {}))
        try:
            admin.list_topics()
        finally:
            admin.close()
    finally:
        quiet.setLevel(level)


def _cluster_id() -> str:
    """Kafka's cluster ids are 16 random bytes in URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
