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
true/false and lists take no spec. So one field renders to at most a few
hundred characters. The template's own length is bounded by
policy_limits.MAX_TEXT_CHARS and its fields by MAX_TEMPLATE_FIELDS;
conversions ({x!r}), attribute and index access ({a.b}, {a[0]}) and
nested fields ({x:{y}}) are refused by the policy loader
(policy._Builder._check_template)."""

from __future__ import annotations

import re
import string

from .values import ANY, BOOL, DATE, LIST, NUM, STR

MAX_WIDTH = 40
MAX_PRECISION = 12
MAX_TEMPLATE_FIELDS = 20  # {fields} in one template (real ones have 1 to 3)

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
