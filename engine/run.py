"""One evaluation run: source -> facts -> compiled policy -> decisions -> store."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from . import __version__
from .decide import Decision, evaluate_all
from .facts import to_json_value
from .intake import Intake, read_records
from .mapping import IDENTITY, Mapping, load_mapping
from .plugins import registry
from .policy import MARKERS, OUTCOMES, Policy, canonical_facts, load_policy
from .sources import SourceContext, parse_source
from .store import decision_row, now, open_db, write_run


@dataclass
class RunResult:
    policy: Policy
    source: str
    as_of: dt.date
    intake: Intake
    decisions: list[Decision]
    population: dict[str, Any]
    run_id: int | None = None
    counts: dict[str, int] = field(default_factory=dict)


def open_source(source: str, as_of: dt.date, mapping_file: str | None = None,
                options: dict[str, Any] | None = None, extra_facts: dict[str, str] | None = None,
                ) -> tuple[Any, Mapping]:
    """The records of KIND:LOCATION and the mapping to apply to them: the
    given mapping file, else the kind's default mapping."""
    kind, location = parse_source(source, registry().sources)
    known = {**canonical_facts(), **(extra_facts or {})}
    path = mapping_file or kind.mapping
    mapping = load_mapping(path, known) if path else IDENTITY
    context = SourceContext(as_of, {**mapping.options, **(options or {})})
    return kind.reader(location, context), mapping


def prepare(policy_file: str, source: str, as_of: dt.date,
            progress: Callable[[int, int], None] | None = None,
            mapping_file: str | None = None, options: dict[str, Any] | None = None,
            ) -> RunResult:
    """Compile the policy, read, map and coerce the source, decide every
    customer. Nothing is written: a failure here leaves the store untouched."""
    reg = registry()
    parse_source(source, reg.sources)  # a usage error before any work
    policy = load_policy(policy_file, reg.functions)
    records, mapping = open_source(source, as_of, mapping_file, options, policy.facts)
    intake = read_records(records, policy.facts, mapping)
    total = len(intake.records)
    step = (lambda n: progress(n, total)) if progress else None
    decisions, population = evaluate_all(policy, intake.records, as_of, step)
    counts = Counter(d.outcome for d in decisions)
    ordered = {o: counts.get(o, 0) for o in (*OUTCOMES, *MARKERS)}
    return RunResult(policy, source, as_of, intake, decisions, population.stats,
                     counts=ordered)


def store(result: RunResult, db_file: str, started_at: str) -> int:
    """Write the run, every decision and every reject in one transaction."""
    policy = result.policy
    run = {
        "policy_name": policy.name, "policy_version": policy.version,
        "policy_sha256": policy.sha256, "policy_file": policy.file,
        "policy_text": policy.text, "source": result.source,
        "as_of": result.as_of.isoformat(), "customers": len(result.decisions),
        "rejected": result.intake.rejected_rows, "counts": _dumps(result.counts),
        "population": _dumps(result.population), "adieu_version": __version__,
        "started_at": started_at, "finished_at": now(),
    }
    records = result.intake.records
    decisions = [
        decision_row(d, {k: to_json_value(v) for k, v in r.facts.items()}, r.file, r.row)
        for d, r in zip(result.decisions, records, strict=True)]
    rejects = [asdict(r) for r in result.intake.rejects]
    db = open_db(db_file)
    try:
        run_id = write_run(db, run, decisions, rejects)
    finally:
        db.close()
    result.run_id = run_id
    return run_id


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True)
