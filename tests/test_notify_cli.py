"""`socpipe notify`: one tick with --once (--config before or after the command), and the long-running
process stopping cleanly on SIGTERM after its tick, with nothing sent twice when started again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from socpipe.cli import main
from socpipe.demo import REGISTRY

AGENCIES = ("snv", "stc", "vp-ubnd")


def _setup(tmp_path: Path) -> Path:
    config = tmp_path / "socpipe.yaml"
    config.write_text(f"registry: {REGISTRY}\nlake: {{path: lake}}\n"
                      "notify: {tick_seconds: 0.2, state_path: state.sqlite, outbox_dir: outbox, "
                      "route: {group_wait: 0}}\n", encoding="utf-8")
    now = datetime.now(UTC).isoformat()
    (tmp_path / "incidents.jsonl").write_text("".join(
        json.dumps({"incident_id": f"i-{a}", "@timestamp": now, "level": "high", "status": "new",
                    "rule": {"id": "r1", "title": "Đăng nhập bất thường", "level": "high"}, "agency": {"id": a},
                    "host": {"name": f"h-{a}"}, "escalation_step": 0}) + "\n" for a in AGENCIES), encoding="utf-8")
    return config


def test_once_with_config_before_or_after(tmp_path: Path) -> None:
    config = _setup(tmp_path)
    incidents = str(tmp_path / "incidents.jsonl")
    assert main(["--config", str(config), "notify", "--once", "--incidents", incidents]) == 0
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 3
    assert main(["notify", "--once", "--incidents", incidents, "--config", str(config)]) == 0
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 3  # the same state: nothing again


@pytest.mark.slow  # two processes started one after the other: about 6 s
def test_runs_until_sigterm_then_resumes_without_repeats(tmp_path: Path) -> None:
    config = _setup(tmp_path)
    command = [sys.executable, "-m", "socpipe.cli", "notify", "--config", str(config), "--incidents",
               str(tmp_path / "incidents.jsonl")]
    env = {**os.environ, "SOCPIPE__NOTIFY__ACK_SECRET": "cli-test-secret"}
    for _ in range(2):
        process = subprocess.Popen(command, cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True)
        try:
            assert process.stderr is not None
            started = [process.stderr.readline() for _ in range(2)]  # new incidents; settings (handlers set)
            assert "notify: every 0.2 s" in started[-1], started
            time.sleep(1)  # a few ticks
            process.send_signal(signal.SIGTERM)
            _, err = process.communicate(timeout=30)
        finally:
            process.kill()
        assert process.returncode == 0, err
        assert "SIGTERM: stopping after this tick" in err
        assert "cli-test-secret" not in err
        assert len(list((tmp_path / "outbox").glob("*.eml"))) == 3


def test_a_signal_while_waiting_for_the_search_store_stops_at_once(tmp_path: Path) -> None:
    """The store retries forever while it is away; SIGTERM must not wait for it."""
    from alerting.notify_sink import free_port

    config = _setup(tmp_path)
    env = {**os.environ, "SOCPIPE__OPENSEARCH__URL": f"http://127.0.0.1:{free_port()}"}
    process = subprocess.Popen([sys.executable, "-m", "socpipe.cli", "notify", "--config", str(config)],
                               cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        while "search store unreachable" not in (line := process.stderr.readline()):
            assert line, "the process ended before waiting for the store"
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=20)
    finally:
        process.kill()
    assert process.returncode == 128 + signal.SIGTERM and "SIGTERM: stopping now" in err
    assert time.monotonic() - started < 10


def test_a_failing_tick_is_logged_and_the_loop_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    import threading

    from alerting.notify import TickReport
    from alerting.notify_run import loop

    stop, calls = threading.Event(), []

    def tick(now: datetime) -> TickReport:
        calls.append(now)
        if len(calls) == 1:
            raise ConnectionError("search store away")
        if len(calls) == 3:
            stop.set()
        return TickReport()

    assert loop(tick, 0.01, stop) == 0 and len(calls) == 3
    assert "notify tick failed: ConnectionError: search store away" in caplog.text
    assert loop(lambda now: TickReport(failed=1), 0.01, threading.Event(), once=True) == 1
