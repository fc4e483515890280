"""Data sources named KIND:LOCATION, and the records they yield."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from .errors import InputError, Location, did_you_mean
from .sourcefiles import Unpacked, open_regular


@dataclass
class SourceRecord:
    """One raw customer record from a source, with where it came from.

    values: source field name -> value (text or typed); the engine maps and
    coerces them. The field names seen across all records are the source's
    columns: give a field the source has but this record leaves empty as
    None rather than leaving it out, or a policy that needs it finds no
    column for it. provenance: source field -> where that value came from, for
    values that are not simply "this file, this row" (aggregates over related
    records, say). error: set for a record the reader could not split into
    fields, or for a related record that belongs to no customer (an orphan);
    the engine stores it as a reject. warning: something the user must know
    that is no reject (a figure left unknown, and why); `adieu facts` and
    `adieu evaluate` print it on stderr and do not count it as a rejected
    row. A record with a warning and no values is a warning only.

    A record with no values and a provenance says where fields that no
    record has were expected: provenance maps each such source field to why
    it is absent ("no IsEscalated column in the header", "no Case.csv in
    the export"), and the record's file and line are where (the header of
    the file that lacks the column, or the export that lacks the file). A
    policy that needs the fact such a field would give is then refused with
    an error pointing there, not at the customers' file. The record may also
    carry an error (a reject) or a warning; with neither it is only that
    note (is_note)."""

    values: dict[str, Any]
    file: str | None = None
    row: int | None = None
    line: int | None = None
    provenance: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    warning: str | None = None

    @property
    def is_note(self) -> bool:
        """No customer and no reject: a warning only, or only a note of
        where absent fields were expected."""
        return not self.values and self.error is None and \
            bool(self.warning or self.provenance)


@dataclass
class SourceContext:
    """What a reader is told besides the location."""

    as_of: dt.date
    options: dict[str, Any] = field(default_factory=dict)
    fields: dict[str, str] = field(default_factory=dict)  # the mapping: source field -> fact

    def option(self, name: str, default: Any = None) -> Any:
        return self.options.get(name, default)

    @property
    def id_fields(self) -> list[str]:
        """Source fields that give the customer_id (by the mapping), else
        ["customer_id"]."""
        return [f for f, fact in self.fields.items() if fact == "customer_id"] \
            or ["customer_id"]


Reader = Callable[[str, SourceContext], Iterator[SourceRecord]]


@dataclass
class SourceKind:
    kind: str
    reader: Reader
    description: str
    plugin: str
    mapping: str | None = None  # path of the kind's default mapping file
    # The option names the reader reads (register(..., options=[...])); None:
    # the kind declares none and any option is passed on unchecked.
    options: tuple[str, ...] | None = None


def check_options(options: dict[str, Any] | None, kinds: Sequence[SourceKind],
                  lines: dict[str, Location] | None = None,
                  given: str = "given with -o") -> None:
    """Refuse an option no source kind of the command reads: InputError
    "unknown csv option 'delimeter' given with -o (did you mean
    'delimiter'?); known: delimiter, encoding, timezone", at the option's
    line of a mapping file (lines: option -> Location). `-o` applies to every
    source of a command, so it is checked against the options of all its
    kinds together; a mapping's options against its own source's kind.
    Unchecked when a kind declares no options (a plugin written before
    kinds declared them: its options are passed on as they are)."""
    if not options or not kinds or any(k.options is None for k in kinds):
        return
    known = sorted({name for k in kinds for name in k.options or ()})
    names = "/".join(sorted({k.kind for k in kinds}))
    for name in options:
        if name not in known:
            raise InputError(f"unknown {names} option {name!r} {given}"
                             f"{did_you_mean(str(name), known)}; known: "
                             f"{', '.join(known) or 'none'}",
                             (lines or {}).get(name))


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


ENCODINGS = {"utf-8": "utf-8-sig", "utf8": "utf-8-sig", "utf-8-sig": "utf-8-sig",
             "cp1252": "cp1252", "windows-1252": "cp1252", "latin-1": "latin-1",
             "iso-8859-1": "latin-1", "latin1": "latin-1"}


def open_text(path: str | Path, encoding: str = "utf-8", name: str | None = None) -> IO[str]:
    """Open a text file for streaming: UTF-8 with or without a byte-order
    mark (or cp1252 / latin-1 when asked), gzip-compressed or not, newlines
    left to the csv module. Only a regular file is opened (InputError "not a
    regular file (a named pipe)" for a FIFO, device or socket, never waited
    on: engine.sourcefiles); gzip data is bounded in what it unpacks to
    (sourcefiles.Unpacked: InputError naming the file and the bound)."""
    label = name or str(path)
    enc = ENCODINGS.get(str(encoding).lower())
    if enc is None:
        raise InputError(f"unknown encoding {encoding!r} (use one of: utf-8, cp1252, latin-1)",
                         Location(label))
    raw = open_regular(path, label)
    if raw.peek(2)[:2] == b"\x1f\x8b":  # type: ignore[attr-defined]
        size = os.fstat(raw.fileno()).st_size
        unpacked = Unpacked(gzip.GzipFile(fileobj=raw), size, label, owner=raw)
        return io.TextIOWrapper(unpacked, encoding=enc, newline="")
    return io.TextIOWrapper(raw, encoding=enc, newline="")  # type: ignore[arg-type]


def text_stream(binary: IO[bytes], encoding: str = "utf-8") -> IO[str]:
    """Wrap an open binary stream (a zip member, say) for csv reading."""
    return io.TextIOWrapper(binary, encoding=ENCODINGS.get(encoding.lower(), encoding),
                            newline="")
