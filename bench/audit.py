"""Layer-3 bench: the coverage and handling queries over a generated lake of 20 million events from 500
agencies over 90 days (the issue's bound: within 60 s on this machine).

    .venv/bin/python -m bench.audit [--events 20000000] [--agencies 500] [--days 90] [--lake DIR]

The lake is generated once into --lake (kept for later runs, rebuilt when its size differs): events per
agency system and day through the lake writer (so the hash chain is kept), districts dissolved halfway
through the period and superseded by communes, incidents and an action log. Printed: generation time,
then for each query the wall time, rows and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from alerting.actions import Action, append_to_lake
from layers.audit import job
from layers.audit.contract import write_incidents
from layers.audit.scope import Period, Scope
from layers.detect import EVENT_SCHEMA
from socpipe.config import DEFAULTS
from socpipe.lake import write_lake_part

START = date(2026, 1, 1)
LEVELS = ("critical", "high", "medium", "low")


def registry(agencies: int, days: int) -> dict[str, Any]:
    """One province, departments, districts dissolved halfway (superseded by the communes that follow)."""
    half = (START + timedelta(days=days // 2)).isoformat()
    last_old = (START + timedelta(days=days // 2 - 1)).isoformat()
    items: list[dict[str, Any]] = [{"id": "p", "name": "Tỉnh", "type": "province"}]
    departments, districts = agencies // 10, agencies // 10
    items += [{"id": f"d{i}", "name": f"Sở {i}", "type": "department", "parent": "p"} for i in range(departments)]
    items += [{"id": f"h{i}", "name": f"Huyện {i}", "type": "district", "parent": "p", "valid_to": last_old,
               "superseded_by": f"x{i}"} for i in range(districts)]
    communes = agencies - 1 - departments - districts
    for i in range(communes):
        item = {"id": f"x{i}", "name": f"Xã {i}", "type": "commune", "parent": "p"}
        if i < districts:
            item["valid_from"] = half  # the successors of the districts
        items.append(item)
    systems = [{"id": f"{a['id']}-s{n}", "name": f"{a['id']} system {n}", "agency": a["id"], "level": 2 + n,
                "hosts": [f"{a['id']}-s{n}"]} for a in items for n in range(2)]
    return {"agencies": items, "systems": systems}


def generate(lake: Path, events: int, agencies: int, days: int) -> dict[str, Any]:
    reg = registry(agencies, days)
    systems = reg["systems"]
    agency_of = np.array([s["agency"] for s in systems], dtype=object)
    level_of = np.array([s["level"] for s in systems], dtype=np.int32)
    ids = np.array([s["id"] for s in systems], dtype=object)
    rng = np.random.default_rng(7)
    per_day = events // days
    # A tenth of the systems are often silent: they send on about half of the days.
    flaky = rng.random(len(systems)) < 0.1
    written = 0
    for day in range(days):
        when = START + timedelta(days=day)
        sending = np.flatnonzero(~flaky | (rng.random(len(systems)) < 0.5))
        pick = sending[rng.integers(0, len(sending), per_day)]
        seconds = np.sort(rng.integers(0, 86400, per_day))
        stamps = (np.datetime64(when.isoformat(), "us") + seconds.astype("timedelta64[s]")).astype("datetime64[us]")
        table = pa.table({
            "event_id": pa.array(np.arange(written, written + per_day)).cast(pa.string()),
            "kind": pa.array(["syslog"] * per_day), "origin": pa.array(["bench"] * per_day),
            "timestamp": pa.array(stamps, pa.timestamp("us", tz="UTC")),
            "host_name": pa.array(ids[pick]), "source_ip": pa.nulls(per_day, pa.string()),
            "user_name": pa.nulls(per_day, pa.string()), "agency_id": pa.array(agency_of[pick]),
            "system_id": pa.array(ids[pick]), "system_level": pa.array(level_of[pick]),
            "fields": pa.MapArray.from_arrays(np.zeros(per_day + 1, dtype=np.int32), pa.array([], pa.string()),
                                              pa.array([], pa.string())),
            "date": pa.array([when.isoformat()] * per_day)}, schema=EVENT_SCHEMA)
        write_lake_part(table, lake / "events", f"bench-{day:03d}")
        written += per_day
    incidents, actions = [], []
    for n in range(events // 400):  # one incident per 400 events
        s = systems[n % len(systems)]
        detected = datetime.combine(START + timedelta(days=n % days), datetime.min.time(), UTC) + timedelta(
            seconds=int(rng.integers(0, 86400)))
        level = LEVELS[n % len(LEVELS)]
        ident = f"{n:032x}"
        incidents.append({"incident_id": ident, "@timestamp": detected.isoformat(), "first": detected.isoformat(),
                          "last": detected.isoformat(), "level": level,
                          "rule": {"id": "r", "title": "bench", "level": level, "tags": []}, "count": 1,
                          "agency.id": s["agency"], "system.id": s["id"], "system.level": s["level"]})
        acked = detected + timedelta(minutes=int(rng.integers(1, 600)))
        actions.append(Action(acked, "contact:x", "acknowledge", "incident", ident, s["agency"],
                              {"status": "new"}, {"status": "acknowledged"}))
        if n % 3:
            actions.append(Action(acked + timedelta(hours=int(rng.integers(1, 200))), "contact:x", "status",
                                  "incident", ident, s["agency"], {"status": "acknowledged"}, {"status": "closed"}))
    for chunk in range(0, len(incidents), 20_000):
        write_incidents(lake, incidents[chunk:chunk + 20_000])
    for chunk in range(0, len(actions), 50_000):
        append_to_lake(lake, actions[chunk:chunk + 50_000])
    return reg


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20_000_000)
    parser.add_argument("--agencies", type=int, default=500)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--lake", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "socpipe-bench-audit")
    args = parser.parse_args()
    stamp = args.lake / "bench.json"
    wanted = {"events": args.events, "agencies": args.agencies, "days": args.days}
    if not stamp.exists() or json.loads(stamp.read_text())["size"] != wanted:
        shutil.rmtree(args.lake, ignore_errors=True)
        started = time.monotonic()
        reg = generate(args.lake, args.events, args.agencies, args.days)
        stamp.write_text(json.dumps({"size": wanted, "registry": reg}))
        print(f"generated {args.events:,} events, {len(reg['agencies'])} agencies, {len(reg['systems'])} systems, "
              f"{args.days} days in {time.monotonic() - started:.1f} s into {args.lake}")
    reg = json.loads(stamp.read_text())["registry"]
    from socpipe.spark import session

    print(f"load average before Spark: {os.getloadavg()}")
    started = time.monotonic()
    spark = session("bench-audit", master="local[2]")
    print(f"Spark session started in {time.monotonic() - started:.1f} s (not counted below)")
    period = Period(START, START + timedelta(days=args.days - 1))
    scope = Scope.from_dict(period.end, period, reg)
    settings = job.Settings.from_config(DEFAULTS["audit"], DEFAULTS["national"])
    total = time.monotonic()
    audit = job.Audit(spark, args.lake, scope, settings)
    for name in ("coverage", "handling"):
        started = time.monotonic()
        result = audit.query(name)
        print(f"{name}: {time.monotonic() - started:.1f} s, {len(result.rows)} detail rows, summary:")
        for row in result.summary[:6]:
            print("   ", row)
        print(f"  load average {os.getloadavg()}")
    files = sum(len(t["files"]) for t in audit.reader.manifest()["tables"].values())
    print(f"coverage + handling: {time.monotonic() - total:.1f} s (files read and hashed: {files})")
    spark.stop()


if __name__ == "__main__":
    main()
