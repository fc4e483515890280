"""JSON text as adieu stores and prints it, with exact numbers.

Decimals are written as JSON numbers with their digits ("5476.50" stays
5476.50, never 5476.499999...), and read back as Decimal; dates as ISO
text; keys sorted, so the same value always gives the same text. Built on
msgspec (https://jcristharif.com/msgspec/), whose encoder writes Decimal
as a number (`decimal_format="number"`) and whose decoder reads numbers
with a fraction or exponent through `float_hook`."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import msgspec

# The deepest nesting of arrays and objects read from a source or the store.
# A HubSpot CRM v3 page nests about 7 deep (page, results, record,
# associations, kind, results, item); deeper input is not a page, and
# stdlib json recurses once per level (1,000 levels: a RecursionError).
MAX_JSON_DEPTH = 100
# Brackets, and whole strings (to skip the brackets inside them; one cut
# off at the end of the text runs to its end).
_BRACKETS = re.compile(r'[\[\]{}]|"(?:[^"\\]|\\.)*"?', re.DOTALL)

_ENCODER = msgspec.json.Encoder(decimal_format="number", order="sorted", enc_hook=str)
_DECODER = msgspec.json.Decoder(float_hook=Decimal)


def dumps(value: Any, indent: int | None = None) -> str:
    """value as JSON text: compact, or indented by `indent` spaces. Keys must
    be strings; values of other types (a Location, say) are written as their
    str()."""
    data = _ENCODER.encode(value)
    if indent:
        data = msgspec.json.format(data, indent=indent)
    return data.decode("utf-8")


def loads(text: str | bytes) -> Any:
    """JSON text to Python values; numbers with a fraction or exponent come
    back as Decimal (exactly the digits stored), whole numbers as int.
    Raises ValueError for text that is not JSON, nested deeper than
    msgspec's own bound (about 1,000; it raises RecursionError, cleanly), or
    holding a number beyond what Decimal can hold ("1e+99999999999999999999").
    Sources check MAX_JSON_DEPTH first (too_deep)."""
    try:
        return _DECODER.decode(text)
    except msgspec.DecodeError as exc:
        raise ValueError(str(exc)) from None
    except RecursionError:
        raise ValueError("JSON nested too deep") from None
    except ArithmeticError:
        raise ValueError("JSON number out of range (an exponent beyond any value)") from None


def too_deep(text: str, start: int = 0, limit: int = MAX_JSON_DEPTH) -> int | None:
    """Where the JSON value that begins at text[start] first nests deeper
    than `limit` arrays and objects: the offset (in characters) of the
    bracket that opens level limit + 1; None when it never does. Scans
    brackets outside strings only, without decoding, and stops where the
    value's brackets close (a value cut off at the end of text is scanned to
    there): a cheap check before a recursive decoder sees the text."""
    depth = 0
    for match in _BRACKETS.finditer(text, start):
        c = match.group()
        if c in "[{":
            depth += 1
            if depth > limit:
                return match.start()
        elif c in "]}":
            depth -= 1
            if depth <= 0:
                return None
        elif depth == 0:
            return None  # the value is a string
    return None
