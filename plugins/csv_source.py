"""The `csv` source: one customer per row; the header names the fields.

Streams the file. Options (mapping `options:` or `-o KEY=VALUE`):
delimiter (`,` by default; `tab` or `;` ...), encoding (utf-8 with or
without a byte-order mark, cp1252, latin-1). Quoted cells may hold commas,
quotes and line breaks; CRLF or LF line ends; a .gz file is read as gzip."""

from __future__ import annotations

import csv
import gzip
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from adieu.errors import InputError, Location
from adieu.hookspecs import hookimpl
from adieu.sources import SourceContext, SourceRecord, open_text

DELIMITERS = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}


def read_csv(location: str, context: SourceContext | None = None) -> Iterator[SourceRecord]:
    """Yield one record per data row of a CSV file."""
    options = context.options if context else {}
    handle = open_text(location, options.get("encoding", "utf-8"))
    with handle:
        yield from read_csv_stream(handle, location, options.get("delimiter", ","),
                                   required=context.id_fields if context else "customer_id")


def read_csv_stream(handle: IO[str], name: str, delimiter: str = ",",
                    required: str | list[str] | None = "customer_id") \
        -> Iterator[SourceRecord]:
    """Records of an open CSV text stream; `name` is used in errors and
    provenance. `required`: a column (or one of several) the header must
    have. Shared by every adapter that reads CSV files."""
    delimiter = DELIMITERS.get(delimiter, delimiter)
    if len(delimiter) != 1:
        raise InputError(f"delimiter must be one character, got {delimiter!r}", Location(name))
    reader = csv.reader(handle, delimiter=delimiter, strict=True)
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
        row = 0  # data rows count from 1; the header is not a row
        line = reader.line_num + 1
        for cells in reader:
            start, line = line, reader.line_num + 1
            if not cells or (len(cells) == 1 and not cells[0].strip()):
                continue
            row += 1
            if len(cells) != len(header):
                values = {required or header[0]: cells[0] if cells else None}
                yield SourceRecord(values, name, row, start, error=(
                    f"row has {len(cells)} cells, the header has {len(header)}"))
                continue
            yield SourceRecord(dict(zip(header, cells, strict=True)), name, row, start)
    except csv.Error as exc:
        raise InputError(f"malformed CSV: {exc}", Location(name, line=reader.line_num)) \
            from None
    except UnicodeDecodeError as exc:
        raise InputError(f"not valid {exc.encoding} text near line {reader.line_num + 1} "
                         "(try -o encoding=cp1252)", Location(name)) from None
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise InputError(f"corrupt gzip data near line {reader.line_num + 1}: {exc}",
                         Location(name)) from None


@hookimpl
def register_sources(register):
    register("csv", read_csv, "A CSV file (or .csv.gz) with a header row; columns named as "
             "canonical facts, or mapped with --mapping.",
             mapping=str(Path(__file__).parent / "mappings" / "csv.yaml"))
