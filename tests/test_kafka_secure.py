"""`socpipe dev up --secure`: Kafka with TLS, SASL/SCRAM-SHA-512 principals and ACLs, run for real. A
collector and `socpipe run` work with their own credentials; a collector's credentials cannot read
`alerts` (nor write it); no password appears in any output or log."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ROOT
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError, TopicAuthorizationFailedError

from socpipe import search as search_store
from socpipe.config import load_config
from socpipe.dev import kafka_secure, opensearch_secure

pytestmark = pytest.mark.slow


def _socpipe(home: Path, config: Path, *args: str, role: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOCPIPE__")}
    if role:
        env.update(kafka_secure.environment(home / ".socpipe" / "dev" / "kafka", role))
    if role == "pipeline":  # the job also writes to the secured search store
        env.update(opensearch_secure.environment(home / ".socpipe" / "dev" / "opensearch", role))
    return subprocess.run([sys.executable, "-m", "socpipe.cli", "--config", str(config), *args], cwd=home, env=env,
                          capture_output=True, text=True, timeout=600, check=False)


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    home = tmp_path_factory.mktemp("secure")
    base = home / "base.yaml"
    base.write_text(yaml.safe_dump({"dev": {"state_dir": str(home / ".socpipe" / "dev")}}))
    up = _socpipe(home, base, "dev", "up", "--secure")
    try:
        assert up.returncode == 0, up.stderr[-3000:]
        yield home, up
    finally:
        _socpipe(home, base, "dev", "down")


def _with_registry(config: Path) -> Path:
    data = yaml.safe_load(config.read_text())
    data["registry"] = str(ROOT / "socpipe" / "demo" / "registry.yaml")
    data["run"] = {**data.get("run", {}), "trigger_seconds": 0.5}
    config.write_text(yaml.safe_dump(data))
    return config


def test_collector_and_job_run_on_their_own_credentials(secured):
    home, up = secured
    kafka_dir = home / ".socpipe" / "dev" / "kafka"
    job_config = _with_registry(home / ".socpipe" / "dev.yaml")
    collector_config = home / ".socpipe" / "dev-collector.yaml"
    settings = yaml.safe_load(job_config.read_text())["kafka"]
    assert settings["security_protocol"] == "SASL_SSL" and settings["sasl_username"] == "pipeline"
    assert "sasl_password" not in settings and yaml.safe_load(collector_config.read_text())["kafka"][
        "sasl_username"] == "collector"
    sample = ROOT / "socpipe" / "demo" / "samples" / "auth.log"
    lines = [line for line in sample.read_bytes().splitlines() if line.strip()]

    imported = _socpipe(home, collector_config, "collect", "import", str(sample), role="collector")
    assert imported.returncode == 0, imported.stderr[-3000:]
    ran = _socpipe(home, job_config, "run", "--once", role="pipeline")
    assert ran.returncode == 0, ran.stderr[-3000:]

    bootstrap = settings["bootstrap_servers"]
    pipeline = kafka_secure.python_options(kafka_dir, "pipeline")
    collector = kafka_secure.python_options(kafka_dir, "collector")
    admin = kafka_secure.python_options(kafka_dir, "admin")
    alerts = _read(bootstrap, "alerts", admin)
    search_dir = home / ".socpipe" / "dev" / "opensearch"
    search = search_store.client_as(load_config(job_config, environ={}), "soc",
                                    opensearch_secure.password(search_dir, "soc"))
    search.indices.refresh(index="alerts-*")
    stored = search.count(index="alerts-*")["count"]
    assert len(alerts) == stored > 0
    assert len(_read(bootstrap, "raw.syslog", pipeline)) == len(lines)

    # The collector's credentials (and the job's: it writes alerts, other services read them) may not
    # read alerts; the collector may not write them either.
    # Without Describe the collector does not even learn the topic's metadata: its read finds nothing.
    for role in (collector, pipeline):
        assert _refused(bootstrap, "alerts", role)
    with pytest.raises(TopicAuthorizationFailedError):
        producer = KafkaProducer(bootstrap_servers=bootstrap, max_block_ms=10000, **collector)
        try:
            producer.send("alerts", b"forged alert").get(timeout=20)
        finally:
            producer.close()
    # A wrong password is not let in at all.
    with pytest.raises(KafkaError):
        KafkaProducer(bootstrap_servers=bootstrap, max_block_ms=10000,
                      **{**collector, "sasl_plain_password": "wrong"}).send("raw.syslog", b"x").get(timeout=20)

    passwords = [*json.loads((kafka_dir / "credentials.json").read_text()).values(),
                 *json.loads((search_dir / "credentials.json").read_text()).values()]
    outputs = [up.stdout, up.stderr, imported.stdout, imported.stderr, ran.stdout, ran.stderr]
    outputs += [p.read_text(errors="replace") for p in (home / ".socpipe").rglob("*.log")]
    assert not [p for p in passwords for text in outputs if p in text]
    print(f"secured kafka: {len(lines)} records in by the collector, {stored} alerts out by the job; "
          f"the collector's credentials may not read or write alerts; no password in "
          f"{len(outputs)} outputs and logs")


def _refused(bootstrap: str, topic: str, options: dict) -> bool:
    """The read fails on authorisation, or (no metadata for the topic) returns nothing."""
    try:
        return _read(bootstrap, topic, options) == []
    except TopicAuthorizationFailedError:
        return True


def _read(bootstrap: str, topic: str, options: dict) -> list[bytes]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, consumer_timeout_ms=5000, **options)
    try:
        consumer.assign([TopicPartition(topic, 0)])
        consumer.seek_to_beginning()
        return [m.value for m in consumer]
    finally:
        consumer.close()
