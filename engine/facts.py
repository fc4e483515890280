"""Coerce raw customer records into typed facts, once, at the boundary.

A record's values may be text (CSV cells) or already typed (JSON, plugins).
An empty cell is a missing fact. Anything that does not fit its type is an
error naming the field and what was expected; it never becomes a number
silently."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from . import decimals, jsontext
from .dates import utc_date
from .errors import Location, RecordError
from .safe_text import blank, id_problem, normalise_id, normalise_text, text_problem, trim

_INTEGER = re.compile(r"[+-]?[0-9]+(\.0*)?")
TRUE = {"true", "yes", "y", "1", "t"}
FALSE = {"false", "no", "n", "0", "f"}


@dataclass
class FieldProblem:
    field: str
    value: Any
    reason: str


@dataclass
class Record:
    """One customer's facts with where they came from."""

    facts: dict[str, Any]
    file: str | None = None
    row: int | None = None
    line: int | None = None
    provenance: dict[str, str] = field(default_factory=dict)

    @property
    def customer_id(self) -> str:
        return self.facts["customer_id"]


def _number(value: Any) -> int | Decimal:
    """An exact number: int or Decimal with the digits given (decimals.to_number)."""
    try:
        return decimals.to_number(value)
    except OverflowError as exc:
        raise ValueError(f"{exc}, got {_short(value)}") from None


def _short(value: Any) -> str:
    """A value quoted for a message: text as repr, a Decimal by its digits
    ('1.5', not Decimal('1.5')), cut to 40 characters."""
    text = repr(decimals.plain_text(value) if isinstance(value, Decimal) else value)
    return text if len(text) <= 40 else text[:37] + "..."


def _integer(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("expected a whole number, got a true/false value")
    if isinstance(value, int):
        return value
    if isinstance(value, (float, Decimal)):
        number = _number(value)
        if number == int(number):
            return int(number)
        raise ValueError(f"expected a whole number, got {_short(value)}")
    text = trim(str(value))
    if not _INTEGER.fullmatch(text):
        raise ValueError(f"expected a whole number, got {_short(value)}")
    return int(_number(text.split(".")[0]))


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = trim(str(value)).lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def _date(value: Any) -> dt.date:
    """A date fact: YYYY-MM-DD, or a date-time with its zone counted by its
    UTC date (adieu.dates); a date-time without a zone is an error."""
    return utc_date(value)


def _string(value: Any, name: str = "text") -> str:
    """Text: NFC, stripped; a control character other than tab and line
    breaks is an error (safe_text.text_problem)."""
    if isinstance(value, (dict, list)):
        raise ValueError("expected text, got a structure")
    return _kept(normalise_text(value), text_problem, name)


def _kept(text: str, problem_of: Callable[[str, str], str | None], name: str) -> str:
    """text, or ValueError with what problem_of finds wrong with it."""
    problem = problem_of(text, name)
    if problem:
        raise ValueError(problem)
    return text


def _identifier(value: Any, name: str = "customer_id") -> str:
    """An id: NFC, stripped (non-breaking spaces too); any character that
    would not show as typed is an error (safe_text.id_problem)."""
    if isinstance(value, (dict, list, bool)):
        raise ValueError("expected an id, got a structure" if not isinstance(value, bool)
                         else "expected an id, got a true/false value")
    return _kept(normalise_id(value), id_problem, name)


def _as_given(value: Any, name: str = "text") -> Any:
    """An undeclared fact: text is read as text facts are, typed values stay
    as they are."""
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, (bool, int, Decimal, dt.date)):
        return value
    return _string(value, name)


CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "number": _number, "integer": _integer, "boolean": _boolean, "date": _date,
    "string": _string,
}


_NAMED = (_string, _identifier, _as_given)  # converters that name the fact in errors


class Coercer:
    """Turns raw records into typed facts for a fixed set of fact types."""

    def __init__(self, types: dict[str, str], minimums: dict[str, float] | None = None,
                 keep_undeclared: bool = False):
        self.types = types
        self.minimums = minimums or {}
        self.converters = {name: CONVERTERS[t] for name, t in types.items()}
        self.converters["customer_id"] = _identifier  # the id must read as typed
        self.fallback = _as_given if keep_undeclared else None

    def coerce(self, raw: dict[str, Any]) -> tuple[dict[str, Any], list[FieldProblem]]:
        facts: dict[str, Any] = {}
        problems: list[FieldProblem] = []
        for name, value in raw.items():
            convert = self.converters.get(name, self.fallback)
            if convert is None:
                continue
            if blank(value):
                continue
            try:
                typed = convert(value, name) if convert in _NAMED else convert(value)
            except ValueError as exc:
                problems.append(FieldProblem(name, value, str(exc)))
                continue
            low = self.minimums.get(name)
            if low is not None and typed < low:
                problems.append(FieldProblem(name, value, f"must be at least {low}, "
                                                          f"got {value!r}"))
                continue
            facts[name] = typed
        if not facts.get("customer_id") and not any(p.field == "customer_id"
                                                     for p in problems):
            problems.insert(0, FieldProblem("customer_id", raw.get("customer_id"),
                                            "customer_id is missing"))
        return facts, problems


def fact_minimums(schema: dict[str, Any]) -> dict[str, float]:
    """Lower bounds the customer schema sets (hours and counts cannot be negative)."""
    return {name: prop["minimum"] for name, prop in schema.get("properties", {}).items()
            if "minimum" in prop}


def record_error(record_file: str | None, row: int | None, problem: FieldProblem) -> RecordError:
    return RecordError(problem.reason, Location(record_file, row=row, field=problem.field))


def to_json_value(value: Any) -> Any:
    """A fact as it is stored: dates as ISO text."""
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def from_json_facts(data: dict[str, Any] | str, types: dict[str, str]) -> dict[str, Any]:
    """Stored facts (JSON text, or already decoded with jsontext.loads) back
    into typed values: dates, and numbers as int or Decimal (a float from a
    database written by adieu 0.1 is read at its shortest repr)."""
    if isinstance(data, str):
        data = jsontext.loads(data)
    out = {}
    for name, value in data.items():
        if types.get(name) == "date" and isinstance(value, str):
            value = dt.date.fromisoformat(value)
        elif isinstance(value, float):
            value = decimals.to_number(value)
        out[name] = value
    return out
