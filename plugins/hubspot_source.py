"""The `hubspot` source: companies with facts derived from their tickets and deals.

Two inputs (docs/sources.md, "HubSpot"):

- a folder of CRM v3 API list pages saved by a paging script:
  ``companies*.json``, ``tickets*.json`` and ``deals*.json``, each page
  ``{"results": [...], "paging": {"next": {"after": ...}}}``. A file may
  hold one page, a JSON array of pages, or one page per line (JSON Lines);
  ``.gz`` files are read as gzip. Pages are parsed one at a time: what is
  kept in memory is the set of company ids, the company -> ticket/deal
  links and one small accumulator per company, never the whole dump.
- a ``.csv`` file exported from the HubSpot UI (headers are property
  labels: "Record ID", "Company name", ...). No tickets or deals then.

One record per company that is not archived: the company's properties as
HubSpot gives them (text; ``id`` as ``hs_object_id`` when that property is
absent) plus four aggregates with their provenance: tickets_12m,
open_tickets, won_revenue_12m, open_pipeline. A ticket or deal associated
with no company of the dump, or one left out of a figure (no amount, no
date), is reported as a reject.

Options (mapping ``options:`` or ``-o KEY=VALUE``; lists may be given as
``a,b,c``): ticket_closed_stages (default ["4"], the Closed stage of
HubSpot's default support pipeline), deal_won_stages (default
["closedwon"]), deal_closed_stages (default ["closedwon", "closedlost"]),
date_properties (more company properties whose epoch-millisecond values
are turned into ISO text); for the CSV: encoding, delimiter, id_column
(default "Record ID")."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any

from adieu.errors import InputError, Location
from adieu.hookspecs import hookimpl
from adieu.sources import SourceContext, SourceRecord, open_text
from adieu_plugins.csv_source import read_csv_stream

KINDS = ("companies", "tickets", "deals")
SUFFIXES = (".json", ".jsonl", ".ndjson", ".json.gz", ".jsonl.gz", ".ndjson.gz")
CSV_SUFFIXES = (".csv", ".csv.gz")

DEFAULTS = {
    "ticket_closed_stages": ["4"],
    "deal_won_stages": ["closedwon"],
    "deal_closed_stages": ["closedwon", "closedlost"],
}

# Built-in company date properties. Older exports give them as epoch
# milliseconds ("1741083300000"); they are passed on as ISO text so the
# mapping's `format: iso` reads both.
DATE_PROPERTIES = frozenset({
    "createdate", "closedate", "hs_lastmodifieddate", "first_deal_created_date",
    "recent_deal_close_date", "first_contact_createdate", "notes_last_updated",
    "notes_last_contacted", "notes_next_activity_date", "hubspot_owner_assigneddate",
    "hs_last_sales_activity_timestamp", "hs_analytics_first_timestamp",
    "hs_analytics_last_timestamp",
})

MAX_IDS = 10  # ids named per file in a provenance line


# --------------------------------------------------------------------------
# Reading pages, one at a time
# --------------------------------------------------------------------------

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
        self.decoder = json.JSONDecoder()
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


def _pages(files: list[tuple[Path, str]], kind: str) -> Iterator[Page]:
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
# Values: ids, associations, dates, amounts
# --------------------------------------------------------------------------

def _object_id(item: dict[str, Any]) -> str | None:
    props = item.get("properties")
    value = item.get("id")
    if _blank(value) and isinstance(props, dict):
        value = props.get("hs_object_id")
    return None if _blank(value) else _id_text(value)


def _id_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _associated(item: dict[str, Any], kind: str, page: Page, row: int) -> list[str]:
    """Ids of the records of `kind` an item is associated with: the v3 shape
    {"results": [{"id": "12", "type": "company_to_ticket"}]} or the v4 shape
    {"results": [{"toObjectId": 12, "associationTypes": [...]}]} (or the
    bare list), under "tickets" / "ticket" etc. Several association types to
    the same record count once."""
    assocs = item.get("associations")
    if not isinstance(assocs, dict):
        return []
    block = assocs.get(kind)
    if block is None:
        block = assocs.get(kind[:-1])
    if isinstance(block, dict):
        block = block.get("results")
    if block is None:
        return []
    if not isinstance(block, list):
        raise InputError(f"associations.{kind} is not a list of associations",
                         Location(page.file, page.line, page.column, row=row))
    out: list[str] = []
    for link in block:
        target = None
        if isinstance(link, dict):
            target = link.get("toObjectId", link.get("id"))
        elif isinstance(link, (str, int)):
            target = link
        if _blank(target) or isinstance(target, (dict, list, bool)):
            raise InputError(f"an association in associations.{kind} has no id or toObjectId",
                             Location(page.file, page.line, page.column, row=row))
        text = _id_text(target)
        if text not in out:
            out.append(text)
    return out


def _archived(item: dict[str, Any]) -> bool:
    flag = item.get("archived")
    return flag is True or (isinstance(flag, str) and flag.strip().lower() == "true")


_EPOCH_MS = re.compile(r"^-?\d{11,14}$")
_FRACTION = re.compile(r"\.(\d+)")


def parse_date(value: Any) -> dt.date | None:
    """A HubSpot date or date-time: ISO text ("2025-03-04",
    "2025-03-04T10:15:00.000Z") or epoch milliseconds (number or text);
    the date in UTC. None for an empty value; ValueError for anything else."""
    if _blank(value):
        return None
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, (int, float)) or _EPOCH_MS.match(str(value).strip()):
        try:
            moment = dt.datetime.fromtimestamp(int(float(value)) / 1000, dt.timezone.utc)
        except (OverflowError, OSError, ValueError):
            raise ValueError(value) from None
        return moment.date()
    text = str(value).strip()
    if len(text) == 10:
        return dt.date.fromisoformat(text)
    text = re.sub(r"[Zz]$", "+00:00", text)
    text = _FRACTION.sub(lambda m: "." + m.group(1)[:6].ljust(6, "0"), text, count=1)
    moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.timezone.utc)
    return moment.date()


def _iso_from_epoch(value: Any) -> Any:
    """Epoch milliseconds (text or number) -> ISO text; anything else as it is."""
    if isinstance(value, bool) or not isinstance(value, (str, int)) or \
            not _EPOCH_MS.match(str(value).strip()):
        return value
    try:
        moment = dt.datetime.fromtimestamp(int(str(value).strip()) / 1000, dt.timezone.utc)
    except (OverflowError, OSError, ValueError):
        return value
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _amount(value: Any) -> Decimal | None:
    """A deal amount; None when empty, ValueError when not a number."""
    if _blank(value):
        return None
    if isinstance(value, bool):
        raise ValueError(value)
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(value) from None
    if not number.is_finite():
        raise ValueError(value)
    return number


def _plain(value: Any) -> Any:
    """A property value as a plain record value (text, number, boolean, None)."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return json.dumps(value, ensure_ascii=False)


def _stages(context: SourceContext, name: str) -> frozenset[str]:
    value = context.option(name, DEFAULTS[name])
    if isinstance(value, str):
        value = value.split(",")
    elif not isinstance(value, (list, tuple)):
        value = [value]
    return frozenset(str(v).strip() for v in value if str(v).strip())


# --------------------------------------------------------------------------
# Per-company accumulators
# --------------------------------------------------------------------------

@dataclass
class Tally:
    """One aggregate of one company: a count or a sum, and which records."""

    count: int = 0
    total: Decimal = Decimal(0)
    by_file: dict[str, list[str]] = field(default_factory=dict)
    per_file: dict[str, int] = field(default_factory=dict)
    left_out: list[str] = field(default_factory=list)

    def add(self, file: str, record_id: str, amount: Decimal | None = None) -> None:
        self.count += 1
        if amount is not None:
            self.total += amount
        self.per_file[file] = self.per_file.get(file, 0) + 1
        ids = self.by_file.setdefault(file, [])
        if len(ids) < MAX_IDS:
            ids.append(record_id)


@dataclass
class Aggregate:
    fact: str
    noun: str      # "ticket"
    what: str      # " created 2025-11-02..2026-11-01"
    is_sum: bool


def _number(total: Decimal) -> int | float:
    return int(total) if total == total.to_integral_value() else float(total)


def _describe(agg: Aggregate, tally: Tally | None, files: list[str]) -> str:
    plural = agg.noun + "s"
    if tally is None or not tally.count:
        shown = ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
        text = f"no {plural}{agg.what} in {shown}"
        if agg.is_sum:
            text += " (sum 0)"
    else:
        parts = []
        for file, ids in tally.by_file.items():
            n = tally.per_file[file]
            more = ", ..." if n > len(ids) else ""
            parts.append(f"{file}: {n} {agg.noun if n == 1 else plural}{agg.what} "
                         f"(id{'' if n == 1 else 's'} {', '.join(ids)}{more})")
        text = "; ".join(parts)
        if agg.is_sum:
            text += f"; sum {_number(tally.total)}"
    if tally is not None and tally.left_out:
        text += f"; left out (reported): {agg.noun} {', '.join(tally.left_out[:MAX_IDS])}"
    return text


# --------------------------------------------------------------------------
# The reader
# --------------------------------------------------------------------------

def read_hubspot(location: str, context: SourceContext) -> Iterator[SourceRecord]:
    """Yield one record per HubSpot company of a dump folder or UI export."""
    lower = location.lower()
    if lower.endswith(CSV_SUFFIXES):
        return _read_export(location, context)
    return _read_dump(location, context)


def _read_export(location: str, context: SourceContext) -> Iterator[SourceRecord]:
    handle = open_text(location, context.option("encoding", "utf-8"))
    with handle:
        yield from read_csv_stream(handle, location, context.option("delimiter", ","),
                                   required=context.option("id_column", "Record ID"))


def _read_dump(location: str, context: SourceContext) -> Iterator[SourceRecord]:
    files = page_files(location)
    closed_tickets = _stages(context, "ticket_closed_stages")
    won = _stages(context, "deal_won_stages")
    closed_deals = _stages(context, "deal_closed_stages") | won
    extra_dates = context.option("date_properties", [])
    if isinstance(extra_dates, str):
        extra_dates = extra_dates.split(",")
    date_props = DATE_PROPERTIES | {str(p).strip() for p in extra_dates}
    end = context.as_of
    start = end - dt.timedelta(days=365)
    window = f" created {start + dt.timedelta(days=1)}..{end}"
    closed_window = f" closed {start + dt.timedelta(days=1)}..{end}"
    aggregates = {
        "tickets_12m": Aggregate("tickets_12m", "ticket", window, False),
        "open_tickets": Aggregate("open_tickets", "ticket",
                                  f" open (stage not {', '.join(sorted(closed_tickets))})",
                                  False),
        "won_revenue_12m": Aggregate("won_revenue_12m", "deal",
                                     f" won ({', '.join(sorted(won))}),{closed_window}", True),
        "open_pipeline": Aggregate("open_pipeline", "deal",
                                   f" open (stage not {', '.join(sorted(closed_deals))})", True),
    }

    # Pass 1: which companies exist, and the links they hold.
    live: set[str] = set()
    archived: set[str] = set()
    links: dict[str, dict[str, list[str]]] = {"tickets": {}, "deals": {}}
    for page in _pages(files["companies"], "companies"):
        for row, item in enumerate(page.results, 1):
            if not isinstance(item, dict):
                raise InputError("a result is not a JSON object",
                                 Location(page.file, page.line, page.column, row=row))
            cid = _object_id(item)
            if cid is None:
                continue  # yielded in pass 3 and rejected for its missing id
            # An archived company's links are kept too: its tickets and deals
            # are skipped, not reported as orphans.
            (archived if _archived(item) else live).add(cid)
            for kind in ("tickets", "deals"):
                for target in _associated(item, kind, page, row):
                    owners = links[kind].setdefault(target, [])
                    if cid not in owners:
                        owners.append(cid)

    # Pass 2: tickets and deals into per-company tallies.
    tallies: dict[str, dict[str, Tally]] = {}

    def tally(cid: str, fact: str) -> Tally:
        return tallies.setdefault(cid, {}).setdefault(fact, Tally())

    def related(kind: str) -> Iterator[tuple[Page, int, str, dict[str, Any], list[str],
                                             str | None]]:
        """(page, row, id, properties, companies, orphan message) per live record."""
        noun = kind[:-1]
        seen: set[str] = set()
        for page in _pages(files[kind], kind):
            for row, item in enumerate(page.results, 1):
                if not isinstance(item, dict):
                    raise InputError("a result is not a JSON object",
                                     Location(page.file, page.line, page.column, row=row))
                if _archived(item):
                    continue
                oid = _object_id(item)
                if oid is None:
                    oid = f"(no id, row {row})"
                elif oid in seen:
                    continue  # the same record on two pages counts once
                seen.add(oid)
                linked = list(links[kind].get(oid, ()))
                for cid in _associated(item, "companies", page, row):
                    if cid not in linked:
                        linked.append(cid)
                companies = [c for c in linked if c in live]
                props = item.get("properties")
                props = props if isinstance(props, dict) else {}
                if _blank(props.get("createdate")) and not _blank(item.get("createdAt")):
                    props = {**props, "createdate": item["createdAt"]}
                if companies:
                    yield page, row, oid, props, companies, None
                elif not any(c in archived for c in linked):  # else: an archived company's
                    missing = f" (companies {', '.join(linked)} are not in it)" if linked \
                        else ""
                    yield page, row, oid, props, [], \
                        f"{noun} {oid} is associated with no company in the dump{missing}"

    # Rejects (orphans, records left out of a figure) come after the
    # companies, so `adieu facts --limit N` still shows N customers.
    rejects: list[SourceRecord] = []
    for kind in ("tickets", "deals"):
        count = _count_ticket if kind == "tickets" else _count_deal
        for page, row, oid, props, companies, orphan in related(kind):
            line = page.line if page.line > 1 else None
            if orphan:
                rejects.append(SourceRecord({}, page.file, row, line, error=orphan))
                continue
            found = count(oid, props, page.name, companies, tally, start, end,
                          closed_tickets if kind == "tickets" else closed_deals, won)
            if found:
                rejects.append(SourceRecord(
                    {"hs_object_id": companies[0]}, page.file, row, line,
                    error=f"{kind[:-1]} {oid} (company {', '.join(companies)}): "
                          + "; ".join(found)))

    # Pass 3: one record per company.
    names = {kind: [p.name for p, _ in files[kind]] for kind in KINDS}
    for page in _pages(files["companies"], "companies"):
        for row, item in enumerate(page.results, 1):
            if _archived(item):
                continue
            props = item.get("properties")
            props = props if isinstance(props, dict) else {}
            values = {str(k): _plain(_iso_from_epoch(v) if k in date_props else v)
                      for k, v in props.items()}
            cid = _object_id(item)
            if _blank(values.get("hs_object_id")) and cid is not None:
                values["hs_object_id"] = cid
            provenance: dict[str, str] = {}
            mine = tallies.get(cid or "", {})
            for fact, agg in aggregates.items():
                kind = "tickets" if agg.noun == "ticket" else "deals"
                if not files[kind]:
                    continue  # no tickets saved: the counts are unknown, not 0
                t = mine.get(fact)
                if agg.is_sum:
                    values[fact] = _number(t.total) if t else 0
                else:
                    values[fact] = t.count if t else 0
                provenance[fact] = _describe(agg, t, names[kind])
            yield SourceRecord(values, page.file, row, page.line if page.line > 1 else None,
                               provenance)
    yield from rejects


def _date_or_problem(props: dict[str, Any], name: str, fact: str,
                     problems: list[str]) -> dt.date | None:
    try:
        value = parse_date(props.get(name))
    except ValueError:
        problems.append(f"{name} {props.get(name)!r} is not a date (left out of {fact})")
        return None
    if value is None:
        problems.append(f"no {name} (left out of {fact})")
    return value


def _count_ticket(oid: str, props: dict[str, Any], name: str, companies: list[str],
                  tally: Any, start: dt.date, end: dt.date, closed: frozenset[str],
                  won: frozenset[str]) -> list[str]:
    """Count one ticket for its companies; the problems that left it out of a count."""
    problems: list[str] = []
    created = _date_or_problem(props, "createdate", "tickets_12m", problems)
    stage = props.get("hs_pipeline_stage")
    if _blank(stage):
        problems.append("no hs_pipeline_stage (left out of open_tickets)")
    for cid in companies:
        if created is None:
            tally(cid, "tickets_12m").left_out.append(oid)
        elif start < created <= end:
            tally(cid, "tickets_12m").add(name, oid)
        if _blank(stage):
            tally(cid, "open_tickets").left_out.append(oid)
        elif str(stage).strip() not in closed:
            tally(cid, "open_tickets").add(name, oid)
    return problems


def _count_deal(oid: str, props: dict[str, Any], name: str, companies: list[str],
                tally: Any, start: dt.date, end: dt.date, closed: frozenset[str],
                won: frozenset[str]) -> list[str]:
    """Add one deal to its companies' sums; the problems that left it out of a sum."""
    problems: list[str] = []
    stage = "" if _blank(props.get("dealstage")) else str(props["dealstage"]).strip()
    if not stage:
        problems.append("no dealstage (left out of won_revenue_12m and open_pipeline)")
        for cid in companies:
            tally(cid, "won_revenue_12m").left_out.append(oid)
            tally(cid, "open_pipeline").left_out.append(oid)
        return problems
    if stage in won:
        fact = "won_revenue_12m"
        closed_on = _date_or_problem(props, "closedate", fact, problems)
        if closed_on is not None and not start < closed_on <= end:
            return problems  # won outside the window: not counted, nothing to report
    elif stage not in closed:
        fact = "open_pipeline"
        closed_on = None
    else:
        return problems  # lost (or another closed stage): in no sum
    amount = None
    if not problems:
        try:
            amount = _amount(props.get("amount"))
        except ValueError:
            problems.append(f"amount {props.get('amount')!r} is not a number "
                            f"(left out of {fact})")
        else:
            if amount is None:
                problems.append(f"no amount (left out of {fact})")
    for cid in companies:
        if amount is None:
            tally(cid, fact).left_out.append(oid)
        else:
            tally(cid, fact).add(name, oid, amount)
    return problems


@hookimpl
def register_sources(register):
    register("hubspot", read_hubspot,
             "HubSpot: a folder of CRM v3 API pages (companies*.json, tickets*.json, "
             "deals*.json) or a companies .csv exported from the HubSpot UI; one customer per "
             "company, with ticket and deal counts and sums.",
             mapping=str(Path(__file__).parent / "mappings" / "hubspot.yaml"))
