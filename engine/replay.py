"""Replay a stored run: re-evaluate its stored facts with its stored policy
text, as-of date and each customer's stored memory, and list every
decision that differs. Expected: none. This is how a decision is defended
years later."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlite_utils

from . import __version__, jsontext
from .decide import decide, make_contexts
from .facts import Record, from_json_facts
from .ledger import memory_from_json
from .plugin_record import compile_run_policy, version_notes
from .plugins import registry
from .store import JSON_COLUMNS, decision_row, get_run

COMPARED = ("outcome", "base_outcome", "severity", "strikes", "reasons", "fired", "shielded",
            "unknown", "missing", "exemptions", "expired_exemptions", "holds",
            "effective_date", "phase_out_start", "timing_basis", "referrals", "notes",
            "new_strikes", "repeat_strikes", "active_strikes")
# Columns migration m002 added: NULL in decisions recorded before it (a
# database of the foundation release, adopted on upgrade), where they were
# never computed, so there is nothing stored to compare with.
ADDED_BY_M002 = ("new_strikes", "repeat_strikes", "active_strikes")


def _value(field: str, stored: Any) -> Any:
    """A decision column's value: JSON columns compared by what they hold, not
    by their text (runs of adieu 0.1 wrote JSON with other spacing)."""
    if field in JSON_COLUMNS and isinstance(stored, str):
        return jsontext.loads(stored)
    return stored


def replay(db: sqlite_utils.Database, run_id: int | None) -> dict[str, Any]:
    """Re-decide every customer of a run; returns the run id, how many
    decisions were checked, and the differences."""
    run = get_run(db, run_id)
    reg = registry()
    policy = compile_run_policy(run, reg)  # InputError naming a plugin that is gone
    as_of = dt.date.fromisoformat(run["as_of"])
    rows = list(db.query("select * from decisions where run_id = ? order by rowid",
                         [run["id"]]))
    records = [Record(from_json_facts(jsontext.loads(r["facts"]), policy.facts), r["source_file"],
                      r["source_row"]) for r in rows]
    contexts, population = make_contexts(policy, records, as_of)
    stats = population.compute_all()
    differences: list[dict[str, Any]] = []
    stored_stats = jsontext.loads(run["population"] or "{}")
    for key, stat in stats.items():
        before = stored_stats.get(key, {}).get("value")
        if before != stat["value"]:
            differences.append({"customer_id": None, "field": key, "stored": before,
                                "replayed": stat["value"]})
    for row, ctx in zip(rows, contexts, strict=True):
        memory = memory_from_json(jsontext.loads(row["memory"]) if row.get("memory") else None,
                                  row["customer_id"])
        decision = decide(policy, ctx, as_of, memory)
        again = decision_row(decision, {}, None, None)
        for field in COMPARED:
            if row[field] is None and field in ADDED_BY_M002:
                continue
            if _value(field, again[field]) != _value(field, row[field]):
                differences.append({"customer_id": row["customer_id"], "field": field,
                                    "stored": row[field], "replayed": again[field]})
    return {"run_id": run["id"], "as_of": run["as_of"], "policy": run["policy_name"],
            "made_by": run["adieu_version"], "replayed_by": __version__,
            "checked": len(rows), "differences": differences,
            "plugin_notes": version_notes(run, reg)}
