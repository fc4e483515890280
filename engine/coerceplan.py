"""Map and coerce records with a plan built once per source header.

Reading a record is mapping.apply (source fields -> facts) then
Coercer.coerce (facts -> typed values), with the problems named by the
source field. Both resolve the same things again for every field of every
row: which rule or fact name a field has, its converter, its lower bound.
A Plan resolves them once for one set of source field names (a CSV
header: every row has the same), then reads each row in a straight loop,
with fast converters for the common cells (plain numbers, ASCII text,
YYYY-MM-DD dates, true/false words) that hand anything else to the
reference converter (engine.facts), so every value and every message is
exactly what mapping.apply + Coercer give. Those two stay the reference
implementation (tests/test_intake_stream.py checks the plan against
them).

A plan is only made where the order of mapping and coercion cannot
matter: each source field gives a different fact (no two fields of the
header compete for one fact). Other headers are read by the reference
path (plan_for returns None)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from . import facts as reference
from .decimals import fast_number
from .facts import Coercer, FieldProblem
from .mapping import Mapping, convert
from .safe_text import WHITESPACE, blank

_BOOLEANS = {**dict.fromkeys(reference.TRUE, True), **dict.fromkeys(reference.FALSE, False)}
_MAX_PLANS = 256  # plans kept per read (sources whose records have different fields)


def _number(value: Any) -> Any:
    if value.__class__ is str:
        number = fast_number(value)
        if number is not None:
            return number
    return reference._number(value)


def _integer(value: Any) -> Any:
    if value.__class__ is str and value.isdigit() and value.isascii() and len(value) < 60:
        return int(value)
    return reference._integer(value)


def _boolean(value: Any) -> Any:
    if value.__class__ is str:
        found = _BOOLEANS.get(value)
        if found is not None:
            return found
    return reference._boolean(value)


def _date(value: Any) -> Any:
    if value.__class__ is str and len(value) == 10 and value[4] == "-" and \
            value[7] == "-" and value.isascii():
        year, month, day = value[:4], value[5:7], value[8:]
        if not (year.isdigit() and month.isdigit() and day.isdigit()):
            return reference._date(value)  # int() would read "+202" or " 1"
        try:
            return dt.date(int(year), int(month), int(day))
        except ValueError:
            pass  # the reference names the problem (or reads " 2024-5-1"...)
    return reference._date(value)


def _string(value: Any, name: str) -> Any:
    if value.__class__ is str and value.isascii():
        text = value.strip(WHITESPACE)
        if text.isprintable():  # ASCII is NFC; no control character
            return text
    return reference._string(value, name)


def _identifier(value: Any, name: str) -> Any:
    if value.__class__ is str and value.isascii():
        text = value.strip(WHITESPACE)
        if text.isprintable():  # ASCII: NFC, and nothing that shows as nothing
            return text
    return reference._identifier(value, name)


# reference converter -> (fast one, takes the fact's name)
_FAST: dict[Callable[..., Any], tuple[Callable[..., Any], bool]] = {
    reference._number: (_number, False), reference._integer: (_integer, False),
    reference._boolean: (_boolean, False), reference._date: (_date, False),
    reference._string: (_string, True), reference._identifier: (_identifier, True),
    reference._as_given: (reference._as_given, True),
}


def _fast(converter: Callable[..., Any] | None) -> tuple[Callable[..., Any] | None, bool]:
    if converter is None:
        return None, False
    return _FAST.get(converter, (converter, converter in reference._NAMED))


class Column:
    """One source field and everything its value goes through."""

    __slots__ = ("name", "fact", "rule", "convert", "named", "low", "ignored")

    def __init__(self, name: str, fact: str, rule: Any, coercer: Coercer,
                 fact_types: dict[str, str]):
        self.name = name
        self.fact = fact
        self.rule = rule if rule is not None and rule.converts else None
        self.convert, self.named = _fast(coercer.converters.get(fact, coercer.fallback))
        self.low = coercer.minimums.get(fact)
        self.ignored = fact not in fact_types


class Row:
    """What a plan makes of one record: the mapped customer_id value (as
    mapping.apply gives it, None if absent), the typed facts, the problems
    (source field, value, reason, as the reference names them), the fact ->
    source field map, and the source fields of facts not declared."""

    __slots__ = ("cid", "facts", "problems", "origin", "ignored")

    def __init__(self, cid: Any, facts: dict[str, Any], problems: list[FieldProblem],
                 origin: dict[str, str], ignored: list[str]):
        self.cid, self.facts, self.problems = cid, facts, problems
        self.origin, self.ignored = origin, ignored


class Plan:
    """The reading of records whose fields are `keys`, in that order."""

    def __init__(self, keys: tuple[str, ...], columns: list[Column],
                 defaults: list[tuple[Column, Any]]):
        self.keys = keys
        self.key_list = list(keys)
        self.columns = columns
        self.defaults = defaults
        self.origin = {c.fact: c.name for c in columns}
        self.recorded = False  # its fields are in the read's StreamState.fields
        self.cid_column = next((c for c in columns if c.fact == "customer_id"), None)

    def read(self, values: dict[str, Any]) -> Row:
        """Map and coerce one record's values (fields exactly self.keys)."""
        facts: dict[str, Any] = {}
        apply_problems: list[FieldProblem] = []
        problems: list[FieldProblem] = []
        ignored: list[str] = []
        present: set[str] | None = set() if self.defaults else None
        cid = None
        for col in self.columns:
            value = values[col.name]
            if value.__class__ is str:
                if not value.strip(WHITESPACE):
                    continue
            elif value is None or blank(value):
                continue
            fact = col.fact
            if col.rule is not None:
                try:
                    value = convert(col.rule, value)
                except ValueError as exc:
                    apply_problems.append(FieldProblem(col.name, value,
                                                       f"{exc} (for fact {fact})"))
                    continue
            if present is not None:
                present.add(fact)
            if fact == "customer_id":
                cid = value
            if col.ignored:
                ignored.append(col.name)
            self._coerce(col, fact, value, facts, problems)
        if present is not None:
            origin = dict(self.origin)
            for col, default in self.defaults:
                if col.fact in present:
                    continue
                present.add(col.fact)
                origin[col.fact] = col.name
                if col.fact == "customer_id":
                    cid = default
                if col.ignored:
                    ignored.append(col.name)
                if not blank(default):
                    self._coerce(col, col.fact, default, facts, problems)
        else:
            origin = self.origin
        missing = not facts.get("customer_id") and not any(p.field == "customer_id"
                                                            for p in problems)
        for problem in problems:  # name the source field the value came from
            source_field = origin.get(problem.field, problem.field)
            if source_field != problem.field:
                problem.reason += f" (for fact {problem.field})"
            problem.field = source_field
        if missing:  # named by its source field only when it has a value
            source_field = origin.get("customer_id", "customer_id") if cid is not None \
                else "customer_id"
            problems.insert(0, FieldProblem(
                source_field, cid, "customer_id is missing" + (
                    " (for fact customer_id)" if source_field != "customer_id" else "")))
        if apply_problems:
            problems[:0] = apply_problems
        return Row(cid, facts, problems, origin, ignored)

    @staticmethod
    def _coerce(col: Column, fact: str, value: Any, facts: dict[str, Any],
                problems: list[FieldProblem]) -> None:
        convert_value = col.convert
        if convert_value is None:
            return
        if col.rule is not None and blank(value):
            return
        try:
            typed = convert_value(value, fact) if col.named else convert_value(value)
        except ValueError as exc:
            problems.append(FieldProblem(fact, value, str(exc)))
            return
        low = col.low
        if low is not None and typed < low:
            problems.append(FieldProblem(fact, value, f"must be at least {low}, got {value!r}"))
            return
        facts[fact] = typed


class Planner:
    """Plans for one read, made as new sets of fields turn up."""

    def __init__(self, mapping: Mapping, coercer: Coercer, fact_types: dict[str, str]):
        self.mapping = mapping
        self.coercer = coercer
        self.fact_types = fact_types
        self.last: Plan | None = None
        self.plans: dict[tuple[str, ...], Plan | None] = {}

    def plan(self, values: dict[str, Any]) -> Plan | None:
        """The plan for records with these fields, or None (read them by the
        reference path)."""
        last = self.last
        if last is not None and len(values) == len(last.keys) and list(values) == last.key_list:
            return last
        keys = tuple(values)
        if keys in self.plans:
            found = self.plans[keys]
        else:
            found = plan_for(keys, self.mapping, self.coercer, self.fact_types)
            if len(self.plans) < _MAX_PLANS:
                self.plans[keys] = found
        if found is not None:
            self.last = found
        return found


def plan_for(keys: tuple[str, ...], mapping: Mapping, coercer: Coercer,
             fact_types: dict[str, str]) -> Plan | None:
    """The plan for records whose fields are `keys` (in that order), or
    None where two fields would give one fact (the reference path reads
    those: which one wins depends on the values)."""
    mapped: list[Column] = []
    unmapped: list[Column] = []
    for name in keys:
        rule = mapping.fields.get(name)
        if rule is not None:
            mapped.append(Column(name, rule.fact, rule, coercer, fact_types))
        elif mapping.keep_unmapped:
            fact = mapping.fact_name(name)
            if fact is not None:
                unmapped.append(Column(name, fact, None, coercer, fact_types))
    columns = mapped + unmapped  # mapping.apply's order: rules first, then the rest
    if len({c.fact for c in columns}) != len(columns):
        return None
    defaults = []
    for rule in mapping.fields.values():
        if rule.default is not None:
            column = Column(f"default of {rule.source}", rule.fact, None, coercer, fact_types)
            defaults.append((column, rule.default))
    return Plan(keys, columns, defaults)
