"""Reading a HubSpot API dump: its page files, one page at a time, and the
ids and flags of the records on them (docs/sources.md, "HubSpot").

A dump folder holds ``companies*``, ``tickets*`` and ``deals*`` files of
CRM v3 list pages, ``{"results": [...], "paging": {"next": {"after": ...}}}``;
a file may hold one page, a JSON array of pages or one page per line (JSON
Lines), optionally gzip-compressed. Errors name the file, line and column.

Pages are taken in file order (names compared with their numbers as
numbers: tickets_2 before tickets_10), then in array or line order within
a file. The last page of each kind must have no paging.next (else the dump
is incomplete: an error); an earlier page without it, or a gap in the files'
running numbers, is a warning."""

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

from adieu import InputError, Location, SourceRecord, open_text
from adieu.jsontext import MAX_JSON_DEPTH, too_deep
from adieu.sourcefiles import check_regular
from adieu.textlines import first_bad_byte

KINDS = ("companies", "tickets", "deals")
SUFFIXES = (".json", ".jsonl", ".ndjson", ".json.gz", ".jsonl.gz", ".ndjson.gz")

_WS = re.compile(r"[ \t\r\n]*")
_CHUNK = 1 << 16
_DIGITS = re.compile(r"([0-9]+)")
_NUMBERED = re.compile(r"(.*?)([0-9]+)")  # a name's stem ending in a running number
MAX_NAMED = 3  # pages or numbers named in one warning
MAX_ID_DIGITS = 60  # a JSON number id of more digits keeps its written form
MAX_PAGE_DIGITS = 9  # a running number of more digits is a date or an id, not a page
# The largest JSON value (one page) read, in characters: a CRM v3 list page
# holds at most 100 records, a few MB with every property; a value that
# never ends (a file of /dev/zero-like content) stops here, not in MemoryError.
MAX_PAGE_CHARS = 64 << 20


def _json_int(text: str) -> int | Decimal:
    """A JSON integer: an int, or past 100 digits a Decimal (Python's int()
    refuses text of over 4300 digits; adieu.read_number then finds it too
    large)."""
    return int(text) if len(text) <= 100 else Decimal(text)


class _OutOfRange(Exception):
    """A JSON number whose exponent no Decimal can hold; carries its text."""


def _json_decimal(text: str) -> Decimal:
    """A JSON number with a fraction or exponent, exactly. One whose
    exponent is beyond what Decimal holds at all ("1e+99999999999999999999":
    Decimal() raises InvalidOperation) raises _OutOfRange, which the reader
    turns into an error at the number's place."""
    try:
        return Decimal(text)
    except ArithmeticError:
        raise _OutOfRange(text) from None


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
        self.decoder = json.JSONDecoder(parse_float=_json_decimal,  # numbers stay exact
                                        parse_int=_json_int)
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
            # Nesting is bounded before decoding: stdlib json recurses once
            # per level, and 1,000 levels end in a RecursionError.
            deep = too_deep(self.buf, self.pos)
            if deep is not None:
                raise InputError(f"JSON nested more than {MAX_JSON_DEPTH} arrays and objects "
                                 "deep (a CRM v3 page nests about 7)", self.location(deep))
            try:
                value, end = self.decoder.raw_decode(self.buf, self.pos)
            except _OutOfRange as exc:
                text = str(exc)
                at = self.buf.find(text, self.pos)
                shown = text if len(text) <= 40 else f"{text[:20]}...{text[-12:]}"
                raise InputError(f"the number {shown} is out of range: its exponent is beyond "
                                 "any value adieu reads", self.location(max(at, self.pos))) \
                    from None
            except json.JSONDecodeError as exc:
                if not self.eof:  # maybe only cut by the chunk: read on
                    if len(self.buf) - self.pos > MAX_PAGE_CHARS:
                        raise InputError(f"a JSON value longer than {MAX_PAGE_CHARS:,} "
                                         "characters (64 MiB), the bound on one page",
                                         self.location(self.pos)) from None
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
                has_next = isinstance(paging, dict) and _leads_on(paging.get("next"))
                yield Page(page["results"], label, path.name, where.line or 1,
                           where.column or 1, has_next)
    except UnicodeDecodeError:
        with open_text(path, "utf-8", name=label) as again:  # where: read once more
            found = first_bad_byte(again.buffer)
        if found is None:  # pragma: no cover - the same bytes decode the same way
            raise InputError("not valid UTF-8 text", where or Location(label)) from None
        line, at, byte = found
        raise InputError(f"byte offset {at}: invalid UTF-8 (0x{byte:02x}): a HubSpot dump "
                         "is UTF-8 JSON", Location(label, line=line)) from None
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise InputError(f"corrupt gzip data: {exc}", Location(label)) from None


def file_order(path: Path) -> tuple[list[tuple[int, str] | str], str]:
    """Sort key of a page file: its name, with runs of digits compared as
    numbers (companies_2.json before companies_10.json)."""
    parts = _DIGITS.split(path.name)
    # Digits as (length without leading zeros, digits): their order as
    # numbers, without int() (which refuses over 4300 digits).
    return [(len(p.lstrip("0")), p.lstrip("0")) if i % 2 else p
            for i, p in enumerate(parts)], path.name


def _leads_on(next_: Any) -> bool:
    """Whether a page's paging.next leads to another page: it is there, and
    its "after" (when given) is not blank, as a paging script decides."""
    if isinstance(next_, dict) and "after" in next_:
        return not blank(next_["after"])
    return bool(next_)


def page_files(location: str) -> dict[str, list[tuple[Path, str]]]:
    """companies/tickets/deals page files of a dump folder (or one file of
    companies pages), in file_order."""
    path = Path(location)
    files: dict[str, list[tuple[Path, str]]] = {k: [] for k in KINDS}
    if path.is_file():
        files["companies"].append((path, location))
        return files
    check_regular(location, directory_ok=True)
    if not path.is_dir():
        raise InputError("no such folder or file (expected a folder of companies*.json, "
                         "tickets*.json and deals*.json pages, or a .csv export)",
                         Location(location))
    for child in sorted(path.iterdir(), key=file_order):
        lower = child.name.lower()
        if child.is_dir() or not lower.endswith(SUFFIXES):  # a FIFO: refused when opened
            continue
        for kind in KINDS:
            if lower.startswith(kind):
                files[kind].append((child, str(child)))
    if not files["companies"]:
        raise InputError("no companies*.json page files in the folder", Location(location))
    return files


def pages(files: list[tuple[Path, str]], kind: str,
          notes: list[SourceRecord] | None = None) -> Iterator[Page]:
    """Every page of one object kind, in order (files in file_order, then
    array or line order within a file).

    At the end, raises InputError when the last page has paging.next (the
    pages after it were never saved). With `notes`, appends warnings (value-
    less SourceRecords) about what the files suggest but cannot prove: an
    earlier page without paging.next (two dumps mixed, or a page saved out
    of order), and a running number missing from the file names."""
    if notes is not None:
        notes.extend(numbering_gaps(files, kind))
    last: Page | None = None
    ends: list[Page] = []  # pages without paging.next, the last one aside
    for path, label in files:
        for page in read_pages(path, label):
            if last is not None and not last.has_next:
                ends.append(last)
            last = page
            yield page
    if last is None:
        return
    if last.has_next:
        raise InputError(f"the {kind} dump is incomplete: its last page has paging.next, so "
                         "the pages after it were never saved (run the paging script to the "
                         "end, and save every page)", Location(last.file, last.line, last.column))
    if ends and notes is not None:
        first = ends[0]
        others = "" if len(ends) == 1 else \
            f" (and so do {_where(ends[1:MAX_NAMED + 1])}{', ...' if len(ends) > 4 else ''})"
        line = first.line if first.line > 1 else None  # as records are placed
        notes.append(SourceRecord({}, first.file, None, line, warning=(
            f"this {kind} page has no paging.next{others}, so it should be the last, yet "
            f"more pages follow up to {_where([last])}, which ends the {kind} too: two dumps "
            "mixed, or a page saved out of order? Every page is read (a record on two pages "
            f"counts once); if in doubt, save the {kind} again into an empty folder")))


def _where(items: list[Page]) -> str:
    return ", ".join(f"{p.file}:{p.line}" if p.line > 1 else p.file for p in items)


def numbering_gaps(files: list[tuple[Path, str]], kind: str) -> list[SourceRecord]:
    """A warning when the files of one kind carry a running number (the
    same name but for digits at the end: tickets_0001.json, tickets_0002.json)
    and one is missing between the first number (0 or 1) and the last.
    Names numbered by something else (offsets, dates, ids: more numbers
    missing than present) give none."""
    numbered: list[tuple[int, str, str, str]] = []  # number, digits, prefix, label
    for path, label in files:
        name = path.name
        suffix = next((x for x in SUFFIXES if name.lower().endswith(x)), "")
        match = _NUMBERED.fullmatch(name[:len(name) - len(suffix)])
        if match is None or len(match[2]) > MAX_PAGE_DIGITS:
            return []
        numbered.append((int(match[2]), match[2], match[1], label))
    if not numbered or len({prefix for _, _, prefix, _ in numbered}) > 1:
        return []
    present = {n for n, *_ in numbered}
    low, high = (0 if 0 in present else 1), max(present)
    span = high - low + 1  # every number present is in low..high
    if span == len(present) or span > 2 * len(present):
        return []  # none missing, or not a running number
    missing = [n for n in range(low, high + 1) if n not in present]
    widths = {len(digits) for _, digits, _, _ in numbered}
    width = widths.pop() if len(widths) == 1 and any(d.startswith("0") for _, d, _, _ in numbered) \
        else 0
    prefix = numbered[0][2]
    names = [f"{prefix}{n:0{width}d}" for n in missing]
    after = min((n, label) for n, _, _, label in numbered if n > missing[0])[1]
    listed = ", ".join(names[:MAX_NAMED]) + (f" and {len(names) - MAX_NAMED} more"
                                             if len(names) > MAX_NAMED else "")
    return [SourceRecord({}, after, warning=(
        f"the {kind} files are numbered, but there is no {listed} before this one: a page "
        f"may be missing, and its {kind} would count nowhere (save the {kind} again)"))]


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
    if isinstance(value, (float, Decimal)) and math.isfinite(value) and \
            abs(value) < 10 ** MAX_ID_DIGITS and value == int(value):
        value = int(value)  # never int() of 1e100000000: its digits would fill memory
    return str(value).strip()


def blank(value: Any) -> bool:
    """None or text that is only white space."""
    return value is None or (isinstance(value, str) and not value.strip())


def archived(item: dict[str, Any]) -> bool:
    """The record says "archived": true (or "true")."""
    flag = item.get("archived")
    return flag is True or (isinstance(flag, str) and flag.strip().lower() == "true")

