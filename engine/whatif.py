"""`adieu diff`: what a policy change does to the customers.

Two forms give the same Comparison:

- whatif(OLD, NEW, sources, as_of, db): both policies decide the same
  source as of the same date with the same memory. Each policy reads the
  source on its own (its own population figures, its own rejects: a row
  one policy rejects is listed as only in the other's decisions); the
  memory (strikes, pardons, registry exemptions, cases) is read from the
  database opened read-only in one read transaction, checked against the
  audit trail first (engine.memory_check), and nothing is written. No
  database: no memory (a database named that does not exist: StoreError).
- stored_runs(db, A, B): the decisions two stored runs made
  (store.read_decisions), with their policies compiled from
  runs.policy_text.

Decisions are paired by customer id while both streams are read in step,
each reduced to a Summary first: memory grows with the customers whose
decision changed (kept whole) and the customers whose ids the two streams
do not share at the same point (only ids and summaries), not with every
decision. Why a rule, a date or the referrals changed is found by
deciding again (engine.diff_causes): the new side's facts under the old
policy tell the data's part from the policy's."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import jsontext
from .batches import batched, decide_batch
from .diff_causes import LazyStats, View, Views, date_causes, referral_causes, rule_causes
from .errors import InputError, Location, PolicyErrors, StoreError
from .facts import from_json_facts
from .memory_check import read_memory
from .partition import StatsPopulation
from .plugin_record import plugin_gone, policy_text_error
from .plugins import registry
from .policy import MARKERS, OUTCOMES, Policy, compile_policy
from .policy_diff import PolicyChange, _show, compare
from .popstats import population_stats
from .population import Population
from .run import accepted_records, prepare
from .store import get_run, load_memories, open_db_readonly, read_decisions, require_layout
from .stored_checks import stored_facts, stored_rows

ORDER = {o: i for i, o in enumerate((*OUTCOMES, *MARKERS))}
# What a decision says beyond its outcome that a change can move: when an
# offboarding takes effect, when its phase-out starts, who it is referred to.
DATES = ("effective_date", "phase_out_start", "referrals")


@dataclass
class Summary:
    """What a comparison needs of one decision: outcome, strikes counted,
    each listed rule's status (fired | "shielded by ID" | unknown), the
    figures of the rules that fired or were shielded, the ids of the
    holds and exemptions that applied, the base outcome (what the rules
    alone said; None: the outcome) and the View the side decided it with
    (diff_causes; None when its policy no longer compiles or no facts
    are stored)."""

    customer_id: str
    outcome: str
    strikes: int
    status: dict[str, str]
    figures: dict[str, dict[str, Any]]
    holds: list[str]
    exemptions: list[str]
    active: list[str] = field(default_factory=list)  # rules of the active strikes
    dates: dict[str, Any] = field(default_factory=dict)  # DATES -> value (None: none)
    base_outcome: str | None = None
    view: View | None = None
    basis: str | None = None  # the timing basis: why the effective date is that day
    as_of: str | None = None  # the side's as-of date (ISO)

    def prior(self) -> list[str]:
        """The active strikes recorded before this decision's as-of date."""
        return [s for s in self.active if not s.endswith(f"({self.as_of})")]

    @property
    def base(self) -> str:
        return self.base_outcome or self.outcome


def summary_of(row: dict[str, Any]) -> Summary:
    """A Summary of a decisions row (JSON columns as text or decoded)."""
    def get(key: str) -> Any:
        value = row.get(key)
        return jsontext.loads(value) if isinstance(value, str) else (value or [])

    status: dict[str, str] = {}
    figures: dict[str, dict[str, Any]] = {}
    for kind in ("fired", "shielded", "unknown"):
        for r in get(kind):
            status[r["rule"]] = f"shielded by {r['shielded_by']}" if r.get("shielded_by") \
                else r["status"]
            if r.get("figures"):
                figures[r["rule"]] = r["figures"]
    dates = {k: row.get(k) or None for k in DATES}
    if dates["referrals"] is not None:
        dates["referrals"] = get("referrals") or None
    return Summary(row["customer_id"], row["outcome"], row["strikes"], status, figures,
                   [h["id"] for h in get("holds")], [e["id"] for e in get("exemptions")],
                   [f"{s['rule']} ({s['recorded_on']})" for s in get("active_strikes")],
                   dates, row.get("base_outcome"), None, row.get("timing_basis"))


@dataclass
class Side:
    """One side of a comparison: the policy (None if its text no longer
    compiles, e.g. a plugin function is gone) and, for a stored run, its
    runs row fields."""

    policy: Policy | None
    label: dict[str, Any]


@dataclass
class Comparison:
    """The result: the policy change, transitions (old, new) -> customers
    (moved only), unchanged outcome -> customers, and every customer whose
    decision changed, each in one list, in decision order: moved (the
    outcome changed; see moved_entry), changed_base (the outcome stayed,
    held or exempt, but the base outcome, what the rules alone said,
    changed; same shape), changed_dates (the outcome and base outcome
    stayed but the effective date, phase-out start or referrals changed:
    customer_id, outcome, old_/new_ strikes and DATES, causes),
    changed_reasons (all of those stayed but a rule's result, the strikes
    counted, a hold or an exemption changed; moved_entry's shape), and
    the ids decided on one side only. cross(a, b): the View deciding b's
    facts under a's policy, cross_new(a, b): a's facts under b's policy
    (diff_causes), None if there is none."""

    old: Side
    new: Side
    change: PolicyChange
    as_of: str | None = None
    source: str | None = None
    memory: str | None = None  # the database whose memory both sides used
    transitions: Counter = field(default_factory=Counter)
    unchanged: Counter = field(default_factory=Counter)
    moved: list[dict[str, Any]] = field(default_factory=list)
    only_old: list[str] = field(default_factory=list)
    only_new: list[str] = field(default_factory=list)
    changed_base: list[dict[str, Any]] = field(default_factory=list)
    changed_dates: list[dict[str, Any]] = field(default_factory=list)
    changed_reasons: list[dict[str, Any]] = field(default_factory=list)
    cross: Callable[[Summary, Summary], View | None] | None = None
    cross_new: Callable[[Summary, Summary], View | None] | None = None

    @property
    def compared(self) -> int:
        return sum(self.transitions.values()) + sum(self.unchanged.values())

    def matrix(self) -> list[dict[str, Any]]:
        """[{"from": "keep", "to": "warn", "customers": 12}, ...] in ladder order."""
        pairs = sorted(self.transitions, key=lambda p: (ORDER.get(p[0], 99), ORDER.get(p[1], 99)))
        return [{"from": a, "to": b, "customers": self.transitions[(a, b)]} for a, b in pairs]

    def to_dict(self) -> dict[str, Any]:
        return {
            "old": self.old.label, "new": self.new.label, "as_of": self.as_of,
            "source": self.source, "memory": self.memory, "policy_change": self.change.to_dict(),
            "customers": self.compared, "transitions": self.matrix(),
            "unchanged": {o: n for o, n in sorted(self.unchanged.items(),
                                                  key=lambda x: ORDER.get(x[0], 99))},
            "moved": self.moved, "changed_base": self.changed_base,
            "changed_dates": self.changed_dates, "changed_reasons": self.changed_reasons,
            "only_old": self.only_old, "only_new": self.only_new}

    def views(self, a: Summary, b: Summary) -> Views:
        """(A, X, Y, B): the old side, the new facts under the old policy,
        the old facts under the new policy, the new side."""
        both = a.view is not None and b.view is not None
        x = self.cross(a, b) if self.cross is not None and both else None
        y = self.cross_new(a, b) if self.cross_new is not None and both else None
        return a.view, x, y, b.view

    def add(self, a: Summary | None, b: Summary | None) -> None:
        if a is None:
            self.only_new.append(b.customer_id)  # type: ignore[union-attr]
        elif b is None:
            self.only_old.append(a.customer_id)
        elif a.outcome != b.outcome:
            self.transitions[(a.outcome, b.outcome)] += 1
            self.moved.append(moved_entry(self, a, b))
        else:
            self.unchanged[a.outcome] += 1
            if a.base != b.base:
                entry = moved_entry(self, a, b)
                if a.dates != b.dates:
                    entry["other"] += [f"dates or referrals because {cause}"
                                       for cause in date_entry(self, a, b)["causes"]]
                self.changed_base.append(entry)
            elif a.dates != b.dates:
                self.changed_dates.append(date_entry(self, a, b))
            elif a.strikes != b.strikes or a.status != b.status or a.holds != b.holds \
                    or a.exemptions != b.exemptions:
                self.changed_reasons.append(moved_entry(self, a, b))


def date_entry(c: Comparison, a: Summary, b: Summary) -> dict[str, Any]:
    """A customer whose dates or referrals changed: causes are the timing
    changes and data that moved the dates and the referral conditions'
    changes (diff_causes.date_causes, referral_causes); where those cannot
    be recomputed as stored (a date kept from an approved case, a policy
    that no longer compiles), every timing change and the two timing
    bases (which say where a date came from)."""
    views = c.views(a, b)
    found: list[str] = []
    every = False
    if (a.dates["effective_date"], a.dates["phase_out_start"]) != \
            (b.dates["effective_date"], b.dates["phase_out_start"]):
        if a.outcome == b.outcome == "offboard":
            dates = date_causes(c.change, tuple(  # type: ignore[arg-type]
                (s.dates["effective_date"], s.dates["phase_out_start"]) for s in (a, b)),
                views)
        else:
            dates = None
        every = dates is None
        found += dates or []
    if a.dates["referrals"] != b.dates["referrals"] and not every:
        refs = referral_causes(c.change, (a.dates["referrals"], b.dates["referrals"]),
                               (a.outcome == "offboard", b.outcome == "offboard"), views)
        every = refs is None
        found += [r for r in refs or [] if r not in found]
    if every:
        found = [f"timing.{k}: {_show(x)} -> {_show(y)}"
                 for k, (x, y) in c.change.timing.items()]
        if a.basis != b.basis:
            found.append(f"timing basis: {_show(a.basis)} -> {_show(b.basis)}")
    return {"customer_id": a.customer_id, "outcome": a.outcome,
            "old_strikes": a.strikes, "new_strikes": b.strikes, **_dates(a, b),
            "causes": found}


def _dates(a: Summary, b: Summary) -> dict[str, Any]:
    """{"old_effective_date": .., "new_effective_date": .., ...} for each of DATES."""
    out: dict[str, Any] = {}
    for key in DATES:
        out[f"old_{key}"], out[f"new_{key}"] = a.dates.get(key), b.dates.get(key)
    return out


def _rule_ids(policy: Policy | None, s: Summary) -> list[str]:
    ids = [r.id for r in policy.rules] if policy is not None else []
    return ids + [r for r in s.status if r not in ids]


def _status(policy: Policy | None, s: Summary, rule: str) -> str:
    if rule in s.status:
        return s.status[rule]
    if policy is not None and policy.rule(rule) is None:
        return "absent"
    return "passed"  # or did not fire: stored decisions keep no passed rules


def _figures(s: Summary, rule: str, status: str) -> dict[str, Any]:
    if rule in s.figures:
        return s.figures[rule]
    if status == "absent" or s.view is None:
        return {}
    return s.view.figures(rule)


def moved_entry(c: Comparison, a: Summary, b: Summary) -> dict[str, Any]:
    """One customer whose decision changed: {customer_id, old_outcome,
    new_outcome, old_base_outcome, new_base_outcome, old_strikes,
    new_strikes, rules: [{rule, old_status, new_status, causes,
    old_figures, new_figures}] (causes: diff_causes.rule_causes), other:
    [reasons outside the rules: the ladder, holds, exemptions, strikes
    counted], old_/new_ of each of DATES}."""
    old, new = c.old.policy, c.new.policy
    ids = _rule_ids(old, a) + [r for r in _rule_ids(new, b) if r not in _rule_ids(old, a)]
    rules = []
    views = None
    for rule in ids:
        sa, sb = _status(old, a, rule), _status(new, b, rule)
        if sa != sb:
            views = views or c.views(a, b)
            rules.append({"rule": rule, "old_status": sa, "new_status": sb,
                          "causes": rule_causes(c.change, old, new, rule, sa, sb, views),
                          "old_figures": _figures(a, rule, sa),
                          "new_figures": _figures(b, rule, sb)})
    other = []
    # strikes counted that the rules above do not explain: no rule changed,
    # or the strikes recorded before the decision (in between) differ
    if a.strikes != b.strikes and (not rules or a.prior() != b.prior()):
        other.append(f"strikes counted: {a.strikes} -> {b.strikes} (active: "
                     + (", ".join(b.active) or "none") + ")")
    for key, (x, y) in c.change.strikes.items():
        other.append(f"strikes.{key}: {x} -> {y}")
    other += [f"hold {h} no longer holds the decision" for h in a.holds if h not in b.holds]
    other += [f"hold {h} holds the decision" for h in b.holds if h not in a.holds]
    other += [f"exemption {e} no longer applies" for e in a.exemptions
              if e not in b.exemptions]
    other += [f"exemption {e} applies" for e in b.exemptions if e not in a.exemptions]
    if c.change.settings.get("on_missing") and "unknown" in \
            (*a.status.values(), *b.status.values()):
        x, y = c.change.settings["on_missing"]
        other.append(f"on_missing: {x} -> {y}")
    return {"customer_id": a.customer_id, "old_outcome": a.outcome, "new_outcome": b.outcome,
            "old_base_outcome": a.base, "new_base_outcome": b.base,
            "old_strikes": a.strikes, "new_strikes": b.strikes, "rules": rules,
            "other": other, **_dates(a, b)}


def pair(a: Iterable[Summary], b: Iterable[Summary]) \
        -> Iterator[tuple[Summary | None, Summary | None]]:
    """Pair two streams of summaries by customer id, reading them in step:
    (a, b) for an id in both, (a, None) / (None, b) for an id in one only
    (yielded at the end). Flat memory while both streams list the same ids
    in the same order."""
    wait_a: dict[str, Summary] = {}
    wait_b: dict[str, Summary] = {}
    ia, ib = iter(a), iter(b)
    done_a = done_b = False
    while not (done_a and done_b):
        x = None if done_a else next(ia, None)
        y = None if done_b else next(ib, None)
        done_a, done_b = done_a or x is None, done_b or y is None
        if x is not None and y is not None and x.customer_id == y.customer_id:
            yield x, y
            continue
        if x is not None:
            if x.customer_id in wait_b:
                yield x, wait_b.pop(x.customer_id)
            else:
                wait_a[x.customer_id] = x
        if y is not None:
            if y.customer_id in wait_a:
                yield wait_a.pop(y.customer_id), y
            else:
                wait_b[y.customer_id] = y
    for x in wait_a.values():
        yield x, None
    for y in wait_b.values():
        yield None, y


def _label(result: Any) -> dict[str, Any]:
    policy = result.policy
    return {"policy_file": policy.file, "policy_name": policy.name,
            "policy_version": policy.version, "policy_sha256": policy.sha256,
            "rejected": result.intake.rejected_rows}


def whatif(old_file: str, new_file: str, sources: Sequence[str], as_of: dt.date,
           db_file: str | None = None, mapping: Sequence[str] | None = None,
           options: dict[str, Any] | None = None, prefer: Sequence[str] | None = None,
           allow_missing: bool = False) -> Comparison:
    """Decide every customer of sources under both policies (read-only,
    see the module docstring) and compare. Raises PolicyErrors (either
    policy invalid: exit 1, unreadable: 2), InputError (bad source,
    standard input, a fact missing), StoreError (not a database)."""
    for text in sources:
        if text.partition(":")[2] == "-":
            raise InputError(f"source {text!r}: diff reads the source once per policy, and "
                             "standard input can be read only once; save it to a file")
    errors = []
    prepared = []
    for file in (old_file, new_file):
        try:
            prepared.append(prepare(file, list(sources), as_of, None, list(mapping or []) or None,
                                    options, None, True, allow_missing, list(prefer or []),
                                    dry_run=True))
        except PolicyErrors as exc:
            errors.extend(exc.errors)
        except BaseException:
            for r in prepared:
                r.close()
            raise
    if errors:
        for r in prepared:
            r.close()
        raise PolicyErrors(errors)
    old, new = prepared
    db = _existing(db_file, memory_free_ok=True) if db_file else None
    try:
        memory = False
        if db is not None:
            db.conn.execute("BEGIN")
            memory = read_memory(db, as_of).latest_as_of is not None and \
                {"runs", "audit", "strikes"} <= set(db.table_names())

        def fetch(ids: list[str]) -> dict[str, Any]:
            return load_memories(db, as_of, ids) if memory else {}

        def summaries(result: Any) -> Iterator[Summary]:
            policy = result.policy
            population = StatsPopulation(policy.population_calls, result.population)
            for records in batched(accepted_records(result)):
                ids = [r.facts["customer_id"] for r in records]
                batch = decide_batch(policy, records, as_of, result.population, fetch(ids))
                for row, record in zip(batch.rows, records, strict=True):
                    s = summary_of(row)
                    s.view, s.as_of = View(policy, record.facts, as_of, population), \
                        as_of.isoformat()
                    yield s

        c = Comparison(Side(old.policy, _label(old)), Side(new.policy, _label(new)),
                       compare(old.policy, new.policy),
                       as_of.isoformat(), " + ".join(sources), db_file)
        c.cross = lambda a, b: a.view  # the same facts: the new side's data is the old's
        c.cross_new = lambda a, b: b.view
        for a, b in pair(summaries(old), summaries(new)):
            c.add(a, b)
        return c
    finally:
        if db is not None:
            if db.conn.in_transaction:
                db.conn.execute("COMMIT")
            db.close()
        old.close()
        new.close()


def _cross(db: Any, run: dict[str, Any], policy: Policy, same_text: bool,
           side: Callable[[Summary, Summary], Summary]) \
        -> Callable[[Summary, Summary], View | None]:
    """A cross view for stored runs: the stored facts of `run` (the side
    side(a, b) picks; read with policy's fact types) as of its date under
    the other run's policy, with that policy's population figures over the
    run's customers: the run's stored figures when both runs have the same
    policy text, else computed from its stored facts the first time a
    figure is asked for."""
    as_of = dt.date.fromisoformat(run["as_of"])
    if same_text:
        stats: Any = Population(policy.population_calls,
                                stored=jsontext.loads(run["population"] or "{}"))
    else:
        stats = LazyStats(lambda: population_stats(policy, as_of, lambda: (
            from_json_facts(stored_facts(run["id"], r), policy.facts)
            for r in stored_rows(db, run["id"]))))

    def cross(a: Summary, b: Summary) -> View | None:
        s = side(a, b)
        return View(policy, s.view.raw_facts, as_of, stats, decoded=False) \
            if s.view is not None else None
    return cross


def _existing(db_file: str, memory_free_ok: bool = False) -> Any:
    """db_file opened read-only; StoreError (exit 2) if there is no such file,
    or if it is of an older layout (store.require_layout; memory_free_ok:
    an adieu 0.1 database is read as holding no memory)."""
    db = open_db_readonly(db_file)
    if db is None:
        raise StoreError(f"no database at {db_file}", Location(db_file))
    try:
        require_layout(db, db_file, memory_free_ok)
    except StoreError:
        db.close()
        raise
    return db


def _stored_policy(run: dict[str, Any]) -> Policy | None:
    reg = registry()
    try:
        return compile_policy(run["policy_text"], run["policy_file"] or "<policy>",
                              reg.functions)
    except PolicyErrors as exc:
        if not plugin_gone(run, reg, exc):  # the stored text was damaged
            raise policy_text_error(run, exc) from None
        return None  # a plugin function gone: statuses only, no causes


RUN_LABEL = ("id", "as_of", "policy_name", "policy_version", "policy_sha256", "source",
             "rejected")


def stored_runs(db_file: str, run_a: int, run_b: int) -> Comparison:
    """Compare the decisions of stored runs run_a (old) and run_b (new).
    StoreError if the database or a run is not there; InputError if the
    two are the same run."""
    if run_a == run_b:
        raise InputError(f"--run {run_a} given twice: name two different runs")
    db = _existing(db_file)
    try:
        db.conn.execute("BEGIN")
        runs = [get_run(db, run_a), get_run(db, run_b)]
        sides = [Side(_stored_policy(r), {("run_id" if k == "id" else k): r[k]
                                          for k in RUN_LABEL}) for r in runs]
        olds, news = (s.policy for s in sides)
        change = compare(olds, news) if olds is not None and news is not None \
            else PolicyChange()
        c = Comparison(sides[0], sides[1], change)
        if runs[0]["as_of"] == runs[1]["as_of"]:
            c.as_of = runs[0]["as_of"]
        if runs[0]["source"] == runs[1]["source"]:
            c.source = runs[0]["source"]

        def summaries(run: dict[str, Any], policy: Policy | None) -> Iterator[Summary]:
            as_of = dt.date.fromisoformat(run["as_of"])
            stats = None if policy is None else Population(
                policy.population_calls, stored=jsontext.loads(run["population"] or "{}"))
            for row in read_decisions(db, run["id"]):
                s = summary_of(row)
                s.as_of = run["as_of"]
                if policy is not None and row.get("facts"):
                    s.view = View(policy, row["facts"], as_of, stats, decoded=False)
                yield s

        if olds is not None and news is not None:
            c.cross = _cross(db, runs[1], olds, olds.sha256 == news.sha256, lambda a, b: b)
            c.cross_new = _cross(db, runs[0], news, olds.sha256 == news.sha256,
                                 lambda a, b: a)

        for a, b in pair(summaries(runs[0], olds), summaries(runs[1], news)):
            c.add(a, b)
        return c
    finally:
        if db.conn.in_transaction:
            db.conn.execute("COMMIT")
        db.close()
