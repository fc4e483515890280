"""`adieu segments`: per segment of a fact, its customers, strikes and
offboards per customer, on a real run of examples/customers.csv.

The expected figures are computed here independently: the facts from the
CSV read with the csv module, the outcome and strikes of each customer
from the database's decisions view with sqlite3, bands from a plain list
of bounds."""

from __future__ import annotations

import csv
import json
import sqlite3
import subprocess
import sys
from bisect import bisect_right
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest

from adieu.errors import InputError
from adieu.segments import MAX_SEGMENTS, Segmenter, escaped, label_of, number_band

ROOT = Path(__file__).resolve().parents[1]
ADIEU = str(Path(sys.executable).parent / "adieu")
CUSTOMERS = ROOT / "examples" / "customers.csv"
POLICY = ROOT / "policies" / "default.yaml"


def adieu(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    out = subprocess.run([ADIEU, *args], capture_output=True, text=True)
    if check:
        assert out.returncode == 0, out.stderr
    return out


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("segments") / "adieu.db"
    for day in ("2026-10-01", "2026-11-01"):
        adieu("evaluate", str(POLICY), "--source", f"csv:{CUSTOMERS}", "--as-of", day,
              "--db", str(path), "-q")
    return path


def decided(db: Path, run_id: int = 2) -> dict[str, tuple[str, int]]:
    conn = sqlite3.connect(db)
    try:
        return {cid: (outcome, strikes) for cid, outcome, strikes in conn.execute(
            "select customer_id, outcome, strikes from decisions where run_id = ?", [run_id])}
    finally:
        conn.close()


def csv_rows(db: Path) -> list[tuple[dict[str, str], str, int]]:
    """(CSV row, outcome, strikes) of every decided customer (its first row:
    a later duplicate is a reject)."""
    decisions = decided(db)
    seen, out = set(), []
    with CUSTOMERS.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            cid = row["customer_id"].strip()
            if cid in decisions and cid not in seen:
                seen.add(cid)
                out.append((row, *decisions[cid]))
    assert len(out) == len(decisions)
    return out


def expected(rows: list[tuple[dict[str, str], str, int]], label) -> dict[str, dict]:
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for row, outcome, strikes in rows:
        t = tally[label(row)]
        t[0] += 1
        t[1] += strikes
        t[2] += outcome == "offboard"
    return {k: {"customers": c, "strikes": s, "offboards": o,
                "strikes_per_customer": (Decimal(s) / c).quantize(Decimal("0.01")),
                "offboards_per_customer": (Decimal(o) / c).quantize(Decimal("0.0001"))}
            for k, (c, s, o) in tally.items()}


def segments_json(db: Path, *by: str, run: str = "2") -> dict:
    args = [a for name in by for a in ("--by", name)]
    out = adieu("segments", *args, "--run", run, "--db", str(db), "--json")
    return json.loads(out.stdout, parse_float=Decimal)


def as_map(doc: dict, fact: str) -> dict[str, dict]:
    return {r["escaped"] if r["missing"] else r["segment"]:
            {k: r[k] for k in ("customers", "strikes", "offboards",
                                             "strikes_per_customer",
                                             "offboards_per_customer")}
            for r in doc["segments"] if r["fact"] == fact}


# 1, 2, 5 times each power of ten from 0.001 to 10^9, as exact bounds.
BOUNDS = [Decimal(m).scaleb(e) for e in range(-3, 10) for m in (1, 2, 5)]


def band(text: str) -> str:
    value = Decimal(text)
    assert value > 0  # the example's revenues
    i = bisect_right(BOUNDS, value) - 1
    low, high = BOUNDS[i], BOUNDS[i + 1]
    return f"{low:,f} <= x < {high:,f}".replace(".000", "")


@pytest.mark.parametrize("fact", ["industry", "channel", "size"])
def test_text_fact_segments_match_the_csv(db: Path, fact: str):
    rows = csv_rows(db)
    want = expected(rows, lambda r: r[fact] or "(missing)")
    assert as_map(segments_json(db, fact), fact) == want
    assert sum(v["offboards"] for v in want.values()) > 0  # the data has offboards


def test_a_fact_named_twice_is_one_table(db: Path):
    doc = segments_json(db, "size", "size")
    assert doc["by"] == ["size"]
    assert sum(r["customers"] for r in doc["segments"]) == 400


def test_default_segments_are_industry_channel_and_size(db: Path):
    doc = json.loads(adieu("segments", "--db", str(db), "--json").stdout)
    assert doc["by"] == ["industry", "channel", "size"]
    assert doc["run_id"] == 2 and doc["as_of"] == "2026-11-01"
    assert {r["fact"] for r in doc["segments"]} == {"industry", "channel", "size"}


def test_rows_are_sorted_by_offboards_then_strikes_per_customer(db: Path):
    rows = [r for r in segments_json(db, "industry")["segments"]]
    keys = [(-r["offboards_per_customer"], -r["strikes_per_customer"]) for r in rows]
    assert keys == sorted(keys)
    assert rows[0]["offboards_per_customer"] > rows[-1]["offboards_per_customer"]


def test_numbers_are_banded_on_the_1_2_5_ladder(db: Path):
    rows = csv_rows(db)
    want = expected(rows, lambda r: band(r["revenue_12m"]) if r["revenue_12m"] else
                    "(missing)")
    got = as_map(segments_json(db, "revenue_12m"), "revenue_12m")
    assert got == want
    assert "20,000 <= x < 50,000" in got and "(missing)" in got


def test_small_whole_numbers_are_their_own_segments(db: Path):
    rows = csv_rows(db)
    want = expected(rows, lambda r: r["late_payments_12m"] or "(missing)")
    assert as_map(segments_json(db, "late_payments_12m"), "late_payments_12m") == want
    assert {"0", "1", "2", "3", "4"} <= set(want)


def test_dates_by_year_and_booleans(db: Path):
    rows = csv_rows(db)
    doc = segments_json(db, "contract_end", "bad_reputation")
    assert as_map(doc, "contract_end") == expected(
        rows, lambda r: r["contract_end"][:4] if r["contract_end"] else "(missing)")
    assert as_map(doc, "bad_reputation") == expected(
        rows, lambda r: r["bad_reputation"].lower() if r["bad_reputation"] else "(missing)")


def test_a_derived_fact_of_the_run_policy(db: Path):
    """cost_ratio = cost_to_serve / revenue_12m, as the default policy derives it."""
    rates = {"hours_account_mgmt_12m": 85, "hours_support_12m": 45,
             "hours_accounting_12m": 60, "hours_marketing_12m": 70}
    direct = ("returns_cost_12m", "refunds_12m", "discounts_12m",
              "acquisition_cost_unrecovered")

    def label(r: dict[str, str]) -> str:
        if not r["revenue_12m"] or Decimal(r["revenue_12m"]) == 0 or \
                any(not r[k] for k in rates):
            return "(unknown)"
        cost = sum(Decimal(r[k]) * v for k, v in rates.items()) + \
            sum(Decimal(r[k] or 0) for k in direct)
        return band(str(cost / Decimal(r["revenue_12m"])))

    assert as_map(segments_json(db, "cost_ratio"), "cost_ratio") == \
        expected(csv_rows(db), label)


def test_an_earlier_run(db: Path):
    rows = csv_rows(db)
    first = decided(db, 1)
    assert first != decided(db, 2)  # the ladder moved between the runs
    rows1 = [(r, *first[r["customer_id"].strip()]) for r, _, _ in rows]
    assert as_map(segments_json(db, "size", run="1"), "size") == \
        expected(rows1, lambda r: r["size"])


def test_csv_output_has_the_json_figures(db: Path):
    out = adieu("segments", "--by", "size", "--db", str(db), "--csv").stdout
    got = list(csv.DictReader(out.splitlines()))
    doc = segments_json(db, "size")
    assert [list(r) for r in got][0] == ["fact", "segment", "missing", "customers", "strikes",
                                         "strikes_per_customer", "offboards",
                                         "offboards_per_customer", "escaped"]
    assert [{k: "" if v is None else str(v).lower() if isinstance(v, bool) else str(v)
             for k, v in r.items()} for r in doc["segments"]] == got


def test_text_table(db: Path):
    doc = segments_json(db, "size")
    out = adieu("segments", "--by", "size", "--db", str(db)).stdout.splitlines()
    assert out[0] == "run 2 as of 2026-11-01: 400 customers"
    assert out[1] == ""
    assert out[2].split() == ["size", "customers", "strikes", "per", "customer",
                              "offboards", "per", "customer"]
    for line, r in zip(out[3:], doc["segments"], strict=True):
        pct = (r["offboards_per_customer"] * 100).quantize(Decimal("0.1"))
        assert line.split() == [r["segment"], f"{r['customers']:,}", f"{r['strikes']:,}",
                                str(r["strikes_per_customer"]), str(r["offboards"]),
                                f"{pct}%"]


def test_unknown_fact_is_a_usage_error_with_a_suggestion(db: Path):
    out = adieu("segments", "--by", "revenue", "--db", str(db), check=False)
    assert out.returncode == 2
    assert out.stderr == ("Error: --by 'revenue': no such fact or derived fact in run 2 "
                          "(did you mean 'revenue_12m'?)\n")


def test_missing_run_and_missing_database(db: Path, tmp_path: Path):
    out = adieu("segments", "--run", "9", "--db", str(db), check=False)
    assert (out.returncode, out.stderr) == (2, "Error: no run 9 in the database\n")
    out = adieu("segments", "--db", str(tmp_path / "none.db"), check=False)
    assert out.returncode == 2
    assert out.stderr.startswith("Error: ") and "no database at" in out.stderr
    out = adieu("segments", "--db", str(db), "--json", "--csv", check=False)
    assert out.returncode == 2 and "give --json or --csv, not both" in out.stderr


def test_hidden_characters_in_values_never_reach_the_terminal(tmp_path: Path):
    """A source may carry a right-to-left override (U+202E) in a value (the
    adapters refuse control characters): the text table shows it escaped,
    JSON keeps the value."""
    data = tmp_path / "c.csv"
    data.write_text("customer_id,industry,revenue_12m\nA,evil\u202ered,100\n"
                    "B,plain,200\n", encoding="utf-8")
    policy = tmp_path / "p.yaml"
    policy.write_text('version: "1"\nname: p\nrules:\n  - id: big\n    title: Big\n'
                      '    when: revenue_12m > 150\n    action: flag\n    severity: low\n'
                      '    explain: big\n', encoding="utf-8")
    db = tmp_path / "a.db"
    adieu("evaluate", str(policy), "--source", f"csv:{data}", "--as-of", "2026-11-01",
          "--db", str(db), "-q")
    out = adieu("segments", "--by", "industry", "--db", str(db)).stdout
    assert "\u202e" not in out
    assert "\nevil\\u202ered " in out
    doc = json.loads(adieu("segments", "--by", "industry", "--db", str(db), "--json").stdout)
    assert {r["segment"] for r in doc["segments"]} == {"evil\u202ered", "plain"}


@pytest.mark.parametrize(("value", "label"), [
    (Decimal("20000"), "20,000 <= x < 50,000"),
    (Decimal("19999.99"), "10,000 <= x < 20,000"),
    (Decimal("50000"), "50,000 <= x < 100,000"),
    (Decimal("0.05"), "0.05 <= x < 0.1"),
    (Decimal("0.1999"), "0.1 <= x < 0.2"),
    (12, "10 <= x < 20"),
    (Decimal("-1500"), "-2,000 < x <= -1,000"),
    (Decimal("-1000"), "-2,000 < x <= -1,000"),
    (Decimal("1E+6"), "1,000,000 <= x < 2,000,000"),
])
def test_band_bounds_are_exact(value, label):
    assert number_band(value)[1] == label


@pytest.mark.parametrize(("value", "label"), [
    (0, "0"), (-3, "-3"), (9, "9"), (10, "10 <= x < 20"), (Decimal("0"), "0"),
    (True, "true"), (None, "(missing)"), ("retail", "retail"),
])
def test_labels(value, label):
    assert label_of(value)[1] == label


def test_a_number_fact_is_always_banded():
    """revenue_12m of 5 (type number) is in the band of 5.5, not a segment "5"."""
    assert label_of(5, "number")[1] == label_of(Decimal("5.5"), "number")[1] == \
        "5 <= x < 10"
    assert label_of(5, "integer")[1] == "5"


def test_a_fact_with_too_many_values_is_refused():
    seg = Segmenter(["name"])
    for i in range(MAX_SEGMENTS):
        seg.add(lambda _n, i=i: f"customer {i}", "keep", 0)
    with pytest.raises(InputError, match="'name' has more than 1,000 distinct values"):
        seg.add(lambda _n: "one more", "keep", 0)


def _small_run(tmp_path: Path, allow_missing: bool = False) -> Path:
    """A run of three customers over a policy that uses revenue_12m and
    late_payments_12m; the source has industry and orders_12m (empty for
    C) and no late_payments_12m column."""
    data = tmp_path / "c.csv"
    data.write_text("customer_id,industry,revenue_12m,orders_12m\nA,retail,100,3\n"
                    "B,retail,200,4\nC,media,300,\n", encoding="utf-8")
    policy = tmp_path / "p.yaml"
    policy.write_text('version: "1"\nname: p\nrules:\n  - id: big\n    title: Big\n'
                      '    when: revenue_12m > 150 or late_payments_12m > 3\n'
                      '    action: flag\n    severity: low\n    explain: big\n',
                      encoding="utf-8")
    db = tmp_path / "a.db"
    adieu("evaluate", str(policy), "--source", f"csv:{data}", "--as-of", "2026-11-01",
          "--db", str(db), "-q", "--allow-missing-facts")
    return db


FACTS_OF_SMALL_RUN = ("(its facts: contract_end, customer_id, industry, late_payments_12m, "
                      "orders_12m, revenue_12m)")


@pytest.mark.parametrize("command", [["segments"], ["report", "--html", "r.html"]])
def test_a_canonical_fact_the_run_never_had_is_an_error(tmp_path: Path, command: list[str]):
    """bad_reputation is a canonical fact, but no decision of the run stores
    it and the policy does not use it: an error naming the run's facts (not
    a table where every customer is "(missing)")."""
    db = _small_run(tmp_path)
    command = [c if c != "r.html" else str(tmp_path / c) for c in command]
    out = adieu(*command, "--by", "bad_reputation", "--db", str(db), check=False)
    assert (out.returncode, out.stdout) == (2, "")
    assert out.stderr == ("Error: --by 'bad_reputation': no fact of run 1: no decision of the "
                          "run stores it and its policy does not use it "
                          f"{FACTS_OF_SMALL_RUN}\n")
    assert not (tmp_path / "r.html").exists()


def test_a_typo_without_a_near_name_lists_the_run_facts(tmp_path: Path):
    db = _small_run(tmp_path)
    out = adieu("segments", "--by", "zzz", "--db", str(db), check=False)
    assert (out.returncode, out.stderr) == (
        2, f"Error: --by 'zzz': no such fact or derived fact in run 1 {FACTS_OF_SMALL_RUN}\n")


def test_facts_some_customers_lack_or_the_policy_uses_are_missing_segments(tmp_path: Path):
    """orders_12m: stored for A and B, empty for C -> a "(missing)" segment
    of one; late_payments_12m: the policy uses it, the source has no column
    (allowed to be missing) -> every customer "(missing)"."""
    db = _small_run(tmp_path)
    doc = json.loads(adieu("segments", "--by", "orders_12m", "--by", "late_payments_12m",
                           "--db", str(db), "--json").stdout)
    got = {(r["fact"], r["segment"], r["missing"], r["escaped"]): r["customers"]
           for r in doc["segments"]}
    assert got == {("orders_12m", "3", False, None): 1, ("orders_12m", "4", False, None): 1,
                   ("orders_12m", None, True, "(missing)"): 1,
                   ("late_payments_12m", None, True, "(missing)"): 3}


def test_a_run_stored_before_fact_keys_reads_its_facts_from_its_decisions(tmp_path: Path):
    """The old-layout fixture (runs.fact_keys NULL): owner_id is in none of
    its decisions' facts, orders_12m in all of them."""
    db = tmp_path / "old.db"
    db.write_bytes((ROOT / "tests" / "fixtures" / "main-m007.db").read_bytes())
    out = adieu("segments", "--by", "owner_id", "--db", str(db), check=False)
    assert out.returncode == 2
    assert out.stderr.startswith("Error: --by 'owner_id': no fact of run 2: no decision of "
                                 "the run stores it and its policy does not use it (its "
                                 "facts: abuse_incidents_12m, ")
    doc = json.loads(adieu("segments", "--by", "orders_12m", "--db", str(db), "--json").stdout)
    assert sum(r["customers"] for r in doc["segments"]) == 79
    assert not any(r["missing"] for r in doc["segments"])


@pytest.mark.parametrize(("label", "shown"), [
    ("retail", None), ("Retail", None), ("Café", None), ("10 m\u00b2", None),
    ("розница", None),  # a word of another script, with letters that look like nothing Latin
    ("reta\u0456l", "reta\\u0456l"),  # Cyrillic і among Latin letters
    ("C\u0430fé", "C\\u0430fé"),  # Cyrillic а beside an accented Latin letter
    ("\u0440\u0435\u0442\u0430\u0456\u04cf", "\\u0440\\u0435\\u0442\\u0430\\u0456\\u04cf"),
    ("\uff52\uff45\uff54\uff41\uff49\uff4c", "\\uff52\\uff45\\uff54\\uff41\\uff49\\uff4c"),
    ("\U0001d42btail", "\\U0001d42btail"),  # mathematical bold r
    ("re\u200btail", "re\\u200btail"),  # a zero-width space
    ("ret\u0430\u200bil", "ret\\u0430\\u200bil"),
    # a backslash typed in the value is doubled, so it never reads as an escape
    ("a\\u0456b", "a\\\\u0456b"), ("a\u0456b", "a\\u0456b"), ("x\\y", "x\\\\y"),
    ("a\\u0456b\u200b", "a\\\\u0456b\\u200b"),
    # a value spelt like a marker is preceded by a backslash
    ("(missing)", "\\(missing)"), ("(unknown)", "\\(unknown)"),
    ("\\(missing)", "\\\\(missing)"), ("(missing) x", None),
])
def test_escaped_labels(label: str, shown: str | None):
    assert escaped(label) == shown


def test_look_alike_values_are_segments_of_their_own_shown_escaped(tmp_path: Path):
    """Values that read "retail" but hold a Cyrillic letter, full-width
    letters or a zero-width space are not merged with "retail" (the data
    problem stays visible) but shown escaped in the text table, the
    report and the `escaped` field of JSON and CSV."""
    values = ["retail", "retail", "reta\u0456l", "\uff52\uff45\uff54\uff41\uff49\uff4c",
              "re\u200btail", "Café"]
    data = tmp_path / "c.csv"
    data.write_text("customer_id,industry,revenue_12m\n" + "".join(
        f"C{i},{v},{100 * (i + 1)}\n" for i, v in enumerate(values)), encoding="utf-8")
    policy = tmp_path / "p.yaml"
    policy.write_text('version: "1"\nname: p\nrules:\n  - id: big\n    title: Big\n'
                      '    when: revenue_12m > 150\n    action: flag\n    severity: low\n'
                      '    explain: big\n', encoding="utf-8")
    db = tmp_path / "a.db"
    adieu("evaluate", str(policy), "--source", f"csv:{data}", "--as-of", "2026-11-01",
          "--db", str(db), "-q")
    want = {"retail": (2, None), "reta\u0456l": (1, "reta\\u0456l"),
            "\uff52\uff45\uff54\uff41\uff49\uff4c":
                (1, "\\uff52\\uff45\\uff54\\uff41\\uff49\\uff4c"),
            "re\u200btail": (1, "re\\u200btail"), "Café": (1, None)}
    doc = json.loads(adieu("segments", "--by", "industry", "--db", str(db), "--json").stdout)
    assert {r["segment"]: (r["customers"], r["escaped"]) for r in doc["segments"]} == want
    rows = list(csv.DictReader(adieu("segments", "--by", "industry", "--db", str(db),
                                     "--csv").stdout.splitlines()))
    assert {r["segment"]: (int(r["customers"]), r["escaped"] or None) for r in rows} == want
    text = adieu("segments", "--by", "industry", "--db", str(db)).stdout.splitlines()
    shown = {line.split()[0]: int(line.split()[1]) for line in text[3:-1]}
    assert shown == {"retail": 2, "reta\\u0456l": 1, "re\\u200btail": 1, "Café": 1,
                     "\\uff52\\uff45\\uff54\\uff41\\uff49\\uff4c": 1}
    assert text[-1] == ("note: \\u escapes in 3 segment(s) mark letters of other scripts "
                        "that look like Latin ones, or characters that do not show: a data "
                        "problem to fix in the source")
    header = text[2]
    assert all(len(line) <= len(header) + 1 for line in text[3:-1])  # columns line up
    page = tmp_path / "r.html"
    adieu("report", "--db", str(db), "--html", str(page), "--by", "industry")
    html = page.read_text(encoding="utf-8")
    for label in ("reta\\u0456l", "re\\u200btail"):
        assert f'<span class="cut" title="{label}">{label}</span>' in html
    assert "reta\u0456l" not in html and "\uff52" not in html
    assert "\\u escapes in 3 segment(s) mark letters" in html


def test_a_value_spelt_like_a_marker_is_not_merged_with_missing(tmp_path: Path):
    """Issue 11, RA6: two customers whose industry is the text "(missing)"
    and one without an industry were one segment of 3 in the table, JSON
    and CSV. A typed backslash sequence (a\\u0456b) printed exactly as the
    escaped look-alike (a\u0456b, Cyrillic i)."""
    values = ["(missing)", "(missing)", "", "a\\u0456b", "a\u0456b", "retail"]
    data = tmp_path / "c.csv"
    data.write_text("customer_id,industry,revenue_12m\n" + "".join(
        f"C{i},{v},{100 * (i + 1)}\n" for i, v in enumerate(values)), encoding="utf-8")
    policy = tmp_path / "p.yaml"
    policy.write_text('version: "1"\nname: p\nallow_missing_facts: [industry]\nrules:\n'
                      '  - id: big\n    title: Big\n    when: revenue_12m > 150\n'
                      '    action: flag\n    severity: low\n    explain: big\n',
                      encoding="utf-8")
    db = tmp_path / "a.db"
    adieu("evaluate", str(policy), "--source", f"csv:{data}", "--as-of", "2026-11-01",
          "--db", str(db), "-q")
    want = {("(missing)", False, "\\(missing)"): 2, (None, True, "(missing)"): 1,
            ("a\\u0456b", False, "a\\\\u0456b"): 1, ("a\u0456b", False, "a\\u0456b"): 1,
            ("retail", False, None): 1}
    doc = json.loads(adieu("segments", "--by", "industry", "--db", str(db), "--json").stdout)
    assert {(r["segment"], r["missing"], r["escaped"]): r["customers"]
            for r in doc["segments"]} == want
    rows = list(csv.DictReader(adieu("segments", "--by", "industry", "--db", str(db),
                                     "--csv").stdout.splitlines()))
    assert {(r["segment"] or None, r["missing"] == "true", r["escaped"] or None):
            int(r["customers"]) for r in rows} == want
    assert {r["missing"] for r in rows} == {"true", "false"}
    text = adieu("segments", "--by", "industry", "--db", str(db)).stdout.splitlines()
    shown = sorted((line.split()[0], int(line.split()[1])) for line in text[3:-1])
    assert shown == sorted([("\\(missing)", 2), ("(missing)", 1), ("a\\\\u0456b", 1),
                            ("a\\u0456b", 1), ("retail", 1)])
    assert text[-1].startswith("note: \\u escapes in 1 segment(s) mark")
