"""Kafka connection settings from the configuration, for every client socpipe uses.

Collectors produce with librdkafka (confluent-kafka, which takes librdkafka's property names); the
driver's sinks and the tools use kafka-python; the streaming job reads through Spark's Kafka source,
which takes the Java client's property names with a "kafka." prefix. All come from the one `kafka`
section, so TLS and SASL are configured once.
"""

from __future__ import annotations

from typing import Any

from socpipe.config import Config

_SCRAM_LOGIN = "org.apache.kafka.common.security.scram.ScramLoginModule"
_PLAIN_LOGIN = "org.apache.kafka.common.security.plain.PlainLoginModule"


def bootstrap(config: Config) -> str:
    servers = config.get("kafka", "bootstrap_servers")
    if not servers:
        raise ValueError("kafka.bootstrap_servers is not set (run `socpipe dev up` and pass "
                         "--config .socpipe/dev.yaml, or set SOCPIPE__KAFKA__BOOTSTRAP_SERVERS)")
    return str(servers)


def topic(config: Config, name: str) -> str:
    """The cluster's name of a socpipe topic (raw.syslog, alerts, ...): the configured prefix added."""
    return f"{config.get('kafka', 'topic_prefix')}{name}"


def python_options(config: Config) -> dict[str, Any]:
    """Keyword arguments for kafka-python's KafkaProducer, KafkaConsumer and KafkaAdminClient."""
    k = config.data["kafka"]
    options: dict[str, Any] = {"bootstrap_servers": bootstrap(config).split(","),
                               "security_protocol": k["security_protocol"]}
    for key in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
        if k[key]:
            options[key] = str(config.path("kafka", key))
    if k["sasl_mechanism"]:
        options.update(sasl_mechanism=k["sasl_mechanism"], sasl_plain_username=k["sasl_username"],
                       sasl_plain_password=k["sasl_password"])
    return options


def librdkafka_options(config: Config) -> dict[str, Any]:
    """librdkafka properties for confluent-kafka's Producer."""
    k = config.data["kafka"]
    options: dict[str, Any] = {"bootstrap.servers": bootstrap(config), "security.protocol": k["security_protocol"]}
    for key, name in (("ssl_cafile", "ssl.ca.location"), ("ssl_certfile", "ssl.certificate.location"),
                      ("ssl_keyfile", "ssl.key.location")):
        if k[key]:
            options[name] = str(config.path("kafka", key))
    if k["sasl_mechanism"]:
        options.update({"sasl.mechanisms": k["sasl_mechanism"], "sasl.username": k["sasl_username"],
                        "sasl.password": k["sasl_password"]})
    return options


def spark_options(config: Config) -> dict[str, str]:
    """Options for Spark's Kafka source: the Java client's properties, prefixed with "kafka."."""
    k = config.data["kafka"]
    options = {"kafka.bootstrap.servers": bootstrap(config), "kafka.security.protocol": k["security_protocol"]}
    if k["ssl_cafile"]:
        # The Java client reads PEM trust stores directly.
        options.update({"kafka.ssl.truststore.type": "PEM",
                        "kafka.ssl.truststore.location": str(config.path("kafka", "ssl_cafile"))})
    if k["ssl_certfile"] and k["ssl_keyfile"]:
        options.update({"kafka.ssl.keystore.type": "PEM",
                        "kafka.ssl.keystore.certificate.chain": _read(config, "ssl_certfile"),
                        "kafka.ssl.keystore.key": _read(config, "ssl_keyfile")})
    if k["sasl_mechanism"]:
        module = _PLAIN_LOGIN if k["sasl_mechanism"] == "PLAIN" else _SCRAM_LOGIN
        options.update({"kafka.sasl.mechanism": k["sasl_mechanism"],
                        "kafka.sasl.jaas.config": f'{module} required username="{_escape(k["sasl_username"])}" '
                                                  f'password="{_escape(k["sasl_password"])}";'})
    return options


def _read(config: Config, key: str) -> str:
    path = config.path("kafka", key)
    assert path is not None
    return path.read_text(encoding="utf-8")


def _escape(value: object) -> str:
    return str(value or "").replace("\\", "\\\\").replace('"', '\\"')
