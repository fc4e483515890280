"""Does a source carry every fact a policy needs? Near misses in its columns.

A fact a policy uses but that no column of the source provides is not
missing data of a few customers: it is missing for every customer, and
every rule that needs it would be unknown for everyone. That is an error
(exit 2, nothing stored) unless the policy (`allow_missing_facts`) or the
command line (`--allow-missing-facts`) says the source may lack it; then
the run records the missing facts.

The reader API has no header: a source's columns are the union of the
field names of its records (SourceRecord.values keys, empty values
included), each turned into the fact the mapping makes of it. A fact the
mapping gives a `default:` is present. For a CSV file the header is line 1
of the records' file, and errors point there. A fact whose field the reader
says it expected elsewhere (a value-less SourceRecord with a provenance: a
related file's header that lacks a column, an export without the file) is
reported at that place, with the reader's reason.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from .errors import InputError, Location
from .mapping import Mapping, snake_case
from .policy import Policy, canonical_facts
from .templates import template_names

SUGGEST = 0.7   # did-you-mean for a missing fact (as errors.did_you_mean)
NEAR = 0.85     # a column this close to a fact that is present is worth a warning


@dataclass
class ColumnCheck:
    """What a source lacks and what looks like a typo in its columns."""

    missing: list[str] = field(default_factory=list)   # needed, not provided (sorted)
    allowed: list[str] = field(default_factory=list)   # of those: allowed to be missing
    warnings: list[str] = field(default_factory=list)  # one line each, for stderr
    error: InputError | None = None                    # missing facts that are not allowed


def used_facts(policy: Policy) -> dict[str, str]:
    """Facts the policy needs, each with where it is first used: facts named
    by the expressions of derive, rules, exemptions, holds and referrals,
    then facts declared under `facts:`."""
    facts = policy.facts
    out: dict[str, str] = {}

    def add(names: Iterable[str], where: str) -> None:
        for name in sorted(names):
            if name in facts and name not in policy.params and name not in policy.derive:
                out.setdefault(name, where)

    for name, compiled in policy.derive.items():
        add(compiled.names, f"derived fact {name!r}")
    for rule in policy.rules:
        add(rule.when.names, f"rule {rule.id!r}")
    for rule in policy.rules:  # a fact shown only in an explanation is needed too
        if rule.explain:
            add(template_names(rule.explain), f"rule {rule.id!r} explanation")
    for ex in policy.exemptions:
        if ex.when is not None:
            add(ex.when.names, f"exemption {ex.id!r}")
    for hold in policy.holds:
        add(hold.when.names, f"hold {hold.id!r}")
    for i, ref in enumerate(policy.timing.referrals, 1):
        if ref.when is not None:
            add(ref.when.names, f"referral {i}")
    canonical = canonical_facts()
    add((n for n in facts if n not in canonical), "declared under facts")
    return out


def fact_of(mapping: Mapping, source_field: str) -> str | None:
    """The fact a source field becomes under the mapping, or None."""
    rule = mapping.fields.get(source_field)
    return rule.fact if rule is not None else mapping.fact_name(source_field)


def provided(fields: Iterable[str], mapping: Mapping) -> dict[str, str]:
    """Fact -> the first source field (or mapping default) that provides it."""
    out: dict[str, str] = {}
    for name in fields:
        fact = fact_of(mapping, name)
        if fact is not None:
            out.setdefault(fact, f"column {name!r}")
    for rule in mapping.fields.values():
        if rule.default is not None:
            out.setdefault(rule.fact, f"the mapping's default for {rule.source!r}")
    return out


def _key(name: str) -> str:
    return snake_case(name) or name


def _closeness(source_field: str, fact: str) -> float:
    key = _key(source_field)
    if key == fact:
        return 1.0
    return difflib.SequenceMatcher(None, key, fact).ratio()


def nearest(fact: str, candidates: Iterable[str], cutoff: float = SUGGEST,
            n: int = 2) -> list[str]:
    """Source fields whose name (also in snake_case) is close to `fact`, best first."""
    scored = sorted(((_closeness(c, fact), c) for c in candidates), key=lambda t: -t[0])
    return [c for score, c in scored if score >= cutoff][:n]


_TABLE = re.compile(r"\.(csv|tsv|tab|txt)(\.gz)?$", re.IGNORECASE)


def header_location(file: str | None, kind: str = "") -> Location:
    """Where a source's columns are named: line 1 of the records' file when
    it is a table (a `csv:` source, or a .csv/.tsv/.txt file, gzipped or
    not, as inside a Salesforce export), else the file."""
    tabular = kind == "csv" or bool(file and _TABLE.search(file))
    return Location(file, line=1 if tabular else None)


def check_columns(policy: Policy, fields: Iterable[str], mapping: Mapping,
                  location: Location, allow_all: bool = False,
                  absent: dict[str, tuple[Location, str]] | None = None) -> ColumnCheck:
    """Compare the facts the policy needs with those the source's fields
    provide. `fields`: every source field name seen; `location`: where they
    are named (header_location). `absent`: source fields the reader says no
    record has -> (where they were expected, why), from value-less records
    with a provenance (SourceRecord; Intake.absent). The error (if any)
    names, for each missing fact, where the policy uses it and either the
    reader's reason at its place (`Case.csv:1: no IsEscalated column in the
    header`) or the nearest unused column names at `location`; it leads
    with the place of the first. Facts the policy's allow_missing_facts
    lists, or all with allow_all, are only warned about, the same way."""
    fields = list(fields)
    needed = used_facts(policy)
    have = provided(fields, mapping)
    known = {**canonical_facts(), **policy.facts}
    # Columns that are no fact (or an unknown one): what a typo looks like.
    loose = [f for f in fields if fact_of(mapping, f) not in known]
    check = ColumnCheck(missing=sorted(f for f in needed if f not in have))
    check.allowed = [f for f in check.missing if allow_all or f in policy.allow_missing_facts]
    refused = [f for f in check.missing if f not in check.allowed]
    notes: dict[str, tuple[Location, str]] = {}
    for name, note in (absent or {}).items():
        fact = fact_of(mapping, name)
        if fact is not None:
            notes.setdefault(fact, note)

    if refused:
        one = len(refused) == 1
        lead, text = _missing_text(refused, needed, notes, loose, location,
                                   "{noun} the policy uses: ")
        what = "add what is missing to the source, " if any(f in notes for f in refused) \
            else ""
        check.error = InputError(
            text + f"; {what}map a column to {'it' if one else 'each'} with --mapping, or "
                   f"allow {'it' if one else 'them'} to be missing with --allow-missing-facts "
                   "or the policy's allow_missing_facts", lead)
    if check.allowed:
        how = "--allow-missing-facts" if allow_all and not set(check.allowed) <= \
            policy.allow_missing_facts else "the policy's allow_missing_facts"
        lead, text = _missing_text(check.allowed, needed, notes, loose, location)
        check.warnings.append(
            f"warning: {lead}: {text}; allowed to be missing by {how}: every rule that needs "
            f"{'it' if len(check.allowed) == 1 else 'them'} is unknown")
    check.warnings.extend(near_misses(loose, {f: have[f] for f in needed if f in have},
                                      location))
    return check


def _missing_text(facts: list[str], needed: dict[str, str],
                  notes: dict[str, tuple[Location, str]], loose: list[str],
                  location: Location, uses: str = "") -> tuple[Location, str]:
    """(where the message leads, the message) for missing facts: grouped by
    the place and reason the reader gave (a fact without one: no column at
    `location`), each group after the first naming its place. `uses`: what
    comes after "no column for " ({noun} is fact or facts)."""
    groups: dict[tuple[str, str | None], tuple[Location, list[str]]] = {}
    for fact in facts:
        where, why = notes.get(fact, (location, None))
        groups.setdefault((str(where), why), (where, []))[1].append(fact)
    lead = next(iter(groups.values()))[0]
    parts = []
    for (place, why), (_, group) in groups.items():
        at = "" if place == str(lead) else f"{place}: "
        noun = "fact" if len(group) == 1 else "facts"
        if why is None:
            described = []
            for fact in group:
                close = nearest(fact, loose)
                hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
                described.append(f"{fact} ({needed[fact]}{hint})")
            parts.append(f"{at}no column for {uses.format(noun=noun)}" + ", ".join(described))
        else:
            parts.append(f"{at}{why}, so there is no {noun} "
                         + ", ".join(f"{fact} ({needed[fact]})" for fact in group)
                         + " for the policy")
    return lead, "; ".join(parts)


def closest_fact(source_field: str, facts: Iterable[str], cutoff: float = NEAR) -> str | None:
    """The fact closest to a source field's name (also in snake_case), if close enough."""
    best = max(((_closeness(source_field, f), f) for f in facts), default=(0.0, None))
    return best[1] if best[0] >= cutoff else None


def near_misses(loose: Iterable[str], present: dict[str, str], location: Location) \
        -> list[str]:
    """A warning for each unused column that is a near miss of a fact that
    is present anyway (revenue_12mo beside revenue_12m). `present`: fact ->
    what provides it."""
    out = []
    for name in loose:
        fact = closest_fact(name, present)
        if fact is not None:
            out.append(f"warning: {location}: column {name!r} is not used, but it is close "
                       f"to fact {fact}, which comes from {present[fact]}")
    return out


def source_warnings(fields: Iterable[str], mapping: Mapping, location: Location) -> list[str]:
    """Near misses without a policy (`adieu facts`): columns that become no
    canonical fact but are close to one, present or not."""
    fields = list(fields)
    canonical = canonical_facts()
    known = {**canonical, **mapping.fact_types}
    have = provided(fields, mapping)
    out = []
    for name in fields:
        if fact_of(mapping, name) in known:
            continue
        fact = closest_fact(name, canonical)
        if fact is None:
            continue
        if fact in have:
            out.append(f"warning: {location}: column {name!r} is no canonical fact, but it "
                       f"is close to fact {fact}, which comes from {have[fact]}")
        else:
            out.append(f"warning: {location}: column {name!r} is no canonical fact; "
                       f"did you mean fact {fact}? (map it with --mapping)")
    return out
