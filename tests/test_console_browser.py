"""The console in a real browser (Debian's chromium driven by Playwright), served by uvicorn on 127.0.0.1:
sign in, filter, group, open an incident, acknowledge with a note, assign, comment, suppress from its alert
(the filter file written), bulk-close, save a filter, sign out.
Screenshots go to test-artifacts/console/; the pages must log no console errors."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest
import uvicorn
from conftest import ROOT
from console_fixtures import PASSWORD, console

pytestmark = pytest.mark.slow
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts" / "console"


@pytest.fixture
def served(dev_servers, tmp_path):
    client, store, incidents = console(dev_servers, tmp_path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(client.app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", store, incidents, tmp_path / "tuning"
    server.should_exit = True
    thread.join(10)


def test_triage_in_a_real_browser(served):
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.exists(), "Debian's chromium is needed (.ci/run installs it)"
    url, store, incidents, tuning = served
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        page = browser.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url + "/")
        assert page.url.endswith("/login")
        page.fill("#username", "analyst")
        page.fill("#password", PASSWORD)
        page.click("#signin")
        page.wait_for_selector("table.queue")
        assert page.inner_text("#total") == str(len(incidents))
        page.screenshot(path=str(ARTIFACTS / "1-queue.png"), full_page=True)

        page.select_option("select[name=level]", "high")
        page.select_option("#group", "agency")
        page.click("#apply-filters")
        page.wait_for_selector("table.queue")
        assert page.inner_text("#total") == "2"  # Encoded PowerShell on two skhcn hosts
        assert "Web shell" not in page.inner_text("table.queue")
        assert "Sở Khoa học và Công nghệ" in page.inner_text(".groups")  # grouped by agency, shown by name
        page.screenshot(path=str(ARTIFACTS / "2-filtered-grouped.png"), full_page=True)

        page.wait_for_load_state()  # the page's script listens for keys once loaded
        page.keyboard.press("j")  # keyboard triage: select the first row, open it
        page.keyboard.press("Enter")
        page.wait_for_selector("#act-acknowledge")
        page.fill("#act-acknowledge input[name=note]", "Checked with the agency: đang xử lý")
        page.click("#act-acknowledge button")
        page.wait_for_selector("#history li")
        assert page.inner_text("#status") == "acknowledged"
        page.select_option("#act-assign select[name=value]", "analyst")
        page.click("#act-assign button")
        page.locator("#assignee", has_text="analyst").wait_for()  # (no wait_for_function: the CSP forbids eval)
        page.fill("#act-comment input[name=note]", "Host isolated")
        page.click("#act-comment button")
        page.locator("#history li").nth(2).wait_for()
        assert "Host isolated" in page.inner_text("#history")
        page.screenshot(path=str(ARTIFACTS / "3-incident.png"), full_page=True)

        # Suppress from the alert: tick two fields of its event, see the proposal and its count, write it.
        page.check("#event-1 input[name=field][value=Image]")
        page.check("#event-1 input[name=field][value=User]")
        page.click("#event-1 button.suppress")
        page.wait_for_selector("#proposal")
        assert page.inner_text("#would-remove") == "2" and "condition: not selection" in page.inner_text("#proposal")
        page.screenshot(path=str(ARTIFACTS / "4-suppress.png"), full_page=True)
        page.click("#write-filter")
        page.wait_for_selector("#suppressed")
        written = page.inner_text("#suppressed code")
        assert (tuning / written).is_file() and "SKHCN" in (tuning / written).read_text()

        page.goto(url + "/")
        for box in page.query_selector_all("table.queue input[type=checkbox]")[:2]:
            box.check()
        page.click("#bulk-close")
        page.wait_for_selector("table.queue")
        statuses = [row.inner_text() for row in page.query_selector_all("table.queue tbody tr td:nth-child(7)")]
        assert statuses.count("closed") == 2
        page.screenshot(path=str(ARTIFACTS / "5-bulk-closed.png"), full_page=True)

        page.select_option("select[name=status]", "new")  # a saved filter: the queue as it is now, one click away
        page.click("#apply-filters")
        page.wait_for_selector("table.queue")
        page.fill("#filter-name", "mới")
        page.click("#save-filter-button")
        page.wait_for_selector("a.saved")
        page.goto(url + "/")
        page.click("a.saved")
        page.wait_for_selector("table.queue")
        statuses = [row.inner_text() for row in page.query_selector_all("table.queue tbody tr td:nth-child(7)")]
        assert set(statuses) == {"new"} and int(page.inner_text("#total")) == len(statuses) < len(incidents)
        # Keyboard on the incident: open the first new one, `a` acknowledges, `c` then Enter comments. Each
        # page's script (deferred) listens for keys once the page has loaded: wait for that before a key.
        page.wait_for_load_state()
        page.keyboard.press("j")
        page.keyboard.press("o")
        page.wait_for_selector("#act-acknowledge")
        page.wait_for_load_state()
        page.keyboard.press("a")
        page.locator("#status", has_text="acknowledged").wait_for()
        page.wait_for_load_state()
        page.keyboard.press("c")
        page.keyboard.type("from the keyboard")
        page.keyboard.press("Enter")
        page.locator("#history", has_text="from the keyboard").wait_for()
        page.wait_for_load_state()
        page.keyboard.press("u")
        page.wait_for_selector("table.queue")

        # Bulk on all matching: every acknowledged incident, after a confirmation that shows how many.
        page.goto(url + "/?status=acknowledged")
        left = int(page.inner_text("#total"))
        page.click("#bulk-all-status button")
        page.wait_for_selector("#bulk-count")
        assert page.inner_text("#bulk-count") == str(left) and left > 0
        page.screenshot(path=str(ARTIFACTS / "6-bulk-all-confirm.png"), full_page=True)
        page.click("#bulk-confirm-button")
        page.wait_for_selector("#bulk-done")
        assert page.inner_text("#total") == "0" and str(left) in page.inner_text("#bulk-done")

        page.click("#lang-vi")  # the analyst's language, kept with the account
        page.locator("#nav-queue", has_text="Sự cố").wait_for()
        page.click("#lang-en")
        page.locator("#nav-queue", has_text="Incidents").wait_for()
        page.click("#logout")
        page.wait_for_selector("#signin")
        page.goto(url + "/")
        assert page.url.endswith("/login")
        browser.close()
    assert errors == []
