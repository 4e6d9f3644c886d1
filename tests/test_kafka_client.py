"""Kafka connection settings: one `kafka` section gives both kafka-python's and Spark's options."""

from __future__ import annotations

import pytest

from socpipe import kafka_client
from socpipe.config import load_config


def test_plaintext_defaults_and_topic_prefix(tmp_path):
    config = load_config(None, environ={"SOCPIPE__KAFKA__BOOTSTRAP_SERVERS": "a:9092,b:9092",
                                        "SOCPIPE__KAFKA__TOPIC_PREFIX": "hue."})
    assert kafka_client.python_options(config) == {"bootstrap_servers": ["a:9092", "b:9092"],
                                                   "security_protocol": "PLAINTEXT"}
    assert kafka_client.spark_options(config) == {"kafka.bootstrap.servers": "a:9092,b:9092",
                                                  "kafka.security.protocol": "PLAINTEXT"}
    assert kafka_client.topic(config, "raw.syslog") == "hue.raw.syslog"


def test_tls_and_sasl_from_file_and_environment(tmp_path):
    (tmp_path / "ca.pem").write_text("CA")
    (tmp_path / "client.pem").write_text("CERT")
    (tmp_path / "client.key").write_text("KEY")
    config_file = tmp_path / "socpipe.yaml"
    config_file.write_text("kafka:\n  bootstrap_servers: k:9093\n  security_protocol: SASL_SSL\n"
                           "  ssl_cafile: ca.pem\n  ssl_certfile: client.pem\n  ssl_keyfile: client.key\n"
                           "  sasl_mechanism: SCRAM-SHA-512\n  sasl_username: soc\n")
    secret = 'p"w\\d'
    config = load_config(config_file, environ={"SOCPIPE__KAFKA__SASL_PASSWORD": secret})
    python = kafka_client.python_options(config)
    assert python["ssl_cafile"] == str(tmp_path / "ca.pem")
    assert (python["sasl_mechanism"], python["sasl_plain_username"], python["sasl_plain_password"]) == \
        ("SCRAM-SHA-512", "soc", secret)
    spark = kafka_client.spark_options(config)
    assert spark["kafka.security.protocol"] == "SASL_SSL"
    assert spark["kafka.ssl.truststore.location"] == str(tmp_path / "ca.pem")
    assert spark["kafka.ssl.keystore.certificate.chain"] == "CERT" and spark["kafka.ssl.keystore.key"] == "KEY"
    assert spark["kafka.sasl.jaas.config"] == ('org.apache.kafka.common.security.scram.ScramLoginModule required '
                                               'username="soc" password="p\\"w\\\\d";')
    assert secret not in repr(config)  # the configuration never prints its values


def test_missing_bootstrap_servers_says_how_to_set_them():
    with pytest.raises(ValueError, match="socpipe dev up"):
        kafka_client.python_options(load_config(None, environ={}))


def test_passwords_from_the_environment_are_taken_verbatim():
    config = load_config(None, environ={"SOCPIPE__KAFKA__SASL_PASSWORD": "0123",
                                        "SOCPIPE__OPENSEARCH__PASSWORD": "*p: w",
                                        "SOCPIPE__RUN__TRIGGER_SECONDS": "2"})
    assert config.get("kafka", "sasl_password") == "0123"
    assert config.get("opensearch", "password") == "*p: w"
    assert config.get("run", "trigger_seconds") == 2  # other settings are still YAML

