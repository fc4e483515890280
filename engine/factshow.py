"""A fact's value written as a policy sees it, for `adieu facts` (text and
--csv) and the stored and replayed values `adieu replay` prints.

Text output (`policy_text`), the policy language's own spelling
(docs/policy-reference.md): true / false, numbers with exactly the digits
the source gave (5476.50 stays 5476.50, never 5.4765E+3 or Decimal(...)),
dates as YYYY-MM-DD, text in double quotes as a policy writes it
("standard", with JSON escapes for quotes and hidden characters), a list
as [a, b], and a value that is missing or could not be read as `unknown`
(the word explanations use for it).

CSV cells (`csv_value`): the same, but text unquoted (a CSV cell is text)
and a missing value an empty cell, as docs/cli.md says for `--csv`."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from .decimals import plain_text
from .safe_text import json_text
from .values import UNKNOWN


def policy_text(value: Any) -> str:
    """value (a fact: bool, int, Decimal, date or its ISO text, str, None,
    or a list/set of those; an object as JSON) in the policy language's
    spelling: `false`, `5476.50`, `2026-11-01`, `"standard"`, `unknown`."""
    if value is None or value is UNKNOWN:
        return "unknown"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return plain_text(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, str):
        return json_text(value)
    if isinstance(value, dict):  # a stored decision's part (a rule result, a strike)
        return json_text(value)
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        return "[" + ", ".join(policy_text(v) for v in items) + "]"
    return json_text(str(value))


def csv_value(value: Any) -> Any:
    """value ready for a CSV cell of `adieu facts --csv` (csvout.cell then
    writes numbers in plain digits, lists as JSON, None as an empty cell):
    true / false, ISO dates, None for a missing or unknown value, anything
    else as it is."""
    if value is UNKNOWN:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value
