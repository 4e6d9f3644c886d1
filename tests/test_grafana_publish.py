"""`socpipe dashboards export` and `push`. No Grafana server can run here, so push is tested against a small
HTTP server on 127.0.0.1 that implements the Grafana API endpoints it uses and checks each request."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from conftest import ROOT

TOKEN = "glsa_test-token-7f3e9a"  # noqa: S105 (a test value)


class FakeGrafana(BaseHTTPRequestHandler):
    """GET /api/folders/{uid}, POST /api/folders, POST /api/dashboards/db, as Grafana 11 answers them."""

    folders: dict[str, dict] = {}
    dashboards: dict[str, dict] = {}
    refused: list[str] = []

    def log_message(self, *args) -> None:  # quiet
        pass

    def _answer(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _authorised(self) -> bool:
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self.refused.append(self.path)
            self._answer(401, {"message": "Unauthorized"})
            return False
        return True

    def do_GET(self) -> None:
        if not self._authorised():
            return
        uid = self.path.removeprefix("/api/folders/")
        if self.path.startswith("/api/folders/") and uid in self.folders:
            return self._answer(200, self.folders[uid])
        self._answer(404, {"message": "folder not found"})

    def do_POST(self) -> None:
        if not self._authorised():
            return
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path == "/api/folders":
            assert set(body) >= {"title", "uid"}
            self.folders[body["uid"]] = {"uid": body["uid"], "title": body["title"], "id": len(self.folders) + 1}
            return self._answer(200, self.folders[body["uid"]])
        if self.path == "/api/dashboards/db":
            board = body["dashboard"]
            assert body["overwrite"] is True and body["folderUid"] in self.folders
            assert board["id"] is None and board["uid"] and board["panels"], "a new or replaced dashboard"
            self.dashboards[board["uid"]] = body
            return self._answer(200, {"status": "success", "uid": board["uid"], "url": f"/d/{board['uid']}",
                                      "version": 1})
        self._answer(404, {"message": "not found"})


@pytest.fixture()
def grafana():
    FakeGrafana.folders, FakeGrafana.dashboards, FakeGrafana.refused = {}, {}, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeGrafana)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _socpipe(*args: str, token: str | None = TOKEN) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOCPIPE__")}
    if token is not None:
        env["SOCPIPE__GRAFANA__TOKEN"] = token
    return subprocess.run([sys.executable, "-m", "socpipe.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120, check=False)


def test_push_creates_the_folder_and_every_dashboard(grafana):
    done = _socpipe("dashboards", "push", "--url", grafana)
    assert done.returncode == 0, done.stderr
    assert list(FakeGrafana.folders) == ["socpipe"]
    uids = set(FakeGrafana.dashboards)
    assert {"socpipe-soc-overview", "socpipe-audit", "socpipe-agency-ankhanh"} <= uids
    assert f"pushed {len(uids)} dashboards" in done.stdout
    again = _socpipe("dashboards", "push", "--url", grafana)  # the folder exists now: only overwrites
    assert again.returncode == 0 and len(FakeGrafana.folders) == 1 and set(FakeGrafana.dashboards) == uids
    assert TOKEN not in done.stdout + done.stderr + again.stdout + again.stderr
    print(f"push: {len(uids)} dashboards into folder socpipe, twice")


def test_push_with_a_wrong_token_fails_without_printing_it(grafana):
    done = _socpipe("dashboards", "push", "--url", grafana, token="wrong-token-123")
    assert done.returncode != 0 and FakeGrafana.refused and not FakeGrafana.dashboards
    assert "wrong-token-123" not in done.stdout + done.stderr
    missing = _socpipe("dashboards", "push", "--url", grafana, token=None)
    assert missing.returncode != 0 and "SOCPIPE__GRAFANA__TOKEN" in missing.stderr


def test_export_writes_provisioning_that_names_every_data_source_it_uses(tmp_path: Path):
    done = _socpipe("dashboards", "export", str(tmp_path))
    assert done.returncode == 0, done.stderr
    sources = yaml.safe_load((tmp_path / "datasources" / "socpipe.yaml").read_text())["datasources"]
    by_uid = {s["uid"]: s for s in sources}
    assert len(by_uid) == len(sources)
    (provider,) = yaml.safe_load((tmp_path / "dashboards" / "socpipe.yaml").read_text())["providers"]
    assert provider["options"]["path"] == "/etc/grafana/provisioning/dashboards/socpipe"
    boards = [json.loads(p.read_text()) for p in sorted((tmp_path / "dashboards" / "socpipe").glob("*.json"))]
    assert len(boards) >= 3
    for board in boards:
        uids = {t["datasource"]["uid"] for p in board["panels"] for t in p["targets"]}
        assert uids <= set(by_uid), board["uid"]
        if board["uid"].startswith("socpipe-agency-"):
            agency = board["uid"].removeprefix("socpipe-agency-")
            # An agency's dashboard reads only its own aliases, as its own OpenSearch user.
            assert {by_uid[u]["jsonData"]["database"] for u in uids} == {
                f"{kind}-agency-{agency}" for kind in ("alerts", "events", "incidents")}
            assert {by_uid[u]["basicAuthUser"] for u in uids} == {f"agency-{agency}"}
            assert not board["templating"]["list"]  # no variable to switch agencies
    for source in sources:  # passwords are environment references, expanded by Grafana
        assert source["secureJsonData"]["basicAuthPassword"].startswith("$SOCPIPE_GRAFANA_")
