"""One evaluation run: source -> facts -> compiled policy -> decisions -> store.

Two passes over one source (docs/ops-guide.md, long runs): prepare reads
it once for the population statistics, rejects and columns (engine.scan);
store, under the write lock, reads it again and decides and writes in
batches with each batch's memory (engine.batches). Several sources are
joined in memory (engine.join) and decided in the same batches."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from . import __version__, jsontext, readback, rerun
from .batches import Tally, batched, decide_all, default_workers
from .columns import ColumnCheck, check_columns, header_location
from .decide import Decision
from .errors import AdieuError, InputError, Location
from .facts import Record
from .idindex import IdIndex
from .intake import Intake, read_records, stream_records
from .join import SourcePart, SourceSpec, check_joined_columns, join, pair_sources, parse_prefer
from .ledger import Memory
from .mapping import IDENTITY, Mapping, load_mapping
from .memory_check import Recalled, check_memory, read_memory, stored_memory_sha256
from .plugin_record import used_plugins
from .plugins import registry
from .policy import MARKERS, OUTCOMES, Policy, canonical_facts, load_policy
from .scan import (
    SourceFile,
    given_name,
    population_of,
    renamed,
    rereadable,
    scan,
    source_file,
    spillable,
)
from .sinks import Spool
from .sources import SourceContext, check_options, parse_source
from .store import (
    RunWriter,
    get_run,
    load_memories,
    now,
    open_db,
    open_db_readonly,
    require_layout,
)


@dataclass
class RunResult:
    """A run after pass 1 (prepare), and after pass 2 (store or dry_run).

    Pass 1 keeps no records (except for several sources, joined in memory:
    records): intake holds the rejects, warnings and column facts only.
    counts, tally: filled by pass 2. decisions reads the run's decisions
    back (from the store, or a dry run's spool) for small runs and tests;
    the CLI streams them (engine.readback)."""

    policy: Policy
    source: str
    as_of: dt.date
    intake: Intake
    population: dict[str, Any]
    backfill: bool = False
    run_id: int | None = None
    already: bool = False  # an identical run was recorded before; nothing written
    counts: dict[str, int] = field(default_factory=dict)
    missing_facts: list[str] = field(default_factory=list)  # allowed to be missing
    warnings: list[str] = field(default_factory=list)       # for stderr
    sources: list[str] = field(default_factory=list)        # KIND:LOCATION as given
    plugins: list[dict[str, Any]] = field(default_factory=list)  # plugin_record.used_plugins
    recalled: Recalled | None = None  # the memory's fingerprint when pass 1 began
    input_sha256: str | None = None   # engine.rerun: None if the source cannot be hashed
    stored: dict[str, Any] | None = None  # the runs row of an identical stored run
    accepted: int = 0                 # records accepted in pass 1
    files: list[SourceFile] = field(default_factory=list)  # one source, read twice
    specs: list[SourceSpec] = field(default_factory=list)
    options: dict[str, Any] | None = None
    records: list[Record] | None = None  # several sources: joined in memory
    tally: Tally | None = None
    db_file: str | None = None
    spool: str | None = None          # a dry run's decisions (engine.readback)
    rekey: Callable[[str], str | None] | None = None  # memory sha256 -> input_sha256
    ids: IdIndex | None = None        # pass 1's duplicate index, read with again in pass 2
    made_by: str | None = None        # runs.made_by: who made the run (engine.names.made_by)

    @property
    def customers(self) -> int:
        """Customers decided (stored runs may hold only some decisions)."""
        if self.stored:
            return self.stored["customers"]
        return self.tally.customers if self.tally else 0

    @property
    def new_strikes(self) -> int:
        if self.stored:
            return self.stored["new_strikes"]
        return self.tally.new_strikes if self.tally else 0

    @property
    def decisions(self) -> list[Decision]:
        """Every decision of the run, read back (a list: for small runs)."""
        return list(readback.decisions_of(self))

    def close(self) -> None:
        """Remove a spilled source's temporary copy and the duplicate index."""
        for file in self.files:
            file.close()
        if self.ids is not None:
            self.ids.close()


def open_source(source: str, as_of: dt.date, mapping_file: str | None = None,
                options: dict[str, Any] | None = None, extra_facts: dict[str, str] | None = None,
                ) -> tuple[Any, Mapping]:
    """The records of KIND:LOCATION and the mapping to apply to them: the
    given mapping file, else the kind's default mapping."""
    kind, location = parse_source(source, registry().sources)
    known = {**canonical_facts(), **(extra_facts or {})}
    path = mapping_file or kind.mapping
    mapping = load_mapping(path, known) if path else IDENTITY
    check_options(mapping.options, [kind], mapping.option_lines, "in the mapping's options")
    context = SourceContext(as_of, {**mapping.options, **(options or {})},
                            {name: rule.fact for name, rule in mapping.fields.items()})
    return kind.reader(location, context), mapping


def recall(db_file: str | None, as_of: dt.date, backfill: bool,
           dry_run: bool = False, load: bool = True) -> Recalled:
    """The memory of earlier runs in db_file (none if the file does not
    exist yet), checked against the audit trail (engine.memory_check), with
    its fingerprint. Refuses an as-of date before the latest run's unless
    backfill is asked for. dry_run: the file is opened read-only and not
    migrated. load: every customer's memory in .memories (a run passes
    False: it fetches each batch's memory under the write lock)."""
    if not db_file or not Path(db_file).exists():
        return Recalled({})
    db = open_db_readonly(db_file) if dry_run else open_db(db_file)
    try:
        if dry_run:  # an adieu 0.1 database holds no memory: read as it is
            require_layout(db, db_file, memory_free_ok=True)
        else:  # before the source is read: a run could not be stored
            db.require_writable()
        recalled = read_memory(db, as_of, load)
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
            progress: Callable[[int], None] | None = None,
            mapping_file: str | Sequence[str] | None = None,
            options: dict[str, Any] | None = None,
            db_file: str | None = None, backfill: bool = False,
            allow_missing_facts: bool = False,
            prefer: Sequence[str] | None = None, dry_run: bool = False,
            all_decisions: bool = True) -> RunResult:
    """Pass 1: compile the policy, fingerprint the memory of earlier runs in
    db_file (checked against the audit trail), read, map and coerce the
    source once (engine.scan: population statistics, rejects, columns; no
    record kept), check that it carries every fact the policy uses
    (engine.columns; InputError naming the missing ones unless they are
    allowed, by the policy or by allow_missing_facts). Nothing is decided
    or written: store (or dry_run) is pass 2. dry_run: the database is only
    read (never migrated).

    source: KIND:LOCATION, or a list of them; mapping_file: one mapping
    file, or one per source in the same order ("-" or None: the kind's
    own); prefer: --prefer items (engine.join.parse_prefer); progress(n):
    called with the number of records read since the last call.

    Several sources are joined in memory (engine.join), as is one source
    that is not a file, a directory or a stream (a plugin reading a
    service): their records are kept for pass 2 instead of read again.

    If a stored run had exactly these inputs (engine.rerun), nothing is
    read: the result is that run's, with already set and stored holding its
    runs row (all_decisions is kept for callers; decisions are read back)."""
    reg = registry()
    sources = [source] if isinstance(source, str) else list(source)
    mappings = [mapping_file] if isinstance(mapping_file, str) else \
        (list(mapping_file) if mapping_file else None)
    specs = pair_sources(sources, mappings, reg.sources)  # usage errors before any work
    check_options(options, [s.kind for s in specs])
    order = parse_prefer(prefer, specs)
    policy = load_policy(policy_file, reg.functions)
    recalled = recall(db_file, as_of, backfill, dry_run, load=False)

    def rekey(memory: str) -> str | None:
        return rerun.input_sha256(
            policy.sha256, [(s.kind.kind, s.location, s.mapping_file or s.kind.mapping)
                            for s in specs], options, as_of, backfill, allow_missing_facts,
            memory, reg.versions, list(prefer or []))

    key = rekey(recalled.sha256)
    if key is not None and recalled.latest_as_of is not None:
        found = _stored_run(db_file, key, dry_run, policy, sources, as_of, recalled,
                            backfill)
        if found is not None:
            return found
    result = RunResult(policy, source_text(sources), as_of, Intake(), {}, backfill,
                       sources=sources, plugins=used_plugins(policy, [s.kind for s in specs],
                                                             reg),
                       recalled=recalled, input_sha256=key, specs=specs, options=options,
                       db_file=db_file, rekey=rekey)
    check = ColumnCheck()
    if len(specs) == 1 and (rereadable(specs[0].location) or spillable(specs[0].location)):
        spec = specs[0]
        result.files = [source_file(spec.location)]
        try:
            mapping = _scan(result, progress)
        except AdieuError as exc:
            result.files[0].close()
            raise given_name(exc, result.files[0]) from None
        except BaseException:
            result.files[0].close()
            raise
        intake = result.intake
        if intake.file is not None:  # no customer record, no columns to judge
            check = check_columns(policy, intake.fields, mapping,
                                  header_location(intake.file, spec.kind.kind),
                                  allow_missing_facts, intake.absent)
    else:
        parts = read_parts(specs, as_of, options, policy.facts, len(specs) > 1)
        if len(parts) == 1:
            intake = parts[0].intake
            if intake.file is not None:
                check = check_columns(policy, intake.fields, parts[0].mapping,
                                      header_location(intake.file, specs[0].kind.kind),
                                      allow_missing_facts, intake.absent)
        else:
            intake = join(parts, order)
            if intake.file is not None:
                check = check_joined_columns(policy, parts, allow_missing_facts)
        if progress is not None:
            progress(len(intake.records))
        result.records, intake.records = intake.records, []
        result.intake, result.population = intake, population_of(policy, as_of, result.records)
        result.accepted = len(result.records)
    if check.error is not None:
        result.close()
        raise check.error
    result.missing_facts, result.warnings = check.allowed, check.warnings
    return result


def _scan(result: RunResult, progress: Callable[[int], None] | None) -> Mapping:
    """Pass 1 over result's one source (engine.scan); returns its mapping."""
    mapping = _opened(result)[1]
    result.ids = IdIndex()
    result.intake, result.accepted, result.population = scan(
        lambda: renamed(_opened(result)[0], result.files[0]), result.policy, result.as_of,
        mapping, result.ids, progress)
    return mapping


def _opened(result: RunResult) -> tuple[Any, Mapping]:
    spec, file = result.specs[0], result.files[0]
    return open_source(f"{spec.kind.kind}:{file.path}", result.as_of, spec.mapping_file,
                       result.options, result.policy.facts)


def accepted_records(result: RunResult) -> Iterator[Record]:
    """Pass 2's records: the one source read again (the same duplicates
    rejected: pass 1's IdIndex), or the records kept in memory (several
    sources)."""
    if result.records is not None:
        yield from result.records
        return
    records, mapping = _opened(result)
    try:
        for item in stream_records(renamed(records, result.files[0]), result.policy.facts,
                                   mapping, ids=result.ids):
            if isinstance(item, Record):
                yield item
    except AdieuError as exc:
        raise given_name(exc, result.files[0]) from None


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


def _ordered(counts: dict[str, int]) -> dict[str, int]:
    """Decisions per outcome, every outcome, in the order of the ladder."""
    return {o: counts.get(o, 0) for o in (*OUTCOMES, *MARKERS)}


def _stored_run(db_file: str | None, key: str, dry_run: bool, policy: Policy,
                sources: list[str], as_of: dt.date, recalled: Recalled,
                backfill: bool) -> RunResult | None:
    """The stored run with input hash key as a RunResult (already set), or None."""
    db = open_db_readonly(db_file) if dry_run else open_db(db_file)
    if db is None:
        return None
    try:
        run = rerun.find_run(db, key)
        if run is None or rerun.other_strikes_of_the_date(db, run["id"], as_of):
            return None
        intake = rerun.stored_intake(db, run["id"])
    finally:
        db.close()
    return RunResult(policy, source_text(sources), as_of, intake,
                     jsontext.loads(run["population"] or "{}"), backfill,
                     run["id"], True, _ordered(jsontext.loads(run["counts"])),
                     jsontext.loads(run["missing_facts"] or "[]"), recalled=recalled,
                     input_sha256=key, stored=run, sources=sources,
                     plugins=jsontext.loads(run.get("plugins") or "[]"), db_file=db_file)


class _Identical(Exception):
    """An identical run is stored: roll this one back."""

    def __init__(self, run_id: int):
        super().__init__(run_id)
        self.run_id = run_id


def store(result: RunResult, db_file: str, started_at: str, workers: int | None = None,
          progress: Callable[[int], None] | None = None) -> int:
    """Pass 2, in one write transaction (BEGIN IMMEDIATE: SQLite's write
    lock, held to the commit): the latest as-of date is checked again, the
    memory is checked against the audit trail (engine.memory_check), the
    source is checked unchanged since pass 1 (InputError otherwise, nothing
    stored), the run id is reserved, the records are read again and decided
    in batches with each batch's memory read in this transaction
    (engine.batches; workers: processes, None: batches.default_workers),
    each batch written as it is decided; then the runs row, the superseded
    strikes of the date, cases and the audit entries; COMMIT.

    Since memory is read under the write lock, a run stored meanwhile (or
    an exemption, a pardon) is the memory this run decides with; a run
    whose as-of date another run overtook meanwhile fails (InputError,
    nothing stored). A run identical to one already recorded (same policy
    text, same facts, same as-of date, same memory: the identity) is rolled
    back: its id is returned and result.already is set.
    progress(n): called with the number of customers written since the
    last call."""
    if result.already:
        return result.run_id
    db = open_db(db_file)
    try:
        with db.atomic():
            run_id = _pass2(db, result, db_file, started_at, workers, progress, dry=False)
    except _Identical as same:
        run = get_run(db, same.run_id)
        result.run_id, result.already, result.stored = same.run_id, True, run
        result.counts = _ordered(jsontext.loads(run["counts"]))
        result.tally, result.spool, result.db_file = None, None, db_file
        return same.run_id
    finally:
        db.close()
        result.close()
    result.run_id, result.db_file = run_id, db_file
    return run_id


def dry_run(result: RunResult, db_file: str | None, workers: int | None = None,
            progress: Callable[[int], None] | None = None) -> None:
    """Pass 2 without writing: decided with the database's memory (opened
    read-only, one read transaction), the decisions spooled to a temporary
    file that result.decisions and engine.readback read."""
    if result.already:
        return
    db = open_db_readonly(db_file) if db_file else None
    try:
        if db is not None:
            db.conn.execute("BEGIN")
        _pass2(db, result, db_file, now(), workers, progress, dry=True)
    finally:
        if db is not None:
            db.conn.execute("COMMIT")
            db.close()
        result.close()


def _pass2(db: Any, result: RunResult, db_file: str | None, started_at: str,
           workers: int | None, progress: Callable[[int], None] | None, dry: bool) -> int:
    """Check, decide in batches and write (or spool); the run id."""
    as_of = result.as_of
    memory = db is not None and _has_memory(db)
    if memory:
        latest = db.execute("select max(as_of) from runs").fetchone()[0]
        _check_as_of(latest, as_of, result.backfill, meanwhile=True)
        check_memory(db, as_of)
        seq = db.execute("select coalesce(max(seq), 0) from audit").fetchone()[0]
        before = result.recalled
        if before is not None and seq != before.audit_seq and result.input_sha256 \
                and result.rekey is not None:
            # Memory was written since pass 1: the input key names this memory,
            # and a run stored meanwhile with these very inputs is this run.
            result.input_sha256 = key = result.rekey(stored_memory_sha256(db, as_of))
            found = rerun.find_run(db, key) if key else None
            if found is not None and not dry and \
                    not rerun.other_strikes_of_the_date(db, found["id"], as_of):
                raise _Identical(found["id"])
    _check_unchanged(result)
    run_id = 1 if db is None else \
        db.execute("select coalesce(max(id), 0) + 1 from runs").fetchone()[0] \
        if "runs" in db.table_names() else 1
    at = now()
    sink: Any = Spool() if dry else RunWriter(db, run_id, as_of.isoformat(), at)
    tally = Tally()
    if workers is None:
        workers = default_workers(result.accepted)

    def fetch(ids: list[str]) -> dict[str, Memory]:
        return load_memories(db, as_of, ids) if memory else {}

    decided = decide_all(result.policy, batched(accepted_records(result)), as_of,
                         result.population, fetch, db_file if memory else None, workers,
                         len(result.sources) > 1)
    for batch in decided:
        sink.add(batch.rows, batch.strikes)
        tally.add(batch)
        if progress is not None:
            progress(len(batch.rows))
    # Checked again once pass 2 has read everything: bytes appended while it
    # read would otherwise be decided without pass 1 (population figures,
    # duplicates) having seen them.
    _check_unchanged(result, sum(tally.counts.values()))
    result.tally, result.counts = tally, _ordered(tally.counts)
    if dry:
        result.spool = sink.finish()
        return run_id
    run = _run_row(result, tally, started_at)
    if memory:
        same = db.execute("select id from runs where identity = ? order by id desc limit 1",
                          [run["identity"]]).fetchone()
        if same:
            raise _Identical(same[0])
    sink.add_rejects([asdict(r) for r in result.intake.rejects])
    return sink.finish(run)


def _check_unchanged(result: RunResult, decided: int | None = None) -> None:
    """InputError (nothing stored) if a source's bytes are not those pass 1
    read, or pass 2 decided another number of customers than pass 1 accepted."""
    for file in result.files:
        if file.changed():
            raise InputError(f"{file.given} changed while the run was reading it (its bytes "
                             "differ between the run's two passes); nothing was stored",
                             Location(file.given))
    if decided is not None and decided != result.accepted:
        raise InputError(f"the second pass over {source_text(result.sources)} read "
                         f"{decided:,} customers, the first {result.accepted:,}: the source "
                         "changed while the run was reading it; nothing was stored")


def _has_memory(db: Any) -> bool:
    names = set(db.table_names())
    return {"runs", "audit", "strikes"} <= names


def _run_row(result: RunResult, tally: Tally, started_at: str) -> dict[str, Any]:
    """The runs row of a decided run. facts_sha256 and the identity are
    order-independent (batches.Tally): same policy text, same facts, same
    as-of date, same memory (strikes, pardons, registry exemptions, cases)
    give the same identity."""
    policy = result.policy
    identity = hashlib.sha256(f"{policy.sha256}|{tally.facts_sha256}|"
                              f"{result.as_of.isoformat()}|{tally.memory_sha256}"
                              .encode()).hexdigest()
    return {
        "policy_name": policy.name, "policy_version": policy.version,
        "policy_sha256": policy.sha256, "policy_file": policy.file,
        "policy_text": policy.text, "source": result.source,
        "as_of": result.as_of.isoformat(), "customers": tally.customers,
        "rejected": result.intake.rejected_rows, "counts": _dumps(result.counts),
        "population": _dumps(result.population), "adieu_version": __version__,
        "started_at": started_at, "finished_at": now(), "facts_sha256": tally.facts_sha256,
        "identity": identity, "backfill": int(result.backfill),
        "new_strikes": tally.new_strikes, "missing_facts": _dumps(result.missing_facts),
        "sources": _dumps(result.sources or [result.source]),
        "plugins": _dumps(result.plugins), "input_sha256": result.input_sha256,
        "made_by": result.made_by,
    }


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
