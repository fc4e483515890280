"""One evaluation run: source -> facts -> compiled policy -> decisions -> store."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from . import __version__, jsontext
from .columns import ColumnCheck, check_columns, header_location
from .decide import Decision, evaluate_all
from .errors import InputError
from .facts import to_json_value
from .intake import Intake, read_records
from .join import SourcePart, SourceSpec, check_joined_columns, join, pair_sources, parse_prefer
from .ledger import Memory
from .mapping import IDENTITY, Mapping, load_mapping
from .plugin_record import used_plugins
from .plugins import registry
from .policy import MARKERS, OUTCOMES, Policy, canonical_facts, load_policy
from .sources import SourceContext, parse_source
from .store import decision_row, load_memories, now, open_db, write_run


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


def recall(db_file: str | None, as_of: dt.date, backfill: bool) -> dict[str, Memory]:
    """Every customer's memory of earlier runs in db_file (none if the file
    does not exist yet). Refuses an as-of date before the latest run's unless
    backfill is asked for."""
    if not db_file or not Path(db_file).exists():
        return {}
    db = open_db(db_file)
    try:
        row = db.execute("select id, max(as_of) from runs").fetchone()
        latest = row[1] if row else None
        if latest and as_of.isoformat() < latest and not backfill:
            raise InputError(f"as-of date {as_of.isoformat()} is before the latest run's "
                             f"({latest}); pass --backfill to evaluate the past on purpose")
        return load_memories(db, as_of)
    finally:
        db.close()


def prepare(policy_file: str, source: str | Sequence[str], as_of: dt.date,
            progress: Callable[[int, int], None] | None = None,
            mapping_file: str | Sequence[str] | None = None,
            options: dict[str, Any] | None = None,
            db_file: str | None = None, backfill: bool = False,
            allow_missing_facts: bool = False,
            prefer: Sequence[str] | None = None) -> RunResult:
    """Compile the policy, read, map and coerce the source (or several
    sources, joined by customer id: engine.join), check that it carries
    every fact the policy uses (engine.columns; InputError naming the
    missing ones unless they are allowed, by the policy or by
    allow_missing_facts), recall what earlier runs in db_file remember,
    decide every customer. Nothing is written: a failure here leaves the
    store untouched.

    source: KIND:LOCATION, or a list of them; mapping_file: one mapping
    file, or one per source in the same order ("-" or None: the kind's
    own); prefer: --prefer items (engine.join.parse_prefer)."""
    reg = registry()
    sources = [source] if isinstance(source, str) else list(source)
    mappings = [mapping_file] if isinstance(mapping_file, str) else \
        (list(mapping_file) if mapping_file else None)
    specs = pair_sources(sources, mappings, reg.sources)  # usage errors before any work
    order = parse_prefer(prefer, specs)
    policy = load_policy(policy_file, reg.functions)
    memories = recall(db_file, as_of, backfill)
    parts = read_parts(specs, as_of, options, policy.facts, len(specs) > 1)
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
    decisions, population = evaluate_all(policy, intake.records, as_of, step, memories)
    counts = Counter(d.outcome for d in decisions)
    ordered = {o: counts.get(o, 0) for o in (*OUTCOMES, *MARKERS)}
    return RunResult(policy, source_text(sources), as_of, intake, decisions, population.stats,
                     memories, backfill, counts=ordered, missing_facts=check.allowed,
                     warnings=check.warnings, sources=sources,
                     plugins=used_plugins(policy, [s.kind for s in specs], reg))


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


def store(result: RunResult, db_file: str, started_at: str) -> int:
    """Write the run, every decision, reject and new strike, and their audit
    entries, in one transaction. A run identical to one already recorded
    (same policy text, same facts, same as-of date) is not written again:
    its id is returned and result.already is set."""
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
        "plugins": _dumps(result.plugins),
    }
    rejects = [asdict(r) for r in result.intake.rejects]
    db = open_db(db_file)
    try:
        same = db.execute("select id from runs where identity = ? order by id desc limit 1",
                          [identity]).fetchone()
        if same:
            result.run_id, result.already = same[0], True
            return same[0]
        run_id = write_run(db, run, decisions, rejects, strikes)
    finally:
        db.close()
    result.run_id = run_id
    return run_id


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
