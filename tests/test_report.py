"""`adieu report --html`: one self-contained page about a stored run, made
by the installed console script from real runs; its figures checked
against the database (sqlite3) and the CSV read here independently."""

from __future__ import annotations

import csv
import html
import json
import os
import re
import sqlite3
import stat
import zlib
from decimal import Decimal
from pathlib import Path

import pytest
from reportdata import (
    CUSTOMERS,
    LONG_LABELS,
    LONG_NAME,
    MARKUP_INDUSTRY,
    POLICY,
    SCRIPT_NAME,
    adieu,
    hostile_db,
)

from adieu import charts, report
from adieu.store import open_db_readonly

RATES = {"hours_account_mgmt_12m": 85, "hours_support_12m": 45,
         "hours_accounting_12m": 60, "hours_marketing_12m": 70}


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("report") / "adieu.db"
    for day in ("2026-10-01", "2026-11-01"):
        adieu("evaluate", str(POLICY), "--source", f"csv:{CUSTOMERS}", "--as-of", day,
              "--db", str(path), "-q")
    return path


@pytest.fixture(scope="module")
def page(db: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("page") / "report.html"
    result = adieu("report", "--db", str(db), "--html", str(out))
    assert result.stdout == f"wrote {out}: run 2 as of 2026-11-01, 400 customers, " \
        f"{open_cases(db)} open case(s)\n"
    return out.read_text(encoding="utf-8")


def query(db: Path, sql: str, *args) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def open_cases(db: Path) -> int:
    return query(db, "select count(*) from cases where state = 'proposed'")[0][0]


def counts(db: Path, run_id: int) -> dict[str, int]:
    return dict(query(db, "select outcome, count(*) from decisions where run_id = ? "
                          "group by outcome", run_id))


EXTERNAL = re.compile(r"(?i)https?:|//[a-z0-9]|\bsrc\s*=|<script|<link|@import|url\(")


def test_the_page_is_self_contained(page: str):
    assert page.startswith("<!DOCTYPE html>")
    assert EXTERNAL.search(page) is None
    assert page.count("<svg") >= 6  # scatter, runs, strikes, three segment charts


def test_outcome_counts_and_change_from_the_previous_run(db: Path, page: str):
    now, before = counts(db, 2), counts(db, 1)
    assert now != before
    table = page.split('<table class="outcomes">')[1].split("</table>")[0]
    assert "<th class=\"n\">run 1</th>" in table
    for outcome in ("keep", "watch", "warn", "final_notice", "offboard", "exempt", "held"):
        a, b = now.get(outcome, 0), before.get(outcome, 0)
        change = f"{a - b:+,}" if a != b else "0"
        row = re.search(rf"</span>{outcome}</td><td class=\"n\">([^<]*)</td>\s*"
                        r"<td class=\"n\">([^<]*)</td><td class=\"n[^\"]*\">([^<]*)</td>",
                        table)
        assert row is not None, outcome
        assert row.groups() == (f"{a:,}", f"{b:,}", change)


def with_figures(db: Path) -> dict[str, str]:
    """{customer id: outcome} of run 2's customers with revenue and every
    department's hours (the default policy's cost_to_serve needs them),
    read from the CSV and the decisions table."""
    outcome = dict(query(db, "select customer_id, outcome from decisions where run_id = 2"))
    out: dict[str, str] = {}
    with CUSTOMERS.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            cid = row["customer_id"].strip()
            if cid in outcome and cid not in out and row["revenue_12m"] and \
                    all(row[k] for k in RATES):
                out[cid] = outcome[cid]
    return out


def expected_points(db: Path) -> tuple[int, int]:
    """(points, offboard points) of run 2: every customer with both figures."""
    drawable = with_figures(db)
    return len(drawable), sum(o == "offboard" for o in drawable.values())


def caption(page: str) -> str:
    return page.split('<figcaption class="note">')[1].split("</figcaption>")[0]


def test_the_scatter_draws_every_customer_of_a_small_run(db: Path, page: str):
    points, offboard = expected_points(db)
    customers, offboards = query(db, "select count(*), sum(outcome = 'offboard') from "
                                     "decisions where run_id = 2")[0]
    scatter = page.split('<svg class="chart scatter"')[1].split("</svg>")[0]
    assert scatter.count('class="mark point offboard"') == offboard > 0
    assert scatter.count('class="mark point') == points
    assert customers - points > 0
    assert caption(page) == (
        f"Red: all {offboard} offboard candidate(s) with both figures. Blue: all "
        f"{points - offboard} other customer(s) with both figures. Not drawn: "
        f"{customers - points} customer(s) without both revenue and cost to serve "
        f"({offboards - offboard} of them offboard candidates). Dashed line: cost equals "
        "revenue.")
    assert "<text" not in scatter.split("cost to serve</text>")[-1]  # no note in the SVG


def lowest(ids) -> list[str]:
    """Customer ids by (crc32 of the id, id): the order the sample takes them in."""
    return sorted(ids, key=lambda cid: (zlib.crc32(cid.encode("utf-8")), cid))


def drawn_ids(data: dict, offboard: bool) -> list[str]:
    return [p["title"].split(" ")[0] for p in data["points"] if p["offboard"] is offboard]


def test_a_point_is_placed_by_its_figures(db: Path):
    """CUST-0007's revenue and cost to serve, worked out from the CSV."""
    with CUSTOMERS.open(newline="", encoding="utf-8") as f:
        row = next(r for r in csv.DictReader(f) if r["customer_id"] == "CUST-0007")
    cost = sum(Decimal(row[k]) * v for k, v in RATES.items()) + sum(
        Decimal(row[k] or 0) for k in ("returns_cost_12m", "refunds_12m", "discounts_12m",
                                       "acquisition_cost_unrecovered"))
    store = open_db_readonly(str(db))
    data = report.build(store, 2, [])
    point = next(p for p in data["points"] if p["title"].startswith("CUST-0007 "))
    assert point["x"] == Decimal(row["revenue_12m"]) and point["y"] == cost
    assert point["offboard"] is (query(db, "select outcome from decisions where run_id = 2 "
                                           "and customer_id = 'CUST-0007'")[0][0] == "offboard")


def test_a_large_run_draws_all_offboards_and_an_exact_sample(db: Path, monkeypatch):
    """More offboard candidates and others than the sample size: every
    offboard candidate is drawn, exactly SCATTER_SAMPLE others (the lowest
    checksums), and the note counts the whole run."""
    drawable = with_figures(db)
    offboard = [c for c, o in drawable.items() if o == "offboard"]
    others = [c for c, o in drawable.items() if o != "offboard"]
    customers = query(db, "select count(*) from decisions where run_id = 2")[0][0]
    assert len(offboard) > 10
    store = open_db_readonly(str(db))
    monkeypatch.setattr(report, "SCATTER_SAMPLE", 10)
    data = report.build(store, 2, [])
    assert sorted(drawn_ids(data, True)) == sorted(offboard)
    assert drawn_ids(data, False) == lowest(others)[:10]
    assert report.build(store, 2, [])["points"] == data["points"]
    note = report.scatter_note(data["scatter"])
    assert note.startswith(
        f"Red: all {len(offboard)} offboard candidate(s) with both figures. Blue: 10 of the "
        f"{len(others)} other customers with both figures, a fixed sample: ")
    assert f"Not drawn: {customers - len(drawable)} customer(s) without both" in note

    monkeypatch.setattr(report, "OFFBOARD_LIMIT", 5)
    data = report.build(store, 2, [])
    assert drawn_ids(data, True) == lowest(offboard)[:5]
    assert report.scatter_note(data["scatter"]).startswith(
        f"Red: 5 of the {len(offboard)} offboard candidates with both figures (no more "
        "than 5 are drawn: those with the lowest checksum of their customer id). Blue: 10 "
        f"of the {len(others)} other customers")


def test_outcomes_and_strikes_across_runs(db: Path, page: str):
    runs = page.split('<svg class="chart runs"')[1].split("</svg>")[0]
    nonzero = sum(1 for run in (1, 2) for n in counts(db, run).values() if n)
    assert runs.count('class="mark bar') == nonzero
    strikes = page.split('<svg class="chart line"')[1].split("</svg>")[0]
    assert strikes.count('class="mark point"') == 2
    for run in (1, 2):
        n = query(db, "select new_strikes from runs where id = ?", run)[0][0]
        as_of = query(db, "select as_of from runs where id = ?", run)[0][0]
        assert f"<title>{as_of}: {n}</title>" in strikes


def test_the_review_queue_lists_the_open_cases(db: Path, page: str):
    pending = json.loads(adieu("pending", "--db", str(db), "--json").stdout)
    queue = page.split('<table class="queue">')[1].split("</table>")[0]
    ids = re.findall(r'<td class="id">([^<]*)</td>', queue)
    assert sorted(ids) == sorted(p["customer_id"] for p in pending)
    assert f"{len(pending)} offboarding case(s) proposed and awaiting" in page


def test_segment_tables_are_those_of_adieu_segments(db: Path, page: str):
    doc = json.loads(adieu("segments", "--db", str(db), "--json").stdout,
                     parse_float=Decimal)
    tables = page.split('<table class="segments">')[1:]
    assert len(tables) == 3
    for table, fact in zip(tables, ("industry", "channel", "size"), strict=True):
        rows = re.findall(r"<tr><td class=\"segment\"><span class=\"cut\" title=\"[^\"]*\">"
                          r"([^<]*)</span></td><td class=\"n\">([^<]*)</td>"
                          r"<td class=\"n\">([^<]*)</td><td class=\"n\">([^<]*)</td>"
                          r"<td class=\"n\">([^<]*)</td>", table.split("</table>")[0])
        want = [(r["segment"], f"{r['customers']:,}", f"{r['strikes']:,}",
                 str(r["strikes_per_customer"]), f"{r['offboards']:,}")
                for r in doc["segments"] if r["fact"] == fact]
        assert rows == want
    chart = page.split('aria-label="Offboards per customer by industry"')[1].split("</svg>")[0]
    assert chart.count('class="mark bar"') == len({r["segment"] for r in doc["segments"]
                                                   if r["fact"] == "industry"})


def test_by_adds_segments(db: Path, tmp_path: Path):
    out = tmp_path / "r.html"
    adieu("report", "--db", str(db), "--html", str(out), "--by", "late_payments_12m",
          "--run", "1")
    page = out.read_text(encoding="utf-8")
    assert "<h3>By late_payments_12m</h3>" in page
    assert "Run 1 as of 2026-10-01" in page and "No earlier run to compare with." in page


def test_values_from_data_are_escaped(tmp_path: Path):
    db = hostile_db(tmp_path)
    out = tmp_path / "r.html"
    adieu("report", "--db", str(db), "--html", str(out))
    page = out.read_text(encoding="utf-8")
    assert "<script" not in page and "<b>" not in page and "<i>" not in page
    escaped = ("&lt;script&gt;document.title=&#34;owned&#34;&lt;/script&gt; &amp; Sons "
               "&lt;b&gt;Ltd&lt;/b&gt;")
    assert f'<td class="name"><span class="cut" title="{escaped}">{escaped}</span></td>' \
        in page  # the review queue
    assert "&lt;i&gt;media&lt;/i&gt;" in page
    assert SCRIPT_NAME not in page and MARKUP_INDUSTRY not in page



def test_long_labels_are_cut_with_their_full_text_on_hover(tmp_path: Path):
    """A segment value or name of hundreds of characters is cut with an
    ellipsis to its chart's label column (the full text in a <title>), and
    to a fixed width in the tables (the full text in a title attribute)."""
    page_file = tmp_path / "r.html"
    adieu("report", "--db", str(hostile_db(tmp_path, long=True)), "--html", str(page_file))
    page = page_file.read_text(encoding="utf-8")
    chart = page.split('aria-label="Offboards per customer by industry"')[1].split("</svg>")[0]
    labels = re.findall(r'<text x="254" [^>]*>(?:<title>([^<]*)</title>)?([^<]*)</text>', chart)
    cut = {full: shown for full, shown in labels if full}
    assert sorted(cut) == sorted(html.escape(v.strip()) for v in LONG_LABELS.values())
    for full, shown in cut.items():
        assert shown.endswith("\u2026") and full.startswith(html.unescape(shown[:-1]).rstrip()[:5])
        assert charts.text_width(html.unescape(shown)) <= 248
    assert [shown for full, shown in labels if not full and len(shown) > 30] == []
    assert f'<span class="cut" title="{LONG_NAME}">{LONG_NAME}</span>' in page  # queue
    drawn = re.findall(r"<text[^>]*>(?:<title>[^<]*</title>)?([^<]*)</text>", page)
    assert len(drawn) > 50 and max(charts.text_width(html.unescape(t)) for t in drawn) <= 248


@pytest.mark.parametrize("text", ["X" * 5000, "W" * 60, "\u9577" * 100, "a\u0301" * 20,
                                  "retail", "\u202e" * 80])
def test_fit_keeps_a_label_inside_its_width(text: str):
    shown, cut = charts.fit(text, 248)
    assert charts.text_width(shown) <= 248
    assert cut is (shown != text)
    assert not cut or shown.endswith("\u2026")
    assert (shown == text) is (text in ("retail", "a\u0301" * 20))


HIDDEN = "\u202e\u202c\u200b\u2066\u2069\ufeff\u00ad\u2028\x85"


def test_hidden_characters_from_data_are_shown_escaped(tmp_path: Path):
    """Bidi overrides, zero-width and other hidden characters in names,
    owners and segment labels are written as \\u202e ... (as terminal
    output and `adieu brief` show them), in the tables and in the SVG."""
    with CUSTOMERS.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        fields, data = reader.fieldnames, [r for r in reader][:40]
    data[0].update(name="Abc\u202eevil\u202c Gmbh", owner="Zero\u200bWidth\u2066x\u2069",
                   abuse_incidents_12m="1")
    data[1].update(industry="re\u202etail\u00ad\ufeff")
    source = tmp_path / "hidden.csv"
    with source.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(data)
    db = tmp_path / "hidden.db"
    adieu("evaluate", str(POLICY), "--source", f"csv:{source}", "--as-of", "2026-11-01",
          "--db", str(db), "-q")
    out = tmp_path / "r.html"
    adieu("report", "--db", str(db), "--html", str(out))
    page = out.read_text(encoding="utf-8")
    assert [ch for ch in HIDDEN if ch in page] == []
    name = "Abc\\u202eevil\\u202c Gmbh"
    assert f'<td class="name"><span class="cut" title="{name}">{name}</span></td>' in page
    owner = "Zero\\u200bWidth\\u2066x\\u2069"
    assert f'<td class="owner"><span class="cut" title="{owner}">{owner}</span></td>' in page
    industry = "re\\u202etail\\xad\\ufeff"
    assert f'<span class="cut" title="{industry}">{industry}</span></td>' in page  # table
    assert f">{industry}</text>" in page  # the segment chart
    assert "Abc\\u202eevil\\u202c Gmbh: revenue" in page  # the scatter's point title


def test_a_policy_without_cost_to_serve_says_so(tmp_path: Path, policy_file: Path,
                                                customers_csv: Path):
    db = tmp_path / "tiny.db"
    adieu("evaluate", str(policy_file), "--source", f"csv:{customers_csv}", "--as-of",
          "2026-11-01", "--db", str(db), "-q", check=False)
    out = tmp_path / "r.html"
    adieu("report", "--db", str(db), "--html", str(out))
    page = out.read_text(encoding="utf-8")
    assert '<p class="missing-cost">' in page and "has no <code>cost_to_serve</code>" in page
    assert '<svg class="chart scatter"' not in page


def test_errors(db: Path, tmp_path: Path):
    out = adieu("report", "--db", str(db), "--html", str(tmp_path / "r.html"), "--run", "7",
                check=False)
    assert (out.returncode, out.stderr) == (2, "Error: no run 7 in the database\n")
    out = adieu("report", "--db", str(db), "--html", str(tmp_path / "r.html"), "--by",
                "tiers", check=False)
    assert (out.returncode, out.stderr) == (
        2, "Error: --by 'tiers': no such fact or derived fact in run 2 (did you mean "
           "'tier'?)\n")
    out = adieu("report", "--db", str(db), "--html", str(tmp_path), check=False)
    assert out.returncode == 2 and out.stderr == \
        f"Error: {tmp_path}: is a directory, expected a file name for the report\n"
    out = adieu("report", "--db", str(db), "--html", str(tmp_path / "no" / "r.html"),
                check=False)
    assert out.returncode == 2 and "cannot write the report" in out.stderr
    out = adieu("report", "--db", str(db), check=False)
    assert out.returncode == 2 and "Missing option '--html'" in out.stderr
    assert not (tmp_path / "r.html").exists()




def test_the_ops_guide_shows_the_committed_screenshot():
    """The guide's "The report and segments" shows docs/report.png (its
    console blocks are run by tests/test_ops_guide.py)."""
    root = Path(__file__).resolve().parents[1]
    guide = (root / "docs" / "ops-guide.md").read_text(encoding="utf-8")
    section = guide.split("\n## The report and segments\n")[1].split("\n## ")[0]
    assert "](report.png)" in section
    assert (root / "docs" / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_html_to_a_symlink_writes_its_target_and_keeps_the_link(db: Path, tmp_path: Path):
    target = tmp_path / "real.html"
    target.write_text("old", encoding="utf-8")
    link = tmp_path / "link.html"
    link.symlink_to(target)
    out = adieu("report", "--db", str(db), "--html", str(link))
    assert out.stdout.startswith(f"wrote {link}: run 2")
    assert link.is_symlink() and link.readlink() == target
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    dangling = tmp_path / "dangling.html"
    dangling.symlink_to(tmp_path / "new.html")
    adieu("report", "--db", str(db), "--html", str(dangling))
    assert dangling.is_symlink() and (tmp_path / "new.html").read_text(
        encoding="utf-8").startswith("<!DOCTYPE html>")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "dangling.html", "link.html", "new.html", "real.html"]  # no temporary file left


def test_html_refuses_a_link_to_standard_output(db: Path, tmp_path: Path):
    """/dev/stdout is a link to /proc/self/fd/1 (here a pipe): refused, the
    link kept, nothing written to stdout."""
    link = tmp_path / "mystdout"
    link.symlink_to("/proc/self/fd/1")
    out = adieu("report", "--db", str(db), "--html", str(link), check=False)
    assert (out.returncode, out.stdout) == (2, "")
    assert out.stderr == f"Error: {link}: is not a regular file (a FIFO, device or " \
        "socket): the report is written only to a new or a regular file\n"
    assert link.is_symlink() and [p.name for p in tmp_path.iterdir()] == ["mystdout"]


@pytest.mark.parametrize("kind", ["fifo", "fifo-link", "directory", "directory-link"])
def test_html_refuses_what_is_not_a_regular_file(db: Path, tmp_path: Path, kind: str):
    """A FIFO or device (/dev/stdout, /dev/full: not tested here, the tests
    run as root) would be replaced by the renamed page: refused, left as it is."""
    node = tmp_path / "node"
    if kind.startswith("fifo"):
        os.mkfifo(node)
    else:
        node.mkdir()
    path = node
    if kind.endswith("-link"):
        path = tmp_path / "link"
        path.symlink_to(node)
    out = adieu("report", "--db", str(db), "--html", str(path), check=False)
    message = ("is a directory, expected a file name for the report"
               if kind.startswith("directory") else
               "is not a regular file (a FIFO, device or socket): the report is written "
               "only to a new or a regular file")
    assert (out.returncode, out.stdout, out.stderr) == (2, "", f"Error: {path}: {message}\n")
    assert stat.S_ISFIFO(node.lstat().st_mode) if kind.startswith("fifo") else node.is_dir()
    assert not kind.endswith("-link") or path.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["node", "link"] if kind.endswith("-link") else ["node"])
