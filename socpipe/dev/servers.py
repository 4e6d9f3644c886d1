"""`socpipe dev up | down | status`: Kafka and OpenSearch on 127.0.0.1 as background Java processes.

State (configs, data, logs, pid files, endpoints) lives under one state folder, so `down` and `status`
from another shell find what `up` started. Dev data is throw-away: every `up` starts empty.
"""

from __future__ import annotations

import json
import random
import socket
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import yaml

from socpipe.config import DEFAULTS, Config
from socpipe.dev import kafka, kafka_secure, opensearch, opensearch_secure, process

HOST = "127.0.0.1"
READY_TIMEOUT = 120.0  # OpenSearch needs up to ~90 s on 2 busy cores
STOP_TIMEOUT = 30.0
RESUME_ATTEMPTS, RESUME_PAUSE_SECONDS = 4, 3.0  # resume_server: a port taken meanwhile is usually free again
NAMES = ("kafka", "opensearch")


@dataclass(frozen=True)
class Endpoints:
    kafka: str  # bootstrap servers, host:port
    opensearch: str  # base URL

    def lines(self) -> list[str]:
        return [f"kafka {self.kafka}", f"opensearch {self.opensearch}"]

    def config_yaml(self, state_dir: Path, kafka_settings: dict | None = None,
                    opensearch_settings: dict | None = None, console: dict | None = None) -> str:
        """A socpipe configuration naming these servers; the absolute state folder lets `--config` find them.
        `kafka_settings`, `opensearch_settings`: a secured server's settings of one user (no password);
        `console`: console settings."""
        home = state_dir.resolve().parent  # beside the servers' state: the lake, checkpoints, collector state
        return yaml.safe_dump({"kafka": {"bootstrap_servers": self.kafka, **(kafka_settings or {})},
                               "opensearch": {"url": self.opensearch, **(opensearch_settings or {})},
                               "lake": {"path": str(home / "lake")},
                               "run": {"checkpoint_dir": str(home / "checkpoints")},
                               "collect": {"state_dir": str(home / "collect")},
                               "dev": {"state_dir": str(state_dir.resolve())},
                               **({"console": console} if console else {})}, sort_keys=False)


def up(state_dir: Path, kafka_port: int = 0, opensearch_port: int = 0, secure: bool = False,
       config: Config | None = None) -> Endpoints:
    """Start whatever is not running yet (0 = a free port) and wait until both answer real requests.
    Secure: Kafka with TLS, SCRAM principals and ACLs (socpipe/dev/kafka_secure.py), OpenSearch with the
    security plugin, TLS and users and roles from `config`'s registry (socpipe/dev/opensearch_secure.py)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    started: list[str] = []
    try:
        for name in NAMES:
            directory = state_dir / name
            if process.running_pid(_pid_file(directory)) is not None:
                continue
            directory.mkdir(exist_ok=True)
            port, internal_port = _free_ports(kafka_port if name == "kafka" else opensearch_port)
            _say(f"starting {name} (the first run fetches its jars with Maven)")
            if name == "kafka":
                command, endpoint = kafka.prepare(directory, port, internal_port, secure), f"{HOST}:{port}"
            elif secure:
                command = opensearch_secure.prepare(directory, port, internal_port,
                                                    config or Config(DEFAULTS, state_dir))
                endpoint = f"https://{HOST}:{port}"
            else:
                command, endpoint = opensearch.prepare(directory, port, internal_port), f"http://{HOST}:{port}"
            _endpoint_file(directory).write_text(endpoint + "\n", encoding="utf-8")
            _command_file(directory).write_text(json.dumps(command), encoding="utf-8")
            process.start(command, _pid_file(directory), directory / f"{name}.log", cwd=directory)
            started.append(name)
        endpoints = Endpoints(*(_endpoint(state_dir / name) for name in NAMES))
        _wait_ready(state_dir, endpoints)
        if kafka_secure.is_secure(state_dir / "kafka"):
            kafka_secure.grant(endpoints.kafka, state_dir / "kafka")
    except BaseException:
        for name in started:
            process.stop(_pid_file(state_dir / name), STOP_TIMEOUT)
        raise
    return endpoints


def down(state_dir: Path) -> dict[str, int | None]:
    """Stop both; returns the pid stopped per server (None: it was not running)."""
    return {name: process.stop(_pid_file(state_dir / name), STOP_TIMEOUT) for name in NAMES}


def stop_server(state_dir: Path, name: str) -> int | None:
    """Stop one server and keep its data, so `resume_server` brings it back as it was (fault tests)."""
    return process.stop(_pid_file(state_dir / name), STOP_TIMEOUT)


def resume_server(state_dir: Path, name: str) -> None:
    """Start a stopped server again on the same port with the same data, and wait until it answers.

    While it was stopped, its port was free: a client's outgoing connection may have been given that
    number as its local port, and the server then exits on start (address in use). It is started again,
    a few times, once that connection is likely gone."""
    directory = state_dir / name
    for attempt in range(1, RESUME_ATTEMPTS + 1):
        if process.running_pid(_pid_file(directory)) is None:
            command = json.loads(_command_file(directory).read_text(encoding="utf-8"))
            process.start(command, _pid_file(directory), directory / f"{name}.log", cwd=directory)
        try:
            _wait_ready(state_dir, Endpoints(*(_endpoint(state_dir / n) for n in NAMES)))
            return
        except RuntimeError as error:  # exited while starting
            if attempt == RESUME_ATTEMPTS:
                raise
            _say(f"{name} exited while starting again (attempt {attempt}); starting it once more: "
                 f"{str(error).splitlines()[-1]}")
            time.sleep(RESUME_PAUSE_SECONDS)


def status(state_dir: Path) -> dict[str, str | None]:
    """Per server, its endpoint when its process runs and answers, else None."""
    found: dict[str, str | None] = {}
    for name in NAMES:
        directory = state_dir / name
        endpoint = None
        if process.running_pid(_pid_file(directory)) is not None:
            endpoint = _endpoint(directory)
            try:
                _check(state_dir, name, endpoint)
            except Exception:
                endpoint = None
        found[name] = endpoint
    return found


def pids(state_dir: Path) -> dict[str, int | None]:
    """The live pid per server, for callers that must prove a `down` left nothing behind."""
    return {name: process.running_pid(_pid_file(state_dir / name)) for name in NAMES}


def run(command: str, state_dir: Path, kafka_port: int = 0, opensearch_port: int = 0,
        config_file: Path | None = None, secure: bool = False, config: Config | None = None) -> int:
    """The CLI entry: prints `kafka HOST:PORT` and `opensearch URL`; `up` also writes a ready config file
    (secure: the pipeline's, and dev-collector.yaml for collectors; passwords stay in kafka/<role>.env and
    opensearch/<user>.env)."""
    if command == "up":
        try:
            endpoints = up(state_dir, kafka_port, opensearch_port, secure, config)
        except (RuntimeError, TimeoutError) as error:
            _say(f"dev up failed: {error}")
            return 1
        target = config_file or Path.cwd() / ".socpipe" / "dev.yaml"
        target.parent.mkdir(parents=True, exist_ok=True)
        kafka_dir, search_dir = state_dir / "kafka", state_dir / "opensearch"
        search = opensearch_secure.client_settings(search_dir, "pipeline") if opensearch_secure.is_secure(
            search_dir) else None
        if kafka_secure.is_secure(kafka_dir):
            collector = target.with_name(f"{target.stem}-collector{target.suffix}")
            collector.write_text(endpoints.config_yaml(state_dir, kafka_secure.client_settings(kafka_dir, "collector")),
                                 encoding="utf-8")
            target.write_text(endpoints.config_yaml(state_dir, kafka_secure.client_settings(kafka_dir, "pipeline"),
                                                    search), encoding="utf-8")
            _say(f"kafka is secured: collectors use {collector} with the password in {kafka_dir / 'collector.env'}, "
                 f"the job {target} with {kafka_dir / 'pipeline.env'} (e.g. `set -a; . FILE; set +a`)")
        else:
            target.write_text(endpoints.config_yaml(state_dir, opensearch_settings=search), encoding="utf-8")
        if search:
            console = target.with_name(f"{target.stem}-console{target.suffix}")
            console.write_text(endpoints.config_yaml(state_dir, opensearch_settings=opensearch_secure.client_settings(
                search_dir, "console"), console={"read_as": opensearch_secure.READ_AS}), encoding="utf-8")
            _say(f"opensearch is secured: the job's user `pipeline` needs {search_dir / 'pipeline.env'} too; the "
                 f"console (`socpipe serve`) uses {console} with {search_dir / 'console.env'} and reads as each "
                 f"signed-in user; every user's password (admin, soc, auditor, agency-<id>) is in "
                 f"{search_dir / 'credentials.json'}")
        print("\n".join(endpoints.lines()))
        _say(f"configuration written to {target}; stop with `socpipe dev down`")
        return 0
    if command == "down":
        for name, pid in down(state_dir).items():
            print(f"{name} stopped (pid {pid})" if pid else f"{name} was not running")
        return 0
    if command == "status":
        found = status(state_dir)
        for name, endpoint in found.items():
            print(f"{name} {endpoint}" if endpoint else f"{name} down")
        return 0 if all(found.values()) else 1
    raise ValueError(f"unknown dev command {command!r} (up, down, status)")


_CHECKS: dict[str, Callable[[str], None]] = {"kafka": kafka.check, "opensearch": opensearch.check}


def _check(state_dir: Path, name: str, endpoint: str) -> None:
    if name == "kafka" and kafka_secure.is_secure(state_dir / name):
        kafka.check(endpoint, kafka_secure.python_options(state_dir / name, "admin"))
    elif name == "opensearch" and opensearch_secure.is_secure(state_dir / name):
        opensearch_secure.check(endpoint, state_dir / name)
    else:
        _CHECKS[name](endpoint)


def _wait_ready(state_dir: Path, endpoints: Endpoints) -> None:
    """Poll both until they answer; fail fast with the log's tail when a process dies."""
    waiting = dict(zip(NAMES, (endpoints.kafka, endpoints.opensearch), strict=True))
    deadline = time.monotonic() + READY_TIMEOUT
    last: dict[str, str] = {}
    while waiting:
        for name, endpoint in list(waiting.items()):
            directory = state_dir / name
            if process.running_pid(_pid_file(directory)) is None:
                raise RuntimeError(f"{name} exited while starting; its log ends:\n"
                                   + process.log_tail(directory / f"{name}.log"))
            try:
                _check(state_dir, name, endpoint)
            except Exception as error:
                last[name] = f"{type(error).__name__}: {error}"
            else:
                del waiting[name]
        if waiting and time.monotonic() > deadline:
            raise TimeoutError(f"not ready after {READY_TIMEOUT:.0f} s: "
                               + "; ".join(f"{n} ({last.get(n, '?')})" for n in waiting))
        if waiting:
            time.sleep(0.5)


def _free_ports(wanted: int) -> tuple[int, int]:
    """The wanted (or a free) public port and a free internal one (Kafka controller, OpenSearch transport).

    Free ports are taken below the kernel's range for outgoing connections: a server stopped by a fault
    test keeps its port number, and no client connection can be given it meanwhile."""
    low = _outgoing_ports()[0]
    with ExitStack() as stack:
        ports: list[int] = []
        for port in (wanted, 0):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            candidates = [port] if port else random.sample(range(max(1024, low - 12000), low), 200)
            for candidate in candidates:
                try:
                    sock.bind((HOST, candidate))
                    break
                except OSError as error:
                    if port:
                        raise RuntimeError(f"port {port} on {HOST} is taken: {error}") from error
            else:
                sock.bind((HOST, 0))  # every candidate taken: any free port
            ports.append(sock.getsockname()[1])
    return ports[0], ports[1]


def _outgoing_ports() -> tuple[int, int]:
    """The kernel's range of local ports for outgoing connections (Linux; its default elsewhere)."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def _pid_file(directory: Path) -> Path:
    return directory / f"{directory.name}.pid"


def _endpoint_file(directory: Path) -> Path:
    return directory / "endpoint"


def _command_file(directory: Path) -> Path:
    return directory / "command.json"


def _endpoint(directory: Path) -> str:
    return _endpoint_file(directory).read_text(encoding="utf-8").strip()


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
