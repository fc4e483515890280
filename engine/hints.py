"""Hints for slips that people bring from other languages (SQL, JavaScript,
C, spreadsheets) into an expression: `AND`, `&&`, `=`, `<>`, `15%`, `null`,
`x between a and b` ...

`syntax_hint` finds the leftmost slip in an expression that did not parse;
`name_hint` and `function_hint` explain an unknown name or function that is
a word from another language. Each hint is one clause meant to follow the
error message after "; ", e.g. "use 'and' instead of 'AND'"."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation

KEYWORDS = ("and", "or", "not", "in", "is")
NULL_WORDS = ("null", "none", "nil", "undefined")
NULL_HINT = "there is no null: use is_missing(x) to test for a missing value"
# Function names from SQL and spreadsheets -> the hint.
FUNCTIONS = {
    "isnull": "use is_missing(x) to test for a missing value",
    "is_null": "use is_missing(x) to test for a missing value",
    "isna": "use is_missing(x) to test for a missing value",
    "is_na": "use is_missing(x) to test for a missing value",
    "isblank": "use is_missing(x) to test for a missing value",
    "ifnull": "use coalesce(x, default) instead",
    "nvl": "use coalesce(x, default) instead",
    "iif": "use 'a if condition else b' instead",
    "if": "use 'a if condition else b' instead",
}

_WORD = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")
# (?<![\w.]): a match starts only where a word starts (else each of the
# 2,000 characters of a long word would be a start: quadratic time).
_BETWEEN = re.compile(r"(?<![\w.])([\w.]+)\s+between\s+([\w.\"'-]+)\s+and\s+([\w.\"'-]+)", re.I)
_IS_NULL = re.compile(r"\bis\s+(not\s+)?(?:null|none|nil)\b", re.I)
# After "15%": the end, a closing bracket, a comparison or a logic word, so
# the % has no right operand (as a remainder operator it would need one).
_PERCENT = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s*(%)"
                      r"(?=\s*(?:$|[)\],<>=!]|(?:and|or|if|else)\b))")

# (pattern, hint) in priority order; a longer operator comes before its prefix.
_OPERATORS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"==="), "use '==' instead of '==='"),
    (re.compile(r"!=="), "use '!=' instead of '!=='"),
    (re.compile(r"<>"), "use '!=' instead of '<>'"),
    (re.compile(r"=<"), "use '<=' instead of '=<'"),
    (re.compile(r"=>"), "use '>=' instead of '=>'"),
    (re.compile(r"=!"), "use '!=' instead of '=!'"),
    (re.compile(r"&&"), "use 'and' instead of '&&'"),
    (re.compile(r"\|\|"), "use 'or' instead of '||'"),
    (re.compile(r"!\s*in\b"), "use 'not in' instead of '!in'"),
    (re.compile(r"!(?!=)"), "use 'not' instead of '!'"),
    (re.compile(r"(?<![=<>!])=(?![=<>!])"), "use '==' to compare, not '='"),
    (re.compile(r"\?"), "use 'a if condition else b' instead of 'condition ? a : b'"),
    (re.compile("\u2265"), "use '>=' instead of '\u2265'"),
    (re.compile("\u2264"), "use '<=' instead of '\u2264'"),
    (re.compile("\u2260"), "use '!=' instead of '\u2260'"),
    (re.compile("[\u201c\u201d\u201e]"), "use straight quotes \" instead of curly ones"),
    (re.compile("[\u2018\u2019]"), "use straight quotes ' instead of curly ones"),
    # a spreadsheet IF(cond, a, b): `if(` where an operand starts
    (re.compile(r"(?:^|(?<=[(,=<>!+\-*/])|(?<=\band )|(?<=\bor )|(?<=\bnot ))\s*\bif\s*\(",
                re.I), "use 'a if condition else b' instead of 'if(condition, a, b)'"),
    # x > 1 and < 5: a comparison with nothing on its left
    (re.compile(r"(?<=\band )\s*(?:<=|>=|==|!=|<|>)|(?<=\bor )\s*(?:<=|>=|==|!=|<|>)"),
     "name what to compare on both sides: 'x > 1 and x < 5'"),
]


def mask_strings(source: str) -> str:
    """The source with the inside of every string literal blanked, so a slip
    inside quoted text ("R&D", 'AND') is not taken for one in the code.
    Offsets are kept; an unterminated literal is blanked to the end."""
    out, i, n = list(source), 0, len(source)
    while i < n:
        quote = source[i]
        if quote not in "\"'":
            i += 1
            continue
        j = i + 1
        while j < n and source[j] != quote:
            j += 2 if source[j] == "\\" else 1
        for k in range(i + 1, min(j, n)):
            out[k] = " "
        i = j + 1
    return "".join(out)


def syntax_hint(source: str, known: Callable[[str], bool] = lambda name: False) \
        -> tuple[str, int] | None:
    """The leftmost slip in `source` (one line of expression text that does
    not parse) as (hint, character offset of the slip), or None.

    `known(name)` says whether a word is a name of the policy (a fact named
    `AND` is then not taken for a slip)."""
    text = mask_strings(source)
    found: list[tuple[int, int, str]] = []  # (offset, priority, hint)

    def add(offset: int, hint: str) -> None:
        found.append((offset, len(found), hint))

    m = _BETWEEN.search(text)  # `x between a and b` cannot be valid, whatever the names
    if m:
        low, x, high = (source[m.start(g):m.end(g)] for g in (2, 1, 3))
        add(m.end(1) + len(text[m.end(1):]) - len(text[m.end(1):].lstrip()),
            f"use '{low} <= {x} <= {high}' instead of 'between'")
    elif (m := re.search(r"\bbetween\b", text, re.I)) and not known(m.group()):
        add(m.start(), "use 'a <= x <= b' instead of 'x between a and b'")
    for m in _IS_NULL.finditer(text):
        before = re.search(r"([A-Za-z_]\w*)\s*$", text[:m.start()])
        x = before.group(1) if before else "x"
        add(m.start(), f"use {'not ' if m.group(1) else ''}is_missing({x}) instead of "
                       f"'{' '.join(m.group().split())}'")
    for pattern, hint in _OPERATORS:
        for m in pattern.finditer(text):
            add(m.start() + len(m.group()) - len(m.group().lstrip()), hint)
    for m in _PERCENT.finditer(text):
        add(m.start(2), f"write {_percent(m.group(1))} instead of {m.group(1)}% ('%' is "
                        "the remainder operator)")
    for m in _WORD.finditer(text):
        word = m.group()
        if known(word):
            continue
        hint = name_hint(word)
        if hint and word.lower() in KEYWORDS:
            add(m.start(), hint)
    if not found:
        return None
    offset, _, hint = min(found)
    return hint, offset


def name_hint(name: str) -> str | None:
    """A hint for an unknown name that is a word of another language."""
    lower = name.lower()
    if lower in KEYWORDS and name != lower:
        return f"use '{lower}' instead of '{name}'"
    if lower in NULL_WORDS:
        return NULL_HINT
    if lower in ("true", "false") and name not in ("true", "false", "True", "False"):
        return f"use '{lower}' instead of '{name}'"
    return None


def function_hint(name: str, known: tuple[str, ...]) -> str | None:
    """A hint for an unknown function: a known one in other letter case, or
    the equivalent of a SQL / spreadsheet function."""
    lower = name.lower()
    if lower in known:
        return f"use '{lower}' instead of '{name}'"
    if lower in KEYWORDS:
        return f"use '{lower}' instead of '{name}'"
    return FUNCTIONS.get(lower)


def _percent(number: str) -> str:
    """A percentage as the fraction it stands for: "15" -> "0.15"."""
    try:
        value = Decimal(number).scaleb(-2).normalize()
    except InvalidOperation:  # pragma: no cover - the pattern admits digits only
        return number
    return format(value, "f")
