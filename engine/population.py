"""Population statistics (percentile, mean, share) over a whole run.

Computed lazily, once per run, the first time any customer's expression
asks for them; the figures and how many customers they rest on are stored
with the run so `explain` shows "p90 of 2,000 customers"."""

from __future__ import annotations

import decimal
from decimal import Decimal
from typing import Any

from . import decimals
from .decimals import Number
from .expr import UNKNOWN, Context, PopulationCall


def percentile(values: list[Number], p: Number) -> Number:
    """Linear interpolation between closest ranks (numpy's default), in
    exact decimals: the rank (n - 1) * p / 100 and the interpolation are
    exact, so p90 of [1, 2] is exactly 1.9."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = decimals.divide(decimals.multiply(len(ordered) - 1, p), 100)
    lo = int(rank)
    hi = min(lo + 1, len(ordered) - 1)
    fraction = decimals.subtract(rank, lo)
    if not fraction:
        return ordered[lo]
    step = decimals.multiply(decimals.subtract(ordered[hi], ordered[lo]), fraction)
    return decimals.add(ordered[lo], step)


_EXACT_SUM = decimal.Context(prec=decimals.MAX_DIGITS * 8, traps=[decimal.Inexact,
                                                                  decimal.InvalidOperation])


def mean(values: list[Number]) -> Decimal:
    """The exact sum divided by the count (to decimals.DIVISION_DIGITS).
    The sum is exact whatever the order of the values (so it can be
    accumulated in pieces: engine.popstats); ArithmeticError when it does
    not fit decimals.MAX_DIGITS significant digits."""
    with decimal.localcontext(_EXACT_SUM):
        total = sum(values)
    if type(total) is not int:
        total = decimals.ARITHMETIC.plus(total)
    return decimals.divide(total, len(values))


class Population:
    """The run's population statistics, computed on demand or loaded from a
    stored run."""

    def __init__(self, calls: dict[str, PopulationCall], contexts: list[Context] | None = None,
                 stored: dict[str, dict[str, Any]] | None = None):
        self.calls = calls
        self.contexts = contexts if contexts is not None else []
        self.stats: dict[str, dict[str, Any]] = dict(stored or {})
        self._busy: set[str] = set()

    def value(self, key: str) -> Any:
        stat = self.stats.get(key)
        if stat is None:
            stat = self.stats[key] = self._compute(key)
        value = stat["value"]
        return UNKNOWN if value is None else value

    def describe(self, key: str) -> str:
        """Plain words for a statistic: 'p90 of 2,000 customers'."""
        self.value(key)
        stat = self.stats[key]
        call = self.calls.get(key)
        kind = stat.get("kind") or (call.kind if call else "")
        n = stat.get("n", 0)
        if kind == "percentile":
            p = stat.get("p")
            p_text = decimals.plain_text(p) if decimals.is_number(p) else "?"
            return f"p{p_text} of {stat.get('name')} over {n:,} customers"
        if kind == "mean":
            return f"mean of {stat.get('name')} over {n:,} customers"
        return f"share of {n:,} customers"

    def compute_all(self) -> dict[str, dict[str, Any]]:
        for key in self.calls:
            self.value(key)
        return self.stats

    def _compute(self, key: str) -> dict[str, Any]:
        call = self.calls.get(key)
        if call is None:
            return {"value": None, "n": 0, "kind": "unknown"}
        if key in self._busy:  # guarded against by the validator; never loop
            return {"value": None, "n": 0, "kind": call.kind}
        self._busy.add(key)
        try:
            return self._statistic(call)
        except ArithmeticError as exc:  # only values near decimals.MAX_DIGITS digits
            return {"value": None, "n": 0, "kind": call.kind, "name": call.name,
                    "problem": decimals.describe(exc)}
        finally:
            self._busy.discard(key)

    def _statistic(self, call: PopulationCall) -> dict[str, Any]:
        if call.kind == "share":
            known = [condition_value(call, ctx) for ctx in self.contexts]
            known = [v for v in known if v is not UNKNOWN]
            value = decimals.divide(sum(1 for v in known if v), len(known)) \
                if known else None
            return {"value": value, "n": len(known), "kind": "share"}
        values = []
        for ctx in self.contexts:
            v = ctx.value_of(call.name)
            if v is not UNKNOWN and decimals.is_number(v):
                values.append(v)
        stat: dict[str, Any] = {"kind": call.kind, "name": call.name, "n": len(values)}
        if call.kind == "percentile":
            stat["p"] = call.p
            stat["value"] = percentile(values, call.p) if values else None
        else:
            stat["value"] = mean(values) if values else None
        return stat


def condition_value(call: PopulationCall, ctx: Context) -> Any:
    """The value of a share call's condition for one customer, leaving the
    context's missing facts and problems as they were."""
    saved = ctx.missing, ctx.problems
    ctx.missing, ctx.problems = set(), []
    try:
        return call.condition(ctx)
    finally:
        ctx.missing, ctx.problems = saved
