"""Offboarding cases across runs, end to end with the installed `adieu`
console script on a real SQLite file: one case per customer, proposed ->
approved | rejected, approved -> effective, withdrawn when a later run no
longer proposes it, revoked approvals, the rejection period and the facts
that set it aside, and that the audit trail and replay stay exact."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from click.testing import CliRunner

from adieu import reviewing
from adieu.audit import AuditLog
from adieu.cli import cli
from adieu.store import migrations, open_db

ADIEU = Path(sys.executable).parent / "adieu"
POLICY = textwrap.dedent("""\
    version: 1
    name: cases
    strikes:
      window_days: 365
      cooldown_days: 20
      ladder: {warn: 1, final_notice: 2, offboard: 3}
    rules:
      - id: abuse
        title: Abuse of staff
        when: abuse_incidents_12m > 0
        action: offboard
        severity: critical
      - id: reputation
        title: Bad reputation
        when: bad_reputation
        action: offboard
        severity: high
      - id: late
        title: Late payer
        when: late_payments_12m >= 3
        action: strike
        severity: medium
    timing:
      contract_end_within_days: 0
      notice_days: 60
      rejection_days: REJECTION_DAYS
    """)
HEADER = "customer_id,name,owner,late_payments_12m,abuse_incidents_12m,bad_reputation"
REVIEWER = "Rita Reviewer"


REVIEWS = ("approve", "reject", "revoke")


class Store:
    def __init__(self, tmp_path: Path, rejection_days: int = 180):
        self.dir = tmp_path
        self.db = tmp_path / "cases.db"
        self.policy = tmp_path / "policy.yaml"
        self.policy.write_text(POLICY.replace("REJECTION_DAYS", str(rejection_days)),
                               encoding="utf-8")
        self.n = 0
        self.as_of = "2026-01-01"
        self.reviewed_on = ""  # the day of the latest review that went through

    def adieu(self, *args: str, code: int = 0) -> subprocess.CompletedProcess:
        if args[0] in REVIEWS:
            return self.review(*args, code=code)
        result = subprocess.run([str(ADIEU), *args, "--db", str(self.db)],
                                capture_output=True, text=True, encoding="utf-8")
        assert result.returncode == code, (args, result.stdout, result.stderr)
        return result

    def review(self, *args: str, code: int = 0) -> subprocess.CompletedProcess:
        """approve, reject, revoke, in this process with the clock at 18:00
        on the latest run's as-of date: a review's time decides whether the
        notice still fits before the case's date (a late approval is
        redated), so these tests must not depend on the machine's date."""
        with mock.patch.object(reviewing, "now", lambda: f"{self.as_of}T18:00:00+00:00"):
            result = CliRunner().invoke(cli, [*args, "--db", str(self.db)])
        assert result.exit_code == code, (args, result.output)
        if result.exit_code == 0:
            self.reviewed_on = self.as_of
        return subprocess.CompletedProcess(args, result.exit_code, result.stdout,
                                           result.stderr)

    def run(self, as_of: str, late: int = 0, abuse: int = 1, reputation: bool = False,
            owner: str = "Chloe Martin") -> dict:
        """Evaluate C1 (and C2, who never offboards) as of a date; C1's decision."""
        self.n += 1
        self.as_of = as_of
        csv = self.dir / f"snapshot-{self.n}.csv"
        csv.write_text(f"{HEADER}\nC1,One,{owner},{late},{abuse},{str(reputation).lower()}\n"
                       f"C2,Two,Ben Okoye,0,0,false\n", encoding="utf-8")
        out = json.loads(self.adieu("evaluate", str(self.policy), "--source", f"csv:{csv}",
                                    "--as-of", as_of, "--json").stdout)
        return next(d for d in out["decisions"] if d["customer_id"] == "C1")

    def show(self, *args: str, code: int = 0):
        """A read-only command (pending, history, explain), in this process:
        the state changes above go through the console script."""
        result = CliRunner().invoke(cli, [*args, "--db", str(self.db)])
        assert result.exit_code == code, (args, result.output)
        return result

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        conn = sqlite3.connect(self.db)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    def events(self, customer_id: str = "C1") -> list[tuple[int, str, str]]:
        return [(json.loads(p)["case"]["id"], json.loads(p)["event"], json.loads(p)["case"]
                 ["state"]) for (p,) in self.query(
            "select payload from audit where kind = 'case' and customer_id = ? order by seq",
            (customer_id,))]

    def pending(self, *args: str) -> list[dict]:
        return json.loads(self.show("pending", "--json", *args).stdout)

    def intact(self) -> None:
        """audit verify (the console script) says intact, and every run
        replays without a difference (in this process: quicker)."""
        assert self.adieu("audit", "verify").stdout.startswith("audit trail intact")
        runner = CliRunner()
        for run_id in range(1, self.n + 1):
            result = runner.invoke(cli, ["replay", str(run_id), "--json", "--db", str(self.db)])
            assert result.exit_code == 0, result.output
            assert json.loads(result.stdout)["differences"] == [], run_id


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path)


def test_an_approved_offboarding_keeps_its_date_then_takes_effect(store: Store) -> None:
    """The issue's example: approved in run 2 effective 2027-02-01; run 3 (a
    month later, 60 days' notice would give 2027-03-02) keeps 2027-02-01."""
    assert store.run("2026-11-01", abuse=0)["outcome"] == "keep"
    run2 = store.run("2026-12-03")
    assert (run2["outcome"], run2["effective_date"]) == ("offboard", "2027-02-01")
    assert run2["timing_basis"] == "60-day notice period"
    approved = store.adieu("approve", "C1", "--by", REVIEWER, "--note", "checked")
    assert approved.stdout == \
        "C1 (case 1, run 2): offboarding approved by Rita Reviewer, effective 2027-02-01\n"

    csv3 = store.dir / "snapshot-3.csv"
    csv3.write_text(f"{HEADER}\nC1,One,Chloe Martin,0,1,false\n", encoding="utf-8")
    summary = store.adieu("evaluate", str(store.policy), "--source", f"csv:{csv3}",
                          "--as-of", "2027-01-01").stdout
    assert ("0 offboarding(s) pending approval by an independent reviewer: adieu pending "
            f"--db {store.db} (1 approved earlier: their cases keep their dates)") in summary
    assert "C1  [critical] effective 2027-02-01 (60-day notice period; kept from case 1" in \
        summary
    store.n = 3
    run3 = store.show("explain", "C1", "--json")
    run3 = json.loads(run3.stdout)["decision"]
    assert (run3["outcome"], run3["effective_date"]) == ("offboard", "2027-02-01")
    assert run3["phase_out_start"] == "2027-02-01"
    assert run3["timing_basis"] == \
        f"60-day notice period; kept from case 1 approved on {store.reviewed_on} by {REVIEWER}"
    assert "case 1 (approved): effective date 2027-02-01 kept" in run3["notes"]
    assert store.pending() == []
    assert store.query("select state, latest_run from cases") == [("approved", 3)]

    run4 = store.run("2027-02-01")
    assert run4["effective_date"] == "2027-02-01"
    assert f"case 1: offboarding effective since 2027-02-01 (approved by {REVIEWER})" in \
        run4["notes"]
    assert store.query("select state, closed_run, closed_from, effective_date from cases") == \
        [("effective", 4, "approved", "2027-02-01")]
    assert store.events() == [(1, "opened", "proposed"), (1, "approved", "approved"),
                              (1, "kept", "approved"), (1, "effective", "effective")]
    # A later run that still has the customer opens a new case.
    store.run("2027-03-01")
    assert store.query("select id, state, effective_date from cases order by id") == \
        [(1, "effective", "2027-02-01"), (2, "proposed", "2027-04-30")]
    store.intact()


def test_pending_shows_one_row_per_case_with_the_latest_figures(store: Store) -> None:
    store.run("2026-12-03")
    run2 = store.run("2027-01-01", late=4)
    # A proposed case keeps its first date while it is ahead.
    assert run2["effective_date"] == "2027-02-01"
    assert run2["timing_basis"] == \
        "60-day notice period; kept from case 1 proposed as of 2026-12-03"
    rows = store.pending()
    assert [(r["case_id"], r["customer_id"], r["run_id"], r["opened_run"], r["effective_date"])
            for r in rows] == [(1, "C1", 2, 1, "2027-02-01")]
    assert rows[0]["figures"] == {"abuse": {"abuse_incidents_12m": 1},
                                  "late": {"late_payments_12m": 4}}
    text = store.adieu("pending").stdout.splitlines()  # the console script's own output
    assert text[0] == ("C1  case 1  run 2  [critical]  1 strikes  effective 2027-02-01  "
                       "owner: Chloe Martin")
    assert [r["customer_id"] for r in store.pending("--run", "1")] == ["C1"]
    # Once its date has passed unreviewed, a run sets a new one.
    run3 = store.run("2027-02-15")
    assert run3["effective_date"] == "2027-04-16" and run3["timing_basis"] == \
        "60-day notice period"
    assert "case 1: its proposed date 2027-02-01 passed without approval; the date is set " \
           "again from this run" in run3["notes"]
    assert store.events() == [(1, "opened", "proposed"), (1, "kept", "proposed"),
                              (1, "redated", "proposed")]
    assert store.pending()[0]["effective_date"] == "2027-04-16"
    store.intact()


def test_a_case_is_approved_once_and_run_must_be_its_own(store: Store) -> None:
    store.run("2026-11-01", abuse=0)
    store.run("2026-12-03")
    store.run("2027-01-01")
    wrong = store.adieu("approve", "C1", "--run", "1", "--by", REVIEWER, code=2)
    assert wrong.stderr == ("Error: --run 1 is not a run of C1's case 1 (proposed by runs 2 "
                            "to 3); leave --run out to act on the open case\n")
    store.adieu("approve", "C1", "--run", "2", "--by", REVIEWER)
    for verb in ("approve", "reject"):
        again = store.adieu(verb, "C1", "--by", "Max Muster", code=2)
        assert again.stderr.startswith(
            f"Error: C1's case 1 was already approved by {REVIEWER} at {store.reviewed_on}T")
    none = store.adieu("approve", "C2", "--by", REVIEWER, code=2)
    assert none.stderr == ("Error: C2 has no open offboarding case; see `adieu pending` and "
                           "`adieu history C2`\n")
    assert store.query("select reviewer, review_run from cases") == [(REVIEWER, 3)]
    store.intact()


def test_revoke_puts_the_case_back_to_proposed(store: Store) -> None:
    store.run("2026-12-03")
    not_yet = store.adieu("revoke", "C1", "--by", "Ben Okoye", "--reason", "r", code=2)
    assert "C1's case 1 is proposed, not approved; only an approval can be revoked" in \
        not_yet.stderr
    store.adieu("approve", "C1", "--by", REVIEWER)
    owner = store.adieu("revoke", "C1", "--by", "martin, CHLOE", "--reason", "no", code=2)
    assert "martin, CHLOE is the account owner of C1" in owner.stderr
    done = store.adieu("revoke", "C1", "--by", "Ben Okoye", "--reason", "paid in full")
    assert done.stdout == (f"C1 (case 1): approval by {REVIEWER} revoked by Ben Okoye; the "
                           "case waits for review again\n")
    assert store.query("select state, reviewer, revoked_by, revoked_by_key, revoke_reason "
                       "from cases") == [("proposed", REVIEWER, "Ben Okoye", "ben okoye",
                                          "paid in full")]
    assert [r["case_id"] for r in store.pending()] == [1]
    assert store.events() == [(1, "opened", "proposed"), (1, "approved", "approved"),
                              (1, "revoked", "proposed")]
    history = json.loads(store.show("history", "C1", "--json").stdout)["cases"][0]
    assert [(e["event"], e["by"], e["reason"]) for e in history["events"]] == [
        ("opened", None, None), ("approved", REVIEWER, None),
        ("revoked", "Ben Okoye", "paid in full")]
    # A revoked case can be approved again, by someone else.
    store.adieu("approve", "C1", "--by", "Max Muster")
    assert store.query("select state, reviewer from cases") == [("approved", "Max Muster")]
    store.intact()


def test_a_rejection_holds_until_a_new_strike(store: Store) -> None:
    store.run("2026-12-03")
    rejected = store.adieu("reject", "C1", "--by", REVIEWER, "--note", "talk first")
    assert rejected.stdout == "C1 (case 1, run 1): offboarding rejected by Rita Reviewer\n"
    held = store.run("2027-01-04")
    assert held["outcome"] == "held" and held["base_outcome"] == "offboard"
    assert held["holds"] == [{"id": "review-rejected", "reason": (
        f"offboarding rejected by {REVIEWER} on {store.reviewed_on} (case 1): not proposed "
        "again until 2027-06-01 unless a strike is recorded or an offboard rule fires for a "
        "rule that did not fire then (then: abuse)")}]
    assert held["effective_date"] is None
    assert store.pending() == []
    explained = store.show("explain", "C1").stdout
    assert "C1: HELD" in explained and "hold review-rejected: offboarding rejected by" in \
        explained
    assert "case 1: rejected, effective 2027-02-01" in explained
    # Three late payments: a strike recorded after the rejection sets it aside.
    worse = store.run("2027-02-01", late=3)
    assert worse["outcome"] == "offboard" and worse["new_strikes"] == ["late"]
    assert ("case 1's rejection set aside: strike late recorded on 2027-02-01 (did not fire "
            "in the run the reviewer saw)") in worse["notes"]
    assert store.query("select id, state, opened_run from cases order by id") == \
        [(1, "rejected", 1), (2, "proposed", 3)]
    store.intact()


def test_a_new_offboard_rule_sets_a_rejection_aside(store: Store) -> None:
    store.run("2026-12-03")
    store.adieu("reject", "C1", "--by", REVIEWER)
    assert store.run("2027-01-04")["outcome"] == "held"
    worse = store.run("2027-02-01", reputation=True)
    assert worse["outcome"] == "offboard"
    assert ("case 1's rejection set aside: offboard rule reputation fires (did not fire in "
            "the run the reviewer saw)") in worse["notes"]
    store.intact()


def test_the_rejection_period_ends(tmp_path: Path) -> None:
    store = Store(tmp_path, rejection_days=30)
    store.run("2026-12-03")
    store.adieu("reject", "C1", "--by", REVIEWER)
    held = store.run("2027-01-01")
    assert "not proposed again until 2027-01-02 unless a strike is recorded" in \
        held["holds"][0]["reason"]
    again = store.run("2027-01-02")
    assert again["outcome"] == "offboard" and again["holds"] == []
    assert store.query("select id, state from cases order by id") == \
        [(1, "rejected"), (2, "proposed")]
    store.intact()


def test_rejection_days_is_checked_by_validate(tmp_path: Path) -> None:
    store = Store(tmp_path, rejection_days=-1)
    result = subprocess.run([str(ADIEU), "validate", str(store.policy)], capture_output=True,
                            text=True)
    assert result.returncode == 1 and "rejection_days" in result.stdout + result.stderr


@pytest.mark.parametrize("approve", [False, True])
def test_a_case_is_withdrawn_when_no_longer_proposed(store: Store, approve: bool) -> None:
    store.run("2026-12-03")
    if approve:
        store.adieu("approve", "C1", "--by", REVIEWER)
    calm = store.run("2027-01-04", abuse=0)
    assert calm["outcome"] == "keep"
    assert store.query("select state, closed_run, closed_from from cases") == \
        [("withdrawn", 2, "approved" if approve else "proposed")]
    assert store.pending() == []
    history = store.show("history", "C1").stdout
    assert "case 1: withdrawn, effective 2027-02-01" in history
    assert "withdrawn (run 2)" in history
    # A later offboarding is a new case, with a date of its own.
    assert store.run("2027-02-01")["effective_date"] == "2027-04-02"
    assert store.query("select id, state from cases order by id") == \
        [(1, "withdrawn"), (2, "proposed")]
    store.intact()


def test_a_held_decision_leaves_the_case_open(store: Store, tmp_path: Path) -> None:
    policy = store.policy.read_text(encoding="utf-8") + textwrap.dedent("""\
        holds:
          - id: our-fault
            when: late_payments_12m == 9
            reason: Our billing error
        """)
    store.policy.write_text(policy, encoding="utf-8")
    store.run("2026-12-03")
    held = store.run("2027-01-04", late=9)
    assert held["outcome"] == "held"
    assert store.query("select state, latest_run from cases") == [("proposed", 1)]


def test_the_same_snapshot_twice_is_the_same_run(store: Store) -> None:
    store.run("2026-12-03")
    csv = store.dir / "snapshot-1.csv"
    again = store.adieu("evaluate", str(store.policy), "--source", f"csv:{csv}", "--as-of",
                        "2026-12-03")
    assert "run 1 already recorded these facts" in again.stderr
    assert store.query("select count(*) from runs") == [(1,)]
    store.adieu("approve", "C1", "--by", REVIEWER)
    # The approval is memory for a run of that date (tests/test_case_faults.py):
    # a new run, which keeps the approved case; the same snapshot once more
    # is that run.
    again = store.adieu("evaluate", str(store.policy), "--source", f"csv:{csv}", "--as-of",
                        "2026-12-03")
    assert "already recorded" not in again.stderr
    again = store.adieu("evaluate", str(store.policy), "--source", f"csv:{csv}", "--as-of",
                        "2026-12-03")
    assert "run 2 already recorded these facts" in again.stderr
    assert store.query("select count(*) from runs") == [(2,)]
    assert store.query("select id, state from cases") == [(1, "approved")]


def test_history_and_explain_show_the_case(store: Store) -> None:
    store.run("2026-12-03")
    store.adieu("approve", "C1", "--by", REVIEWER, "--note", "figures checked")
    store.run("2027-01-04")
    history = json.loads(store.show("history", "C1", "--json").stdout)
    (case,) = history["cases"]
    assert (case["id"], case["state"], case["effective_date"], case["reviewer"],
            case["review_note"], case["opened_run"], case["latest_run"]) == \
        (1, "approved", "2027-02-01", REVIEWER, "figures checked", 1, 2)
    text = store.show("history", "C1").stdout
    assert ("case 1: approved, effective 2027-02-01 (opened by run 1 as of 2026-12-03, "
            f"latest run 2 as of 2027-01-04), approved by {REVIEWER} at {store.reviewed_on}T") \
        in text
    assert f"approved (run 1) by {REVIEWER}: figures checked" in text
    explained = json.loads(store.show("explain", "C1", "--json").stdout)
    assert explained["case"]["state"] == "approved"
    assert explained["decision"]["effective_date"] == "2027-02-01"
    first = store.show("explain", "C1", "--run", "1").stdout
    assert "case 1: approved, effective 2027-02-01" in first


def test_old_reviews_are_adopted_into_cases(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A database of per-run reviews (before m004): approved in run 1, the
    customer proposed again in run 2 and approved again there. Adopted: one
    approved case with the first approval, kept by run 2; the second
    approval is left out; the trail still verifies."""
    store = Store(tmp_path)
    # Build the old layout in this process: migrations before m004 only, runs
    # written without cases, reviews written as adieu 0.2 wrote them.
    import adieu.cases as cases

    def apply_all_but_cases(db: Any) -> None:  # every other migration, as they came
        migrations.ensure_migrations_table(db)
        for migration in migrations.pending(db):
            if migration.name not in ("m004_cases", "m011_case_triggers",
                                      "m013_case_reviewed_on"):  # no cases
                with db.atomic():
                    migration.fn(db)
                    migrations._record_applied(db, migration.name)

    monkeypatch.setattr(migrations, "apply", apply_all_but_cases)
    monkeypatch.setattr(cases, "record_run", lambda *a, **k: None)
    monkeypatch.setattr(cases, "remember", lambda *a, **k: None)
    runner = CliRunner()
    for n, as_of in enumerate(("2026-12-03", "2027-01-04"), 1):
        csv = tmp_path / f"old-{n}.csv"
        csv.write_text(f"{HEADER}\nC1,One,Chloe Martin,0,1,false\n", encoding="utf-8")
        result = runner.invoke(cli, ["evaluate", str(store.policy), "--source", f"csv:{csv}",
                                     "--as-of", as_of, "--db", str(store.db)])
        assert result.exit_code == 0, result.output
    db = open_db(str(store.db))
    try:
        for run_id, by, at in ((1, "Ann Old", "2026-12-03T18:00:00+00:00"),
                               (2, "Bob Old", "2027-01-04T18:00:00+00:00")):
            with db.atomic():
                db["reviews"].insert({"run_id": run_id, "customer_id": "C1",
                                      "verdict": "approved", "reviewer": by, "note": None,
                                      "at": at})
                log = AuditLog(db, at)
                log.add("approval", {"verdict": "approved", "reviewer": by, "note": None},
                        run_id, "C1")
                log.flush()
    finally:
        db.close()
    monkeypatch.undo()
    assert ("m004_cases",) not in store.query("select name from _sqlite_migrations")
    # Opening it with adieu applies m004.
    assert store.pending() == []
    assert store.query("select id, state, reviewer, reviewer_key, opened_run, latest_run, "
                       "effective_date from cases") == \
        [(1, "approved", "Ann Old", "ann old", 1, 2, "2027-02-01")]
    assert store.events() == [(1, "opened", "proposed"), (1, "approved", "approved"),
                              (1, "kept", "approved")]
    assert all(json.loads(p)["adopted"] for (p,) in store.query(
        "select payload from audit where kind = 'case'"))
    assert store.adieu("audit", "verify").stdout.startswith("audit trail intact")
    # From here on it works like any other case.
    store.n = 2
    assert store.run("2027-02-01")["effective_date"] == "2027-02-01"
    assert store.query("select state from cases") == [("effective",)]
