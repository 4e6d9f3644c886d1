"""Threat-intel sources fetched over HTTP from a real local server (http.server on 127.0.0.1): a MISP feed, a
STIX bundle and a CSV list give the indicators the same files give; a refresh of unchanged feeds is answered
304 to conditional requests; a changed feed is picked up, fetching only the MISP events that changed; a
server error keeps the last set; the token is sent and never logged."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

import pytest
import yaml
from test_intel import CSV_TEXT, misp_feed, stix_bundle

from enrich.intel_http import FeedError
from enrich.intel_sources import Refresher, load_sources
from socpipe.config import load_config

TOKEN_ENV = "SOCPIPE_TEST_FEED_KEY"
EVENT_1, EVENT_2 = "5f0c1a2e-0000-4000-8000-000000000001", "5f0c1a2e-0000-4000-8000-000000000002"


class Request(NamedTuple):
    path: str
    headers: dict[str, str]
    status: int


class FeedServer:
    """Serves a folder as feed servers do: ETag and Last-Modified, 304 to a matching If-None-Match, or (for
    .csv files, served without ETag) to an If-Modified-Since not older than the file; 401 without the token;
    500 while `failing`; /elsewhere/FILE redirects to FILE on http://localhost. Every request is recorded."""

    def __init__(self, root: Path, token: str) -> None:
        self.root, self.token, self.failing = root, token, False
        self.requests: list[Request] = []
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        feeds = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                status, headers, body = self._answer()
                feeds.requests.append(Request(self.path, dict(self.headers), status))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _answer(self) -> tuple[int, dict[str, str], bytes]:
                if self.headers.get("Authorization") != feeds.token:
                    return 401, {}, b"no key"
                if feeds.failing:
                    return 500, {}, b"database is locked"
                if self.path.startswith("/elsewhere/"):  # another host name for this server
                    where = f"http://localhost:{feeds.httpd.server_port}/{self.path.removeprefix('/elsewhere/')}"
                    return 302, {"Location": where}, b""
                file = feeds.root / urlsplit(self.path).path.lstrip("/")
                if not file.is_file():
                    return 404, {}, b"not found"
                body, mtime = file.read_bytes(), int(file.stat().st_mtime)
                headers = {"Last-Modified": formatdate(mtime, usegmt=True)}
                if file.suffix != ".csv":
                    headers["ETag"] = f'"{hashlib.sha1(body).hexdigest()}"'
                    if self.headers.get("If-None-Match") == headers["ETag"]:
                        return 304, headers, b""
                elif (since := self.headers.get("If-Modified-Since")) and \
                        parsedate_to_datetime(since).timestamp() >= mtime:
                    return 304, headers, b""
                return 200, headers, body

            def log_message(self, *args: object) -> None:
                pass

        return Handler

    def since(self, mark: int) -> dict[str, Request]:
        return {r.path: r for r in self.requests[mark:]}


@contextmanager
def serving(root: Path, token: str) -> Iterator[FeedServer]:
    server = FeedServer(root, token)
    thread = threading.Thread(target=server.httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
        thread.join(timeout=10)


def feeds(folder: Path) -> Path:
    folder.mkdir()
    stix_bundle(folder / "cert.json")
    misp_feed(folder / "misp")
    (folder / "list.csv").write_text(CSV_TEXT)
    return folder


def test_feeds_over_http_conditional_refresh_changes_and_failures(tmp_path, caplog, monkeypatch) -> None:
    caplog.set_level(logging.DEBUG)
    root = feeds(tmp_path / "feeds")
    token = f"key-{secrets.token_hex(12)}"
    monkeypatch.setenv(TOKEN_ENV, token)
    with serving(root, token) as server:
        (tmp_path / "socpipe.yaml").write_text(yaml.safe_dump({"enrich": {"intel": {
            "http": {"timeout": 5},
            "sources": [{"name": "cert", "format": "stix", "url": f"{server.url}/cert.json", "token_env": TOKEN_ENV},
                        {"name": "misp", "format": "misp", "url": f"{server.url}/misp", "confidence": 40,
                         "token_env": TOKEN_ENV},
                        {"name": "local", "format": "csv", "url": f"{server.url}/list.csv", "confidence": 50,
                         "token_env": TOKEN_ENV}]}}}))
        refresher = Refresher(load_config(tmp_path / "socpipe.yaml", environ={}))
        on_disk = load_sources([{"name": "cert", "format": "stix", "path": str(root / "cert.json")},
                                {"name": "misp", "format": "misp", "path": str(root / "misp"), "confidence": 40},
                                {"name": "local", "format": "csv", "path": str(root / "list.csv"), "confidence": 50}])
        loaded = refresher.loaded
        assert loaded.intel.indicators == on_disk.intel.indicators and len(loaded.intel) == 17
        assert loaded.counts == on_disk.counts and loaded.skipped == on_disk.skipped
        assert {r.headers.get("Authorization") for r in server.requests} == {token}
        assert not any("If-None-Match" in r.headers for r in server.requests)  # nothing held yet

        # Unchanged: every feed is asked whether it changed and answers 304; no event file is fetched again.
        mark = len(server.requests)
        assert not refresher.reload() and refresher.version == 0
        second = server.since(mark)
        assert second["/cert.json"].status == second["/misp/manifest.json"].status == 304
        assert "If-None-Match" in second["/cert.json"].headers and "If-Modified-Since" in second["/cert.json"].headers
        assert second["/list.csv"].status == 304 and "If-None-Match" not in second["/list.csv"].headers
        assert f"/misp/{EVENT_1}.json" not in second and f"/misp/{EVENT_2}.json" not in second
        assert refresher.loaded is loaded

        # Changed: a row added to the list, one MISP event updated (its manifest timestamp too).
        listing = root / "list.csv"
        listing.write_text(CSV_TEXT + "domain,fresh-c2.example,80,blk-7,\n")
        os.utime(listing, (listing.stat().st_mtime + 5,) * 2)
        event = json.loads((root / "misp" / f"{EVENT_2}.json").read_text())
        event["Event"]["Attribute"].append({"uuid": "a-new", "type": "ip-dst", "value": "198.51.100.200",
                                            "to_ids": True})
        (root / "misp" / f"{EVENT_2}.json").write_text(json.dumps(event))
        manifest = json.loads((root / "misp" / "manifest.json").read_text())
        manifest[EVENT_2]["timestamp"] = "1733600000"
        (root / "misp" / "manifest.json").write_text(json.dumps(manifest))
        mark = len(server.requests)
        assert refresher.reload() and refresher.version == 1
        third = server.since(mark)
        assert third["/list.csv"].status == third["/misp/manifest.json"].status == 200
        assert third[f"/misp/{EVENT_2}.json"].status == 200 and f"/misp/{EVENT_1}.json" not in third
        assert third["/cert.json"].status == 304
        intel = refresher.loaded.intel
        assert intel.domain("a.fresh-c2.example").id == "blk-7" and intel.addresses(["198.51.100.200"])[0].id == "a-new"
        assert len(intel) == 19 and intel.domain("update-flash.example") is not None  # event 1 kept

        # The server fails: the last set stays, the error names the source and the URL, not the key.
        server.failing = True
        assert not refresher.reload() and refresher.version == 1 and refresher.loaded.intel is intel
        assert "threat intel not refreshed" in caplog.text
        assert f"intel source cert: GET {server.url}/cert.json: HTTP 500" in caplog.text
        server.failing = False
        mark = len(server.requests)
        assert not refresher.reload()  # back, unchanged: 304 again
        assert {r.status for r in server.requests[mark:] if not r.path.endswith("dead.json")} == {304}
    assert token not in caplog.text


def test_a_feed_without_its_key_or_server_is_an_error_that_names_it(tmp_path, monkeypatch, caplog) -> None:
    root = feeds(tmp_path / "feeds")
    token = f"key-{secrets.token_hex(12)}"
    with serving(root, token) as server:
        source = {"name": "cert", "format": "stix", "url": f"{server.url}/cert.json?key={token}", "timeout": 5}
        with pytest.raises(FeedError) as refused:
            load_sources([source])
        assert str(refused.value) == f"intel source cert: GET {server.url}/cert.json: HTTP 401 Unauthorized"
        with pytest.raises(ValueError, match=f"token_env names {TOKEN_ENV}, which is not set"):
            load_sources([{**source, "token_env": TOKEN_ENV}])
        monkeypatch.setenv(TOKEN_ENV, token)
        assert len(load_sources([{**source, "token_env": TOKEN_ENV}]).intel) == 4
        # A redirect to another host does not take the key along: there it is refused.
        mark = len(server.requests)
        with pytest.raises(FeedError, match="HTTP 401"):
            load_sources([{**source, "url": f"{server.url}/elsewhere/cert.json", "token_env": TOKEN_ENV}])
        moved, followed = server.requests[mark:]
        assert moved.headers["Authorization"] == token and moved.status == 302
        assert followed.headers["Host"].startswith("localhost:") and "Authorization" not in followed.headers
        url = server.url
    with pytest.raises(FeedError, match=f"intel source cert: GET {url}/cert.json: .*refused"):
        load_sources([{**source, "token_env": TOKEN_ENV}])
