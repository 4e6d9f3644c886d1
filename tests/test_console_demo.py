"""`socpipe demo --serve` as a newcomer runs it: the demo, then the console over its results on the dev servers,
with demo users whose printed passwords sign in (the session's dev servers are reused through dev.state_dir)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid

import httpx
import pytest
import yaml
from conftest import ROOT

from socpipe.demo import REGISTRY
from socpipe.registry import Registry

pytestmark = pytest.mark.slow


def test_demo_serve_comes_up_and_demo_users_sign_in(dev_servers, dev_state_dir, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    name = uuid.uuid4().hex[:8]
    config = tmp_path / "demo.yaml"
    config.write_text(yaml.safe_dump({
        "dev": {"state_dir": str(dev_state_dir)}, "spark": {"master": "local[2]"},
        "console": {"port": port, "saved_filters_index": f"console-filters-demo-{name}"},
        "run": {"alerts_index": f"alerts-demo-{name}"}, "incidents": {"index": f"incidents-demo-{name}"}}))
    out = tmp_path / "demo-out"
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen([sys.executable, "-m", "socpipe.cli", "--config", str(config), "demo", "--serve",
                                "--out", str(out)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(process.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 400
        while time.monotonic() < deadline:
            assert process.poll() is None, "".join(lines[-40:])
            if any(line.startswith("console: ") for line in lines):
                try:
                    if httpx.get(url + "/login").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
            time.sleep(1)
        else:
            pytest.fail("the console did not come up: " + "".join(lines[-40:]))
        text = "".join(lines)
        printed = text.split("demo users")[1].split("console: ")[0]
        users = {m.group(1): m.group(2) for m in re.finditer(r"^  (\S+) +.+? (\S+)$", printed, re.MULTILINE)}
        assert {"analyst", "auditor"} <= set(users) and len(users) == 4, text[-3000:]
        incidents = [json.loads(line) for line in (out / "incidents.jsonl").read_text().splitlines()]
        assert f"{len(incidents)} incidents" in text

        with httpx.Client(base_url=url) as analyst:
            assert analyst.post("/login", data={"username": "analyst", "password": "wrong"}).status_code == 200
            signed = analyst.post("/login", data={"username": "analyst", "password": users["analyst"]})
            assert signed.status_code == 303 and signed.headers["location"] == "/"
            assert analyst.get("/api/incidents").json()["total"] == len(incidents)
            assert "socpipe" in analyst.get("/").text
        agency = next(u for u in users if u not in ("analyst", "auditor"))
        with httpx.Client(base_url=url) as contact:
            assert contact.post("/login", data={"username": agency, "password": users[agency]}).status_code == 303
            seen = contact.get("/api/incidents").json()
            scope = set(Registry.load(REGISTRY).subtree(agency))
            mine = [i for i in incidents if (i.get("agency") or {}).get("id") in scope]
            assert seen["total"] == len(mine) > 0 and seen["total"] < len(incidents)
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
