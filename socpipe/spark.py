"""The Spark session every socpipe job uses: local mode by default, loopback only, no UI."""

from __future__ import annotations

import os
import sys
from concurrent.futures import Future, ThreadPoolExecutor

import pyspark
from pyspark.sql import SparkSession

from socpipe import jars

DEFAULTS: dict[str, str] = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",  # no progress bars in the CLI's output
    "spark.sql.shuffle.partitions": "4",
    # Rows per Arrow batch handed to Python (the streaming job's events): the detector works per distinct
    # value, and values repeat more often in a larger batch (as layers/detect.py's LAKE_BATCH_ROWS).
    "spark.sql.execution.arrow.maxRecordsPerBatch": "50000",
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


# JVM options of a batch session (`batch=True`), which runs one job and exits: C1 only. C2 compiles cost the
# driver JVM ~4.5 s of CPU in a job's first minute (JIT of Spark's scheduling, planning and Arrow paths) and
# never pay back in a job of ~20 tasks whose work is in the Python workers. Not for the streaming job: it
# runs for hours, where C2's faster steady-state code wins.
BATCH_JAVA_OPTIONS = "-XX:TieredStopAtLevel=1"


def session(app: str = "socpipe", master: str | None = None, conf: dict[str, str] | None = None,
            batch: bool = False) -> SparkSession:
    """Get or create the session; `master` defaults to local mode on every core. `batch` (a short job, as
    `socpipe detect`) adds BATCH_JAVA_OPTIONS before any spark.driver.extraJavaOptions of `conf`. JVM options
    only apply when this call starts the JVM."""
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # workers need this interpreter's packages
    builder = SparkSession.builder.appName(app).master(master or "local[*]")
    settings = {**DEFAULTS, **(conf or {})}
    if batch:
        key = "spark.driver.extraJavaOptions"
        settings[key] = " ".join(o for o in (BATCH_JAVA_OPTIONS, settings.get(key, "")) if o)
    for key, value in settings.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def start_session(app: str = "socpipe", master: str | None = None, conf: dict[str, str] | None = None,
                  batch: bool = False) -> Future[SparkSession]:
    """session() started in a thread: a batch job loads its rules and plans its inputs while the JVM starts
    (about 3 s of the driver's time on the other core)."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spark-start")
    try:
        return pool.submit(session, app, master, conf, batch)
    finally:
        pool.shutdown(wait=False)
