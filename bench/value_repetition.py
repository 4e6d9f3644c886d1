"""How much detection speed owes to repeated values: the Detector in one process, on the bench corpus as
generated and with every command line made unique.

Run from the repository root: python -m bench.value_repetition [--events N]. The Detector works per distinct
value (layers/matcher/fieldbatch.py), so its cost per event grows as values stop repeating; this prints the CPU per
event of both corpora, their share of distinct command lines per batch and their alerts.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.compute as pc

from bench.corpus import generate, lake_table
from bench.detect_throughput import PRODUCT, RULE_FOLDERS, SIGMAHQ
from layers.detect import EVENT_SCHEMA, LAKE_BATCH_ROWS, alert_batch
from layers.matcher.engine import Detector
from rules.compiler import load_rules

COMMAND_LINES = ("CommandLine", "ParentCommandLine")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    args = parser.parse_args(argv)
    rules = [r for r in load_rules([SIGMAHQ / f for f in RULE_FOLDERS]).rules if r.logsource[0] == PRODUCT]
    events = list(generate(args.events))
    unique = [{k: f"{v} #{i}" if k in COMMAND_LINES else v for k, v in fields.items()}
              for i, fields in enumerate(events)]
    for name, corpus in (("as generated", events), ("unique command lines", unique)):
        batches = list(_batches(corpus))
        share = _distinct_share(batches)
        detector = Detector(rules)
        alert_batch(detector, batches[0])  # routes and first compiles: a one-off cost, left out
        started, alerts = time.process_time(), 0
        for batch in batches:
            alerts += alert_batch(detector, batch).num_rows
        cpu = time.process_time() - started
        print(f"{name}: {len(corpus):,} events, {share:.0%} distinct command lines per {LAKE_BATCH_ROWS:,}-event "
              f"batch, {alerts:,} alerts, {cpu / len(corpus) * 1e6:.1f} us CPU per event")


def _batches(events: list[dict[str, str]]) -> Iterator[pa.RecordBatch]:
    for first in range(0, len(events), LAKE_BATCH_ROWS):
        yield from lake_table(events[first:first + LAKE_BATCH_ROWS], first, EVENT_SCHEMA).to_batches()


def _distinct_share(batches: list[pa.RecordBatch]) -> float:
    """Distinct command lines over command lines, per batch, summed over the batches."""
    seen = distinct = 0
    for batch in batches:
        fields = batch.column("fields")
        values = fields.items.filter(pc.equal(fields.keys, "CommandLine"))
        seen += len(values)
        distinct += len(pc.unique(values))
    return distinct / seen if seen else 0.0


if __name__ == "__main__":
    main()
