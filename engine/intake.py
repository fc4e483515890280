"""Read a source into typed customer records, setting bad ones aside."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from . import resources
from .errors import Location
from .facts import Coercer, Record, fact_minimums
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


def read_records(source: Iterable[SourceRecord], fact_types: dict[str, str],
                 mapping: Mapping = IDENTITY, with_provenance: bool = False,
                 keep_undeclared: bool = False) -> Intake:
    """Map and coerce every record once; reject bad ones and duplicates by id.

    fact_types: the facts to keep (canonical + the policy's) and their types;
    other fields are ignored (and listed in columns_ignored), or kept as
    text with keep_undeclared."""
    schema = resources.load_schema("customer.schema.json")
    coercer = Coercer(fact_types, fact_minimums(schema), keep_undeclared)
    intake = Intake()
    first_seen: dict[str, int | None] = {}
    for src in source:
        if not src.values:
            for name, why in src.provenance.items():
                intake.absent.setdefault(name, (Location(src.file, src.line), str(why)))
        if src.error is None and not src.is_note:
            if intake.file is None:
                intake.file = src.file
            if not src.values.keys() <= intake.fields.keys():
                intake.fields.update(dict.fromkeys(src.values))
        mapped, problems, origin = mapping.apply(src.values)
        cid = mapped.get("customer_id")
        cid_text = str(cid).strip() if cid is not None else None
        if src.warning:
            intake.warnings.append(Notice(src.file, src.row, src.line, cid_text or None,
                                          src.warning))
        if src.is_note:
            continue  # a warning only, or a note of absent fields
        if src.error:
            intake.rejects.append(Reject(src.file, src.row, src.line, cid_text, None, None,
                                         src.error))
            continue
        facts, more = coercer.coerce(mapped)
        for problem in more:  # name the source field the value came from
            source_field = origin.get(problem.field, problem.field)
            if source_field != problem.field:
                problem.reason += f" (for fact {problem.field})"
            problem.field = source_field
        problems.extend(more)
        for problem in problems:
            intake.rejects.append(Reject(src.file, src.row, src.line, cid_text or None,
                                         problem.field, _text(problem.value), problem.reason))
        if problems:
            continue
        key = facts["customer_id"]
        if key in first_seen:
            intake.rejects.append(Reject(  # the cell as it was: the evidence
                src.file, src.row, src.line, key, origin.get("customer_id", "customer_id"),
                _text(cid),
                f"duplicate customer_id, first seen at row {first_seen[key]}"))
            continue
        first_seen[key] = src.row
        intake.columns_ignored.update(origin[k] for k in mapped if k not in fact_types)
        provenance = {}
        if with_provenance:
            here = f"{src.file} row {src.row}" if src.row is not None else str(src.file)
            for fact in facts:
                field_name = origin.get(fact, fact)
                provenance[fact] = src.provenance.get(field_name) or f"{here}, {field_name}"
        intake.records.append(Record(facts, src.file, src.row, src.line, provenance))
    return intake


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
