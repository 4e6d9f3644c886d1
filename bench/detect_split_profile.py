"""CPU per event of one `socpipe detect` task, without Spark: one split of the JSON-lines corpus in this process.

    .venv/bin/python -m bench.detect_split_profile [--events N] [--seed S] [--split I] [--repeat R]
                                                   [--profile [--sort cumtime]]

Runs layers/detect.py's task function (_detect_split, what each Spark task calls) on split I of the corpus of
bench/detect_files.py (the same file, cached), with every Windows rule of ../shared/sigmahq from the rule cache
(links kept under the cache folder, so the rule cache stays warm) and the settings
`socpipe detect` gives a task by default (no registry, hints, GeoIP, intel or baseline). The
Detector is built once and warmed by one run not counted, as a Python worker keeps it across its tasks.
Timed with time.process_time (CPU of every thread of this process: robust to the other load of a shared
machine), R times; prints each run's events per CPU-second, the best, and a digest of the outputs (alert
lines, dead letters, lake contents), which must not change when the code gets faster.
--profile adds a cProfile of one more run.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import io
import os
import pstats
import shutil
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from bench.detect_files import corpus, windows_rules
from ingest.splits import SPLIT_BYTES, plan_splits
from layers.detect import TaskSettings, _detect_split
from layers.matcher.engine import Detector
from rules.compiler import load_rules
from socpipe.jars import cache_root
from socpipe.lake import LAKE_BATCH_ROWS


def digest(work: Path) -> str:
    """sha256 of a task's outputs: its part files' bytes and the lake's tables as read back (file by file)."""
    sha = hashlib.sha256()
    for path in sorted(work.rglob("*")):
        if not path.is_file() or "_chain" in path.parts:
            continue
        sha.update(str(path.relative_to(work)).encode())
        if path.suffix == ".parquet":
            table = pq.read_table(path).combine_chunks()
            sink = io.BytesIO()
            with pa.ipc.new_stream(sink, table.schema) as writer:
                writer.write_table(table)
            sha.update(sink.getvalue())
        else:
            sha.update(path.read_bytes())
    return sha.hexdigest()[:16]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--split", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--sort", default="tottime", help="the profile's order: tottime, cumtime, ...")
    args = parser.parse_args()
    data = corpus(args.events, args.seed)
    split = plan_splits([data], SPLIT_BYTES)[args.split]
    with tempfile.TemporaryDirectory(prefix="socpipe-split-") as tmp:
        root = Path(tmp)
        rules = cache_root() / "bench" / "split-profile-rules"  # a fixed folder: the cache keys rules by path
        if not rules.is_dir():
            rules.mkdir(parents=True)
            windows_rules(rules)
        ruleset = load_rules([rules], {}, cache_root() / "rules")
        print(f"rules: {len(ruleset.rules):,} compiled ({ruleset.cache_hits:,} files from the cache); "
              f"split {args.split}: bytes {split.start:,}-{split.end:,} of {data.name}")
        detector = Detector(ruleset.rules)
        best = None
        for run in range(-1, args.repeat + args.profile):  # run -1 warms the Detector (rules compile on first use)
            work = root / f"run{run}"
            settings = TaskSettings(None, (), None, str(work / "lake"), str(work / "parts"), LAKE_BATCH_ROWS)
            (work / "parts").mkdir(parents=True)
            profiler = cProfile.Profile() if run == args.repeat else None
            started = time.process_time()
            if profiler:
                profiler.enable()
            stats = _detect_split(detector, settings, args.split, split).to_pylist()[0]
            if profiler:
                profiler.disable()
            seconds = time.process_time() - started
            if run < 0:
                shutil.rmtree(work)
                continue
            if profiler:
                out = io.StringIO()
                pstats.Stats(profiler, stream=out).sort_stats(args.sort).print_stats(40)
                print(out.getvalue())
                continue
            rate = stats["events"] / seconds
            best = max(best or 0, rate)
            print(f"run {run + 1}: {stats['events']:,} events, {stats['dead_letters']:,} dead letters, {seconds:.2f} "
                  f"CPU s, {rate:,.0f} events/CPU-s ({seconds / stats['events'] * 1e6:.1f} us/event), "
                  f"outputs {digest(work)}")
            shutil.rmtree(work)
    print("load average " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    print(f"best {best:,.0f} events/CPU-s")


if __name__ == "__main__":
    main()
