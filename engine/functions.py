"""The functions of the expression language (min, max, abs, round,
coalesce, days_since, days_until, is_missing, date; percentile, mean,
share over the whole run; and functions plugins register), compiled into
closures. Mixed into expr.Compiler."""

from __future__ import annotations

import ast
import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from . import decimals
from .hints import function_hint
from .values import (
    ANY,
    BOOL,
    DATE,
    LIST,
    NUM,
    UNKNOWN,
    Context,
    ExtraFunction,
    Fn,
    PopulationCall,
    _const,
    _guarded,
    _round,
    _unary,
    _unary_ctx,
)

SCALAR_FUNCTIONS = ("min", "max", "abs", "round", "coalesce", "days_since", "days_until",
                    "is_missing", "date")
POPULATION_FUNCTIONS = ("percentile", "mean", "share")


MAX_TEXT_RESULT = 10_000  # characters of text a plugin function may return


def call_extra(spec: ExtraFunction, text: str, values: list[Any]) -> tuple[Any, tuple[str, ...]]:
    """A plugin function called on known values: (value, problems to add).
    A failure, no value, a non-finite or too large number (over
    decimals.MAX_DIGITS digits) or a text over MAX_TEXT_RESULT characters
    is UNKNOWN with a problem naming the call (`text`), so a plugin's value
    can never make later arithmetic or rendering unbounded. A float is
    taken exactly (decimals.to_number)."""
    try:
        result = spec.fn(*values)
    except Exception as exc:  # a plugin's function failing on one customer
        return UNKNOWN, (f"{text} failed: {exc}",)
    if result is None:
        return UNKNOWN, (f"{text} gave no value",)
    if isinstance(result, bool) or isinstance(result, dt.date):
        return result, ()
    if isinstance(result, (int, float, Decimal)):  # exact and bounded from here on
        try:
            return decimals.to_number(result), ()
        except (ValueError, OverflowError) as exc:
            shown = repr(result) if isinstance(result, float) else type(result).__name__
            return UNKNOWN, (f"{text} gave {shown}: {exc}",)
    if isinstance(result, str) and len(result) > MAX_TEXT_RESULT:
        return UNKNOWN, (f"{text} gave a text of {len(result):,} characters, over the limit "
                         f"of {MAX_TEXT_RESULT:,}",)
    return result, ()


class FunctionCompiler:
    """Compiles calls; relies on the Compiler's _node, _err and _expect."""

    def _Call(self, node: ast.Call) -> tuple[Fn, str]:
        if not isinstance(node.func, ast.Name):
            raise self._err(node, "only named functions can be called, like max(a, b)")
        name = node.func.id
        if node.keywords:
            raise self._err(node, f"{name}() takes no keyword arguments")
        if any(isinstance(a, ast.Starred) for a in node.args):
            raise self._err(node, f"{name}() takes no *arguments")
        if name in POPULATION_FUNCTIONS:
            return self._population(node, name)
        if name in SCALAR_FUNCTIONS:
            return getattr(self, "_fn_" + name)(node, node.args)
        if name in self.extra:
            return self._extra(node, self.extra[name])
        names = tuple(sorted((*SCALAR_FUNCTIONS, *POPULATION_FUNCTIONS, *self.extra)))
        hint = function_hint(name, names)
        raise self._err(node, f"unknown function {name}() (known: {', '.join(names)})"
                              + (f"; {hint}" if hint else ""))

    def _args(self, node: ast.Call, lo: int, hi: int | None) -> list[tuple[Fn, str]]:
        n = len(node.args)
        name = node.func.id  # type: ignore[attr-defined]
        if n < lo or (hi is not None and n > hi):
            want = str(lo) if lo == hi else (f"{lo} or more" if hi is None else f"{lo} to {hi}")
            raise self._err(node, f"{name}() takes {want} argument(s), got {n}")
        return [self._node(a) for a in node.args]

    def _fn_min(self, node: ast.Call, args: list) -> tuple[Fn, str]:
        return self._reduce(node, min)

    def _fn_max(self, node: ast.Call, args: list) -> tuple[Fn, str]:
        return self._reduce(node, max)

    def _reduce(self, node: ast.Call, how: Callable) -> tuple[Fn, str]:
        parts = self._args(node, 1, None)
        types = {t for _, t in parts} - {ANY}
        if len(types) > 1 or types & {BOOL, LIST}:
            raise self._err(node, f"{node.func.id}() needs numbers or dates of one kind")  # type: ignore[attr-defined]
        fns = [f for f, _ in parts]
        text = ast.unparse(node)

        def reduce_(ctx: Context) -> Any:
            values = [f(ctx) for f in fns]
            if any(v is UNKNOWN for v in values):
                return UNKNOWN
            return _guarded(ctx, text, how, values)
        return reduce_, types.pop() if types else ANY

    def _fn_abs(self, node: ast.Call, args: list) -> tuple[Fn, str]:
        ((f, t),) = self._args(node, 1, 1)
        self._expect(node.args[0], t, NUM, "abs()")
        return _unary(f, decimals.absolute, ast.unparse(node)), NUM

    def _fn_round(self, node: ast.Call, args: list) -> tuple[Fn, str]:
        parts = self._args(node, 1, 2)
        for arg, (_, t) in zip(node.args, parts, strict=True):
            self._expect(arg, t, NUM, "round()")
        f = parts[0][0]
        digits = parts[1][0] if len(parts) == 2 else _const(0)
        arg = node.args[1] if len(parts) == 2 else None
        if isinstance(arg, ast.UnaryOp):
            arg = arg.operand
        if isinstance(arg, ast.Constant):
            literal = parts[1][0](None)  # a literal (or -literal): known now
            if literal != int(literal) or abs(literal) > decimals.MAX_DIGITS:
                raise self._err(node.args[1], "round() takes a whole number of places from "
                                              f"-{decimals.MAX_DIGITS} to "
                                              f"{decimals.MAX_DIGITS}, like round(x, 2)")
        text = ast.unparse(node)

        def round_(ctx: Context) -> Any:
            v, d = f(ctx), digits(ctx)
            if v is UNKNOWN or d is UNKNOWN:
                return UNKNOWN
            return _guarded(ctx, text, _round, v, d)
        return round_, NUM

    def _fn_coalesce(self, node: ast.Call, args: list) -> tuple[Fn, str]:
        parts = self._args(node, 1, None)
        types = {t for _, t in parts} - {ANY}
        if len(types) > 1:
            raise self._err(node, "coalesce() needs values of one type")
        fns = [f for f, _ in parts]

        def coalesce(ctx: Context) -> Any:
            outer = ctx.missing
            ctx.missing = set()
            try:
                for f in fns:
                    v = f(ctx)
                    if v is not UNKNOWN:
                        return v
                outer |= ctx.missing
                return UNKNOWN
            finally:
                ctx.missing = outer
        return coalesce, types.pop() if types else ANY

    def _fn_is_missing(self, node: ast.Call, args: list) -> tuple[Fn, str]:
        ((f, _),) = self._args(node, 1, 1)

        def is_missing(ctx: Context) -> Any:
            outer = ctx.missing
            ctx.missing = set()
            try:
                return f(ctx) is UNKNOWN
            finally:
                ctx.missing = outer
        return is_missing, BOOL

    def _fn_days_since(self, node: ast.Call, args: list) -> tuple[Fn, str]:
        ((f, t),) = self._args(node, 1, 1)
        self._expect(node.args[0], t, DATE, "days_since()")
        return _unary_ctx(f, lambda v, ctx: (ctx.as_of - v).days, ast.unparse(node)), NUM

    def _fn_days_until(self, node: ast.Call, args: list) -> tuple[Fn, str]:
        ((f, t),) = self._args(node, 1, 1)
        self._expect(node.args[0], t, DATE, "days_until()")
        return _unary_ctx(f, lambda v, ctx: (v - ctx.as_of).days, ast.unparse(node)), NUM

    def _fn_date(self, node: ast.Call, args: list) -> tuple[Fn, str]:
        if len(node.args) != 1 or not isinstance(node.args[0], ast.Constant) \
                or not isinstance(node.args[0].value, str):
            raise self._err(node, 'date() takes one literal text, like date("2026-12-31")')
        try:
            value = dt.date.fromisoformat(node.args[0].value)
        except ValueError:
            raise self._err(node.args[0], f"not a date (YYYY-MM-DD): {node.args[0].value!r}") \
                from None
        return _const(value), DATE

    def _extra(self, node: ast.Call, spec: ExtraFunction) -> tuple[Fn, str]:
        self.extra_used.setdefault(spec.name, spec)  # type: ignore[attr-defined]
        fns = [f for f, _ in self._args(node, spec.min_args, spec.max_args)]
        text = ast.unparse(node)

        def extra(ctx: Context) -> Any:
            values = [f(ctx) for f in fns]
            if any(v is UNKNOWN for v in values):
                return UNKNOWN
            result, problems = call_extra(spec, text, values)
            ctx.problems.extend(problems)
            return result
        return extra, spec.returns

    def _population(self, node: ast.Call, name: str) -> tuple[Fn, str]:
        text = ast.unparse(node)
        if name == "share":
            if len(node.args) != 1:
                raise self._err(node, "share() takes one condition")
            saved = (self._names_used, self._pop_keys)
            self._names_used, self._pop_keys = set(), []
            cond, ct = self._node(node.args[0])
            if self._pop_keys:
                raise self._err(node, "share() cannot contain another population function")
            self._names_used = saved[0] | self._names_used
            self._pop_keys = saved[1]
            self._expect(node.args[0], ct, BOOL, "share()")
            call = PopulationCall(text, "share", None, None, cond, text)
            result = NUM
        else:
            want = 2 if name == "percentile" else 1
            if len(node.args) != want:
                usage = "percentile(fact, p)" if name == "percentile" else f"{name}(fact)"
                raise self._err(node, f"{name}() takes {want} argument(s): {usage}")
            target = node.args[0]
            if not isinstance(target, ast.Name) or self.names.kind(target.id) not in \
                    ("fact", "derive"):
                raise self._err(target, f"the first argument of {name}() must be the name "
                                        "of a fact or derived fact")
            _, tt = self._node(target)
            self._expect(target, tt, NUM, f"{name}()")
            p = None
            if name == "percentile":
                pf, pt = self._node(node.args[1])
                arg = node.args[1]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, (int, float)):
                    p = self._literal(arg)
                elif isinstance(arg, ast.Name) and self.names.kind(arg.id) == "param":
                    p = self.names.params[arg.id]
                if not isinstance(p, (int, float, Decimal)) or isinstance(p, bool) \
                        or not 0 <= p <= 100:
                    raise self._err(arg, "the percentile must be a number from 0 to 100")
                p = decimals.to_number(p)
            call = PopulationCall(text, name, target.id, p, None, text)
            result = NUM
        self.population_calls.setdefault(call.key, call)
        self._pop_keys.append(call.key)
        key = call.key

        def population(ctx: Context) -> Any:
            return ctx.population.value(key)
        return population, result
