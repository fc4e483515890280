"""A run's decisions read back after pass 2, one at a time: from the store
after the commit (store.read_decisions), or from a dry run's spool. So
--json and --csv print a run of any size in flat memory."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any, TextIO

from sqlite_utils import Database

from . import jsontext
from .decide import Decision, RuleResult
from .errors import Location, StoreError
from .store import JSON_COLUMNS, open_db_readonly, read_decisions

_FIELDS = Decision.__dataclass_fields__


def row_decision(row: dict[str, Any]) -> Decision:
    """A decisions row (JSON columns as text) as a Decision."""
    values = {k: (jsontext.loads(v) if k in JSON_COLUMNS and isinstance(v, str) else v)
              for k, v in row.items() if k in _FIELDS}
    for k in ("fired", "shielded", "unknown"):
        values[k] = [RuleResult(**r) for r in values.get(k) or []]
    return Decision(**values)


def rows_of(result: Any, outcome: str | None = None) -> Iterator[dict[str, Any]]:
    """The decision rows of a run (engine.run.RunResult) in source order."""
    if result.spool is not None:
        with open(result.spool, encoding="utf-8") as f:
            for line in f:
                row = jsontext.loads(line)
                if outcome is None or row["outcome"] == outcome:
                    yield row
        return
    if result.run_id is None or not result.db_file:
        return
    # A read-write connection that only reads: the last one to close removes
    # the -wal and -shm files, which a read-only one cannot (they were left
    # behind after --json and --csv).
    try:
        db = Database(sqlite3.connect(result.db_file, timeout=30), execute_plugins=False)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot use database: {exc}", Location(result.db_file)) from None
    try:
        yield from read_decisions(db, result.run_id, outcome=outcome)
    finally:
        db.close()


def decisions_of(result: Any, outcome: str | None = None) -> Iterator[Decision]:
    for row in rows_of(result, outcome):
        yield row_decision(row)


# Facts that name a decision's customer and its account owner, repeated
# beside each decision of `adieu evaluate --json` (null when not given).
NAMING_FACTS = ("name", "owner", "owner_id")


def json_decisions_of(result: Any) -> Iterator[dict[str, Any]]:
    """A run's decisions as `adieu evaluate --json` lists them
    (schemas/evaluate.output.schema.json): each decision's fields
    (schemas/decision.schema.json) plus `facts`, the customer's facts as
    stored (an object; dates as YYYY-MM-DD), and `name`, `owner` and
    `owner_id` taken from them (null when the source has none)."""
    for row in rows_of(result):
        facts = row.get("facts")
        if isinstance(facts, str):
            facts = jsontext.loads(facts)
        facts = facts or {}
        item = row_decision(row).to_dict()
        item["facts"] = facts
        for name in NAMING_FACTS:
            item[name] = facts.get(name)
        yield item


def write_json(head: dict[str, Any], decisions: Iterator[Decision | dict[str, Any]],
               tail: dict[str, Any], out: TextIO) -> None:
    """{**head, "decisions": [...], **tail} as JSON with two-space indents,
    the decisions (Decision, or dicts as json_decisions_of gives them)
    written one at a time: the same text as json_text of the whole document
    (keys in jsontext's order: sorted)."""
    from .safe_text import json_text

    parts = {**head, "decisions": None, **tail}
    order = list(jsontext.loads(jsontext.dumps(dict.fromkeys(parts, 0))))
    out.write("{")
    for i, key in enumerate(order):
        out.write(("\n  " if i == 0 else ",\n  ") + json_text(key) + ": ")
        if key != "decisions":
            out.write(_indented(json_text(parts[key], indent=2)))
            continue
        out.write("[")
        first = True
        for d in decisions:
            out.write("\n    " if first else ",\n    ")
            item = d if isinstance(d, dict) else d.to_dict()
            out.write(_indented(json_text(item, indent=2), 4))
            first = False
        out.write("]" if first else "\n  ]")
    out.write("\n}\n")


def _indented(text: str, by: int = 2) -> str:
    return text.replace("\n", "\n" + " " * by)


def stored_tally(result: Any) -> Any:
    """A Tally (engine.batches) of a stored run's offboard decisions, for
    the summary of a run that was already recorded: approved earlier means
    the customer's case, as the database remembers it for the run's as-of
    date, is approved."""
    from .batches import Batch, Tally, batched
    from .store import load_memories

    tally = Tally()
    db = open_db_readonly(result.db_file) if result.db_file else None
    try:
        for batch in batched(rows_of(result, "offboard")):
            memories = load_memories(db, result.as_of, [r["customer_id"] for r in batch]) \
                if db is not None else {}
            approved = {cid for cid, m in memories.items()
                        if m.case is not None and m.case.state == "approved"}
            tally.add(Batch(batch, [], approved))
    finally:
        if db is not None:
            db.close()
    return tally
