"""Mapping files: how a source's fields become canonical facts.

Configuration, not code: YAML validated by schemas/mapping.schema.json,
with every error naming the mapping file's line. The engine applies the
mapping to every record of every source kind, built-in or third-party."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema

from . import decimals, resources
from .dates import utc_date
from .errors import FileErrors, InputError, Location, PolicyError, did_you_mean
from .facts import CONVERTERS, FieldProblem
from .safe_text import blank, trim
from .yamlpos import (
    Positions,
    as_text,
    load_with_positions,
    quoted,
    read_text,
    schema_errors,
    schema_location,
    schema_message,
    shorten,
)


class MappingErrors(FileErrors):
    """Every finding in one mapping file (exit code 2)."""

    what = "mapping"


@dataclass
class FieldRule:
    source: str
    fact: str
    type: str | None = None
    scale: float | None = None
    unit: str | None = None
    format: str | None = None
    decimal: str | None = None  # "," reads 1234,5 (a decimal comma); "." or None: 1234.5
    true_values: frozenset[str] | None = None
    false_values: frozenset[str] | None = None
    default: Any = None

    @property
    def converts(self) -> bool:
        return bool(self.type or self.scale is not None or self.format or self.true_values
                    or self.false_values or self.decimal)


@dataclass
class Mapping:
    """A loaded mapping. `Mapping()` is the identity: every field kept as is."""

    file: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    option_lines: dict[str, Location] = field(default_factory=dict)  # where each option is
    fields: dict[str, FieldRule] = field(default_factory=dict)
    keep_unmapped: bool = True
    match: re.Pattern | None = None
    strip: re.Pattern | None = None
    case: str = "as_is"
    fact_types: dict[str, str] = field(default_factory=dict)  # declared by `type:`

    def fact_name(self, source_field: str) -> str | None:
        """The fact an unlisted source field becomes, or None."""
        if not self.keep_unmapped:
            return None
        if self.match is not None and not self.match.search(source_field):
            return None
        name = self.strip.sub("", source_field) if self.strip is not None else source_field
        if self.case == "snake":
            name = snake_case(name)
        return name if name.isidentifier() else None

    def apply(self, values: dict[str, Any]) -> tuple[dict[str, Any], list[FieldProblem],
                                                       dict[str, str]]:
        """Source values -> (facts, problems, fact -> source field)."""
        facts: dict[str, Any] = {}
        origin: dict[str, str] = {}
        problems: list[FieldProblem] = []
        for name, value in values.items():
            rule = self.fields.get(name)
            if rule is None:
                continue
            if _empty(value) or rule.fact in facts:
                continue
            try:
                facts[rule.fact] = convert(rule, value) if rule.converts else value
                origin[rule.fact] = name
            except ValueError as exc:
                problems.append(FieldProblem(name, value, f"{exc} (for fact {rule.fact})"))
        if self.keep_unmapped:
            for name, value in values.items():
                if name in self.fields or _empty(value):
                    continue
                fact = self.fact_name(name)
                if fact is not None and fact not in facts:
                    facts[fact] = value
                    origin[fact] = name
        for rule in self.fields.values():
            if rule.default is not None and rule.fact not in facts:
                facts[rule.fact] = rule.default
                origin[rule.fact] = f"default of {rule.source}"
        return facts, problems, origin


def _empty(value: Any) -> bool:
    return blank(value)


def snake_case(name: str) -> str:
    """FooBar_Baz -> foo_bar_baz; 'Annual Revenue' -> annual_revenue."""
    name = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name)
    name = re.sub(r"[^0-9a-zA-Z]+", "_", name).strip("_").lower()
    return re.sub(r"_+", "_", name)


def parse_iso_datetime(text: str) -> dt.date:
    """2024-05-01 -> that date; 2024-05-01T23:30:00-05:00 (any zone, any
    fraction) -> its UTC date, 2024-05-02. The mapping's `format: iso`;
    the same parser as every date fact (adieu.dates.utc_date). ValueError
    for a date-time without a zone or anything that is no date."""
    return utc_date(text)


# strptime directives that read a time of day.
_TIME_DIRECTIVES = re.compile(r"%[HIMSfpXc]")


def _strptime_date(text: str, fmt: str) -> dt.date:
    """A date read with a strptime pattern: with %z, the UTC date of the
    date-time; a time of day without %z has no UTC date (ValueError)."""
    try:
        moment = dt.datetime.strptime(text, fmt)
    except ValueError:
        raise ValueError(f"expected a date in format {fmt}, got {text!r}") from None
    if moment.tzinfo is None and _TIME_DIRECTIVES.search(fmt):
        raise ValueError(f"date-time without a time zone: format {fmt} reads a time of day "
                         f"but no zone; add %z (an offset such as +0200 or Z) to the format, "
                         f"got {text!r}")
    try:
        return utc_date(moment) if moment.tzinfo is not None else moment.date()
    except ValueError:
        raise ValueError(f"expected a date in format {fmt}, got {text!r}") from None


def convert(rule: FieldRule, value: Any) -> Any:
    """Convert one source value by a field rule; ValueError says what was expected."""
    kind = rule.type
    if rule.true_values or rule.false_values:
        text = trim(str(value)).lower()
        if text in (rule.true_values or ()):
            return True
        if text in (rule.false_values or ()):
            return False
        expected = sorted((rule.true_values or frozenset()) | (rule.false_values or frozenset()))
        raise ValueError(f"expected one of {', '.join(expected)}, got {value!r}")
    if rule.format:
        if isinstance(value, dt.date):  # a datetime too: its UTC date
            return utc_date(value)
        text = trim(str(value))
        if rule.format == "iso":
            return parse_iso_datetime(text)
        return _strptime_date(text, rule.format)
    if rule.scale is not None or kind in ("number", "integer") or rule.decimal:
        if rule.decimal == ",":
            try:
                number = CONVERTERS["number"](decimal_comma(value))
            except ValueError as exc:
                if "decimal comma" in str(exc):
                    raise
                reason = str(exc).rsplit(", got ", 1)[0]  # quotes the text with a '.'
                if reason.startswith("expected a number"):
                    reason = "expected a number with a decimal comma like 1234,5"
                raise ValueError(f"{reason}, got {value!r}") from None
        else:
            number = CONVERTERS["number"](value)
        if rule.scale is not None:
            try:  # exact: 547650 cents * 0.01 is 5476.50
                number = decimals.multiply(number, decimals.to_number(rule.scale))
            except ArithmeticError as exc:
                raise ValueError(f"{value!r} scaled by {rule.scale}: "
                                 f"{decimals.describe(exc)}") from None
        if kind == "integer":
            return CONVERTERS["integer"](number)
        return number
    if kind == "string":
        return CONVERTERS[kind](value, rule.fact)
    if kind:
        return CONVERTERS[kind](value)
    return value


def decimal_comma(value: Any) -> Any:
    """A number written with a decimal comma ("1234,5", "-0,25", "12")
    as text with a decimal point ("1234.5"), for the one number rule of
    engine.decimals; a value that is not text is returned as it is.

    Raises ValueError naming the value for a '.' in it (in such a file a
    '.' is a digit separator, "1.234,5": refused, as digit separators are
    everywhere) or more than one ','. Anything else that is no plain number
    ("12k", "1 234,5") is refused by the number rule after this."""
    if not isinstance(value, str):
        return value
    text = trim(value)
    if "." in text:
        raise ValueError(f"expected a number with a decimal comma like 1234,5, got {value!r}: "
                         "no '.' (no digit separators)")
    if text.count(",") > 1:
        raise ValueError(f"expected a number with a decimal comma like 1234,5, got {value!r}: "
                         "one ',' at most")
    return text.replace(",", ".")


IDENTITY = Mapping()


def load_mapping(path: str | Path, known_facts: dict[str, str]) -> Mapping:
    """Load and check a mapping file against the known (canonical) facts."""
    file = str(path)
    try:
        text = read_text(path, "mapping")
    except PolicyError as exc:
        raise InputError(exc.message, exc.location) from None
    except OSError as exc:
        raise InputError(f"cannot read mapping: {exc.strerror}", Location(file)) from None
    try:
        doc, pos = load_with_positions(text, file)
    except Exception as exc:  # PolicyError from the YAML loader, with its location
        raise InputError(getattr(exc, "message", str(exc)),
                         getattr(exc, "location", Location(file))) from None
    if doc is None:
        doc = {}
    errors = _schema_errors(doc, pos)
    if errors or not isinstance(doc, dict):
        raise MappingErrors(errors)
    options = doc.get("options") or {}
    mapping = Mapping(file=file, options={k: as_text(v, pos, ("options", k))
                                          for k, v in options.items()},
                      option_lines={k: pos.at(("options", k), key=True) for k in options})
    for source, spec in (doc.get("fields") or {}).items():
        spec = {"fact": spec} if isinstance(spec, str) else spec
        rule = FieldRule(
            source=str(source), fact=spec["fact"], type=spec.get("type"),
            scale=spec.get("scale"), unit=spec.get("unit"), format=spec.get("format"),
            decimal=spec.get("decimal"),
            true_values=frozenset(v.lower() for v in spec["true_values"])
            if "true_values" in spec else None,
            false_values=frozenset(v.lower() for v in spec["false_values"])
            if "false_values" in spec else None,
            default=spec.get("default"))
        where = pos.at(("fields", source)) if isinstance(doc["fields"][source], str) \
            else pos.at(("fields", source, "fact"))
        if rule.fact not in known_facts and rule.type is None:
            errors.append(InputError(
                f"unknown mapping target {rule.fact!r} for field {source!r}: not a canonical "
                f"fact; give its type to add it{did_you_mean(rule.fact, known_facts)}", where))
        elif rule.type and rule.fact in known_facts and known_facts[rule.fact] != rule.type \
                and not (known_facts[rule.fact] == "number" and rule.type == "integer"):
            errors.append(InputError(
                f"fact {rule.fact!r} is a {known_facts[rule.fact]}, not a {rule.type}", where))
        if rule.type and rule.fact not in known_facts:
            mapping.fact_types[rule.fact] = rule.type
        default_type = rule.type or known_facts.get(rule.fact)
        if default_type == "string" and not isinstance(rule.default, str):
            rule.default = pos.text(("fields", source, "default")) or rule.default  # 007
        if rule.scale is not None and default_type not in ("number", "integer"):
            errors.append(InputError(f"scale for {source!r}: only numbers are scaled, and "
                                     f"{rule.fact!r} is a {default_type}",
                                     pos.at(("fields", source, "scale"))))
        if rule.decimal is not None and default_type not in ("number", "integer"):
            errors.append(InputError(f"decimal for {source!r}: only numbers have a decimal "
                                     f"separator, and {rule.fact!r} is a {default_type}",
                                     pos.at(("fields", source, "decimal"))))
        if rule.default is not None and default_type:
            try:  # a default in the field's own true/false words means what a cell would
                rule.default = rule.default if isinstance(rule.default, bool) else \
                    convert(rule, rule.default) \
                    if rule.true_values or rule.false_values else \
                    CONVERTERS[default_type](rule.default)
            except ValueError as exc:
                errors.append(InputError(f"default for {source!r}: {exc}",
                                         pos.at(("fields", source, "default"))))
        mapping.fields[rule.source] = rule
    unmapped = doc.get("unmapped") or {}
    mapping.keep_unmapped = unmapped.get("keep", True)
    mapping.case = unmapped.get("case", "as_is")
    for key in ("match", "strip"):
        if key in unmapped:
            try:
                setattr(mapping, key, re.compile(unmapped[key]))
            except re.error as exc:
                errors.append(InputError(f"unmapped.{key}: not a regular expression: {exc}",
                                         pos.at(("unmapped", key))))
    if errors:
        raise MappingErrors(errors)
    return mapping


def check_mapping_file(path: str | Path) -> int:
    """Check a mapping file on its own (`adieu validate`): readable YAML that
    fits mapping.schema.json. Returns the number of fields; raises
    MappingErrors (every schema finding at its line) or InputError. Fact
    names are checked when the mapping is used with a policy (evaluate,
    facts, test), which knows the policy's own facts."""
    file = str(path)
    try:
        text = read_text(path, "mapping")
        doc, pos = load_with_positions(text, file)
    except PolicyError as exc:
        raise InputError(exc.message, exc.location) from None
    except OSError as exc:
        raise InputError(f"cannot read mapping: {exc.strerror}", Location(file)) from None
    errors = _schema_errors({} if doc is None else doc, pos)
    if errors:
        raise MappingErrors(errors)
    return len((doc or {}).get("fields") or {})


def _schema_errors(doc: Any, pos: Positions) -> list[InputError]:
    schema = resources.load_schema("mapping.schema.json")
    validator = jsonschema.Draft202012Validator(schema)
    out = []
    for error in schema_errors(doc, pos, validator):
        path = tuple(error.absolute_path)
        where = "/".join(str(p) for p in path) or "top level"
        if error.validator == "additionalProperties" and isinstance(error.instance, dict) \
                and error.validator_value is False:
            known = sorted(error.schema.get("properties", {}))
            place = "at the top level" if not path else f"in {where}"
            out += [InputError(f"unknown key {quoted(key)} {place}{did_you_mean(str(key), known)}"
                               f"; known keys: {', '.join(known)}",
                               pos.at(path + (key,), key=True))
                    for key in error.instance if key not in known]
            continue
        out.append(InputError(shorten(f"{where}: {schema_message(error)}"),
                              schema_location(error, pos)))
    return out
