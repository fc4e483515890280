"""One evaluation run: source -> facts -> compiled policy -> decisions -> store."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from . import __version__, jsontext, rerun
from .columns import ColumnCheck, check_columns, header_location
from .decide import Decision, evaluate_all
from .errors import InputError
from .facts import to_json_value
from .intake import Intake, read_records
from .join import SourcePart, SourceSpec, check_joined_columns, join, pair_sources, parse_prefer
from .ledger import Memory
from .mapping import IDENTITY, Mapping, load_mapping
from .memory_check import Recalled, memory_sha256, read_memory
from .plugin_record import used_plugins
from .plugins import registry
from .policy import MARKERS, OUTCOMES, Policy, canonical_facts, load_policy
from .sources import SourceContext, parse_source
from .store import decision_row, now, open_db, open_db_readonly, write_run


@dataclass
class RunResult:
    policy: Policy
    source: str
    as_of: dt.date
    intake: Intake
    decisions: list[Decision]
    population: dict[str, Any]
    memories: dict[str, Memory] = field(default_factory=dict)
    backfill: bool = False
    run_id: int | None = None
    already: bool = False  # an identical run was recorded before; nothing written
    counts: dict[str, int] = field(default_factory=dict)
    missing_facts: list[str] = field(default_factory=list)  # allowed to be missing
    warnings: list[str] = field(default_factory=list)       # for stderr
    sources: list[str] = field(default_factory=list)        # KIND:LOCATION as given
    plugins: list[dict[str, Any]] = field(default_factory=list)  # plugin_record.used_plugins
    recalled: Recalled | None = None  # the memory as read, with its fingerprints
    input_sha256: str | None = None   # engine.rerun: None if the source cannot be hashed
    redecided: bool = False  # memory changed before the write; decided again with it
    stored: dict[str, Any] | None = None  # the runs row of an identical stored run

    @property
    def customers(self) -> int:
        """Customers decided (stored runs may hold only some decisions)."""
        return self.stored["customers"] if self.stored else len(self.decisions)

    @property
    def new_strikes(self) -> int:
        return self.stored["new_strikes"] if self.stored else \
            sum(len(d.new_strikes) for d in self.decisions)


def open_source(source: str, as_of: dt.date, mapping_file: str | None = None,
                options: dict[str, Any] | None = None, extra_facts: dict[str, str] | None = None,
                ) -> tuple[Any, Mapping]:
    """The records of KIND:LOCATION and the mapping to apply to them: the
    given mapping file, else the kind's default mapping."""
    kind, location = parse_source(source, registry().sources)
    known = {**canonical_facts(), **(extra_facts or {})}
    path = mapping_file or kind.mapping
    mapping = load_mapping(path, known) if path else IDENTITY
    context = SourceContext(as_of, {**mapping.options, **(options or {})},
                            {name: rule.fact for name, rule in mapping.fields.items()})
    return kind.reader(location, context), mapping


def recall(db_file: str | None, as_of: dt.date, backfill: bool,
           dry_run: bool = False) -> Recalled:
    """Every customer's memory of earlier runs in db_file (none if the file
    does not exist yet), checked against the audit trail
    (engine.memory_check), with the fingerprints the write re-checks.
    Refuses an as-of date before the latest run's unless backfill is asked
    for. dry_run: the file is opened read-only and not migrated."""
    if not db_file or not Path(db_file).exists():
        return Recalled({})
    db = open_db_readonly(db_file) if dry_run else open_db(db_file)
    try:
        recalled = read_memory(db, as_of)
    finally:
        db.close()
    _check_as_of(recalled.latest_as_of, as_of, backfill)
    return recalled


def _check_as_of(latest: str | None, as_of: dt.date, backfill: bool,
                 meanwhile: bool = False) -> None:
    if latest and as_of.isoformat() < latest and not backfill:
        when = ("another run as of " + latest + " was stored while this one was deciding, "
                "and " if meanwhile else "")
        raise InputError(f"{when}as-of date {as_of.isoformat()} is before the latest run's "
                         f"({latest}); pass --backfill to evaluate the past on purpose"
                         + ("; nothing was stored" if meanwhile else ""))


def prepare(policy_file: str, source: str | Sequence[str], as_of: dt.date,
            progress: Callable[[int, int], None] | None = None,
            mapping_file: str | Sequence[str] | None = None,
            options: dict[str, Any] | None = None,
            db_file: str | None = None, backfill: bool = False,
            allow_missing_facts: bool = False,
            prefer: Sequence[str] | None = None, dry_run: bool = False,
            all_decisions: bool = True) -> RunResult:
    """Compile the policy, recall what earlier runs in db_file remember,
    read, map and coerce the source (or several sources, joined by customer
    id: engine.join), check that it carries every fact the policy uses
    (engine.columns; InputError naming the missing ones unless they are
    allowed, by the policy or by allow_missing_facts), decide every
    customer. Nothing is written: a failure here leaves the store
    untouched. dry_run: the database is only read (never migrated).

    source: KIND:LOCATION, or a list of them; mapping_file: one mapping
    file, or one per source in the same order ("-" or None: the kind's
    own); prefer: --prefer items (engine.join.parse_prefer).

    If a stored run had exactly these inputs (engine.rerun), nothing is
    read or decided: the result is that run's, with already set and stored
    holding its runs row; without all_decisions only its offboard
    decisions are loaded (what the summary lists)."""
    reg = registry()
    sources = [source] if isinstance(source, str) else list(source)
    mappings = [mapping_file] if isinstance(mapping_file, str) else \
        (list(mapping_file) if mapping_file else None)
    specs = pair_sources(sources, mappings, reg.sources)  # usage errors before any work
    order = parse_prefer(prefer, specs)
    policy = load_policy(policy_file, reg.functions)
    recalled = recall(db_file, as_of, backfill, dry_run)

    def inputs() -> str | None:
        return rerun.input_sha256(
            policy.sha256, [(s.kind.kind, s.location, s.mapping_file or s.kind.mapping)
                            for s in specs], options, as_of, backfill, allow_missing_facts,
            memory_sha256(recalled.memories, before=as_of), reg.versions, list(prefer or []))

    key = inputs()
    if key is not None and recalled.latest_as_of is not None:
        found = _stored_run(db_file, key, dry_run, policy, sources, as_of, recalled,
                            backfill, all_decisions)
        if found is not None:
            return found
    parts = read_parts(specs, as_of, options, policy.facts, len(specs) > 1)
    if key is not None and key != inputs():
        key = None  # a source changed while it was read: these facts have no hash
    check = ColumnCheck()
    if len(parts) == 1:
        intake = parts[0].intake
        if intake.file is not None:  # no customer record, no columns to judge
            check = check_columns(policy, intake.fields, parts[0].mapping,
                                  header_location(intake.file, specs[0].kind.kind),
                                  allow_missing_facts, intake.absent)
    else:
        intake = join(parts, order)
        if intake.file is not None:
            check = check_joined_columns(policy, parts, allow_missing_facts)
    if check.error is not None:
        raise check.error
    total = len(intake.records)
    step = (lambda n: progress(n, total)) if progress else None
    decisions, population = evaluate_all(policy, intake.records, as_of, step,
                                         recalled.memories)
    return RunResult(policy, source_text(sources), as_of, intake, decisions, population.stats,
                     recalled.memories, backfill, counts=_counts(decisions),
                     missing_facts=check.allowed, warnings=check.warnings, sources=sources,
                     plugins=used_plugins(policy, [s.kind for s in specs], reg),
                     recalled=recalled, input_sha256=key)


def source_text(sources: Sequence[str]) -> str:
    """runs.source: the sources as given, joined by " + " (one source: itself)."""
    return " + ".join(sources)


def read_parts(specs: list[SourceSpec], as_of: dt.date, options: dict[str, Any] | None,
               extra_facts: dict[str, str], with_provenance: bool = False) -> list[SourcePart]:
    """Read, map and coerce each source on its own (engine.intake)."""
    parts = []
    for spec in specs:
        records, mapping = open_source(spec.text, as_of, spec.mapping_file, options,
                                       extra_facts)
        parts.append(SourcePart(spec, read_records(records, extra_facts, mapping,
                                                   with_provenance=with_provenance), mapping))
    return parts


def _counts(decisions: list[Decision]) -> dict[str, int]:
    return _ordered(Counter(d.outcome for d in decisions))


def _ordered(counts: dict[str, int]) -> dict[str, int]:
    """Decisions per outcome, every outcome, in the order of the ladder."""
    return {o: counts.get(o, 0) for o in (*OUTCOMES, *MARKERS)}


def _stored_run(db_file: str | None, key: str, dry_run: bool, policy: Policy,
                sources: list[str], as_of: dt.date, recalled: Recalled, backfill: bool,
                all_decisions: bool) -> RunResult | None:
    """The stored run with input hash key as a RunResult (already set), or None."""
    db = open_db_readonly(db_file) if dry_run else open_db(db_file)
    if db is None:
        return None
    try:
        run = rerun.find_run(db, key)
        if run is None or rerun.other_strikes_of_the_date(db, run["id"], as_of):
            return None
        decisions = rerun.stored_decisions(db, run["id"],
                                           None if all_decisions else "offboard")
        intake = rerun.stored_intake(db, run["id"])
    finally:
        db.close()
    return RunResult(policy, source_text(sources), as_of, intake, decisions,
                     jsontext.loads(run["population"] or "{}"), recalled.memories, backfill,
                     run["id"], True, _ordered(jsontext.loads(run["counts"])),
                     jsontext.loads(run["missing_facts"] or "[]"), recalled=recalled,
                     input_sha256=key, stored=run, sources=sources,
                     plugins=jsontext.loads(run.get("plugins") or "[]"))


def store(result: RunResult, db_file: str, started_at: str) -> int:
    """Write the run, every decision, reject and new strike, and their audit
    entries, in one transaction. A run identical to one already recorded
    (same policy text, same facts, same as-of date, same memory) is not
    written again: its id is returned and result.already is set.

    Inside the write transaction (which holds SQLite's write lock) the
    memory the run decided with is re-checked: if anything was written to
    memory since it was read (the audit trail's max(seq) moved: another
    run, an exemption, a pardon), the memory is read again and, if it
    differs, every customer is decided again with it (decide is pure given
    policy, records and memory). The latest as-of date and the run identity
    are checked there too, so two runs at once store in a valid order or
    the later one fails (InputError, nothing stored)."""
    if result.already:
        return result.run_id
    rows = _rows(result, started_at)  # before taking the write lock
    db = open_db(db_file)
    try:
        with db.atomic():
            if _recheck_memory(db, result):
                rows = _rows(result, started_at)
            latest = db.execute("select max(as_of) from runs").fetchone()[0]
            _check_as_of(latest, result.as_of, result.backfill, meanwhile=True)
            run, decisions, rejects, strikes = rows
            same = db.execute("select id from runs where identity = ? order by id desc "
                              "limit 1", [run["identity"]]).fetchone()
            if same:
                result.run_id, result.already = same[0], True
                return same[0]
            run_id = write_run(db, run, decisions, rejects, strikes)
    finally:
        db.close()
    result.run_id = run_id
    return run_id


def _recheck_memory(db: Any, result: RunResult) -> bool:
    """Within the write transaction: decide again if memory changed since
    result was decided (True if it did)."""
    before = result.recalled
    seq = db.execute("select coalesce(max(seq), 0) from audit").fetchone()[0]
    if before is not None and seq == before.audit_seq:
        return False
    now_ = read_memory(db, result.as_of)
    decided_with = before.sha256 if before is not None else memory_sha256(result.memories)
    if now_.sha256 == decided_with:
        result.recalled = now_
        return False
    decisions, population = evaluate_all(result.policy, result.intake.records, result.as_of,
                                         None, now_.memories)
    result.decisions, result.population = decisions, population.stats
    result.memories, result.recalled = now_.memories, now_
    result.counts = _counts(decisions)
    result.redecided = True
    result.input_sha256 = None  # its key named the memory read first, not this one
    return True


def _rows(result: RunResult, started_at: str) -> tuple[dict[str, Any], list[dict[str, Any]],
                                                       list[dict[str, Any]],
                                                       list[dict[str, Any]]]:
    """The runs row, decisions rows, rejects and new strikes of result."""
    policy = result.policy
    records = result.intake.records
    decisions = []
    strikes = []
    window = dt.timedelta(days=policy.strikes.window_days)
    for d, r in zip(result.decisions, records, strict=True):
        row = decision_row(d, {k: to_json_value(v) for k, v in r.facts.items()}, r.file, r.row)
        if len(result.sources) > 1:  # one source: source_file/source_row say it all
            row["provenance"] = _dumps(r.provenance)
        memory = used_memory(result.memories.get(d.customer_id), d, result.as_of)
        row["memory"] = _dumps(memory.to_json()) if memory else None
        decisions.append(row)
        for rule in d.new_strikes:
            strikes.append({"customer_id": d.customer_id, "rule": rule,
                            "recorded_on": result.as_of.isoformat(),
                            "expires_on": (result.as_of + window).isoformat()})
    ordered = sorted(decisions, key=lambda row: row["customer_id"])
    facts_sha = hashlib.sha256("\n".join(
        f"{row['customer_id']}\t{row['facts']}" for row in ordered).encode()).hexdigest()
    memory_sha = hashlib.sha256("\n".join(
        f"{row['customer_id']}\t{row['memory']}" for row in ordered).encode()).hexdigest()
    # Same policy text, same facts, same as-of date, same memory (strikes,
    # pardons, registry exemptions): the same run.
    identity = hashlib.sha256(f"{policy.sha256}|{facts_sha}|{result.as_of.isoformat()}|"
                              f"{memory_sha}".encode()).hexdigest()
    run = {
        "policy_name": policy.name, "policy_version": policy.version,
        "policy_sha256": policy.sha256, "policy_file": policy.file,
        "policy_text": policy.text, "source": result.source,
        "as_of": result.as_of.isoformat(), "customers": len(result.decisions),
        "rejected": result.intake.rejected_rows, "counts": _dumps(result.counts),
        "population": _dumps(result.population), "adieu_version": __version__,
        "started_at": started_at, "finished_at": now(), "facts_sha256": facts_sha,
        "identity": identity, "backfill": int(result.backfill), "new_strikes": len(strikes),
        "missing_facts": _dumps(result.missing_facts),
        "sources": _dumps(result.sources or [result.source]),
        "plugins": _dumps(result.plugins), "input_sha256": result.input_sha256,
    }
    rejects = [asdict(r) for r in result.intake.rejects]
    return run, decisions, rejects, strikes


def used_memory(memory: Memory | None, decision: Decision, as_of: dt.date) \
        -> Memory | None:
    """The memory a decision rests on, as stored with it: without the
    strikes of the as-of date itself that the decision replaced (an earlier
    run of the same date recorded them for rules this run judged again;
    decide leaves them out). So a run repeated on the same date stores the
    same memory, and the same run identity, as the first."""
    if memory is None:
        return None
    unknown = {r.rule for r in decision.unknown}
    strikes = [s for s in memory.strikes if s.recorded_on < as_of or s.rule in unknown]
    if len(strikes) == len(memory.strikes):
        return memory
    used = replace(memory, strikes=strikes)
    return used if used.to_json() != Memory().to_json() else None


def _dumps(value: Any) -> str:
    return jsontext.dumps(value)
