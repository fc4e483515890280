"""`adieu serve` in a real browser: the app run by uvicorn on a free local
port (in a thread of this process, on a socket bound to port 0), driven by
headless Chromium through Playwright (tests/browsers.py installs and
launches it), over the report tests' small base (tests/reportdata.py: two
runs of the default policy, five customers waiting for review).

A reviewer opens the list, opens CUST-0015's case (owner David Kim), is
refused when typing the owner's own name in another spelling (the page
shows `adieu approve`'s message, status 400), then approves under their
own name. Afterwards `adieu audit verify` finds the trail intact, the
approval entry holds the reviewer's name as typed and as compared, and the
case is approved in the database."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from browsers import chromium
from click.testing import CliRunner
from reportdata import ADIEU, SCRIPT_NAME, hostile_db

from adieu.cli import cli

uvicorn = pytest.importorskip("uvicorn")
from adieu.serve import create_app  # noqa: E402

CUSTOMER = "CUST-0015"
OWNER_SPELLED_OTHERWISE = "kim, DAVID"  # the owner is David Kim


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    """(base URL, database) of a running server over a fresh base."""
    db = hostile_db(tmp_path_factory.mktemp("serve-browser"))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(str(db)), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", db
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture(scope="module")
def browser():
    with chromium() as opened:
        yield opened


def test_a_reviewer_approves_in_the_browser_and_the_owner_is_refused(browser, served,
                                                                     tmp_path: Path):
    url, db = served
    page = browser.new_page()
    errors: list[str] = []
    statuses: list[tuple[str, int]] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("response", lambda r: statuses.append((r.request.method, r.status)))

    page.goto(url + "/")
    assert page.locator("table.cases td.customer").count() == 5
    page.click(f"text={CUSTOMER}")
    page.wait_for_load_state("load")
    assert page.locator("h1").inner_text().startswith(f"{CUSTOMER}: Tidewater Builders")
    assert page.locator("span.owner").first.inner_text() == "David Kim"
    assert page.locator("table.reasons tbody tr").count() >= 1
    brief = page.frame_locator("iframe.brief")
    assert "Notes for staff" in brief.locator("section.staff").inner_text()
    assert "DRAFT" in brief.locator("body").inner_text()  # not approved yet

    # the owner, spelled otherwise, is refused with the command line's message
    page.fill("#by", OWNER_SPELLED_OTHERWISE)
    page.fill("#note", "looks right to me")
    page.click("button[value=approved]")
    page.wait_for_load_state("load")
    alert = page.locator("[role=alert]").inner_text()
    assert alert == (f"{OWNER_SPELLED_OTHERWISE} is the account owner of {CUSTOMER} and may "
                     "not review its offboarding; an independent reviewer must approve or "
                     "reject it")
    assert ("POST", 400) in statuses
    assert page.input_value("#by") == OWNER_SPELLED_OTHERWISE  # kept for correcting

    # an independent reviewer approves
    page.fill("#by", "Rita  REVIEWER")
    page.fill("#note", "figures checked with finance")
    page.click("button[value=approved]")
    page.wait_for_load_state("load")
    assert ("POST", 303) in statuses
    state = page.locator("#case-state").inner_text()
    assert "approved by Rita REVIEWER at" in state  # HTML shows runs of spaces as one
    assert page.locator("form.review").count() == 0
    page.screenshot(path=str(tmp_path / "approved.png"), full_page=True)
    # the refused review's status 400 is the only thing Chromium logs
    assert errors == ["Failed to load resource: the server responded with a status of 400 "
                      "(Bad Request)"]

    verify = CliRunner().invoke(cli, ["audit", "verify", "--db", str(db)])
    assert verify.exit_code == 0, verify.output
    conn = sqlite3.connect(db)
    try:
        row = conn.execute("select state, reviewer, reviewer_key, review_note from cases "
                           "where customer_id = ?", [CUSTOMER]).fetchone()
        entries = [json.loads(p) for (p,) in conn.execute(
            "select payload from audit where kind = 'case' and customer_id = ? order by seq",
            [CUSTOMER])]
    finally:
        conn.close()
    assert row == ("approved", "Rita  REVIEWER", "rita reviewer",
                   "figures checked with finance")
    approvals = [e for e in entries if e["event"] == "approved"]
    assert len(approvals) == 1  # the refused attempt wrote nothing
    assert approvals[0]["case"]["reviewer"] == "Rita  REVIEWER"
    assert approvals[0]["case"]["reviewer_key"] == "rita reviewer"
    assert approvals[0]["case"]["owner"] == "David Kim"


def test_a_script_in_a_name_shows_as_text(browser, served):
    url, _ = served
    page = browser.new_page()
    page.goto(url + "/case?customer=CUST-0001")
    assert page.locator("h1 .name").inner_text() == SCRIPT_NAME
    assert page.title() == "adieu: CUST-0001"  # the script did not run
    assert page.evaluate("document.scripts.length") == 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_command_serves_the_page(served, tmp_path: Path):
    """`adieu serve` itself, as a user starts it: the page answers on the
    port given, the address is printed, and no warning on 127.0.0.1."""
    _, db = served
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADIEU_")}
    server = subprocess.Popen([ADIEU, "serve", "--db", str(db), "--port", str(port)],
                              stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as answer:
                    status, text = answer.status, answer.read().decode()
                break
            except OSError:
                assert server.poll() is None, server.stderr.read()
                assert time.monotonic() < deadline, "adieu serve did not answer"
                time.sleep(0.1)
        assert status == 200 and "Open offboarding cases" in text
    finally:
        server.terminate()
        _, err = server.communicate(timeout=10)
    assert err.startswith(f"adieu serve: reviewing {db} at http://127.0.0.1:{port}/")
    assert "warning" not in err
