"""Evaluate a compiled policy over customers and decide an outcome for each.

`decide` is a pure function of (policy, one customer's context, as-of date,
prior strikes): rules -> exemptions -> strike ladder -> holds -> timing.
An exemption that applies on the as-of date shields its rules twice: a
shielded rule that fires records no strike, and the rule's active strikes
from earlier runs are set aside (not counted on the ladder) while it
applies (ledger.shield_strikes)."""

from __future__ import annotations

import datetime as dt
import re
import string
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from . import cases, decide_plan, decimals
from .expr import UNKNOWN, Context
from .facts import Record, to_json_value
from .ledger import Memory, Strike, apply_strikes, shield_strikes
from .policy import OUTCOMES, Policy, Rule, Timing
from .population import Population
from .templates import cut_field
from .timing import effective_date as effective_date  # re-exported: decide.effective_date
from .timing import timing_steps

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
    ISO 8601, exemption the shielding exemption's id).

    timing_steps and referral_entries record how the decision was made, for
    coverage (engine/coverage.py); they are not stored or shown (to_dict
    leaves them out, TRACE_FIELDS). timing_steps: the branches of the
    policy's timing section that made effective_date, in order
    (`contract-end` or `notice-period`, then `avoid MM-DD to MM-DD` per move
    past an avoided period, `weekdays-only` per move off a weekend); empty
    when the date did not come from the timing section (no date, or a date
    kept from an offboarding case). referral_entries: the numbers (from 1)
    of the timing.referrals entries that gave a vendor."""

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
    timing_steps: tuple[str, ...] = field(default=(), compare=False, repr=False)
    referral_entries: tuple[int, ...] = field(default=(), compare=False, repr=False)
    # Holds whose condition held (True, not unknown) but stood aside because
    # one of their except_rules fired (coverage's `hold H except`).
    holds_set_aside: tuple[str, ...] = field(default=(), compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for name in TRACE_FIELDS:
            del out[name]
        return out

    @property
    def reasons(self) -> list[str]:
        return [r.explanation or r.title for r in self.fired]


# Decision fields that record how it was made (for coverage), not stored.
TRACE_FIELDS = ("timing_steps", "referral_entries", "holds_set_aside")

_NEGATIVE_ZERO = re.compile(r"-[0,._]*(?:[eE][-+]?[0-9]+)?%?")


class _Renderer(string.Formatter):
    def __init__(self, ctx: Context, params: dict[str, Any]):
        self.ctx, self.params = ctx, params

    def get_value(self, key: Any, args: Any, kwargs: Any) -> Any:
        if key in self.params:
            return self.params[key]
        return self.ctx.value_of(key)

    def format_field(self, value: Any, format_spec: str) -> str:
        return format_value(value, format_spec)


def format_value(value: Any, format_spec: str) -> str:
    """One template field's text: unknown, plain decimals, never "-0"."""
    if value is UNKNOWN:
        return "unknown"
    if isinstance(value, Decimal) and not value:
        value = value.copy_abs()  # 0 * -1.5 is 0, never shown as "-0.00"
    if not format_spec and isinstance(value, Decimal):
        # equal amounts read the same (5476.5 and 5476.50); never 1E+3
        return cut_field(decimals.plain_text(value.normalize()))
    try:
        text = format(value, format_spec)
    except (ValueError, TypeError):
        return cut_field(str(value))
    # -0.4 at no decimals is 0, not "-0"
    if "-" in text and _NEGATIVE_ZERO.fullmatch(text.strip()):
        return text.replace("-", "", 1)
    # at most templates.MAX_FIELD_CHARS: the bound validate checks is kept
    return cut_field(text)


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
    decision.

    Evaluates the policy's generated code (engine/codegen.py, made once per
    policy, kept on it with what does not depend on the customer:
    engine/decide_plan.py); decide_reference.reference_decide gives the same
    Decision from the expression closures, step by step as written first."""
    memory = memory or NO_MEMORY
    plan = policy.__dict__.get("decide_plan") or decide_plan.plan_of(policy)
    facts = ctx.facts
    cid = str(facts.get("customer_id"))
    fired_raw, unknown_raw, ex_values, hold_values, ref_values, derived = \
        plan.fn(facts, ctx.as_of, ctx.population, ctx)
    rules = plan.rules
    fired: list[RuleResult] = []
    for i, missing, problems in fired_raw:
        rp = rules[i]
        result = RuleResult(rp.id, rp.title, rp.action, rp.severity, "fired", None,
                            decide_plan.figures(plan, rp, facts, derived, ctx.population),
                            sorted(missing), list(problems))
        if rp.parts is not None:
            result.explanation = decide_plan.render(plan, rp, facts, derived, format_value)
        else:
            result.explanation = render(rp.rule.explain, ctx, policy.params) \
                if rp.rule.explain else rp.title
        fired.append(result)
    unknown = [RuleResult(rules[i].id, rules[i].title, rules[i].action, rules[i].severity,
                          "unknown", None, {}, sorted(missing), list(problems))
               for i, missing, problems in unknown_raw] if unknown_raw else []

    notes: list[str] = []
    applied: list[Any] = []
    exemptions: list[dict[str, Any]] = []
    expired: list[dict[str, Any]] = []
    if plan.exemptions or memory.exemptions:
        for j, ex in enumerate([*plan.exemptions, *memory.exemptions]
                               if memory.exemptions else plan.exemptions):
            if cid not in ex.customers:
                if ex.when is None:
                    continue
                value = ex_values[j] if j < len(ex_values) else _evaluate(ex.when.fn, ctx)[0]
                if value is not True:
                    continue
            info = {"id": ex.id, "reason": ex.reason, "approver": ex.approver,
                    "expires": ex.expires.isoformat(), "source": ex.source}
            if as_of >= ex.expires:
                expired.append(info)
                notes.append(f"exemption {ex.id} expired on {ex.expires.isoformat()}")
            else:
                applied.append(ex)
                exemptions.append(info)

    shielded: list[RuleResult] = []
    if applied and fired:
        kept = []
        for result in fired:
            shield = next((ex for ex in applied if ex.shields(result.rule)), None)
            if shield is not None:
                result.shielded_by = shield.id
                shielded.append(result)
            else:
                kept.append(result)
        fired = kept

    # The ladder, as reference_decide reaches it (see there for the why).
    window = plan.window_days
    new_strikes: list[str] = []
    repeat: list[dict[str, Any]] = []
    active: list[dict[str, Any]] = []
    aside: list[dict[str, Any]] = []
    if fired or shielded or memory.strikes:
        pardoned = {p.rule: p for p in memory.pardoned if p.recorded_on == as_of} \
            if memory.pardoned else {}
        striking = [r.rule for r in fired if r.action == "strike"]
        if pardoned:
            for rule in dict.fromkeys(striking):
                if rule in pardoned:
                    notes.append(f"{rule}: strike of {as_of.isoformat()} pardoned by "
                                 f"{pardoned[rule].pardoned_by}")
            striking_now = [r for r in striking if r not in pardoned]
        else:
            striking_now = striking
        unshielded_rules = [r.rule for r in fired + shielded
                            if r.action == "strike" and r.rule not in pardoned] \
            if shielded else striking_now
        repeated: list[Any] = []
        if memory.strikes:
            unknown_ids = {r.rule for r in unknown}
            prior = [s for s in memory.strikes if s.recorded_on < as_of
                     or s.rule in unknown_ids or s.rule not in plan.rule_ids]
            struck = apply_strikes(striking_now, prior, as_of, window, plan.cooldown_days)
            would_strikes = len(apply_strikes(unshielded_rules, prior, as_of, window,
                                              plan.cooldown_days).active)
            counted, set_aside = shield_strikes(struck.active, applied)
            new_strikes = [s.rule for s in struck.new]
            repeated = struck.repeated
            active = [s.to_dict(window) for s in counted]
            repeat = [s.to_dict(window) for s in repeated]
            aside = [{**s.to_dict(window), "exemption": by} for s, by in set_aside]
        else:  # nothing earlier: every strike is new
            new_strikes = list(dict.fromkeys(striking_now))
            would_strikes = len(dict.fromkeys(unshielded_rules)) if shielded \
                else len(new_strikes)
            if new_strikes:
                recorded, expires = plan.strike_dates(as_of)
                active = [{"rule": r, "recorded_on": recorded, "expires_on": expires}
                          for r in new_strikes]
                if applied:  # shielded rules fired shielded: none of these is set aside
                    counted, set_aside = shield_strikes(
                        [Strike(r, as_of) for r in new_strikes], applied)
                    active = [s.to_dict(window) for s in counted]
                    aside = [{**s.to_dict(window), "exemption": by} for s, by in set_aside]
        strikes = len(active)
        outcome = _plan_ladder(plan, fired, strikes)
        would_have = _plan_ladder(plan, fired + shielded, would_strikes) if shielded or \
            would_strikes != strikes else outcome
        for s in repeated:
            notes.append(f"{s.rule} fired again within the {plan.cooldown_days}-day "
                         f"cool-down of its strike of {s.recorded_on.isoformat()}: same strike")
    else:
        strikes = 0
        outcome = would_have = _plan_ladder(plan, fired, 0)
    if unknown and policy.on_missing == "watch" and RANK[outcome] < RANK["watch"]:
        outcome = "watch"
        reasons = []
        for r in unknown:
            why = ", ".join([*(f"missing {m}" for m in r.missing), *r.problems]) or "unknown"
            reasons.append(f"{r.rule}: {why}")
        notes.append("on watch: rules could not be checked (" + "; ".join(reasons) + ")")
    base_outcome = would_have if RANK[would_have] > RANK[outcome] else outcome
    severity = (fired[0].severity if len(fired) == 1 else
                max((r.severity for r in fired), key=SEVERITY_RANK.__getitem__)) \
        if fired else None

    final = outcome
    if would_have != outcome and RANK[would_have] > RANK[outcome] \
            and RANK[outcome] <= RANK["watch"]:
        final = "exempt"
        notes.append(f"exempt: without exemptions the outcome would be {would_have}")
    holds: list[dict[str, Any]] = []
    set_aside: list[str] = []
    if RANK[outcome] >= RANK["warn"]:
        fired_ids = {r.rule for r in fired}
        for hold, (value, missing) in zip(policy.holds, hold_values, strict=True):
            if hold.except_rules & fired_ids:
                notes.append(f"hold {hold.id} does not apply: "
                             + ", ".join(sorted(hold.except_rules & fired_ids)) + " fired")
                if value is True:  # it would have held: the except branch made the difference
                    set_aside.append(hold.id)
                continue
            if value is True:
                holds.append({"id": hold.id, "reason": hold.reason})
            elif value is UNKNOWN:
                holds.append({"id": hold.id, "reason": hold.reason, "unknown": sorted(missing)})
        if holds:
            final = "held"
            notes.append(f"held: {outcome} waits until the hold is resolved")
    decision = Decision(
        cid, final, base_outcome, severity, strikes, new_strikes, repeat, active, aside,
        fired, shielded, unknown,
        sorted({m for r in unknown for m in r.missing}) if unknown else [],
        exemptions, expired, holds, None, None, None, [], notes)
    decision.holds_set_aside = tuple(set_aside)
    timing = policy.timing
    if final == "offboard":
        day, basis, steps = timing_steps(timing, facts.get("contract_end"), as_of)
        decision.effective_date = day.isoformat()
        decision.timing_basis = basis
        decision.timing_steps = steps
        start = max(day - dt.timedelta(days=timing.phase_out_days),
                    as_of + dt.timedelta(days=1))
        decision.phase_out_start = start.isoformat()
        _plan_referrals(timing, ref_values, decision, False)
    else:  # a fit problem (e.g. outgrown) earns a referral whatever the outcome
        for k in plan.conditional_referrals:
            if ref_values[k] is True:
                _plan_referrals(timing, ref_values, decision, True)
                break
    if memory.case is not None:
        cases.carry(policy, memory, decision, as_of, facts.get("contract_end"))
    return decision


def _plan_ladder(plan: Any, fired: list[RuleResult], strikes: int) -> str:
    """The outcome for these fired rules and this many active strikes; plan:
    anything with the ladder's thresholds (warn, final_notice, offboard):
    a decide_plan.Plan or the policy's strikes section."""
    for r in fired:
        if r.action == "offboard":
            return "offboard"
    if strikes >= plan.offboard:
        return "offboard"
    if strikes >= plan.final_notice:
        return "final_notice"
    if strikes >= plan.warn:
        return "warn"
    return "watch" if fired else "keep"


def _plan_referrals(timing: Timing, values: tuple, decision: Decision,
                    conditional_only: bool) -> None:
    """_referrals with the generated code's values of the conditions."""
    out = decision.referrals
    gave: list[int] = []
    for number, (ref, value) in enumerate(zip(timing.referrals, values, strict=True), 1):
        if ref.when is None and conditional_only:
            continue
        if ref.when is not None and value is not True:
            continue
        added = False
        for vendor in ref.vendors:
            if vendor not in out and len(out) < timing.max_referrals:
                out.append(vendor)
                added = True
        if added:
            gave.append(number)
            if ref.note:
                decision.notes.append(f"referral: {ref.note}")
    if gave:
        decision.referral_entries = (*decision.referral_entries, *gave)


def _ladder(policy: Policy, fired: list[RuleResult], strikes: int) -> str:
    """The outcome for these fired rules and this many active strikes."""
    return _plan_ladder(policy.strikes, fired, strikes)


def _referrals(timing: Timing, ctx: Context, decision: Decision,
               conditional_only: bool = False) -> None:
    """Vendors to suggest (up to max_referrals), with the entries' notes."""
    values = tuple(None if ref.when is None else _evaluate(ref.when.fn, ctx)[0]
                   for ref in timing.referrals)
    _plan_referrals(timing, values, decision, conditional_only)


def _timing(timing: Timing, ctx: Context, as_of: dt.date, decision: Decision) -> None:
    day, basis, steps = timing_steps(timing, ctx.facts.get("contract_end"), as_of)
    decision.effective_date = day.isoformat()
    decision.timing_basis = basis
    decision.timing_steps = steps
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
