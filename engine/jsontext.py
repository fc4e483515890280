"""JSON text as adieu stores and prints it, with exact numbers.

Decimals are written as JSON numbers with their digits ("5476.50" stays
5476.50, never 5476.499999...), and read back as Decimal; dates as ISO
text; keys sorted, so the same value always gives the same text. Built on
msgspec (https://jcristharif.com/msgspec/), whose encoder writes Decimal
as a number (`decimal_format="number"`) and whose decoder reads numbers
with a fraction or exponent through `float_hook`."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec

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
    Raises ValueError for text that is not JSON."""
    try:
        return _DECODER.decode(text)
    except msgspec.DecodeError as exc:
        raise ValueError(str(exc)) from None
