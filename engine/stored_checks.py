"""Stored rows read back (replay): a value the database holds that adieu
never writes (a NULL policy_text, facts that are NULL, missing or not
JSON, an as-of date that is no date, a policy text that no longer
compiles) is a StoreError naming the run, the customer and the column, exit
2 (the database was edited or damaged: `adieu audit verify` says where),
never an unexpected error."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

from . import jsontext
from .errors import AdieuError, PolicyErrors, StoreError
from .plugin_record import compile_run_policy
from .store import read_decisions
from .stored_values import HINT, stored_json, where

_HINT = HINT
_where = where


def run_policy(run: dict[str, Any], reg: Any) -> Any:
    """The run's stored policy compiled (plugin_record.compile_run_policy);
    a policy text that no longer compiles is a StoreError naming the run
    and the first problem."""
    try:
        return compile_run_policy(run, reg)
    except PolicyErrors as exc:
        first = exc.errors[0] if exc.errors else exc
        raise StoreError(f"{_where(run['id'], None, 'policy_text')}: the stored policy no "
                         f"longer compiles: {first}") from None


def stored_facts(run_id: Any, row: dict[str, Any]) -> dict[str, Any]:
    """A decision row's facts: a JSON object with a customer_id (StoreError
    otherwise: NULL or missing facts come back as {})."""
    facts = stored_json(run_id, row.get("customer_id"), "facts", row.get("facts"))
    if not isinstance(facts, dict) or "customer_id" not in facts:
        raise StoreError(f"{_where(run_id, row.get('customer_id'), 'facts')}: no facts "
                         "stored (NULL, or its blob is missing); " + _HINT)
    return facts


def stored_rows(db: Any, run_id: int) -> Iterator[dict[str, Any]]:
    """store.read_decisions, with a row that cannot be decoded as a
    StoreError naming the run and the column: the run's fact_keys or
    source_files when they are not JSON, else the customer whose stored
    decision (its blobs) cannot be read."""
    read = 0
    rows = read_decisions(db, run_id)
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except AdieuError:
            raise
        except (ValueError, TypeError, KeyError, IndexError, sqlite3.Error) as exc:
            raise StoreError(_unreadable(db, run_id, read, exc)) from None
        read += 1
        yield row


def _unreadable(db: Any, run_id: int, position: int, exc: Exception) -> str:
    """Where a stored decision could not be read: a runs column, or the
    customer at position (0-based, in the order written)."""
    run = db.execute("select fact_keys, source_files from runs where id = ?",
                     [run_id]).fetchone()
    for column, text in zip(("fact_keys", "source_files"), run or (), strict=False):
        if text is not None:
            try:
                jsontext.loads(text)
            except ValueError as bad:
                return f"{_where(run_id, None, column)}: not JSON ({bad}); " + _HINT
    try:
        found = db.execute("select customer_id from run_decisions where run_id = ? "
                           "order by pos limit 1 offset ?", [run_id, position]).fetchone()
    except sqlite3.Error:
        found = None
    where = _where(run_id, found[0], "facts, rules or ledger") if found else f"run {run_id}"
    return (f"{where}: the stored decision cannot be read ({type(exc).__name__}: "
            f"{' '.join(str(exc).split())}); " + _HINT)
