"""A real Matrix home server for the tests: matrix-synapse (a dev dependency) with SQLite, listening on
127.0.0.1 on a free port, its configuration written into a temporary folder. Users are registered with
the shared-secret admin API, as `register_new_matrix_user` does. stop() and start() again on the same
port and database model an outage."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from alerting.notify_sink import HOST, free_port

SERVER_NAME = "socpipe.test"


class Synapse:
    def __init__(self, folder: Path) -> None:
        self.folder, self.port = folder, free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.shared_secret = secrets.token_hex(16)
        self._process: subprocess.Popen[bytes] | None = None
        self._write_config()

    def _write_config(self) -> None:
        from signedjson.key import generate_signing_key, write_signing_keys

        with open(self.folder / "signing.key", "w") as key:
            write_signing_keys(key, [generate_signing_key("a_test")])
        (self.folder / "log.yaml").write_text(yaml.safe_dump({
            "version": 1, "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
            "handlers": {"file": {"class": "logging.FileHandler", "formatter": "plain",
                                  "filename": str(self.folder / "homeserver.log")}},
            "root": {"level": "WARNING", "handlers": ["file"]}, "disable_existing_loggers": False}))
        unlimited = {"per_second": 10000, "burst_count": 10000}
        config = {
            "server_name": SERVER_NAME, "pid_file": str(self.folder / "homeserver.pid"), "report_stats": False,
            "listeners": [{"port": self.port, "bind_addresses": [HOST], "type": "http", "tls": False,
                           "resources": [{"names": ["client"], "compress": False}]}],
            "database": {"name": "sqlite3", "args": {"database": str(self.folder / "homeserver.db")}},
            "log_config": str(self.folder / "log.yaml"), "media_store_path": str(self.folder / "media"),
            "signing_key_path": str(self.folder / "signing.key"), "trusted_key_servers": [],
            "registration_shared_secret": self.shared_secret, "macaroon_secret_key": secrets.token_hex(16),
            "form_secret": secrets.token_hex(16), "enable_metrics": False, "suppress_key_server_warning": True,
            "rc_message": unlimited, "rc_joins": {"local": unlimited, "remote": unlimited},
            "rc_login": {"address": unlimited, "account": unlimited, "failed_attempts": unlimited},
            "rc_registration": unlimited, "rc_admin_redaction": unlimited,
        }
        (self.folder / "homeserver.yaml").write_text(yaml.safe_dump(config))

    def start(self, timeout: float = 60) -> Synapse:
        with open(self.folder / "stdout.log", "ab") as log:  # the child keeps its own copy of the file
            self._process = subprocess.Popen(
                [sys.executable, "-m", "synapse.app.homeserver", "-c", str(self.folder / "homeserver.yaml")],
                cwd=self.folder, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"synapse exited: {self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/_matrix/client/versions", timeout=1):
                    return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"synapse did not answer within {timeout} s: {self.log_tail()}")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def log_tail(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-3000:] for p in
                         (self.folder / "stdout.log", self.folder / "homeserver.log") if p.exists())

    def register(self, user: str, password: str, admin: bool = False) -> str:
        """A new user through the shared-secret admin API; returns its access token."""
        nonce = self.call("GET", "/_synapse/admin/v1/register")["nonce"]
        mac = hmac.new(self.shared_secret.encode(), digestmod=hashlib.sha1)
        mac.update(b"\x00".join([nonce.encode(), user.encode(), password.encode(),
                                 b"admin" if admin else b"notadmin"]))
        answer = self.call("POST", "/_synapse/admin/v1/register",
                           {"nonce": nonce, "username": user, "password": password, "admin": admin,
                            "mac": mac.hexdigest()})
        return str(answer["access_token"])

    def call(self, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data, headers, method=method)
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read())

    def create_room(self, token: str, alias: str, invite: list[str]) -> str:
        """A private room with a local alias (#alias:socpipe.test), the given users invited; its id."""
        answer = self.call("POST", "/_matrix/client/v3/createRoom",
                           {"room_alias_name": alias, "preset": "private_chat", "invite": invite}, token)
        return str(answer["room_id"])

    def messages(self, token: str, room: str) -> list[dict[str, Any]]:
        """The room's m.room.message events, oldest first, as a member reads them."""
        events: list[dict[str, Any]] = []
        start = ""
        while True:
            query = urllib.parse.urlencode({"dir": "f", "limit": 100, **({"from": start} if start else {})})
            page = self.call("GET", f"/_matrix/client/v3/rooms/{urllib.parse.quote(room)}/messages?{query}",
                             token=token)
            events += [e for e in page["chunk"] if e["type"] == "m.room.message"]
            if not page.get("end") or not page["chunk"]:
                return events
            start = page["end"]

    def __enter__(self) -> Synapse:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
