"""`adieu report`'s page in a real browser: headless Chromium (the Debian
package, /usr/bin/chromium) driven by Playwright for Python (the `browser`
extra, installed by `make test`; no browser is downloaded).

Setup: tests/browsers.py (shared with tests/test_serve_browser.py) installs
/usr/bin/chromium with apt-get when it is missing and the tests run as
root, one installer at a time; only when that cannot be done are these
tests skipped, with the reason shown.

Over the report of examples/scenario (a year of runs built by
examples/scenario/run.sh with the installed adieu): a screenshot, every
chart drawn (each SVG painted with non-white pixels, the expected number
of marks, each with a size), no console error, no request leaving the file.
Over a base with a customer named with a <script>: the name shows as text,
nothing runs. ADIEU_UPDATE_SCREENSHOT=1 also writes the scenario's
screenshot to docs/report.png (the one the ops guide shows)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
from browsers import chromium
from reportdata import ADIEU, ROOT, SCRIPT_NAME, adieu, hostile_db

from adieu import report
from adieu.store import open_db_readonly

SCREENSHOT = ROOT / "docs" / "report.png"


@pytest.fixture(scope="module")
def browser():
    with chromium() as opened:
        yield opened


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """examples/scenario's year of runs (run.sh, in a copy of the folder)."""
    folder = tmp_path_factory.mktemp("scenario") / "scenario"
    shutil.copytree(ROOT / "examples" / "scenario", folder,
                    ignore=shutil.ignore_patterns("*.db", "*.db-*"))
    done = subprocess.run(["bash", str(folder / "run.sh")], capture_output=True, text=True,
                          env={**os.environ, "ADIEU": ADIEU})
    assert done.returncode == 0, done.stderr[-2000:]
    return folder / "scenario.db"


class Opened:
    """A page opened in the browser, with what it logged and requested."""

    def __init__(self, browser, path: Path):
        self.page = browser.new_page(viewport={"width": 1100, "height": 900})
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("console",
                     lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(path.as_uri())
        self.page.wait_for_load_state("load")


# Paints an inline SVG onto a canvas (as an image from its own markup) and
# counts the pixels that are not white, and those in the offboard red.
PAINTED = """async (svg) => {
  const xml = new XMLSerializer().serializeToString(svg);
  const img = new Image();
  await new Promise((ok, fail) => {
    img.onload = ok; img.onerror = fail;
    img.src = 'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(xml);
  });
  const c = document.createElement('canvas');
  c.width = svg.width.baseVal.value; c.height = svg.height.baseVal.value;
  const ctx = c.getContext('2d');
  ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, c.width, c.height);
  ctx.drawImage(img, 0, 0);
  const d = ctx.getImageData(0, 0, c.width, c.height).data;
  let ink = 0, red = 0;
  for (let i = 0; i < d.length; i += 4) {
    if (d[i] < 245 || d[i + 1] < 245 || d[i + 2] < 245) ink++;
    if (d[i] > 150 && d[i + 1] < 110 && d[i + 2] < 110) red++;
  }
  return {ink, red};
}"""

# Each mark's drawn area, and its hover text (a segment bar of 0.0% has none).
MARK_SIZES = """() => Array.from(document.querySelectorAll('svg .mark')).map(m => {
  const b = m.getBBox(); return [b.width * b.height, m.textContent]; })"""


def expected_marks(db: Path) -> tuple[int, int]:
    """(marks, scatter points) that the report of db's latest run draws:
    a point per sampled customer, a bar per non-zero outcome count per run,
    a point per run (new strikes), a bar per segment shown."""
    data = report.build(open_db_readonly(str(db)), None, [])
    bars = sum(1 for run in data["history"] for n in run["counts"].values() if n)
    segments = sum(min(report.SEGMENT_BARS, sum(1 for r in data["segments"]
                                                 if r["fact"] == name))
                   for name in data["segment_names"])
    points = len(data["points"])
    return points + bars + len(data["history"]) + segments, points


def test_the_scenario_report_renders(browser, scenario: Path, tmp_path: Path):
    page_file = tmp_path / "report.html"
    adieu("report", "--db", str(scenario), "--html", str(page_file))
    opened = Opened(browser, page_file)
    page = opened.page
    shot = page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    if os.environ.get("ADIEU_UPDATE_SCREENSHOT"):
        SCREENSHOT.write_bytes(shot)
    assert shot[:8] == b"\x89PNG\r\n\x1a\n" and len(shot) > 50_000

    marks, points = expected_marks(scenario)
    assert points > 0
    assert page.locator("svg .mark").count() == marks
    assert page.locator("svg.scatter .mark").count() == points
    assert page.locator("svg.scatter .mark.offboard").count() >= 1
    sizes = page.evaluate(MARK_SIZES)
    assert len(sizes) == marks
    assert [text for size, text in sizes if size <= 0 and ": 0.0% of " not in text] == []
    svgs = page.locator("svg.chart")
    assert svgs.count() == 6  # scatter, outcomes and strikes over runs, 3 segment charts
    for i in range(svgs.count()):
        painted = svgs.nth(i).evaluate(PAINTED)
        assert painted["ink"] > 2000, i
    assert page.locator("svg.scatter").evaluate(PAINTED)["red"] > 20  # offboard points
    assert opened.errors == []
    assert all(url.startswith("file:") for url in opened.requests), opened.requests


def test_a_script_in_a_name_shows_as_text(browser, tmp_path: Path):
    db = hostile_db(tmp_path)
    page_file = tmp_path / "report.html"
    adieu("report", "--db", str(db), "--html", str(page_file))
    opened = Opened(browser, page_file)
    page = opened.page
    page.screenshot(path=str(tmp_path / "hostile.png"), full_page=True)
    names = page.locator("table.queue td.name").all_inner_texts()
    assert SCRIPT_NAME in names
    assert page.evaluate("document.scripts.length") == 0
    assert page.evaluate("document.querySelectorAll('table b, table i').length") == 0
    assert page.title().startswith("adieu report: run 2")  # the script did not run
    assert "<i>media</i>" in page.locator("table.segments").first.inner_text()
    assert opened.errors == []


def test_the_in_process_scenario_is_what_run_sh_writes(scenario: Path, tmp_path: Path):
    """tests/scenario_inprocess.py (used where run.sh's minute is too slow:
    Datasette, serve, JSON outputs) writes the same runs, decisions, strikes,
    cases, exemptions and kinds of audit entry as run.sh."""
    from scenario_inprocess import build

    queries = {
        "runs": "select id, as_of, policy_name, customers, rejected, counts, backfill "
                "from runs order by id",
        "decisions": "select run_id, customer_id, outcome, strikes, effective_date "
                     "from run_decisions order by run_id, customer_id",
        "strikes": "select customer_id, rule, recorded_on, expires_on, run_id, "
                   "superseded_by_run, pardoned_at is not null, pardoned_by "
                   "from strikes order by id",
        "cases": "select customer_id, state, opened_run, effective_date, reviewer, closed_run "
                 "from cases order by id",
        "exemptions": "select customer_id, rules, approver, expires from exemptions order by id",
        "audit": "select kind, count(*) from audit group by kind order by kind",
    }

    def read(db: Path) -> dict[str, list[tuple]]:
        conn = sqlite3.connect(db)
        try:
            return {name: conn.execute(sql).fetchall() for name, sql in queries.items()}
        finally:
            conn.close()

    from_run_sh = read(scenario)
    in_process = read(build(tmp_path / "scenario"))
    assert from_run_sh["decisions"] and from_run_sh["cases"]
    for name in queries:
        assert in_process[name] == from_run_sh[name], name
