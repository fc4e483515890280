"""The `csv` source: one customer per row; the header names the fields.

Streams the file. Options (mapping `options:` or `-o KEY=VALUE`):
delimiter (`,` by default; `tab` or `;` ...), encoding (utf-8 with or
without a byte-order mark, cp1252, latin-1), timezone (the zone of
date-times written without one). Quoted cells may hold commas, quotes and
line breaks; CRLF or LF line ends; a .gz file is read as gzip.

read_csv_stream is the one CSV parser of the built-in sources (csv,
salesforce, the hubspot UI export): it sets and reports the bound on the
size of one field, MAX_FIELD_CHARS."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from adieu import with_zone, zone_option
from adieu.errors import InputError, Location
from adieu.hookspecs import hookimpl
from adieu.sources import SourceContext, SourceRecord, open_text
from adieu.textlines import checked_lines

DELIMITERS = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}

# The largest field read, in characters: 16 MiB of text. Python's csv module
# stops at 131,072 characters by default, which a long note or description
# in a CRM export passes; a field larger than this bound is refused as too
# large (docs/sources.md, "Limits").
MAX_FIELD_CHARS = 16 * 1024 * 1024
_TOO_LARGE = "field larger than field limit"


def zone_of(options: dict[str, Any], name: str) -> dt.tzinfo | None:
    """The `timezone` option (an IANA zone or an offset), or None when not
    given; InputError naming the source for a zone that does not exist."""
    value = options.get("timezone")
    if value is None or not str(value).strip():
        return None
    return zone_option(value, Location(name))


def read_csv(location: str, context: SourceContext | None = None) -> Iterator[SourceRecord]:
    """Yield one record per data row of a CSV file."""
    options = context.options if context else {}
    zone = zone_of(options, location)
    handle = open_text(location, options.get("encoding", "utf-8"))
    with handle:
        yield from read_csv_stream(handle, location, options.get("delimiter", ","),
                                   required=context.id_fields if context else "customer_id",
                                   zone=zone)


def read_csv_stream(handle: IO[str] | Iterable[str], name: str, delimiter: str = ",",
                    required: str | list[str] | None = "customer_id",
                    zone: dt.tzinfo | None = None) -> Iterator[SourceRecord]:
    """Records of an open CSV text stream (a TextIOWrapper is decoded from its
    bytes by adieu.textlines.checked_lines; other text streams and line
    iterables are read as they are); `name` is used in errors and
    provenance. `required`: a column (or one of several) the header must
    have. `zone`: the zone of date-times written without one; such cells
    are passed on in UTC (adieu.with_zone). Shared by every adapter that
    reads CSV files.

    Raises InputError for a file that cannot be read: malformed CSV, text
    not in the encoding, a NUL byte, a byte-order mark inside the file or a
    line over textlines.MAX_LINE_BYTES (each at its line and byte offset), a
    field over MAX_FIELD_CHARS (named as too large, with the line where its
    record starts)."""
    delimiter = DELIMITERS.get(delimiter, delimiter)
    if len(delimiter) != 1:
        raise InputError(f"delimiter must be one character, got {delimiter!r}", Location(name))
    csv.field_size_limit(MAX_FIELD_CHARS)
    lines: Iterable[str] = handle
    if isinstance(handle, io.TextIOWrapper):  # decoded here: faults at their true line
        lines = checked_lines(handle.buffer, handle.encoding, name)
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    row = 0  # data rows count from 1; the header is not a row
    line = 1  # where the record being read starts
    try:
        header = next(reader, None)
        if header is None:
            raise InputError("the file is empty; expected a header row", Location(name, line=1))
        header = [h.strip() for h in header]
        seen: set[str] = set()
        for i, col in enumerate(header):
            if not col:
                raise InputError(f"column {i + 1} has an empty header", Location(name, line=1))
            if col in seen:
                raise InputError(f"column {col!r} appears twice in the header",
                                 Location(name, line=1))
            seen.add(col)
        choices = [required] if isinstance(required, str) else list(required or [])
        present = [c for c in choices if c in seen]
        required = present[0] if present else (choices[0] if choices else None)
        if required and not present:
            found = ", ".join(header[:6]) + (", ..." if len(header) > 6 else "")
            hint = ""
            if len(header) == 1 and any(c in header[0] for c in ";\t|,"):
                hint = " (is the delimiter right? set -o delimiter=...)"
            raise InputError(f"no {required} column in the header{hint}; found: {found}",
                             Location(name, line=1))
        line = reader.line_num + 1
        width = len(header)
        for cells in reader:  # the common row first: as many cells as the header
            start, line = line, reader.line_num + 1
            if len(cells) == width and (width > 1 or cells[0].strip()):
                row += 1
                if zone is not None:
                    cells = [with_zone(c, zone) for c in cells]
                yield SourceRecord(dict(zip(header, cells, strict=False)), name, row, start)
                continue
            if not cells or (len(cells) == 1 and not cells[0].strip()):
                continue
            row += 1
            values = {required or header[0]: cells[0] if cells else None}
            yield SourceRecord(values, name, row, start, error=(
                f"row has {len(cells)} cells, the header has {width}"))
    except csv.Error as exc:
        if str(exc).startswith(_TOO_LARGE):
            raise InputError(
                f"a field is too large: over {MAX_FIELD_CHARS:,} characters (16 MiB), the "
                "bound on one field; the record starting at this line cannot be read (if no "
                "field should be that long, look for a quote that is never closed)",
                Location(name, line=line, row=row + 1 if line > 1 else None)) from None
        if "unexpected end of data" in str(exc):  # at the end of the file: say where it opens
            raise InputError("malformed CSV: a quote opened in the record starting at this "
                             "line is never closed (unexpected end of data at line "
                             f"{reader.line_num})", Location(name, line=line)) from None
        raise InputError(f"malformed CSV: {exc}", Location(name, line=reader.line_num)) \
            from None
    except UnicodeDecodeError as exc:  # a stream not decoded by checked_lines
        raise InputError(f"not valid {exc.encoding} text after line {reader.line_num} "
                         "(try -o encoding=cp1252)", Location(name)) from None
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise InputError(f"corrupt gzip data near line {reader.line_num + 1}: {exc}",
                         Location(name)) from None


@hookimpl
def register_sources(register):
    register("csv", read_csv, "A CSV file (or .csv.gz) with a header row; columns named as "
             "canonical facts, or mapped with --mapping.",
             mapping=str(Path(__file__).parent / "mappings" / "csv.yaml"),
             options=("delimiter", "encoding", "timezone"))
