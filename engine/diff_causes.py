"""Why one customer's decision differs between the two sides of `adieu
diff` (engine.whatif): found by deciding again, not by what a rule
mentions.

Each side is a View: a policy, one customer's facts, an as-of date and
the population figures the side decided with. The cross view X decides
the new side's facts (its as-of date, and the old policy's population
figures over the new side's customers) under the old policy; the cross
view Y the old side's facts under the new policy. A rule whose result
differs between the old side A and the new side B:

- was changed by the data when X's result differs from A's (the new
  facts alone move it) or Y's differs from B's (the new policy on the old
  facts does not get there): named are the facts, derived values and
  population figures the rule's condition rests on whose values differ
  ("fact late_payments_12m: 1 -> 6");
- was changed by the policy when X's result differs from B's or Y's
  from A's: named are the rule's own change, the changed params and
  derived figures its condition rests on that made the difference, each
  put back on its own (engine.diff_variants), and the population figures
  that differ between X and B when giving the new policy X's figures back
  gives X's result;
- when neither alone moved it (X and Y both give A's result), both are
  named, ending with diff_variants.TOGETHER.

With OLD NEW --source both policies decide the same facts: X is A, and
every difference is the policy's. A status change that only an exemption
made (fired -> shielded) names the exemption. Dates and referrals are
checked the same way: each timing key put back on its own (the keys the
new date needs; else those that alone move the old one), the referral
entries' conditions as for a rule."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import replace
from decimal import Decimal
from typing import Any

from .decide import _plan_referrals, effective_date, figures
from .decimals import plain_text
from .diff_variants import TOGETHER, policy_names
from .expr import UNKNOWN, Context
from .facts import from_json_facts
from .policy import Policy
from .policy_diff import PolicyChange, _show, causes, rule_change_lines, rule_names

# Timing keys that move an offboarding's effective date or phase-out start.
DATE_KEYS = ("contract_end_within_days", "notice_days", "phase_out_days", "weekdays_only",
             "avoid")
REFERRAL_KEYS = ("referrals", "max_referrals")
# (A, X, Y, B): the old side, the new facts under the old policy, the old
# facts under the new policy, the new side (None where there is none).
Views = tuple[Any, Any, Any, Any]


class View:
    """One customer as one side decided it: the policy, the facts (typed,
    or stored JSON decoded with the policy's fact types on first use), the
    as-of date and the population figures (anything with value(key))."""

    def __init__(self, policy: Policy, facts: Any, as_of: dt.date, population: Any,
                 decoded: bool = True):
        self.policy, self.as_of, self.population = policy, as_of, population
        self._facts, self._decoded = facts, decoded
        self._ctx: Context | None = None

    @property
    def facts(self) -> dict[str, Any]:
        if not self._decoded:
            self._facts, self._decoded = from_json_facts(self._facts, self.policy.facts), True
        return self._facts

    @property
    def raw_facts(self) -> Any:
        return self._facts

    def ctx(self) -> Context:
        if self._ctx is None:
            self._ctx = Context(self.facts, self.as_of, self.population,
                                self.policy.derive_fns)
        return self._ctx

    def cond(self, compiled: Any) -> Any:
        """A compiled condition's value: True, False or UNKNOWN."""
        ctx = self.ctx()
        ctx.missing, ctx.problems = set(), []
        return compiled.fn(ctx)

    def result(self, rule_id: str) -> str:
        """fired | passed | unknown, or absent (the policy has no such rule)."""
        rule = self.policy.rule(rule_id)
        if rule is None:
            return "absent"
        value = self.cond(rule.when)
        return "unknown" if value is UNKNOWN else ("fired" if value is True else "passed")

    def value(self, name: str) -> Any:
        """A param, fact or derived value (None when unknown)."""
        if name in self.policy.params:
            return self.policy.params[name]
        value = self.ctx().value_of(name)
        return None if value is UNKNOWN else value

    def figure(self, key: str) -> Any:
        """A population figure (None when unknown or not one of this side's)."""
        try:
            value = self.population.value(key)
        except KeyError:
            return None
        return None if value is UNKNOWN else value

    def figures(self, rule_id: str) -> dict[str, Any]:
        rule = self.policy.rule(rule_id)
        return figures(self.policy, rule, self.ctx()) if rule is not None else {}


class LazyStats:
    """Population figures computed the first time one is asked for
    (compute() -> a Population.stats dict)."""

    def __init__(self, compute: Callable[[], dict[str, dict[str, Any]]]):
        self._compute = compute
        self.stats: dict[str, dict[str, Any]] | None = None

    def value(self, key: str) -> Any:
        if self.stats is None:
            self.stats = self._compute()
        value = self.stats[key]["value"]
        return UNKNOWN if value is None else value


class _Mixed:
    """A side's population with some figures replaced (the Z check)."""

    def __init__(self, population: Any, replaced: dict[str, Any]):
        self.population, self.replaced = population, replaced

    def value(self, key: str) -> Any:
        if key in self.replaced:
            value = self.replaced[key]
            return UNKNOWN if value is None else value
        return self.population.value(key)


def show(value: Any, other: Any = None) -> str:
    """A value as the figures show it (explain.fmt), with every digit when
    the two sides would otherwise read the same."""
    from .explain import fmt
    text = fmt(value)
    if other is not None and fmt(other) == text and isinstance(value, Decimal):
        return plain_text(value.normalize())
    return text


def raw(status: str) -> str:
    """A rule status without the exemption: "shielded by X" fired."""
    return "fired" if status.startswith("shielded by ") else status


def _deep(policy: Policy, compiled: Iterable[Any]) -> tuple[list[str], list[str]]:
    """The names (facts, params, derived figures) and population keys the
    compiled expressions rest on, through derived figures."""
    names: list[str] = []
    keys: list[str] = []
    todo = []
    for c in compiled:
        todo.extend(sorted(c.names))
        keys.extend(k for k in c.population_keys if k not in keys)
    while todo:
        name = todo.pop(0)
        if name in names:
            continue
        names.append(name)
        if name in policy.derive:
            todo.extend(sorted(policy.derive[name].names))
            keys.extend(k for k in policy.derive[name].population_keys if k not in keys)
    return names, keys


def _label(view: View, key: str, other: View | None = None) -> str:
    """A population figure in words: "p90 of staff_hours_per_1k", "mean of
    x", else its key; "p90 -> p75 of ..." when the other side's policy
    computes it with another percentile."""
    call = view.policy.population_calls.get(key)
    if call is not None and call.kind == "percentile" and call.p is not None:
        p = plain_text(Decimal(call.p))
        then = other.policy.population_calls.get(key) if other is not None else None
        if then is not None and then.p is not None and then.p != call.p:
            p += f" -> p{plain_text(Decimal(then.p))}"
        return f"p{p} of {call.name}"
    if call is not None and call.kind == "mean":
        return f"mean of {call.name}"
    return key


def data_causes(a: View, x: View, compiled: list[Any],
                result: Callable[[View], Any] | None = None) -> list[str]:
    """Facts, derived values and population figures the expressions rest
    on (under A's policy) whose values differ between A and X, facts
    first; the as-of date when nothing else differs. With `result` (the
    rule's result of a view), a population figure is named only when it
    made a difference of its own: X given A's figure alone, or A given X's
    figure alone, changes the result (a percentile that rose and so raised
    the bar cannot be why a rule fires); if none does, none when facts
    differ, else all that differ."""
    names, keys = _deep(a.policy, compiled)
    facts, derived = [], []
    changed_derived = []
    for name in names:
        if name in a.policy.params:
            continue
        va, vx = a.value(name), x.value(name)
        if va != vx:
            line = f"{name}: {show(va, vx)} -> {show(vx, va)}"
            (derived if name in a.policy.derive else facts).append(line)
            if name in a.policy.derive:
                changed_derived.append(name)
    out = [f"fact {line}" for line in facts]
    if result is not None:
        all_keys = set(keys)
        keys = _deciding_keys(a, x, keys, result, bool(facts))
        # a derived figure made of population figures alone (p90 under a
        # name of its own) stands or falls with them
        dropped = all_keys - set(keys)
        derived = [line for name, line in zip(changed_derived, derived, strict=True)
                   if not _alias_of(a, x, name, dropped)]
    for key in keys:
        va, vx = a.figure(key), x.figure(key)
        if va != vx:
            out.append(f"{_label(a, key)}: {show(va, vx)} -> {show(vx, va)}")
    out += [f"derived {line}" for line in derived]
    if not out and a.as_of != x.as_of:
        out.append(f"as-of date: {a.as_of.isoformat()} -> {x.as_of.isoformat()}")
    return out


def _alias_of(a: View, x: View, name: str, keys: set[str]) -> bool:
    """Derived NAME is one of the population figures KEYS under a name of
    its own (`staff_hours_per_1k_p90: percentile(...)`): equal to it on both
    sides."""
    return any(a.value(name) == a.figure(k) and x.value(name) == x.figure(k) for k in keys)


def _deciding_keys(a: View, x: View, keys: Any, result: Callable[[View], Any],
                   facts_differ: bool) -> list[str]:
    """The population figures of KEYS that differ between A and X and alone
    change the rule's result; when none does alone: none if facts differ
    (they made it), else all that differ (together)."""
    differ = [k for k in keys if a.figure(k) != x.figure(k)]
    ra, rx = result(a), result(x)

    def swapped(view: View, key: str, value: Any) -> View:
        return View(view.policy, view.facts, view.as_of, _Mixed(view.population, {key: value}))
    deciding = [k for k in differ
                if result(swapped(x, k, a.figure(k))) != rx
                or result(swapped(a, k, x.figure(k))) != ra]
    return deciding if deciding or facts_differ else differ


def _population_causes(x: View, b: View, compiled: list[Any],
                       result: Callable[[View], Any]) -> list[str]:
    """Population figures that differ between X and B (keys both have) and
    that made the difference: B's policy given X's figures gives X's
    result."""
    _, keys = _deep(b.policy, compiled)
    differ = {}
    for key in keys:
        vx, vb = x.figure(key), b.figure(key)
        if vx is not None and vx != vb:
            differ[key] = (vx, vb)
    if not differ:
        return []
    z = View(b.policy, b.facts, b.as_of, _Mixed(b.population, {k: v[0] for k, v in
                                                              differ.items()}))
    if result(z) != result(x):
        return []
    return [f"{_label(x, key, b)}: {show(vx, vb)} -> {show(vb, vx)}"
            for key, (vx, vb) in differ.items()]


def rule_causes(change: PolicyChange, old: Policy | None, new: Policy | None, rule_id: str,
                old_status: str, new_status: str, views: Views) -> list[str]:
    """What made rule_id's result differ (the module docstring). views:
    (A, X, Y, B); without A, X and B (a policy that no longer compiles, no
    stored facts), the policy change the rule rests on, as before."""
    ra, rb = raw(old_status), raw(new_status)
    if ra == rb:
        return _shield_causes(change, old_status, new_status)
    a, x, y, b = views
    if a is None or x is None or b is None:
        return causes(change, old, new, rule_id)

    def result(v: View) -> str:
        return v.result(rule_id)
    rx = result(x)
    ry = result(y) if y is not None else None
    out: list[str] = []
    # the data made the difference: alone (X moved from A) or needed (Y, the
    # old facts under the new policy, did not reach B)
    if rx != ra or (ry is not None and ry != rb):
        on, to = (a, x) if rx != ra else (y, b)
        rule = on.policy.rule(rule_id)  # type: ignore[union-attr]
        out += data_causes(on, to, [rule.when] if rule is not None else [],  # type: ignore[arg-type]
                           result)
    together = False
    # the policy made the difference: needed (X did not reach B) or alone (Y moved from A)
    if rx != rb or (ry is not None and ry != ra):
        target, other = (b, x) if rx != rb else (y, a)
        what = change.rules.get(rule_id)
        out += rule_change_lines(change, rule_id)
        lines, together = policy_names(change, rule_names(old, new, rule_id), target, other,
                                       result, fallback=what is None)
        out += lines
        if rx != rb:
            rule = b.policy.rule(rule_id)
            if rule is not None:
                out += _population_causes(x, b, [rule.when], result)
    # neither the data alone nor the policy alone would have moved it
    if out and (together or (ry is not None and rx != rb and ry != rb and rx == ra
                             and ry == ra and len(out) > 1)):
        out.append(TOGETHER)
    return out


def _shield_causes(change: PolicyChange, old_status: str, new_status: str) -> list[str]:
    out = []
    for status, verb in ((old_status, "no longer shields it"), (new_status, "shields it")):
        if status.startswith("shielded by "):
            ex = status[len("shielded by "):]
            what = change.exemptions.get(ex)
            out.append(f"exemption {ex} {verb}" + (
                "" if what is None else f" (exemption {ex}: " + (
                    what if isinstance(what, str) else ", ".join(what) + " changed") + ")"))
    return out


def _dates(timing: Any, contract_end: Any, as_of: dt.date) -> tuple[str, str]:
    day, _ = effective_date(timing, contract_end, as_of)
    start = max(day - dt.timedelta(days=timing.phase_out_days), as_of + dt.timedelta(days=1))
    return day.isoformat(), start.isoformat()


def date_causes(change: PolicyChange, stored: tuple[tuple[Any, Any], tuple[Any, Any]],
                views: Views) -> list[str] | None:
    """What moved an offboarding's effective date or phase-out start: the
    timing keys that, put back one at a time, move it (policy), the
    contract end or as-of date (data). None when the dates cannot be
    recomputed as stored (a date kept from an approved case, no views):
    the caller then names every timing change."""
    a, x, _, b = views
    if a is None or x is None or b is None:
        return None
    ta, tb = a.policy.timing, b.policy.timing
    da = _dates(ta, a.facts.get("contract_end"), a.as_of)
    db = _dates(tb, b.facts.get("contract_end"), b.as_of)
    if da != tuple(stored[0]) or db != tuple(stored[1]):
        return None
    ce = b.facts.get("contract_end")
    dx = _dates(ta, ce, b.as_of)
    out = []
    if dx != da:
        before = a.facts.get("contract_end")
        if before != ce:
            out.append(f"fact contract_end: {show(before)} -> {show(ce)}")
        if a.as_of != b.as_of:
            out.append(f"as-of date: {a.as_of.isoformat()} -> {b.as_of.isoformat()}")
    if dx != db:
        keys = [k for k in DATE_KEYS if k in change.timing]
        # the keys without which the new date would differ; else those that
        # alone would move the old date; else (only together) all of them
        needed = [k for k in keys
                  if _dates(replace(tb, **{k: getattr(ta, k)}), ce, b.as_of) != db]
        enough = [k for k in keys
                  if _dates(replace(ta, **{k: getattr(tb, k)}), ce, b.as_of) != dx]
        for k in needed or enough or keys:
            x_, y_ = change.timing[k]
            out.append(f"timing.{k}: {_show(x_)} -> {_show(y_)}")
    return out


def _referrals(view: View, offboard: bool) -> list[str]:
    timing = view.policy.timing
    values = tuple(None if r.when is None else view.cond(r.when) for r in timing.referrals)

    class Out:  # what _plan_referrals writes on a Decision
        referrals: list[str]
        notes: list[str]
        referral_entries: tuple[int, ...]
    out = Out()
    out.referrals, out.notes, out.referral_entries = [], [], ()
    _plan_referrals(timing, values, out, not offboard)
    return out.referrals


def referral_causes(change: PolicyChange, stored: tuple[Any, Any], offboard: tuple[bool, bool],
                    views: Views) -> list[str] | None:
    """What changed the referrals: the names the referral entries'
    conditions rest on (data: facts, derived values, population figures
    that differ; policy: the referral list, max_referrals, and each
    changed param or derived figure the conditions use). None when they
    cannot be recomputed as stored (a case, no views)."""
    a, x, _, b = views
    if a is None or x is None or b is None:
        return None
    ra, rb = _referrals(a, offboard[0]), _referrals(b, offboard[1])
    if ra != list(stored[0] or []) or rb != list(stored[1] or []):
        return None
    rx = _referrals(x, offboard[1])
    when_a = [r.when for r in a.policy.timing.referrals if r.when is not None]
    when_b = [r.when for r in b.policy.timing.referrals if r.when is not None]
    out: list[str] = []
    if rx != ra:
        out += data_causes(a, x, when_a)
    if rx != rb:
        for k in REFERRAL_KEYS:
            if k in change.timing:
                x_, y_ = change.timing[k]
                out.append(f"timing.{k}: {_show(x_)} -> {_show(y_)}")
        names = set(_deep(a.policy, when_a)[0]) | set(_deep(b.policy, when_b)[0])
        lines, together = policy_names(change, names, b, x,
                                       lambda v: _referrals(v, offboard[1]),
                                       fallback=not any(k in change.timing
                                                        for k in REFERRAL_KEYS))
        out += lines
        out += _population_causes(x, b, when_b, lambda v: _referrals(v, offboard[1]))
        if together:
            out.append(TOGETHER)
    return out
