"""`adieu report`'s page in a real browser: headless Chromium (the Debian
package, /usr/bin/chromium) driven by Playwright for Python (the `browser`
extra, installed by `make test`; no browser is downloaded).

Setup: tests/browsers.py (shared with tests/test_serve_browser.py) installs
/usr/bin/chromium with apt-get when it is missing and the tests run as
root, one installer at a time; only when that cannot be done are these
tests skipped, with the reason shown.

Over the report of examples/scenario's December run while Dogwood's
offboarding waits for review (tests/scenario_inprocess.py): what is drawn
is checked against SQL on the database, not against the report's own code
(outcomes per run, the run's offboard candidates against the red points,
the other customers against the blue ones, new strikes, segments, the open
cases against the review queue's rows); every chart is painted; every text
of a chart lies inside its SVG and no two texts overlap; the page is no
wider than the window; no console error, no request leaving the file. The
same layout checks over a base with names and segment values hundreds of
characters long, over 24 runs (slanted date labels), and over a customer
named with a <script> (shown as text, nothing runs).
ADIEU_UPDATE_SCREENSHOT=1 also writes the scenario's screenshot to
docs/report.png (the one the ops guide shows)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
from browsers import chromium
from reportdata import ADIEU, ROOT, SCRIPT_NAME, adieu, hostile_db

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


@pytest.fixture(scope="module")
def waiting(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """examples/scenario up to its December run, Dogwood's case open."""
    from scenario_inprocess import build

    return build(tmp_path_factory.mktemp("waiting") / "scenario", before_dogwood_review=True)


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

# Every <text> of every chart: the corners of its box on the page (its
# getBBox through its transform: a slanted label is a slanted box); the texts
# that leave their SVG; the pairs of texts whose boxes overlap (separating
# axis test on the two quadrilaterals, 0.5 px of tolerance).
LAYOUT = """() => {
  const out = {texts: 0, outside: [], overlaps: []};
  const quad = t => {
    const b = t.getBBox(), m = t.getScreenCTM();
    return [[b.x, b.y], [b.x + b.width, b.y], [b.x + b.width, b.y + b.height],
            [b.x, b.y + b.height]].map(([x, y]) => {
      const p = new DOMPoint(x, y).matrixTransform(m); return [p.x, p.y]; });
  };
  const apart = (a, b) => [a, b].some(q => q.some((p, i) => {
    const r = q[(i + 1) % 4], nx = p[1] - r[1], ny = r[0] - p[0];
    const pa = a.map(c => c[0] * nx + c[1] * ny), pb = b.map(c => c[0] * nx + c[1] * ny);
    const len = Math.hypot(nx, ny) || 1;
    return Math.min(...pa) >= Math.max(...pb) - 0.5 * len ||
           Math.min(...pb) >= Math.max(...pa) - 0.5 * len;
  }));
  for (const svg of document.querySelectorAll('svg.chart')) {
    const box = svg.getBoundingClientRect();
    const texts = Array.from(svg.querySelectorAll('text'));
    const quads = texts.map(quad);
    out.texts += texts.length;
    quads.forEach((q, i) => {
      if (q.some(([x, y]) => x < box.left - 0.5 || x > box.right + 0.5 ||
                              y < box.top - 0.5 || y > box.bottom + 0.5))
        out.outside.push(texts[i].textContent.slice(0, 80));
      for (let j = i + 1; j < quads.length; j++)
        if (!apart(q, quads[j]))
          out.overlaps.push([texts[i].textContent.slice(0, 40),
                             texts[j].textContent.slice(0, 40)]);
    });
  }
  out.scrollWidth = document.documentElement.scrollWidth;
  out.width = window.innerWidth;
  return out;
}"""


def sql(db: Path, statement: str, *args) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(statement, args).fetchall()
    finally:
        conn.close()


def titles(page, selector: str) -> list[str]:
    return page.eval_on_selector_all(
        selector, "els => els.map(e => e.querySelector('title').textContent)")


def assert_laid_out(page) -> int:
    """Every chart text inside its SVG, no two overlapping, the page no
    wider than the window; how many texts were checked."""
    layout = page.evaluate(LAYOUT)
    assert layout["outside"] == []
    assert layout["overlaps"] == []
    assert layout["scrollWidth"] <= layout["width"]
    return layout["texts"]


def test_the_scenario_report_renders(browser, waiting: Path, tmp_path: Path):
    """The December run, Dogwood waiting for review: every figure drawn is
    the database's own (SQL here), and the page is laid out cleanly."""
    (run, as_of), = sql(waiting, "select id, as_of from runs order by as_of desc, id desc "
                                 "limit 1")
    page_file = tmp_path / "report.html"
    adieu("report", "--db", str(waiting), "--html", str(page_file))
    opened = Opened(browser, page_file)
    page = opened.page
    shot = page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    if os.environ.get("ADIEU_UPDATE_SCREENSHOT"):
        SCREENSHOT.write_bytes(shot)
    assert shot[:8] == b"\x89PNG\r\n\x1a\n" and len(shot) > 50_000

    # the review queue: the run's open cases
    open_cases = sql(waiting, "select customer_id from cases where state = 'proposed' and "
                              "opened_run <= ? and latest_run >= ? order by customer_id",
                     run, run)
    assert open_cases == [("CUST-D",)]
    assert page.locator("table.queue td.id").all_inner_texts() == ["CUST-D"]

    # outcomes: the table, and a bar per outcome per run (hover text "as_of: outcome n")
    outcomes = dict(sql(waiting, "select outcome, count(*) from decisions where run_id = ? "
                                 "group by outcome", run))
    shown = dict(row.split("\t")[:2] for row in
                 page.locator("table.outcomes tr").all_inner_texts()[1:])
    assert {o: int(n) for o, n in shown.items() if n != "0"} == outcomes
    per_run = sql(waiting, "select r.as_of, d.outcome, count(*) from decisions d join runs r "
                           "on r.id = d.run_id group by d.run_id, d.outcome")
    assert sorted(titles(page, "svg.runs .mark")) == sorted(f"{a}: {o} {n}"
                                                            for a, o, n in per_run)
    strikes = sql(waiting, "select as_of, new_strikes from runs order by as_of")
    assert titles(page, "svg.line .mark") == [f"{a}: {n}" for a, n in strikes]

    # the scatter: every customer with revenue and staff hours, offboard ones red
    figures = sql(waiting, "select customer_id, outcome = 'offboard' from decisions where "
                           "run_id = ? and facts ->> '$.revenue_12m' is not null and " +
                  " and ".join(f"facts ->> '$.hours_{k}_12m' is not null"
                               for k in ("account_mgmt", "support", "accounting", "marketing")),
                  run)
    red = sorted(t.split(" ")[0] for t in titles(page, "svg.scatter .mark.offboard"))
    blue = sorted(t.split(" ")[0] for t in titles(page, "svg.scatter .mark:not(.offboard)"))
    assert red == sorted(c for c, off in figures if off) == ["CUST-D"]
    assert blue == sorted(c for c, off in figures if not off)
    customers = sql(waiting, "select count(*) from decisions where run_id = ?", run)[0][0]
    assert customers == len(figures)  # the scenario's customers all have both figures
    assert page.locator("figcaption.note").inner_text() == (
        f"Red: all 1 offboard candidate(s) with both figures. Blue: all {len(blue)} other "
        "customer(s) with both figures. Dashed line: cost equals revenue.")

    # segments: a bar per industry, channel, size value of the run (at most 12)
    bars = 0
    for fact in ("industry", "channel", "size"):
        values = sql(waiting, f"select count(distinct facts ->> '$.{fact}') from decisions "
                              "where run_id = ?", run)[0][0]
        chart = page.locator(f'svg.bars[aria-label="Offboards per customer by {fact}"]')
        assert chart.locator(".mark").count() == min(values, 12) > 0, fact
        bars += min(values, 12)

    marks = len(per_run) + len(strikes) + len(figures) + bars
    assert page.locator("svg .mark").count() == marks
    sizes = page.evaluate(MARK_SIZES)
    assert [text for size, text in sizes if size <= 0 and ": 0.0% of " not in text] == []
    svgs = page.locator("svg.chart")
    assert svgs.count() == 6  # scatter, outcomes and strikes over runs, 3 segment charts
    for i in range(svgs.count()):
        painted = svgs.nth(i).evaluate(PAINTED)
        assert painted["ink"] > 2000, i
    assert page.locator("svg.scatter").evaluate(PAINTED)["red"] > 20  # offboard points
    assert assert_laid_out(page) > 60
    assert opened.errors == []
    assert all(url.startswith("file:") for url in opened.requests), opened.requests
    assert as_of == "2026-12-01"


def test_long_names_and_labels_stay_in_their_column(browser, tmp_path: Path):
    """Names and segment values hundreds of characters long (one a single
    word, one in wide characters): cut in the charts and the tables, the
    page no wider than the window, no chart text outside its SVG."""
    page_file = tmp_path / "report.html"
    adieu("report", "--db", str(hostile_db(tmp_path, long=True)), "--html", str(page_file))
    opened = Opened(browser, page_file)
    page = opened.page
    page.screenshot(path=str(tmp_path / "long.png"), full_page=True)
    assert assert_laid_out(page) > 60
    widths = page.eval_on_selector_all("span.cut", "els => els.map(e => e.offsetWidth)")
    assert len(widths) > 10 and max(widths) <= 16 * 16 + 1
    assert page.locator("svg.bars text title").count() >= 3  # cut labels keep their text
    assert opened.errors == []


def test_24_runs_slanted_labels_do_not_overlap(browser, tmp_path: Path):
    """The most runs the history charts show (report.HISTORY_RUNS): their
    slanted date labels stay inside the charts and apart."""
    from click.testing import CliRunner
    from reportdata import POLICY, hostile_csv

    from adieu.cli import cli
    from adieu.report import HISTORY_RUNS

    source, db = hostile_csv(tmp_path / "c.csv", rows=30), tmp_path / "runs.db"
    for i in range(HISTORY_RUNS + 1):
        day = f"{2025 + i // 12}-{i % 12 + 1:02d}-01"
        done = CliRunner().invoke(cli, ["evaluate", str(POLICY), "--source", f"csv:{source}",
                                        "--as-of", day, "--db", str(db), "-q"])
        assert done.exit_code == 0, done.output
    page_file = tmp_path / "report.html"
    adieu("report", "--db", str(db), "--html", str(page_file))
    page = Opened(browser, page_file).page
    assert page.locator("svg.runs text[transform]").count() == HISTORY_RUNS
    assert assert_laid_out(page) > 2 * HISTORY_RUNS


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
    assert_laid_out(page)
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
