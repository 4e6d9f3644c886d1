"""Detection throughput: socpipe on Spark against the Zircolite-style SQLite baseline, on one seeded corpus.

Run from the repository root: python -m bench.detect_throughput [--events N] [--baseline-events K].
It prints its figures and ends with `socpipe E events/s, baseline B events/s, ratio R` (R = E / B).
Only rules of log-source product "windows" run, since the corpus is Windows events only.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import SparkSession

from bench import sqlite_baseline
from bench.corpus import generate, write_lake
from layers.detect import match_lake
from layers.matcher.engine import fallback_count
from rules.compiler import load_rules
from rules.model import CompiledRule
from socpipe.spark import session

SIGMAHQ = Path(__file__).resolve().parents[2] / "shared" / "sigmahq"
RULE_FOLDERS = ("rules", "rules-emerging-threats", "rules-threat-hunting", "rules-placeholder", "rules-compliance")
PRODUCT = "windows"


@dataclass(frozen=True, slots=True)
class Process:
    name: str
    peak_kib: int  # VmHWM
    cpu_seconds: float  # user + system, with the reaped children's


@dataclass
class SocpipeRun:
    seconds: float
    cpu_seconds: dict[str, float]  # driver, JVM, Python workers during the job: robust to other load on the machine
    partitions: int
    alerts: int
    rules_fired: int
    per_rule: Counter[str]  # rule id -> alerts on the first `head` events, to compare with the baseline
    processes: list[Process]  # under this one (JVM, pyspark daemon and workers), read before the session stops


def main(argv: list[str] | None = None) -> None:
    args = _arguments(argv)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # workers must import socpipe like the driver
    n, k = args.events, min(args.baseline_events or args.events, args.events)

    with tempfile.TemporaryDirectory(prefix="socpipe-bench-") as tmp:
        lake = Path(tmp) / "lake"
        started = time.monotonic()
        write_lake(n, args.seed, lake)
        print(f"corpus: {n:,} events (seed {args.seed}) written to Parquet in {time.monotonic() - started:.1f} s "
              "(not counted)")

        ruleset = load_rules(args.rules)
        rules = [r for r in ruleset.rules if r.logsource[0] == PRODUCT]
        fallback = fallback_count(rules)
        print(f"rules: {len(ruleset.rules):,} loaded, {len(ruleset.failures):,} failed; {len(rules):,} with product "
              f"{PRODUCT!r} kept: {len(rules) - fallback:,} on the prefilter fast path, {fallback:,} on the fallback")

        spark = session("socpipe-bench", master="local[2]", batch=True)
        print(f"machine: {os.cpu_count()} CPUs, 1-min load average {os.getloadavg()[0]:.2f} before the socpipe run "
              "(this process included: well above 1 means other work competes for the CPUs)")
        try:
            ours = _run_socpipe(spark, lake, rules, k)
        finally:
            spark.stop()
    _report_socpipe(ours, n)

    baseline = _run_baseline(args, k)
    result = baseline.result
    baseline_rate = result.events_per_second
    print(f"baseline: {len(baseline.converted.queries):,} rules converted by pySigma sqliteBackend, "
          f"{len(baseline.converted.failures):,} not convertible, {len(result.query_errors):,} failed in "
          f"SQLite ({_top(result.query_errors)}); conversion {baseline.converted.seconds:.1f} s (not counted)")
    print("baseline: Zircolite's approach ignores log sources: every rule runs over every event")
    if k < n:
        print(f"baseline: ran on the first {k:,} of the {n:,} events only (--baseline-events); "
              "its events/s is computed on those")
    print(f"baseline: {k:,} events in {result.seconds:.1f} s (load {result.load_seconds:.1f} s into "
          f"{result.columns} columns, queries {result.query_seconds:.1f} s) = {baseline_rate:,.0f} events/s; "
          f"{sum(result.matches.values()):,} matches from {sum(1 for c in result.matches.values() if c):,} rules")
    print(f"baseline: CPU {result.cpu_seconds:.1f} s = {k / result.cpu_seconds:,.0f} events per CPU-second "
          "(one process, one thread)")
    print(f"memory: driver peak RSS after the baseline {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f}"
          " MiB (includes its in-memory SQLite table)")

    _compare(ours.per_rule, baseline, {r.id for r in rules}, k)
    ours_per_cpu, theirs_per_cpu = n / sum(ours.cpu_seconds.values()), k / result.cpu_seconds
    print(f"per CPU-second: socpipe {ours_per_cpu:,.0f} events, baseline {theirs_per_cpu:,.0f} events, ratio "
          f"{ours_per_cpu / theirs_per_cpu:.2f}")
    socpipe_rate = n / ours.seconds
    ratio = socpipe_rate / baseline_rate if baseline_rate else float("inf")
    print(f"socpipe {socpipe_rate:.0f} events/s, baseline {baseline_rate:.0f} events/s, ratio {ratio:.2f}")


def _report_socpipe(ours: SocpipeRun, n: int) -> None:
    print(f"socpipe: {n:,} events in {ours.seconds:.1f} s = {n / ours.seconds:,.0f} events/s (Spark local[2], "
          f"{ours.partitions} lake files read by the Python workers to alerts collected, Detector build included)")
    cpu = sum(ours.cpu_seconds.values())
    print(f"socpipe: CPU {cpu:.1f} s (" + ", ".join(f"{g} {s:.1f} s" for g, s in ours.cpu_seconds.items())
          + f") = {n / cpu:,.0f} events per CPU-second")
    print(f"socpipe: {ours.alerts:,} alerts from {ours.rules_fired:,} rules")
    driver = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(f"memory: driver peak RSS {driver / 1024:,.0f} MiB (getrusage self, corpus writing and rule loading "
          f"included), reaped children {children / 1024:,.0f} MiB (getrusage children)")
    jvm = [p.peak_kib for p in ours.processes if p.name == "java"]
    workers = [p.peak_kib for p in ours.processes if p.name.startswith("python")]
    if jvm:
        print(f"memory: JVM peak RSS {max(jvm) / 1024:,.0f} MiB (/proc VmHWM)")
    if workers:
        print(f"memory: {len(workers)} Python worker processes (with the pyspark daemon), peak RSS max "
              f"{max(workers) / 1024:,.0f} MiB, sum {sum(workers) / 1024:,.0f} MiB (/proc VmHWM)")
    else:
        print("memory: Python worker peak RSS not measurable (no /proc, or no worker found under this process)")


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="corpus size (default 1,000,000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rules", type=Path, nargs="+", default=[SIGMAHQ / f for f in RULE_FOLDERS],
                        help="rule files or folders (default: every rule folder of the SigmaHQ snapshot)")
    parser.add_argument("--baseline-events", type=int, default=None,
                        help="run the baseline on the first K events only (default: all); it is slow")
    args = parser.parse_args(argv)
    if args.events < 1 or (args.baseline_events is not None and args.baseline_events < 1):
        parser.error("--events and --baseline-events must be positive")
    return args


def _run_socpipe(spark: SparkSession, lake: Path, rules: list[CompiledRule], head: int) -> SocpipeRun:
    """Time the lake -> alerts job; count alerts per rule on the events the baseline also sees."""
    cpu_before = _cpu_split(_descendants())
    started = time.monotonic()
    partitions = len(list(lake.rglob("*.parquet")))
    rows = match_lake(spark, lake, rules).collect()
    seconds = time.monotonic() - started
    processes = _descendants()
    cpu = {group: spent - cpu_before.get(group, 0.0) for group, spent in _cpu_split(processes).items()}
    fired: set[str] = set()
    per_rule: Counter[str] = Counter()
    for row in rows:
        doc = json.loads(row.document)
        fired.add(doc["rule"]["id"])
        if int(doc["event_meta"]["origin"].removeprefix("bench:")) < head:
            per_rule[doc["rule"]["id"]] += 1
    return SocpipeRun(seconds, cpu, partitions, len(rows), len(fired), per_rule, processes)


def _cpu_split(processes: list[Process]) -> dict[str, float]:
    """CPU seconds so far of this process (the driver), the JVM and the Python workers."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    split = {"driver": usage.ru_utime + usage.ru_stime, "JVM": 0.0, "Python workers": 0.0}
    for p in processes:
        split["JVM" if p.name == "java" else "Python workers"] += p.cpu_seconds
    return split


def _descendants() -> list[Process]:
    """Every process under this one, from /proc (empty where there is no /proc)."""
    proc = Path("/proc")
    children: dict[int, list[int]] = {}
    stats: dict[int, list[str]] = {}
    for path in proc.glob("[0-9]*/stat"):
        try:
            fields = path.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended while we looked
        pid = int(path.parent.name)
        stats[pid] = fields
        children.setdefault(int(fields[1]), []).append(pid)
    tick = os.sysconf("SC_CLK_TCK")
    found, todo = [], list(children.get(os.getpid(), []))
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        try:
            status = dict(line.split(":", 1) for line in (proc / str(pid) / "status").read_text().splitlines())
        except OSError:
            continue
        # stat fields after the name: utime, stime, cutime, cstime are the 12th to 15th
        cpu = sum(int(t) for t in stats[pid][11:15]) / tick
        found.append(Process(status.get("Name", "").strip(), int(status.get("VmHWM", "0 kB").split()[0]), cpu))
    return found


@dataclass
class BaselineRun:
    converted: sqlite_baseline.Converted
    result: sqlite_baseline.BaselineResult


def _run_baseline(args: argparse.Namespace, k: int) -> BaselineRun:
    rules, unreadable = sqlite_baseline.sigma_rules(args.rules, PRODUCT)
    converted = sqlite_baseline.convert(rules)
    converted.failures.update(unreadable)
    events = list(generate(k, args.seed))  # the same events as the head of the lake: the corpus is prefix-stable
    return BaselineRun(converted, sqlite_baseline.run(events, converted.queries))


def _compare(ours: Counter[str], baseline: BaselineRun, socpipe_ids: set[str], k: int) -> None:
    """Per-rule match counts on the rules both engines ran, on the same k events."""
    ran = set(baseline.converted.queries) - set(baseline.result.query_errors)
    both = sorted(socpipe_ids & ran)
    differ = [(i, ours[i], baseline.result.matches[i]) for i in both if ours[i] != baseline.result.matches[i]]
    print(f"per-rule counts on the first {k:,} events: {len(both):,} rules ran in both, "
          f"{len(both) - len(differ):,} agree, {len(differ):,} differ (expected where log sources matter: "
          "the baseline ignores them, and SQL NULL makes `not filter` false when the filter's field is absent)")
    higher = sum(1 for _, mine, theirs in differ if theirs > mine)
    if differ:
        print(f"  baseline higher on {higher:,} (events of other log sources), lower on {len(differ) - higher:,}")
    for rule_id, mine, theirs in differ[:10]:
        print(f"  {rule_id}: socpipe {mine}, baseline {theirs}")


def _top(errors: dict[str, str]) -> str:
    common = Counter(errors.values()).most_common(1)
    return f"most often {common[0][0]!r}" if common else "none"


if __name__ == "__main__":
    main()
