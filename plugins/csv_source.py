"""The `csv` source: one customer per row, columns named as canonical facts.

Streams the file; UTF-8 with or without a byte-order mark; quoted cells may
hold commas, quotes and line breaks; CRLF or LF line ends."""

from __future__ import annotations

import csv
from collections.abc import Iterator

from adieu.errors import InputError, Location
from adieu.hookspecs import hookimpl
from adieu.sources import SourceRecord


def read_csv(location: str) -> Iterator[SourceRecord]:
    """Yield one record per data row; the header names the facts."""
    try:
        handle = open(location, encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise InputError(f"cannot open CSV: {exc.strerror}", Location(location)) from None
    with handle:
        reader = csv.reader(handle, strict=True)
        try:
            header = next(reader, None)
            if header is None:
                raise InputError("the file is empty; expected a header row naming the facts",
                                 Location(location, line=1))
            header = [h.strip() for h in header]
            seen: set[str] = set()
            for i, name in enumerate(header):
                if not name:
                    raise InputError(f"column {i + 1} has an empty header",
                                     Location(location, line=1))
                if name in seen:
                    raise InputError(f"column {name!r} appears twice in the header",
                                     Location(location, line=1))
                seen.add(name)
            if "customer_id" not in seen:
                found = ", ".join(header[:6]) + (", ..." if len(header) > 6 else "")
                hint = " (is the delimiter right?)" if len(header) == 1 else ""
                raise InputError(f"no customer_id column in the header{hint}; found: {found}",
                                 Location(location, line=1))
            row = 0  # data rows count from 1; the header is not a row
            line = reader.line_num + 1
            for cells in reader:
                row += 1
                start, line = line, reader.line_num + 1
                if not cells or (len(cells) == 1 and not cells[0].strip()):
                    row -= 1
                    continue
                if len(cells) != len(header):
                    values = {"customer_id": cells[0] if cells else None}
                    yield SourceRecord(values, location, row, start, error=(
                        f"row has {len(cells)} cells, the header has {len(header)}"))
                    continue
                yield SourceRecord(dict(zip(header, cells, strict=True)), location, row, start)
        except csv.Error as exc:
            raise InputError(f"malformed CSV: {exc}",
                             Location(location, line=reader.line_num)) from None
        except UnicodeDecodeError as exc:
            raise InputError(f"not UTF-8 text (byte {exc.start} of a block near line "
                             f"{reader.line_num + 1})", Location(location)) from None


@hookimpl
def register_sources(register):
    register("csv", read_csv, "A CSV file with a header row of canonical fact names.")
