"""The values of the expression language and what evaluation sees: the
UNKNOWN marker, static types, the per-customer Context, and the small
building blocks compiled expressions are made of."""

from __future__ import annotations

import ast
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from . import decimals


class _Unknown:
    __slots__ = ()

    def __repr__(self) -> str:
        return "unknown"

    def __bool__(self) -> bool:
        raise TypeError("UNKNOWN has no truth value")


UNKNOWN: Any = _Unknown()

# Static types. ANY is used where a value's type cannot be known statically.
NUM, STR, BOOL, DATE, ANY, LIST = "number", "string", "boolean", "date", "any", "list"
FACT_TYPES = {"number": NUM, "integer": NUM, "string": STR, "boolean": BOOL, "date": DATE}

Fn = Callable[["Context"], Any]


class ExprError(Exception):
    """A problem in one expression: message and character offset."""

    def __init__(self, message: str, offset: int = 0):
        super().__init__(message)
        self.message = message
        self.offset = offset


class Context:
    """Everything one customer's evaluation can see. Built per customer;
    derived facts are computed on first use and memoised."""

    __slots__ = ("facts", "as_of", "population", "derive_fns", "derived", "missing", "problems")

    def __init__(self, facts: dict[str, Any], as_of: dt.date, population: Any,
                 derive_fns: dict[str, Fn]):
        self.facts = facts
        self.as_of = as_of
        self.population = population
        self.derive_fns = derive_fns
        self.derived: dict[str, tuple[Any, frozenset, tuple]] = {}
        self.missing: set[str] = set()
        self.problems: list[str] = []

    def derive(self, name: str) -> Any:
        memo = self.derived.get(name)
        if memo is None:
            outer_missing, outer_problems = self.missing, self.problems
            self.missing, self.problems = set(), []
            try:
                value = self.derive_fns[name](self)
                memo = (value, frozenset(self.missing), tuple(self.problems))
            finally:
                self.missing, self.problems = outer_missing, outer_problems
            self.derived[name] = memo
        self.missing |= memo[1]
        self.problems.extend(p for p in memo[2] if p not in self.problems)
        return memo[0]

    def value_of(self, name: str) -> Any:
        """A fact or derived value by name (UNKNOWN if missing), for reports."""
        if name in self.derive_fns:
            return self.derive(name)
        value = self.facts.get(name)
        return UNKNOWN if value is None else value


@dataclass
class Names:
    """What names an expression may use, and their types."""

    facts: dict[str, str]            # name -> static type
    params: dict[str, Any]           # name -> value
    derive_types: dict[str, str] = field(default_factory=dict)  # filled while compiling

    def kind(self, name: str) -> str | None:
        if name in self.params:
            return "param"
        if name in self.derive_types:
            return "derive"
        if name in self.facts:
            return "fact"
        return None


@dataclass
class Compiled:
    """One compiled expression."""

    text: str
    fn: Fn
    type: str
    tree: ast.expr
    names: set[str]
    population_keys: list[str]


@dataclass
class PopulationCall:
    key: str                 # canonical text, e.g. "percentile(hours_support_12m, 90)"
    kind: str                # percentile | mean | share
    name: str | None         # the fact for percentile / mean
    p: int | Decimal | None  # the percentile
    condition: Fn | None     # compiled condition for share
    text: str


@dataclass
class ExtraFunction:
    """A function added by a plugin: called with known argument values only."""

    name: str
    fn: Callable[..., Any]
    returns: str = ANY
    min_args: int = 0
    max_args: int | None = None
    plugin: str = ""


def _type_of(value: Any) -> str:
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, (int, float, Decimal)):
        return NUM
    if isinstance(value, dt.date):
        return DATE
    return STR


def _const(value: Any) -> Fn:
    def const(ctx: Context) -> Any:
        return value
    return const


def _guarded(ctx: Context, text: str, how: Callable[..., Any], *args: Any) -> Any:
    """Call `how`; a value it cannot take (a type only known at run time, a
    number out of range) makes the result unknown, recorded as a problem."""
    try:
        return how(*args)
    except ArithmeticError as exc:
        ctx.problems.append(f"cannot compute {text}: {decimals.describe(exc)}")
    except (TypeError, ValueError) as exc:
        ctx.problems.append(f"cannot compute {text}: {exc}")
    return UNKNOWN


def _round(value: Any, digits: Any) -> Any:
    """round(value, digits); a value that is not a number (a date or text
    reaching round() through a value typed "any") is a TypeError, which
    makes the result unknown with a problem, never a crash."""
    if not decimals.is_number(value):
        raise TypeError(f"round() needs a number, not {type(value).__name__}")
    if digits != int(digits):
        raise ValueError(f"round() digits must be a whole number, got {digits}")
    return decimals.round_to(value, int(digits))


def _unary(f: Fn, how: Callable[[Any], Any], text: str) -> Fn:
    def unary(ctx: Context) -> Any:
        v = f(ctx)
        return UNKNOWN if v is UNKNOWN else _guarded(ctx, text, how, v)
    return unary


def _unary_ctx(f: Fn, how: Callable[[Any, Context], Any], text: str) -> Fn:
    def unary(ctx: Context) -> Any:
        v = f(ctx)
        return UNKNOWN if v is UNKNOWN else _guarded(ctx, text, how, v, ctx)
    return unary
