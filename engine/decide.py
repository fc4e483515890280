"""Evaluate a compiled policy over customers and decide an outcome for each.

`decide` is a pure function of (policy, one customer's context, as-of date,
prior strikes): rules -> exemptions -> strike ladder -> holds -> timing.
An exemption that applies on the as-of date shields its rules twice: a
shielded rule that fires records no strike, and the rule's active strikes
from earlier runs are set aside (not counted on the ladder) while it
applies (ledger.shield_strikes)."""

from __future__ import annotations

import calendar
import datetime as dt
import re
import string
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from . import cases, decimals
from .expr import UNKNOWN, Context
from .facts import Record, to_json_value
from .ledger import Memory, apply_strikes, shield_strikes
from .policy import OUTCOMES, Policy, Rule, Timing
from .population import Population

RANK = {name: i for i, name in enumerate(OUTCOMES)}
NO_MEMORY = Memory()
SEVERITY_RANK = {"low": 0, "medium": 1, "high": 2, "critical": 3}


@dataclass
class RuleResult:
    """What one rule said about one customer."""

    rule: str
    title: str
    action: str
    severity: str
    status: str                       # fired | passed | unknown
    explanation: str | None = None
    figures: dict[str, Any] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    shielded_by: str | None = None


@dataclass
class Decision:
    """The outcome for one customer in one run, with reasons and figures.

    outcome is keep | watch | warn | final_notice | offboard, or the markers
    exempt (exemptions lowered it to keep/watch) and held (a hold stopped an
    action); base_outcome is what the rules alone said, before exemptions and
    holds, with every active strike counted.

    strikes is the number of strikes the ladder counted, active_strikes those
    strikes; set_aside_strikes are the active strikes an exemption set aside
    on this as-of date: [{rule, recorded_on, expires_on, exemption}] (dates
    ISO 8601, exemption the shielding exemption's id)."""

    customer_id: str
    outcome: str
    base_outcome: str
    severity: str | None
    strikes: int
    new_strikes: list[str] = field(default_factory=list)
    repeat_strikes: list[dict[str, Any]] = field(default_factory=list)
    active_strikes: list[dict[str, Any]] = field(default_factory=list)
    set_aside_strikes: list[dict[str, Any]] = field(default_factory=list)
    fired: list[RuleResult] = field(default_factory=list)
    shielded: list[RuleResult] = field(default_factory=list)
    unknown: list[RuleResult] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    exemptions: list[dict[str, Any]] = field(default_factory=list)
    expired_exemptions: list[dict[str, Any]] = field(default_factory=list)
    holds: list[dict[str, Any]] = field(default_factory=list)
    effective_date: str | None = None
    phase_out_start: str | None = None
    timing_basis: str | None = None
    referrals: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def reasons(self) -> list[str]:
        return [r.explanation or r.title for r in self.fired]


_NEGATIVE_ZERO = re.compile(r"-[0,._]*(?:[eE][-+]?[0-9]+)?%?")


class _Renderer(string.Formatter):
    def __init__(self, ctx: Context, params: dict[str, Any]):
        self.ctx, self.params = ctx, params

    def get_value(self, key: Any, args: Any, kwargs: Any) -> Any:
        if key in self.params:
            return self.params[key]
        return self.ctx.value_of(key)

    def format_field(self, value: Any, format_spec: str) -> str:
        if value is UNKNOWN:
            return "unknown"
        if isinstance(value, Decimal) and not value:
            value = value.copy_abs()  # 0 * -1.5 is 0, never shown as "-0.00"
        if not format_spec and isinstance(value, Decimal):
            # equal amounts read the same (5476.5 and 5476.50); never 1E+3
            return decimals.plain_text(value.normalize())
        try:
            text = format(value, format_spec)
        except (ValueError, TypeError):
            return str(value)
        # -0.4 at no decimals is 0, not "-0"
        return text.replace("-", "", 1) if _NEGATIVE_ZERO.fullmatch(text.strip()) else text


def render(template: str, ctx: Context, params: dict[str, Any]) -> str:
    """Render an explanation template with a customer's figures."""
    return _Renderer(ctx, params).format(template)


def make_contexts(policy: Policy, records: Iterable[Record], as_of: dt.date) \
        -> tuple[list[Context], Population]:
    """One context per customer, all sharing the run's population."""
    population = Population(policy.population_calls)
    derive_fns = policy.derive_fns
    contexts = [Context(r.facts, as_of, population, derive_fns) for r in records]
    population.contexts = contexts
    return contexts, population


def figures(policy: Policy, rule: Rule, ctx: Context) -> dict[str, Any]:
    """The values a rule's condition rests on, by name."""
    out: dict[str, Any] = {}
    for name in sorted(rule.when.names):
        value = policy.params[name] if name in policy.params else ctx.value_of(name)
        out[name] = None if value is UNKNOWN else to_json_value(value)
    for key in rule.when.population_keys:
        value = ctx.population.value(key)
        out[key] = None if value is UNKNOWN else value
    return out


def _evaluate(fn: Any, ctx: Context) -> tuple[Any, set[str], list[str]]:
    ctx.missing, ctx.problems = set(), []
    value = fn(ctx)
    return value, ctx.missing, ctx.problems


def decide(policy: Policy, ctx: Context, as_of: dt.date, memory: Memory | None = None) \
        -> Decision:
    """Decide one customer's outcome. Pure: same inputs (policy, facts,
    population, as-of date, the customer's memory of earlier runs), same
    decision."""
    memory = memory or NO_MEMORY
    cid = str(ctx.facts.get("customer_id"))
    results: list[RuleResult] = []
    for rule in policy.rules:
        value, missing, problems = _evaluate(rule.when.fn, ctx)
        status = "unknown" if value is UNKNOWN else ("fired" if value is True else "passed")
        result = RuleResult(rule.id, rule.title, rule.action, rule.severity, status,
                            missing=sorted(missing), problems=list(problems))
        if status == "fired":
            result.figures = figures(policy, rule, ctx)
            result.explanation = render(rule.explain, ctx, policy.params) \
                if rule.explain else rule.title
        results.append(result)

    decision = Decision(cid, "keep", "keep", None, 0)
    applied = []
    for ex in [*policy.exemptions, *memory.exemptions]:
        matched_by_id = cid in ex.customers
        matched = matched_by_id
        if not matched and ex.when is not None:
            value, _, _ = _evaluate(ex.when.fn, ctx)
            matched = value is True
        if not matched:
            continue
        info = {"id": ex.id, "reason": ex.reason, "approver": ex.approver,
                "expires": ex.expires.isoformat(), "source": ex.source}
        if as_of >= ex.expires:
            decision.expired_exemptions.append(info)
            decision.notes.append(f"exemption {ex.id} expired on {ex.expires.isoformat()}")
        else:
            applied.append(ex)
            decision.exemptions.append(info)

    for result in results:
        if result.status == "fired":
            shield = next((ex for ex in applied if ex.shields(result.rule)), None)
            if shield is not None:
                result.shielded_by = shield.id
                decision.shielded.append(result)
            else:
                decision.fired.append(result)
        elif result.status == "unknown":
            decision.unknown.append(result)
    decision.missing = sorted({m for r in decision.unknown for m in r.missing})

    ladder = policy.strikes
    # Strikes of the as-of date itself were recorded by an earlier run of
    # the same date: this run judges those rules again and its strikes
    # replace them (store.write_run supersedes them), except for rules it
    # cannot judge (unknown here: another source's facts), which stay.
    judged = {r.rule for r in results if r.status != "unknown"}
    prior = [s for s in memory.strikes if s.recorded_on < as_of or s.rule not in judged]
    # A strike of this date that was pardoned stays pardoned: its rule firing
    # again on the date records no new strike.
    pardoned = {p.rule: p for p in memory.pardoned if p.recorded_on == as_of}
    striking = [r.rule for r in decision.fired if r.action == "strike"]
    for rule in dict.fromkeys(striking):
        if rule in pardoned:
            decision.notes.append(f"{rule}: strike of {as_of.isoformat()} pardoned by "
                                  f"{pardoned[rule].pardoned_by}")
    struck = apply_strikes([r for r in striking if r not in pardoned],
                           prior, as_of, ladder.window_days, ladder.cooldown_days)
    unshielded = apply_strikes(
        [r.rule for r in decision.fired + decision.shielded
         if r.action == "strike" and r.rule not in pardoned],
        prior, as_of, ladder.window_days, ladder.cooldown_days)
    # A shielded rule's strikes do not count while its exemption applies
    # (new ones are never among them: their rules fired unshielded).
    counted, aside = shield_strikes(struck.active, applied)
    strikes = len(counted)
    outcome = _ladder(policy, decision.fired, strikes)
    would_have = _ladder(policy, decision.fired + decision.shielded, len(unshielded.active))
    decision.new_strikes = [s.rule for s in struck.new]
    decision.repeat_strikes = [s.to_dict(ladder.window_days) for s in struck.repeated]
    decision.active_strikes = [s.to_dict(ladder.window_days) for s in counted]
    decision.set_aside_strikes = [{**s.to_dict(ladder.window_days), "exemption": by}
                                  for s, by in aside]
    for s in struck.repeated:
        decision.notes.append(f"{s.rule} fired again within the {ladder.cooldown_days}-day "
                              f"cool-down of its strike of {s.recorded_on.isoformat()}: "
                              "same strike")
    if decision.unknown and policy.on_missing == "watch" and RANK[outcome] < RANK["watch"]:
        outcome = "watch"
        reasons = []
        for r in decision.unknown:
            why = ", ".join([*(f"missing {m}" for m in r.missing), *r.problems]) or "unknown"
            reasons.append(f"{r.rule}: {why}")
        decision.notes.append("on watch: rules could not be checked (" + "; ".join(reasons)
                              + ")")
    decision.strikes = strikes
    # What the rules alone say, before exemptions and holds.
    decision.base_outcome = would_have if RANK[would_have] > RANK[outcome] else outcome
    fired_severities = [r.severity for r in decision.fired]
    decision.severity = max(fired_severities, key=SEVERITY_RANK.__getitem__) \
        if fired_severities else None

    final = outcome
    if RANK[would_have] > RANK[outcome] and RANK[outcome] <= RANK["watch"]:
        final = "exempt"
        decision.notes.append(f"exempt: without exemptions the outcome would be {would_have}")
    if RANK[outcome] >= RANK["warn"]:
        fired_ids = {r.rule for r in decision.fired}
        for hold in policy.holds:
            if hold.except_rules & fired_ids:
                decision.notes.append(f"hold {hold.id} does not apply: "
                                      + ", ".join(sorted(hold.except_rules & fired_ids))
                                      + " fired")
                continue
            value, missing, _ = _evaluate(hold.when.fn, ctx)
            if value is True:
                decision.holds.append({"id": hold.id, "reason": hold.reason})
            elif value is UNKNOWN:
                decision.holds.append({"id": hold.id, "reason": hold.reason,
                                       "unknown": sorted(missing)})
        if decision.holds:
            final = "held"
            decision.notes.append(f"held: {outcome} waits until the hold is resolved")
    decision.outcome = final
    if final == "offboard":
        _timing(policy.timing, ctx, as_of, decision)
    else:  # a fit problem (e.g. outgrown) earns a referral whatever the outcome
        _referrals(policy.timing, ctx, decision, conditional_only=True)
    # An open case keeps its date (an approval too late for it sets it again);
    # a rejection holds.
    cases.carry(policy, memory, decision, as_of, ctx.facts.get("contract_end"))
    return decision


def _ladder(policy: Policy, fired: list[RuleResult], strikes: int) -> str:
    """The outcome for these fired rules and this many active strikes."""
    if any(r.action == "offboard" for r in fired):
        return "offboard"
    ladder = policy.strikes
    if strikes >= ladder.offboard:
        return "offboard"
    if strikes >= ladder.final_notice:
        return "final_notice"
    if strikes >= ladder.warn:
        return "warn"
    if fired:
        return "watch"
    return "keep"


def _in_period(day: dt.date, start: tuple[int, int], end: tuple[int, int]) -> bool:
    md = (day.month, day.day)
    if start <= end:
        return start <= md <= end
    return md >= start or md <= end  # wraps the year end


def _month_day(year: int, month_day: tuple[int, int]) -> dt.date:
    """The date of a month-day in a year; 02-29 is 02-28 outside leap years."""
    month, day = month_day
    if (month, day) == (2, 29) and not calendar.isleap(year):
        day = 28
    return dt.date(year, month, day)


WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def effective_date(timing: Timing, contract_end: Any, as_of: dt.date) -> tuple[dt.date, str]:
    """When an offboarding takes effect, and why then (the basis, in words
    for an ops person).

    The start is the contract end (when it falls within
    contract_end_within_days after as_of) or the end of the notice period.
    Then, until the date stays put: an avoided period (timing.avoid) moves
    it to the day after the period; with weekdays_only a Saturday or Sunday
    moves it to the Monday. An unmoved date's basis is just `contract end`
    or `60-day notice period`; otherwise the basis names the starting date
    and every move in order, e.g. `contract end 2027-01-23 (a Saturday),
    moved to Monday 2027-01-25 (weekdays only)` or `60-day notice period
    ends 2026-12-20, moved past the holidays to 2027-01-06` (a period
    without a reason is named by its days: `an avoided period (12-15 to
    01-05)`).
    """
    if isinstance(contract_end, dt.date) and \
            0 < (contract_end - as_of).days <= timing.contract_end_within_days:
        day, start = contract_end, "contract end"
        named = f"contract end {day.isoformat()}"
    else:
        day, start = as_of + dt.timedelta(days=timing.notice_days), \
            f"{timing.notice_days}-day notice period"
        named = f"{start} ends {day.isoformat()}"
    moves: list[str] = []
    for _ in range(8):
        moved = False
        for begin, end, reason in timing.avoid:
            if _in_period(day, begin, end):
                year = day.year if (day.month, day.day) <= end else day.year + 1
                day = _month_day(year, end) + dt.timedelta(days=1)
                period = f"{begin[0]:02d}-{begin[1]:02d} to {end[0]:02d}-{end[1]:02d}"
                what = reason or f"an avoided period ({period})"
                moves.append(f"moved past {what} to {day.isoformat()}")
                moved = True
        if timing.weekdays_only and day.weekday() >= 5:
            weekend = f" (a {WEEKDAYS[day.weekday()]})"
            if moves:
                moves[-1] += weekend
            else:
                named += weekend
            day += dt.timedelta(days=7 - day.weekday())
            moves.append(f"moved to Monday {day.isoformat()} (weekdays only)")
            moved = True
        if not moved:
            break
    return day, ", ".join([named, *moves]) if moves else start


def _referrals(timing: Timing, ctx: Context, decision: Decision,
               conditional_only: bool = False) -> None:
    """Vendors to suggest (up to max_referrals), with the entries' notes."""
    out = decision.referrals
    for ref in timing.referrals:
        if ref.when is None and conditional_only:
            continue
        if ref.when is not None:
            value, _, _ = _evaluate(ref.when.fn, ctx)
            if value is not True:
                continue
        added = False
        for vendor in ref.vendors:
            if vendor not in out and len(out) < timing.max_referrals:
                out.append(vendor)
                added = True
        if added and ref.note:
            decision.notes.append(f"referral: {ref.note}")


def _timing(timing: Timing, ctx: Context, as_of: dt.date, decision: Decision) -> None:
    day, basis = effective_date(timing, ctx.facts.get("contract_end"), as_of)
    decision.effective_date = day.isoformat()
    decision.timing_basis = basis
    start = max(day - dt.timedelta(days=timing.phase_out_days), as_of + dt.timedelta(days=1))
    decision.phase_out_start = start.isoformat()
    _referrals(timing, ctx, decision)


def evaluate_all(policy: Policy, records: list[Record], as_of: dt.date,
                 progress: Callable[[int], None] | None = None,
                 memories: dict[str, Memory] | None = None) \
        -> tuple[list[Decision], Population]:
    """Decide every customer; returns the decisions and the population used.
    memories: each customer's memory of earlier runs, by customer id.
    `progress(n)` is called after every n customers decided."""
    contexts, population = make_contexts(policy, records, as_of)
    population.compute_all()
    memories = memories or {}
    decisions = []
    for i, ctx in enumerate(contexts, 1):
        decisions.append(decide(policy, ctx, as_of, memories.get(ctx.facts["customer_id"])))
        if progress is not None and i % 1000 == 0:
            progress(1000)
    if progress is not None and len(contexts) % 1000:
        progress(len(contexts) % 1000)
    return decisions, population
