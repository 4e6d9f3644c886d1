"""The Spark session every socpipe job uses: local mode by default, loopback only, no UI."""

from __future__ import annotations

import os
import sys

import pyspark
from pyspark.sql import SparkSession

from socpipe import jars

DEFAULTS: dict[str, str] = {
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "4",
    # Small input splits: detection is CPU-bound, so many short tasks keep every core busy to the end.
    "spark.sql.files.maxPartitionBytes": "8m",
    "spark.driver.memory": "2g",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.python.worker.reuse": "true",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.driver.host": "127.0.0.1",
}


# Spark's Kafka source is not in the pyspark wheel: the connector jars for this pyspark, from Maven Central
# (versions as Spark's own POM pins them; transitive jars left out because pyspark ships them).
KAFKA_CONNECTOR = jars.JarSet("spark-kafka", pyspark.__version__, (
    f"org.apache.spark:spark-sql-kafka-0-10_2.13:{pyspark.__version__}",
    f"org.apache.spark:spark-token-provider-kafka-0-10_2.13:{pyspark.__version__}",
    "org.apache.kafka:kafka-clients:3.9.2",
    "org.apache.commons:commons-pool2:2.13.1",
), exclusions=("*:*",))


def kafka_connector_jars() -> str:
    """The spark.jars value for the Kafka source (resolved by Maven into the cache on first use)."""
    home = jars.ensure(KAFKA_CONNECTOR)
    return ",".join(str(p) for p in sorted((home / "lib").glob("*.jar")))


def session(app: str = "socpipe", master: str | None = None, conf: dict[str, str] | None = None) -> SparkSession:
    """Get or create the session; `master` defaults to local mode on every core."""
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # workers need this interpreter's packages
    builder = SparkSession.builder.appName(app).master(master or "local[*]")
    for key, value in {**DEFAULTS, **(conf or {})}.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark
