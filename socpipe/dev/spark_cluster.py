"""A Spark standalone cluster on 127.0.0.1 (one master, N workers) from pyspark's own jars.

The jobs must run on a cluster unchanged; this starts a real one without a Spark download, so tests can
show it: `spark-class org.apache.spark.deploy.master.Master` and `...worker.Worker`, as background
processes with pid files (socpipe/dev/process.py), stopped by `stop`.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.request
from pathlib import Path

import pyspark

from socpipe.dev import process

HOST = "127.0.0.1"
READY_TIMEOUT = 120.0


def spark_class() -> Path:
    return Path(pyspark.__file__).resolve().parent / "bin" / "spark-class"


def start(state_dir: Path, master_port: int, ui_port: int, workers: int = 2, cores: int = 1,
          memory: str = "1g") -> str:
    """Start the master and `workers` workers, wait until all workers are registered; returns the master
    URL (spark://127.0.0.1:PORT)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "SPARK_LOCAL_IP": HOST, "SPARK_NO_DAEMONIZE": "1",
           "PYSPARK_PYTHON": os.environ.get("PYSPARK_PYTHON", sys.executable)}
    url = f"spark://{HOST}:{master_port}"
    # An (empty) properties file in the state folder puts that folder on the command line (see _start).
    properties = state_dir / "master" / "spark-defaults.conf"
    properties.parent.mkdir(parents=True, exist_ok=True)
    properties.touch()
    master = [str(spark_class()), "org.apache.spark.deploy.master.Master", "--host", HOST, "--port",
              str(master_port), "--webui-port", str(ui_port), "--properties-file", str(properties.resolve())]
    _start(master, state_dir / "master", env)
    for n in range(workers):
        worker = [str(spark_class()), "org.apache.spark.deploy.worker.Worker", "--host", HOST, "--cores", str(cores),
                  "--memory", memory, "--webui-port", "0", "--work-dir", str((state_dir / f"worker-{n}" / "work")
                                                                              .resolve()), url]
        _start(worker, state_dir / f"worker-{n}", env)
    _wait_for_workers(state_dir, ui_port, workers)
    return url


def _start(command: list[str], directory: Path, env: dict[str, str]) -> None:
    """A background process whose command line names `directory`, as process.running_pid requires."""
    directory.mkdir(parents=True, exist_ok=True)
    process.start(command, directory / "pid", directory / "log", directory, env)


def _wait_for_workers(state_dir: Path, ui_port: int, workers: int) -> None:
    """Poll the master's JSON status page until every worker is ALIVE."""
    deadline = time.monotonic() + READY_TIMEOUT
    alive = 0
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://{HOST}:{ui_port}/json/", timeout=5) as response:
                status = json.load(response)
            alive = sum(1 for w in status.get("workers", []) if w.get("state") == "ALIVE")
            if alive >= workers:
                return
        except OSError:
            pass
        time.sleep(1)
    stop(state_dir)
    raise RuntimeError(f"Spark standalone cluster: {alive} of {workers} workers registered after "
                       f"{READY_TIMEOUT:.0f} s; master log:\n{process.log_tail(state_dir / 'master' / 'log')}")


def stop(state_dir: Path) -> None:
    """Stop the workers, then the master."""
    for directory in sorted(state_dir.glob("worker-*")):
        process.stop(directory / "pid")
    process.stop(state_dir / "master" / "pid")
