"""`socpipe detect` over log files, as a user runs it: process start to summary, cold and warm rule cache.

    .venv/bin/python -m bench.detect_files [--events N] [--seed S] [--master local[2]]

Writes (once, cached under ~/.cache/socpipe/bench) the bench corpus's Windows events as one flat JSON
object per line (bench/corpus.py: realistic value repetition; 1,100,000 events are about 1.1 GB), then runs
`socpipe detect` in a subprocess with every Windows rule of ../shared/sigmahq: once with an empty rule
cache (cold) and once with the cache that run filled (warm). Prints each run's wall time, stage times and
peak memory of all its processes (sampled from /proc), and ends with the line
`detect E events/s wall, cold C events/s wall`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.corpus import generate
from socpipe.jars import cache_root

ROOT = Path(__file__).resolve().parents[1]
SIGMAHQ = ROOT.parent / "shared" / "sigmahq"
WINDOWS_RULE = re.compile(r"^\s*product:\s*windows\s*$", re.MULTILINE)


def corpus(events: int, seed: int) -> Path:
    path = cache_root() / "bench" / f"windows-{events}-{seed}.jsonl"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        partial = path.with_suffix(".partial")
        with partial.open("w", encoding="utf-8") as out:
            for fields in generate(events, seed):
                out.write(json.dumps(fields, ensure_ascii=False) + "\n")
        partial.replace(path)
        print(f"corpus: {events:,} events written in {time.monotonic() - started:.1f} s (not counted)")
    print(f"corpus: {path} ({path.stat().st_size / 1e9:.2f} GB, {events:,} events)")
    return path


def windows_rules(folder: Path) -> int:
    """Links to every Windows rule file of the snapshot, in one folder."""
    count = 0
    for rule in sorted(SIGMAHQ.glob("rules*/**/*.yml")):
        if WINDOWS_RULE.search(rule.read_text(encoding="utf-8", errors="replace")):
            (folder / f"{count:05d}-{rule.name}").symlink_to(rule)
            count += 1
    return count


class PeakMemory:
    """Peak of the summed resident memory of a process and all its descendants, sampled every 0.2 s."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak_kib, self._stop = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak_kib

    def _sample(self) -> None:
        while not self._stop.wait(0.2):
            self.peak_kib = max(self.peak_kib, sum(_rss_kib(p) for p in _tree(self.pid)))


def _tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def run_detect(config: Path, rules: Path, data: Path, out: Path, cache: Path) -> tuple[float, int, str]:
    env = {**os.environ, "SOCPIPE__RULES__CACHE_DIR": str(cache), "SPARK_LOCAL_IP": "127.0.0.1",
           "PYSPARK_PYTHON": sys.executable}
    started = time.monotonic()
    child = subprocess.Popen([sys.executable, "-m", "socpipe.cli", "--config", str(config), "detect", "--rules",
                              str(rules), "--input", str(data), "--out", str(out)], cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    memory = PeakMemory(child.pid)
    stdout, stderr = child.communicate()
    seconds = time.monotonic() - started
    peak = memory.stop()
    if child.returncode:
        raise SystemExit(f"socpipe detect failed ({child.returncode}):\n{stderr[-3000:]}")
    return seconds, peak, stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--master", default="local[2]")
    args = parser.parse_args()
    data = corpus(args.events, args.seed)
    with tempfile.TemporaryDirectory(prefix="socpipe-bench-files-") as tmp:
        work = Path(tmp)
        (work / "rules").mkdir()
        print(f"rules: {windows_rules(work / 'rules'):,} Windows rule files of {SIGMAHQ}")
        config = work / "socpipe.yaml"
        config.write_text(f"spark:\n  master: '{args.master}'\nrules:\n  starter_pack: false\n", encoding="utf-8")
        results = {}
        for name in ("cold", "warm"):
            print(f"{name}: load average {os.getloadavg()[0]:.2f} before the run, {os.cpu_count()} cores")
            seconds, peak, stdout = run_detect(config, work / "rules", data, work / name, work / "cache")
            print(stdout.rstrip())
            print(f"{name}: {seconds:.1f} s wall, {args.events / seconds:,.0f} events/s wall, peak memory of all "
                  f"processes {peak / 1024:,.0f} MiB")
            results[name] = args.events / seconds
        same = (work / "cold" / "alerts.jsonl").read_bytes() == (work / "warm" / "alerts.jsonl").read_bytes()
        print(f"alerts of the cold and warm runs identical: {same}")
    print(f"detect {results['warm']:,.0f} events/s wall, cold {results['cold']:,.0f} events/s wall")


if __name__ == "__main__":
    main()
