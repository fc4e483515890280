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
import re
import unicodedata
from collections.abc import Callable
from typing import Any

from . import decimals
from .errors import Location
from .exprparse import (
    MAX_DEPTH,
    MAX_LENGTH,
    MAX_NODES,
    SourceText,
    check_brackets,
    check_tree,
    expression_text,
    parse_tree,
)
from .functions import POPULATION_FUNCTIONS, SCALAR_FUNCTIONS, FunctionCompiler
from .hints import NULL_WORDS, mask_strings, name_hint, syntax_hint
from .values import (
    ANY,
    BOOL,
    DATE,
    FACT_TYPES,
    LIST,
    NUM,
    STR,
    UNKNOWN,
    Compiled,
    Context,
    ExprError,
    ExtraFunction,
    Fn,
    Names,
    PopulationCall,
    _const,
    _type_of,
    _unary,
)

# adieu.expr is the module the rest of adieu (and tests) import these from.
__all__ = ["ANY", "BOOL", "CMP_SYMBOL", "CONSTANTS", "DATE", "FACT_TYPES", "LIST",
           "MAX_DEPTH", "MAX_LENGTH", "MAX_NODES", "NUM", "POPULATION_FUNCTIONS",
           "SCALAR_FUNCTIONS", "STR", "UNKNOWN", "Compiled", "Compiler", "Context", "ExprError",
           "ExtraFunction", "Fn", "Names", "PopulationCall", "location_in", "offset_of"]
CONSTANTS = {"true": True, "false": False, "True": True, "False": False}

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

_NUMBER_WITH_COMMA = re.compile(r"(?<![\w.])[0-9]+(?:,[0-9]+)+(?![\w.])")
_THOUSANDS = re.compile(r"(?<![\w.])[0-9]{1,3}(?:,[0-9]{3})+(?![\w.])")
_LEADING_ZERO = re.compile(r"(?<![\w.])(0[0-9]+)(?![\w.])")  # 010, 00 (not 0 or 0.5)



class Compiler(FunctionCompiler):
    """Compiles expression texts against a fixed set of names."""

    def __init__(self, names: Names, extra_functions: dict[str, ExtraFunction] | None = None):
        self.names = names
        self.extra = extra_functions or {}
        self.extra_used: dict[str, ExtraFunction] = {}  # plugin functions compiled, by name
        self.population_calls: dict[str, PopulationCall] = {}
        self.derive_fns: dict[str, Fn] = {}

    # -- entry points -------------------------------------------------
    def compile(self, text: Any, want: str | None = None) -> Compiled:
        """Compile one expression; raise ExprError with an offset on failure."""
        text = expression_text(text)  # its length checked before any parsing
        source = text.strip()
        lead = len(text) - len(text.lstrip())
        masked = mask_strings(source)
        if "#" in masked:  # Python would drop the rest of the line as a comment
            raise ExprError("'#' does not start a comment in a condition: YAML keeps it as "
                            "part of the text, so the rest would be lost; put the comment "
                            "on a line of its own above the key", masked.index("#") + lead)
        thousands = _THOUSANDS.search(masked)
        if thousands:  # [1,000] would be the list [1, 0]; max(x, 1,500) three values
            number = thousands.group()
            raise ExprError(f"a comma between digits: write {number.replace(',', '')} for the "
                            "number (no thousands separator), or put a space after the comma "
                            f"for separate values ({number.replace(',', ', ')})",
                            thousands.start() + lead)
        check_brackets(source.replace("\n", " "), lead)
        try:
            tree = parse_tree(source.replace("\n", " "))
        except SyntaxError as exc:
            slip = syntax_hint(source.replace("\n", " "), self._known)
            if slip is not None:  # the slip, not where the parser gave up
                raise ExprError(f"syntax error: invalid syntax; {slip[0]}", slip[1] + lead) \
                    from None
            offset = max((exc.offset or 1) - 1, 0) + lead
            zeros = _LEADING_ZERO.search(masked)
            if zeros:
                raise ExprError(f"syntax error: write {int(zeros.group(1))} instead of "
                                f"{zeros.group(1)} (a number has no leading zero)",
                                zeros.start(1) + lead) from None
            raise ExprError(f"syntax error: {exc.msg}", offset) from None
        if isinstance(tree.body, ast.Tuple):  # a, b at the top: never an expression
            comma = _NUMBER_WITH_COMMA.search(masked)
            if comma:
                number = comma.group()
                groups = number.split(",")
                hint = f"write {''.join(groups)} (a number has no thousands separator)" \
                    if all(len(g) == 3 for g in groups[1:]) and groups[0][0] != "0" else \
                    f"write {number.replace(',', '.', 1)} (decimals use '.')"
                raise ExprError(f"a comma in a number: {hint}", comma.start() + lead)
            raise ExprError("a comma outside a function call or list", lead)
        check_tree(tree, source.replace("\n", " "), lead)
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
    def _known(self, name: str) -> bool:
        return name in CONSTANTS or self.names.kind(name) is not None

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

    def _literal(self, node: ast.Constant) -> Any:
        """A number literal as written: 1.10 is Decimal("1.10"), not a float.
        Only plain decimal notation, as in data files: 0x10, 0b1, 1_000, 1j
        and leading zeros (010, 00.5, and the 000 of [1,000]) are errors.
        The value is kept on the node, so explain, which compiles parts of
        the tree again without the text, sees exactly the same number."""
        known = getattr(node, "adieu_value", None)
        if known is not None:
            return known
        value = node.value
        text = ast.get_source_segment(self._source.replace("\n", " "), node) \
            if self._source is not None else None
        if text is not None and not isinstance(value, (str, bool)):
            if not decimals.NUMBER_TEXT.fullmatch(text):
                raise self._err(node, f"write numbers in plain decimal digits, like 1000 or "
                                      f"0.15, not {text}")
            if _LEADING_ZERO.fullmatch(text.split(".")[0]):
                raise self._err(node, f"write {decimals.plain_text(decimals.to_number(text))} "
                                      f"instead of {text} (a number has no leading zero; "
                                      "a comma separates values)")
        if isinstance(value, float):
            try:
                node.adieu_value = decimals.to_number(text if text else repr(value))
            except (ValueError, OverflowError) as exc:
                raise self._err(node, f"number {text or value!r}: {exc}") from None
            return node.adieu_value
        if isinstance(value, int) and not isinstance(value, bool):
            try:
                return decimals.check_magnitude(value)
            except OverflowError as exc:
                raise self._err(node, f"number {value}: {exc}") from None
        if isinstance(value, str):
            return unicodedata.normalize("NFC", value)
        return value

    def _Constant(self, node: ast.Constant) -> tuple[Fn, str]:
        value = node.value
        if isinstance(value, bool):
            return _const(value), BOOL
        if isinstance(value, (int, float)):
            return _const(self._literal(node)), NUM
        if isinstance(value, str):  # NFC, as text facts are: "Café" is "Café"
            return _const(unicodedata.normalize("NFC", value)), STR
        raise self._err(node, f"constant {value!r} is not allowed")

    def _Name(self, node: ast.Name) -> tuple[Fn, str]:
        name = node.id
        if name in CONSTANTS:
            return _const(CONSTANTS[name]), BOOL
        kind = self.names.kind(name)
        self._names_used.add(name)
        if kind == "param":
            value = self.names.params[name]
            if isinstance(value, str):
                value = unicodedata.normalize("NFC", value)
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
        hint = name_hint(name)
        raise self._err(node, f"unknown name {name!r} (not a fact, param or derived fact)"
                              + (f"; {hint}" if hint else ""))

    def _List(self, node: ast.List | ast.Tuple) -> tuple[Fn, str]:
        items = []
        for elt in node.elts:
            if not isinstance(elt, ast.Constant) or isinstance(elt.value, bool) or \
                    not isinstance(elt.value, (str, int, float)):
                if isinstance(elt, ast.UnaryOp) and isinstance(elt.op, ast.USub) and \
                        isinstance(elt.operand, ast.Constant) and \
                        isinstance(elt.operand.value, (int, float)) and \
                        not isinstance(elt.operand.value, bool):
                    items.append(decimals.negate(self._literal(elt.operand)))
                    continue
                raise self._err(elt, "a list may hold only literal numbers and strings")
            items.append(self._literal(elt))
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
            if isinstance(node.op, ast.UAdd):
                return fn, NUM
            return _unary(fn, decimals.negate, ast.unparse(node)), NUM
        raise self._err(node, f"operator {_describe(node.op)} is not allowed")

    def _BinOp(self, node: ast.BinOp) -> tuple[Fn, str]:
        symbol = _ARITH.get(type(node.op))
        if symbol is None:
            word = {ast.BitAnd: "and", ast.BitOr: "or"}.get(type(node.op))
            hint = f"; use '{word}' instead of '{_describe(node.op)}'" if word else ""
            raise self._err(self._operator(node, _describe(node.op)),
                            f"operator {_describe(node.op)} is not allowed{hint}")
        left, lt = self._node(node.left)
        right, rt = self._node(node.right)
        if symbol == "+" and STR in (lt, rt) and any(
                isinstance(n, ast.Constant) and isinstance(n.value, str)
                for n in (node.left, node.right)):
            raise self._err(self._operator(node, "+"),
                            "+ adds numbers (or days to a date); it does not join text")
        text = SourceText(node)  # made only for a problem: a chain's texts are quadratic
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
                return op(a, b)
            except ZeroDivisionError:
                ctx.problems.append(f"division by zero in {text}")
            except ArithmeticError as exc:
                ctx.problems.append(f"cannot compute {text}: {decimals.describe(exc)}")
            except (TypeError, ValueError) as exc:
                ctx.problems.append(f"cannot compute {text}: {exc}")
            return UNKNOWN
        return binop, result

    def _Compare(self, node: ast.Compare) -> tuple[Fn, str]:
        operands = [node.left, *node.comparators]
        self._null_compare(node)
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

    def _null_compare(self, node: ast.Compare) -> None:
        """`x is null`, `x == None`, `x != NULL` -> use is_missing(x)."""
        operands = [node.left, *node.comparators]
        for i, op in enumerate(node.ops):
            if not isinstance(op, (ast.Is, ast.IsNot, ast.Eq, ast.NotEq)):
                continue
            for value, other in ((operands[i + 1], operands[i]), (operands[i], operands[i + 1])):
                null = (isinstance(value, ast.Constant) and value.value is None) or (
                    isinstance(value, ast.Name) and value.id.lower() in NULL_WORDS
                    and not self._known(value.id))
                if null:
                    negate = "not " if isinstance(op, (ast.IsNot, ast.NotEq)) else ""
                    raise self._err(value, f"there is no null: use {negate}is_missing("
                                           f"{ast.unparse(other)}) to test for a missing value")

    def _operator(self, node: ast.BinOp, symbol: str) -> ast.AST:
        """A stand-in node whose column is that of the operator of `node`."""
        col = node.col_offset
        if self._source is not None and node.left.end_col_offset is not None:
            line = self._source.replace("\n", " ").encode("utf-8")
            found = line.find(symbol.encode(), node.left.end_col_offset,
                              node.right.col_offset)
            col = found if found >= 0 else col
        stand_in = ast.Name("_", ast.Load())
        stand_in.col_offset = col
        return stand_in

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
        if bt != ot and ANY not in (bt, ot):  # a value's type never depends on the data
            raise self._err(node.orelse, "both branches of 'a if condition else b' must have "
                                         f"the same type: {_shorten(ast.unparse(node.body))} "
                                         f"is a {bt}, {_shorten(ast.unparse(node.orelse))} "
                                         f"is a {ot}")

        def ifexp(ctx: Context) -> Any:
            t = test(ctx)
            if t is UNKNOWN:
                return UNKNOWN
            return body(ctx) if t else orelse(ctx)
        return ifexp, bt if bt == ot else ANY

    def _expect(self, node: ast.AST, got: str, want: str, where: str) -> None:
        if got not in (want, ANY):
            raise self._err(node, f"{where} needs a {want}, but {ast.unparse(node)!r} "
                                  f"is a {got}")


def _shorten(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[:width - 3] + "..."


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


def _arith_fn(symbol: str) -> Callable[[Any, Any], Any]:
    def add(a: Any, b: Any) -> Any:
        if isinstance(a, dt.date):
            return a + dt.timedelta(days=_days(b))
        return decimals.add(a, b)

    def sub(a: Any, b: Any) -> Any:
        if isinstance(a, dt.date):
            return (a - b).days if isinstance(b, dt.date) else a - dt.timedelta(days=_days(b))
        return decimals.subtract(a, b)

    return {
        "+": add, "-": sub, "*": decimals.multiply, "/": decimals.divide,
        "%": decimals.modulo, "//": decimals.floor_divide,
    }[symbol]


def _days(n: Any) -> int:
    """A number of days added to a date: a whole number."""
    if n != int(n):
        raise ValueError(f"a date moves by whole days, not {decimals.plain_text(n)}")
    return int(n)


def offset_of(compiled: Compiled, node: ast.AST) -> int:
    """The character offset of `node` (from compiled.tree) in compiled.text."""
    text = compiled.text
    source = text.strip().replace("\n", " ")
    col = getattr(node, "col_offset", 0)  # UTF-8 bytes
    return len(source.encode("utf-8")[:col].decode("utf-8", "ignore")) + \
        len(text) - len(text.lstrip())


def location_in(positions: Any, path: tuple, exc: ExprError) -> Location:
    """Where an ExprError lies in the policy file."""
    return positions.in_scalar(path, exc.offset)
