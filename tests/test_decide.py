"""Deciding: rules -> exemptions -> strike ladder -> holds -> timing, with
explanations and population figures."""

from __future__ import annotations

import datetime as dt
import textwrap
from decimal import Decimal
from typing import Any

import pytest

from adieu.decide import Decision, decide, effective_date, evaluate_all, make_contexts
from adieu.facts import Record
from adieu.ledger import Memory, Strike
from adieu.policy import Policy, Timing, compile_policy

AS_OF = dt.date(2026, 11, 2)  # a Monday
D = dt.date.fromisoformat

POLICY = """\
version: 1
name: decide-test
on_missing: watch
params:
  late_limit: 3
derive:
  late_share: late_payments_12m / orders_12m
rules:
  - id: late
    title: Late payer
    when: late_payments_12m >= late_limit
    action: strike
    severity: medium
    explain: "{late_payments_12m} late payments (limit {late_limit})"
  - id: esc
    title: Escalations
    when: escalations_12m >= 4
    action: strike
    severity: high
  - id: turnover
    title: Staff turnover
    when: staff_turnover_incidents >= 1
    action: strike
    severity: high
  - id: complaints
    title: Complaints
    when: complaint_incidents_12m >= 5
    action: strike
    severity: low
  - id: abuse
    title: Abuse of staff
    when: abuse_incidents_12m > 0
    action: offboard
    severity: critical
  - id: outgrown
    title: Outgrown
    when: outgrown
    action: flag
    severity: low
  - id: small
    title: Small revenue
    when: revenue_12m < 1000
    action: flag
    severity: low
exemptions:
  - id: vip
    customers: [C-VIP]
    rules: [late]
    reason: Named by the board
    approver: CEO
    expires: "2027-01-01"
  - id: strategic
    when: tier == "strategic"
    rules: [late, esc]
    reason: Strategic value
    approver: CCO
    expires: "2027-01-01"
holds:
  - id: our-fault
    when: open_our_fault_incidents > 0
    reason: Fix our part first
    except_rules: [abuse]
timing:
  contract_end_within_days: 90
  notice_days: 60
  phase_out_days: 14
  weekdays_only: true
  avoid:
    - from: "12-15"
      to: "01-05"
      reason: the holidays
  referrals:
    - when: outgrown
      vendors: [BigCo, Huge Inc]
    - vendors: [Other Ltd]
  max_referrals: 2
"""

BASE: dict[str, Any] = {
    "customer_id": "C1", "tier": "standard", "revenue_12m": 5000, "orders_12m": 10,
    "late_payments_12m": 0, "escalations_12m": 0, "staff_turnover_incidents": 0,
    "complaint_incidents_12m": 0, "abuse_incidents_12m": 0, "outgrown": False,
    "open_our_fault_incidents": 0, "contract_end": D("2028-06-30"),
}


def policy_of(text: str = POLICY, **replace: str) -> Policy:
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    return compile_policy(textwrap.dedent(text), "decide-test.yaml")


DEFAULT_POLICY = policy_of()


def facts(**changes: Any) -> dict[str, Any]:
    """BASE with changes; a value of None makes that fact missing."""
    merged = {**BASE, **changes}
    return {k: v for k, v in merged.items() if v is not None}


def one(policy: Policy = DEFAULT_POLICY, as_of: dt.date = AS_OF, memory: Memory | None = None,
        **changes: Any) -> Decision:
    contexts, population = make_contexts(policy, [Record(facts(**changes))], as_of)
    population.compute_all()
    return decide(policy, contexts[0], as_of, memory)


def fired(d: Decision) -> list[str]:
    return [r.rule for r in d.fired]


# -- the ladder ---------------------------------------------------------------

def test_nothing_fires_keep() -> None:
    d = one()
    assert (d.outcome, d.base_outcome, d.strikes, d.severity) == ("keep", "keep", 0, None)
    assert d.fired == [] and d.notes == [] and d.effective_date is None


@pytest.mark.parametrize("changes, outcome, strikes", [
    ({"late_payments_12m": 3}, "warn", 1),
    ({"late_payments_12m": 3, "escalations_12m": 4}, "final_notice", 2),
    ({"late_payments_12m": 3, "escalations_12m": 4, "staff_turnover_incidents": 1},
     "offboard", 3),
])
def test_default_ladder(changes: dict[str, Any], outcome: str, strikes: int) -> None:
    d = one(**changes)
    assert d.outcome == outcome
    assert d.strikes == strikes
    assert len(d.new_strikes) == strikes


def test_severity_is_the_highest_fired() -> None:
    assert one(late_payments_12m=3).severity == "medium"
    assert one(late_payments_12m=3, escalations_12m=4).severity == "high"


def test_custom_ladder() -> None:
    policy = policy_of(**{"timing:": "strikes:\n  ladder:\n    warn: 2\n    final_notice: 3\n"
                                     "    offboard: 4\ntiming:"})
    assert policy.strikes.warn == 2
    assert one(policy, late_payments_12m=3).outcome == "watch"  # fired, below the first step
    assert one(policy, late_payments_12m=3, escalations_12m=4).outcome == "warn"
    assert one(policy, late_payments_12m=3, escalations_12m=4,
               staff_turnover_incidents=1).outcome == "final_notice"
    assert one(policy, late_payments_12m=3, escalations_12m=4, staff_turnover_incidents=1,
               complaint_incidents_12m=5).outcome == "offboard"


def test_prior_strikes_count_and_expire() -> None:
    memory = Memory([Strike("esc", AS_OF - dt.timedelta(days=100)),
                     Strike("turnover", AS_OF - dt.timedelta(days=365))])  # expired today
    d = one(memory=memory, late_payments_12m=3)
    assert d.outcome == "final_notice"
    assert d.strikes == 2
    assert d.new_strikes == ["late"]
    assert [s["rule"] for s in d.active_strikes] == ["esc", "late"]
    assert d.active_strikes[0] == {"rule": "esc", "recorded_on": "2026-07-25",
                                   "expires_on": "2027-07-25"}


def test_same_rule_within_the_cooldown_is_the_same_strike() -> None:
    memory = Memory([Strike("late", AS_OF - dt.timedelta(days=10))])
    d = one(memory=memory, late_payments_12m=3)
    assert d.new_strikes == []
    assert d.strikes == 1 and d.outcome == "warn"
    assert "late fired again within the 30-day cool-down of its strike of 2026-10-23: " \
           "same strike" in d.notes


def test_offboard_action_is_immediate() -> None:
    d = one(abuse_incidents_12m=1)
    assert d.outcome == "offboard"
    assert d.strikes == 0
    assert d.severity == "critical"
    assert fired(d) == ["abuse"]


def test_flag_is_watch() -> None:
    d = one(outgrown=True)
    assert (d.outcome, d.strikes, fired(d)) == ("watch", 0, ["outgrown"])


# -- missing data ---------------------------------------------------------------

def test_on_missing_watch() -> None:
    d = one(revenue_12m=None)
    assert d.outcome == "watch"
    assert d.missing == ["revenue_12m"]
    assert [r.rule for r in d.unknown] == ["small"]
    assert d.unknown[0].status == "unknown"
    assert d.notes == ["on watch: rules could not be checked (small: missing revenue_12m)"]


def test_on_missing_keep() -> None:
    d = one(policy_of(**{"on_missing: watch": "on_missing: keep"}), revenue_12m=None)
    assert d.outcome == "keep"
    assert d.missing == ["revenue_12m"]
    assert d.notes == []


def test_missing_data_never_lowers_an_outcome() -> None:
    d = one(revenue_12m=None, late_payments_12m=3)
    assert d.outcome == "warn"
    assert d.missing == ["revenue_12m"]


# -- exemptions -----------------------------------------------------------------

def test_exemption_by_customer_id() -> None:
    d = one(customer_id="C-VIP", late_payments_12m=3)
    assert d.outcome == "exempt"
    assert d.base_outcome == "warn"  # what the rules alone say, before the exemption
    assert d.fired == []
    assert [(r.rule, r.status, r.shielded_by) for r in d.shielded] == [("late", "fired", "vip")]
    assert d.shielded[0].explanation == "3 late payments (limit 3)"
    assert d.exemptions == [{"id": "vip", "reason": "Named by the board", "approver": "CEO",
                             "expires": "2027-01-01", "source": "policy"}]
    assert d.notes == ["exempt: without exemptions the outcome would be warn"]
    assert one(customer_id="C-OTHER", late_payments_12m=3).outcome == "warn"


def test_exemption_by_condition() -> None:
    d = one(tier="strategic", late_payments_12m=3, escalations_12m=4)
    assert d.outcome == "exempt"
    assert sorted(r.rule for r in d.shielded) == ["esc", "late"]
    assert {r.shielded_by for r in d.shielded} == {"strategic"}
    assert d.notes == ["exempt: without exemptions the outcome would be final_notice"]
    assert d.strikes == 0 and d.new_strikes == []


def test_exemption_shields_only_its_rules() -> None:
    d = one(tier="strategic", late_payments_12m=3, staff_turnover_incidents=1)
    assert fired(d) == ["turnover"]
    assert [r.rule for r in d.shielded] == ["late"]
    assert d.outcome == "warn"  # the unshielded strike still counts
    assert d.strikes == 1


def test_exemption_never_shields_an_unnamed_offboard_rule() -> None:
    d = one(tier="strategic", abuse_incidents_12m=1)
    assert d.outcome == "offboard"
    assert d.shielded == []


def test_exemption_expires_on_its_date() -> None:
    expires = D("2027-01-01")
    on_the_day = one(as_of=expires, customer_id="C-VIP", late_payments_12m=3)
    assert on_the_day.outcome == "warn"
    assert on_the_day.exemptions == []
    assert [e["id"] for e in on_the_day.expired_exemptions] == ["vip"]
    assert on_the_day.notes == ["exemption vip expired on 2027-01-01"]
    assert fired(on_the_day) == ["late"]

    day_before = one(as_of=expires - dt.timedelta(days=1), customer_id="C-VIP",
                     late_payments_12m=3)
    assert day_before.outcome == "exempt"
    assert [e["id"] for e in day_before.exemptions] == ["vip"]
    assert day_before.expired_exemptions == []


def test_exemption_applies_only_when_something_would_fire() -> None:
    d = one(customer_id="C-VIP")
    assert d.outcome == "keep"
    assert [e["id"] for e in d.exemptions] == ["vip"]


# -- holds ----------------------------------------------------------------------

def test_hold_keeps_the_base_outcome() -> None:
    d = one(late_payments_12m=3, escalations_12m=4, open_our_fault_incidents=2)
    assert d.outcome == "held"
    assert d.base_outcome == "final_notice"
    assert d.holds == [{"id": "our-fault", "reason": "Fix our part first"}]
    assert "held: final_notice waits until the hold is resolved" in d.notes
    assert d.effective_date is None


def test_unknown_hold_condition_also_holds() -> None:
    d = one(late_payments_12m=3, open_our_fault_incidents=None)
    assert d.outcome == "held"
    assert d.base_outcome == "warn"
    assert d.holds == [{"id": "our-fault", "reason": "Fix our part first",
                        "unknown": ["open_our_fault_incidents"]}]


def test_hold_only_for_warn_and_above() -> None:
    d = one(outgrown=True, open_our_fault_incidents=2)
    assert d.outcome == "watch"
    assert d.holds == []


def test_hold_does_not_apply_to_its_excepted_rules() -> None:
    d = one(abuse_incidents_12m=1, open_our_fault_incidents=2)
    assert d.outcome == "offboard"
    assert d.holds == []
    assert "hold our-fault does not apply: abuse fired" in d.notes


def test_an_offboard_on_the_ladder_is_held() -> None:
    d = one(late_payments_12m=3, escalations_12m=4, staff_turnover_incidents=1,
            open_our_fault_incidents=1)
    assert (d.outcome, d.base_outcome) == ("held", "offboard")


# -- timing ---------------------------------------------------------------------

def timing(**kw: Any) -> Timing:
    kw.setdefault("avoid", [])
    return Timing(**kw)


def test_contract_end_within_the_window() -> None:
    end = D("2026-12-02")  # a Wednesday, 30 days out
    assert effective_date(timing(), end, AS_OF) == (end, "contract end")


def test_contract_end_on_the_last_day_of_the_window() -> None:
    end = AS_OF + dt.timedelta(days=90)
    assert effective_date(timing(weekdays_only=False), end, AS_OF) == (end, "contract end")
    later = end + dt.timedelta(days=1)
    assert effective_date(timing(weekdays_only=False), later, AS_OF) == \
        (AS_OF + dt.timedelta(days=60), "60-day notice period")


@pytest.mark.parametrize("end", [None, AS_OF, D("2026-10-01"), D("2028-01-01")])
def test_otherwise_the_notice_period(end: dt.date | None) -> None:
    assert effective_date(timing(), end, AS_OF) == (D("2027-01-01"), "60-day notice period")


@pytest.mark.parametrize("notice, expected", [(5, "2026-11-09"), (6, "2026-11-09"),
                                              (7, "2026-11-09"), (4, "2026-11-06")])
def test_weekend_moves_to_monday(notice: int, expected: str) -> None:
    day, basis = effective_date(timing(notice_days=notice), None, AS_OF)
    assert day == D(expected)
    landed = AS_OF + dt.timedelta(days=notice)
    assert basis == f"{notice}-day notice period" if landed == day else basis == \
        (f"{notice}-day notice period ends {landed.isoformat()} (a "
         f"{landed.strftime('%A')}), moved to Monday {expected} (weekdays only)")


def test_weekend_stays_without_weekdays_only() -> None:
    day, _ = effective_date(timing(notice_days=5, weekdays_only=False), None, AS_OF)
    assert day == D("2026-11-07")  # a Saturday


def test_avoided_period_is_moved_past() -> None:
    t = timing(notice_days=10, avoid=[((11, 1), (11, 30), "the November freeze")])
    assert effective_date(t, None, AS_OF) == \
        (D("2026-12-01"), "10-day notice period ends 2026-11-12, moved past the November "
                          "freeze to 2026-12-01")


@pytest.mark.parametrize("notice", [48, 60])  # 2026-12-20 and 2027-01-01
def test_avoided_period_wrapping_the_year_end(notice: int) -> None:
    t = timing(notice_days=notice, avoid=[((12, 15), (1, 5), "the holidays")])
    assert effective_date(t, None, AS_OF) == \
        (D("2027-01-06"), f"{notice}-day notice period ends "
                          f"{(AS_OF + dt.timedelta(days=notice)).isoformat()}, moved past "
                          "the holidays to 2027-01-06")


def test_contract_end_inside_an_avoided_period() -> None:
    t = timing(avoid=[((12, 15), (1, 5), "the holidays")])
    assert effective_date(t, D("2026-12-24"), AS_OF) == \
        (D("2027-01-06"), "contract end 2026-12-24, moved past the holidays to 2027-01-06")


def test_avoided_period_ending_before_a_weekend() -> None:
    # 2026-11-13 is a Friday: the day after the period is a Saturday
    t = timing(notice_days=10, avoid=[((11, 10), (11, 13), "a freeze")])
    assert effective_date(t, None, AS_OF) == \
        (D("2026-11-16"), "10-day notice period ends 2026-11-12, moved past a freeze "
                          "to 2026-11-14 (a Saturday), moved to Monday "
                          "2026-11-16 (weekdays only)")


@pytest.mark.parametrize("as_of, expected", [(D("2027-02-12"), "2027-03-01"),
                                              (D("2028-02-12"), "2028-03-01")])
def test_avoided_period_ending_on_leap_day(as_of: dt.date, expected: str) -> None:
    t = timing(notice_days=10, weekdays_only=False, avoid=[((2, 20), (2, 29), "February")])
    assert effective_date(t, None, as_of) == \
        (D(expected), f"10-day notice period ends {as_of + dt.timedelta(days=10)}, "
                      f"moved past February to {expected}")


def test_offboard_gets_timing_and_phase_out() -> None:
    d = one(abuse_incidents_12m=1)
    assert d.effective_date == "2027-01-06"
    assert d.timing_basis == "60-day notice period ends 2027-01-01, moved past the " \
        "holidays to 2027-01-06"
    assert d.phase_out_start == "2026-12-23"  # 14 days before
    d = one(abuse_incidents_12m=1, contract_end=D("2026-11-20"))
    assert (d.effective_date, d.timing_basis) == ("2026-11-20", "contract end")
    assert d.phase_out_start == "2026-11-06"
    d = one(abuse_incidents_12m=1, contract_end=D("2026-11-05"))
    assert d.phase_out_start == "2026-11-03"  # never before the day after the as-of date


# -- referrals ------------------------------------------------------------------

def test_offboard_referrals_up_to_the_maximum() -> None:
    assert one(abuse_incidents_12m=1, outgrown=True).referrals == ["BigCo", "Huge Inc"]
    assert one(abuse_incidents_12m=1).referrals == ["Other Ltd"]
    policy = policy_of(**{"max_referrals: 2": "max_referrals: 3"})
    assert one(policy, abuse_incidents_12m=1, outgrown=True).referrals == \
        ["BigCo", "Huge Inc", "Other Ltd"]
    policy = policy_of(**{"max_referrals: 2": "max_referrals: 1"})
    assert one(policy, abuse_incidents_12m=1, outgrown=True).referrals == ["BigCo"]


def test_conditional_referrals_for_other_outcomes() -> None:
    assert one(outgrown=True).referrals == ["BigCo", "Huge Inc"]  # watch
    assert one(late_payments_12m=3).referrals == []  # no unconditional ones unless offboard
    assert one(outgrown=None, late_payments_12m=3).referrals == []  # unknown: no referral


# -- explanations and figures ---------------------------------------------------

RENDER = """\
version: 1
name: render
derive:
  ratio: late_payments_12m / orders_12m
rules:
  - id: r
    when: late_payments_12m > limit
    action: flag
    explain: >-
      {late_payments_12m} of {orders_12m:,} orders ({ratio:.0%}), revenue
      {revenue_12m:,.2f}, limit {limit}, tier {tier:>6}, {name}, {contract_end}.
  - id: plain
    title: Plain title
    when: late_payments_12m > limit
    action: flag
params:
  limit: 2
"""


def test_explanation_template_rendering() -> None:
    policy = compile_policy(RENDER, "render.yaml")
    d = one(policy, late_payments_12m=3, orders_12m=1200, revenue_12m=1234567.891,
            tier="gold", contract_end=D("2027-03-31"))
    assert d.fired[0].explanation == (
        "3 of 1,200 orders (0%), revenue 1,234,567.89, limit 2, tier   gold, unknown, "
        "2027-03-31.")
    assert d.fired[1].explanation == "Plain title"
    assert d.reasons == [d.fired[0].explanation, "Plain title"]
    assert d.fired[0].figures == {"late_payments_12m": 3, "limit": 2}


def test_explanation_with_a_missing_derived_value() -> None:
    policy = compile_policy(RENDER, "render.yaml")
    d = one(policy, late_payments_12m=3, orders_12m=None)
    assert d.fired[0].explanation.startswith("3 of unknown orders (unknown), revenue")


# -- population figures over a run ------------------------------------------------

POPULATION = """\
version: 1
name: pop
derive:
  p90: percentile(revenue_12m, 90)
rules:
  - id: big
    when: revenue_12m > p90
    action: flag
    explain: "{revenue_12m:,.0f} is above the p90 of {p90:,.0f}"
  - id: above-mean
    when: revenue_12m > mean(revenue_12m) and share(outgrown) >= 0.5
    action: flag
"""


def test_population_figures_over_a_run() -> None:
    policy = compile_policy(POPULATION, "pop.yaml")
    rows = [(100, True), (200, True), (300, False), (400, True), (1000, False), (None, None)]
    records = [Record({k: v for k, v in {"customer_id": f"C{i}", "revenue_12m": r,
                                          "outgrown": o}.items() if v is not None})
               for i, (r, o) in enumerate(rows)]
    decisions, population = evaluate_all(policy, records, AS_OF)
    # sorted 100 200 300 400 1000: rank 4 * 0.9 = 3.6 -> 400 + 0.6 * 600 = 760
    assert population.stats["percentile(revenue_12m, 90)"]["value"] == 760
    assert population.stats["percentile(revenue_12m, 90)"]["n"] == 5
    assert population.stats["mean(revenue_12m)"] == {
        "kind": "mean", "name": "revenue_12m", "n": 5, "value": 400.0}
    assert population.stats["share(outgrown)"] == {"kind": "share", "n": 5,
                                                   "value": Decimal("0.6")}
    outcomes = {d.customer_id: (d.outcome, fired(d)) for d in decisions}
    assert outcomes == {
        "C0": ("keep", []), "C1": ("keep", []), "C2": ("keep", []),
        "C3": ("keep", []),  # 400 is not above the mean of 400
        "C4": ("watch", ["big", "above-mean"]),
        "C5": ("watch", []),  # no revenue: unknown
    }
    big = decisions[4].fired[0]
    assert big.explanation == "1,000 is above the p90 of 760"
    assert big.figures == {"p90": 760, "revenue_12m": 1000}
    assert decisions[4].fired[1].figures == {
        "outgrown": False, "revenue_12m": 1000, "mean(revenue_12m)": 400.0,
        "share(outgrown)": Decimal("0.6")}
    assert decisions[5].missing == ["revenue_12m"]


# -- purity ---------------------------------------------------------------------

def test_evaluation_is_pure() -> None:
    rows = [facts(customer_id="A", late_payments_12m=3),
            facts(customer_id="B", abuse_incidents_12m=1, outgrown=True),
            facts(customer_id="C", tier="strategic", late_payments_12m=5, escalations_12m=9),
            facts(customer_id="D", revenue_12m=None, open_our_fault_incidents=1)]
    first, _ = evaluate_all(DEFAULT_POLICY, [Record(dict(r)) for r in rows], AS_OF)
    second, _ = evaluate_all(DEFAULT_POLICY, [Record(dict(r)) for r in rows], AS_OF)
    assert [d.to_dict() for d in first] == [d.to_dict() for d in second]
    contexts, population = make_contexts(DEFAULT_POLICY, [Record(dict(r)) for r in rows], AS_OF)
    population.compute_all()
    for ctx in contexts:
        assert decide(DEFAULT_POLICY, ctx, AS_OF).to_dict() == \
            decide(DEFAULT_POLICY, ctx, AS_OF).to_dict()
    assert rows[0] == facts(customer_id="A", late_payments_12m=3)  # inputs untouched


# -- margins in explanations ---------------------------------------------------

@pytest.mark.parametrize("left, symbol, right, result, expected", [
    (5, ">", 3, True, "exceeds by 2"), (2, ">", 3, False, "1 short of the threshold"),
    (3, ">", 3, False, "at the threshold"), (3, ">=", 3, True, "at the threshold"),
    (1, "<", 3, True, "below by 2"), (4, "<=", 3, False, "1 over the threshold"),
    (3, "<=", 3, True, "at the threshold"), (0.25, ">", 0.1, True, "exceeds by 0.15"),
    (D("2026-12-01"), "<", D("2026-12-31"), True, "below by 30 days"),
    (3, "==", 3, True, None), ("a", "<", "b", True, None),
])
def test_margin(left: Any, symbol: str, right: Any, result: bool, expected: str | None) -> None:
    from adieu.explain import margin

    assert margin(left, symbol, right, result) == expected
