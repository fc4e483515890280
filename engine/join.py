"""Several sources in one run: pair each --source with its mapping, read
each, and join their customers by id (a full outer join).

Rules (docs/sources.md, "Several sources"):

- Each source is read, mapped and coerced on its own, exactly as a single
  source is; a duplicate id within one source is a reject there, as ever.
- A customer's facts are the union of what every source says about it. A
  customer found in only some sources is decided on what is there; the
  facts no source gives are unknown as usual.
- A fact two sources give with equal values (1000 and 1000.00 are equal) is
  that value. A value a mapping's `default:` filled in yields to a value
  another source read. With different values it is a conflict: the customer is a
  reject naming both places and both values, unless `--prefer` ranks one of
  the sources above the other; then the preferred source's value is used.
- A customer whose record one source rejected (a bad value; not a duplicate
  row, nor a related record such as a Salesforce case of a customer the
  source still has) is not decided on the other sources' records either:
  each of those is set aside with a reject that points at the first.
- The account owner (`owner`, `owner_id`) is compared as the reviewer check
  compares it (engine/names.py): a placeholder ('N/A', '-', empty) yields to
  an owner another source names; two spellings of the same person ('Chloe
  Martin', 'chloe  martin', 'Martin, Chloe') are no conflict and the first
  is kept. Different owners are a conflict as above; where --prefer settles
  it, the preferred owner is the fact and the overruled ones are kept in
  `other_owners` / `other_owner_ids` ("; " between them), so the reviewer
  may be none of them.
- Each fact keeps its provenance: "KIND:FILE row N, FIELD" (or the reader's
  own note for an aggregate), stored with the decision.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from . import decimals
from .columns import ColumnCheck, check_columns, fact_of, header_location, provided
from .errors import InputError, Location
from .facts import Record
from .intake import Intake, Reject
from .mapping import IDENTITY, Mapping
from .names import OTHER_OWNER_IDS, OTHER_OWNERS, OWNER, OWNER_ID, no_owner, same_owner
from .policy import Policy
from .sources import SourceKind, parse_source

DEFAULT_MAPPING = "-"  # `--mapping -`: this source keeps its kind's own mapping


@dataclass
class SourceSpec:
    """One --source with the mapping file paired with it (None: the kind's own)."""

    text: str                 # KIND:LOCATION as given
    kind: SourceKind
    location: str
    mapping_file: str | None = None

    @property
    def label(self) -> str:
        return self.kind.kind


@dataclass
class SourcePart:
    """One source read on its own."""

    spec: SourceSpec
    intake: Intake
    mapping: Mapping


def pair_sources(sources: Iterable[str], mappings: Iterable[str] | None,
                 kinds: dict[str, SourceKind]) -> list[SourceSpec]:
    """Each source with its mapping: no --mapping (every source keeps its
    kind's own), or exactly one --mapping per --source, paired in order
    (`-` keeps that source's kind's own mapping). Raises InputError (exit 2)
    for any other count and for a source given twice."""
    sources = list(sources)
    mappings = list(mappings or [])
    if not sources:
        raise InputError("no --source given")
    if mappings and len(mappings) != len(sources):
        raise InputError(
            f"{len(mappings)} --mapping for {len(sources)} --source: give one --mapping per "
            "--source, in the same order (`--mapping -` keeps a source kind's own mapping), "
            "or none")
    seen: set[str] = set()
    specs = []
    for i, text in enumerate(sources):
        if text in seen:
            raise InputError(f"source {text!r} is given twice")
        seen.add(text)
        kind, location = parse_source(text, kinds)
        chosen = mappings[i] if mappings else None
        specs.append(SourceSpec(text, kind, location,
                                None if chosen in (None, DEFAULT_MAPPING) else chosen))
    return specs


def parse_prefer(prefer: Iterable[str] | None, specs: list[SourceSpec]) -> list[int]:
    """--prefer KIND[,KIND...] (repeatable) as source positions, most
    preferred first. An item is a source kind that names exactly one of the
    sources, or a whole KIND:LOCATION as given. Raises InputError (exit 2)
    for an item that names no source or several, or one named twice."""
    order: list[int] = []
    for item in (part.strip() for group in (prefer or ()) for part in group.split(",")):
        if not item:
            continue
        hits = [i for i, s in enumerate(specs) if s.text == item] or \
            [i for i, s in enumerate(specs) if s.kind.kind == item]
        if not hits:
            raise InputError(f"--prefer {item!r} names none of the sources "
                             f"({', '.join(s.text for s in specs)})")
        if len(hits) > 1:
            raise InputError(f"--prefer {item!r} names {len(hits)} sources; name one as "
                             f"KIND:LOCATION ({', '.join(specs[i].text for i in hits)})")
        if hits[0] in order:
            raise InputError(f"--prefer names source {specs[hits[0]].text!r} twice")
        order.append(hits[0])
    return order


def _shown(value: Any) -> str:
    if isinstance(value, Decimal):
        return decimals.plain_text(value)
    return repr(value) if isinstance(value, str) else str(value)


def _place(spec: SourceSpec, record: Record) -> str:
    where = f"{spec.kind.kind}:{record.file}"
    return f"{where} row {record.row}" if record.row is not None else where


def _duplicate(reject: Reject) -> bool:
    return reject.reason.startswith("duplicate customer_id")


def join(parts: list[SourcePart], prefer: list[int] | None = None) -> Intake:
    """Join the parts' customers by id (full outer join) into one Intake:
    records in the order first seen (the first source's first), each with
    the file and row of the first source that has it and a provenance per
    fact; every part's rejects and warnings, plus a reject per conflicting
    fact (see the module docstring). `prefer`: source positions, most
    preferred first."""
    rank = {pos: i for i, pos in enumerate(prefer or [])}
    unranked = len(rank)
    out = Intake()
    refused: dict[str, str] = {}  # customer id -> the place its record was rejected
    for part in parts:
        out.rejects.extend(part.intake.rejects)
        out.warnings.extend(part.intake.warnings)
        out.columns_ignored |= part.intake.columns_ignored
        if out.file is None:
            out.file = part.intake.file
        decided = {record.customer_id for record in part.intake.records}
        for r in part.intake.rejects:
            # The customer's own record was set aside (not a related record
            # of a customer the source still has, nor a duplicate row).
            if r.customer_id and not _duplicate(r) and r.customer_id not in decided:
                where = f"{part.spec.kind.kind}:{r.file}" + \
                    (f" row {r.row}" if r.row is not None else "")
                refused.setdefault(r.customer_id, where)
    # customer id -> [(position, record)]
    found: dict[str, list[tuple[int, Record]]] = {}
    for pos, part in enumerate(parts):
        for record in part.intake.records:
            found.setdefault(record.customer_id, []).append((pos, record))
    for cid, entries in found.items():
        if cid in refused:
            for _pos, record in entries:
                out.rejects.append(Reject(record.file, record.row, record.line, cid, None,
                                          None, f"not decided: the record of {cid} in "
                                          f"{refused[cid]} was rejected"))
            continue
        facts: dict[str, Any] = {}
        provenance: dict[str, str] = {}
        giver: dict[str, tuple[int, Record]] = {}
        conflicts: list[Reject] = []
        overruled: dict[str, list[tuple[str, str]]] = {}  # owner fact -> [(value, provenance)]
        for pos, record in entries:
            for name, value in record.facts.items():
                prov = f"{parts[pos].spec.kind.kind}:{record.provenance[name]}" \
                    if name in record.provenance else _place(parts[pos].spec, record)
                if name not in facts:
                    facts[name], provenance[name], giver[name] = value, prov, (pos, record)
                    continue
                if _equal(facts[name], value) or _defaulted(prov):
                    continue
                if _defaulted(provenance[name]) or (name in _OWNERS and no_owner(facts[name])
                                                    and not no_owner(value)):
                    # a value read beats a mapping's default, an owner a placeholder
                    facts[name], provenance[name], giver[name] = value, prov, (pos, record)
                    continue
                if name in _OWNERS and (no_owner(value) or same_owner(name, facts[name], value)):
                    continue  # a placeholder, or the same owner spelled otherwise
                first_pos, first = giver[name]
                a, b = rank.get(first_pos, unranked), rank.get(pos, unranked)
                if a != b:
                    loser = (facts[name], provenance[name]) if b < a else (value, prov)
                    if b < a:
                        facts[name], provenance[name], giver[name] = value, prov, (pos, record)
                    if name in _OWNERS:
                        overruled.setdefault(name, []).append(loser)
                    continue
                conflicts.append(Reject(
                    first.file, first.row, first.line, cid, name, _shown(facts[name]),
                    f"sources disagree on {name}: {_place(parts[first_pos].spec, first)} has "
                    f"{_shown(facts[name])}, {_place(parts[pos].spec, record)} has "
                    f"{_shown(value)} (fix one, or rank them with --prefer)"))
        if conflicts:
            out.rejects.extend(conflicts)
            continue
        for name, others in overruled.items():
            key = _OWNERS[name]
            facts[key] = "; ".join(str(value) for value, _prov in others)
            provenance[key] = "; ".join(prov for _value, prov in others)
        first_pos, first = entries[0]
        out.records.append(Record(facts, first.file, first.row, first.line, provenance))
    return out


_OWNERS = {OWNER: OTHER_OWNERS, OWNER_ID: OTHER_OWNER_IDS}


def _defaulted(provenance: str) -> bool:
    """Did the value come from a mapping's `default:` (mapping.Mapping.apply
    names its origin "default of FIELD")?"""
    return ", default of " in provenance


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return type(a) is type(b) and a == b or (decimals.is_number(a) and decimals.is_number(b)
                                             and a == b)


def check_joined_columns(policy: Policy, parts: list[SourcePart],
                         allow_all: bool = False) -> ColumnCheck:
    """engine.columns.check_columns over the union of every source's columns:
    a fact is missing only if no source provides it (present in one source
    but not in another is no missing column). Errors lead at the first
    source's header."""
    names: dict[str, None] = {}
    absent: dict[str, tuple[Location, str]] = {}
    for part in parts:
        names.update(dict.fromkeys(provided(part.intake.fields, part.mapping)))
        for name in part.intake.fields:  # columns that give no fact: near-miss candidates
            if fact_of(part.mapping, name) is None:
                names.setdefault(name, None)
        for name, note in part.intake.absent.items():
            fact = fact_of(part.mapping, name)
            if fact is not None:
                absent.setdefault(fact, note)
    first = next((p for p in parts if p.intake.file is not None), parts[0])
    location = header_location(first.intake.file, first.spec.kind.kind)
    check = check_columns(policy, names, IDENTITY, location, allow_all,
                          {k: v for k, v in absent.items() if k not in names})
    if check.error is not None:
        check.error = InputError(check.error.message.replace(
            "no column for ", f"none of the {len(parts)} sources has a column for ", 1),
            check.error.location)
    return check

