"""Which changed params and derived figures made a difference (`adieu
diff`, engine.diff_causes): each one put back on its own.

A variant is a policy with some params or derived figures taken from the
other side's policy (compiled once per set of names and kept on the
policy). For a result that moved from `want` (the other policy on the
same facts) to the target view's result, a changed name is named when:

- putting back its old value alone (the others new) gives `want` again
  (it was needed); else
- giving the other policy its new value alone gives the target's result
  (it alone was enough); else
- it is in the smallest set found by putting back all of them and then
  keeping each one new whose return does not matter (named "together").

A name that moved the other way (a limit raised when a rule starts to
fire) is neither needed nor enough, so it is never named alone."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Any

from .policy import Policy, _Builder
from .policy_diff import PolicyChange, _show

TOGETHER = "together: none of these alone made the difference"


def _has(population: Any, key: str) -> bool:
    replaced = getattr(population, "replaced", None)
    if replaced is not None and key in replaced:
        return True
    inner = getattr(population, "population", None)
    if inner is not None and replaced is not None:
        return _has(inner, key)
    stats = getattr(population, "stats", None)
    if isinstance(stats, dict):  # computed or stored figures; live contexts compute more
        return key in stats or bool(getattr(population, "contexts", None))
    try:
        population.value(key)
    except (KeyError, ArithmeticError, TypeError, ValueError):
        return False
    return True


class Chain:
    """The population of a variant: each figure from the first of the
    populations that has it (the one of a side whose derived figures the
    variant shares first)."""

    def __init__(self, populations: Iterable[Any]):
        self.populations = list(populations)

    def value(self, key: str) -> Any:
        for population in self.populations:
            if _has(population, key):
                return population.value(key)
        raise KeyError(key)


def variant(base: Policy, other: Policy, names: frozenset[str]) -> Policy | None:
    """base with the params and derived figures of names taken from other
    (compiled once, kept on base); None when that does not compile."""
    cache = base.__dict__.setdefault("_diff_variants", {})
    key = (id(other), names)
    if key not in cache:
        doc = copy.deepcopy(base.doc)
        odoc = other.doc if isinstance(other.doc, dict) else {}
        for section in ("params", "derive"):
            mine, theirs = doc.get(section), odoc.get(section)
            for name in names:
                if isinstance(mine, dict) and isinstance(theirs, dict) and name in mine \
                        and name in theirs:
                    mine[name] = copy.deepcopy(theirs[name])
        try:
            builder = _Builder(doc, base.positions, base.text, base.file, base.compiler.extra)
            built = builder.build()
        except Exception:  # noqa: BLE001 - an uncompilable mix is simply not tried
            built = None
        cache[key] = built if built is not None and not builder.errors else None
    return cache[key]


def _changed(change: PolicyChange, names: set[str]) -> tuple[list[str], list[str]]:
    """The changed params and derived figures among names: (those both
    sides have, in change order; those only one side has)."""
    both, one = [], []
    for section in (change.params, change.derive):
        for k, (a, b) in section.items():
            if k in names:
                (both if a is not None and b is not None else one).append(k)
    return both, one


def line(change: PolicyChange, name: str) -> str:
    if name in change.params:
        a, b = change.params[name]
        return f"param {name}: {_show(a)} -> {_show(b)}"
    a, b = change.derive[name]
    return f"derive {name}: {_show(a)} -> {_show(b)}"


def policy_names(change: PolicyChange, names: set[str], target: Any, other: Any,
                 result: Callable[[Any], Any], fallback: bool = True) -> tuple[list[str], bool]:
    """The lines of the changed params and derived figures among names
    that made target's result differ from other's (the same facts under
    the other policy); see the module docstring. fallback: when no name
    alone made it, look for the smallest set (else name none: another part
    of the change, such as the rule itself, is named instead). Returns
    (lines, together)."""
    from .diff_causes import View  # noqa: PLC0415 - diff_causes imports this module

    both, one = _changed(change, names)
    if not both:
        return [line(change, k) for k in one], False
    want, got = result(other), result(target)

    def decide(base: Any, source: Any, chosen: Iterable[str]) -> Any:
        chosen = frozenset(chosen)
        policy = variant(base.policy, source.policy, chosen)
        if policy is None:
            return None
        first = (source, base) if chosen & set(change.derive) else (base, source)
        view = View(policy, base.facts, base.as_of, Chain(v.population for v in first))
        try:
            return result(view)
        except (KeyError, ArithmeticError):
            return None

    needed = [k for k in both if decide(target, other, [k]) == want]
    if not needed:
        needed = [k for k in both if decide(other, target, [k]) == got]
    together = False
    if not needed and fallback:
        needed = list(both)
        if decide(target, other, needed) == want:
            for k in list(needed):
                rest = [n for n in needed if n != k]
                if rest and decide(target, other, rest) == want:
                    needed = rest
        together = len(needed) > 1
    return [line(change, k) for k in [*needed, *one]], together
