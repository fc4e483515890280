"""Mergeable population accumulators: a policy's population statistics
(percentile, mean, share) computed one customer at a time, in pieces that
merge, without holding the customers.

    acc = accumulators(policy, as_of)
    for record in records:          # or several accumulators, one per
        acc.add(record)             # partition, then a.merge(b)
    stats = acc.stats()             # exactly Population.stats

`stats()` has today's shape (engine.population.Population.stats:
{key: {"kind", "name", "n", "p", "value"}} for a percentile, {"kind",
"name", "n", "value"} for a mean, {"value", "n", "kind"} for a share, and
{"value": None, "n": 0, "kind", "name", "problem"} when a figure cannot be
computed exactly), so runs.population, explain and the run identity do not
change. The values are exact: equal to engine.population's percentile()
and mean() over the same values in the same order.

Memory per value: a percentile keeps an 8-byte float image per value
(array('d'); float(x) is correctly rounded, so a < b implies
float(a) <= float(b)) and the exact value as text in a spill buffer that
moves to an anonymous temporary file (engine.exactvalues); the ranks are found
by a radix select over the float images and resolved exactly among the few
values whose float image ties. A mean keeps an exact sum and a count; a
share two counts. Several percentiles of one fact share one value store.

Ties among equal values (1.0, 1.00 and 1 are equal) are broken by the order
values were added (merge appends the other accumulator's values after this
one's), exactly as the stable sort of the in-memory computation does, so a
percentile shows the same digits when partitions are merged in source
order; in any other order the figure is numerically equal.

A population call whose fact is a derived value that itself uses a
population figure (`percentile(d, 90)` where d uses `mean(x)`) needs the
inner figure first: such calls are accumulated in a later pass.
`Accumulators.complete` says whether this pass computes every call;
`next_pass()` gives the accumulators for the next one, fed with the same
records again. The shipped policies need one pass.
"""

from __future__ import annotations

import ast
import datetime as dt
import decimal
from dataclasses import replace
from decimal import Decimal
from typing import Any

from . import decimals
from .exactvalues import ExactValues
from .expr import UNKNOWN, Context, PopulationCall
from .facts import Record
from .functions import POPULATION_FUNCTIONS
from .population import condition_value as _condition

_EXACT = decimal.Context(prec=decimals.MAX_DIGITS * 8, traps=[decimal.Inexact,
                                                              decimal.InvalidOperation])


class StatsPopulation:
    """A population whose figures come from a stats dict (Population.stats
    shape), for deciding one customer without the others: `value(key)`
    returns the figure (UNKNOWN for None); a key not in the dict raises
    KeyError (a partition must be given every figure its policy uses)."""

    def __init__(self, calls: dict[str, PopulationCall], stats: dict[str, dict[str, Any]]):
        self.calls = calls
        self.stats = stats

    def value(self, key: str) -> Any:
        value = self.stats[key]["value"]
        return UNKNOWN if value is None else value

    def describe(self, key: str) -> str:
        from .population import Population
        return Population(self.calls, stored=self.stats).describe(key)


def dependencies(policy: Any) -> dict[str, list[str]]:
    """For each population call key of the policy, the keys of the
    population calls its fact, derived value or condition rests on
    (directly or through derived values), in the order evaluation meets
    them."""
    calls: dict[str, PopulationCall] = policy.population_calls
    derive = policy.derive

    def keys_of(node: ast.AST, seen: set[str], out: list[str]) -> None:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id in POPULATION_FUNCTIONS:
            key = ast.unparse(node)
            if key in calls and key not in out:
                out.append(key)
            return
        if isinstance(node, ast.Name) and node.id in derive and node.id not in seen:
            seen.add(node.id)
            keys_of(derive[node.id].tree, seen, out)
            return
        for child in ast.iter_child_nodes(node):
            keys_of(child, seen, out)

    deps = {}
    for key, call in calls.items():
        out: list[str] = []
        if call.kind == "share":
            tree = ast.parse(key, mode="eval").body
            for arg in getattr(tree, "args", []):
                keys_of(arg, set(), out)
        elif call.name in derive:
            keys_of(ast.Name(call.name), set(), out)
        deps[key] = [k for k in out if k != key]
    return deps


def _order(deps: dict[str, list[str]]) -> list[str]:
    """The order Population.compute_all fills its stats: each call after
    the calls it rests on, otherwise in the policy's order."""
    out: list[str] = []

    def visit(key: str, path: tuple[str, ...]) -> None:
        if key in out or key in path:
            return
        for dep in deps.get(key, []):
            visit(dep, (*path, key))
        out.append(key)

    for key in deps:
        visit(key, ())
    return out


class _Call:
    """One population call's running figures."""

    def __init__(self, call: PopulationCall):
        self.call = call
        self.n = 0
        self.true = 0                  # share: conditions true
        self.total: int | Decimal = 0  # mean: exact sum
        self.problem: str | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "call": replace(self.call, condition=None)}

    def merge(self, other: _Call) -> None:
        self.n += other.n
        self.true += other.true
        self.total = _EXACT.add(self.total, other.total) \
            if type(self.total) is not int or type(other.total) is not int \
            else self.total + other.total
        self.problem = self.problem or other.problem


class Accumulators:
    """The running population figures of one pass (see the module doc).

    calls: the population call keys this pass computes; known: figures of
    earlier passes (Population.stats shape)."""

    def __init__(self, policy: Any, as_of: dt.date | None = None,
                 known: dict[str, dict[str, Any]] | None = None):
        self.policy = policy
        self.as_of = as_of
        self.known = dict(known or {})
        self.deps = dependencies(policy)
        all_calls: dict[str, PopulationCall] = policy.population_calls
        self.calls = [k for k in _order(self.deps) if k not in self.known
                      and all(d in self.known for d in self.deps[k])]
        self._figures = {k: _Call(all_calls[k]) for k in self.calls}
        names = {all_calls[k].name for k in self.calls if all_calls[k].kind == "percentile"}
        self._values = {name: ExactValues() for name in sorted(names)}
        self._numbers = sorted({all_calls[k].name for k in self.calls
                                if all_calls[k].kind != "share"})
        self._population = StatsPopulation(all_calls, self.known)
        self._derive_fns = policy.derive_fns  # a property that builds a dict each time
        self._facts_only = not any(all_calls[k].kind == "share" for k in self.calls) \
            and not any(name in policy.derive for name in self._numbers)

    @property
    def complete(self) -> bool:
        """True when this pass leaves no population call to compute."""
        return len(self.known) + len(self.calls) >= len(self.deps)

    def next_pass(self) -> Accumulators:
        """Accumulators for the calls that rest on this pass's figures."""
        return Accumulators(self.policy, self.as_of, self.stats())

    def context(self, facts: dict[str, Any]) -> Context:
        """A context for one customer whose population figures are the
        known ones (earlier passes)."""
        if self.as_of is None:
            raise ValueError("accumulators need an as-of date to add facts")
        return Context(facts, self.as_of, self._population, self._derive_fns)

    def add(self, item: Context | Record | dict[str, Any]) -> None:
        """Add one customer: a Context (as decide sees it), a Record or its
        facts dict (a context is made with the as-of date given)."""
        if not self.calls:
            return
        if self.policy is None:
            raise ValueError("unpickled accumulators: attach(policy) before adding")
        if isinstance(item, Context):
            ctx: Any = item
        else:
            facts = item.facts if isinstance(item, Record) else item
            ctx = _Facts(facts) if self._facts_only else self.context(facts)
        numbers: dict[str, Any] = {}
        for name in self._numbers:
            v = ctx.value_of(name)
            if v is not UNKNOWN and decimals.is_number(v):
                numbers[name] = decimals.to_number(v) if type(v) is float else v
                store = self._values.get(name)
                if store is not None:
                    store.add(numbers[name])
        for fig in self._figures.values():
            call = fig.call
            if call.kind == "share":
                v = _condition(call, ctx)
                if v is not UNKNOWN:
                    fig.n += 1
                    if v:
                        fig.true += 1
                continue
            v = numbers.get(call.name)
            if v is None:
                continue
            fig.n += 1
            if call.kind == "mean" and fig.problem is None:
                try:
                    fig.total = fig.total + v if type(v) is int and type(fig.total) is int \
                        else _EXACT.add(fig.total, v)
                except ArithmeticError as exc:
                    fig.problem = decimals.describe(exc)

    def merge(self, other: Accumulators) -> Accumulators:
        """Add other's customers after this one's; returns self."""
        if other.calls != self.calls:
            raise ValueError("accumulators of different passes or policies")
        for key, fig in self._figures.items():
            fig.merge(other._figures[key])
        for name, values in self._values.items():
            values.merge(other._values[name])
        return self

    def stats(self) -> dict[str, dict[str, Any]]:
        """Every figure known so far, in Population.stats shape and order."""
        computed = {key: self._statistic(fig) for key, fig in self._figures.items()}
        out = {}
        for key in _order(self.deps):
            if key in self.known:
                out[key] = self.known[key]
            elif key in computed:
                out[key] = computed[key]
        return out

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without the compiled policy (its closures do not
        pickle): what comes back merges and gives stats(); attach(policy)
        before adding more customers."""
        state = dict(self.__dict__)
        state["policy"] = state["_population"] = state["_derive_fns"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def attach(self, policy: Any) -> Accumulators:
        """Give unpickled accumulators their compiled policy back (to add)."""
        self.policy = policy
        self._derive_fns = policy.derive_fns
        self._population = StatsPopulation(policy.population_calls, self.known)
        for key, fig in self._figures.items():
            fig.call = policy.population_calls[key]
        return self

    def _statistic(self, fig: _Call) -> dict[str, Any]:
        call = fig.call
        try:
            if fig.problem is not None:
                raise ArithmeticError(fig.problem)
            if call.kind == "share":
                value = decimals.divide(fig.true, fig.n) if fig.n else None
                return {"value": value, "n": fig.n, "kind": "share"}
            stat: dict[str, Any] = {"kind": call.kind, "name": call.name, "n": fig.n}
            if call.kind == "percentile":
                stat["p"] = call.p
                stat["value"] = self._percentile(call) if fig.n else None
            else:
                stat["value"] = _mean(fig.total, fig.n) if fig.n else None
            return stat
        except ArithmeticError as exc:
            return {"value": None, "n": 0, "kind": call.kind, "name": call.name,
                    "problem": fig.problem or decimals.describe(exc)}

    def _percentile(self, call: PopulationCall) -> int | Decimal:
        values = self._values[call.name]
        n = len(values)
        if n == 1:
            return values.select([0])[0]
        rank = decimals.divide(decimals.multiply(n - 1, call.p), 100)
        lo = int(rank)
        hi = min(lo + 1, n - 1)
        a, b = values.select([lo, hi])
        fraction = decimals.subtract(rank, lo)
        if not fraction:
            return a
        return decimals.add(a, decimals.multiply(decimals.subtract(b, a), fraction))


class _Facts:
    """value_of over plain facts, without a whole Context (no derived value
    or condition is needed)."""

    __slots__ = ("facts",)

    def __init__(self, facts: dict[str, Any]):
        self.facts = facts

    def value_of(self, name: str) -> Any:
        value = self.facts.get(name)
        return UNKNOWN if value is None else value


def _mean(total: int | Decimal, n: int) -> Decimal:
    if type(total) is not int:
        total = decimals.ARITHMETIC.plus(total)  # raises if not exact in MAX_DIGITS
    return decimals.divide(total, n)


def accumulators(policy: Any, as_of: dt.date | None = None,
                 known: dict[str, dict[str, Any]] | None = None) -> Accumulators:
    """Empty accumulators for the population calls of a compiled policy
    (engine.policy.Policy) that rest on no figure outside known. as_of is
    needed to add facts or Records (derived values may use it)."""
    return Accumulators(policy, as_of, known)


def population_stats(policy: Any, as_of: dt.date, read: Any) -> dict[str, dict[str, Any]]:
    """Every population figure of policy over the customers read() yields
    (facts dicts, Records or Contexts; called once per pass needed)."""
    acc = accumulators(policy, as_of)
    while True:
        for item in read():
            acc.add(item)
        if acc.complete:
            return acc.stats()
        acc = acc.next_pass()
