"""The expression language: parsed with Python's `ast`, checked against a
whitelist of node types, type-checked, and compiled once into closures.

Values are numbers, strings, booleans, dates and the UNKNOWN marker. A
missing fact, a division by zero or a type clash in the data makes a value
UNKNOWN; UNKNOWN spreads through arithmetic and comparisons, and `and` /
`or` / `not` follow three-valued (Kleene) logic, so a rule over missing
data neither fires nor passes.
"""

from __future__ import annotations

import ast
import datetime as dt
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import Location


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
    p: float | None          # the percentile
    condition: Fn | None     # compiled condition for share
    text: str


_CMP = {
    ast.Lt: ("<", lambda a, b: a < b), ast.LtE: ("<=", lambda a, b: a <= b),
    ast.Gt: (">", lambda a, b: a > b), ast.GtE: (">=", lambda a, b: a >= b),
    ast.Eq: ("==", lambda a, b: a == b), ast.NotEq: ("!=", lambda a, b: a != b),
    ast.In: ("in", lambda a, b: a in b), ast.NotIn: ("not in", lambda a, b: a not in b),
}
CMP_SYMBOL = {cls: sym for cls, (sym, _) in _CMP.items()}

_ARITH = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Mod: "%",
    ast.FloorDiv: "//",
}

SCALAR_FUNCTIONS = ("min", "max", "abs", "round", "coalesce", "days_since", "days_until",
                    "is_missing", "date")
POPULATION_FUNCTIONS = ("percentile", "mean", "share")
CONSTANTS = {"true": True, "false": False, "True": True, "False": False}

MAX_LENGTH = 2000
MAX_NODES = 400


@dataclass
class ExtraFunction:
    """A function added by a plugin: called with known argument values only."""

    name: str
    fn: Callable[..., Any]
    returns: str = ANY
    min_args: int = 0
    max_args: int | None = None
    plugin: str = ""


class Compiler:
    """Compiles expression texts against a fixed set of names."""

    def __init__(self, names: Names, extra_functions: dict[str, ExtraFunction] | None = None):
        self.names = names
        self.extra = extra_functions or {}
        self.population_calls: dict[str, PopulationCall] = {}
        self.derive_fns: dict[str, Fn] = {}

    # -- entry points -------------------------------------------------
    def compile(self, text: Any, want: str | None = None) -> Compiled:
        """Compile one expression; raise ExprError with an offset on failure."""
        if isinstance(text, bool):
            text = "true" if text else "false"
        elif isinstance(text, (int, float)):
            text = repr(text)
        if not isinstance(text, str) or not text.strip():
            raise ExprError("expected an expression")
        if len(text) > MAX_LENGTH:
            raise ExprError(f"expression longer than {MAX_LENGTH} characters")
        source = text.strip()
        lead = len(text) - len(text.lstrip())
        try:
            tree = ast.parse(source.replace("\n", " "), mode="eval")
        except SyntaxError as exc:
            offset = max((exc.offset or 1) - 1, 0) + lead
            raise ExprError(f"syntax error: {exc.msg}", offset) from None
        count = sum(1 for _ in ast.walk(tree))
        if count > MAX_NODES:
            raise ExprError(f"expression too large ({count} parts, at most {MAX_NODES})")
        self._lead = lead
        self._source = source
        self._names_used: set[str] = set()
        self._pop_keys: list[str] = []
        fn, typ = self._node(tree.body)
        if want == BOOL and typ not in (BOOL, ANY):
            raise ExprError(f"a condition must be true or false, this is a {typ}", lead)
        return Compiled(text, fn, typ, tree.body, self._names_used, self._pop_keys)

    def compile_node(self, node: ast.expr) -> tuple[Fn, str]:
        """Compile a sub-tree of an already compiled expression (for explain)."""
        self._lead = 0
        self._source = None
        self._names_used = set()
        self._pop_keys = []
        return self._node(node)

    # -- helpers ------------------------------------------------------
    def _err(self, node: ast.AST, message: str) -> ExprError:
        col = getattr(node, "col_offset", 0)  # in UTF-8 bytes; the offset is in characters
        if self._source is not None:
            col = len(self._source.encode("utf-8")[:col].decode("utf-8", "ignore"))
        return ExprError(message, col + self._lead)

    def _node(self, node: ast.expr) -> tuple[Fn, str]:
        method = getattr(self, "_" + type(node).__name__, None)
        if method is None:
            raise self._err(node, f"{_describe(node)} is not allowed in an expression")
        return method(node)

    def _Constant(self, node: ast.Constant) -> tuple[Fn, str]:
        value = node.value
        if isinstance(value, bool):
            return _const(value), BOOL
        if isinstance(value, (int, float)):
            return _const(value), NUM
        if isinstance(value, str):
            return _const(value), STR
        raise self._err(node, f"constant {value!r} is not allowed")

    def _Name(self, node: ast.Name) -> tuple[Fn, str]:
        name = node.id
        if name in CONSTANTS:
            return _const(CONSTANTS[name]), BOOL
        kind = self.names.kind(name)
        self._names_used.add(name)
        if kind == "param":
            value = self.names.params[name]
            return _const(value), _type_of(value)
        if kind == "derive":
            def derived(ctx: Context, _n: str = name) -> Any:
                return ctx.derive(_n)
            return derived, self.names.derive_types[name]
        if kind == "fact":
            def fact(ctx: Context, _n: str = name) -> Any:
                value = ctx.facts.get(_n)
                if value is None:
                    ctx.missing.add(_n)
                    return UNKNOWN
                return value
            return fact, self.names.facts[name]
        raise self._err(node, f"unknown name {name!r} (not a fact, param or derived fact)")

    def _List(self, node: ast.List | ast.Tuple) -> tuple[Fn, str]:
        items = []
        for elt in node.elts:
            if not isinstance(elt, ast.Constant) or isinstance(elt.value, bool) or \
                    not isinstance(elt.value, (str, int, float)):
                if isinstance(elt, ast.UnaryOp) and isinstance(elt.op, ast.USub) and \
                        isinstance(elt.operand, ast.Constant) and \
                        isinstance(elt.operand.value, (int, float)) and \
                        not isinstance(elt.operand.value, bool):
                    items.append(-elt.operand.value)
                    continue
                raise self._err(elt, "a list may hold only literal numbers and strings")
            items.append(elt.value)
        return _const(frozenset(items)), LIST

    _Tuple = _List

    def _BoolOp(self, node: ast.BoolOp) -> tuple[Fn, str]:
        parts = []
        for value in node.values:
            fn, typ = self._node(value)
            self._expect(value, typ, BOOL, "and / or")
            parts.append(fn)
        if isinstance(node.op, ast.And):
            def and_(ctx: Context) -> Any:
                unknown = False
                for part in parts:
                    v = part(ctx)
                    if v is UNKNOWN:
                        unknown = True
                    elif not v:
                        return False
                return UNKNOWN if unknown else True
            return and_, BOOL

        def or_(ctx: Context) -> Any:
            unknown = False
            for part in parts:
                v = part(ctx)
                if v is UNKNOWN:
                    unknown = True
                elif v:
                    return True
            return UNKNOWN if unknown else False
        return or_, BOOL

    def _UnaryOp(self, node: ast.UnaryOp) -> tuple[Fn, str]:
        fn, typ = self._node(node.operand)
        if isinstance(node.op, ast.Not):
            self._expect(node.operand, typ, BOOL, "not")

            def not_(ctx: Context) -> Any:
                v = fn(ctx)
                return UNKNOWN if v is UNKNOWN else not v
            return not_, BOOL
        if isinstance(node.op, (ast.USub, ast.UAdd)):
            self._expect(node.operand, typ, NUM, "a sign")
            how = operator.neg if isinstance(node.op, ast.USub) else operator.pos
            return _unary(fn, how, ast.unparse(node)), NUM
        raise self._err(node, f"operator {_describe(node.op)} is not allowed")

    def _BinOp(self, node: ast.BinOp) -> tuple[Fn, str]:
        symbol = _ARITH.get(type(node.op))
        if symbol is None:
            raise self._err(node, f"operator {_describe(node.op)} is not allowed")
        left, lt = self._node(node.left)
        right, rt = self._node(node.right)
        text = ast.unparse(node)
        result = NUM
        if symbol in ("+", "-") and DATE in (lt, rt):
            # date - date = days; date +/- days = date
            if symbol == "-" and lt == DATE and rt == DATE:
                result = NUM
            elif lt == DATE and rt in (NUM, ANY):
                result = DATE
            else:
                raise self._err(node, f"cannot apply {symbol} to {lt} and {rt}")
        else:
            self._expect(node.left, lt, NUM, symbol)
            self._expect(node.right, rt, NUM, symbol)
        op = _arith_fn(symbol)

        def binop(ctx: Context) -> Any:
            a = left(ctx)
            if a is UNKNOWN:
                return UNKNOWN
            b = right(ctx)
            if b is UNKNOWN:
                return UNKNOWN
            try:
                result = op(a, b)
                if isinstance(result, float) and not math.isfinite(result):
                    raise ValueError("result is not a finite number")
                return result
            except ZeroDivisionError:
                ctx.problems.append(f"division by zero in {text}")
            except (TypeError, OverflowError, ValueError) as exc:
                ctx.problems.append(f"cannot compute {text}: {exc}")
            return UNKNOWN
        return binop, result

    def _Compare(self, node: ast.Compare) -> tuple[Fn, str]:
        operands = [node.left, *node.comparators]
        compiled = [self._node(o) for o in operands]
        steps = []
        for i, op in enumerate(node.ops):
            if type(op) not in _CMP:
                raise self._err(node, f"comparison {_describe(op)} is not allowed")
            (lf, lt), (rf, rt) = compiled[i], compiled[i + 1]
            symbol, fn = _CMP[type(op)]
            self._check_compare(operands[i + 1], symbol, lt, rt)
            steps.append((lf, rf, fn, ast.unparse(node)))
        cache_needed = len(steps) > 1

        def compare(ctx: Context) -> Any:
            unknown = False
            right_value = None
            for i, (lf, rf, fn, text) in enumerate(steps):
                a = right_value if (cache_needed and i > 0) else lf(ctx)
                b = rf(ctx)
                right_value = b
                if a is UNKNOWN or b is UNKNOWN:
                    unknown = True
                    continue
                try:
                    if not fn(a, b):
                        return False
                except TypeError:
                    ctx.problems.append(f"cannot compare {a!r} and {b!r} in {text}")
                    unknown = True
            return UNKNOWN if unknown else True
        return compare, BOOL

    def _check_compare(self, node: ast.AST, symbol: str, lt: str, rt: str) -> None:
        if symbol in ("in", "not in"):
            if rt != LIST:
                raise self._err(node, f"'{symbol}' needs a list on its right, like [\"a\", \"b\"]")
            return
        if LIST in (lt, rt):
            raise self._err(node, f"a list can only be used with 'in', not '{symbol}'")
        if ANY in (lt, rt) or lt == rt:
            if symbol not in ("==", "!=") and lt == BOOL:
                raise self._err(node, f"'{symbol}' cannot order true/false values")
            return
        raise self._err(node, f"cannot compare a {lt} with a {rt} using '{symbol}'")

    def _IfExp(self, node: ast.IfExp) -> tuple[Fn, str]:
        test, tt = self._node(node.test)
        self._expect(node.test, tt, BOOL, "if")
        body, bt = self._node(node.body)
        orelse, ot = self._node(node.orelse)

        def ifexp(ctx: Context) -> Any:
            t = test(ctx)
            if t is UNKNOWN:
                return UNKNOWN
            return body(ctx) if t else orelse(ctx)
        return ifexp, bt if bt == ot else ANY

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
        known = ", ".join(sorted((*SCALAR_FUNCTIONS, *POPULATION_FUNCTIONS, *self.extra)))
        raise self._err(node, f"unknown function {name}() (known: {known})")

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
        return _unary(f, abs, ast.unparse(node)), NUM

    def _fn_round(self, node: ast.Call, args: list) -> tuple[Fn, str]:
        parts = self._args(node, 1, 2)
        for arg, (_, t) in zip(node.args, parts, strict=True):
            self._expect(arg, t, NUM, "round()")
        f = parts[0][0]
        digits = parts[1][0] if len(parts) == 2 else _const(0)
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
        fns = [f for f, _ in self._args(node, spec.min_args, spec.max_args)]
        text = ast.unparse(node)

        def extra(ctx: Context) -> Any:
            values = [f(ctx) for f in fns]
            if any(v is UNKNOWN for v in values):
                return UNKNOWN
            try:
                result = spec.fn(*values)
            except Exception as exc:  # a plugin's function failing on one customer
                ctx.problems.append(f"{text} failed: {exc}")
                return UNKNOWN
            if result is None:
                ctx.problems.append(f"{text} gave no value")
                return UNKNOWN
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
                    p = float(arg.value)
                elif isinstance(arg, ast.Name) and self.names.kind(arg.id) == "param":
                    p = self.names.params[arg.id]
                if not isinstance(p, (int, float)) or isinstance(p, bool) or not 0 <= p <= 100:
                    raise self._err(arg, "the percentile must be a number from 0 to 100")
                p = float(p)
            call = PopulationCall(text, name, target.id, p, None, text)
            result = NUM
        self.population_calls.setdefault(call.key, call)
        self._pop_keys.append(call.key)
        key = call.key

        def population(ctx: Context) -> Any:
            return ctx.population.value(key)
        return population, result

    def _expect(self, node: ast.AST, got: str, want: str, where: str) -> None:
        if got not in (want, ANY):
            raise self._err(node, f"{where} needs a {want}, but {ast.unparse(node)!r} "
                                  f"is a {got}")


def _describe(node: ast.AST) -> str:
    names = {
        "Attribute": "attribute access (a.b)", "Subscript": "indexing (a[b])",
        "Lambda": "lambda", "ListComp": "a comprehension", "GeneratorExp": "a comprehension",
        "SetComp": "a comprehension", "DictComp": "a comprehension", "Dict": "a dict",
        "Set": "a set", "JoinedStr": "an f-string", "Await": "await", "Yield": "yield",
        "NamedExpr": "assignment (:=)", "Starred": "*", "Pow": "**", "BitAnd": "&",
        "BitOr": "|", "BitXor": "^", "LShift": "<<", "RShift": ">>", "MatMult": "@",
        "Is": "'is' (use is_missing(x))", "IsNot": "'is not' (use not is_missing(x))",
        "Invert": "~", "Slice": "a slice",
    }
    return names.get(type(node).__name__, type(node).__name__)


def _type_of(value: Any) -> str:
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, (int, float)):
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
    except (TypeError, ValueError, OverflowError) as exc:
        ctx.problems.append(f"cannot compute {text}: {exc}")
        return UNKNOWN


# round() with more digits than this changes nothing (or gives 0); clamping
# keeps round(x, -revenue_12m) from computing 10 ** revenue_12m.
MAX_ROUND_DIGITS = 400


def _round(value: Any, digits: Any) -> Any:
    if isinstance(digits, float) and not math.isfinite(digits):
        raise ValueError(f"round() digits must be a finite number, got {digits!r}")
    n = max(-MAX_ROUND_DIGITS, min(MAX_ROUND_DIGITS, int(digits)))
    return round(value, n)


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


def _arith_fn(symbol: str) -> Callable[[Any, Any], Any]:
    def add(a: Any, b: Any) -> Any:
        if isinstance(a, dt.date):
            return a + dt.timedelta(days=b)
        return a + b

    def sub(a: Any, b: Any) -> Any:
        if isinstance(a, dt.date):
            return (a - b).days if isinstance(b, dt.date) else a - dt.timedelta(days=b)
        return a - b

    return {
        "+": add, "-": sub, "*": lambda a, b: a * b, "/": lambda a, b: a / b,
        "%": lambda a, b: a % b, "//": lambda a, b: a // b,
    }[symbol]


def location_in(positions: Any, path: tuple, exc: ExprError) -> Location:
    """Where an ExprError lies in the policy file."""
    return positions.in_scalar(path, exc.offset)
