"""The Salesforce Data Export as files: the zip that Setup > Data Export
produces (members at the root or in a sub-folder) or the folder it unzips
to. Opens each object's CSV (Account.csv, Case.csv ...) for streaming, with
corrupt or truncated zip members reported by member and row. Used by
adieu_plugins.salesforce_source."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from adieu.errors import InputError, Location
from adieu.sourcefiles import ZIP_FAULTS, Unpacked, check_regular, open_zip, zip_errors
from adieu.sources import ENCODINGS, SourceRecord, open_text, text_stream

from .csv_source import read_csv_stream

ACCOUNT = "Account.csv"
CASE = "Case.csv"
OPPORTUNITY = "Opportunity.csv"
CONTRACT = "Contract.csv"
RELATED = (CASE, OPPORTUNITY, CONTRACT)

# ---------------------------------------------------------------------------
# The export: a zip (members at the root or in a sub-folder) or a folder
# ---------------------------------------------------------------------------

class _Corrupt(Exception):
    """Damaged compressed data inside a zip member (raised while reading)."""


class _GuardedMember(io.BufferedIOBase):
    """A zip member stream whose decompression errors come out as _Corrupt,
    so that the CSV reader does not mistake them for other problems."""

    def __init__(self, raw: IO[bytes]):
        super().__init__()
        self._raw = raw

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        return self._guard(self._raw.read, size)

    def read1(self, size: int = -1) -> bytes:
        return self._guard(self._raw.read1, size)  # type: ignore[attr-defined]

    def close(self) -> None:
        self._raw.close()
        super().close()

    @staticmethod
    def _guard(read: Callable[[Any], bytes], size: Any) -> bytes:
        try:
            return read(-1 if size is None else size)
        except InputError:
            raise
        except ZIP_FAULTS as exc:
            raise _Corrupt(str(exc) or type(exc).__name__) from None


class Export:
    """The object files of one Data Export, found by name whatever their
    case and folder. Use as a context manager; open(name) streams a file."""

    def __init__(self, location: str, encoding: str = "utf-8",
                 zone: dt.tzinfo | None = None):
        self.location = location
        self.zone = zone  # of date-times written without one (option timezone)
        if str(encoding).lower() not in ENCODINGS:
            raise InputError(f"unknown encoding {encoding!r} (use one of: utf-8, cp1252, "
                             "latin-1)", Location(location))
        self.encoding = str(encoding)
        self.zip: zipfile.ZipFile | None = None
        self.files: dict[str, str] = {}  # "case.csv" -> member name or file path
        path = Path(location)
        if path.is_dir():
            # Not only regular files: an Account.csv that is a FIFO is named
            # and refused when opened (open_text), not taken for missing.
            found = [str(p.relative_to(path)).replace(os.sep, "/")
                     for p in sorted(path.rglob("*")) if not p.is_dir()]
        elif path.is_file():
            self.zip = open_zip(path, location, "expected a Salesforce Data Export .zip "
                                "or the folder it unzips to")  # InputError for any damage
            with zip_errors(location):
                found = [i.filename for i in self.zip.infolist() if not i.is_dir()]
        else:
            check_regular(location, directory_ok=True)
            raise InputError("no such file or folder (expected a Salesforce Data Export "
                             ".zip or the folder it unzips to)", Location(location))
        self.found = found
        wanted = {name.lower() for name in (ACCOUNT, *RELATED)}
        for member in found:
            base = member.replace("\\", "/").rsplit("/", 1)[-1].lower()
            if base not in wanted:
                continue
            if base in self.files:
                self.__exit__()
                raise InputError(f"{member.rsplit('/', 1)[-1]} appears twice "
                                 f"({self.files[base]} and {member}); point at one export",
                                 Location(location))
            self.files[base] = member

    def __enter__(self) -> Export:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.zip is not None:
            self.zip.close()

    def has(self, name: str) -> bool:
        return name.lower() in self.files

    def label(self, name: str) -> str:
        """How a file is named in provenance and errors: export.zip:Case.csv."""
        member = self.files[name.lower()]
        if self.zip is not None:
            return f"{self.location}:{member}"
        return str(Path(self.location) / member)

    @contextmanager
    def open(self, name: str) -> Iterator[IO[str]]:
        label = self.label(name)
        if self.zip is None:
            handle = open_text(Path(self.location) / self.files[name.lower()], self.encoding,
                               name=label)
        else:
            with zip_errors(label, "cannot read zip member"):  # corrupt, encrypted ...
                member = self.zip.getinfo(self.files[name.lower()])
                raw = Unpacked(self.zip.open(member), member.compress_size, label)
            handle = text_stream(_GuardedMember(raw), self.encoding)
        with handle:
            yield handle

    def header(self, name: str) -> list[str] | None:
        """A file's column names (line 1), or None when it has no readable
        header: rows() then says what is wrong."""
        try:
            with self.open(name) as handle:
                first = next(csv.reader(handle), None)
        except (InputError, _Corrupt, csv.Error, UnicodeDecodeError, OSError, EOFError,
                zlib.error):
            return None
        return None if first is None else [h.strip() for h in first]

    def rows(self, name: str, required: str) -> Iterator[SourceRecord]:
        """Stream a file's rows through the shared CSV reader; damaged zip data
        is an InputError naming the file and the last row read."""
        label = self.label(name)
        last: SourceRecord | None = None
        with self.open(name) as handle:
            try:
                for record in read_csv_stream(handle, label, ",", required=required,
                                              zone=self.zone):
                    last = record
                    yield record
            except _Corrupt as exc:
                # Reading runs ahead of the rows handed out, and a checksum is
                # only checked at the end: say where it was noticed.
                where = f", noticed after row {last.row}" if last is not None else ""
                raise InputError(f"corrupt zip data{where}: {exc}",
                                 Location(label, line=last.line if last else None)) from None


# ---------------------------------------------------------------------------
# Values
