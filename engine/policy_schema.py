"""A policy document checked against schemas/policy.schema.json, each
finding a PolicyError in plain words at its file:line:col."""

from __future__ import annotations

from typing import Any

import jsonschema

from . import resources
from .errors import PolicyError, did_you_mean
from .yamlpos import (
    Positions,
    quoted,
    schema_errors,
    schema_location,
    schema_message,
    shorten,
    shown,
)


def unknown_keys(error: Any, path: tuple, positions: Any, kind: type) -> list[Any]:
    """One `kind` error (PolicyError, InputError) per key of a JSON Schema
    additionalProperties error that the schema does not know, at the key's
    line and column, with a did-you-mean."""
    allowed = set(error.schema.get("properties", {}))
    return [kind(f"unknown key {quoted(key)}{did_you_mean(str(key), allowed)}",
                 positions.at(path + (key,), key=True))
            for key in error.instance if key not in allowed]

def schema_findings(doc: Any, positions: Positions) -> list[PolicyError]:
    """Every schemas/policy.schema.json error of a loaded policy as a
    PolicyError at its line and column, in words: an unknown key with a
    did-you-mean, a rule named by its id, a long value cut short."""
    schema = resources.load_schema("policy.schema.json")
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    out: list[PolicyError] = []
    for error in schema_errors(doc, positions, validator):
        path = tuple(error.absolute_path)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            out.extend(unknown_keys(error, path, positions, PolicyError))
            continue
        where = _describe_path(doc, path)
        out.append(PolicyError(shorten(f"{where}: {_schema_message(error)}"),
                               schema_location(error, positions)))
    return out


def _describe_path(doc: Any, path: tuple) -> str:
    """rules/3/action -> "rule 'late-payments', action"."""
    if len(path) >= 2 and path[0] in ("rules", "exemptions", "holds") and \
            isinstance(path[1], int) and isinstance(doc, dict):
        items = doc.get(path[0])
        item = items[path[1]] if isinstance(items, list) and path[1] < len(items) else None
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            rest = "/".join(str(p) for p in path[2:])
            head = f"{path[0][:-1]} {item['id']!r}"
            return f"{head}, {rest}" if rest else head
    return "/".join(str(p) for p in path) or "top level"


def _schema_message(error: jsonschema.ValidationError) -> str:
    if error.validator == "required":
        return error.message.replace("is a required property", "is required")
    if error.validator == "enum":
        allowed = ", ".join(repr(v) for v in error.validator_value)
        return f"{shown(error.instance)} is not one of {allowed}"
    if error.validator == "pattern" and isinstance(error.instance, str):
        return f"{error.instance!r} does not have the expected form"
    return schema_message(error)
