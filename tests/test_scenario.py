"""A year of runs through the real command line: twelve monthly snapshots of
one customer base (examples/scenario/), a real SQLite file.

Strikes accumulate, expire after the window and collapse within the
cool-down; an exemption expires mid-year and the customer then climbs the
ladder; a registry exemption sets a customer's earlier strikes aside while
it applies, and those still inside their window count again after it ends;
offboardings wait for, and receive, an independent approval;
re-running any month changes nothing; every stored run replays.

The expected outcomes are worked out by hand below from the dates and the
policy (window 180 days, cool-down 45 days measured from the latest strike's
recorded date, ladder 1 warn / 2 final_notice / 3 offboard)."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from adieu.cli import cli

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "examples" / "scenario"
POLICY = SCENARIO / "scenario.yaml"
SNAPSHOTS = SCENARIO / "snapshots"

WINDOW = 180
COOLDOWN = 45
MONTHS = [dt.date(2026, m, 1) for m in range(1, 13)]
JAN, FEB, MAR, APR, MAY, JUN, JUL, AUG, SEP, OCT, NOV, DEC = MONTHS
C_EXPIRES = dt.date(2026, 6, 15)
I_UNTIL = dt.date(2026, 8, 15)
REVIEWER = "Mara Lind"

LATE, COST = "late-payments", "cost-exceeds-revenue"


def test_the_policy_is_the_one_worked_out_here() -> None:
    doc = yaml.safe_load(POLICY.read_text(encoding="utf-8"))
    assert doc["strikes"] == {"window_days": WINDOW, "cooldown_days": COOLDOWN,
                              "ladder": {"warn": 1, "final_notice": 2, "offboard": 3}}
    assert doc["exemptions"][0]["customers"] == ["CUST-C"]
    assert doc["exemptions"][0]["expires"] == C_EXPIRES.isoformat()


def days(a: dt.date, b: dt.date) -> int:
    return (b - a).days


# ---------------------------------------------------------------------------
# The expected year, by hand. Each entry: (outcome, recorded dates of the
# active strikes after the run, as (rule, date)). None: not in the snapshot.
# ---------------------------------------------------------------------------

# A (Alder): late payments in Jan, Feb and Jun, cost above revenue in Apr.
assert days(JAN, FEB) == 31 < COOLDOWN          # Feb: the same strike as Jan
assert days(JAN, JUN) == 151 >= COOLDOWN        # Jun: a new late-payments strike ...
assert days(JAN, JUN) < WINDOW                  # ... while Jan's still counts: 3 -> offboard
A = {JAN: ("warn", [(LATE, JAN)]),
     FEB: ("warn", [(LATE, JAN)]),
     MAR: ("warn", [(LATE, JAN)]),
     APR: ("final_notice", [(LATE, JAN), (COST, APR)]),
     MAY: ("final_notice", [(LATE, JAN), (COST, APR)]),
     JUN: ("offboard", [(LATE, JAN), (COST, APR), (LATE, JUN)]),
     # Jan's strike has expired (180 days), but cost is above revenue again:
     # a new strike (91 days after April's), then the same one in August.
     JUL: ("offboard", [(COST, APR), (LATE, JUN), (COST, JUL)]),
     AUG: ("offboard", [(COST, APR), (LATE, JUN), (COST, JUL)])}
assert JAN + dt.timedelta(days=WINDOW) < JUL and days(APR, JUL) >= COOLDOWN
# Alder's offboarding (60 days' notice from June: 2026-07-31) is approved in
# June; July keeps that date, August (after it) makes it effective; gone from
# September.
A_EFFECTIVE = "2026-07-31"

# B (Birch): late payments in Feb only; the strike expires 180 days later.
assert FEB + dt.timedelta(days=WINDOW) == dt.date(2026, 7, 31)
assert days(FEB, JUL) == 150 < WINDOW           # Jul: still active
assert days(FEB, AUG) == 181 >= WINDOW          # Aug: expired, back to keep
B = {JAN: ("keep", []),
     **{m: ("warn", [(LATE, FEB)]) for m in (FEB, MAR, APR, MAY, JUN, JUL)},
     **{m: ("keep", []) for m in (AUG, SEP, OCT, NOV, DEC)}}

# C (Cedar): cost above revenue Jan-Sep, shielded until 2026-06-15 (no strike
# is recorded for a shielded rule), then strikes in Jul and Sep.
assert JUN < C_EXPIRES <= JUL
assert days(JUL, AUG) == 31 < COOLDOWN          # Aug: the same strike as Jul
assert days(JUL, SEP) == 62 >= COOLDOWN         # Sep: a new one
assert days(JUL, DEC) == 153 < WINDOW           # Jul's strike still counts in Dec
C = {**{m: ("exempt", []) for m in (JAN, FEB, MAR, APR, MAY, JUN)},
     JUL: ("warn", [(COST, JUL)]),
     AUG: ("warn", [(COST, JUL)]),
     **{m: ("final_notice", [(COST, JUL), (COST, SEP)]) for m in (SEP, OCT, NOV, DEC)}}

# D (Dogwood): late payments every month from Aug. The cool-down runs from
# the latest *strike*, not from the latest firing: Oct is 30 days after
# Sep's firing but 61 after Aug's strike, so it is a new strike.
assert days(AUG, SEP) == 31 < COOLDOWN
assert days(SEP, OCT) == 30 < COOLDOWN and days(AUG, OCT) == 61 >= COOLDOWN
assert days(OCT, NOV) == 31 < COOLDOWN
assert days(OCT, DEC) == 61 >= COOLDOWN and days(AUG, DEC) == 122 < WINDOW
D = {**{m: ("keep", []) for m in (JAN, FEB, MAR, APR, MAY, JUN, JUL)},
     AUG: ("warn", [(LATE, AUG)]),
     SEP: ("warn", [(LATE, AUG)]),
     OCT: ("final_notice", [(LATE, AUG), (LATE, OCT)]),
     NOV: ("final_notice", [(LATE, AUG), (LATE, OCT)]),
     DEC: ("offboard", [(LATE, AUG), (LATE, OCT), (LATE, DEC)])}

# The others: E exempt all year (registry exemption), F watch May-Aug (a flag),
# G warn in Mar only (the strike is pardoned), H keep.
OTHERS = {
    "CUST-E": {m: "exempt" for m in MONTHS},
    "CUST-F": {m: "watch" if MAY <= m <= AUG else "keep" for m in MONTHS},
    "CUST-G": {m: "warn" if m == MAR else "keep" for m in MONTHS},
    "CUST-H": {m: "keep" for m in MONTHS},
}
# I (Ivy): late payments in Feb and Mar (the same strike), cost above revenue
# in Apr and May (a second strike, then the same one): final_notice. After
# the May run a registry exemption for every rule until 2026-08-15: Jun-Aug
# exempt, with the strikes set aside (not counted); they stay in the ledger.
# From Sep the exemption no longer applies: the Apr strike is still inside
# its window and counts again, the Feb one closed on 2026-07-31 and does not.
assert days(FEB, MAR) == 28 < COOLDOWN and days(APR, MAY) == 30 < COOLDOWN
assert FEB + dt.timedelta(days=WINDOW) == dt.date(2026, 7, 31) < I_UNTIL
assert APR + dt.timedelta(days=WINDOW) == dt.date(2026, 9, 28)
assert AUG < I_UNTIL <= SEP < dt.date(2026, 9, 28) < OCT
IVY = {JAN: ("keep", []),
       FEB: ("warn", [(LATE, FEB)]),
       MAR: ("warn", [(LATE, FEB)]),
       APR: ("final_notice", [(LATE, FEB), (COST, APR)]),
       MAY: ("final_notice", [(LATE, FEB), (COST, APR)]),
       **{m: ("exempt", []) for m in (JUN, JUL, AUG)},
       SEP: ("warn", [(COST, APR)]),
       **{m: ("keep", []) for m in (OCT, NOV, DEC)}}
# The strikes set aside, by month (all by Ivy's exemption, registry-2).
I_ASIDE = {JUN: [(LATE, FEB), (COST, APR)], JUL: [(LATE, FEB), (COST, APR)],
           AUG: [(COST, APR)]}

EXPECTED = {"CUST-A": A, "CUST-B": B, "CUST-C": C, "CUST-D": D, "CUST-I": IVY}

# Repeats (the same rule firing within the cool-down): month -> (customer, rule, strike date)
REPEATS = {FEB: [("CUST-A", LATE, JAN)], MAR: [("CUST-I", LATE, FEB)],
           MAY: [("CUST-I", COST, APR)], AUG: [("CUST-A", COST, JUL), ("CUST-C", COST, JUL)],
           SEP: [("CUST-D", LATE, AUG)], NOV: [("CUST-D", LATE, OCT)]}


# ---------------------------------------------------------------------------
# Running the year
# ---------------------------------------------------------------------------

class Adieu:
    def __init__(self, db: Path):
        self.db = db
        self.runner = CliRunner()

    def __call__(self, *args: str, code: int | None = 0) -> Result:
        """Run adieu on this database; check the exit code unless code is None."""
        result = self.runner.invoke(cli, [*args, "--db", str(self.db)])
        assert code is None or result.exit_code == code, (args, result.output)
        return result

    def evaluate(self, day: dt.date, *more: str, code: int = 0,
                 source: Path | None = None) -> Result:
        source = source or SNAPSHOTS / f"{day.isoformat()}.csv"
        return self("evaluate", str(POLICY), "--source", f"csv:{source}", "--as-of",
                    day.isoformat(), "--json", *more, code=code)

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        conn = sqlite3.connect(self.db)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    def counts(self) -> dict[str, int]:
        return {t: self.query(f"select count(*) from {t}")[0][0]
                for t in ("runs", "decisions", "strikes", "audit", "cases", "exemptions")}


class Year:
    """Everything the year's commands printed, by step."""

    def __init__(self, db: Path):
        self.adieu = Adieu(db)
        self.runs: dict[dt.date, dict] = {}         # month -> evaluate --json
        self.steps: dict[str, Result] = {}


@pytest.fixture(scope="module")
def year(tmp_path_factory: pytest.TempPathFactory) -> Year:
    with pytest.MonkeyPatch.context() as mp:
        for name in ("ADIEU_LOAD_PLUGINS", "ADIEU_DB", "ADIEU_RAISE_ERRORS"):
            mp.delenv(name, raising=False)
        y = Year(tmp_path_factory.mktemp("scenario") / "scenario.db")
        adieu = y.adieu
        y.steps["exempt"] = adieu(
            "exempt", "CUST-E", "--rules", COST, "--reason", "Reference account",
            "--approver", "Chief Commercial Officer", "--until", "2027-01-01",
            "--new-customer")  # before the first run
        for month in MONTHS:
            y.runs[month] = json.loads(adieu.evaluate(month).stdout)
            if month == MAY:
                y.steps["exempt-ivy"] = adieu(
                    "exempt", "CUST-I", "--all", "--reason", "Strategic reference",
                    "--approver", "CEO", "--until", I_UNTIL.isoformat())
            if month == MAR:
                y.steps["pardon"] = adieu(
                    "strikes", "pardon", "CUST-G", LATE, "--by", "Gustav Berg",
                    "--reason", "late payments caused by our invoicing error")
            if month in (JUN, DEC):
                cid, owner, run = ("CUST-A", "ana ruiz", 6) if month == JUN \
                    else ("CUST-D", "David Kim", 12)
                tag = month.strftime("%b").lower()
                # The reviewer approved on the run's as-of date, recorded now
                # (--on; no faked clock): an approval on a later day would leave
                # the customer less than the policy's notice and the date would
                # be set again (tests/test_case_faults.py, late approvals).
                # Checked by test_offboard_waits_for_an_independent_approval.
                y.steps[f"pending-{tag}"] = adieu("pending", "--json")
                y.steps[f"owner-{tag}"] = adieu("approve", cid, "--run", str(run), "--by",
                                                owner, "--on", month.isoformat(), code=None)
                y.steps[f"approve-{tag}"] = adieu("approve", cid, "--run", str(run), "--by",
                                                  REVIEWER, "--note", "reviewed", "--on",
                                                  month.isoformat(), code=None)
                y.steps[f"pending-after-{tag}"] = adieu("pending", "--run", str(run),
                                                        code=None)
        yield y


@pytest.fixture
def copy(year: Year, tmp_path: Path) -> Adieu:
    """A copy of the year's database, for tests that write to it."""
    target = tmp_path / "copy.db"
    src, dst = sqlite3.connect(year.adieu.db), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    return Adieu(target)


def decision(year: Year, month: dt.date, cid: str) -> dict | None:
    return next((d for d in year.runs[month]["decisions"] if d["customer_id"] == cid), None)


# ---------------------------------------------------------------------------
# The year
# ---------------------------------------------------------------------------

def test_runs_are_numbered_by_month(year: Year) -> None:
    assert [year.runs[m]["run"]["id"] for m in MONTHS] == list(range(1, 13))
    assert not any(year.runs[m]["run"]["already_recorded"] for m in MONTHS)


@pytest.mark.parametrize("cid", sorted(EXPECTED))
def test_outcome_and_active_strikes_every_month(year: Year, cid: str) -> None:
    got, want = {}, {}
    for month in MONTHS:
        d = decision(year, month, cid)
        got[month] = None if d is None else (
            d["outcome"], d["strikes"],
            sorted((s["rule"], s["recorded_on"]) for s in d["active_strikes"]))
        expected = EXPECTED[cid].get(month)
        want[month] = None if expected is None else (
            expected[0], len(expected[1]),
            sorted((rule, day.isoformat()) for rule, day in expected[1]))
    assert got == want


def test_the_other_customers(year: Year) -> None:
    for cid, months in OTHERS.items():
        assert {m: decision(year, m, cid)["outcome"] for m in MONTHS} == months, cid


def test_the_same_rule_within_the_cool_down_is_the_same_strike(year: Year) -> None:
    for month in MONTHS:
        repeats = sorted((d["customer_id"], s["rule"], s["recorded_on"])
                         for d in year.runs[month]["decisions"] for s in d["repeat_strikes"])
        assert repeats == sorted((c, r, day.isoformat())
                                 for c, r, day in REPEATS.get(month, [])), month
    feb = decision(year, FEB, "CUST-A")
    assert feb["new_strikes"] == []
    assert (f"{LATE} fired again within the 45-day cool-down of its strike of 2026-01-01: "
            "same strike") in feb["notes"]
    # Oct: 30 days after Sep's firing, but 61 after Aug's strike: new.
    assert decision(year, OCT, "CUST-D")["new_strikes"] == [LATE]


def test_new_strikes_are_recorded_once_in_the_ledger(year: Year) -> None:
    rows = year.adieu.query("select customer_id, rule, recorded_on, expires_on, run_id, "
                            "pardoned_by from strikes order by id")
    expected = [("CUST-A", LATE, JAN, 1), ("CUST-B", LATE, FEB, 2), ("CUST-I", LATE, FEB, 2),
                ("CUST-G", LATE, MAR, 3), ("CUST-A", COST, APR, 4), ("CUST-I", COST, APR, 4),
                ("CUST-A", LATE, JUN, 6), ("CUST-A", COST, JUL, 7), ("CUST-C", COST, JUL, 7),
                ("CUST-D", LATE, AUG, 8), ("CUST-C", COST, SEP, 9), ("CUST-D", LATE, OCT, 10),
                ("CUST-D", LATE, DEC, 12)]
    assert [r[:5] for r in rows] == [
        (c, rule, day.isoformat(), (day + dt.timedelta(days=WINDOW)).isoformat(), run)
        for c, rule, day, run in expected]
    assert [r[5] for r in rows] == [None, None, None, "Gustav Berg"] + [None] * 9
    assert [year.runs[m]["run"]["id"] for m in MONTHS] == list(range(1, 13))


def test_the_exemption_expires_mid_year(year: Year) -> None:
    note = "exemption cedar-launch-reference expired on 2026-06-15"
    for month in MONTHS:
        d = decision(year, month, "CUST-C")
        if month < C_EXPIRES:
            # Shielded, but still recorded as "would have fired".
            assert [e["id"] for e in d["exemptions"]] == ["cedar-launch-reference"]
            assert [(r["rule"], r["shielded_by"]) for r in d["shielded"]] == \
                [(COST, "cedar-launch-reference")]
            assert d["fired"] == [] and d["new_strikes"] == []
            assert "exempt: without exemptions the outcome would be warn" in d["notes"]
            assert note not in d["notes"]
        elif month <= SEP:
            assert d["exemptions"] == [] and d["shielded"] == []
            assert [e["id"] for e in d["expired_exemptions"]] == ["cedar-launch-reference"]
            assert note in d["notes"]
            assert [r["rule"] for r in d["fired"]] == [COST]
        else:
            assert note in d["notes"] and d["fired"] == []


def test_the_registry_exemption_applies_all_year(year: Year) -> None:
    assert "exemption registry-1 recorded for CUST-E" in year.steps["exempt"].stdout
    for month in MONTHS:
        d = decision(year, month, "CUST-E")
        assert d["outcome"] == "exempt"
        assert [(e["id"], e["source"]) for e in d["exemptions"]] == [("registry-1", "registry")]
        assert [r["shielded_by"] for r in d["shielded"]] == ["registry-1"]


def test_an_exemption_sets_aside_earlier_strikes(year: Year) -> None:
    assert "exemption registry-2 recorded for CUST-I: all rules until 2026-08-15" in \
        year.steps["exempt-ivy"].stdout
    for month in MONTHS:
        d = decision(year, month, "CUST-I")
        assert sorted((s["rule"], s["recorded_on"], s["exemption"])
                      for s in d["set_aside_strikes"]) == \
            sorted((rule, day.isoformat(), "registry-2")
                   for rule, day in I_ASIDE.get(month, [])), month
        if month in I_ASIDE:
            # What the ladder says with every strike counted.
            base = "final_notice" if len(I_ASIDE[month]) == 2 else "warn"
            assert (d["base_outcome"], d["strikes"], d["active_strikes"]) == (base, 0, [])
            assert f"exempt: without exemptions the outcome would be {base}" in d["notes"]
            assert d["new_strikes"] == [] and d["fired"] == []
    sep = decision(year, SEP, "CUST-I")
    assert "exemption registry-2 expired on 2026-08-15" in sep["notes"]
    # The ledger is untouched: Ivy's two strikes, neither pardoned nor superseded.
    assert year.adieu.query("select rule, recorded_on, pardoned_at, superseded_by_run from "
                            "strikes where customer_id = 'CUST-I' order by id") == \
        [(LATE, FEB.isoformat(), None, None), (COST, APR.isoformat(), None, None)]

    text = year.adieu("explain", "CUST-I", "--run", "6").stdout
    assert text.startswith("CUST-I: EXEMPT  (run 6")
    assert "rules alone say: final_notice" in text
    assert "strikes set aside while an exemption applies: 2" in text
    assert ("    cost-exceeds-revenue: recorded 2026-04-01, expires 2026-09-28; set aside by "
            "exemption registry-2") in text
    text = year.adieu("explain", "CUST-I", "--run", "9").stdout
    assert text.startswith("CUST-I: WARN  (run 9")
    assert "    cost-exceeds-revenue: recorded 2026-04-01, expires 2026-09-28\n" in text
    assert "set aside" not in text

    runs = {e["as_of"]: e for e in json.loads(year.adieu("history", "CUST-I",
                                                         "--json").stdout)["runs"]}
    assert runs[AUG.isoformat()]["expired_strikes"] == ["late-payments (2026-02-01)"]
    assert runs[SEP.isoformat()]["strikes_counting_again"] == \
        ["cost-exceeds-revenue (2026-04-01), set aside by exemption registry-2 before"]
    assert all(e["pardoned_strikes"] == [] for e in runs.values())
    assert runs[OCT.isoformat()]["expired_strikes"] == ["cost-exceeds-revenue (2026-04-01)"]
    text = year.adieu("history", "CUST-I").stdout
    assert ("strikes set aside: late-payments (2026-02-01) by registry-2; "
            "cost-exceeds-revenue (2026-04-01) by registry-2") in text
    assert ("strikes counting again: cost-exceeds-revenue (2026-04-01), set aside by "
            "exemption registry-2 before") in text


def test_a_pardoned_strike_no_longer_counts(year: Year) -> None:
    assert "pardoned strike #4 (late-payments, recorded 2026-03-01) of CUST-G" in \
        year.steps["pardon"].stdout
    assert decision(year, MAR, "CUST-G")["strikes"] == 1
    assert decision(year, APR, "CUST-G")["strikes"] == 0  # would be 1 until Aug otherwise
    assert year.adieu.query("select count(*) from audit where kind = 'pardon' and "
                            "customer_id = 'CUST-G'") == [(1,)]
    runs = json.loads(year.adieu("history", "CUST-G", "--json").stdout)["runs"]
    apr = next(e for e in runs if e["as_of"] == APR.isoformat())
    assert apr["pardoned_strikes"] == [
        "late-payments (2026-03-01) by Gustav Berg: late payments caused by our invoicing error"]
    assert apr["expired_strikes"] == []  # it would have counted until 2026-08-28
    text = year.adieu("history", "CUST-G").stdout
    assert "pardoned strikes: late-payments (2026-03-01)" in text
    assert "pardoned: late-payments of 2026-03-01 by Gustav Berg" in text


@pytest.mark.parametrize("month, cid, run, owner", [("jun", "CUST-A", 6, "ana ruiz"),
                                                     ("dec", "CUST-D", 12, "David Kim")])
def test_offboard_waits_for_an_independent_approval(year: Year, month: str, cid: str,
                                                    run: int, owner: str) -> None:
    pending = json.loads(year.steps[f"pending-{month}"].stdout)
    assert [(p["customer_id"], p["run_id"]) for p in pending] == [(cid, run)]
    item = pending[0]
    assert item["strikes"] == 3 and item["owner"].casefold() == owner.casefold()
    assert item["figures"] == {LATE: {"late_payment_limit": 3, "late_payments_12m": 3}}
    assert item["effective_date"] == (A_EFFECTIVE if cid == "CUST-A" else "2027-02-26")
    refused = year.steps[f"owner-{month}"]
    assert refused.exit_code == 2
    assert "is the account owner of" in refused.stderr and "independent reviewer" in \
        refused.stderr
    assert year.steps[f"approve-{month}"].exit_code == 0
    case = 1 if cid == "CUST-A" else 2
    assert f"{cid} (case {case}, run {run}): offboarding approved by {REVIEWER}" in \
        year.steps[f"approve-{month}"].stdout
    assert year.steps[f"pending-after-{month}"].stdout.strip() == "nothing waits for review"
    assert year.adieu.query("select id, reviewer, review_run, opened_run from cases where "
                            "customer_id = ?", (cid,)) == [(case, REVIEWER, run, run)]
    assert year.adieu.query("select count(*) from audit where kind = 'case' and payload like "
                            "'%\"event\":\"approved\"%' and customer_id = ?", (cid,)) == [(1,)]


def test_an_approved_offboarding_keeps_its_date_until_it_takes_effect(year: Year) -> None:
    """Alder, approved in June: July still proposes offboarding and shows the
    same date (not 60 days from July), August is after it: effective."""
    alder = {m: decision(year, m, "CUST-A") for m in (JUN, JUL, AUG)}
    assert {m: d["effective_date"] for m, d in alder.items()} == \
        {JUN: A_EFFECTIVE, JUL: A_EFFECTIVE, AUG: A_EFFECTIVE}
    assert alder[JUN]["timing_basis"] == "60-day notice period"
    for m in (JUL, AUG):
        assert alder[m]["timing_basis"].startswith(
            "60-day notice period; kept from case 1 approved on ")
        assert alder[m]["timing_basis"].endswith(f" by {REVIEWER}")
        assert alder[m]["phase_out_start"] == "2026-07-01"
    assert "case 1 (approved): effective date 2026-07-31 kept" in alder[JUL]["notes"]
    assert f"case 1: offboarding effective since 2026-07-31 (approved by {REVIEWER})" in \
        alder[AUG]["notes"]
    assert year.adieu.query("select state, opened_run, latest_run, closed_run, effective_date "
                            "from cases where customer_id = 'CUST-A'") == \
        [("effective", 6, 8, 8, A_EFFECTIVE)]
    events = [json.loads(p)["event"] for (p,) in year.adieu.query(
        "select payload from audit where kind = 'case' and customer_id = 'CUST-A' order by seq")]
    assert events == ["opened", "approved", "kept", "effective"]
    text = year.adieu("explain", "CUST-A", "--run", "7").stdout
    assert "case 1: effective, effective 2026-07-31" in text
    assert "pending approval" not in text


def test_history_shows_the_ladder_climb(year: Year) -> None:
    data = json.loads(year.adieu("history", "CUST-A", "--json").stdout)
    assert [(e["as_of"], e["outcome"], e["strikes"]) for e in data["runs"]] == [
        (m.isoformat(), A[m][0], len(A[m][1])) for m in MONTHS[:8]]
    assert data["runs"][1]["repeat_strikes"] == [LATE]
    assert data["runs"][3]["changes"][:2] == ["outcome warn -> final_notice",
                                              "active strikes 1 -> 2"]
    assert [(c["id"], c["state"], c["reviewer"], c["review_note"]) for c in data["cases"]] == \
        [(1, "effective", REVIEWER, "reviewed")]
    text = year.adieu("history", "CUST-A").stdout
    assert "same strike (cool-down): late-payments" in text
    assert "outcome final_notice -> offboard" in text
    assert f"approved by {REVIEWER}" in text

    birch = json.loads(year.adieu("history", "CUST-B", "--json").stdout)["runs"]
    aug = next(e for e in birch if e["as_of"] == AUG.isoformat())
    assert aug["expired_strikes"] == ["late-payments (2026-02-01)"]
    assert aug["pardoned_strikes"] == []
    assert "outcome warn -> keep" in aug["changes"]

    cedar = json.loads(year.adieu("history", "CUST-C", "--json").stdout)["runs"]
    jul = next(e for e in cedar if e["as_of"] == JUL.isoformat())
    assert "exemption cedar-launch-reference expired" in jul["changes"]


def test_strikes_command_shows_the_ledger(year: Year) -> None:
    text = year.adieu("strikes", "CUST-D", "--as-of", DEC.isoformat()).stdout
    assert "CUST-D: 3 active strike(s) as of 2026-12-01" in text
    assert "recorded 2026-08-01 (run 8), expires 2027-01-28: active" in text
    rows = json.loads(year.adieu("strikes", "CUST-B", "--as-of", DEC.isoformat(),
                                 "--json").stdout)
    assert [(r["recorded_on"], r["status"]) for r in rows] == [("2026-02-01", "expired")]
    rows = json.loads(year.adieu("strikes", "CUST-G", "--json").stdout)
    assert [r["status"] for r in rows] == ["pardoned"]


def test_the_audit_trail_is_intact_and_complete(year: Year) -> None:
    result = year.adieu("audit", "verify")
    assert result.stdout.startswith("audit trail intact: ")
    kinds = dict(year.adieu.query("select kind, count(*) from audit group by kind"))
    # The decisions (9 a month, 8 after August: Alder left): one batch entry a run.
    assert year.adieu.query("select sum(customers) from runs") == [(9 * 8 + 8 * 4,)]
    # Cases: Alder's opened, approved, kept, effective; Dogwood's opened, approved.
    # Each run's rejects (m009); no run shares its as-of date: no supersede.
    assert kinds == {"exemption": 2, "run": 12, "decisions": 12, "strike": 13,
                     "pardon": 1, "case": 6, "rejects": 12}


@pytest.mark.parametrize("run", range(1, 13))
def test_replay_reproduces_every_run(year: Year, run: int) -> None:
    result = year.adieu("replay", str(run))
    assert result.stdout.strip().endswith("0 difference(s)")
    data = json.loads(year.adieu("replay", str(run), "--json").stdout)
    assert data["differences"] == []
    assert data["checked"] == (9 if run <= 8 else 8)
    assert data["as_of"] == MONTHS[run - 1].isoformat()


# ---------------------------------------------------------------------------
# Re-running, backfill
# ---------------------------------------------------------------------------

def test_re_running_any_month_changes_nothing(copy: Adieu) -> None:
    before = copy.counts()
    # Months from June on: what every customer remembers is unchanged since,
    # but for June and December, whose runs opened a case that was approved
    # after the run: that approval is memory for a re-run of the date
    # (test_a_re_run_of_a_month_honours_its_approval).
    for i, month in enumerate(MONTHS, 1):
        if month < JUN or month in (JUN, DEC):
            continue
        # Earlier months than the latest run need --backfill, and are then
        # recognised as the same run all the same.
        result = copy.evaluate(month, *([] if month == DEC else ["--backfill"]))
        assert f"run {i} already recorded these facts" in result.stderr
        assert "nothing new was written" in result.stderr
        run = json.loads(result.stdout)["run"]
        assert run["id"] == i and run["already_recorded"] is True
        assert copy.counts() == before, month
    copy("audit", "verify")


def test_a_re_run_of_a_month_honours_its_approval(copy: Adieu) -> None:
    """December's run opened Dogwood's case, approved after it: a re-run of
    December keeps the approved date (a new run: its memory holds the
    approval), and running the same snapshot once more is that run."""
    before = copy.counts()
    first = json.loads(copy.evaluate(DEC).stdout)
    assert first["run"]["already_recorded"] is False
    dogwood = next(d for d in first["decisions"] if d["customer_id"] == "CUST-D")
    assert dogwood["effective_date"] == "2027-02-26"
    assert f"kept from case 2 approved on {DEC.isoformat()} by {REVIEWER}" in \
        dogwood["timing_basis"]
    assert copy.query("select state, effective_date from cases where id = 2") == \
        [("approved", "2027-02-26")]
    again = copy.evaluate(DEC)
    assert f"run {before['runs'] + 1} already recorded these facts" in again.stderr
    copy("audit", "verify")


def test_a_month_before_a_new_registry_exemption_is_a_new_run(copy: Adieu) -> None:
    # Ivy's exemption was recorded after the May run. A registry exemption
    # has no start date, so it is part of what Ivy remembers in any run, and
    # May evaluated again is no longer the same run: Ivy is exempt in it.
    result = copy.evaluate(MAY, "--backfill")
    data = json.loads(result.stdout)
    assert data["run"]["id"] == 13 and data["run"]["already_recorded"] is False
    ivy = next(d for d in data["decisions"] if d["customer_id"] == "CUST-I")
    assert (ivy["outcome"], ivy["base_outcome"], ivy["strikes"]) == \
        ("exempt", "final_notice", 0)
    assert [s["rule"] for s in ivy["set_aside_strikes"]] == [LATE, COST]
    copy("replay", "13")
    copy("audit", "verify")


def test_re_running_the_latest_month_right_away_changes_nothing(tmp_path: Path) -> None:
    adieu = Adieu(tmp_path / "two.db")
    adieu.evaluate(JAN)
    before = adieu.counts()
    again = adieu.evaluate(JAN)
    assert "run 1 already recorded" in again.stderr
    assert adieu.counts() == before
    assert json.loads(again.stdout)["decisions"] == json.loads(
        adieu.evaluate(JAN).stdout)["decisions"]


def test_an_earlier_month_needs_backfill(copy: Adieu, tmp_path: Path) -> None:
    before = copy.counts()
    refused = copy.evaluate(MAR, code=2)
    assert "as-of date 2026-03-01 is before the latest run's (2026-12-01); pass --backfill" \
        in refused.stderr
    assert copy.counts() == before

    # A corrected March snapshot (Hazel's late payments came in late) is
    # accepted with --backfill and recorded as a backfill run.
    lines = (SNAPSHOTS / "2026-03-01.csv").read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    late = header.index("late_payments_12m")
    fixed = []
    for line in lines:
        cells = line.split(",")
        if cells[0] == "CUST-H":
            cells[late] = "5"
        fixed.append(",".join(cells))
    corrected = tmp_path / "2026-03-01-corrected.csv"
    corrected.write_text("\n".join(fixed) + "\n", encoding="utf-8")
    result = copy.evaluate(MAR, "--backfill", source=corrected)
    data = json.loads(result.stdout)
    assert data["run"]["id"] == 13 and data["run"]["already_recorded"] is False
    hazel = next(d for d in data["decisions"] if d["customer_id"] == "CUST-H")
    assert hazel["outcome"] == "warn" and hazel["new_strikes"] == [LATE]
    assert copy.query("select backfill, as_of from runs where id = 13") == [(1, "2026-03-01")]
    assert copy.query("select recorded_on from strikes where customer_id = 'CUST-H'") == \
        [("2026-03-01",)]
    copy("replay", "13")
    copy("audit", "verify")


# ---------------------------------------------------------------------------
# The example files
# ---------------------------------------------------------------------------

def test_the_committed_snapshots_are_what_the_script_writes(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(SCENARIO / "make_snapshots.py"), str(tmp_path)],
                   check=True)
    written = sorted(p.name for p in tmp_path.glob("*.csv"))
    assert written == [f"{m.isoformat()}.csv" for m in MONTHS]
    assert written == sorted(p.name for p in SNAPSHOTS.glob("*.csv"))
    for name in written:
        assert (tmp_path / name).read_bytes() == (SNAPSHOTS / name).read_bytes(), name


def test_run_sh_is_valid_bash_and_follows_the_same_steps() -> None:
    script = SCENARIO / "run.sh"
    if shutil.which("bash"):
        subprocess.run(["bash", "-n", str(script)], check=True)
    text = script.read_text(encoding="utf-8")
    for step in ("adieu exempt CUST-E", "adieu exempt CUST-I --all",
                 "adieu explain CUST-I", "adieu history CUST-I",
                 "adieu strikes pardon CUST-G late-payments",
                 'adieu approve CUST-A --run 6 --by "$REVIEWER"',
                 'adieu approve CUST-D --run 12 --by "$REVIEWER"', "adieu history CUST-A",
                 "adieu audit verify", 'adieu replay "$run"', "--backfill"):
        assert step in text, step


ADIEU_SCRIPT = shutil.which("adieu", path=str(Path(sys.executable).parent))


def run_script(folder: Path) -> subprocess.CompletedProcess:
    """run.sh in a copy of examples/scenario, with the installed console
    script and the machine's own clock (no DOCRUN_CLOCK, no sitecustomize)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ADIEU_", "DOCRUN_", "PYTHON"))}
    env["ADIEU"] = ADIEU_SCRIPT or "adieu"
    return subprocess.run(["bash", str(folder / "run.sh")], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def scenario_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("run-sh") / "scenario"
    shutil.copytree(SCENARIO, folder, ignore=shutil.ignore_patterns("*.db", "*.db-*"))
    return folder


@pytest.mark.skipif(not shutil.which("bash"), reason="run.sh is a bash script")
def test_run_sh_tells_the_guides_story_on_the_real_clock(scenario_copy: Path) -> None:
    """Issue 11 (B1): on today's date, Alder's approved case keeps 2026-07-31
    in July and is effective in August (the approval is recorded with the
    day it was made, --on), and the script exits 0 having checked so."""
    assert dt.date.today() >= DEC  # the year is told after the fact
    done = run_script(scenario_copy)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    out = done.stdout
    july = out.split("== Alder is still proposed")[1].split("\n== ")[0]
    assert "  case 1: approved, effective 2026-07-31 (opened by run 6 as of 2026-06-01, " \
           "latest run 7 as of 2026-07-01), approved by Mara Lind on 2026-06-01" in july
    august = out.split("== The August run is after 2026-07-31")[1].split("\n== ")[0]
    assert "case 1: effective, effective 2026-07-31 (opened by run 6 as of 2026-06-01, " \
           "latest run 8 as of 2026-08-01)" in august
    assert "counted from the approval" not in out
    assert out.rstrip().endswith(f"== Done: the year is in {scenario_copy}/scenario.db")


@pytest.mark.skipif(not shutil.which("bash"), reason="run.sh is a bash script")
def test_run_sh_fails_when_the_story_differs(tmp_path: Path) -> None:
    """Approved without --on (today, months after the run), Alder's date is
    set again in July: the script stops there with exit code 1."""
    folder = tmp_path / "scenario"
    shutil.copytree(SCENARIO, folder, ignore=shutil.ignore_patterns("*.db", "*.db-*"))
    script = folder / "run.sh"
    text = script.read_text(encoding="utf-8")
    assert text.count("--on 2026-06-01 ") == 1
    script.write_text(text.replace("--on 2026-06-01 ", ""), encoding="utf-8")
    done = run_script(folder)
    assert done.returncode == 1
    assert done.stderr.endswith('expected "case 1: approved, effective 2026-07-31" in the '
                                "output of: adieu explain CUST-A --db scenario.db\n")
