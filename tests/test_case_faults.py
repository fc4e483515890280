"""Faults found in offboarding cases (issue 9's hostile test), each a kind:

- a rejection holds against routine repeats of the rules the reviewer saw
  (only a strike or an offboard rule the reviewer did not see reopens it);
- an approval too late for its date: the next run sets a new date, so the
  customer gets the policy's notice counted from the approval;
- two reviews of one case at once: exactly one succeeds;
- a review made between two runs of the same date is honoured by the second;
- a cases row edited outside adieu is refused by evaluate and by every
  review, and never vouched for by a later audit entry;
- the reviewer may be the owner in none of the case's runs;
- the case line shows a revocation only while it applies;
- explain's default run is the latest by as-of date (not a backfill);
- explain without the plugin still shows the case and the strikes.

State changes go through the installed console script (real processes on
a real SQLite file), as in tests/test_cases.py."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import subprocess
import textwrap
from pathlib import Path
from unittest import mock

import pytest
from click.testing import CliRunner
from test_cases import ADIEU

from adieu import reviewing
from adieu.cli import cli
from adieu.decide import effective_date
from adieu.policy import Timing

ROOT = Path(__file__).resolve().parents[1]
# Two strike rules and one strike rule the reviewer will not have seen;
# three strikes offboard.
POLICY = textwrap.dedent("""\
    version: "1"
    name: t
    rules:
      - id: late
        title: Late
        when: late_payments_12m >= 3
        action: strike
        severity: medium
      - id: cost
        title: Cost
        when: hours_support_12m * 60 > revenue_12m
        action: strike
        severity: high
      - id: tickets
        title: Tickets
        when: tickets_12m > 10
        action: strike
        severity: low
    strikes:
      window_days: 365
      cooldown_days: 20
      ladder: {warn: 1, final_notice: 2, offboard: 3}
    timing:
      notice_days: 60
      contract_end_within_days: 0
    """)
HEADER = "customer_id,owner,owner_id,revenue_12m,hours_support_12m,late_payments_12m,tickets_12m"


REVIEWS = ("approve", "reject", "revoke")


class Shop:
    """C1 (late payer, costly), C2 (the same, no owner), C3 (fine)."""

    def __init__(self, tmp_path: Path):
        self.dir = tmp_path
        self.db = tmp_path / "t.db"
        self.policy = tmp_path / "p.yaml"
        self.policy.write_text(POLICY, encoding="utf-8")
        self.n = 0
        self.as_of = "2026-01-01"
        self.review_day: str | None = None

    def adieu(self, *args: str, code: int = 0) -> subprocess.CompletedProcess:
        if args[0] in REVIEWS:
            return self.review(*args, code=code)
        result = subprocess.run([str(ADIEU), *args, "--db", str(self.db)],
                                capture_output=True, text=True, encoding="utf-8")
        assert result.returncode == code, (args, result.stdout, result.stderr)
        return result

    def review(self, *args: str, code: int = 0) -> subprocess.CompletedProcess:
        """approve, reject, revoke in this process with the clock at 18:00 on
        self.review_day (default: the latest run's as-of date), so that
        whether an approval is late never depends on the machine's date."""
        day = self.review_day or self.as_of
        with mock.patch.object(reviewing, "now", lambda: f"{day}T18:00:00+00:00"):
            result = CliRunner().invoke(cli, [*args, "--db", str(self.db)])
        assert result.exit_code == code, (args, result.output)
        return subprocess.CompletedProcess(args, result.exit_code, result.stdout,
                                           result.stderr)

    def csv(self, c1: str = "Chloe Martin,,1000,100,5,0", c3: str = "Bob Smith,,1000,1,0,0") \
            -> Path:
        self.n += 1
        path = self.dir / f"s{self.n}.csv"
        path.write_text(f"{HEADER}\nC1,{c1}\nC2,,,1000,100,5,0\nC3,{c3}\n", encoding="utf-8")
        return path

    def run(self, as_of: str, csv: Path | None = None, *more: str, code: int = 0) -> dict:
        """Evaluate as of a date; decisions by customer id (and "_run": the run)."""
        self.as_of = as_of
        result = self.adieu("evaluate", str(self.policy), "--source",
                            f"csv:{csv or self.csv()}", "--as-of", as_of, "--json", *more,
                            code=code)
        if code:
            return {"_stderr": result.stderr}
        out = json.loads(result.stdout)
        return {**{d["customer_id"]: d for d in out["decisions"]}, "_run": out["run"]}

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        conn = sqlite3.connect(self.db)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    def events(self, customer_id: str = "C1") -> list[tuple[int, str, str]]:
        rows = self.query("select payload from audit where kind = 'case' and customer_id = ? "
                          "order by seq", (customer_id,))
        return [(json.loads(p)["case"]["id"], json.loads(p)["event"],
                 json.loads(p)["case"]["state"]) for (p,) in rows]

    def show(self, *args: str, code: int = 0) -> str:
        result = CliRunner().invoke(cli, [*args, "--db", str(self.db)])
        assert result.exit_code == code, (args, result.output)
        return result.output

    def intact(self) -> None:
        assert self.adieu("audit", "verify").stdout.startswith("audit trail intact")


@pytest.fixture
def shop(tmp_path: Path) -> Shop:
    return Shop(tmp_path)


# -- F2: a rejection lasts its rejection_days against routine repeats ---------------------

def test_a_rejection_holds_against_routine_repeats_of_the_rules_it_saw(shop: Shop) -> None:
    shop.run("2026-01-01")                      # late + cost: 2 strikes
    assert shop.run("2026-01-25")["C1"]["outcome"] == "offboard"  # 4 strikes
    shop.adieu("reject", "C1", "--by", "Ana Ruiz", "--note", "renegotiating")
    for as_of in ("2026-02-20", "2026-03-20", "2026-04-20"):  # each past the cool-down
        c1 = shop.run(as_of)["C1"]
        assert c1["new_strikes"] == ["late", "cost"]  # routine: the same rules again
        assert (c1["outcome"], [h["id"] for h in c1["holds"]]) == ("held", ["review-rejected"])
        assert "not proposed again until 2026-07-24 unless a strike is recorded or an " \
            "offboard rule fires for a rule that did not fire then (then: cost, late)" in \
            c1["holds"][0]["reason"]
    assert shop.query("select id, state from cases where customer_id = 'C1'") == \
        [(1, "rejected")]
    assert [r["customer_id"] for r in json.loads(shop.show("pending", "--json"))] == ["C2"]
    # A strike of a rule the reviewer did not see: the facts worsened.
    worse = shop.run("2026-05-20", shop.csv(c1="Chloe Martin,,1000,100,5,12"))["C1"]
    assert worse["outcome"] == "offboard"
    assert ("case 1's rejection set aside: strike tickets recorded on 2026-05-20 (did not "
            "fire in the run the reviewer saw)") in worse["notes"]
    assert shop.query("select id, state from cases where customer_id = 'C1' order by id") == \
        [(1, "rejected"), (3, "proposed")]
    shop.intact()


def test_the_default_policy_rejection_outlasts_the_cool_down(tmp_path: Path) -> None:
    """The hostile test's example: CUST-0015 rejected in December stays held
    on identical data in January (default policy: cool-down 30 days,
    rejection 180 days)."""
    db = tmp_path / "r.db"
    policy, source = ROOT / "policies" / "default.yaml", ROOT / "examples" / "customers.csv"

    def adieu(*args: str) -> subprocess.CompletedProcess:
        result = subprocess.run([str(ADIEU), *args, "--db", str(db)], capture_output=True,
                                text=True, encoding="utf-8")
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        return result

    def cust15(as_of: str) -> dict:
        out = json.loads(adieu("evaluate", str(policy), "--source", f"csv:{source}",
                               "--as-of", as_of, "--json").stdout)
        return next(d for d in out["decisions"] if d["customer_id"] == "CUST-0015")

    cust15("2026-11-01")
    assert cust15("2026-12-01")["outcome"] == "offboard"
    adieu("reject", "CUST-0015", "--by", "Ana Ruiz", "--note", "renegotiating")
    january = cust15("2027-01-01")
    assert january["new_strikes"]  # the unchanged problem earns its routine strike
    assert january["outcome"] == "held"
    assert "not proposed again until 2027-05-30" in january["holds"][0]["reason"]
    assert not any("rejection set aside" in n for n in january["notes"])


# -- F11: an approval too late for its date -----------------------------------------------

def test_a_late_approval_gets_a_new_date_with_the_full_notice(shop: Shop) -> None:
    shop.run("2026-08-01")
    c1 = shop.run("2026-09-01")["C1"]
    assert c1["effective_date"] == "2026-11-02"
    shop.review_day = TODAY = "2026-11-30"  # the approval comes after 2026-11-02
    approved = shop.adieu("approve", "C1", "--by", "Ana")
    assert approved.stderr == ("warning: case 1's date 2026-11-02 is not after today: the "
                               "next run sets a new date, with the policy's notice counted "
                               "from this approval\n")
    as_of = dt.date(2026, 12, 1)
    after = shop.run(as_of.isoformat())["C1"]
    today = dt.date.fromisoformat(TODAY)
    # Counted from the approval day, once.
    expected, _ = effective_date(Timing(notice_days=60, contract_end_within_days=0), None,
                                 today)
    assert after["outcome"] == "offboard"
    assert after["effective_date"] == expected.isoformat() > TODAY
    assert any(n.startswith(f"case 1: approved by Ana on {TODAY}, too late for its date "
                            "2026-11-02") for n in after["notes"])
    assert shop.query("select state, effective_date from cases where id = 1") == \
        [("approved", expected.isoformat())]
    assert shop.events()[-1] == (1, "redated", "approved")
    # The next run keeps the new date (no second redating, not effective yet).
    later = shop.run((as_of + dt.timedelta(days=10)).isoformat())["C1"]
    assert later["effective_date"] == expected.isoformat()
    assert f"case 1 (approved): effective date {expected.isoformat()} kept" in later["notes"]
    shop.intact()


@pytest.mark.parametrize("approved_on, kept", [("2026-09-01", True), ("2026-09-10", False)])
def test_an_approval_leaving_less_than_the_notice_is_redated(
        shop: Shop, monkeypatch: pytest.MonkeyPatch, approved_on: str, kept: bool) -> None:
    """Proposed as of 2026-09-01 for 2026-11-02 (60 days' notice, weekdays):
    approved the same day it keeps its date; approved on 2026-09-10 the next
    run (2026-10-01) sets it again, 60 days from the approval: 2026-11-09."""
    shop.run("2026-08-01")
    shop.run("2026-09-01")
    monkeypatch.setattr(reviewing, "now", lambda: f"{approved_on}T09:00:00+00:00")
    assert shop.show("approve", "C1", "--by", "Ana").endswith("effective 2026-11-02\n")
    monkeypatch.undo()
    c1 = shop.run("2026-10-01")["C1"]
    assert c1["effective_date"] == ("2026-11-02" if kept else "2026-11-09")
    assert any("too late for its date" in n for n in c1["notes"]) is not kept
    shop.intact()


# -- F15: two reviews of one case at once -------------------------------------------------

@pytest.mark.parametrize("second", ["reject", "approve"])
def test_two_reviews_at_once_exactly_one_succeeds(shop: Shop, second: str) -> None:
    shop.run("2026-01-01")
    shop.run("2026-02-01")
    base = shop.db.read_bytes()
    for _ in range(6):
        shop.db.write_bytes(base)
        for extra in ("-wal", "-shm"):
            Path(f"{shop.db}{extra}").unlink(missing_ok=True)
        procs = [subprocess.Popen([str(ADIEU), verb, "C1", "--by", by, "--db", str(shop.db)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for verb, by in (("approve", "Ana"), (second, "Ben"))]
        outs = [(p.wait(timeout=60), *p.communicate()) for p in procs]
        codes = sorted(code for code, _, _ in outs)
        assert codes == [0, 2], outs
        winner = next(i for i, (code, _, _) in enumerate(outs) if code == 0)
        state, by = (("approved", "Ana"), ("approved" if second == "approve" else "rejected",
                                           "Ben"))[winner]
        loser_err = outs[1 - winner][2]
        assert loser_err.startswith(f"Error: C1's case 1 was already {state} by {by} at "), \
            loser_err
        assert shop.query("select state, reviewer from cases where id = 1") == [(state, by)]
        reviews = [e for e in shop.events() if e[1] in ("approved", "rejected")]
        assert reviews == [(1, state, state)]
    shop.intact()


# -- F19: a review between two runs of the same date --------------------------------------

def test_a_rejection_between_two_runs_of_a_date_is_honoured(
        shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    shop.run("2026-01-01")
    shop.run("2026-02-01")
    # Reviewed on the day of the run (an approval on a later day would
    # leave less than the notice: test_a_late_approval_...).
    monkeypatch.setattr(reviewing, "now", lambda: "2026-02-01T15:00:00+00:00")
    shop.show("reject", "C2", "--by", "Ana", "--no-owner-on-record", "--note", "talk first")
    shop.show("approve", "C1", "--by", "Ana")
    monkeypatch.undo()
    corrected = shop.run("2026-02-01", shop.csv(c3="Bob Smith,,1001,1,0,0"))
    c2 = corrected["C2"]
    assert c2["outcome"] == "held" and [h["id"] for h in c2["holds"]] == ["review-rejected"]
    assert "offboarding rejected by Ana on" in c2["holds"][0]["reason"]
    assert shop.query("select id, state from cases where customer_id = 'C2'") == \
        [(2, "rejected")]
    # The approved analogue: the approval keeps its case and date.
    c1 = corrected["C1"]
    assert (c1["outcome"], c1["effective_date"]) == ("offboard", "2026-04-02")
    assert "kept from case 1 approved on" in c1["timing_basis"]
    assert shop.query("select id, state, effective_date, latest_run from cases where "
                      "customer_id = 'C1'") == [(1, "approved", "2026-04-02", 3)]
    assert shop.show("pending") == "nothing waits for review\n"
    # And that corrected snapshot once more is the same run.
    again = shop.adieu("evaluate", str(shop.policy), "--source", f"csv:{shop.dir / 's3.csv'}",
                       "--as-of", "2026-02-01")
    assert "run 3 already recorded these facts" in again.stderr
    shop.intact()


def test_a_proposal_unreviewed_between_two_runs_of_a_date_is_the_same_run(shop: Shop) -> None:
    shop.run("2026-01-01")
    first = shop.csv()
    shop.run("2026-02-01", first)
    again = shop.adieu("evaluate", str(shop.policy), "--source", f"csv:{first}", "--as-of",
                       "2026-02-01")
    assert "run 2 already recorded these facts" in again.stderr
    corrected = shop.run("2026-02-01", shop.csv(c3="Bob Smith,,1001,1,0,0"))
    assert corrected["C1"]["outcome"] == "offboard"
    assert shop.query("select id, customer_id, state, latest_run from cases order by id") == \
        [(1, "C1", "proposed", 3), (2, "C2", "proposed", 3)]
    shop.intact()


# -- F20: a cases row edited outside adieu ------------------------------------------------

def test_an_edited_case_row_is_refused_and_never_laundered(shop: Shop) -> None:
    shop.run("2026-01-01")
    shop.run("2026-02-01")
    conn = sqlite3.connect(shop.db)
    edit = ("update cases set state='approved', reviewer='Chloe Martin', "
            "reviewer_key='chloe martin', reviewed_at='2026-02-02T09:00:00+00:00', "
            "review_run=2 where customer_id='C1'")
    with pytest.raises(sqlite3.IntegrityError, match="part of the audit trail"):
        conn.execute(edit)  # the triggers refuse it (m011); dropped, verify finds it
    conn.execute("drop trigger cases_only_adieu_moves")
    conn.execute("update cases set state='approved', reviewer='Chloe Martin', "
                 "reviewer_key='chloe martin', reviewed_at='2026-02-02T09:00:00+00:00', "
                 "review_run=2 where customer_id='C1'")
    conn.commit()
    conn.close()
    broken = shop.adieu("audit", "verify", code=1)
    assert "case 1 of C1 was edited" in broken.stdout
    refused = shop.run("2026-03-01", code=2)["_stderr"]
    assert refused.startswith("Error: cases row 1 (C1): its state, reviewer, reviewer_key, "
                              "reviewed_at, review_run differ from audit entry ")
    for verb in (("revoke", "C1", "--by", "Ben", "--reason", "r"),
                 ("reject", "C1", "--by", "Ben"), ("approve", "C1", "--by", "Ben")):
        assert "cases row 1 (C1)" in shop.adieu(*verb, code=2).stderr
    assert shop.query("select count(*) from runs") == [(2,)]
    assert [e[1] for e in shop.events()] == ["opened"]
    assert "case 1 of C1 was edited" in shop.adieu("audit", "verify", code=1).stdout


# -- F4: the owner in any run of the case -------------------------------------------------

def test_the_owner_of_an_earlier_run_of_the_case_may_not_review(shop: Shop) -> None:
    shop.run("2026-01-01", shop.csv(c1="Chloe Martin,005A1,1000,100,5,0"))
    shop.run("2026-02-01", shop.csv(c1="Chloe Martin,005A1,1000,100,5,0"))
    shop.run("2026-02-15", shop.csv(c1="Bob Stone,005B2,1000,100,5,0"))  # owner now Bob
    assert shop.query("select opened_run, latest_run from cases where id = 1") == [(2, 3)]
    for verb in ("approve", "reject"):
        for args in (("--run", "2", "--by", "Chloe Martin", "--by-id", "005Z9"),
                     ("--by", "MARTIN, Chloe", "--by-id", "005Z9"),
                     ("--by", "Someone Else", "--by-id", "005a1")):
            refused = shop.adieu(verb, "C1", *args, code=2)
            assert "is the account owner of C1 (in run 2) and may not review" in \
                refused.stderr, refused.stderr
    shop.adieu("approve", "C1", "--by", "Rita Reviewer", "--by-id", "005Z9")
    assert shop.query("select owner, owner_id from cases where id = 1") == \
        [("Bob Stone", "005B2")]
    shop.intact()


# -- F12: a revocation shown only while it applies ----------------------------------------

def test_the_case_line_shows_a_revocation_only_while_it_applies(shop: Shop) -> None:
    shop.run("2026-01-01")
    shop.run("2026-02-01")
    shop.adieu("approve", "C1", "--by", "Ana")
    shop.adieu("revoke", "C1", "--by", "Ben", "--reason", "paid")
    line = next(x for x in shop.show("explain", "C1").splitlines() if "case 1:" in x)
    assert line.startswith("  case 1: proposed, ")
    assert ", approval revoked by Ben at " in line and line.endswith(" (paid)")
    shop.adieu("approve", "C1", "--by", "Ana")
    line = next(x for x in shop.show("explain", "C1").splitlines() if "case 1:" in x)
    assert line.startswith("  case 1: approved, ")
    assert ", approval revoked" not in line
    assert " (an earlier approval revoked by Ben at " in line and line.endswith(" (paid))")


# -- F14: explain's default run ------------------------------------------------------------

def test_explain_defaults_to_the_latest_run_by_as_of_date(shop: Shop) -> None:
    shop.run("2026-01-01")
    shop.run("2026-02-01")
    fine = shop.csv(c1="Chloe Martin,,1000,1,0,0")
    shop.run("2026-01-15", fine, "--backfill")
    text = shop.show("explain", "C1")
    assert text.splitlines()[0] == "C1: OFFBOARD  (run 2, policy 't' v1, as of 2026-02-01)"
    assert json.loads(shop.show("explain", "C1", "--json"))["run_id"] == 2
    assert shop.show("explain", "C1", "--run", "3").startswith(
        "C1: FINAL_NOTICE  (run 3, policy 't' v1, as of 2026-01-15)")
    # pending lists the cases that wait, whatever the backfill decided.
    assert [(r["customer_id"], r["run_id"]) for r in
            json.loads(shop.show("pending", "--json"))] == [("C1", 2), ("C2", 2)]


# -- F6: explain without the plugin -------------------------------------------------------

def test_explain_as_stored_shows_the_case_and_strikes(shop: Shop) -> None:
    """A run whose policy calls a function that is no longer installed
    (here: the stored policy text edited to call one) is explained from
    what was stored: the case line, the active strikes and those new in
    the run, notes and holds, as with the plugin."""
    shop.run("2026-01-01")
    shop.run("2026-02-01")
    shop.adieu("approve", "C1", "--by", "Ana")
    with_policy = shop.show("explain", "C1")
    conn = sqlite3.connect(shop.db)
    conn.execute("drop trigger runs_no_update")
    conn.execute("update runs set policy_text = replace(policy_text, 'tickets_12m > 10', "
                 "'gone_fn(tickets_12m) > 10'), plugins = null")
    conn.commit()
    conn.close()
    stored = shop.show("explain", "C1")
    assert "(function gone_fn() not installed: figures as stored)" in stored
    lines = stored.splitlines()
    for wanted in ("  active strikes: 4 (new this run: late, cost)",
                   "    late: recorded 2026-01-01, expires 2027-01-01",
                   "    cost: recorded 2026-02-01, expires 2027-02-01"):
        assert wanted in lines, stored
    case = next(x for x in with_policy.splitlines() if x.startswith("  case 1:"))
    assert case in lines and "approved by Ana at" in case
    assert "  effective 2026-04-02 (60-day notice period), phase-out from 2026-04-02" in lines
    data = json.loads(shop.show("explain", "C1", "--json"))
    assert data["figures_as_stored"] is True and data["case"]["state"] == "approved"
    assert data["decision"]["new_strikes"] == ["late", "cost"]
