"""Parsing expression text with its cost bounded: the one way adieu turns
the text of a `when:` or `derive:` expression into a Python `ast` tree
(compile, lint, the derive dependency scan, the percentile scan all come
here), so no caller can parse a text before its size is checked.

Bounds, each checked before the step it protects:

- MAX_LENGTH characters, checked BEFORE parsing (an expression of 200,000
  `1+` terms once reached Python's parser, which built a tree 200,000
  levels deep and ended in an unlocated RecursionError or gigabytes);
- MAX_DEPTH levels of brackets ( [ {, counted on the text before parsing,
  so the parser never sees deeper nesting than the compiler accepts;
- MAX_NODES parts of the parsed tree and MAX_DEPTH levels of nesting in
  it: a sign or `not`, a function call, a conditional, a bracket each add
  a level; a chain of the same binary operator (`a + b + c + d`) is one
  level, as it reads, although Python's tree nests it.

Every refusal is an ExprError with the character offset in the text (the
policy loader turns it into file:line:col). MAX_NODES also bounds the
work of one expression per customer; policy.MAX_POLICY_PARTS bounds the
sum over a policy."""

from __future__ import annotations

import ast
import functools
from decimal import Decimal
from typing import Any

from .hints import mask_strings
from .values import ExprError

MAX_LENGTH = 2000   # characters: a long real condition is about 200
MAX_NODES = 400     # parts (names, numbers, operators) of one expression
MAX_DEPTH = 32      # levels of nesting; real ones have 3 or 4

_OPEN, _CLOSE = "([{", ")]}"


def expression_text(text: Any) -> str:
    """The text of an expression as YAML gave it: true/false and numbers
    (`when: true`, `derive: {x: 5}`) as their text. ExprError for anything
    else that is not text, for empty text and for text over MAX_LENGTH."""
    if isinstance(text, bool):
        text = "true" if text else "false"
    elif isinstance(text, (int, float, Decimal)):
        text = str(text)
    if not isinstance(text, str) or not text.strip():
        raise ExprError("expected an expression")
    if len(text) > MAX_LENGTH:
        raise ExprError(f"expression of {len(text):,} characters, over the limit of "
                        f"{MAX_LENGTH:,}; split it into derived facts", MAX_LENGTH)
    return text


def check_brackets(source: str, lead: int = 0) -> None:
    """ExprError at the first bracket nested deeper than MAX_DEPTH (outside
    string literals); `lead` is added to offsets (the stripped blanks)."""
    depth = 0
    for i, char in enumerate(mask_strings(source)):
        if char in _OPEN:
            depth += 1
            if depth > MAX_DEPTH:
                raise ExprError(f"brackets nested more than {MAX_DEPTH} levels deep; use "
                                "derived facts for the inner parts", i + lead)
        elif char in _CLOSE and depth:
            depth -= 1


def parse_tree(source: str) -> ast.Expression:
    """ast.parse of one (already length-checked, stripped, one-line) text.
    SyntaxError passes through (the compiler words it); a parser that runs
    out of stack or memory is an ExprError, never an unlocated crash."""
    try:
        return ast.parse(source, mode="eval")
    except (RecursionError, MemoryError):
        raise ExprError(f"expression nested too deeply (at most {MAX_DEPTH} levels)") \
            from None


def check_tree(tree: ast.Expression, source: str, lead: int = 0) -> None:
    """ExprError when the tree has more than MAX_NODES parts, or, at the
    first part too deep, when it nests more than MAX_DEPTH levels."""
    count = sum(1 for _ in ast.walk(tree))
    if count > MAX_NODES:
        raise ExprError(f"expression too large ({count} parts, at most {MAX_NODES}); "
                        "split it into derived facts", lead)
    stack: list[tuple[ast.AST, int]] = [(tree.body, 1)]
    while stack:  # iterative: the check itself never recurses
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ExprError(f"expression nested more than {MAX_DEPTH} levels deep; use "
                            "derived facts for the inner parts",
                            _char_offset(source, node) + lead)
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, ast.expr):
                continue
            same_chain = isinstance(node, ast.BinOp) and child is node.left and \
                isinstance(child, ast.BinOp)
            stack.append((child, depth if same_chain else depth + 1))


def parse_expression(text: Any) -> ast.Expression:
    """Check and parse one expression as the compiler does (expression_text,
    check_brackets, parse_tree, check_tree): for callers that only need the
    names in it. ExprError or SyntaxError when it does not parse; the
    compiler reports those with their location."""
    text = expression_text(text)
    source = text.strip().replace("\n", " ")
    lead = len(text) - len(text.lstrip())
    check_brackets(source, lead)
    tree = parse_tree(source)
    check_tree(tree, source, lead)
    return tree


def _char_offset(source: str, node: ast.AST) -> int:
    col = getattr(node, "col_offset", 0)  # UTF-8 bytes
    return len(source.encode("utf-8")[:col].decode("utf-8", "ignore"))


class SourceText:
    """The text of a sub-expression (ast.unparse of its node), made only
    when a message needs it (str() or an f-string), then kept. Problems
    name the expression they come from; making every operator's text when
    compiling took time quadratic in a chain's length (`a*b*c*...`: each
    operator's text holds the whole chain before it)."""

    __slots__ = ("node",)

    def __init__(self, node: ast.AST):
        self.node = node

    def __str__(self) -> str:
        return _unparse(self.node)

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    def __repr__(self) -> str:
        return repr(str(self))


@functools.lru_cache(maxsize=4096)
def _unparse(node: ast.AST) -> str:
    return ast.unparse(node)
