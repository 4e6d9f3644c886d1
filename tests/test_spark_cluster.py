"""`socpipe detect` on a real Spark standalone cluster (a master and two workers on 127.0.0.1, from
pyspark's own jars) gives exactly the alerts of local mode: the job needs nothing of the driver's
process besides what Spark ships to the executors."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest
import yaml
from conftest import ROOT

from socpipe.demo import HINTS, REGISTRY, SAMPLES
from socpipe.dev import spark_cluster

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _detect(tmp_path, name: str, spark: dict) -> list[dict]:
    config = tmp_path / f"{name}.yaml"
    config.write_text(yaml.safe_dump({
        "registry": str(REGISTRY), "spark": spark, "detect": {"syslog_year": 2026, "events_per_file": 1000},
        "hints": [{"path": h.path_glob, "host": h.host} for h in HINTS]}))
    out = tmp_path / name
    result = subprocess.run([sys.executable, "-m", "socpipe.cli", "--config", str(config), "detect", "--input",
                             str(SAMPLES), "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return [json.loads(line) for line in (out / "alerts.jsonl").read_text(encoding="utf-8").splitlines()]


def test_detect_on_a_standalone_cluster_equals_local_mode(tmp_path):
    state = tmp_path / "cluster"
    master = spark_cluster.start(state, _free_port(), _free_port(), workers=2)
    try:
        on_cluster = _detect(tmp_path, "cluster", {"master": master, "conf": {
            "spark.executor.memory": "1g", "spark.executor.cores": "1", "spark.cores.max": "2"}})
    finally:
        spark_cluster.stop(state)
    local = _detect(tmp_path, "local", {"master": "local[2]", "conf": {}})
    assert len(local) > 100  # the demo's planted attacks and noise
    assert [a["alert_id"] for a in on_cluster] == [a["alert_id"] for a in local]
    assert on_cluster == local
    # The work ran in the workers' executors: each worker ran one for the application.
    executors = sorted(p.parents[3].name for p in state.glob("worker-*/work/app-*/*/stderr"))
    assert executors == ["worker-0", "worker-1"], executors
