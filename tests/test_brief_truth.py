"""adieu brief tells the customer the truth (h11 findings B2-B7, B10, B15,
B3): a final letter carries only a date the company will honour, says why
then in plain words, frames an offboard rule honestly, keeps its timeline
on working days, and a template's typo is found in every branch.

Runs of the shipped default policy over examples/customers.csv, with
adieu's clock set per command (tests/docrun.py's sitecustomize)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from test_brief import adieu

REPO = Path(__file__).resolve().parents[1]
DEFAULT = str(REPO / "policies" / "default.yaml")
CUSTOMERS = f"csv:{REPO / 'examples' / 'customers.csv'}"


def run(db: Path, as_of: str, policy: str = DEFAULT, clock: str | None = None) -> None:
    out = adieu("evaluate", policy, "--source", CUSTOMERS, "--as-of", as_of, "--db", str(db),
                "-q", clock=clock or f"{as_of}T06:00:00+00:00")
    assert out.returncode in (0, 1), out.stderr


def brief(db: Path, *args: str, clock: str):
    return adieu("brief", *args, "--db", str(db), clock=clock)


def letter(text: str) -> str:
    """The part of a Markdown brief the customer gets (after the staff notes)."""
    return text.split("\n---\n", 1)[1]


def lines_of(text: str, heading: str) -> list[str]:
    return text.split(f"## {heading}\n")[1].split("\n## ")[0].strip().splitlines()


# --- B2: never a final letter with a date the company will not honour -----------

@pytest.fixture(scope="module")
def late(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """CUST-0088 (abuse) offboarded as of 2025-01-02, approved on 2026-12-01."""
    db = tmp_path_factory.mktemp("late") / "late.db"
    run(db, "2025-01-02")
    out = adieu("approve", "CUST-0088", "--run", "1", "--by", "Mara Lind", "--db", str(db),
                clock="2026-12-01T10:00:00+00:00")
    assert out.returncode == 0, out.stderr
    return db


LATE = ("the effective date Monday 3 March 2025 gives less notice than the policy promises "
        "counted from the approval on Tuesday 1 December 2026 (at the earliest Monday 1 "
        "February 2027): run the next month's evaluate first: it sets a new date, counted "
        "from the approval")


def test_an_approval_too_late_for_its_date_gives_a_draft_with_the_reason(late: Path):
    out = brief(late, "CUST-0088", clock="2026-12-01T11:00:00+00:00")
    assert out.returncode == 0
    lines = out.stdout.rstrip("\n").splitlines()
    assert lines[0] == lines[-1] == f"**DRAFT: {LATE}. Do not send.**"
    assert out.stderr == f"warning: the brief is marked DRAFT: {LATE}\n"
    html = brief(late, "CUST-0088", "--format", "html", clock="2026-12-01T11:00:00+00:00")
    assert html.returncode == 0
    assert re.search(r'<h1 class="adieu-draft-banner" role="alert" style="[^"]*">DRAFT: '
                     + re.escape(LATE) + r"\. Do not send\.</h1>", html.stdout)
    assert "<title>DRAFT: Offboarding brief: " in html.stdout


def test_a_late_approval_counted_from_by_the_next_run_gives_a_final_letter(tmp_path: Path):
    db = tmp_path / "next.db"
    run(db, "2025-01-02")
    assert adieu("approve", "CUST-0088", "--run", "1", "--by", "Mara Lind", "--db", str(db),
                 clock="2026-12-01T10:00:00+00:00").returncode == 0
    run(db, "2025-02-03", clock="2026-12-01T12:00:00+00:00")  # sets 2027-02-01
    out = brief(db, "CUST-0088", clock="2026-12-01T13:00:00+00:00")
    assert (out.returncode, out.stderr) == (0, "")
    assert "DRAFT" not in out.stdout
    assert "takes effect on **Monday 1 February 2027**" in out.stdout
    # B4: the brief of the earlier run announces the case's date, not its own
    old = brief(db, "CUST-0088", "--run", "1", clock="2026-12-01T13:00:00+00:00")
    assert (old.returncode, old.stderr) == (0, "")
    assert "DRAFT" not in old.stdout
    assert "takes effect on **Monday 1 February 2027**" in old.stdout
    assert "2025" not in letter(old.stdout)
    assert ("- Run 1's decision gave 2025-03-03; the case's date is 2027-02-01 (run 2 as of "
            "2025-02-03), and this brief announces that date.") in old.stdout
    assert lines_of(old.stdout, "The transition")[-1] == \
        "- Monday 1 February 2027: The offboarding takes effect"
    # B5: the letter says why then in plain words; the bookkeeping is for staff
    assert ("takes effect on **Monday 1 February 2027** (at the end of a 60-day notice "
            "period, moved to the next working day).") in out.stdout
    assert not re.search(r"case \d|Mara Lind|counted from|weekdays only|kept from",
                         letter(out.stdout))
    assert ("- Why this date: 60-day notice period ends 2027-01-30 (a Saturday), moved to "
            "Monday 2027-02-01 (weekdays only); counted from the approval on 2026-12-01.") \
        in out.stdout


def test_an_effective_case_is_not_announced_as_to_come(tmp_path: Path):
    db = tmp_path / "eff.db"
    run(db, "2027-01-04")
    assert adieu("approve", "CUST-0088", "--run", "1", "--by", "Mara Lind", "--db", str(db),
                 clock="2027-01-04T10:00:00+00:00").returncode == 0
    run(db, "2027-04-01")
    out = brief(db, "CUST-0088", clock="2027-04-01T11:00:00+00:00")
    assert out.returncode == 0
    reason = ("the offboarding took effect on Friday 5 March 2027: a brief announces an "
              "offboarding before it takes effect")
    assert out.stdout.splitlines()[0] == f"**DRAFT: {reason}. Do not send.**"
    assert out.stderr == f"warning: the brief is marked DRAFT: {reason}\n"
    assert "Until then we serve you" not in out.stdout
    assert "openly and early" not in out.stdout
    assert "The change took effect on **Friday 5 March 2027**" in out.stdout


def test_a_passed_date_or_transition_start_is_named(late: Path, tmp_path: Path):
    db = tmp_path / "ontime.db"
    run(db, "2026-11-02")
    assert adieu("approve", "CUST-0088", "--run", "1", "--by", "Mara Lind", "--db", str(db),
                 clock="2026-11-02T10:00:00+00:00").returncode == 0
    # approved on the run's day: final while the policy's notice counted from
    # the day the letter is written still ends by the date (RB3) ...
    ok = brief(db, "CUST-0088", clock="2026-11-04T09:00:00+00:00")
    assert (ok.returncode, ok.stderr) == (0, "")
    assert "DRAFT" not in ok.stdout
    assert "(at the end of a 60-day notice period, moved past the holiday season)" in ok.stdout
    start = lines_of(ok.stdout, "The transition")[0].split(":")[0][2:]
    effective = re.search(r"takes effect on \*\*(.+?)\*\*", ok.stdout).group(1)
    assert effective == "Wednesday 6 January 2027"
    # ... and a DRAFT once a letter written today gives less than that
    short = brief(db, "CUST-0088", clock="2026-11-20T09:00:00+00:00")
    assert short.returncode == 0
    assert short.stdout.startswith(
        "**DRAFT: written today (Friday 20 November 2026), the letter gives the customer 47 "
        "days before Wednesday 6 January 2027, less notice than the policy promises counted "
        "from today (at the earliest Tuesday 19 January 2027): agree a later date with the "
        "reviewer (revoke and approve again) before handing it over. Do not send.**")
    begun = brief(db, "CUST-0088", clock="2026-12-18T09:00:00+00:00")
    assert begun.returncode == 0
    assert begun.stdout.startswith(f"**DRAFT: the transition would have begun on {start}, "
                                   "before today (Friday 18 December 2026)")
    after = brief(db, "CUST-0088", clock="2027-03-01T09:00:00+00:00")
    assert after.stdout.startswith(f"**DRAFT: the effective date {effective} is not after "
                                   "today (Monday 1 March 2027): the letter can no longer "
                                   "announce it; the next run marks the case effective")
    assert "The change took effect on" in after.stdout


# --- B5, B6, B7: the words and the timeline -------------------------------------------

@pytest.fixture(scope="module")
def cycle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("cycle") / "cycle.db"
    run(db, "2026-10-01")
    run(db, "2026-11-01")
    return db


NOW = "2026-11-02T09:00:00+00:00"


def test_why_then_is_plain_words_for_the_customer(cycle: Path):
    out = brief(cycle, "CUST-0007", clock=NOW)
    assert out.returncode == 0, out.stderr
    assert ("takes effect on **Wednesday 6 January 2027** (at the end of your contract term, "
            "moved past the holiday season).") in out.stdout
    assert "kept from" not in out.stdout and "2026-12-22" not in letter(out.stdout)


def test_the_timeline_keeps_to_the_policys_calendar(cycle: Path):
    out = brief(cycle, "CUST-0007", clock=NOW)
    timeline = lines_of(out.stdout, "The transition")
    days = [dt.datetime.strptime(line[2:].split(":")[0], "%A %d %B %Y").date()
            for line in timeline]
    assert days[-1] == dt.date(2027, 1, 6)
    for day in days[:-1]:  # not a weekend, not in 12-15 to 01-05 (the holiday season)
        assert day.weekday() < 5 and not (day.month == 12 and day.day >= 15), timeline
    assert days == sorted(set(days))
    assert [line.split(": ", 1)[1].split(":")[0] for line in timeline] == [
        "Transition begins", "Handover", "Last working day before the change",
        "The offboarding takes effect"]
    abuse = brief(cycle, "CUST-0088", clock=NOW)
    for line in lines_of(abuse.stdout, "The transition")[:-1]:
        assert not line.startswith(("- Saturday", "- Sunday")), line


def test_timeline_moves_steps_off_weekends_and_avoided_periods():
    from adieu.brief_context import _timeline
    from adieu.policy import Timing

    t = Timing(weekdays_only=True, avoid=[((12, 15), (1, 5), "the holiday season")])
    got = [(s["date"], s["step"]) for s in _timeline("2026-12-07", "2027-01-06", t)]
    assert got == [("2026-12-07", "phase_out_start"), ("2026-12-11", "handover"),
                   ("2026-12-14", "last_day"), ("2027-01-06", "effective")]
    # Sunday 15 November (handover) and Sunday 29 November (day before)
    got = [(s["date"], s["step"]) for s in _timeline("2026-10-31", "2026-11-30", t)]
    assert got == [("2026-11-02", "phase_out_start"), ("2026-11-16", "handover"),
                   ("2026-11-27", "last_day"), ("2026-11-30", "effective")]
    # no working day left between the steps: the step is left out
    got = [(s["date"], s["step"]) for s in _timeline("2026-12-14", "2027-01-06", t)]
    assert got == [("2026-12-14", "phase_out_start"), ("2027-01-06", "effective")]
    # RB9: a phase-out wholly inside the avoided period (from Sunday 27 December)
    # starts on the last working day before it, keeping the promised notice
    got = [(s["date"], s["step"]) for s in _timeline("2026-12-27", "2027-01-06", t,
                                                     dt.date(2026, 11, 1))]
    assert got == [("2026-12-14", "phase_out_start"), ("2027-01-06", "effective")]
    # ... but not on or before the run's as-of date: then there is no such step
    got = [(s["date"], s["step"]) for s in _timeline("2026-12-27", "2027-01-06", t,
                                                     dt.date(2026, 12, 14))]
    assert got == [("2027-01-06", "effective")]


@pytest.mark.parametrize("basis,effective,steps,words", [
    ("60-day notice period", "2026-07-31",
     [("notice_period", "2026-07-31")], "at the end of a 60-day notice period"),
    ("contract end", "2026-12-15", [("contract_end", "2026-12-15")],
     "at the end of your contract term"),
    ("contract end 2026-12-22, moved past the holiday season to 2027-01-06; kept from case 1 "
     "proposed as of 2026-10-01", "2027-01-06",
     [("contract_end", "2026-12-22"), ("avoided_period", "2027-01-06")],
     "at the end of your contract term, moved past the holiday season"),
    ("60-day notice period ends 2027-01-30 (a Saturday), moved to Monday 2027-02-01 (weekdays "
     "only); counted from the approval on 2026-12-01; kept from case 1 approved on 2026-12-01 "
     "by Mara Lind", "2027-02-01",
     [("notice_period", "2027-01-30"), ("weekend", "2027-02-01")],
     "at the end of a 60-day notice period, moved to the next working day"),
    ("60-day notice period ends 2026-12-31, moved past a freeze to 2027-01-02 (a Saturday), "
     "moved to Monday 2027-01-04 (weekdays only)", "2027-01-04",
     [("notice_period", "2026-12-31"), ("avoided_period", "2027-01-02"),
      ("weekend", "2027-01-04")],
     "at the end of a 60-day notice period, moved past a freeze, then to the next working day"),
    ("10-day notice period ends 2026-11-12, moved past an avoided period (11-10 to 11-13) to "
     "2026-11-14", "2026-11-14",
     [("notice_period", "2026-11-12"), ("avoided_period", "2026-11-14")],
     "at the end of a 10-day notice period, moved past a period in which we make no changes "
     "(10 November to 13 November)"),
])
def test_timing_steps_read_the_stored_basis(basis, effective, steps, words):
    from adieu.brief_timing import timing_steps, why_then

    got = timing_steps(basis, effective, ("the holiday season", "a freeze"))
    assert [(s["step"], s["date"]) for s in got] == steps
    assert why_then(got) == words


def test_timing_steps_of_unknown_words_are_left_out():
    from adieu.brief_timing import timing_steps

    assert timing_steps("thirty days after the fair", "2026-07-31") is None
    assert timing_steps("contract end 2026-12-22, moved past x to 2027-01-06", "2027-02-01") \
        is None  # the words do not lead to the date


def test_an_offboard_rule_is_framed_honestly_and_strikes_keep_their_framing(cycle: Path):
    for fmt in ("md", "html"):
        abuse = brief(cycle, "CUST-0088", "--format", fmt, clock=NOW).stdout
        assert "not a judgement" not in abuse and "stopped being a good fit" not in abuse
        assert "Under our policy it ends a working relationship on its own" in abuse
        strikes = brief(cycle, "CUST-0007", "--format", fmt, clock=NOW).stdout
        assert "This is not a judgement of you or your team" in strikes
        assert "ends a working relationship on its own" not in strikes


def test_the_context_says_why_the_customer_is_offboarded(cycle: Path, tmp_path: Path):
    t = tmp_path / "why.md.j2"
    t.write_text("{{ decision.reason_kind }} [{{ decision.offboard_rules|join(',') }}]\n",
                 encoding="utf-8")
    for cid, expected in (("CUST-0088", "rule [abuse-of-staff]"), ("CUST-0007", "strikes []")):
        out = brief(cycle, cid, "--template", str(t), clock=NOW)
        assert out.returncode == 0, out.stderr
        assert out.stdout.splitlines()[2] == expected


# --- B10: no referral ------------------------------------------------------------------

def test_a_brief_without_referral_says_so_to_staff_and_lint_warns(cycle: Path, tmp_path: Path):
    text = Path(DEFAULT).read_text(encoding="utf-8")
    start, end = text.index("  referrals:"), text.index("  max_referrals: 2")
    policy = tmp_path / "noref.yaml"
    policy.write_text(text[:start] + text[end + len("  max_referrals: 2"):], encoding="utf-8")
    out = adieu("validate", "--strict", str(policy))
    assert out.returncode == 1
    assert "[no-referrals]" in out.stdout + out.stderr
    db = tmp_path / "noref.db"
    run(db, "2026-11-01", policy=str(policy))
    out = brief(db, "CUST-0088", clock=NOW)
    assert out.returncode == 0
    assert ("- No referral: the policy's `timing.referrals` names none for this customer; "
            "suggest one or two providers yourself before handing this over.") in out.stdout
    html = brief(db, "CUST-0088", "--format", "html", clock=NOW).stdout
    assert "<li>No referral: the policy's <code>timing.referrals</code> names none" in html
    # the default policy refers CUST-0088: no such note, no warning
    assert "No referral" not in brief(cycle, "CUST-0088", clock=NOW).stdout
    assert "[no-referrals]" not in adieu("validate", DEFAULT).stdout


def test_max_referrals_0_refers_nobody_without_advice_to_add_one(tmp_path: Path):
    """RB11: max_referrals: 0 (the lint's way to refer nobody) is the policy's
    choice: the staff note says so and gives no advice to suggest providers."""
    text = Path(DEFAULT).read_text(encoding="utf-8")
    assert "  max_referrals: 2" in text and "  referrals:" in text
    policy = tmp_path / "none.yaml"
    policy.write_text(text.replace("  max_referrals: 2", "  max_referrals: 0"), encoding="utf-8")
    assert adieu("validate", "--strict", str(policy)).returncode == 0
    db = tmp_path / "none.db"
    run(db, "2026-11-01", policy=str(policy))
    md = brief(db, "CUST-0088", clock=NOW).stdout
    assert "- No referral: the policy refers nobody (`timing.max_referrals: 0`).\n" in md
    html = brief(db, "CUST-0088", "--format", "html", clock=NOW).stdout
    assert "<li>No referral: the policy refers nobody (<code>timing.max_referrals: 0</code>)" \
        in html
    assert "suggest one or two providers" not in md + html


# --- B15: a revoked approval ----------------------------------------------------------

def test_staff_notes_tell_a_revoked_approval(tmp_path: Path):
    db = tmp_path / "rv.db"
    run(db, "2026-11-01")
    clock = "2026-11-01T10:00:00+00:00"
    assert adieu("approve", "CUST-0088", "--run", "1", "--by", "Mara Lind", "--db", str(db),
                 clock=clock).returncode == 0
    assert adieu("revoke", "CUST-0088", "--by", "Ben Okoye", "--reason", "second thoughts",
                 "--db", str(db), clock="2026-11-03T10:00:00+00:00").returncode == 0
    out = brief(db, "CUST-0088", clock="2026-11-03T11:00:00+00:00")
    assert out.stdout.startswith("**DRAFT: this offboarding is not approved yet.")
    assert ("- Case 4: proposed: the approval by Mara Lind was revoked by Ben Okoye on "
            "2026-11-03: second thoughts; the case waits for review again.") in out.stdout
    assert "reviewed by" not in out.stdout
    # approved again: the revocation is history
    assert adieu("approve", "CUST-0088", "--by", "Ana Ruiz", "--db", str(db),
                 clock="2026-11-04T10:00:00+00:00").returncode == 0
    again = brief(db, "CUST-0088", clock="2026-11-04T11:00:00+00:00").stdout
    assert ("- Case 4: approved by Ana Ruiz on 2026-11-04 (an earlier approval was revoked by "
            "Ben Okoye on 2026-11-03: second thoughts).") in again


# --- B3: every placeholder checked when the template is loaded -------------------------

@pytest.mark.parametrize("text,line,name", [
    ('Dear {{ customer.name }},\n{% if decision.severity == "nope" %}{{ customer.nickname }}'
     '{% endif %}\nbye\n', 2, "customer.nickname"),
    ("a\n{% set g = customer.nicknme %}b\n", 2, "customer.nicknme"),
    ("{% if false %}\n{{ nosuch }}\n{% endif %}\n", 2, "nosuch"),
    ("{% for s in strikes if false %}{{ s.pardoned_by }}{% endfor %}\n", 1,
     "strikes[].pardoned_by"),
    ("{% for r in rules %}{% for f in r.figures %}\n{{ f.nme }}{% endfor %}{% endfor %}\n", 2,
     "rules[].figures[].nme"),
    ("{% if case is defined and false %}{{ case.reviewr }}{% endif %}\n", 1,
     "case.reviewr"),
    ("{% if false %}{{ decision['timing_step'] }}{% endif %}\n", 1, "decision.timing_step"),
    # RB8: whatever route reaches the value
    ('{% set c = customer %}\n{% if false %}{{ c.nickname }}{% endif %}\n', 2,
     "customer.nickname"),
    ('{% with c = customer %}{% if false %}\n{{ c.nickname }}{% endif %}{% endwith %}\n', 2,
     "customer.nickname"),
    ('{% macro m(x) %}\n{{ x.nickname }}{% endmacro %}{% if false %}{{ m(customer) }}'
     '{% endif %}\n', 2, "customer.nickname"),
    ('{% macro m(a, x=none) %}{{ x.reviewd_on }}{% endmacro %}\n{{ m(1, x=case) }}\n', 1,
     "case.reviewd_on"),
    ("{% if false %}{{ (rules|first).titel }}{% endif %}\n", 1, "rules[].titel"),
    ("{% if false %}{{ (strikes|last).recorded }}{% endif %}\n", 1, "strikes[].recorded"),
    ("{% for r in rules[1:] %}{{ r.titel }}{% endfor %}\n", 1, "rules[].titel"),
    ("{% set ns = namespace(r=rules) %}{% for r in ns.r %}\n{{ r.titel }}{% endfor %}\n", 2,
     "rules[].titel"),
    ("{% for case in [1] %}{{ case }}{% endfor %}\n{% if false %}{{ case.reviewd_on }}"
     "{% endif %}\n", 2, "case.reviewd_on"),
])
def test_an_unknown_placeholder_is_an_error_in_any_branch(cycle: Path, tmp_path: Path,
                                                            text: str, line: int, name: str):
    t = tmp_path / "t.md.j2"
    t.write_text(text, encoding="utf-8")
    for cid in ("CUST-0007", "CUST-0088"):
        out = brief(cycle, cid, "--template", str(t), clock=NOW)
        assert (out.returncode, out.stdout) == (2, "")
        assert out.stderr == f"Error: {t}:{line}: placeholder '{name}' is not in the brief's data\n"


def test_documented_values_stay_usable_in_any_form(cycle: Path, tmp_path: Path):
    t = tmp_path / "ok.md.j2"
    t.write_text(
        "{% set ns = namespace(n=0) %}{% for r in rules|selectattr('action', 'eq', 'strike') %}"
        "{% set ns.n = ns.n + 1 %}{{ r.title|default(r.id) }}{% endfor %}\n"
        "{% for k, v in facts.items() %}{% endfor %}{{ facts.revenue_12m }}\n"
        "{{ customer.name.upper() }} {{ referrals|length }} {{ rules[0].figures[0].name }}\n"
        "{% macro who(c) %}{{ c.id }}{% endmacro %}{{ who(customer) }}\n"
        "{% if case is defined %}{{ case.state }}{% endif %} {{ today }} {{ in_effect }}\n"
        "{% set c = customer %}{{ c.id }}{% with r = rules|first %}{{ r.id }}{% endwith %}\n"
        "{% for r in rules[:1] %}{{ r.figures[0].value }}{% endfor %}{{ (rules|last).id }}\n"
        "{% set ns = namespace(s=strikes) %}{% for s in ns.s %}{{ s.rule }}{% endfor %}\n"
        "{% for customer in [1] %}{{ customer.real }}{% endfor %}{{ customer.id }}\n"
        "{% macro two(x, y) %}{{ x.id }}{{ y.id }}{% endmacro %}{{ two(customer, "
        "rules[0]) }}{{ two(run, rules[0]) }}\n",
        encoding="utf-8")
    out = brief(cycle, "CUST-0007", "--template", str(t), clock=NOW)
    assert out.returncode == 0, out.stderr
    # a documented value the decision lacks is still an error on rendering
    t.write_text("{{ decision.run_effective_date }}\n", encoding="utf-8")
    out = brief(cycle, "CUST-0007", "--template", str(t), clock=NOW)
    assert out.stderr == (f"Error: {t}:1: placeholder 'decision.run_effective_date' is not "
                          "in the brief's data\n")
