"""Cost of triage after detection: suppression and the incident fold on the driver, per alert.

Seeded synthetic alerts (rules x hosts x sources over one day), one rule with a suppression; prints the
batch figures (all alerts at once) and the stream's (micro-batches with the open state carried), with the
load average, since other work shares the machine.

    .venv/bin/python -m bench.triage --alerts 200000
"""

from __future__ import annotations

import argparse
import os
import random
import time
from datetime import UTC, datetime, timedelta

from alerting.incidents import batch_incidents, fold
from alerting.tuning import SuppressionState, Tuning
from rules.filters import Suppression

T0 = datetime(2026, 11, 30, tzinfo=UTC)


def alerts(n: int, seed: int = 1) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        rule = f"rule-{rng.randrange(40)}"
        out.append({"alert_id": f"{i:032x}", "@timestamp": (T0 + timedelta(seconds=rng.uniform(0, 86400))).isoformat(),
                    "rule": {"id": rule, "title": rule, "level": rng.choice(["low", "medium", "high"]), "tags": []},
                    "host": {"name": f"host-{rng.randrange(50)}"}, "source": {"ip": f"203.0.113.{rng.randrange(250)}"},
                    "agency": {"id": f"agency-{rng.randrange(10)}"}, "event": {}})
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--alerts", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=5_000, help="alerts per micro-batch for the stream figure")
    args = parser.parse_args()
    docs = alerts(args.alerts)
    tuning = Tuning([], {"rule-0": Suppression(("source.ip",), 600)})
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

    started = time.process_time()
    outcome = tuning.apply(docs)
    tuned = time.process_time()
    incidents = batch_incidents(outcome.kept, 3600)
    done = time.process_time()
    print(f"batch: {len(docs):,} alerts, {len(outcome.suppressed):,} suppressed, {len(incidents):,} incidents; "
          f"tuning {1e6 * (tuned - started) / len(docs):.1f} us/alert, fold {1e6 * (done - tuned) / len(docs):.1f} "
          f"us/alert (CPU)")

    ordered = sorted(docs, key=lambda a: a["@timestamp"])
    state, spans = SuppressionState(), []
    started = time.process_time()
    for first in range(0, len(ordered), args.batch):
        kept = tuning.apply(ordered[first:first + args.batch], state, 3600).kept
        spans = fold(kept, spans, 3600).spans
    done = time.process_time()
    print(f"stream: {len(ordered) // args.batch} micro-batches of {args.batch:,}, {len(spans):,} incidents; "
          f"{1e6 * (done - started) / len(docs):.1f} us/alert (CPU, without the state files and the search store)")
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
