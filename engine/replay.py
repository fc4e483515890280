"""Replay a stored run: re-evaluate its stored facts with its stored policy
text, as-of date and each customer's stored memory, and list every
decision that differs. Expected: none. This is how a decision is defended
years later."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import sqlite_utils

from . import __version__, jsontext
from .batches import batched, decide_remembered, default_workers
from .facts import Record, from_json_facts
from .ledger import memory_from_json
from .plugin_record import version_notes
from .plugins import registry
from .popstats import population_stats
from .store import JSON_COLUMNS, get_run
from .stored_checks import run_policy, stored_facts, stored_rows
from .stored_values import check_run, stored_json

COMPARED = ("outcome", "base_outcome", "severity", "strikes", "reasons", "fired", "shielded",
            "unknown", "missing", "exemptions", "expired_exemptions", "holds",
            "effective_date", "phase_out_start", "timing_basis", "referrals", "notes",
            "new_strikes", "repeat_strikes", "active_strikes", "set_aside_strikes")
# Columns later migrations added (m002, m007): NULL in decisions recorded
# before them (a database of an earlier release, adopted on upgrade), where
# they were never computed, so there is nothing stored to compare with.
ADDED_LATER = ("new_strikes", "repeat_strikes", "active_strikes", "set_aside_strikes")


# Fields whose wording a newer adieu may improve without changing the
# decision: a run made by another adieu version is compared on what the
# text says (timing_basis: which date the offboarding started from, the
# contract end or an N-day notice period; the effective date itself is
# compared exactly), a run made by this version on the exact text.
WORDED = ("timing_basis",)
_BASIS_START = re.compile(r"contract end|[0-9]+-day notice period")


def basis_start(basis: Any) -> Any:
    """What a timing basis started from, whatever the wording of the adieu
    version that wrote it: "contract end", "60-day notice period" (or the
    text itself if it names neither; None stays None)."""
    if not isinstance(basis, str):
        return basis
    found = _BASIS_START.match(basis)
    return found.group(0) if found else basis


def _same(field: str, stored: Any, replayed: Any, same_version: bool) -> bool:
    if field in WORDED and not same_version:
        return basis_start(stored) == basis_start(replayed)
    return _value(field, stored) == _value(field, replayed)


def _value(field: str, stored: Any) -> Any:
    """A decision column's value: JSON columns compared by what they hold, not
    by their text (runs of adieu 0.1 wrote JSON with other spacing)."""
    if field in JSON_COLUMNS and isinstance(stored, str):
        return jsontext.loads(stored)
    return stored


def replay(db: sqlite_utils.Database, run_id: int | None, workers: int | None = None) \
        -> dict[str, Any]:
    """Re-decide every customer of a run; returns the run id, how many
    decisions were checked, and the differences. A run made by another adieu
    version is compared on what its worded fields say (WORDED), not on
    their exact text. Streams the stored decisions twice (population
    figures, then decisions in batches: engine.batches, in workers
    processes; None: the cores from batches.PARALLEL_FROM decisions on),
    so memory stays flat in the run's size.

    Raises StoreError if there is no such run, or one naming the run, the
    customer and the column when a stored value it needs is malformed (a
    NULL policy_text, facts that are NULL, missing or not JSON, a policy
    text that no longer compiles: engine.stored_checks)."""
    run = check_run(get_run(db, run_id))
    same_version = run.get("adieu_version") == __version__
    reg = registry()
    policy = run_policy(run, reg)  # InputError naming a plugin that is gone
    as_of = dt.date.fromisoformat(run["as_of"])

    def record(row: dict[str, Any]) -> Record:
        return Record(from_json_facts(stored_facts(run["id"], row), policy.facts),
                      row["source_file"], row["source_row"])

    def records() -> Iterator[Record]:
        return (record(r) for r in stored_rows(db, run["id"]))

    stats = population_stats(policy, as_of, records)
    differences: list[dict[str, Any]] = []
    stored_stats = stored_json(run["id"], None, "population", run["population"] or "{}")
    for key, stat in stats.items():
        before = stored_stats.get(key, {}).get("value")
        if before != stat["value"]:
            differences.append({"customer_id": None, "field": key, "stored": before,
                                "replayed": stat["value"]})
    stored_batches: list[list[dict[str, Any]]] = []

    def batches() -> Iterator[tuple[list[Record], dict[str, Any]]]:
        for rows in batched(stored_rows(db, run["id"])):
            stored_batches.append(rows)
            yield [record(r) for r in rows], {
                r["customer_id"]: memory_from_json(
                    stored_json(run["id"], r["customer_id"], "memory", r["memory"])
                    if r.get("memory") else None, r["customer_id"]) for r in rows}

    checked = 0
    if workers is None:
        workers = default_workers(run.get("customers") or 0)
    for again in decide_remembered(policy, batches(), as_of, stats, workers):
        rows = stored_batches.pop(0)
        checked += len(rows)
        for row, new in zip(rows, again.rows, strict=True):
            for field in COMPARED:
                if row[field] is None and field in ADDED_LATER:
                    continue
                if not _same(field, row[field], new[field], same_version):
                    differences.append({"customer_id": row["customer_id"], "field": field,
                                        "stored": row[field], "replayed": new[field]})
    return {"run_id": run["id"], "as_of": run["as_of"], "policy_name": run["policy_name"],
            "adieu_version": run["adieu_version"], "replayed_with": __version__,
            "checked": checked, "differences": differences,
            "plugin_notes": version_notes(run, reg)}
