"""Rule loading: cold (empty compiled-rule cache, every core) and warm (every file from the cache).

    .venv/bin/python -m bench.rule_load [--rules PATH...]

Default: every rule folder of the shared SigmaHQ snapshot (rules*). Prints the rule count (and how many
are Windows rules), both times and the line `rule load: N rules, cold C s, warm W s`.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from rules.compiler import load_rules

SIGMAHQ = Path(__file__).resolve().parents[1].parent / "shared" / "sigmahq"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rules", nargs="+", type=Path,
                        default=sorted(SIGMAHQ.glob("rules*")))
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="socpipe-rule-cache-") as cache:
        started = time.perf_counter()
        cold = load_rules(args.rules, {}, Path(cache))
        cold_seconds = time.perf_counter() - started
        started = time.perf_counter()
        warm = load_rules(args.rules, {}, Path(cache))
        warm_seconds = time.perf_counter() - started
    assert warm.rules == cold.rules, "the cache changed what the rules compile to"
    windows = sum(1 for r in cold.rules if r.logsource[0] == "windows")
    print(f"cold: {len(cold.rules)} compiled ({windows} Windows), {len(cold.failures)} failed in {cold_seconds:.2f} s")
    print(f"warm: {warm.cache_hits} files from the cache in {warm_seconds:.2f} s")
    print(f"rule load: {len(cold.rules)} rules, cold {cold_seconds:.2f} s, warm {warm_seconds:.2f} s")


if __name__ == "__main__":
    main()
