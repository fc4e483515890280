"""What decide() needs of a policy that does not depend on the customer,
worked out once per policy and kept on the policy object: the generated
evaluation function (engine/codegen.py), each rule's fixed fields, the
names its figures show, its explanation template parsed, the ladder's
thresholds. Also the figures and explanation of a fired rule from the
generated function's values (the same text decide.render gives)."""

from __future__ import annotations

import datetime as dt
import string
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

from .codegen import compiled_code
from .facts import to_json_value
from .values import UNKNOWN


@dataclass
class RulePlan:
    """One rule's fixed parts. figures: (name, kind, ref) in sorted name
    order, kind "param" (ref: the value as stored), "derive" (ref: index in
    the derived tuple) or "fact" (ref: None). parts: the explanation
    template as (literal, field or None, format spec), or None to render
    with decide.render (a template decide.render reads differently)."""

    rule: Any
    id: str
    title: str
    action: str
    severity: str
    strike: bool
    figures: list[tuple[str, str, Any]]
    population_keys: list[str]
    parts: list[tuple[str, str | None, str]] | None


@dataclass
class Plan:
    fn: Callable[..., tuple]
    rules: list[RulePlan]
    rule_ids: frozenset[str]
    derived: dict[str, int]
    params: dict[str, Any]
    warn: int
    final_notice: int
    offboard: int
    window_days: int
    cooldown_days: int
    exemptions: tuple[Any, ...]         # policy.exemptions
    conditional_referrals: tuple[int, ...]  # timing.referrals with `when`, by index
    _dates: dict[dt.date, tuple[str, str]] = dataclass_field(default_factory=dict)


    def strike_dates(self, as_of: dt.date) -> tuple[str, str]:
        """A strike recorded on as_of: (recorded_on, expires_on), ISO 8601."""
        dates = self._dates.get(as_of)
        if dates is None:
            if len(self._dates) > 64:
                self._dates.clear()
            dates = self._dates[as_of] = (
                as_of.isoformat(), (as_of + dt.timedelta(days=self.window_days)).isoformat())
        return dates


def plan_of(policy: Any) -> Plan:
    """The policy's plan, made on first use (policy.decide_plan)."""
    plan = policy.__dict__.get("decide_plan")
    if plan is None:
        plan = policy.__dict__["decide_plan"] = _make(policy)
    return plan


def _make(policy: Any) -> Plan:
    derived = {name: i for i, name in enumerate(policy.derive)}
    rules = []
    for rule in policy.rules:
        figures = []
        for name in sorted(rule.when.names):
            if name in policy.params:
                figures.append((name, "param", to_json_value(policy.params[name])))
            elif name in derived:
                figures.append((name, "derive", derived[name]))
            else:
                figures.append((name, "fact", None))
        rules.append(RulePlan(rule, rule.id, rule.title, rule.action, rule.severity,
                              rule.action == "strike", figures,
                              list(rule.when.population_keys), _parts(rule.explain)))
    ladder = policy.strikes
    return Plan(compiled_code(policy).fn, rules, frozenset(r.id for r in policy.rules),
                derived, policy.params, ladder.warn, ladder.final_notice, ladder.offboard,
                ladder.window_days, ladder.cooldown_days, tuple(policy.exemptions),
                tuple(i for i, r in enumerate(policy.timing.referrals) if r.when is not None))


def _parts(template: str | None) -> list[tuple[str, str | None, str]] | None:
    """A template as string.Formatter reads it, when the fast renderer reads
    it the same way: plain names, no conversion, no nested fields."""
    if not template:
        return None
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError:
        return None
    out = []
    for literal, field, spec, conversion in parsed:
        if field is not None and (not field.isidentifier() or conversion
                                  or "{" in (spec or "") or "}" in (spec or "")):
            return None
        out.append((literal, field, spec or ""))
    return out


def figures(plan: Plan, rule: RulePlan, facts: dict[str, Any], derived: tuple,
            population: Any) -> dict[str, Any]:
    """decide.figures from the generated function's values."""
    out: dict[str, Any] = {}
    for name, kind, ref in rule.figures:
        if kind == "param":
            out[name] = ref
            continue
        value = derived[ref] if kind == "derive" else facts.get(name)
        out[name] = None if value is UNKNOWN or value is None else to_json_value(value)
    for key in rule.population_keys:
        value = population.value(key)
        out[key] = None if value is UNKNOWN else value
    return out


def render(plan: Plan, rule: RulePlan, facts: dict[str, Any], derived: tuple,
           format_value: Callable[[Any, str], str]) -> str:
    """decide.render of the rule's template from the generated values."""
    params = plan.params
    out = []
    for literal, field, spec in rule.parts or ():
        if literal:
            out.append(literal)
        if field is None:
            continue
        if field in params:
            value = params[field]
        elif field in plan.derived:
            value = derived[plan.derived[field]]
        else:
            value = facts.get(field)
            if value is None:
                value = UNKNOWN
        out.append(format_value(value, spec))
    return "".join(out)
