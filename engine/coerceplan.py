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
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from . import facts as reference
from .decimals import fast_number
from .facts import Coercer, FieldProblem
from .mapping import Mapping, convert
from .safe_text import WHITESPACE, blank

_BOOLEANS = {**dict.fromkeys(reference.TRUE, True), **dict.fromkeys(reference.FALSE, False)}
_FROM_ISO = dt.date.fromisoformat
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
        try:  # YYYY-MM-DD with ASCII digits is the only form of this shape it reads
            return _FROM_ISO(value)
        except ValueError:
            pass  # the reference names the problem
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


# What Plan.read gives: (customer_id as mapped, facts, problems, origin,
# undeclared source fields).
Row = tuple[Any, dict[str, Any], list[FieldProblem], dict[str, str], list[str]]


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
        if not defaults and all(c.rule is None for c in columns):
            self.read = _compile(self)  # type: ignore[method-assign]

    def read(self, values: dict[str, Any]) -> Row:
        """Map and coerce one record's values (fields exactly self.keys):
        (the mapped customer_id value as mapping.apply gives it, None if
        absent; the typed facts; the problems, named by source field as the
        reference names them; fact -> source field; the source fields of
        facts not declared, for columns_ignored)."""
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
        problems = _named(facts, problems, origin, cid)
        if apply_problems:
            problems[:0] = apply_problems
        return cid, facts, problems, origin, ignored

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


def _named(facts: dict[str, Any], problems: list[FieldProblem], origin: dict[str, str],
           cid: Any) -> list[FieldProblem]:
    """Coercion problems named as the reference names them: by the source
    field (with the fact when it differs), a missing customer_id first."""
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
    return problems


# Each fast converter's common case as a condition on the value v and the
# typed value it gives (non-negative numbers only, so a lower bound of 0 or
# less holds). Anything else goes through the column's general reading
# (_general): blank check, the converter, its lower bound.
_UINT = "v.__class__ is str and v.isdigit() and v.isascii() and len(v) < 60"
_FAST_CASES: dict[Callable[..., Any], list[tuple[str, str]]] = {
    _integer: [(_UINT, "int(v)")],
    _number: [(_UINT, "int(v)"), ("v.__class__ is str and PLAIN_DECIMAL(v)", "Decimal(v)")],
    _boolean: [("v.__class__ is str and v in BOOLEANS", "BOOLEANS[v]")],
    _string: [("v.__class__ is str and v.isascii() and (t := v.strip(WS)) and t.isprintable()",
               "t")],
}
_FAST_CASES[_identifier] = _FAST_CASES[_string]
_NUMERIC = (_integer, _number)
# ASCII digits with a point, under the magnitude bounds (decimals.check_magnitude).
_PLAIN_DECIMAL = re.compile(r"[0-9]{1,58}\.[0-9]{0,58}|\.[0-9]{1,58}").fullmatch
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}").fullmatch


def _general(col: Column) -> Callable[..., bool]:
    """A column's full reading of one value, as Coercer.coerce reads it:
    False for a blank value (a missing fact), else True, with the typed
    value in facts or a problem recorded, and the field noted in ignored
    if its fact is not declared."""
    convert_value, named, low, fact, name = col.convert, col.named, col.low, col.fact, col.name
    note = col.ignored

    def general(v: Any, facts: dict[str, Any], problems: list[FieldProblem],
                ignored: list[str]) -> bool:
        if v.__class__ is str:
            if not v.strip(WHITESPACE):
                return False
        elif v is None or blank(v):
            return False
        if note:
            ignored.append(name)
        if convert_value is None:
            return True
        try:
            typed = convert_value(v, fact) if named else convert_value(v)
        except ValueError as exc:
            problems.append(FieldProblem(fact, v, str(exc)))
            return True
        if low is not None and typed < low:
            problems.append(FieldProblem(fact, v, f"must be at least {low}, got {v!r}"))
            return True
        facts[fact] = typed
        return True
    return general


def _compile(plan: Plan) -> Callable[[dict[str, Any]], Row]:
    """plan.read as one generated function: the columns' loop unrolled,
    each converter's common case inline, the column's general reading
    (the converter itself) called for anything else, so values and errors
    are the converter's own."""
    env: dict[str, Any] = {"FieldProblem": FieldProblem, "WS": WHITESPACE,
                           "BOOLEANS": _BOOLEANS, "named": _named, "ORIGIN": plan.origin,
                           "Decimal": Decimal, "FROM_ISO": _FROM_ISO, "ISO_DATE": _ISO_DATE,
                           "PLAIN_DECIMAL": _PLAIN_DECIMAL}
    lines = ["def read(values):", "    facts = {}", "    problems = []", "    ignored = []",
             "    cid = None"]
    for i, col in enumerate(plan.columns):
        env[f"G{i}"] = _general(col)
        name, fact = repr(col.name), repr(col.fact)  # literals in the code
        effects = (["cid = v"] if col.fact == "customer_id" else []) + \
            ([f"ignored.append({name})"] if col.ignored else [])
        lines.append(f"    v = values[{name}]")
        cases = _FAST_CASES.get(col.convert, []) if col.convert is not None else []
        if col.low is not None and (col.convert not in _NUMERIC or col.low > 0):
            cases = []
        keyword = "if"
        for condition, value in cases:
            lines += [f"    {keyword} {condition}:", f"        facts[{fact}] = {value}"]
            lines += ["        " + line for line in effects]
            keyword = "elif"
        if col.convert is _date and col.low is None:
            lines += [f"    {keyword} v.__class__ is str and ISO_DATE(v):", "        try:",
                      f"            facts[{fact}] = FROM_ISO(v)", "        except ValueError:",
                      f"            G{i}(v, facts, problems, ignored)",
                      "        else:"]
            lines += ["            " + line for line in effects or ["pass"]]
            keyword = "elif"
        lines.append(f"    {keyword} G{i}(v, facts, problems, ignored):")
        lines += ["        " + line for line in (effects[:1] if col.fact == "customer_id"
                                                 else []) or ["pass"]]
    lines += ["    if problems or not facts.get('customer_id'):",
              "        problems = named(facts, problems, ORIGIN, cid)",
              "    return cid, facts, problems, ORIGIN, ignored"]
    exec(compile("\n".join(lines), f"<adieu plan of {len(plan.columns)} fields>", "exec"),
         env)
    return env["read"]


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
