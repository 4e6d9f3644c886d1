"""What layer 2's correlation costs on top of single-event detection, through `socpipe detect`.

    .venv/bin/python -m bench.correlation [--windows-events N] [--auth-events M] [--master local[2]]

Input: the bench corpus's Windows events as JSON lines (bench/detect_files.py, cached) and a generated
auth.log of Linux servers of the demo registry: logins, cron, and SSH and VPN failures from thousands of
sources, a few of them guessing passwords in bursts, some across agencies (the starter correlations
fire on those). Rules: every Windows rule of ../shared/sigmahq and the starter pack with its
correlations. Prints the run's summary, the time of the correlation stage against the time of reading
and single-event detection, and ends with `correlation X s on top of detection Y s: Z%`.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.detect_files import ROOT, corpus, run_detect, windows_rules

HOSTS = ["dvc-web01", "dvc-web02", "lgsp-gw01", "sso-idp01", "mx01", "qlvb-app01"]  # demo registry, 2 agencies
START = datetime(2026, 11, 26, tzinfo=UTC)


def auth_log(path: Path, events: int, seed: int) -> None:
    """`events` syslog lines over one day: 60% routine, 40% SSH or VPN failures; every 200th source is
    an attacker whose failures come in bursts of 30 within five minutes, on one host or across all."""
    rng = random.Random(seed)
    day = 86400.0
    lines: list[tuple[float, str]] = []
    sources = [f"203.0.{i // 250}.{i % 250}" for i in range(5000)]
    while len(lines) < events:
        at = rng.uniform(0, day)
        roll = rng.random()
        host = rng.choice(HOSTS)
        if roll < 0.6:
            text = (f"sshd[{rng.randint(1000, 60000)}]: Accepted publickey for ops{rng.randint(1, 40)} from "
                    f"10.10.99.{rng.randint(2, 250)} port {rng.randint(30000, 65000)} ssh2")
            lines.append((at, f"{host} {text}"))
        elif roll < 0.95:
            source = rng.choice(sources)
            attacker = sources.index(source) % 200 == 0
            for n in range(30 if attacker else 1):
                when = at + (n * 10 if attacker else 0)
                target = rng.choice(HOSTS) if attacker and n % 2 else host
                lines.append((when, f"{target} sshd[{rng.randint(1000, 60000)}]: Failed password for "
                                    f"{rng.choice(['root', 'admin', 'ubuntu', 'quantri'])} from {source} port "
                                    f"{rng.randint(30000, 65000)} ssh2"))
        else:
            user = f"canbo{rng.randint(1, 300)}"
            lines.append((at, f"vpn-gw01 openvpn[881]: pam_unix(openvpn:auth): authentication failure; logname= "
                              f"uid=0 euid=0 tty= ruser= rhost=  user={user}"))
    lines = sorted(lines[:events])
    with path.open("w", encoding="utf-8") as out:
        for at, text in lines:
            stamp = (START + timedelta(seconds=at)).strftime("%b %d %H:%M:%S")
            out.write(f"{stamp} {text}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--windows-events", type=int, default=700_000)
    parser.add_argument("--auth-events", type=int, default=300_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--master", default="local[2]")
    args = parser.parse_args()
    windows = corpus(args.windows_events, args.seed)
    with tempfile.TemporaryDirectory(prefix="socpipe-bench-correlation-") as tmp:
        work = Path(tmp)
        (work / "rules").mkdir()
        (work / "data").mkdir()
        print(f"rules: {windows_rules(work / 'rules'):,} Windows rule files, and the starter pack")
        for rule in sorted((ROOT / "rules" / "starter").rglob("*.yml")):  # its correlations too
            (work / "rules" / f"starter-{rule.name}").symlink_to(rule)
        (work / "data" / "windows.jsonl").symlink_to(windows)
        auth_log(work / "data" / "auth.log", args.auth_events, args.seed)
        config = work / "socpipe.yaml"
        config.write_text(f"spark:\n  master: '{args.master}'\nregistry: {ROOT / 'socpipe/demo/registry.yaml'}\n"
                          "detect:\n  syslog_year: 2026\n", encoding="utf-8")
        print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} before the run, "
              f"{os.cpu_count()} cores")
        seconds, peak, stdout = run_detect(config, work / "rules", work / "data", work / "out", work / "cache")
        print(stdout.rstrip())
    stages = dict(re.findall(r"([\w+]+) ([\d.]+) s", stdout.split("stages", 1)[1].splitlines()[0]))
    detection, correlation = float(stages["read+detect"]), float(stages["correlate"])
    events = args.windows_events + args.auth_events
    print(f"{events:,} events in {seconds:.1f} s wall, peak memory of all processes {peak / 1024:,.0f} MiB")
    print(f"correlation {correlation:.2f} s on top of detection {detection:.2f} s: "
          f"{100 * correlation / detection:.1f}%")


if __name__ == "__main__":
    main()
