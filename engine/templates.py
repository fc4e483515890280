"""Format specs in explanation templates (`{revenue_12m:,.0f}`), checked
when the policy is loaded, so that rendering an explanation can never take
more than a line of text or print a spec instead of a value.

Python's format-spec mini-language
(https://docs.python.org/3/library/string.html#formatspec), restricted:
widths up to MAX_WIDTH, precisions up to MAX_PRECISION, a fill character
that is a visible ASCII character or a space, and the types that mean
something for the value's type: numbers take f, F, e, E, g, G and % (or
none) and `=` alignment; text takes s (or none) and <, > or ^; dates take
strftime codes (%d/%m/%Y), at most MAX_WIDTH characters of them;
true/false and lists take no spec. So one field renders to at most
MAX_FIELD_CHARS characters (field_chars: the most for a spec), and a whole
template to template_chars, which policy_limits.decision_text_finding
sums over a policy's rules. The template's own length is bounded by
policy_limits.MAX_TEXT_CHARS and its fields by MAX_TEMPLATE_FIELDS;
conversions ({x!r}), attribute and index access ({a.b}, {a[0]}) and
nested fields ({x:{y}}) are refused by the policy loader
(policy._Builder._check_template)."""

from __future__ import annotations

import re
import string
from typing import Any

from .decimals import MAX_DIGITS
from .values import ANY, BOOL, DATE, LIST, NUM, STR

MAX_WIDTH = 40
MAX_PRECISION = 12
MAX_TEMPLATE_FIELDS = 20  # {fields} in one template (real ones have 1 to 3)
# The most one field renders to: a text fact, a list or a value of unknown
# type is cut to this many characters when shown (format_field_text), so
# that the text one decision can show has a static bound
# (policy_limits.MAX_DECISION_TEXT_CHARS). A number at the magnitude bound
# with separators and 12 decimals is 95 characters.
MAX_FIELD_CHARS = 200
_UNKNOWN = len("unknown")  # what a field shows for an unknown value
# strftime codes by the most characters each renders to (%B: September).
_CODE_CHARS = {"a": 3, "A": 9, "b": 3, "B": 9, "d": 2, "H": 2, "I": 2, "j": 3, "m": 2,
               "M": 2, "p": 2, "S": 2, "y": 2, "Y": 4, "U": 2, "W": 2, "z": 5, "Z": 3,
               "%": 1}

_SPEC = re.compile(r"(?:(?P<fill>.)?(?P<align>[<>=^]))?(?P<sign>[-+ ])?(?P<z>z)?(?P<alt>#)?"
                   r"(?P<zero>0)?(?P<width>[0-9]+)?(?P<grouping>[,_])?"
                   r"(?:\.(?P<precision>[0-9]+))?(?P<type>[a-zA-Z%])?", re.DOTALL)
_NUMBER_TYPES = {None, "f", "F", "e", "E", "g", "G", "%"}
_STRFTIME = re.compile(r"(?:%[aAbBdHImMpSyYjUWzZ%]|[^%{}])+")


def spec_problem(spec: str, kind: str) -> str | None:
    """Why `spec` cannot format a value of static type `kind` (values.NUM,
    STR, BOOL, DATE or ANY), or None. Examples: ",.0f" for a number is fine;
    "999999999" is "width 999999999 is over 40"; ",.0f" for a date is not a
    date format."""
    if not spec:
        return None
    if kind == DATE:
        if len(spec) > MAX_WIDTH or "%" not in spec or not _STRFTIME.fullmatch(spec):
            return "a date is formatted with strftime codes, like %d/%m/%Y or %B %Y"
        return None
    if kind == BOOL:
        return "true/false takes no format"
    if kind == LIST:
        return "a list takes no format"
    m = _SPEC.fullmatch(spec)
    if m is None:
        return "not a format like ,.0f or .1% or >10"
    width, precision, kind_of = m["width"], m["precision"], m["type"]
    fill = m["fill"]
    if fill is not None and not (" " <= fill <= "~" and fill not in "{}"):
        return f"fill character {fill!r} is not allowed (use a visible ASCII character " \
               "or a space, like *>10)"
    if width and int(width) > MAX_WIDTH:
        return f"width {int(width)} is over {MAX_WIDTH}"
    if precision and int(precision) > MAX_PRECISION:
        return f"precision {int(precision)} is over {MAX_PRECISION}"
    if kind == STR:
        if kind_of not in (None, "s") or m["sign"] or m["z"] or m["alt"] or m["grouping"] \
                or m["zero"] or m["align"] == "=":
            return "text takes only a width and alignment, like >20 or <10"
        return None
    if kind in (NUM, ANY) and kind_of not in _NUMBER_TYPES:
        hint = " (write ,.0f for a whole number with thousands separators)" \
            if kind_of in ("d", "n") else ""
        return f"a number is formatted with f, e, g or %, not {kind_of}{hint}"
    return None


def template_names(template: str) -> set[str]:
    """The names an explanation template shows ({name} and {name:spec});
    none for a template that does not parse (the validator reports it)."""
    try:
        return {field for _, field, _, _ in string.Formatter().parse(template) if field}
    except ValueError:
        return set()


def field_chars(spec: str, kind: str) -> int:
    """The most characters one template field `{name:spec}` can render to,
    for a value of static type `kind`, whatever the customer's value: the
    width, or the longest value under decimals.MAX_DIGITS digits (before
    the point, and after it where no precision is given), the precision,
    sign, separators, exponent and percent sign, or the longest date the
    strftime codes give; never over MAX_FIELD_CHARS (text, lists and values
    of unknown type are cut to it when rendered). Assumes a spec that
    spec_problem accepts."""
    if kind == BOOL:
        most = len("false")
    elif kind == DATE:
        if not spec:
            most = len("2026-11-01")
        else:
            most, i = 0, 0
            while i < len(spec):
                if spec[i] == "%" and i + 1 < len(spec):
                    most, i = most + _CODE_CHARS.get(spec[i + 1], MAX_WIDTH), i + 2
                else:
                    most, i = most + 1, i + 1
    elif kind == NUM:
        m = _SPEC.fullmatch(spec or "")
        if m is None:
            return MAX_FIELD_CHARS
        if m["grouping"] == "_" or m["z"]:  # a Decimal (or Python 3.10) refuses them:
            return MAX_FIELD_CHARS  # the value is shown as it is, cut to the bound
        type_ = m["type"]
        precision = int(m["precision"]) if m["precision"] else None
        # before the point: one more where rounding carries (999.99 -> 1000.0)
        digits = MAX_DIGITS + 1 + (2 if type_ == "%" else 0)
        # without a precision a decimal shows every digit: down to 1E-120
        fraction = 2 * MAX_DIGITS + 2 if precision is None else precision
        separators = (digits - 1) // 3 if m["grouping"] else 0
        exponent = 6 if type_ in (None, "e", "E", "g", "G") else 0  # e-120
        most = 1 + digits + separators + 1 + fraction + exponent + (type_ == "%")
        if m["width"]:
            most = max(most, int(m["width"]))
    else:  # text, a list, or a value whose type is not known
        most = MAX_FIELD_CHARS
    return min(max(most, _UNKNOWN), MAX_FIELD_CHARS)


def template_chars(parsed: list, kind_of: Any) -> int:
    """The most characters a template (string.Formatter().parse of it) can
    render to: its literal text plus field_chars of each field; kind_of(name)
    gives a field's static type."""
    return sum(len(literal or "") + (field_chars(spec or "", kind_of(name))
                                     if name is not None else 0)
               for literal, name, spec, _ in parsed)


def cut_field(text: str) -> str:
    """A rendered field cut to MAX_FIELD_CHARS characters (a long text
    fact or list), marked with "..." where it was cut."""
    if len(text) <= MAX_FIELD_CHARS:
        return text
    return text[:MAX_FIELD_CHARS - 3] + "..."
