"""Reading a HubSpot API dump: its page files, one page at a time, and the
ids and flags of the records on them (docs/sources.md, "HubSpot").

A dump folder holds ``companies*``, ``tickets*`` and ``deals*`` files of
CRM v3 list pages, ``{"results": [...], "paging": {"next": {"after": ...}}}``;
a file may hold one page, a JSON array of pages or one page per line (JSON
Lines), optionally gzip-compressed. Errors name the file, line and column."""

from __future__ import annotations

import gzip
import json
import math
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from adieu.errors import InputError, Location
from adieu.sources import open_text

KINDS = ("companies", "tickets", "deals")
SUFFIXES = (".json", ".jsonl", ".ndjson", ".json.gz", ".jsonl.gz", ".ndjson.gz")

_WS = re.compile(r"[ \t\r\n]*")
_CHUNK = 1 << 16


@dataclass
class Page:
    results: list[Any]
    file: str   # path as shown in errors and records
    name: str   # file name, for provenance
    line: int   # line where the page starts
    column: int
    has_next: bool


class _JsonValues:
    """The top-level JSON values of a text stream, one at a time: one
    object, objects one after another (JSON Lines), or the items of one
    array. Errors carry the file's line and column."""

    def __init__(self, handle: IO[str], label: str):
        self.handle, self.label = handle, label
        self.decoder = json.JSONDecoder(parse_float=Decimal)  # numbers stay exact
        self.buf, self.pos, self.eof = "", 0, False
        self.line, self.col = 1, 1  # position of buf[0] in the file

    def _read(self) -> None:
        done = self.buf[:self.pos]
        newlines = done.count("\n")
        if newlines:
            self.line += newlines
            self.col = len(done) - done.rfind("\n")
        else:
            self.col += len(done)
        data = self.handle.read(max(_CHUNK, len(self.buf)))
        self.buf, self.pos = self.buf[self.pos:] + data, 0
        if not data:
            self.eof = True

    def location(self, p: int) -> Location:
        newlines = self.buf.count("\n", 0, p)
        if newlines:
            col = p - self.buf.rfind("\n", 0, p)
        else:
            col = self.col + p
        return Location(self.label, self.line + newlines, col)

    def _peek(self) -> str | None:
        """The next character that is not white space, or None at the end."""
        while True:
            self.pos = _WS.match(self.buf, self.pos).end()
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if self.eof:
                return None
            self._read()

    def _value(self) -> tuple[Any, Location]:
        while True:
            try:
                value, end = self.decoder.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                if not self.eof:  # maybe only cut by the chunk: read on
                    self._read()
                    continue
                what = "truncated JSON" if exc.pos >= len(self.buf.rstrip()) - 1 or \
                    exc.msg.startswith("Unterminated") else "malformed JSON"
                raise InputError(f"{what}: {exc.msg}", self.location(exc.pos)) from None
            start = self.location(self.pos)
            self.pos = end
            return value, start

    def values(self) -> Iterator[tuple[Any, Location]]:
        c = self._peek()
        if c is None:
            raise InputError("the file is empty; expected a JSON page "
                             '{"results": [...], "paging": {...}}', Location(self.label, 1, 1))
        if c != "[":
            while c is not None:
                yield self._value()
                c = self._peek()
            return
        self.pos += 1
        first = True
        while True:
            c = self._peek()
            if c is None:
                raise InputError("truncated JSON: the array of pages has no closing ]",
                                 self.location(self.pos))
            if c == "]":
                self.pos += 1
                break
            if not first:
                if c != ",":
                    raise InputError(f"malformed JSON: expected , or ] between pages, "
                                     f"found {c!r}", self.location(self.pos))
                self.pos += 1
                if self._peek() is None:
                    raise InputError("truncated JSON: the array of pages has no closing ]",
                                     self.location(self.pos))
            first = False
            yield self._value()
        if self._peek() is not None:
            raise InputError("malformed JSON: extra data after the array of pages",
                             self.location(self.pos))


def read_pages(path: Path, label: str) -> Iterator[Page]:
    """The list pages of one file, parsed one page at a time."""
    handle = open_text(path, "utf-8", name=label)
    where: Location | None = None
    try:
        with handle:
            reader = _JsonValues(handle, label)
            for page, where in reader.values():
                if not isinstance(page, dict) or not isinstance(page.get("results"), list):
                    found = f"keys {', '.join(list(page)[:5])}" if isinstance(page, dict) \
                        else f"a JSON {type(page).__name__}"
                    raise InputError('not a CRM v3 list page: no "results" list (expected '
                                     '{"results": [...], "paging": {...}}; found '
                                     f"{found})", where)
                paging = page.get("paging")
                has_next = isinstance(paging, dict) and bool(paging.get("next"))
                yield Page(page["results"], label, path.name, where.line or 1,
                           where.column or 1, has_next)
    except UnicodeDecodeError:
        raise InputError("not valid UTF-8 text", where or Location(label)) from None
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise InputError(f"corrupt gzip data: {exc}", Location(label)) from None


def page_files(location: str) -> dict[str, list[tuple[Path, str]]]:
    """companies/tickets/deals page files of a dump folder (or one file of
    companies pages), sorted by name."""
    path = Path(location)
    files: dict[str, list[tuple[Path, str]]] = {k: [] for k in KINDS}
    if path.is_file():
        files["companies"].append((path, location))
        return files
    if not path.is_dir():
        raise InputError("no such folder or file (expected a folder of companies*.json, "
                         "tickets*.json and deals*.json pages, or a .csv export)",
                         Location(location))
    for child in sorted(path.iterdir(), key=lambda p: p.name):
        lower = child.name.lower()
        if not child.is_file() or not lower.endswith(SUFFIXES):
            continue
        for kind in KINDS:
            if lower.startswith(kind):
                files[kind].append((child, str(child)))
    if not files["companies"]:
        raise InputError("no companies*.json page files in the folder", Location(location))
    return files


def pages(files: list[tuple[Path, str]], kind: str) -> Iterator[Page]:
    """Every page of one object kind; at the end, check that the last page
    of the dump was saved (a page without paging.next)."""
    last: Page | None = None
    ends = 0
    for path, label in files:
        for page in read_pages(path, label):
            last = page
            ends += not page.has_next
            yield page
    if last is not None and not ends:
        raise InputError(f"the {kind} dump is incomplete: every page has paging.next, so the "
                         "last page was never saved (run the paging script to the end)",
                         Location(last.file, last.line, last.column))


# --------------------------------------------------------------------------
# Records: ids and flags
# --------------------------------------------------------------------------

def object_id(item: dict[str, Any]) -> str | None:
    """A record's id: "id", else the hs_object_id property; None when blank."""
    props = item.get("properties")
    value = item.get("id")
    if blank(value) and isinstance(props, dict):
        value = props.get("hs_object_id")
    return None if blank(value) else id_text(value)


def id_text(value: Any) -> str:
    """An id as text: 12, 12.0 and " 12 " are all "12" (JSON numbers with a
    fraction or exponent are read as Decimal)."""
    if isinstance(value, (float, Decimal)) and math.isfinite(value) and value == int(value):
        value = int(value)
    return str(value).strip()


def blank(value: Any) -> bool:
    """None or text that is only white space."""
    return value is None or (isinstance(value, str) and not value.strip())


def archived(item: dict[str, Any]) -> bool:
    """The record says "archived": true (or "true")."""
    flag = item.get("archived")
    return flag is True or (isinstance(flag, str) and flag.strip().lower() == "true")

