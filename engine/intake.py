"""Read a source into typed customer records, setting bad ones aside."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from . import resources
from .coerceplan import Planner
from .errors import Location
from .facts import Coercer, Record, fact_minimums
from .idindex import IdIndex
from .mapping import IDENTITY, Mapping
from .sources import SourceRecord


@dataclass
class Reject:
    """A record set aside, with where it came from and why."""

    file: str | None
    row: int | None
    line: int | None
    customer_id: str | None
    field: str | None
    value: str | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else str(self.file)
        detail = ", ".join(p for p in (f"row {self.row}" if self.row is not None else "",
                                       f"field {self.field!r}" if self.field else "") if p)
        return f"{where}: {detail}: {self.reason}" if detail else f"{where}: {self.reason}"


@dataclass
class Notice:
    """A reader's warning (SourceRecord.warning): printed, not a reject."""

    file: str | None
    row: int | None
    line: int | None
    customer_id: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else str(self.file)
        if self.row is not None:
            where += f": row {self.row}"
        return f"{where}: {self.message}"


@dataclass
class Intake:
    records: list[Record] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    columns_ignored: set[str] = field(default_factory=set)
    warnings: list[Notice] = field(default_factory=list)
    # Every source field name seen in a customer record (empty values too):
    # the source's columns, for engine.columns. file: the first such record's.
    fields: dict[str, None] = field(default_factory=dict)
    file: str | None = None
    # Source fields no record has, with where they were expected and why
    # (value-less records with a provenance: SourceRecord), for engine.columns.
    absent: dict[str, tuple[Location, str]] = field(default_factory=dict)

    @property
    def rejected_rows(self) -> int:
        """Rows set aside (a row with several bad fields counts once)."""
        return len({(r.file, r.row, r.line) for r in self.rejects})


@dataclass
class StreamState:
    """The side facts of one read (stream_records), filled in as it goes and
    complete when the stream is exhausted: the same fields as Intake's.

    fields: every source field name seen in a customer record (empty values
    too), in first-seen order; file: the first such record's file; absent:
    source fields no record has -> (where expected, why); columns_ignored:
    source fields of accepted records that became no declared fact;
    warnings: every Notice, also yielded in order."""

    columns_ignored: set[str] = field(default_factory=set)
    warnings: list[Notice] = field(default_factory=list)
    fields: dict[str, None] = field(default_factory=dict)
    file: str | None = None
    absent: dict[str, tuple[Location, str]] = field(default_factory=dict)


def stream_records(source: Iterable[SourceRecord], fact_types: dict[str, str],
                   mapping: Mapping = IDENTITY, with_provenance: bool = False,
                   keep_undeclared: bool = False, ids: IdIndex | None = None,
                   state: StreamState | None = None) -> Iterator[Record | Reject | Notice]:
    """Map and coerce every record of `source`, one at a time, in source order.

    Yields a Record per accepted customer, a Reject per bad field (a row
    with several bad fields gives several, one after another) or duplicate
    id, and a Notice per reader warning (also kept in state.warnings). The
    side facts (StreamState) are filled in on `state` (pass one in to read
    them; they are complete once the stream is exhausted).

    fact_types: the facts to keep (canonical + the policy's) and their
    types; other fields are ignored (and listed in columns_ignored), or kept
    as text with keep_undeclared. ids: the duplicate index (IdIndex, one
    per source; a new one if not given); pass the same index to read the
    same source a second time and have exactly the same rows rejected as
    duplicates (the stream rewinds it first); the caller closes an index it
    passes, a stream's own index is closed (its temporary file removed)
    when the stream ends or is closed.
    Memory: nothing is kept per record except in `ids` (about 12 bytes per
    distinct id, engine.idindex).

    Each source header is read by a plan made once (engine.coerceplan);
    records with an error or a warning, and notes, by mapping.apply +
    Coercer, the reference the plan is tested against."""
    schema = resources.load_schema("customer.schema.json")
    coercer = Coercer(fact_types, fact_minimums(schema), keep_undeclared)
    state = state if state is not None else StreamState()
    if ids is None:  # an index of its own, removed when the stream ends
        with IdIndex() as own:
            yield from _stream(source, fact_types, mapping, with_provenance, coercer, own,
                               state)
        return
    yield from _stream(source, fact_types, mapping, with_provenance, coercer, ids, state)


def _stream(source: Iterable[SourceRecord], fact_types: dict[str, str], mapping: Mapping,
            with_provenance: bool, coercer: Coercer, ids: IdIndex,
            state: StreamState) -> Iterator[Record | Reject | Notice]:
    planner = Planner(mapping, coercer, fact_types)
    ids.rewind()
    ignored = state.columns_ignored
    for src in source:
        values = src.values
        plan = planner.plan(values) if values and src.error is None and src.warning is None \
            else None
        if plan is not None:  # the common record: read by the header's plan
            if state.file is None:
                state.file = src.file
            if not plan.recorded:
                state.fields.update(dict.fromkeys(values))
                plan.recorded = True
            cid, facts, problems, origin, row_ignored = plan.read(values)
        else:
            if not values:
                for name, why in src.provenance.items():
                    state.absent.setdefault(name, (Location(src.file, src.line), str(why)))
            if src.error is None and not src.is_note:
                if state.file is None:
                    state.file = src.file
                if not values.keys() <= state.fields.keys():
                    state.fields.update(dict.fromkeys(values))
            mapped, problems, origin = mapping.apply(values)
            cid = mapped.get("customer_id")
            cid_text = str(cid).strip() if cid is not None else None
            if src.warning:
                notice = Notice(src.file, src.row, src.line, cid_text or None, src.warning)
                state.warnings.append(notice)
                yield notice
            if src.is_note:
                continue  # a warning only, or a note of absent fields
            if src.error:
                yield Reject(src.file, src.row, src.line, cid_text, None, None, src.error)
                continue
            facts, more = coercer.coerce(mapped)
            for problem in more:  # name the source field the value came from
                source_field = origin.get(problem.field, problem.field)
                if source_field != problem.field:
                    problem.reason += f" (for fact {problem.field})"
                problem.field = source_field
            problems.extend(more)
            row_ignored = [origin[k] for k in mapped if k not in fact_types]
        if problems:
            cid_text = str(cid).strip() if cid is not None else None
            for problem in problems:
                yield Reject(src.file, src.row, src.line, cid_text or None,
                             problem.field, _text(problem.value), problem.reason)
            continue
        key = facts["customer_id"]
        duplicate, first = ids.check(key, src.row)
        if duplicate:
            yield Reject(  # the cell as it was: the evidence
                src.file, src.row, src.line, key, origin.get("customer_id", "customer_id"),
                _text(cid), f"duplicate customer_id, first seen at row {first}")
            continue
        if row_ignored:
            ignored.update(row_ignored)
        provenance = {}
        if with_provenance:
            here = f"{src.file} row {src.row}" if src.row is not None else str(src.file)
            for fact in facts:
                field_name = origin.get(fact, fact)
                provenance[fact] = src.provenance.get(field_name) or f"{here}, {field_name}"
        yield Record(facts, src.file, src.row, src.line, provenance)


def read_records(source: Iterable[SourceRecord], fact_types: dict[str, str],
                 mapping: Mapping = IDENTITY, with_provenance: bool = False,
                 keep_undeclared: bool = False) -> Intake:
    """Map and coerce every record once; reject bad ones and duplicates by id
    (stream_records, gathered in memory).

    fact_types: the facts to keep (canonical + the policy's) and their types;
    other fields are ignored (and listed in columns_ignored), or kept as
    text with keep_undeclared."""
    state = StreamState()
    intake = Intake()
    records, rejects = intake.records, intake.rejects
    with IdIndex() as ids:
        for item in stream_records(source, fact_types, mapping, with_provenance,
                                   keep_undeclared, ids, state):
            if type(item) is Record:
                records.append(item)
            elif type(item) is Reject:
                rejects.append(item)
    intake.columns_ignored = state.columns_ignored
    intake.warnings = state.warnings
    intake.fields = state.fields
    intake.file = state.file
    intake.absent = state.absent
    return intake


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
