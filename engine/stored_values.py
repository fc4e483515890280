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


# Stored rows other than runs (decisions, strikes, cases, exemptions): every
# date column a reader uses is an ISO date (a timestamp column an ISO date
# and time), every JSON column JSON of the shape adieu writes; otherwise a
# StoreError naming the table, the row and the column.
DECISION_DATES = ("effective_date", "phase_out_start")
STRIKE_DATES = {"recorded_on": False, "expires_on": False}
STRIKE_STAMPS = ("pardoned_at",)
CASE_DATES = {"opened_as_of": False, "latest_as_of": False, "effective_date": True,
              "phase_out_start": True, "review_as_of": True}
CASE_LISTS = ("fired", "review_fired")


def located(table: str, key: Any, column: str) -> str:
    """"table cases, row 3, column fired" (key: the row's id, or a
    description such as "run 2, customer 'C-1'")."""
    row = key if isinstance(key, str) else f"row {key}"
    return f"table {table}, {row}, column {column}"


def stored_date(table: str, key: Any, column: str, value: Any, *, nullable: bool = True,
                stamp: bool = False) -> Any:
    """value if it is an ISO date (stamp: an ISO date and time), or NULL
    when nullable; a StoreError naming table, row and column otherwise."""
    if value is None and nullable:
        return value
    try:
        if not isinstance(value, str):
            raise ValueError
        if stamp:
            dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        else:
            dt.date.fromisoformat(value)
    except ValueError:
        what = "no value stored (NULL)" if value is None else f"not a date ({str(value)[:40]!r})"
        raise StoreError(f"{located(table, key, column)}: {what}; " + HINT) from None
    return value


def stored_list(table: str, key: Any, column: str, value: Any) -> list[Any]:
    """A JSON-list column decoded (NULL: []); StoreError naming table, row
    and column when it is not JSON or not a list."""
    if value is None or isinstance(value, list):
        return list(value or [])
    try:
        decoded = jsontext.loads(value) if isinstance(value, (str, bytes)) else None
    except (ValueError, TypeError) as exc:
        raise StoreError(f"{located(table, key, column)}: not JSON "
                         f"({' '.join(str(exc).split())}); " + HINT) from None
    if not isinstance(decoded, list):
        raise StoreError(f"{located(table, key, column)}: not a JSON list; " + HINT)
    return decoded


def check_decision(row: dict[str, Any]) -> dict[str, Any]:
    """A decision row whose date columns are ISO dates or NULL."""
    key = f"run {row.get('run_id')}, customer {row.get('customer_id')!r}"
    for column in DECISION_DATES:
        if column in row:
            stored_date("run_decisions", key, column, row[column])
    return row


def check_strike(row: dict[str, Any]) -> dict[str, Any]:
    """A strikes row whose dates are ISO dates (pardoned_at a timestamp or NULL)."""
    for column, nullable in STRIKE_DATES.items():
        if column in row:
            stored_date("strikes", row.get("id"), column, row[column], nullable=nullable)
    for column in STRIKE_STAMPS:
        if column in row:
            stored_date("strikes", row.get("id"), column, row[column], stamp=True)
    return row


def check_case(row: dict[str, Any]) -> dict[str, Any]:
    """A cases row whose dates are ISO dates and whose fired lists are JSON
    lists (left as stored: the callers decode them)."""
    for column, nullable in CASE_DATES.items():
        if column in row:
            stored_date("cases", row.get("id"), column, row[column], nullable=nullable)
    if row.get("reviewed_at") is not None:
        stored_date("cases", row.get("id"), "reviewed_at", row["reviewed_at"], stamp=True)
    for column in CASE_LISTS:
        if column in row:
            stored_list("cases", row.get("id"), column, row[column])
    return row


def check_exemption(row: dict[str, Any]) -> dict[str, Any]:
    """An exemptions row whose expires is an ISO date and rules a JSON list or NULL."""
    if "expires" in row:
        stored_date("exemptions", row.get("id"), "expires", row["expires"], nullable=False)
    if "rules" in row and row["rules"]:
        stored_list("exemptions", row.get("id"), "rules", row["rules"])
    return row


def latest_policy_text(db: Any) -> str | None:
    """The latest run's policy_text (None when there is no run); StoreError
    naming the run when it holds none."""
    row = db.execute("select id, policy_text from runs order by id desc limit 1").fetchone()
    if row is None:
        return None
    if not isinstance(row[1], str) or not row[1].strip():
        raise StoreError(f"{where(row[0], None, 'policy_text')}: no policy text stored; " + HINT)
    return row[1]
