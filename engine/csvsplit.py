"""Split a CSV file into parts of whole records that can be read on their
own (by another process or machine sharing the file), with the row and
line numbers the whole file gives them, so decisions store the same
source_row wherever they were decided.

A record ends at a line break outside quotes (RFC 4180: a quoted field may
hold line breaks, and "" is a quote inside one), so the split counts the
quote characters of each physical line: a record is complete when it has
an even number. This holds for every encoding adieu reads (UTF-8, cp1252,
latin-1: byte 0x22 is only ever a quote). Gzipped files cannot be split
(read them whole, or unpack them first)."""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from .errors import InputError, Location
from .sourcefiles import open_regular
from .sources import SourceRecord
from .textlines import checked_lines


@dataclass(frozen=True)
class CsvPart:
    """Bytes start..end of file, whole records: start_line is the file line
    at byte start, first_row the data row number (1 = the first after the
    header) of its first record, rows how many data records it holds."""

    file: str
    start: int
    end: int
    start_line: int
    first_row: int
    rows: int


def split_csv(path: str, rows_per_part: int = 50_000) -> list[CsvPart]:
    """Parts of at most rows_per_part data records each (blank lines are
    not records), in file order; [] for a file with no data row. One pass
    over the bytes, nothing parsed. InputError for a gzipped file or a
    quote never closed."""
    if rows_per_part < 1:
        raise ValueError("rows_per_part must be at least 1")
    parts: list[CsvPart] = []
    with open_regular(path) as f:
        if f.read(2) == b"\x1f\x8b":
            raise InputError("a gzipped CSV file cannot be split into parts; unpack it first",
                             Location(path))
        f.seek(0)
        pos = quotes = 0
        line = 1             # the line number of the next physical line
        record_line = 1      # where the record being read starts
        header, blank = True, True
        start = start_line = 0
        row = rows = 0       # data rows so far; in the part being filled
        for raw in f:
            if quotes == 0:  # a record starts here
                record_line, blank = line, True
            quotes += raw.count(b'"')
            pos += len(raw)
            line += 1
            blank = blank and not raw.replace(b'"', b"").strip()
            if quotes % 2:
                continue  # the record goes on past this line break
            quotes = 0
            if header:
                header, start, start_line = False, pos, line
                continue
            if not blank:
                row += 1
                rows += 1
            if rows >= rows_per_part:
                parts.append(CsvPart(path, start, pos, start_line, row - rows + 1, rows))
                start, start_line, rows = pos, line, 0
        if quotes % 2:
            raise InputError("a quote is never closed", Location(path, line=record_line))
        if rows:
            parts.append(CsvPart(path, start, pos, start_line, row - rows + 1, rows))
    return parts


def header_bytes(path: str) -> bytes:
    """The header record of a CSV file (it may span lines inside quotes)."""
    out = bytearray()
    with open_regular(path) as f:
        for raw in f:
            out += raw
            if out.count(b'"') % 2 == 0:
                break
    return bytes(out)


def read_part(part: CsvPart, options: dict[str, Any] | None = None,
              required: str | list[str] | None = "customer_id") -> Iterator[SourceRecord]:
    """The raw records of one part, as the csv source reads them from the
    whole file (same values, same row and line numbers). options: the csv
    source's (delimiter, encoding, timezone)."""
    from adieu_plugins.csv_source import read_csv_stream, zone_of  # the csv plugin's parser

    options = options or {}
    encoding = options.get("encoding", "utf-8")
    with open_regular(part.file) as f:
        f.seek(part.start)
        body = f.read(part.end - part.start)
    head = header_bytes(part.file)
    # Decoded as the whole file is (textlines): a fault names its true line
    # and byte offset in the file, not the part.
    handle = itertools.chain(
        checked_lines(io.BytesIO(head), encoding, part.file),
        checked_lines(io.BytesIO(body), encoding, part.file, line=part.start_line,
                      offset=part.start))
    head_lines = head.count(b"\n")
    for rec in read_csv_stream(handle, part.file, options.get("delimiter", ","), required,
                               zone_of(options, part.file)):
        yield replace(rec, row=None if rec.row is None else rec.row + part.first_row - 1,
                      line=None if rec.line is None else
                      rec.line - head_lines - 1 + part.start_line)
