"""The `salesforce` source: a weekly Data Export (the zip that Setup > Data
Export produces, or the folder it unzips to).

Account.csv gives one customer per account. Case.csv, Opportunity.csv and
Contract.csv are optional; each is streamed once, joined to the accounts by
AccountId and folded into a few numbers per account (never the rows
themselves), then Account.csv is streamed and every account comes out with
its own columns plus the derived facts:

    cases_12m            cases created in the last 365 days
    open_cases           cases with IsClosed false
    escalated_cases_12m  cases with IsEscalated true created in the last 365 days
    won_revenue_12m      sum of Amount of won opportunities (IsWon true)
                         with CloseDate in the last 365 days
    open_pipeline        sum of Amount of open opportunities (IsClosed false)
    contract_end         latest EndDate of activated contracts

"In the last 365 days" is after the as-of date minus 365 days and not after
the as-of date. A count or sum over no records is 0; a missing file leaves
its facts missing. Rows with IsDeleted true are skipped, and so are the
rows related to a deleted account. Related rows whose AccountId matches no
account are reported as rejects (orphans), as are amounts and dates that
cannot be read (amounts by adieu.read_number: ASCII digits, no separators,
below 60 digits). Sums are exact (adieu.add_exact); one that cannot be
exact leaves the account's figure unknown (None), with a reject. Custom
Account fields (`Foo__c`) are passed on with booleans, dates and
date-times parsed. Every date-time counts by its UTC
date (adieu.utc_date). Options: encoding (utf-8 with or without a
byte-order mark, cp1252, latin-1), timezone (the zone of date-times written
without one). See docs/sources.md."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from adieu import add_exact, read_number, utc_date
from adieu.errors import InputError, Location
from adieu.hookspecs import hookimpl
from adieu.sources import SourceContext, SourceRecord

from .csv_source import zone_of
from .salesforce_export import ACCOUNT, CASE, CONTRACT, OPPORTUNITY, RELATED, Export

MAPPING = Path(__file__).parent / "mappings" / "salesforce.yaml"


# Which derived facts each related file gives, and the columns each needs.
FACTS = {
    CASE: {"cases_12m": ("CreatedDate",), "open_cases": ("IsClosed",),
           "escalated_cases_12m": ("CreatedDate", "IsEscalated")},
    OPPORTUNITY: {"won_revenue_12m": ("IsWon", "CloseDate", "Amount"),
                  "open_pipeline": ("IsClosed", "Amount")},
    CONTRACT: {"contract_end": ("EndDate",)},
}
SUMS = ("won_revenue_12m", "open_pipeline")
CONTRACT_STATUS = ("Status", "StatusCode")  # either one is enough
WINDOW_DAYS = 365
SAMPLE_ROWS = 3  # row numbers kept per fact for provenance


# ---------------------------------------------------------------------------

def parse_bool(text: str) -> bool:
    t = text.strip().lower()
    if t in ("true", "1"):
        return True
    if t in ("false", "0"):
        return False
    raise ValueError("expected true or false")


def parse_day(text: str) -> dt.date:
    """A Salesforce date (2025-03-04: that date) or date-time
    (2025-03-04T10:15:00.000Z, as the Data Export writes it, in UTC; any
    other zone or offset is converted to UTC) -> its UTC date. A date-time
    without a zone, like anything that is no date, is a ValueError (unless
    the timezone option named its zone: the CSV reader then passed it on
    in UTC)."""
    return utc_date(text)


def parse_amount(text: str) -> int | Decimal:
    """An Amount cell -> int or exact Decimal, by adieu's one rule for
    numbers (adieu.read_number: ASCII digits, no separators, below 60
    digits). ValueError with the reason for "1_000", "١٢", "NaN", "1e400"."""
    return read_number(text)


def custom_value(text: str) -> Any:
    """A custom field's text: "true"/"false" -> bool, a date or a date-time
    with a zone -> its UTC date; anything else as it is (a policy that
    declares the fact a date then gets it rejected, with the reason)."""
    t = text.strip()
    if t.lower() in ("true", "false"):
        return t.lower() == "true"
    try:
        return utc_date(t)
    except ValueError:
        return text


def _plain(value: int | Decimal) -> int | Decimal:
    """A sum as adieu takes numbers: int when whole, else the exact Decimal."""
    if isinstance(value, int):
        return value
    return int(value) if value == value.to_integral_value() else value


# ---------------------------------------------------------------------------
# Per-account accumulators: a few numbers per AccountId, never the rows
# ---------------------------------------------------------------------------

class Tally:
    """A count or an exact sum (adieu.add_exact) with the first few row
    numbers behind it. A sum that cannot be exact is unknown: value None,
    broken says why."""

    __slots__ = ("value", "count", "rows", "broken")

    def __init__(self) -> None:
        self.value: int | Decimal | None = 0
        self.count = 0
        self.rows: list[int] = []
        self.broken: str | None = None

    def add(self, row: int | None, amount: int | Decimal = 1) -> str | None:
        """Count one row (adding its amount); the reason, the first time the
        sum cannot be exact, else None."""
        self.count += 1
        if row is not None and len(self.rows) < SAMPLE_ROWS:
            self.rows.append(row)
        if self.value is None:
            return None
        try:
            self.value = add_exact(self.value, amount)
        except ValueError as exc:
            self.value = None
            self.broken = f"{exc} (adding row {row})" if row is not None else str(exc)
            return str(exc)
        return None


class Totals:
    """What the related files say about one AccountId."""

    __slots__ = ("tallies", "contract_end", "contract_row", "problems")

    def __init__(self) -> None:
        self.tallies: dict[str, Tally] = {}
        self.contract_end: dt.date | None = None
        self.contract_row: int | None = None
        self.problems: list[tuple[str, int | None, int | None, str]] = []

    def tally(self, fact: str, row: int | None, amount: int | Decimal = 1) -> str | None:
        """Count a row into fact (adding amount); why the sum became unknown."""
        t = self.tallies.get(fact)
        if t is None:
            t = self.tallies[fact] = Tally()
        return t.add(row, amount)

    def problem(self, rec: SourceRecord, message: str) -> None:
        self.problems.append((rec.file or "", rec.row, rec.line, message))


class Related:
    """The aggregates of the related files, keyed by AccountId."""

    def __init__(self) -> None:
        self.totals: dict[str, Totals] = {}
        self.files: dict[str, str] = {}  # file -> its label, for files present
        self.facts: dict[str, str] = {}  # derived fact -> label of the file it comes from
        self.notices: list[SourceRecord] = []  # header problems, bad rows

    def of(self, account_id: str) -> Totals:
        totals = self.totals.get(account_id)
        if totals is None:
            totals = self.totals[account_id] = Totals()
        return totals


def _deleted(values: dict[str, Any]) -> bool:
    return str(values.get("IsDeleted", "")).strip().lower() in ("true", "1")


def _in_window(day: dt.date, as_of: dt.date) -> bool:
    return as_of - dt.timedelta(days=WINDOW_DAYS) < day <= as_of


def _read(rec: SourceRecord, column: str, parse: Callable[[str], Any], totals: Totals,
          facts: str) -> Any:
    """A parsed cell, or None after noting why the row is left out of facts."""
    text = str(rec.values.get(column) or "")
    if not text.strip():
        totals.problem(rec, f"{column} is empty; left out of {facts}")
        return None
    try:
        return parse(text)
    except ValueError as exc:
        totals.problem(rec, f"{column} is {text!r}: {exc}; left out of {facts}")
        return None


def _case(rec: SourceRecord, totals: Totals, facts: set[str], as_of: dt.date) -> None:
    created = closed = escalated = None
    dated = sorted(facts & {"cases_12m", "escalated_cases_12m"})
    if dated:
        created = _read(rec, "CreatedDate", parse_day, totals, ", ".join(dated))
    if "open_cases" in facts:
        closed = _read(rec, "IsClosed", parse_bool, totals, "open_cases")
        if closed is False:
            totals.tally("open_cases", rec.row)
    recent = created is not None and _in_window(created, as_of)
    if recent and "cases_12m" in facts:
        totals.tally("cases_12m", rec.row)
    if recent and "escalated_cases_12m" in facts:
        escalated = _read(rec, "IsEscalated", parse_bool, totals, "escalated_cases_12m")
        if escalated:
            totals.tally("escalated_cases_12m", rec.row)


def _opportunity(rec: SourceRecord, totals: Totals, facts: set[str], as_of: dt.date) -> None:
    if "won_revenue_12m" in facts:
        won = _read(rec, "IsWon", parse_bool, totals, "won_revenue_12m")
        if won:
            closed_on = _read(rec, "CloseDate", parse_day, totals, "won_revenue_12m")
            if closed_on is not None and _in_window(closed_on, as_of):
                amount = _read(rec, "Amount", parse_amount, totals, "won_revenue_12m")
                if amount is not None:
                    _sum(rec, totals, "won_revenue_12m", amount)
    if "open_pipeline" in facts:
        closed = _read(rec, "IsClosed", parse_bool, totals, "open_pipeline")
        if closed is False:
            amount = _read(rec, "Amount", parse_amount, totals, "open_pipeline")
            if amount is not None:
                _sum(rec, totals, "open_pipeline", amount)


def _sum(rec: SourceRecord, totals: Totals, fact: str, amount: int | Decimal) -> None:
    """Add an amount to the account's sum; a sum that cannot be exact is
    unknown, reported once at the row that broke it (naming the account)."""
    broken = totals.tally(fact, rec.row, amount)
    if broken:
        text = str(rec.values.get("Amount") or "").strip()
        totals.problem(rec, f"Amount {text!r} cannot be added to the account's {fact} "
                            f"exactly: {broken}; {fact} is unknown, not rounded")


def _contract(rec: SourceRecord, totals: Totals, facts: set[str], as_of: dt.date) -> None:
    if "contract_end" not in facts:
        return
    status = {str(rec.values.get(c) or "").strip().lower() for c in CONTRACT_STATUS}
    if "activated" not in status or not str(rec.values.get("EndDate") or "").strip():
        return  # drafts, contracts in approval, and open-ended contracts give no end
    end = _read(rec, "EndDate", parse_day, totals, "contract_end")
    if end is not None and (totals.contract_end is None or end > totals.contract_end):
        totals.contract_end, totals.contract_row = end, rec.row


HANDLERS = {CASE: _case, OPPORTUNITY: _opportunity, CONTRACT: _contract}


def aggregate_related(export: Export, as_of: dt.date) -> Related:
    """Stream Case, Opportunity and Contract (those present) into per-account
    totals. Memory grows with the number of accounts, not of rows."""
    related = Related()
    for name in RELATED:
        if not export.has(name):
            # Where these facts were expected: a policy that needs one is
            # told of the missing file, not of Account.csv (SourceRecord).
            related.notices.append(SourceRecord(
                {}, export.location, provenance=dict.fromkeys(
                    FACTS[name], f"no {name} in the export")))
            continue
        label = export.label(name)
        related.files[name] = label
        header = export.header(name)
        facts = set(FACTS[name]) if header is None else \
            _usable_facts(name, header, label, related)
        handler = HANDLERS[name]
        for rec in export.rows(name, required="AccountId"):
            if rec.error:
                related.notices.append(rec)
                continue
            if _deleted(rec.values):
                continue
            handler(rec, related.of(str(rec.values.get("AccountId") or "").strip()), facts,
                    as_of)
        for fact in facts:
            related.facts[fact] = label
    return related


def _usable_facts(name: str, header: list[str], label: str, related: Related) -> set[str]:
    """The facts this file's header allows. A fact whose columns are missing
    is reported once, as a reject at line 1 whose provenance says where
    and why the fact is absent (SourceRecord: a policy that needs it is
    refused with that place, not Account.csv's header)."""
    columns = set(header)
    usable = set()
    for fact, needs in FACTS[name].items():
        missing = [c for c in needs if c not in columns]
        if fact == "contract_end" and not columns & set(CONTRACT_STATUS):
            missing.append(" or ".join(CONTRACT_STATUS))
        if missing:
            cols = f"{missing[0]} column" if len(missing) == 1 else \
                f"columns {', '.join(missing[:-1])} and {missing[-1]}"
            why = f"no {cols} in the header"
            related.notices.append(SourceRecord(
                {}, label, None, 1, provenance={fact: why},
                error=f"{why}; {fact} is left missing for every account"))
        else:
            usable.add(fact)
    return usable


# ---------------------------------------------------------------------------
# The reader
# ---------------------------------------------------------------------------

def _provenance(label: str, tally: Tally | None, what: str = "") -> str:
    """'export.zip:Case.csv: 4 rows (rows 12, 40, 41, ...)': the count and the
    first few rows, never the whole list."""
    if tally is None or tally.count == 0:
        return f"{label}: {what}0 rows"
    rows = ", ".join(str(r) for r in tally.rows)
    more = ", ..." if tally.count > len(tally.rows) else ""
    plural = "row" if tally.count == 1 else "rows"
    return f"{label}: {what}{tally.count} {plural} ({plural} {rows}{more})"


def _derived(related: Related, totals: Totals | None) -> tuple[dict[str, Any], dict[str, str]]:
    values: dict[str, Any] = {}
    provenance: dict[str, str] = {}
    for fact, label in related.facts.items():
        if fact == "contract_end":
            # Always the key, empty without an activated contract: the export
            # has the column (a missing value, not a missing column).
            values[fact] = None
            if totals is not None and totals.contract_end is not None:
                values[fact] = totals.contract_end
                provenance[fact] = f"{label} row {totals.contract_row}, EndDate " \
                                   "(latest of the activated contracts)"
            continue
        tally = totals.tallies.get(fact) if totals is not None else None
        value = tally.value if tally is not None else 0
        values[fact] = None if value is None else _plain(value)  # None: unknown
        what = "sum of Amount over " if fact in SUMS else ""
        provenance[fact] = _provenance(label, tally, what)
        if tally is not None and tally.broken:
            provenance[fact] += f"; the sum is unknown: {tally.broken}"
    return values, provenance


def read_salesforce(location: str, context: SourceContext) -> Iterator[SourceRecord]:
    """Yield one record per account of a Data Export, then the orphans."""
    zone = zone_of(context.options, location)
    with Export(location, context.option("encoding", "utf-8"), zone) as export:
        if not export.has(ACCOUNT):
            files = ", ".join(f.rsplit("/", 1)[-1] for f in export.found[:6]) or "nothing"
            more = ", ..." if len(export.found) > 6 else ""
            raise InputError(f"no {ACCOUNT} in the export (found: {files}{more})",
                             Location(location))
        related = aggregate_related(export, context.as_of)
        yield from related.notices
        seen: set[str] = set()  # every account id, deleted ones included
        for rec in export.rows(ACCOUNT, required="Id"):
            account_id = str(rec.values.get("Id") or "").strip()
            seen.add(account_id)
            if rec.error:
                yield rec
                continue
            totals = related.totals.get(account_id)
            if _deleted(rec.values):
                continue
            values = {name: custom_value(value) if name.endswith("__c") else value
                      for name, value in rec.values.items()}
            derived, provenance = _derived(related, totals)
            values.update(derived)
            yield SourceRecord(values, rec.file, rec.row, rec.line, provenance)
            if totals is not None:  # amounts and dates left out: reported once
                problems, totals.problems = totals.problems, []
                # The reject names the customer by whatever field the mapping takes
                # the customer_id from (Id by default).
                who = {f: rec.values[f] for f in getattr(context, "id_fields", ["Id"])
                       if f in rec.values} or {"Id": account_id}
                for file, row, line, message in problems:
                    yield SourceRecord(who, file, row, line, error=message)
        orphans = set(related.totals) - seen
        if orphans:
            yield from _orphans(export, orphans)


def _orphans(export: Export, orphans: set[str]) -> Iterator[SourceRecord]:
    """A second pass over the related files, only when some rows belong to no
    account: one reject per such row."""
    for name in RELATED:
        if not export.has(name):
            continue
        for rec in export.rows(name, required="AccountId"):
            if rec.error or _deleted(rec.values):
                continue
            account_id = str(rec.values.get("AccountId") or "").strip()
            if account_id not in orphans:
                continue
            reason = f"AccountId {account_id} matches no account" if account_id \
                else "AccountId is empty: the row belongs to no account"
            record_id = str(rec.values.get("Id") or "").strip()
            if record_id:
                reason += f" ({name.removesuffix('.csv')} {record_id})"
            yield SourceRecord({}, rec.file, rec.row, rec.line, error=reason)


@hookimpl
def register_sources(register):
    register("salesforce", read_salesforce,
             "A Salesforce weekly Data Export (.zip or its folder): one customer per "
             "Account, with cases, opportunities and contracts aggregated per account.",
             mapping=str(MAPPING),
             options=("encoding", "timezone"))
