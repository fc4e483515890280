"""`adieu approve --on DATE` / `adieu reject --on DATE`: a review made
earlier than it is recorded (issue 11, B1). The policy's notice counts from
the stated day, which may be neither after today nor before the as-of date
of the run reviewed; the case row and its audit entry keep the stated day
(reviewed_on) and the real time of recording (reviewed_at, the entry's at).

Over examples/scenario's first eight months, on today's real clock: Alder
(CUST-A) reaches offboard in June with 60 days' notice to 2026-07-31."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from adieu.cli import cli

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "examples" / "scenario"


def adieu(db: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [*args, "--db", str(db)])
    return result.exit_code, result.output


def months(db: Path, *numbers: int) -> None:
    for m in numbers:
        day = f"2026-{m:02d}-01"
        code, out = adieu(db, "evaluate", str(SCENARIO / "scenario.yaml"), "--source",
                          f"csv:{SCENARIO / 'snapshots' / f'{day}.csv'}", "--as-of", day, "-q")
        assert code == 0, out


@pytest.fixture
def june(tmp_path: Path) -> Path:
    db = tmp_path / "year.db"
    code, out = adieu(db, "exempt", "CUST-E", "--rules", "cost-exceeds-revenue", "--reason",
                      "Reference account", "--approver", "CCO", "--until", "2099-01-01",
                      "--new-customer")
    assert code == 0, out
    months(db, 1, 2, 3, 4, 5, 6)
    return db


def audit_rows(db: Path) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("select seq, at, kind, payload from audit order by seq").fetchall()
    finally:
        conn.close()


def test_an_approval_on_the_day_of_the_run_keeps_the_date_and_becomes_effective(june: Path):
    today = dt.datetime.now(dt.timezone.utc).date().isoformat()
    assert today > "2026-06-01"  # the story is told after the fact
    code, out = adieu(june, "approve", "CUST-A", "--run", "6", "--by", "Mara Lind",
                      "--on", "2026-06-01")
    # the date passed before the approval was recorded: said, not refused (RB2)
    assert (code, out) == (0, f"warning: case 1's date 2026-07-31 has passed (the approval of "
                              f"2026-06-01 was recorded on {today}): the next run records the "
                              "offboarding as effective since 2026-07-31 although no letter "
                              "has gone out; if the customer has not been told, revoke the "
                              "approval and approve again without --on\n"
                              "CUST-A (case 1, run 6): offboarding approved by Mara Lind on "
                              "2026-06-01, effective 2026-07-31\n")
    seq, at, kind, payload = audit_rows(june)[-1]
    case = json.loads(payload)["case"]
    assert (kind, case["reviewed_on"], case["reviewed_at"][:10], at[:10]) == \
        ("case", "2026-06-01", today, today)
    assert case["reviewed_at"] == at
    months(june, 7)
    code, out = adieu(june, "explain", "CUST-A", "--run", "7")
    assert "  case 1: approved, effective 2026-07-31 (opened by run 6 as of 2026-06-01, " \
           "latest run 7 as of 2026-07-01), approved by Mara Lind on 2026-06-01 (recorded " \
           f"at {at})\n" in out
    assert "counted from the approval" not in out
    months(june, 8)
    code, out = adieu(june, "history", "CUST-A")
    assert "case 1: effective, effective 2026-07-31 (opened by run 6" in out
    assert f"    {at}  approved (run 6) by Mara Lind on 2026-06-01\n" in out
    assert adieu(june, "audit", "verify")[0] == 0


def test_without_on_the_review_is_of_today_and_the_date_is_set_again(june: Path):
    code, out = adieu(june, "approve", "CUST-A", "--run", "6", "--by", "Mara Lind")
    assert code == 0 and "offboarding approved by Mara Lind, effective 2026-07-31" in out
    months(june, 7)
    code, out = adieu(june, "explain", "CUST-A", "--run", "7")
    assert "case 1: approved, effective 2026-07-31" not in out
    assert "counted from the approval on " in out


@pytest.mark.parametrize(("on", "message"), [
    ("2999-01-01", "Error: --on 2999-01-01 is after today ({today}); state the day the review "
                   "was made\n"),
    ("2026-05-31", "Error: --on 2026-05-31 is before 2026-06-01, the as-of date of run 6, the "
                   "run of CUST-A's case 1 being reviewed; a review cannot precede its run\n"),
])
@pytest.mark.parametrize("verb", ["approve", "reject"])
def test_a_day_after_today_or_before_the_run_is_refused(june: Path, verb: str, on: str,
                                                        message: str):
    before = audit_rows(june)
    code, out = adieu(june, verb, "CUST-A", "--by", "Mara Lind", "--on", on)
    today = dt.datetime.now(dt.timezone.utc).date().isoformat()
    assert (code, out) == (2, message.format(today=today))
    assert audit_rows(june) == before


def test_a_rejection_on_a_stated_day(june: Path):
    code, out = adieu(june, "reject", "CUST-A", "--by", "Mara Lind", "--on", "2026-06-02")
    assert (code, out) == (0, "CUST-A (case 1, run 6): offboarding rejected by Mara Lind on "
                              "2026-06-02\n")
    code, out = adieu(june, "history", "CUST-A", "--json")
    case = json.loads(out)["cases"][0]
    assert (case["reviewed_on"], case["events"][-1]["on"]) == ("2026-06-02", "2026-06-02")


def _approved(effective: str, on: str, recorded: str) -> dict:
    return {"id": 7, "state": "approved", "effective_date": effective, "reviewed_on": on,
            "reviewed_at": f"{recorded}T10:00:00+00:00"}


@pytest.mark.parametrize(("effective", "on", "recorded", "passed"), [
    ("2026-07-31", "2026-06-01", "2026-12-01", True),    # passed before it was recorded
    ("2026-07-31", "2026-06-01", "2026-07-31", True),    # recorded on the date itself
    ("2026-07-31", "2026-06-01", "2026-07-30", False),   # a day's notice left: no warning
    ("2026-07-31", "2026-07-01", "2026-07-01", False),   # approved on the day: no warning
])
def test_a_date_passed_when_the_approval_is_recorded_is_warned_of(effective, on, recorded,
                                                                  passed):
    from adieu.reviewing import review_warnings

    warnings = review_warnings(_approved(effective, on, recorded), recorded)
    assert warnings == ([f"case 7's date {effective} has passed (the approval of {on} was "
                         f"recorded on {recorded}): the next run records the offboarding as "
                         f"effective since {effective} although no letter has gone out; if "
                         "the customer has not been told, revoke the approval and approve "
                         "again without --on"] if passed else [])


def test_a_reapproval_on_an_earlier_day_counts_the_date_from_its_own_day(june: Path):
    """RB4: approved today (too late for 2026-07-31), redated by July's run
    counted from today; revoked; approved again --on 2026-07-01: August's run
    counts the date from 1 July, and no explanation names the revoked day."""
    today = dt.datetime.now(dt.timezone.utc).date().isoformat()
    assert adieu(june, "approve", "CUST-A", "--run", "6", "--by", "Mara Lind")[0] == 0
    months(june, 7)
    code, out = adieu(june, "explain", "CUST-A", "--run", "7")
    assert f"counted from the approval on {today}" in out
    assert adieu(june, "revoke", "CUST-A", "--by", "Ben Okoye", "--reason", "wrong day")[0] == 0
    code, out = adieu(june, "approve", "CUST-A", "--by", "Mara Lind", "--on", "2026-07-01")
    assert code == 0, out
    months(june, 8)
    code, out = adieu(june, "explain", "CUST-A", "--run", "8")
    assert "  case 1: approved, effective 2026-08-31 (" in out, out
    assert "counted from the approval on 2026-07-01" in out
    effective = next(line for line in out.splitlines() if line.startswith("  effective "))
    assert "counted from the approval on 2026-07-01" in effective and today not in effective
    assert "was counted from an approval on " f"{today}, since revoked; counted from the " \
           "approval by Mara Lind on 2026-07-01 the date is set again: 2026-08-31" in out
    assert adieu(june, "audit", "verify")[0] == 0


def test_an_approval_too_late_for_its_date_warns_of_the_new_date_not_of_effect(june: Path):
    """h11 RC3 (/work/notes/h11/rc/approve_on_false_warning.sh): Alder's June
    case (2026-07-31) approved --on 2026-06-15: 60 days from the approval do
    not reach 2026-07-31, so the next run sets a new date. The warning said
    the next run makes the offboarding effective since 2026-07-31; it now
    names the new date's cause, as the brief's DRAFT line does, and July's
    run sets it."""
    code, out = adieu(june, "approve", "CUST-A", "--by", "Mara Lind", "--on", "2026-06-15")
    assert code == 0, out
    assert out.splitlines()[0] == (
        "warning: case 1's date 2026-07-31 gives less notice than the policy promises counted "
        "from the approval of 2026-06-15 (at the earliest 2026-08-14): the next run sets a "
        "new date, counted from this approval")
    assert "although no letter has gone out" not in out
    months(june, 7)
    code, out = adieu(june, "explain", "CUST-A")
    assert "case 1: approved, effective 2026-08-14" in out, out
