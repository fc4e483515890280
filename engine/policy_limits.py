"""Count and size limits of a policy, checked right after the YAML is read
and before the schema check or any compiling, so that a policy that
validates cannot make evaluate, explain, test, diff or replay slow or
large per customer (docs/policy-reference.md, "Limits").

Why these sizes: policies/default.yaml has 13 rules, 10 derived facts,
16 params, 2 exemptions and 1 hold, 1,222 characters of expressions and
no text over 334 characters. Each limit is about 50 to 100 times what a
real policy needs, and small enough that the work per customer (every
rule, derived fact, exemption, hold and referral condition is evaluated
for every customer) and the text copied into each decision (rule titles,
explanations, reasons, notes) stay small: at most MAX_EXPRESSION_CHARS of
expressions with MAX_POLICY_PARTS parts (about 10,000 operations, a few
ms per customer) and MAX_TEXT_CHARS per text.

The YAML file itself is bounded by engine/yamlpos.py (MAX_FILE_BYTES,
MAX_DEPTH, MAX_NODES, MAX_SCALAR_CHARS) and each expression by
engine/exprparse.py (MAX_LENGTH, MAX_NODES, MAX_DEPTH)."""

from __future__ import annotations

import ast
from typing import Any

from .errors import PolicyError
from .exprparse import parse_expression
from .values import ExprError
from .yamlpos import Positions

# How many items each section may hold: (path of the list or mapping, what
# one item is called, limit).
MAX_COUNTS: tuple[tuple[tuple, str, int], ...] = (
    (("facts",), "facts", 1_000),
    (("params",), "params", 1_000),
    (("derive",), "derived facts", 1_000),
    (("rules",), "rules", 1_000),
    (("exemptions",), "exemptions", 1_000),
    (("holds",), "holds", 1_000),
    (("timing", "referrals"), "referrals", 100),
)
MAX_EXPRESSION_CHARS = 100_000  # all expressions of a policy together (default: 1,222)
MAX_POLICY_PARTS = 10_000       # their parts (exprparse.MAX_NODES each; default: 230)
MAX_TEXT_CHARS = 1_000          # a title, reason, note, explanation template, param text
MAX_DESCRIPTION_CHARS = 10_000  # the policy's own description (shown by no decision)
MAX_NAME_CHARS = 100            # a key: the name of a fact, param or derived fact
# The most text one decision can show: every rule's explanation at its
# longest (templates.template_chars: literal text plus the widest each field
# can render) plus the titles, reasons and notes of rules, exemptions, holds
# and referrals. The run writer holds a batch of run_writer.BATCH (2,000)
# decisions, so their text stays under 2,000 x 32 KB = 64 MB whatever the
# policy; the shipped default can show 6,892 characters.
MAX_DECISION_TEXT_CHARS = 32_768

# Sections whose keys are names that expressions and templates use.
_NAMED = {("facts",), ("params",), ("derive",)}
# Where expressions live (their own bound is exprparse.MAX_LENGTH).
_EXPRESSION_KEYS = {"when"}


def limit_findings(doc: Any, positions: Positions) -> list[PolicyError]:
    """Every limit a loaded policy document breaks, each a PolicyError at the
    section, key or text concerned, naming the count or size and the limit.
    Counts are checked first: a section over its count is reported once,
    without walking into it."""
    if not isinstance(doc, dict):
        return []
    errors: list[PolicyError] = []
    for path, noun, limit in MAX_COUNTS:
        items = _get(doc, path)
        if isinstance(items, (list, dict)) and len(items) > limit:
            errors.append(PolicyError(f"{'/'.join(path)}: {len(items):,} {noun}, over the "
                                      f"limit of {limit:,} in one policy",
                                      positions.at(path, key=True)))
    if errors:
        return errors
    total = 0
    expressions: list[str] = []
    for path, value, is_key in _texts(doc, ()):
        if is_key:
            if path[:-1] in _NAMED and len(value) > MAX_NAME_CHARS:
                errors.append(PolicyError(f"a name of {len(value):,} characters, over the "
                                          f"limit of {MAX_NAME_CHARS:,}",
                                          positions.at(path, key=True)))
            continue
        if _is_expression(path):
            total += len(value)  # its own length: exprparse.MAX_LENGTH
            expressions.append(value)
            continue
        limit = MAX_DESCRIPTION_CHARS if path == ("description",) else MAX_TEXT_CHARS
        if len(value) > limit:
            errors.append(PolicyError(f"{'/'.join(map(str, path))}: a text of "
                                      f"{len(value):,} characters, over the limit of "
                                      f"{limit:,}", positions.at(path)))
    if total > MAX_EXPRESSION_CHARS:
        errors.append(PolicyError(f"the policy's expressions have {total:,} characters in "
                                  f"all, over the limit of {MAX_EXPRESSION_CHARS:,}; every "
                                  "expression is evaluated for every customer",
                                  positions.at(())))
        return errors
    parts = 0
    for text in expressions:
        try:  # each one bounded before parsing; the compiler reports its errors
            parts += sum(1 for _ in ast.walk(parse_expression(text)))
        except (SyntaxError, ExprError):
            continue
    if parts > MAX_POLICY_PARTS:
        errors.append(PolicyError(f"the policy's expressions have {parts:,} parts in all, "
                                  f"over the limit of {MAX_POLICY_PARTS:,}; every expression "
                                  "is evaluated for every customer", positions.at(())))
    return errors


def decision_text_finding(explains: list[tuple[int, str, tuple]], doc: Any,
                          positions: Positions) -> PolicyError | None:
    """A PolicyError if the text one decision can show is over
    MAX_DECISION_TEXT_CHARS, or None. explains: (the most characters the
    rule's explanation renders to, rule id, path of the template) per rule
    with one; the other texts a decision may show (titles, reasons, notes:
    every text of the rules, exemptions, holds and timing but their
    expressions and templates) count at their length. The message names the
    total, the limit and the largest explanations' rules at their lines."""
    if not isinstance(doc, dict):
        return None
    explained = {path for _, _, path in explains}
    other = 0
    for section in ("rules", "exemptions", "holds", "timing"):
        for path, value, is_key in _texts(doc.get(section), (section,)):
            if not is_key and not _is_expression(path) and path not in explained:
                other += len(value)
    total = other + sum(chars for chars, _, _ in explains)
    if total <= MAX_DECISION_TEXT_CHARS:
        return None
    largest = sorted(explains, key=lambda e: -e[0])[:3]
    named = ", ".join(f"rule {rid!r} (line {positions.at(path).line}) up to {chars:,}"
                      for chars, rid, path in largest)
    return PolicyError(
        f"one decision can show {total:,} characters of text (explanations at their "
        f"widest, titles, reasons and notes), over the limit of "
        f"{MAX_DECISION_TEXT_CHARS:,}; every decision's text is stored and held in "
        f"memory" + (f"; largest explanations: {named}" if named else ""),
        positions.at(("rules",), key=True))


def _is_expression(path: tuple) -> bool:
    return (len(path) == 2 and path[0] == "derive") or \
        (bool(path) and path[-1] in _EXPRESSION_KEYS)


def _get(doc: dict, path: tuple) -> Any:
    value: Any = doc
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _texts(value: Any, path: tuple) -> Any:
    """(path, text, is_key) for every text value and every key, iteratively
    (the YAML loader already bounds the depth)."""
    stack = [(value, path)]
    while stack:
        value, path = stack.pop()
        if isinstance(value, dict):
            for key, child in value.items():
                if isinstance(key, str):
                    yield path + (key,), key, True
                stack.append((child, path + (key,)))
        elif isinstance(value, list):
            stack.extend((child, path + (i,)) for i, child in enumerate(value))
        elif isinstance(value, str):
            yield path, value, False
