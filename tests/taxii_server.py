"""A real TAXII 2.1 server for the tests: medallion 3.0.0 with its memory backend, on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

COLLECTION = "365fed99-08fa-fdcd-a1b3-fb247eb41d01"
USER, PASSWORD = "soc", "taxii-test-password"


@dataclass(frozen=True)
class Taxii:
    api_root: str
    collection: str
    username: str
    password: str


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def medallion(folder: Path) -> Iterator[Taxii]:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    data = {
        "/discovery": {"title": "socpipe test TAXII", "description": "national centre stand-in",
                       "contact": "soc@example.invalid", "default": f"{base}/national/",
                       "api_roots": [f"{base}/national/"]},
        "national": {
            "information": {"title": "national", "description": "intake", "versions": [
                "application/taxii+json;version=2.1"], "max_content_length": 9765625},
            "status": [],
            "collections": [{"id": COLLECTION, "title": "incidents", "description": "incident reports",
                             "can_read": True, "can_write": True,
                             "media_types": ["application/stix+json;version=2.1"], "objects": [], "manifest": []}],
        },
    }
    (folder / "data.json").write_text(json.dumps(data))
    (folder / "config.json").write_text(json.dumps({
        "backend": {"module": "medallion.backends.memory_backend", "module_class": "MemoryBackend",
                    "filename": str(folder / "data.json")},
        "users": {USER: PASSWORD}, "taxii": {"max_page_size": 100}}))
    log = (folder / "medallion.log").open("w")
    process = subprocess.Popen([str(Path(sys.executable).parent / "medallion"), "--host", "127.0.0.1", "--port",
                                str(port), str(folder / "config.json")], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{base}/taxii2/", auth=(USER, PASSWORD), timeout=2,
                                headers={"Accept": "application/taxii+json;version=2.1"}).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"medallion did not start: {(folder / 'medallion.log').read_text()}")
            time.sleep(0.2)
        yield Taxii(f"{base}/national/", COLLECTION, USER, PASSWORD)
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()
