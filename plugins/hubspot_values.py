"""Values of a HubSpot API dump: dates, amounts and sums (docs/sources.md,
"HubSpot").

Every number is read by adieu's one strict rule (adieu.read_number: plain
decimal notation, ASCII digits 0-9, no digit separators, below 60 digits)
and summed exactly (adieu.add_exact), never with int(), float() or a bare
Decimal(), which accept "1_000", "١٢" and "１２" or round past 28 digits."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from typing import Any

from adieu import read_number, utc_date
from adieu_plugins.hubspot_pages import blank

# Epoch milliseconds as text: 11 to 14 ASCII digits (1973 to 5138).
_EPOCH_MS = re.compile(r"-?[0-9]{11,14}")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)

Number = int | Decimal


def _epoch_text(value: Any) -> bool:
    return isinstance(value, str) and _EPOCH_MS.fullmatch(value.strip()) is not None


def from_epoch_ms(value: Any) -> dt.datetime:
    """Epoch milliseconds -> an aware UTC datetime: a JSON number (int, or a
    Decimal with nothing after the point) or text of 11 to 14 ASCII digits.
    ValueError for anything else (a fraction of a millisecond, "１７４１..."),
    or a moment outside the years 1-9999."""
    try:
        if _epoch_text(value):
            ms = int(value.strip())
        else:
            number = read_number(value)
            if number != int(number):
                raise ValueError
            ms = int(number)
        return _EPOCH + dt.timedelta(milliseconds=ms)
    except (OverflowError, ValueError):
        raise ValueError(f"expected epoch milliseconds, got {value!r}") from None


def parse_date(value: Any, zone: dt.tzinfo | None = None) -> dt.date | None:
    """A HubSpot date or date-time -> its UTC date: ISO text ("2025-03-04",
    "2025-03-04T10:15:00.000Z", any zone or offset) or epoch milliseconds
    (a JSON number, or text of 11 to 14 ASCII digits), as the CRM API gives
    them. A date-time without a zone is read in `zone` (the timezone
    option), else it is an error. None for an empty value; ValueError for
    anything else."""
    if blank(value):
        return None
    if isinstance(value, bool):
        raise ValueError(f"expected a date, got {value!r}")
    if isinstance(value, (int, float, Decimal)) or _epoch_text(value):
        return from_epoch_ms(value).date()
    return utc_date(str(value), zone)


def iso_from_epoch(value: Any) -> Any:
    """Epoch milliseconds (text or JSON int) -> ISO text; anything else as it is."""
    if isinstance(value, bool) or not (_epoch_text(value) or (
            isinstance(value, int) and _EPOCH_MS.fullmatch(str(value)))):
        return value
    try:
        moment = from_epoch_ms(value)
    except ValueError:
        return value
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_amount(value: Any) -> Number | None:
    """A deal amount (text or JSON number) -> int or exact Decimal; None when
    empty. ValueError, with the reason, for anything adieu.read_number
    refuses ("1_000", "١٢", "NaN", "1e400", true)."""
    if blank(value):
        return None
    return read_number(value)


def shown(value: Any) -> str:
    """A value quoted for a message: text as repr, a JSON number as written."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dict, list)):
        text = json.dumps(value, ensure_ascii=False, default=str)
        return text if len(text) <= 40 else text[:37] + "..."
    return repr(value)


def plain(value: Any) -> Any:
    """A property value as a plain record value (text, number, boolean, None)."""
    if value is None or isinstance(value, (str, int, float, Decimal, bool)):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def as_number(total: Number) -> Number:
    """A sum as adieu takes numbers: int when whole, else the exact Decimal."""
    if isinstance(total, int):
        return total
    return int(total) if total == total.to_integral_value() else total
