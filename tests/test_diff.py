"""adieu diff, both forms, end to end through the installed console script:
two policies over examples/customers.csv (expected customers computed from
the CSV itself), memory from a database (read-only: the file's bytes and
the audit head are the same afterwards), two stored runs, and hostile
input."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ADIEU = str(Path(sys.executable).with_name("adieu"))
DEFAULT = REPO / "policies" / "default.yaml"
CUSTOMERS = REPO / "examples" / "customers.csv"
SOURCE = f"csv:{CUSTOMERS}"
AS_OF = "2026-11-01"


def adieu(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The command in cwd (default: the test's empty directory, no ./adieu.db)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADIEU_")}
    return subprocess.run([ADIEU, *args], capture_output=True, text=True, env=env,
                          cwd=cwd, check=False)


def rows() -> list[dict[str, str]]:
    with open(CUSTOMERS, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def variant(tmp_path: Path, name: str, old: str, new: str) -> Path:
    text = DEFAULT.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path = tmp_path / name
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


def diff_json(*args: str) -> dict:
    done = adieu("diff", *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def old_outcomes(policy: Path = DEFAULT) -> dict[str, str]:
    """Each customer's outcome under policy with no memory (a dry run)."""
    done = adieu("evaluate", str(policy), "--source", SOURCE, "--as-of", AS_OF, "--dry-run",
                 "--json", "-q", "--db", "/nonexistent/none.db")
    assert done.returncode == 0, done.stderr
    return {d["customer_id"]: d["outcome"] for d in json.loads(done.stdout)["decisions"]}


@pytest.fixture(autouse=True)
def in_empty_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands run in an empty directory: no ./adieu.db to find."""
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")


@pytest.fixture
def limit2(tmp_path: Path) -> Path:
    return variant(tmp_path, "limit2.yaml", "late_payment_limit: 3", "late_payment_limit: 2")


def test_late_payment_limit_3_to_2_moves_exactly_the_customers_with_two(limit2: Path) -> None:
    d = diff_json(str(DEFAULT), str(limit2), "--source", SOURCE, "--as-of", AS_OF)
    # From the CSV alone: the rule now fires for late_payments_12m == 2
    # (>= 3 fired before too), one strike more each.
    expected = {r["customer_id"] for r in rows() if r["late_payments_12m"] == "2"}
    assert len(expected) == 31
    assert {m["customer_id"] for m in d["moved"]} == expected
    assert d["policy_change"]["params"] == {"late_payment_limit": [3, 2]}
    assert sum(t["customers"] for t in d["transitions"]) == 31
    for m in d["moved"]:
        assert m["new_strikes"] == m["old_strikes"] + 1
        assert [r["rule"] for r in m["rules"]] == ["late-payments"]
        r = m["rules"][0]
        assert (r["old_status"], r["new_status"]) == ("passed", "fired")
        assert r["causes"] == ["param late_payment_limit: 3 -> 2"]
        assert r["old_figures"] == {"late_payment_limit": 3, "late_payments_12m": 2}
        assert r["new_figures"] == {"late_payment_limit": 2, "late_payments_12m": 2}
    # every customer is compared; nobody is on one side only
    assert d["customers"] == len(old_outcomes())
    assert d["only_old"] == [] and d["only_new"] == []


def test_text_output_names_the_change_matrix_and_each_customer(limit2: Path) -> None:
    done = adieu("diff", str(DEFAULT), str(limit2), "--source", SOURCE, "--as-of", AS_OF)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "  param late_payment_limit: 3 -> 2\n" in out
    assert "  keep -> warn: 24\n" in out
    assert "memory: none (no database)" in out
    assert ("  CUST-0025: keep -> warn (strikes 0 -> 1)\n"
            "    late-payments: passed -> fired because param late_payment_limit: 3 -> 2\n"
            "      old: late_payment_limit = 3, late_payments_12m = 2\n"
            "      new: late_payment_limit = 2, late_payments_12m = 2\n") in out
    assert done.stderr == ""


def test_csv_has_one_row_per_moved_customer(limit2: Path) -> None:
    done = adieu("diff", str(DEFAULT), str(limit2), "--source", SOURCE, "--as-of", AS_OF,
                 "--csv")
    assert done.returncode == 0, done.stderr
    table = list(csv.DictReader(io.StringIO(done.stdout)))
    assert list(table[0]) == ["customer_id", "old_outcome", "new_outcome", "old_strikes",
                              "new_strikes", "rules", "causes", "other", "old_figures",
                              "new_figures", "old_effective_date", "new_effective_date",
                              "old_phase_out_start", "new_phase_out_start", "old_referrals",
                              "new_referrals", "old_base_outcome", "new_base_outcome"]
    assert {r["customer_id"] for r in table} == \
        {r["customer_id"] for r in rows() if r["late_payments_12m"] == "2"}
    first = table[0]
    assert json.loads(first["rules"]) == ["late-payments"]
    assert json.loads(first["causes"]) == ["param late_payment_limit: 3 -> 2"]
    assert json.loads(first["new_figures"])["late-payments"]["late_payment_limit"] == 2


def test_identical_policies_move_nobody(tmp_path: Path) -> None:
    same = tmp_path / "same.yaml"
    # a comment and blank lines are no policy change
    same.write_text("# a copy\n\n" + DEFAULT.read_text(encoding="utf-8"), encoding="utf-8")
    d = diff_json(str(DEFAULT), str(same), "--source", SOURCE, "--as-of", AS_OF)
    assert d["moved"] == [] and d["transitions"] == []
    assert all(not v for v in d["policy_change"].values())
    assert sum(d["unchanged"].values()) == d["customers"] == len(old_outcomes())
    done = adieu("diff", str(DEFAULT), str(same), "--source", SOURCE, "--as-of", AS_OF)
    assert "Policy change: none\n" in done.stdout
    assert "  no customer moved\n" in done.stdout


def test_a_changed_rule_condition(tmp_path: Path) -> None:
    new = variant(tmp_path, "complaints.yaml", "when: complaint_incidents_12m >= complaint_limit",
                  "when: complaint_incidents_12m >= 2")
    d = diff_json(str(DEFAULT), str(new), "--source", SOURCE, "--as-of", AS_OF)
    assert d["policy_change"]["rules"] == {"staff-complaints": ["when"]}
    two = {r["customer_id"] for r in rows() if r["complaint_incidents_12m"] == "2"}
    old = old_outcomes()
    # a flag raises keep to watch and nothing else
    assert {m["customer_id"] for m in d["moved"]} == {c for c in two if old[c] == "keep"}
    assert {(t["from"], t["to"]) for t in d["transitions"]} == {("keep", "watch")}
    for m in d["moved"]:
        (r,) = m["rules"]
        assert r["rule"] == "staff-complaints" and r["new_status"] == "fired"
        assert r["causes"] == ["rule staff-complaints: when changed"]
        assert r["new_figures"]["complaint_incidents_12m"] == 2


def test_an_added_and_a_removed_rule(tmp_path: Path) -> None:
    added = variant(tmp_path, "added.yaml", "  # --- Fit ---", """  - id: turnover-at-once
    title: Staff turnover offboards at once
    when: staff_turnover_incidents >= 1
    action: offboard
    severity: critical

  # --- Fit ---""")
    d = diff_json(str(DEFAULT), str(added), "--source", SOURCE, "--as-of", AS_OF)
    assert d["policy_change"]["rules"] == {"turnover-at-once": "added"}
    turnover = {r["customer_id"] for r in rows() if r["staff_turnover_incidents"] != "0"}
    old = old_outcomes()
    assert {m["customer_id"] for m in d["moved"]} == \
        {c for c in turnover if old[c] != "offboard"}
    assert d["moved"]
    for m in d["moved"]:
        assert m["new_outcome"] == "offboard"
        assert {"rule": "turnover-at-once", "old_status": "absent", "new_status": "fired"} \
            .items() <= m["rules"][0].items()
        assert m["rules"][0]["causes"] == ["rule turnover-at-once: added"]

    # the other way round: the rule removed
    back = diff_json(str(added), str(DEFAULT), "--source", SOURCE, "--as-of", AS_OF)
    assert back["policy_change"]["rules"] == {"turnover-at-once": "removed"}
    assert {m["customer_id"] for m in back["moved"]} == {m["customer_id"] for m in d["moved"]}
    for m in back["moved"]:
        assert m["rules"][0]["new_status"] == "absent"
        assert m["rules"][0]["causes"] == ["rule turnover-at-once: removed"]


def test_a_ladder_change_is_named_for_customers_whose_rules_did_not_change(
        tmp_path: Path) -> None:
    new = variant(tmp_path, "ladder.yaml", "    offboard: 3", "    offboard: 2")
    d = diff_json(str(DEFAULT), str(new), "--source", SOURCE, "--as-of", AS_OF)
    assert d["policy_change"]["strikes"] == {"offboard": [3, 2]}
    assert d["moved"]
    for m in d["moved"]:
        assert m["rules"] == []
        assert "strikes.offboard: 3 -> 2" in m["other"]
        assert m["old_strikes"] == m["new_strikes"] == 2
        assert m["old_outcome"] == "final_notice" and m["new_outcome"] in {"offboard", "held"}


def _fingerprint(db: Path) -> tuple[str, list[str], str]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        head = conn.execute("select hash from audit order by seq desc limit 1").fetchone()[0]
    finally:
        conn.close()
    files = sorted(p.name for p in db.parent.iterdir() if p.name.startswith(db.name))
    return hashlib.sha256(db.read_bytes()).hexdigest(), files, head


def test_memory_from_a_database_changes_the_answer_and_nothing_is_written(
        tmp_path: Path, limit2: Path) -> None:
    db = tmp_path / "adieu.db"
    # October under the new limit records a late-payments strike for every
    # customer with two late payments or more.
    done = adieu("evaluate", str(limit2), "--source", SOURCE, "--as-of", "2026-10-01",
                 "--db", str(db), "-q")
    assert done.returncode == 0, done.stderr
    conn = sqlite3.connect(db)
    struck = {r[0] for r in conn.execute("select customer_id from strikes where rule = ?",
                                         ["late-payments"])}
    conn.close()
    decided = old_outcomes()  # once: the customers decided (rejected rows are not)
    assert struck == {r["customer_id"] for r in rows()
                      if r["late_payments_12m"] not in ("", "0", "1")
                      and r["customer_id"] in decided}
    before = _fingerprint(db)
    when = "2026-12-01"  # past the 30-day cooldown: firing again is a new strike
    without = diff_json(str(DEFAULT), str(limit2), "--source", SOURCE, "--as-of", when)
    with_db = diff_json(str(DEFAULT), str(limit2), "--source", SOURCE, "--as-of", when,
                        "--db", str(db))
    assert _fingerprint(db) == before
    assert with_db["memory"] == str(db) and without["memory"] is None
    two = {r["customer_id"] for r in rows() if r["late_payments_12m"] == "2"}
    a = {m["customer_id"]: m for m in without["moved"]}
    b = {m["customer_id"]: m for m in with_db["moved"]}
    assert set(a) == two
    for cid in two & set(b):  # October's strike counts on both sides
        assert b[cid]["old_strikes"] == a[cid]["old_strikes"] + 1
        assert b[cid]["new_strikes"] == a[cid]["new_strikes"] + 1
    assert with_db["transitions"] != without["transitions"]
    # and the text says which database's memory was used
    text = adieu("diff", str(DEFAULT), str(limit2), "--source", SOURCE, "--as-of", when,
                 "--db", str(db))
    assert f"memory: {db}\n" in text.stdout
    # without --db, ./adieu.db is the memory where there is one
    here = adieu("diff", str(DEFAULT), str(limit2), "--source", SOURCE, "--as-of", when,
                 "--json", cwd=db.parent)
    assert json.loads(here.stdout)["moved"] == with_db["moved"]
    assert json.loads(here.stdout)["memory"] == "adieu.db"
    assert _fingerprint(db) == before


@pytest.fixture
def two_runs(tmp_path: Path, limit2: Path) -> Path:
    db = tmp_path / "runs.db"
    short = tmp_path / "short.csv"
    lines = CUSTOMERS.read_text(encoding="utf-8").splitlines(keepends=True)
    short.write_text("".join(lines[:-2]), encoding="utf-8")  # the last two rows dropped
    for policy, source, as_of in ((DEFAULT, SOURCE, "2026-10-01"),
                                  (limit2, f"csv:{short}", "2026-11-01")):
        done = adieu("evaluate", str(policy), "--source", source, "--as-of", as_of,
                     "--db", str(db), "-q")
        assert done.returncode == 0, done.stderr
    return db


def test_two_stored_runs(two_runs: Path) -> None:
    before = _fingerprint(two_runs)
    d = diff_json("--run", "1", "--run", "2", "--db", str(two_runs))
    assert _fingerprint(two_runs) == before
    assert d["old"]["run_id"] == 1 and d["new"]["run_id"] == 2
    assert d["policy_change"]["params"] == {"late_payment_limit": [3, 2]}
    dropped = [r["customer_id"] for r in rows()[-2:]]
    assert d["only_old"] == dropped and d["only_new"] == []
    moved = {m["customer_id"]: m for m in d["moved"]}
    late2 = {r["customer_id"] for r in rows()[:-2] if r["late_payments_12m"] == "2"}
    for cid in late2 & set(moved):
        (r,) = [r for r in moved[cid]["rules"] if r["rule"] == "late-payments"]
        assert (r["old_status"], r["new_status"]) == ("passed", "fired")
        assert r["causes"] == ["param late_payment_limit: 3 -> 2"]
        # not stored for a rule that passed: computed from the stored facts
        assert r["old_figures"] == {"late_payment_limit": 3, "late_payments_12m": 2}
        assert r["new_figures"] == {"late_payment_limit": 2, "late_payments_12m": 2}
    assert late2 <= set(moved)
    text = adieu("diff", "--run", "1", "--run", "2", "--db", str(two_runs)).stdout
    assert "Old: run 1 (as of 2026-10-01)" in text
    assert f"only in the old decisions: 2 ({', '.join(dropped)})" in text


def test_the_same_run_twice_or_a_missing_run_is_exit_2(two_runs: Path) -> None:
    same = adieu("diff", "--run", "2", "--run", "2", "--db", str(two_runs))
    assert same.returncode == 2 and "--run 2 given twice" in same.stderr
    missing = adieu("diff", "--run", "1", "--run", "9", "--db", str(two_runs))
    assert missing.returncode == 2 and "no run 9 in the database" in missing.stderr
    one = adieu("diff", "--run", "1", "--db", str(two_runs))
    assert one.returncode == 2 and "give --run twice" in one.stderr
    mixed = adieu("diff", str(DEFAULT), "--run", "1", "--run", "2", "--db", str(two_runs))
    assert mixed.returncode == 2 and "compares stored runs" in mixed.stderr


def test_an_invalid_policy_is_exit_1_with_its_errors(tmp_path: Path) -> None:
    bad = variant(tmp_path, "bad.yaml", "when: late_payments_12m >= late_payment_limit",
                  "when: late_payments_12m >= late_payment_limt")
    done = adieu("diff", str(DEFAULT), str(bad), "--source", SOURCE, "--as-of", AS_OF)
    assert done.returncode == 1
    assert done.stdout == ""
    first = done.stderr.splitlines()[0]
    assert first.startswith(f"{bad}:") and "late_payment_limt" in first
    assert "late_payment_limit" in first  # did you mean


def test_bad_input_is_exit_2(tmp_path: Path, limit2: Path) -> None:
    cases = [
        (["--source", f"csv:{tmp_path / 'nope.csv'}"], "nope.csv"),
        (["--source", "xls:customers.xls"], "unknown source kind 'xls'"),
        (["--source", "csv:-"], "standard input"),
        (["--source", SOURCE, "--db", str(tmp_path / "missing.db")], "no database at"),
        (["--source", SOURCE, "--as-of", "2026-13-01"], "not a date"),
        ([], "missing option --source"),
        (["--source", SOURCE, "--json", "--csv"], "choose one of --json and --csv"),
    ]
    for extra, words in cases:
        done = adieu("diff", str(DEFAULT), str(limit2), *extra)
        assert done.returncode == 2, (extra, done.stderr)
        assert words in done.stderr, (extra, done.stderr)
        assert done.stdout == ""
    unreadable = adieu("diff", str(DEFAULT), str(tmp_path / "gone.yaml"), "--source", SOURCE)
    assert unreadable.returncode == 2 and "gone.yaml" in unreadable.stderr
    not_db = tmp_path / "not.db"
    not_db.write_text("hello", encoding="utf-8")
    done = adieu("diff", "--run", "1", "--run", "2", "--db", str(not_db))
    assert done.returncode == 2 and "cannot use database" in done.stderr


def test_a_row_one_policy_rejects_is_on_one_side_only(tmp_path: Path) -> None:
    # The new policy declares a fact of its own, number-typed; a row whose
    # value is not a number is rejected under the new policy only.
    data = tmp_path / "c.csv"
    lines = CUSTOMERS.read_text(encoding="utf-8").splitlines()
    header, body = lines[0] + ",nps_score", lines[1:4]
    data.write_text("\n".join([header, body[0] + ",7", body[1] + ",high", body[2] + ",3"])
                    + "\n", encoding="utf-8")
    new = variant(tmp_path, "nps.yaml", "on_missing: watch",
                  "on_missing: watch\nfacts:\n  nps_score:\n    type: number")
    d = diff_json(str(DEFAULT), str(new), "--source", f"csv:{data}", "--as-of", AS_OF)
    second = body[1].split(",")[0]
    assert d["only_old"] == [second] and d["only_new"] == []
    assert d["old"]["rejected"] == 0 and d["new"]["rejected"] == 1


def test_policy_change_names_derive_exemption_hold_and_timing(tmp_path: Path) -> None:
    text = DEFAULT.read_text(encoding="utf-8")
    for old, new in (('expires: "2027-06-30"', 'expires: "2027-12-31"'),
                     ("notice_days: 60", "notice_days: 90"),
                     ("margin: revenue_12m - cost_to_serve",
                      "margin: revenue_12m - cost_to_serve * 3"),
                     ("except_rules: [abuse-of-staff]",
                      "except_rules: [abuse-of-staff, staff-turnover]")):
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path = tmp_path / "many.yaml"
    path.write_text(text, encoding="utf-8")
    d = diff_json(str(DEFAULT), str(path), "--source", SOURCE, "--as-of", AS_OF)
    change = d["policy_change"]
    assert change["exemptions"] == {"strategic-accounts": ["expires"]}
    assert change["timing"] == {"notice_days": [60, 90]}
    assert change["derive"] == {"margin": ["revenue_12m - cost_to_serve",
                                           "revenue_12m - cost_to_serve * 3"]}
    assert change["holds"] == {"our-fault-first": ["except_rules"]}
    assert change["params"] == {} and change["rules"] == {}
    # a customer moved by the margin rule names the derive it rests on
    for m in d["moved"]:
        for r in m["rules"]:
            if r["rule"] == "negative-margin":
                assert 'derive margin: "revenue_12m - cost_to_serve" -> ' \
                       '"revenue_12m - cost_to_serve * 3"' in r["causes"]
    assert any(r["rule"] == "negative-margin" for m in d["moved"] for r in m["rules"])


def test_pairing_streams_in_another_order() -> None:
    from adieu.whatif import Summary, pair

    def s(cid: str, outcome: str = "keep") -> Summary:
        return Summary(cid, outcome, 0, {}, {}, [], [])

    a = [s("A"), s("B"), s("C"), s("D")]
    b = [s("D"), s("C", "warn"), s("E"), s("A")]
    pairs = list(pair(a, b))
    got = {(x.customer_id if x else None, y.customer_id if y else None) for x, y in pairs}
    assert got == {("A", "A"), ("C", "C"), ("D", "D"), ("B", None), (None, "E")}
    assert len(pairs) == 5
    assert list(pair([], [s("X")]))[0][1].customer_id == "X"


def test_on_missing_is_named_for_customers_with_unknown_rules(tmp_path: Path) -> None:
    new = variant(tmp_path, "keep.yaml", "on_missing: watch", "on_missing: keep")
    d = diff_json(str(DEFAULT), str(new), "--source", SOURCE, "--as-of", AS_OF)
    assert d["policy_change"]["settings"] == {"on_missing": ["watch", "keep"]}
    assert d["moved"]
    assert {(t["from"], t["to"]) for t in d["transitions"]} == {("watch", "keep")}
    # from the CSV: each moved customer has an empty cell in a fact a rule needs
    blank = {r["customer_id"] for r in rows() if any(v == "" for v in r.values())}
    for m in d["moved"]:
        assert m["customer_id"] in blank
        assert m["rules"] == []
        assert "on_missing: watch -> keep" in m["other"]


def test_a_timing_change_lists_the_customers_whose_dates_or_referrals_moved(
        tmp_path: Path) -> None:
    """Same outcome, other effective date / phase-out start / referrals: a
    change that matters, listed in text, --json and --csv (not "no customer
    moved" and nothing else)."""
    offboard = sorted(c for c, o in old_outcomes().items() if o == "offboard")
    notice = variant(tmp_path, "notice30.yaml", "notice_days: 60", "notice_days: 30")
    d = diff_json(str(DEFAULT), str(notice), "--source", SOURCE, "--as-of", AS_OF)
    assert d["moved"] == [] and d["transitions"] == []
    changed = d["changed_dates"]
    assert changed and {x["customer_id"] for x in changed} <= set(offboard)
    for x in changed:
        assert x["outcome"] == "offboard"
        assert x["new_effective_date"] < x["old_effective_date"]
        assert x["causes"] == ["timing.notice_days: 60 -> 30"]
    done = adieu("diff", str(DEFAULT), str(notice), "--source", SOURCE, "--as-of", AS_OF)
    first = changed[0]
    assert f"  same outcome, changed dates or referrals: {len(changed)}\n" in done.stdout
    assert (f"  {first['customer_id']}: offboard because timing.notice_days: 60 -> 30\n"
            f"    effective_date: {first['old_effective_date']} -> "
            f"{first['new_effective_date']}\n") in done.stdout
    done = adieu("diff", str(DEFAULT), str(notice), "--source", SOURCE, "--as-of", AS_OF,
                 "--csv")
    table = list(csv.DictReader(io.StringIO(done.stdout)))
    assert [r["customer_id"] for r in table] == [x["customer_id"] for x in changed]
    assert table[0]["old_outcome"] == table[0]["new_outcome"] == "offboard"
    assert table[0]["new_effective_date"] == first["new_effective_date"]
    # referrals are part of the kind: fewer referrals per customer
    fewer = variant(tmp_path, "ref1.yaml", "max_referrals: 2", "max_referrals: 1")
    d = diff_json(str(DEFAULT), str(fewer), "--source", SOURCE, "--as-of", AS_OF)
    assert d["changed_dates"], "referrals changed for no customer"
    for x in d["changed_dates"]:
        assert x["new_referrals"] == x["old_referrals"][:1] != x["old_referrals"]
        assert x["old_effective_date"] == x["new_effective_date"]


def test_policy_change_names_every_top_level_key_that_differs(tmp_path: Path) -> None:
    """facts, allow_missing_facts, description ... (compared generically,
    not a list of known keys); a default spelt out is no change."""
    text = DEFAULT.read_text(encoding="utf-8")
    assert text.count("\nparams:\n") == 1 and text.count("description: >-\n") == 1
    text = text.replace("\nparams:\n", "\nfacts:\n  score:\n    type: integer\n"
                        "allow_missing_facts: [score]\nparams:\n")
    text = text.replace("description: >-\n", "description: >-\n  Changed.\n")
    path = tmp_path / "facts.yaml"
    path.write_text(text, encoding="utf-8")
    d = diff_json(str(DEFAULT), str(path), "--source", SOURCE, "--as-of", AS_OF)
    settings = d["policy_change"]["settings"]
    assert settings["facts.score"] == [None, "integer"]
    assert settings["allow_missing_facts"] == [[], ["score"]]
    assert set(settings) == {"facts.score", "allow_missing_facts", "description"}
    done = adieu("diff", str(DEFAULT), str(path), "--source", SOURCE, "--as-of", AS_OF)
    assert '  facts.score: (none) -> "integer"\n' in done.stdout
    assert '  allow_missing_facts: [] -> ["score"]\n' in done.stdout
    # on_missing spelt out with the default's value is no change
    bare = tmp_path / "bare.yaml"
    bare.write_text(DEFAULT.read_text(encoding="utf-8").replace("on_missing: watch\n", ""),
                    encoding="utf-8")
    d = diff_json(str(bare), str(DEFAULT), "--source", SOURCE, "--as-of", AS_OF)
    assert d["policy_change"]["settings"] == {}

def test_a_fifo_policy_is_refused_not_waited_on(tmp_path: Path) -> None:
    fifo = tmp_path / "old.yaml"
    os.mkfifo(fifo)
    done = subprocess.run([ADIEU, "diff", str(fifo), str(DEFAULT), "--source", SOURCE,
                           "--as-of", AS_OF], capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 2, done
    assert done.stderr.splitlines()[0] == \
        f"{fifo}: policy is not a regular file (a FIFO, device or socket)"
