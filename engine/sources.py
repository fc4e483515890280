"""Data sources named KIND:LOCATION, and the records they yield."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .errors import InputError


@dataclass
class SourceRecord:
    """One raw customer record from a source, with where it came from."""

    values: dict[str, Any]
    file: str | None = None
    row: int | None = None
    line: int | None = None
    provenance: dict[str, str] = field(default_factory=dict)
    error: str | None = None  # a record the reader could not split into fields


Reader = Callable[[str], Iterator[SourceRecord]]


@dataclass
class SourceKind:
    kind: str
    reader: Reader
    description: str
    plugin: str


def parse_source(text: str, kinds: dict[str, SourceKind]) -> tuple[SourceKind, str]:
    """Split KIND:LOCATION and find the kind; a usage error lists known kinds."""
    known = ", ".join(sorted(kinds)) or "none installed"
    kind, sep, location = text.partition(":")
    if not sep or not kind or not location:
        raise InputError(f"source {text!r} must be KIND:LOCATION, e.g. csv:customers.csv "
                         f"(known kinds: {known})")
    if kind not in kinds:
        raise InputError(f"unknown source kind {kind!r} in {text!r} (known kinds: {known})")
    return kinds[kind], location
