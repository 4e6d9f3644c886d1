"""`socpipe demo`, the embedded default: no servers, one command, the whole batch path.

Bundled sample logs of several agencies of the demo registry (with a few attacks planted) run
through the starter pack on Spark local mode; the run leaves a Parquet lake, alerts.jsonl and an HTML
report under the output folder.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from alerting.outbox_demo import write_outbox
from alerting.triage import Triage
from dashboards.html_report import write_report
from enrich.intel_sources import load_sources
from enrich.normalise import HostHint
from ingest.splits import plan_splits
from layers import detect
from rules.compiler import load_rules
from socpipe.audit_demo import write_demo_layers
from socpipe.config import STARTER_PACK, Config
from socpipe.registry import Registry
from socpipe.report import agency_lines, summary_lines
from socpipe.spark import session

DEMO_DIR = Path(__file__).resolve().parent / "demo"
SAMPLES = DEMO_DIR / "samples"
REGISTRY = DEMO_DIR / "registry.yaml"
INTEL = DEMO_DIR / "intel.csv"  # the demo's threat-intel list (enrich.intel), as a CERT would share it
NETWORK = SAMPLES / "network"
# Access logs do not name the web server they come from, nor Zeek and flow records the sensor that saw them:
# the demo tells the web server by file name and the sensor by folder (network/<sensor>/, the sensor's
# name under ankhanh.gov.vn), so each record belongs to the agency and system of its sensor.
HINTS = (
    HostHint(str(SAMPLES / "access-dichvucong.log"), "dichvucong.ankhanh.gov.vn"),
    HostHint(str(SAMPLES / "access-congthongtin.log"), "ankhanh.gov.vn"),
    *(HostHint(str(sensor / "*"), f"{sensor.name}.ankhanh.gov.vn") for sensor in sorted(NETWORK.iterdir())),
)


def run_demo(config: Config, extra_rules: list[Path], out: Path) -> int:
    ruleset = load_rules([STARTER_PACK, *extra_rules], config.get("rules", "placeholders"), config.rule_cache_dir)
    for f in ruleset.failures:
        print(f"rule failed: {f.id} {f.path}: {f.reason}")
    registry = Registry.load(REGISTRY)
    intel = load_sources([{"name": "ncsc-demo", "format": "csv", "path": str(INTEL)}])
    print("\n".join(intel.lines()))
    lake = out / "lake"
    if lake.exists():
        shutil.rmtree(lake)
    spark = session("socpipe-demo", master=config.get("spark", "master"), conf=config.get("spark", "conf"),
                    batch=True)
    summary = detect.run(spark, ruleset, plan_splits([SAMPLES], config.get("detect", "split_bytes")), out, lake,
                         registry, HINTS, config.get("detect", "events_per_file"), syslog_year=2026,
                         triage=Triage.of(config, ruleset).batch,
                         intel=intel.intel)
    lines = summary_lines(summary)
    print("\n".join(lines))
    print("alerts by agency:")
    print("\n".join(agency_lines(summary)))
    alerts = [json.loads(line) for line in (out / "alerts.jsonl").read_text(encoding="utf-8").splitlines()]
    names = {a.id: a.name for a in registry.agencies.values()}
    write_report(out / "report.html", lines, alerts, names)
    print(f"wrote {out / 'alerts.jsonl'}, {out / 'deadletter.jsonl'}, {lake}/ and {out / 'report.html'}")
    print("\n".join(write_outbox(registry, out)))  # layer 1: out/outbox/
    write_demo_layers(spark, config, out, REGISTRY)  # layer 3: out/audit/, layer 4: out/national/
    return 0
