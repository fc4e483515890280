"""Explain a decision: every rule's condition, part by part, with the actual
values, the threshold, the result and how far the value is from flipping it.

Re-evaluates the stored facts with the stored policy text and population
statistics of the run, so the explanation is exactly what the run saw."""

from __future__ import annotations

import ast
import datetime as dt
import decimal
from decimal import Decimal
from typing import Any

from . import decimals
from .decide import decide
from .expr import CMP_SYMBOL, UNKNOWN, Context
from .facts import from_json_facts
from .ledger import Memory
from .policy import Policy
from .population import Population

_THREE_DIGITS = decimal.Context(prec=3, rounding=decimal.ROUND_HALF_EVEN)


def fmt(value: Any) -> str:
    """A value in plain words: 12,345 / 5,476.50 / 0.42 / 2026-11-01 / unknown.

    Numbers are exact decimals, so equal amounts always read the same:
    whole numbers with thousands separators, others from 1 up with two
    places, smaller ones with three significant digits (rounded half to
    even)."""
    if value is UNKNOWN or value is None:
        return "unknown"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        value = decimals.to_number(value)
    if isinstance(value, Decimal):
        if value == value.to_integral_value():
            return f"{int(value):,}"
        if abs(value) >= 1:
            return f"{value:,.2f}"
        # three significant digits, written out: 0.00000183, never 1.83e-06
        return decimals.plain_text(_THREE_DIGITS.plus(value).normalize())
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, frozenset):
        return "[" + ", ".join(repr(v) for v in sorted(value, key=str)) + "]"
    return repr(value) if isinstance(value, str) else str(value)


def _status(value: Any) -> str:
    if value is UNKNOWN:
        return "unknown"
    return "true" if value is True else ("false" if value is False else fmt(value))


class Explainer:
    """Breaks conditions into parts and evaluates each for one customer."""

    def __init__(self, policy: Policy, ctx: Context):
        self.policy = policy
        self.ctx = ctx
        self.compiler = policy.compiler

    def value(self, node: ast.expr) -> tuple[Any, list[str]]:
        fn, _ = self.compiler.compile_node(node)
        self.ctx.missing, self.ctx.problems = set(), []
        value = fn(self.ctx)
        return value, sorted(self.ctx.missing)

    def describe_operand(self, node: ast.expr) -> str | None:
        """Where a threshold comes from when it rests on population figures:
        "p90 of hours_support_12m over 2,000 customers"."""
        keys: list[str] = []
        seen: set[str] = set()

        def visit(tree: ast.AST) -> None:
            for n in ast.walk(tree):
                if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and \
                        n.func.id in ("percentile", "mean", "share"):
                    key = ast.unparse(n)
                    if key not in keys:
                        keys.append(key)
                elif isinstance(n, ast.Name) and n.id in self.policy.derive and \
                        n.id not in seen:
                    seen.add(n.id)
                    visit(self.policy.derive[n.id].tree)

        visit(node)
        return "; ".join(self.ctx.population.describe(k) for k in keys) or None

    def condition(self, node: ast.expr) -> dict[str, Any]:
        if isinstance(node, ast.BoolOp):
            value, missing = self.value(node)
            op = "and" if isinstance(node.op, ast.And) else "or"
            return {"text": ast.unparse(node), "op": op, "result": _status(value),
                    "missing": missing, "parts": [self.condition(v) for v in node.values]}
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            value, missing = self.value(node)
            return {"text": ast.unparse(node), "op": "not", "result": _status(value),
                    "missing": missing, "parts": [self.condition(node.operand)]}
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            return self.comparison(node)
        value, missing = self.value(node)
        return {"text": ast.unparse(node), "result": _status(value), "missing": missing}

    def comparison(self, node: ast.Compare) -> dict[str, Any]:
        result, missing = self.value(node)
        left, _ = self.value(node.left)
        right, _ = self.value(node.comparators[0])
        symbol = CMP_SYMBOL[type(node.ops[0])]
        left_text, right_text = ast.unparse(node.left), ast.unparse(node.comparators[0])
        out: dict[str, Any] = {
            "text": ast.unparse(node), "result": _status(result), "missing": missing,
            "left": left_text, "left_value": _plain(left), "op": symbol,
            "right": right_text, "right_value": _plain(right),
        }
        source = self.describe_operand(node.comparators[0])
        if source:
            out["threshold"] = source
        out["margin"] = margin(left, symbol, right, result)
        return out


def _plain(value: Any) -> Any:
    if value is UNKNOWN:
        return None
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, frozenset):
        return sorted(value, key=str)
    return value


def margin(left: Any, symbol: str, right: Any, result: Any) -> str | None:
    """How far a comparison is from flipping, in plain words."""
    if result is UNKNOWN or symbol not in ("<", "<=", ">", ">="):
        return None
    if isinstance(left, dt.date) and isinstance(right, dt.date):
        diff, unit = (left - right).days, " days"
    elif decimals.is_number(left) and decimals.is_number(right):
        try:
            diff = decimals.subtract(decimals.to_number(left), decimals.to_number(right))
        except (ArithmeticError, ValueError):
            return None
        unit = ""
    else:
        return None
    gap = fmt(abs(diff)) + unit
    if diff == 0:
        return "at the threshold"
    if symbol in (">", ">="):
        return f"exceeds by {gap}" if result is True else f"{gap} short of the threshold" \
            if diff < 0 else "at the threshold"
    return f"below by {gap}" if result is True else f"{gap} over the threshold" \
        if diff > 0 else "at the threshold"


def explain_stored(policy: Policy, run: dict[str, Any], stored_facts: dict[str, Any] | str,
                   population_stats: dict[str, Any], memory: Memory | None = None) \
        -> dict[str, Any]:
    """Re-evaluate one stored customer (with the memory stored with its
    decision) and break every condition down. Returns {"decision": Decision,
    "rules": [{rule, title, action, severity, status, shielded_by,
    set_aside_strikes (this rule's strikes an exemption set aside), when,
    condition}], "derived": {name: value}}."""
    as_of = dt.date.fromisoformat(run["as_of"])
    facts = from_json_facts(stored_facts, policy.facts)
    population = Population(policy.population_calls, stored=population_stats)
    ctx = Context(facts, as_of, population, policy.derive_fns)
    decision = decide(policy, ctx, as_of, memory)
    explainer = Explainer(policy, ctx)
    rules = []
    for rule in policy.rules:
        breakdown = explainer.condition(rule.when.tree)
        status = next((r.status for r in decision.fired + decision.shielded + decision.unknown
                       if r.rule == rule.id), "passed")
        shielded = next((r.shielded_by for r in decision.shielded if r.rule == rule.id), None)
        set_aside = [s for s in decision.set_aside_strikes if s["rule"] == rule.id]
        rules.append({"rule": rule.id, "title": rule.title, "action": rule.action,
                      "severity": rule.severity, "status": status, "shielded_by": shielded,
                      "set_aside_strikes": set_aside, "when": rule.when.text,
                      "condition": breakdown})
    derived = {name: _plain(ctx.value_of(name)) for name in policy.derive}
    return {"decision": decision, "rules": rules, "derived": derived}


def condition_lines(part: dict[str, Any], indent: int = 4) -> list[str]:
    """The breakdown of one condition as indented text lines."""
    pad = " " * indent
    if "parts" in part:
        head = f"{pad}{part['op']} -> {part['result']}"
        lines = [head]
        for sub in part["parts"]:
            lines.extend(condition_lines(sub, indent + 2))
        return lines
    if "op" in part and "left" in part:
        lv = fmt(part["left_value"]) if part["left_value"] is not None else "unknown"
        rv = fmt(part["right_value"]) if part["right_value"] is not None else "unknown"
        if lv == rv and part["left_value"] != part["right_value"] and \
                decimals.is_number(part["left_value"]) and decimals.is_number(part["right_value"]):
            # unequal values that round alike are shown in full: 5,476.505 != 5,476.50
            lv, rv = (decimals.plain_text(decimals.to_number(part[k]))
                      for k in ("left_value", "right_value"))
        left = part["left"] if part["left"] == lv else f"{part['left']} {lv}"
        right = rv if part["right"] in (rv, repr(part["right_value"])) \
            else f"{part['right']} {rv}"
        text = f"{pad}{left} {part['op']} {right}"
        if part.get("threshold"):
            text += f" ({part['threshold']})"
        text += f": {part['result']}"
        if part.get("margin"):
            text += f", {part['margin']}"
    else:
        text = f"{pad}{part['text']}: {part['result']}"
    if part.get("missing"):
        text += f" (missing: {', '.join(part['missing'])})"
    return [text]
