"""Segments: which kinds of customer produce the most strikes and
offboards, per customer in the segment (`adieu segments`, and the segment
table of `adieu report`).

A segment is the set of a run's customers that share one value of a fact
(or of a derived fact of the run's policy). Values become segment labels so:

- text (industry, channel, size ...): the value itself;
- true/false: "true" / "false";
- a date: its year ("2027");
- a whole number from -9 to 9 of a fact of type integer (or a derived
  fact): the number itself (0, 1, 2 ... late payments);
- any other number: a band of a 1-2-5 ladder of powers of ten, e.g.
  "10,000 <= x < 20,000", "20,000 <= x < 50,000", "50,000 <= x < 100,000";
  negative values in the mirror bands ("-2,000 < x <= -1,000"), 0 on its own.
  Bands need one pass and no knowledge of the other values, so the same
  value is in the same band in every run, and compare exactly (Decimal);
- a missing fact: "(missing)"; a derived fact that cannot be computed
  (a fact it needs is missing): "(unknown)". These two are markers, not
  values: a text value spelt "(missing)" is a segment of its own (the
  row's `segment` is the value, `missing` false) and the marker's row has
  `segment` None and `missing` true.

A label is the value as stored: two values that only look alike
("retail" and "retaіl" with a Cyrillic 'і', "re<zero-width space>tail")
are two segments, so the data problem stays in sight. Each row's
`escaped` is the label with the letters that pass for Latin ones
(names.look_alike_escaped) and the characters that do not show
(safe_text.visible) escaped: "reta\\u0456l", "re\\u200btail"; a
backslash in a value is doubled ("a\\\\u0456b" for the six characters
a\\u0456b as typed), so a typed escape never shows as the escape of a
look-alike; a value spelt like a marker is shown "\\(missing)"; a marker's
`escaped` is its label ("(missing)"); None when the value is shown as it
is. The text table and the report show it in place of the label; JSON and
CSV give both.

Per segment: customers, strikes (the active strikes on the ladder in the
run's decisions, decisions.strikes, summed), offboards (decisions whose
outcome is offboard), and per customer: strikes_per_customer (2 decimals)
and offboards_per_customer (a share, 4 decimals), rounded half-even from
the exact ratio. Rows are sorted per fact by offboards_per_customer, then
strikes_per_customer (highest first), then segment size (largest first),
then label.

Memory is bounded by the number of segments, not customers: a fact with
more than MAX_SEGMENTS distinct labels is refused (InputError)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlite_utils

from . import jsontext
from .columns import used_facts
from .errors import InputError, did_you_mean
from .facts import from_json_facts
from .names import look_alike_escaped
from .plugin_record import compile_run_policy
from .plugins import registry
from .policy import Policy, canonical_facts
from .popstats import StatsPopulation
from .run_writer import read_decisions
from .safe_text import visible
from .values import UNKNOWN, Context

DEFAULT_SEGMENTS = ("industry", "channel", "size")
MAX_SEGMENTS = 1000
MISSING = "(missing)"
UNKNOWN_LABEL = "(unknown)"
# Facts the decision reads whatever the policy's expressions say (timing).
TIMING_FACTS = ("contract_end",)
_CENT = Decimal("0.01")
_SHARE = Decimal("0.0001")


def _grouped(value: Decimal) -> str:
    """A band bound with thousands separators, exact (no float): 20,000 / 0.05."""
    text = format(value.normalize(), "f")
    whole, dot, frac = text.partition(".")
    sign = "-" if whole.startswith("-") else ""
    whole = whole.lstrip("-")
    groups = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    return sign + ",".join(groups) + (dot + frac if frac else "")


def number_band(value: int | Decimal) -> tuple[Decimal, str]:
    """(sort key, label) of a number's band on the 1-2-5 ladder (module
    docstring). Exact: bounds are Decimals, never floats."""
    if value == 0:
        return Decimal(0), "0"
    magnitude = abs(Decimal(value))
    power = Decimal(1).scaleb(magnitude.adjusted())
    lead = magnitude / power
    low = power * (1 if lead < 2 else 2 if lead < 5 else 5)
    high = power * (2 if lead < 2 else 5 if lead < 5 else 10)
    if value > 0:
        return low, f"{_grouped(low)} <= x < {_grouped(high)}"
    return -high, f"{_grouped(-high)} < x <= {_grouped(-low)}"


def label_of(value: Any, kind: str | None = None) -> tuple[Any, str]:
    """(sort key, label) of one fact value as a segment (module docstring).
    kind: the fact's declared type (date, number, integer ...); None for a
    derived fact."""
    if value is None:
        return (2, ""), MISSING
    if value is UNKNOWN:
        return (3, ""), UNKNOWN_LABEL
    if isinstance(value, bool):
        return (0, str(value).lower()), str(value).lower()
    if isinstance(value, dt.date) or (kind == "date" and isinstance(value, str)):
        year = str(value)[:4]
        return (0, year), year
    if isinstance(value, int) and kind in (None, "integer") and -10 < value < 10:
        return (1, Decimal(value)), str(value)
    if isinstance(value, (int, Decimal)):
        key, label = number_band(value)
        return (1, key), label
    text = str(value)
    return (0, text), text


MARKERS = (MISSING, UNKNOWN_LABEL)


def escaped(label: str) -> str | None:
    """A value's label as shown, when that is not the label itself: letters of
    other scripts that pass for Latin ones (names.look_alike_escaped) and
    characters that do not show (safe_text.visible) as \\u escapes
    ("reta\\u0456l", "re\\u200btail"), a backslash doubled (a typed
    "a\\u0456b" is "a\\\\u0456b", never the look-alike's escape) and a
    value spelt like a marker preceded by one ("\\(missing)"); None for a
    label shown as it is."""
    plain = label.replace("\\", "\\\\")
    shown = visible(look_alike_escaped(plain) or plain)
    if shown in MARKERS:
        shown = "\\" + shown
    return shown if shown != label else None


def hidden_escaped(label: str) -> bool:
    """Whether the label has letters passing for Latin ones or characters
    that do not show (the note under the text table counts these)."""
    return visible(look_alike_escaped(label) or label) != label


@dataclass
class _Tally:
    key: Any
    customers: int = 0
    strikes: int = 0
    offboards: int = 0


@dataclass
class Segmenter:
    """Counts a run's decisions into segments of each fact in `names`;
    add() one decision at a time, rows() at the end. Memory: one tally per
    segment (at most MAX_SEGMENTS per fact)."""

    names: list[str]
    kinds: dict[str, str] = field(default_factory=dict)
    tallies: dict[str, dict[str, _Tally]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.names = list(dict.fromkeys(self.names))  # a fact named twice counts once

    def add(self, value_of: Callable[[str], Any], outcome: str, strikes: int | None) -> None:
        """value_of(name) -> the customer's value (None if missing)."""
        for name in self.names:
            value = value_of(name)
            key, label = label_of(value, self.kinds.get(name))
            slot = (label, value is None or value is UNKNOWN)  # a marker is no value
            per_fact = self.tallies.setdefault(name, {})
            tally = per_fact.get(slot)
            if tally is None:
                if len(per_fact) >= MAX_SEGMENTS:
                    raise InputError(
                        f"{name!r} has more than {MAX_SEGMENTS:,} distinct values: too many "
                        "to be segments (numbers are banded; choose a fact such as "
                        "industry, channel or size)")
                tally = per_fact[slot] = _Tally(key)
            tally.customers += 1
            tally.strikes += strikes or 0
            tally.offboards += outcome == "offboard"

    def rows(self) -> list[dict[str, Any]]:
        """One dict per segment: fact, segment, customers, strikes,
        strikes_per_customer (Decimal, 2 places), offboards,
        offboards_per_customer (Decimal share, 4 places), escaped (the
        label as shown, if it differs: escaped(); a marker's label),
        missing (True for the marker of a missing fact or a derived fact
        that could not be computed, whose segment is None); sorted as the
        module docstring says."""
        out = []
        for name in self.names:
            rows = []
            for (label, marker), t in self.tallies.get(name, {}).items():
                rows.append({
                    "fact": name, "segment": None if marker else label,
                    "missing": marker, "customers": t.customers,
                    "strikes": t.strikes,
                    "strikes_per_customer": (Decimal(t.strikes) / t.customers).quantize(_CENT),
                    "offboards": t.offboards,
                    "offboards_per_customer":
                        (Decimal(t.offboards) / t.customers).quantize(_SHARE),
                    "escaped": label if marker else escaped(label),
                    "_order": (-Decimal(t.offboards) / t.customers,
                               -Decimal(t.strikes) / t.customers, -t.customers, label,
                               marker)})
            rows.sort(key=lambda r: r["_order"])
            for r in rows:
                del r["_order"]
            out.extend(rows)
        return out


class RunFacts:
    """A stored run's facts and the derived facts of its stored policy, per
    decision row: `values(row)` gives a value_of(name) function. Derived
    facts see the run's stored population figures (runs.population), so
    they have the values the run decided with.

    The run's facts are those some decision of the run stores
    (runs.fact_keys; for a run made before that column existed, read from
    its decisions in `db`) and those its policy uses (columns.used_facts,
    and contract_end, which timing reads), so a fact a customer lacks is
    "(missing)" while a canonical fact the run never had is no fact of it.

    Raises InputError if the run's policy needs a plugin that is gone."""

    def __init__(self, run: dict[str, Any], db: sqlite_utils.Database | None = None):
        self.run = run
        self.db = db
        self.policy: Policy = compile_run_policy(run, registry())
        self.as_of = dt.date.fromisoformat(run["as_of"])
        stats = jsontext.loads(run["population"] or "{}")
        self.population = StatsPopulation(self.policy.population_calls, stats)
        self.derive_fns = self.policy.derive_fns
        self.used_names = set(used_facts(self.policy)) | set(TIMING_FACTS)
        self._stored: set[str] | None = None

    @property
    def stored_names(self) -> set[str]:
        """The fact names some decision of the run stores."""
        if self._stored is None:
            keys = self.run.get("fact_keys")
            if keys is not None or self.db is None:
                self._stored = {name for names in jsontext.loads(keys or "[]")
                                for name in names}
            else:  # a run stored before runs.fact_keys: its decisions say
                self._stored = {key for (key,) in self.db.execute(
                    "select distinct j.key from decisions d, json_each(d.facts) j "
                    "where d.run_id = ? and json_valid(d.facts) and "
                    "json_type(d.facts) = 'object'", [self.run["id"]])}
        return self._stored

    @property
    def fact_names(self) -> set[str]:
        """The run's facts: stored by a decision or used by its policy."""
        return self.used_names | self.stored_names

    def known(self, name: str) -> bool:
        """Whether name is a fact of the run (or its policy) or a derived fact."""
        return name in self.derive_fns or name in self.used_names or name in self.stored_names

    def check(self, names: Iterable[str]) -> None:
        """InputError for a name that is neither a fact of the run nor a
        derived fact of its policy: a typo, or a canonical fact that no
        decision of the run stores and its policy does not use."""
        for name in names:
            if self.known(name):
                continue
            run_id = self.run["id"]
            if name in canonical_facts():  # a fact adieu knows, but not this run
                raise InputError(f"--by {name!r}: no fact of run {run_id}: no decision of the "
                                 f"run stores it and its policy does not use it{self._listing()}")
            hint = did_you_mean(name, [*self.fact_names, *self.derive_fns])
            raise InputError(f"--by {name!r}: no such fact or derived fact in run {run_id}"
                             + (hint or self._listing()))

    def _listing(self) -> str:
        """' (its facts: a, b; derived facts: c)'."""
        derived = f"; derived facts: {', '.join(sorted(self.derive_fns))}" \
            if self.derive_fns else ""
        return f" (its facts: {', '.join(sorted(self.fact_names)) or 'none'}{derived})"

    def values(self, row: dict[str, Any]) -> Callable[[str], Any]:
        """value_of(name) for one decisions row: a stored fact (a date as a
        date, None if missing) or a derived fact computed on first use
        (UNKNOWN when a fact it needs is missing)."""
        raw = jsontext.loads(row["facts"]) if row.get("facts") else {}
        context: list[Context] = []

        def value_of(name: str) -> Any:
            if name in self.derive_fns:
                if not context:
                    facts = from_json_facts(raw, self.policy.facts)
                    context.append(Context(facts, self.as_of, self.population,
                                           self.derive_fns))
                try:
                    return context[0].value_of(name)
                except KeyError:  # a population figure the run did not store
                    return UNKNOWN
            value = raw.get(name)
            if self.policy.facts.get(name) == "date" and isinstance(value, str):
                return dt.date.fromisoformat(value)
            return value
        return value_of


def kinds_of(run_facts: RunFacts) -> dict[str, str]:
    """Fact name -> declared type (number, integer, date ...) of the run's policy."""
    return dict(run_facts.policy.facts)


def segment_table(db: sqlite_utils.Database, run: dict[str, Any], by: list[str]) \
        -> list[dict[str, Any]]:
    """The segment rows (Segmenter.rows) of a stored run for the facts `by`,
    streaming its decisions (store.read_decisions). InputError for an
    unknown fact or one with too many values."""
    run_facts = RunFacts(run, db)
    run_facts.check(by)
    segmenter = Segmenter(list(by), kinds_of(run_facts))
    for row in decisions(db, run["id"]):
        segmenter.add(run_facts.values(row), row["outcome"], row["strikes"])
    return segmenter.rows()


def decisions(db: sqlite_utils.Database, run_id: int) -> Iterator[dict[str, Any]]:
    """The run's decision rows, streamed (read_decisions)."""
    return read_decisions(db, run_id)


def default_names(run_facts: RunFacts, by: Iterable[str]) -> list[str]:
    """The report's segment facts: industry, channel and size where the run
    has them, then each --by name (once)."""
    names = [n for n in DEFAULT_SEGMENTS if run_facts.known(n)]
    for name in by:
        if name not in names:
            names.append(name)
    return names


def percent(share: Decimal) -> str:
    """A share as a percentage with one decimal, exact: Decimal("0.0952") -> "9.5%"."""
    return f"{(Decimal(share) * 100).quantize(Decimal('0.1'))}%"
