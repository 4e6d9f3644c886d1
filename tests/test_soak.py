"""The short soak (bench/soak.py, 3 minutes): Kafka and OpenSearch restarted, the streaming job and the
notifier SIGKILLed while events flow; every event, alert, incident and notification exactly once in every
store (notifications: the Kafka `notifications` topic and a real SMTP server's mailbox), RSS flat."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from conftest import ROOT

pytestmark = pytest.mark.slow
MINUTES = os.environ.get("SOCPIPE_SOAK_MINUTES", "3")
RATE = os.environ.get("SOCPIPE_SOAK_RATE", "1000")  # the shared 2-core CI machine; the bench defaults to 5,000


@pytest.mark.timeout(1800)
def test_short_soak_counts_everything_once_and_memory_stays_flat():
    done = subprocess.run([sys.executable, "-m", "bench.soak", "--minutes", MINUTES, "--rate", RATE,
                           "--drain-seconds", "300"], cwd=ROOT, capture_output=True, text=True, timeout=1700,
                          check=False)
    print(done.stdout)
    # stderr: the soak's own lines and traceback first (a server's log tail in an error can be long)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[:4000] + "\n...\n" + done.stderr[-2000:]
    assert done.stdout.count("fault ") == 8 and "soak passed" in done.stdout
    assert done.stdout.count("SIGKILL of the notifier") == 2 * 2  # as it happened, and in the summary
    for store in ("search incidents", "kafka notifications", "smtp notifications"):
        (line,) = [x for x in done.stdout.splitlines() if x.startswith(f"{store}:")]
        _, unique, expected = (int(n) for n in re.findall(r"(\d+) (?:records|distinct|expected)", line))
        assert unique == expected > 0, line
