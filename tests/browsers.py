"""Headless Chromium for the browser tests (tests/test_report_browser.py,
tests/test_serve_browser.py): the Debian package /usr/bin/chromium driven
by Playwright for Python (the `browser` extra); no browser is downloaded.

When /usr/bin/chromium is missing and the tests run as root, it is
installed with `apt-get update && apt-get install -y chromium`, under an
exclusive lock on /tmp/adieu-test-chromium.lock (fcntl.flock), so that two
test files running at once (pytest-xdist) never run apt-get together and
collide on dpkg's lock: the second waits, then finds Chromium there. Only
when it cannot be installed are the tests skipped, with the reason."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
LOCK = Path("/tmp/adieu-test-chromium.lock")


def _install() -> str | None:
    if os.geteuid() != 0:
        return "/usr/bin/chromium is missing and the tests do not run as root to install it"
    if shutil.which("apt-get") is None:
        return "/usr/bin/chromium is missing and there is no apt-get to install it"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
        try:
            done = subprocess.run(command, capture_output=True, text=True, env=env,
                                  timeout=1200)
        except subprocess.TimeoutExpired:
            return f"`{' '.join(command)}` took more than 20 minutes"
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            return f"`{' '.join(command)}` failed: {last}"
    return None if CHROMIUM.exists() else "apt-get installed chromium but not /usr/bin/chromium"


def install_chromium() -> str | None:
    """None when /usr/bin/chromium is there (installed now if need be, one
    installer at a time across processes), else why it cannot be."""
    if CHROMIUM.exists():
        return None
    with open(LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
        if CHROMIUM.exists():  # another test file installed it while we waited
            return None
        return _install()


@contextmanager
def chromium() -> Iterator[object]:
    """A launched headless Chromium (playwright Browser), closed afterwards;
    the test is skipped, with the reason, when there is none to launch."""
    reason = install_chromium()
    if reason:
        pytest.skip(f"no Chromium: {reason}")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()
