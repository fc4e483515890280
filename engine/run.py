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
from .plugins import registry
from .policy import MARKERS, OUTCOMES, Policy, load_policy
from .sources import parse_source
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


def prepare(policy_file: str, source: str, as_of: dt.date,
            progress: Callable[[int, int], None] | None = None) -> RunResult:
    """Compile the policy, read and coerce the source, decide every customer.
    Nothing is written: a failure here leaves the store untouched."""
    reg = registry()
    kind, location = parse_source(source, reg.sources)  # usage errors before the work
    policy = load_policy(policy_file, reg.functions)
    intake = read_records(kind.reader(location), policy.facts)
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
