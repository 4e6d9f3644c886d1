"""Background Java processes with pid files, so `dev down` in another shell can find and stop them."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

LOG4J2_CONSOLE = """\
status = warn
appender.console.type = Console
appender.console.name = console
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.console.ref = console
"""  # both servers log through log4j2 to their console, which start() sends to the log file


def java() -> str:
    """$JAVA_HOME/bin/java when set, else `java` on PATH (both servers need Java 17+)."""
    home = os.environ.get("JAVA_HOME")
    found = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not found:
        raise RuntimeError("java not found: install Java 17+ or set JAVA_HOME")
    return found


def start(command: list[str], pid_file: Path, log_file: Path, cwd: Path, env: dict[str, str] | None = None) -> int:
    """Start detached (own session, so Ctrl-C in the shell that ran `up` does not reach it)."""
    with log_file.open("ab") as log:
        child = subprocess.Popen(command, cwd=cwd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                 start_new_session=True, env=env)
    pid_file.write_text(f"{child.pid}\n", encoding="utf-8")
    return child.pid


def running_pid(pid_file: Path) -> int | None:
    """The pid in the file if that process still lives and is ours (a recycled pid is not)."""
    try:
        pid = int(pid_file.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None
    if not alive(pid):
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return pid  # no /proc (macOS): trust the pid file
    return pid if str(pid_file.parent.resolve()).encode() in cmdline else None


def alive(pid: int) -> bool:
    """True while the process exists and is no zombie; reaps it when it is our own child."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def stop(pid_file: Path, timeout: float = 30.0) -> int | None:
    """SIGTERM (the servers shut down cleanly on it), SIGKILL after `timeout`; returns the pid stopped."""
    pid = running_pid(pid_file)
    if pid is not None:
        _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if alive(pid):
            _signal(pid, signal.SIGKILL)
            while alive(pid):
                time.sleep(0.1)
    pid_file.unlink(missing_ok=True)
    return pid


def _signal(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)  # the whole session started for it
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def log_tail(log_file: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log_file.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"
