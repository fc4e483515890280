"""decide() as first written, over the reference closures of engine/expr.py:
what tests/test_codegen.py checks the generated code's decide() against
(whole Decisions, every field). Kept step for step as it was; a change of
decide's behaviour changes both."""

from __future__ import annotations

import datetime as dt

from . import cases
from .decide import (
    NO_MEMORY,
    RANK,
    SEVERITY_RANK,
    Decision,
    RuleResult,
    _evaluate,
    _ladder,
    _referrals,
    _timing,
    figures,
    render,
)
from .expr import UNKNOWN, Context
from .ledger import Memory, apply_strikes, shield_strikes
from .policy import Policy


def reference_decide(policy: Policy, ctx: Context, as_of: dt.date,
                     memory: Memory | None = None) -> Decision:
    """decide() over the reference closures of engine/expr.py, step by step
    as written first: what tests/test_codegen.py checks decide() against."""
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
