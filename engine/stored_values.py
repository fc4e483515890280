"""Checks on stored values every reader of a stored run shares (store.get_run,
store.list_runs' callers, compact.read): a value the database holds that adieu
never writes (a NULL policy_text, an as-of date that is no date, a runs JSON
column that is not JSON, a decision whose facts are NULL or whose blob is
missing or not JSON) is a StoreError naming the run, the customer (for a
decision) and the column, exit 2; the database was edited or damaged and
`adieu audit verify` says where. Never an unexpected error, never a value
read as something else.

This module imports nothing of the store, so the store's own readers can use
it; engine/stored_checks.py adds the replay-only checks (the policy compiles)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from . import jsontext
from .errors import StoreError

HINT = "the database was edited or damaged (adieu audit verify)"
# The runs columns adieu writes as JSON text (NULL allowed: runs written
# before the column existed, or before m008 for fact_keys/source_files).
RUN_JSON_COLUMNS = ("counts", "population", "missing_facts", "sources", "plugins",
                    "fact_keys", "source_files")


def where(run_id: Any, customer: str | None, column: str) -> str:
    """'run 3, customer 'C-1', column facts' (customer left out when None)."""
    who = f", customer {customer!r}" if customer is not None else ""
    return f"run {run_id}{who}, column {column}"


def check_run(run: dict[str, Any]) -> dict[str, Any]:
    """The runs row (a dict of its columns), if its columns hold what adieu
    writes: policy_text a non-empty text, as_of an ISO date, each JSON column
    (RUN_JSON_COLUMNS) NULL or JSON. StoreError naming the run and column
    otherwise."""
    if not isinstance(run.get("policy_text"), str) or not run["policy_text"].strip():
        raise StoreError(f"{where(run['id'], None, 'policy_text')}: no policy text stored; "
                         + HINT)
    try:
        dt.date.fromisoformat(str(run.get("as_of")))
    except ValueError:
        raise StoreError(f"{where(run['id'], None, 'as_of')}: not a date "
                         f"({str(run.get('as_of'))[:40]!r}); " + HINT) from None
    for column in RUN_JSON_COLUMNS:
        if run.get(column) is not None:
            stored_json(run["id"], None, column, run[column])
    return run


def stored_json(run_id: Any, customer: str | None, column: str, text: Any) -> Any:
    """A JSON column's value decoded; StoreError naming where when it is
    NULL, not text, or not JSON."""
    if not isinstance(text, (str, bytes)):
        raise StoreError(f"{where(run_id, customer, column)}: no value stored "
                         f"({type(text).__name__}); " + HINT)
    try:
        return jsontext.loads(text)
    except (ValueError, TypeError) as exc:
        raise StoreError(f"{where(run_id, customer, column)}: not JSON "
                         f"({' '.join(str(exc).split())}); " + HINT) from None


def missing_blob(run_id: Any, customer: str, column: str) -> StoreError:
    """The error for a decision whose column (facts, rules, ledger) is NULL
    where adieu always writes one, or refers to a blob that is not there."""
    what = "no facts stored" if column == "facts" else "its blob is missing"
    return StoreError(f"{where(run_id, customer, column)}: {what} (NULL, or its blob is "
                      "missing); " + HINT)


def unreadable_blob(run_id: Any, customer: str | None, column: str, exc: Exception) -> StoreError:
    """The error for a decision whose column's blob cannot be decoded."""
    detail = " ".join(str(exc).split()) or "(no message)"
    return StoreError(f"{where(run_id, customer, column)}: the stored decision cannot be "
                      f"read ({type(exc).__name__}: {detail}); " + HINT)
