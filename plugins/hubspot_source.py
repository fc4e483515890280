"""The `hubspot` source: companies with facts derived from their tickets and deals.

Two inputs (docs/sources.md, "HubSpot"):

- a folder of CRM v3 API list pages saved by a paging script:
  ``companies*.json``, ``tickets*.json`` and ``deals*.json``, each page
  ``{"results": [...], "paging": {"next": {"after": ...}}}``. A file may
  hold one page, a JSON array of pages, or one page per line (JSON Lines);
  ``.gz`` files are read as gzip (hubspot_pages). Pages are parsed one at a
  time: what is kept in memory is the set of company ids, the company ->
  ticket/deal links (hubspot_links) and one small accumulator per company,
  never the whole dump.
- a ``.csv`` file exported from the HubSpot UI (headers are property
  labels: "Record ID", "Company name", ...). No tickets or deals then.

One record per company that is not archived: the company's properties as
HubSpot gives them (text; ``id`` as ``hs_object_id`` when that property is
absent) plus four aggregates with their provenance: tickets_12m,
open_tickets, won_revenue_12m, open_pipeline. A ticket or deal associated
with no company of the dump, or one left out of a figure (no amount, no
date), is reported as a reject. A company whose association list is cut
off by paging, with nothing in the dump that can really complete it, or
whose list names a record that is not in the dump (hubspot_links), gets
those figures unknown (None: a missing value, the field is there) and a
warning; a record that may belong to such a list is a warning, not a
reject.

Dates: ISO text with a zone, or epoch milliseconds; each counts by its UTC
date (adieu.utc_date). Amounts: adieu.read_number (ASCII digits, no
separators, below 60 digits; another is left out with a reject), summed
exactly with adieu.add_exact; a sum that cannot be exact is unknown (None)
with a reject naming the company (hubspot_values). The last page of each
kind must have no paging.next; an earlier end page or a gap in the files'
running numbers is a warning (hubspot_pages).

Options (mapping ``options:`` or ``-o KEY=VALUE``; lists may be given as
``a,b,c``): ticket_closed_stages (default ["4"], the Closed stage of
HubSpot's default support pipeline), deal_won_stages (default
["closedwon"]), deal_closed_stages (default ["closedwon", "closedlost"]),
date_properties (more company properties whose epoch-millisecond values
are turned into ISO text), timezone (the zone of date-times written without
one: the UI export writes the account's local time); for the CSV:
encoding, delimiter, id_column (default "Record ID")."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adieu import add_exact, with_zone
from adieu.errors import InputError, Location
from adieu.hookspecs import hookimpl
from adieu.sources import SourceContext, SourceRecord, open_text
from adieu_plugins.csv_source import read_csv_stream, zone_of
from adieu_plugins.hubspot_links import Links, page_carries
from adieu_plugins.hubspot_pages import (
    KINDS,
    Page,
    archived,
    blank,
    object_id,
    page_files,
    pages,
)
from adieu_plugins.hubspot_values import (
    Number,
    as_number,
    iso_from_epoch,
    parse_amount,
    parse_date,
    plain,
    shown,
)

__all__ = ["parse_date", "read_hubspot"]

CSV_SUFFIXES = (".csv", ".csv.gz")

# Every option the reader reads (adieu refuses any other: sources.check_options).
OPTIONS = ("ticket_closed_stages", "deal_won_stages", "deal_closed_stages", "date_properties",
           "timezone", "encoding", "delimiter", "id_column")

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
FACTS = {"tickets": ("tickets_12m", "open_tickets"),
         "deals": ("won_revenue_12m", "open_pipeline")}


def _stages(context: SourceContext, name: str) -> frozenset[str]:
    value = context.option(name, DEFAULTS[name])
    if isinstance(value, str):
        value = value.split(",")
    elif not isinstance(value, (list, tuple)):
        value = [value]
    stages = frozenset(str(v).strip() for v in value if str(v).strip())
    if not stages:  # no stage at all would make every ticket open, no deal won
        raise InputError(f"option {name} names no stage (got {value!r}; give stage ids "
                         "separated by commas)")
    return stages


# --------------------------------------------------------------------------
# Per-company accumulators
# --------------------------------------------------------------------------

@dataclass
class Tally:
    """One aggregate of one company: a count or a sum, and which records."""

    count: int = 0
    total: Number = 0
    by_file: dict[str, list[str]] = field(default_factory=dict)
    per_file: dict[str, int] = field(default_factory=dict)
    left_out: list[str] = field(default_factory=list)
    broken: str | None = None  # why the exact sum is unknown (adieu.add_exact)

    def add(self, file: str, record_id: str, amount: Number | None = None) -> str | None:
        """Count one record (and add its amount); the reason, the first time
        the sum cannot be exact (it is unknown from then on), else None."""
        self.count += 1
        self.per_file[file] = self.per_file.get(file, 0) + 1
        ids = self.by_file.setdefault(file, [])
        if len(ids) < MAX_IDS:
            ids.append(record_id)
        if amount is None or self.broken is not None:
            return None
        try:
            self.total = add_exact(self.total, amount)
        except ValueError as exc:
            self.broken = f"{exc} (adding {record_id})"
            return str(exc)
        return None


@dataclass
class Aggregate:
    fact: str
    noun: str      # "ticket"
    what: str      # " created 2025-11-02..2026-11-01"
    is_sum: bool


def _describe(agg: Aggregate, tally: Tally | None, files: list[str]) -> str:
    plural = agg.noun + "s"
    if tally is None or not tally.count:
        listed = ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
        text = f"no {plural}{agg.what} in {listed}"
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
        if agg.is_sum and tally.broken:
            text += f"; sum unknown: {tally.broken}"
        elif agg.is_sum:
            text += f"; sum {as_number(tally.total)}"
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
    zone = zone_of(context.options, location)
    handle = open_text(location, context.option("encoding", "utf-8"))
    with handle:
        # Where the figures were expected, for a policy that needs one (SourceRecord).
        yield SourceRecord({}, location, provenance=dict.fromkeys(
            (f for facts in FACTS.values() for f in facts),
            "a companies export from the HubSpot UI has no tickets or deals (save an API dump)"))
        yield from read_csv_stream(handle, location, context.option("delimiter", ","),
                                   required=context.option("id_column", "Record ID"),
                                   zone=zone)


def _results(page: Page) -> Iterator[tuple[int, dict[str, Any]]]:
    for row, item in enumerate(page.results, 1):
        if not isinstance(item, dict):
            raise InputError("a result is not a JSON object",
                             Location(page.file, page.line, page.column, row=row))
        yield row, item


def _read_dump(location: str, context: SourceContext) -> Iterator[SourceRecord]:
    files = page_files(location)
    zone = zone_of(context.options, location)
    closed_tickets = _stages(context, "ticket_closed_stages")
    won = _stages(context, "deal_won_stages")
    closed_deals = _stages(context, "deal_closed_stages") | won
    extra_dates = context.option("date_properties", [])
    if isinstance(extra_dates, str):
        extra_dates = extra_dates.split(",")
    extra = {str(p).strip() for p in extra_dates} - {""}
    if extra_dates and not extra:  # "-o date_properties=," names nothing
        raise InputError(f"option date_properties names no property (got {extra_dates!r}; "
                         "give property names separated by commas)")
    date_props = DATE_PROPERTIES | extra
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

    for kind, facts in FACTS.items():
        if not files[kind]:  # where these figures were expected (SourceRecord)
            where = "in the dump" if Path(location).is_dir() else \
                "(the location is a single file of companies pages)"
            yield SourceRecord({}, location, provenance=dict.fromkeys(
                facts, f"no {kind}*.json pages {where}"))

    # Rejects and warnings about pages, tickets and deals come after the
    # companies, so `adieu facts --limit N` still shows N customers.
    after: list[SourceRecord] = []

    # Pass 1: which companies exist, and the links they hold.
    links = Links()
    for page in pages(files["companies"], "companies", after):
        for row, item in _results(page):
            cid = object_id(item)
            if cid is None:
                continue  # yielded in pass 3 and rejected for its missing id
            # An archived company's links are kept too: its tickets and deals
            # are skipped, not reported as orphans.
            links.company(cid, item, page, row, archived(item))

    # Pass 2: tickets and deals into per-company tallies.
    tallies: dict[str, dict[str, Tally]] = {}

    def tally(cid: str, fact: str) -> Tally:
        return tallies.setdefault(cid, {}).setdefault(fact, Tally())

    for kind in ("tickets", "deals"):
        count = _count_ticket if kind == "tickets" else _count_deal
        noun = kind[:-1]
        seen: set[str] = set()
        orphans: list[tuple[Page, int, str, list[str], str]] = []
        for page in pages(files[kind], kind, after):
            line = page.line if page.line > 1 else None
            carries = page_carries(page)
            for row, item in _results(page):
                oid = object_id(item)
                if oid is not None:
                    links.present(kind, oid)
                if archived(item):
                    continue
                if oid is None:
                    oid = f"(no id, row {row})"
                elif oid in seen:
                    continue  # the same record on two pages counts once
                seen.add(oid)
                linked, state = links.record(kind, oid, item, page, row, carries)
                companies = [c for c in linked if c in links.live]
                if not companies:
                    if not any(c in links.archived for c in linked):  # else: archived's
                        orphans.append((page, row, oid, linked, state))
                    continue
                props = item.get("properties")
                props = props if isinstance(props, dict) else {}
                if blank(props.get("createdate")) and not blank(item.get("createdAt")):
                    props = {**props, "createdate": item["createdAt"]}
                found = count(oid, props, page.name, companies, tally, start, end,
                              closed_tickets if kind == "tickets" else closed_deals, won, zone)
                if found:
                    after.append(SourceRecord(
                        {"hs_object_id": companies[0]}, page.file, row, line,
                        error=f"{noun} {oid} (company {', '.join(companies)}): "
                              + "; ".join(found)))
        # Whether a record in no list is an orphan is known once every
        # record of its kind has said what it knows.
        for page, row, oid, linked, state in orphans:
            line = page.line if page.line > 1 else None
            maybe = links.may_belong(kind, state)
            if maybe:
                shown = ", ".join(maybe[:MAX_IDS]) + (", ..." if len(maybe) > MAX_IDS else "")
                lists = f"the list of company {shown} is" if len(maybe) == 1 \
                    else f"the lists of companies {shown} are"
                own = "its own list of companies is cut off too" if state == "cut" \
                    else "it carries no associations.companies"
                after.append(SourceRecord({}, page.file, row, line, warning=(
                    f"{noun} {oid} is in no company's list in the dump, but {lists} cut off "
                    f"by paging and {own}: it may belong to "
                    f"{'it' if len(maybe) == 1 else 'one of them'}, so it is counted nowhere")))
                continue
            missing = f" (companies {', '.join(linked)} are not in it)" if linked else ""
            after.append(SourceRecord({}, page.file, row, line, error=(
                f"{noun} {oid} is associated with no company in the dump{missing}")))

    # Pass 3: one record per company.
    names = {kind: [p.name for p, _ in files[kind]] for kind in KINDS}
    for page in pages(files["companies"], "companies"):
        for row, item in _results(page):
            if archived(item):
                continue
            props = item.get("properties")
            props = props if isinstance(props, dict) else {}
            values = {str(k): plain(_property(v, k in date_props, zone))
                      for k, v in props.items()}
            cid = object_id(item)
            if blank(values.get("hs_object_id")) and cid is not None:
                values["hs_object_id"] = cid
            provenance: dict[str, str] = {}
            warnings: list[str] = []
            mine = tallies.get(cid or "", {})
            for kind, facts in FACTS.items():
                if not files[kind]:
                    continue  # no tickets saved: the counts are unknown, not 0
                why = links.unknown(kind, cid, kind[:-1]) if cid is not None else None
                if why:
                    warnings.append(f"{' and '.join(facts)} unknown: {why}")
                    # None, not left out: the dump has these figures, this
                    # company's are unknown.
                    values.update(dict.fromkeys(facts))
                    continue
                for fact in facts:
                    agg = aggregates[fact]
                    t = mine.get(fact)
                    if not agg.is_sum:
                        values[fact] = t.count if t else 0
                    else:  # None: a sum that cannot be exact is unknown
                        values[fact] = (None if t.broken else as_number(t.total)) if t else 0
                    provenance[fact] = _describe(agg, t, names[kind])
                    cut = links.sides[kind].cut.get(cid or "")
                    if cut:
                        provenance[fact] += (f" (the company's list, cut off by paging in "
                                             f"{cut}, completed by the {kind}' own lists)")
            warning = f"company {cid}: " + "; ".join(warnings) if warnings else None
            yield SourceRecord(values, page.file, row, page.line if page.line > 1 else None,
                               provenance, warning=warning)
    yield from after


def _property(value: Any, is_date: bool, zone: dt.tzinfo | None) -> Any:
    """A company property as passed on: epoch milliseconds of a date property
    as ISO text, and a date-time without a zone in UTC when `zone` is set."""
    if is_date:
        value = iso_from_epoch(value)
    if zone is not None and isinstance(value, str):
        value = with_zone(value, zone)
    return value


def _date_or_problem(props: dict[str, Any], name: str, fact: str,
                     problems: list[str], zone: dt.tzinfo | None) -> dt.date | None:
    try:
        value = parse_date(props.get(name), zone)
    except ValueError as exc:
        problems.append(f"{name}: {exc} (left out of {fact})")
        return None
    if value is None:
        problems.append(f"no {name} (left out of {fact})")
    return value


def _count_ticket(oid: str, props: dict[str, Any], name: str, companies: list[str],
                  tally: Any, start: dt.date, end: dt.date, closed: frozenset[str],
                  won: frozenset[str], zone: dt.tzinfo | None) -> list[str]:
    """Count one ticket for its companies; the problems that left it out of a count."""
    problems: list[str] = []
    created = _date_or_problem(props, "createdate", "tickets_12m", problems, zone)
    stage = props.get("hs_pipeline_stage")
    if blank(stage):
        problems.append("no hs_pipeline_stage (left out of open_tickets)")
    for cid in companies:
        if created is None:
            tally(cid, "tickets_12m").left_out.append(oid)
        elif start < created <= end:
            tally(cid, "tickets_12m").add(name, oid)
        if blank(stage):
            tally(cid, "open_tickets").left_out.append(oid)
        elif str(stage).strip() not in closed:
            tally(cid, "open_tickets").add(name, oid)
    return problems


def _count_deal(oid: str, props: dict[str, Any], name: str, companies: list[str],
                tally: Any, start: dt.date, end: dt.date, closed: frozenset[str],
                won: frozenset[str], zone: dt.tzinfo | None) -> list[str]:
    """Add one deal to its companies' sums; the problems that left it out of a sum."""
    problems: list[str] = []
    stage = "" if blank(props.get("dealstage")) else str(props["dealstage"]).strip()
    if not stage:
        problems.append("no dealstage (left out of won_revenue_12m and open_pipeline)")
        for cid in companies:
            tally(cid, "won_revenue_12m").left_out.append(oid)
            tally(cid, "open_pipeline").left_out.append(oid)
        return problems
    if stage in won:
        fact = "won_revenue_12m"
        closed_on = _date_or_problem(props, "closedate", fact, problems, zone)
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
            amount = parse_amount(props.get("amount"))
        except ValueError as exc:
            problems.append(f"amount {shown(props.get('amount'))}: {exc} "
                            f"(left out of {fact})")
        else:
            if amount is None:
                problems.append(f"no amount (left out of {fact})")
    for cid in companies:
        if amount is None:
            tally(cid, fact).left_out.append(oid)
            continue
        broken = tally(cid, fact).add(name, oid, amount)
        if broken:
            problems.append(f"{fact} of company {cid} cannot be summed exactly with this "
                            f"amount: {broken}; it is unknown, not rounded")
    return problems


@hookimpl
def register_sources(register):
    register("hubspot", read_hubspot,
             "HubSpot: a folder of CRM v3 API pages (companies*.json, tickets*.json, "
             "deals*.json) or a companies .csv exported from the HubSpot UI; one customer per "
             "company, with ticket and deal counts and sums.",
             mapping=str(Path(__file__).parent / "mappings" / "hubspot.yaml"),
             options=OPTIONS)
