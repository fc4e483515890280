"""Compile a policy once into straight-line Python: one generated function
per policy evaluates, for one customer, every derived fact, every rule's
condition, each exemption, hold and referral condition.

The closures of engine/expr.py stay the reference implementation (explain
uses them; tests/test_codegen.py checks both agree). The generated code
follows them step for step: the same evaluation order and short-circuits,
the same three-valued (Kleene) logic, the same exact decimal functions
(engine/decimals.py), the same `missing` facts and `problems` per
condition. Derived facts are computed once per customer, in dependency
order, each with its own missing facts and problems, merged into a
condition where the condition uses them (as Context.derive does).

Safety: code is generated only from the already validated expression
trees (policy.compile: whitelist and size bounds). No text from the policy
is ever spliced into the source: every value (fact names, strings, numbers,
dates, lists, messages naming an expression) is bound as a constant in the
function's namespace (`_k0`, `_k1` ...), and every variable name is made
from a counter (`_t3`, `_f2`, `_d1`). Missing facts and problems start as
the shared empty frozenset and tuple and are copied only when something is
added, so a customer with every fact costs no allocation for them. An
expression nested too deeply for straight-line code (rare: more than
MAX_DEPTH levels), or past the budget of MAX_LINES generated lines, is
evaluated by its reference closure instead.

The generated function: `fn(facts, as_of, population, ctx=None)` with facts
{name: value} (None or absent = missing), the run's as-of date, and the
population (anything with `.value(key)`, e.g. population.Population); ctx
is an expr.Context for the fallback closures (one is made if needed). It
returns (fired, unknown, exemptions, holds, referrals, derived): fired and
unknown list (rule index, missing facts (a frozenset), problems (a tuple))
in rule order (rules that passed are left out); exemptions one value per
policy exemption (None without `when`); holds one (value, missing facts)
per hold; referrals one
value per timing referral (None without `when`); derived one value per
policy.derive entry, in its order. Values are True/False/other or UNKNOWN.
"""

from __future__ import annotations

import ast
import datetime as dt
from collections.abc import Callable
from typing import Any

from . import decimals
from .expr import CONSTANTS, _arith_fn
from .exprparse import SourceText
from .functions import call_extra as _call_extra
from .values import UNKNOWN, Context, _round

MAX_DEPTH = 40  # nesting of the generated code, in blocks
# Lines of generated code in all. Python's compile() takes about 50 us and
# 5 KB per line (a policy at policy_limits.MAX_POLICY_PARTS makes about
# 26,000 lines); the shipped default makes about 600. Expressions past
# this budget are evaluated by their closures, so a policy's compile cost
# stays under a second and some tens of MB.
MAX_LINES = 10_000

_CMP_OP = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==",
           ast.NotEq: "!=", ast.In: "in", ast.NotIn: "not in"}
_ARITH = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Mod: "%",
          ast.FloorDiv: "//"}


class _TooDeep(Exception):
    pass


def _merge(problems: tuple[str, ...], more: Any) -> tuple[str, ...]:
    """Context.derive's merge: add a derived fact's problems not yet listed."""
    for p in more:
        if p not in problems:
            problems = (*problems, p)
    return problems


def _div0(text: Any) -> str:
    return f"division by zero in {text}"


def _cannot(text: Any, why: str) -> str:
    return f"cannot compute {text}: {why}"


def _reference(fn: Any, ctx: Context) -> tuple[Any, set[str], list[str]]:
    ctx.missing, ctx.problems = set(), []
    value = fn(ctx)
    return value, frozenset(ctx.missing), tuple(ctx.problems)


def _reference_derive(name: str, ctx: Context) -> tuple[Any, Any, Any]:
    ctx.missing, ctx.problems = set(), []
    ctx.derive(name)
    return ctx.derived[name]


class CompiledPolicy:
    """The generated code of one policy: `fn` (see the module docstring),
    `source` (the generated text, for reading and tests) and `constants`
    (what `_k0`, `_k1` ... stand for)."""

    def __init__(self, fn: Callable[..., tuple], source: str, constants: list[Any],
                 fallbacks: int):
        self.fn = fn
        self.source = source
        self.constants = constants
        self.fallbacks = fallbacks  # expressions evaluated by their closures


class _Gen:
    def __init__(self, policy: Any):
        self.policy = policy
        self.compiler = policy.compiler
        self.names = policy.compiler.names
        self.consts: list[Any] = []
        self.const_ids: dict[tuple, str] = {}
        self.lines: list[str] = []
        self.depth = 1
        self.n = 0
        self.facts: dict[str, str] = {}     # fact name -> local variable
        self.derived: dict[str, int] = {}   # derived name -> index
        self.fallbacks = 0
        self.pending: tuple[int, int, str] | None = None

    # -- emitting ----------------------------------------------------
    def const(self, value: Any) -> str:
        try:
            key: tuple = (type(value), value)
            hash(key)
        except TypeError:
            key = (id(value),)
        name = self.const_ids.get(key)
        if name is None:
            name = self.const_ids[key] = f"_k{len(self.consts)}"
            self.consts.append(value)
        return name

    def tmp(self, prefix: str = "_t") -> str:
        self.n += 1
        return f"{prefix}{self.n}"

    def emit(self, line: str) -> None:
        self.lines.append("    " * self.depth + line)

    def indent(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _TooDeep

    def dedent(self) -> None:
        self.depth -= 1

    def fact(self, name: str) -> str:
        var = self.facts.get(name)
        if var is None:
            var = self.facts[name] = f"_f{len(self.facts)}"
        return var

    # -- expressions: each returns the name or constant holding the value --
    def expr(self, node: ast.expr, m: str, p: str) -> str:
        method = getattr(self, "_" + type(node).__name__)
        return method(node, m, p)

    def _folded(self, node: ast.expr) -> str:
        """A value known without the customer: the reference closure's value."""
        return self.const(self.value_of(node))

    def value_of(self, node: ast.expr) -> Any:
        fn, _ = self.compiler.compile_node(node)
        return fn(None)

    def _Constant(self, node: ast.Constant, m: str, p: str) -> str:
        return self._folded(node)

    def _List(self, node: ast.List, m: str, p: str) -> str:
        return self._folded(node)

    _Tuple = _List

    def _Name(self, node: ast.Name, m: str, p: str) -> str:
        name = node.id
        if name in CONSTANTS:
            return self.const(CONSTANTS[name])
        kind = self.names.kind(name)
        if kind == "param":
            return self._folded(node)
        if kind == "derive":
            i = self.derived[name]
            self.emit(f"if _dm{i}: {m} = {m} | _dm{i}")
            self.emit(f"if _dp{i}: {p} = _merge({p}, _dp{i})")
            return f"_d{i}"
        var = self.fact(name)
        self.emit(f"if {var} is U: {m} = {m} | {self.const(frozenset([name]))}")
        self.pending = (len(self.lines), self.depth, var)  # check_unknown may add to it
        return var

    def _BoolOp(self, node: ast.BoolOp, m: str, p: str) -> str:
        r = self.tmp()
        stop = "False" if isinstance(node.op, ast.And) else "True"
        self.emit(f"{r} = {'True' if stop == 'False' else 'False'}")
        for i, value in enumerate(node.values):
            if i:
                self.emit(f"if {r} is not {stop}:")
                self.indent()
            v = self.expr(value, m, p)
            self.emit(f"if {v} is U: {r} = U")
            self.emit(f"elif {'not ' if stop == 'False' else ''}{v}: {r} = {stop}")
            if i:
                self.dedent()
        return r

    def _UnaryOp(self, node: ast.UnaryOp, m: str, p: str) -> str:
        if isinstance(node.op, ast.UAdd):
            return self.expr(node.operand, m, p)
        if isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
            try:
                return self.const(decimals.negate(self.value_of(node.operand)))
            except (ArithmeticError, TypeError, ValueError):
                pass
        v = self.expr(node.operand, m, p)
        r = self.tmp()
        if isinstance(node.op, ast.Not):
            self.emit(f"{r} = U if {v} is U else not {v}")
            return r
        self.guarded(r, [v], [f"{r} = _negate({v})"], ast.unparse(node), p)
        return r

    def check_unknown(self, values: list[str], r: str) -> bool:
        """Emit `if <any value unknown>: r = U` (constants are never
        unknown); False when no value can be unknown (nothing emitted)."""
        values = [v for v in values if not v.startswith("_k")]
        if not values:
            return False
        if len(values) == 1 and self.pending == (len(self.lines), self.depth, values[0]):
            self.lines[-1] += f"; {r} = U"  # the fact's missing line, merged
        else:
            self.emit(f"if {' or '.join(f'{v} is U' for v in values)}: {r} = U")
        return True

    def guarded(self, r: str, values: list[str], body: list[str], text: Any, p: str,
                zero: bool = False) -> None:
        """r = (body's lines) when no value is unknown, with values.guarded's
        problems (binop's: `zero` adds its own division-by-zero line)."""
        nested = self.check_unknown(values, r)
        if nested:
            self.emit("else:")
            self.indent()
        self.emit("try:")
        for line in body:
            self.emit(f"    {line}")
        # the expression's text is made only when a problem names it (SourceText)
        k = self.const(text)
        if zero:
            self.emit("except ZeroDivisionError:")
            self.emit(f"    {p} = (*{p}, _div0({k})); {r} = U")
        self.emit("except ArithmeticError as _e:")
        self.emit(f"    {p} = (*{p}, _cannot({k}, _describe(_e))); {r} = U")
        self.emit("except (TypeError, ValueError) as _e:")
        self.emit(f"    {p} = (*{p}, _cannot({k}, str(_e))); {r} = U")
        if nested:
            self.dedent()

    def _BinOp(self, node: ast.BinOp, m: str, p: str) -> str:
        symbol = _ARITH[type(node.op)]
        r = self.tmp()
        a = self.expr(node.left, m, p)
        nested = self.check_unknown([a], r)
        if nested:
            self.emit("else:")
            self.indent()
        b = self.expr(node.right, m, p)
        self.guarded(r, [b], self.arith(symbol, a, b, r), SourceText(node), p, zero=True)
        if nested:
            self.dedent()
        return r

    def arith(self, symbol: str, a: str, b: str, r: str) -> list[str]:
        """expr._arith_fn(symbol)(a, b) and the decimals functions it calls,
        written out: int op int exactly (with decimals.check_magnitude's
        bound), a date by the reference function, else decimals.ARITHMETIC."""
        if symbol in ("+", "-", "*"):
            name = {"+": "add", "-": "subtract", "*": "multiply"}[symbol]
            lines = [f"if type({a}) is int and type({b}) is int:",
                     f"    {r} = {a} {symbol} {b}",
                     f"    if not _LO < {r} < _HI: _check({r})"]
            if symbol != "*":  # expr._arith_fn: a date moves by days
                lines.append(f"elif isinstance({a}, _date): {r} = {self.const(_arith_fn(symbol))}"
                             f"({a}, {b})")
            return [*lines, f"else: {r} = _A{name}({a}, {b})"]
        how = {"/": "_divide", "%": "_modulo", "//": "_floor_divide"}[symbol]
        return [f"{r} = {how}({a}, {b})"]

    def _Compare(self, node: ast.Compare, m: str, p: str) -> str:
        operands = [node.left, *node.comparators]
        text = self.const(ast.unparse(node))
        r = self.tmp()
        single = len(node.ops) == 1
        if not single:
            self.emit(f"{r} = True")
        a = self.expr(operands[0], m, p)
        for i, op in enumerate(node.ops):
            if i:
                self.emit(f"if {r} is not False:")
                self.indent()
            b = self.expr(operands[i + 1], m, p)
            nested = self.check_unknown([a, b], r)
            if nested:
                self.emit("else:")
                self.indent()
            self.emit("try:")
            test = f"{a} {_CMP_OP[type(op)]} {b}"
            self.emit(f"    {r} = True if {test} else False" if single else
                      f"    if not ({test}): {r} = False")
            self.emit("except TypeError:")
            self.emit(f"    {p} = (*{p}, 'cannot compare ' + repr({a}) + ' and ' + "
                      f"repr({b}) + ' in ' + {text}); {r} = U")
            if nested:
                self.dedent()
            if i:
                self.dedent()
            a = b
        return r

    def _IfExp(self, node: ast.IfExp, m: str, p: str) -> str:
        r = self.tmp()
        t = self.expr(node.test, m, p)
        self.emit(f"if {t} is U: {r} = U")
        self.emit(f"elif {t}:")
        self.indent()
        self.emit(f"{r} = {self.expr(node.body, m, p)}")
        self.dedent()
        self.emit("else:")
        self.indent()
        self.emit(f"{r} = {self.expr(node.orelse, m, p)}")
        self.dedent()
        return r

    def _Call(self, node: ast.Call, m: str, p: str) -> str:
        name = node.func.id  # type: ignore[attr-defined]
        text = ast.unparse(node)
        if name in ("percentile", "mean", "share"):
            r = self.tmp()
            self.emit(f"{r} = _pv({self.const(text)})")
            return r
        if name == "date":
            return self._folded(node)
        r = self.tmp()
        if name in ("coalesce", "is_missing"):
            inner = self.tmp("_m")
            self.emit(f"{inner} = _E")
            if name == "is_missing":
                v = self.expr(node.args[0], inner, p)
                self.emit(f"{r} = {v} is U")
                return r
            self.emit(f"{r} = U")
            for i, arg in enumerate(node.args):
                if i:
                    self.emit(f"if {r} is U:")
                    self.indent()
                self.emit(f"{r} = {self.expr(arg, inner, p)}")
                if i:
                    self.dedent()
            self.emit(f"if {r} is U: {m} = {m} | {inner}")
            return r
        if name not in ("min", "max", "abs", "round", "days_since", "days_until"):
            spec = self.compiler.extra[name]
            values = [self.expr(a, m, p) for a in node.args]
            known = " or ".join(f"{v} is U" for v in values) or "False"
            self.emit(f"if {known}: {r} = U")
            self.emit("else:")
            self.emit(f"    {r}, _e = _call_extra({self.const(spec)}, {self.const(text)}, "
                      f"[{', '.join(values)}])")
            self.emit(f"    if _e: {p} = (*{p}, *_e)")
            return r
        values = [self.expr(a, m, p) for a in node.args]
        if name == "round" and len(values) == 1:
            values.append(self.const(0))
        call = {"min": f"_min([{', '.join(values)}])", "max": f"_max([{', '.join(values)}])",
                "abs": f"_abs({values[0]})", "round": f"_round({', '.join(values)})",
                "days_since": f"(as_of - {values[0]}).days",
                "days_until": f"({values[0]} - as_of).days"}[name]
        self.guarded(r, values, [f"{r} = {call}"], text, p)
        return r

    # -- one condition or derived fact -------------------------------
    def condition(self, compiled: Any, fallback: str, m: str = "_m", p: str = "_p") \
            -> tuple[str, str, str]:
        """Emit a whole expression with fresh missing/problems; returns the
        variables holding (value, missing, problems)."""
        start, depth, n = len(self.lines), self.depth, self.n
        self.emit(f"{m} = _E; {p} = ()")
        try:
            v = self.expr(compiled.tree, m, p)
            if len(self.lines) > MAX_LINES:
                raise _TooDeep
        except _TooDeep:
            del self.lines[start:]
            self.depth, self.n = depth, n
            self.fallbacks += 1
            self.emit("if ctx is None: ctx = _Context(facts, as_of, population, _derive_fns)")
            v = self.tmp()
            self.emit(f"{v}, {m}, {p} = {fallback}")
        return v, m, p


def compile_policy_code(policy: Any) -> CompiledPolicy:
    """Generate and compile the policy's evaluation function (see the module
    docstring). Raises nothing for a valid policy (policy.compile_policy)."""
    g = _Gen(policy)
    body_start = len(g.lines)
    # derived facts, in dependency order
    for i, (name, compiled) in enumerate(policy.derive.items()):
        g.derived[name] = i
        v, m, p = g.condition(compiled, f"_reference_derive({g.const(name)}, ctx)")
        g.emit(f"_d{i} = {v}; _dm{i} = {m}; _dp{i} = {p}")
    g.emit("_fired = []; _unknown = []")
    for i, rule in enumerate(policy.rules):
        v, m, p = g.condition(rule.when, f"_reference({g.const(rule.when.fn)}, ctx)")
        g.emit(f"if {v} is True: _fired.append(({i}, {m}, {p}))")
        g.emit(f"elif {v} is U: _unknown.append(({i}, {m}, {p}))")
    outs = []
    for name, items, attr in (("_ex", policy.exemptions, "when"), ("_ho", policy.holds, "when"),
                              ("_re", policy.timing.referrals, "when")):
        values = []
        for item in items:
            compiled = getattr(item, attr)
            if compiled is None:
                values.append("None")
                continue
            v, m, _ = g.condition(compiled, f"_reference({g.const(compiled.fn)}, ctx)")
            if name == "_ho":  # the missing set now: _m is made again by the next one
                g.emit(f"{name}{len(values)} = ({v}, {m})")
                v = f"{name}{len(values)}"
            values.append(v)
        outs.append("(" + "".join(f"{v}, " for v in values) + ")")
    derived = "(" + "".join(f"_d{i}, " for i in range(len(policy.derive))) + ")"
    g.emit(f"return _fired, _unknown, {outs[0]}, {outs[1]}, {outs[2]}, {derived}")
    head = ["def _evaluate(facts, as_of, population, ctx=None):", "    _get = facts.get"]
    if policy.population_calls:
        head.append("    _pv = population.value")
    for name, var in g.facts.items():
        head.append(f"    {var} = _get({g.const(name)})")
        head.append(f"    if {var} is None: {var} = U")
    source = "\n".join([*head, *g.lines[body_start:]]) + "\n"
    builtins = {b.__name__: b for b in (set, str, repr, type, int, isinstance, TypeError,
                                        ValueError, ArithmeticError, ZeroDivisionError)}
    namespace: dict[str, Any] = {
        "U": UNKNOWN, "_E": frozenset(), "_merge": _merge, "_call_extra": _call_extra,
        "_negate": decimals.negate, "_div0": _div0, "_cannot": _cannot,
        "_abs": decimals.absolute, "_round": _round, "_min": min, "_max": max,
        "_describe": decimals.describe, "_LO": -decimals.MAX_MAGNITUDE,
        "_HI": decimals.MAX_MAGNITUDE, "_check": decimals.check_magnitude, "_date": dt.date,
        "_Aadd": decimals.ARITHMETIC.add, "_Asubtract": decimals.ARITHMETIC.subtract,
        "_Amultiply": decimals.ARITHMETIC.multiply, "_divide": decimals.divide,
        "_modulo": decimals.modulo, "_floor_divide": decimals.floor_divide,
        "_reference": _reference, "_reference_derive": _reference_derive, "_Context": Context,
        "_derive_fns": policy.derive_fns, "__builtins__": builtins,
    }
    for i, value in enumerate(g.consts):
        namespace[f"_k{i}"] = value
    exec(compile(source, f"<adieu policy {len(source)}>", "exec"), namespace)  # noqa: S102
    return CompiledPolicy(namespace["_evaluate"], source, g.consts, g.fallbacks)


def compiled_code(policy: Any) -> CompiledPolicy:
    """The policy's generated code, made on first use and kept on the policy
    object (policy.compiled)."""
    code = policy.__dict__.get("compiled")
    if code is None:
        code = policy.__dict__["compiled"] = compile_policy_code(policy)
    return code

