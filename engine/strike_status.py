"""A customer's strikes as `adieu strikes show --as-of D` lists them: each
with its status on D and, for an active strike an exemption sets aside on D,
the exemption (so the listing agrees with the decision of D).

Which exemptions apply on D: when a run as of D decided the customer, the
strikes that decision set aside (its `set_aside_strikes`; the latest such
run). Otherwise the exemptions that would apply to a run as of D: registry
exemptions (`adieu exempt`) of the customer not expired on D, and the
latest run's policy exemptions that name the customer by id (one with a
`when` condition needs the customer's facts, and is judged only by a run)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlite_utils

from .compact import DECIDED
from .errors import AdieuError
from .ledger import Strike, shield_strikes
from .store import read_decisions, registry_exemption
from .stored_values import check_strike, latest_policy_text, stored_list


def _status(row: dict[str, Any], day: str) -> str:
    return ("pardoned" if row["pardoned_at"] else
            "superseded" if row["superseded_by_run"] else
            "active" if row["recorded_on"] <= day < row["expires_on"] else
            "expired" if row["expires_on"] <= day else "future")


def _decided_aside(db: sqlite_utils.Database, customer_id: str, day: str) \
        -> dict[tuple[str, str], str] | None:
    found = db.execute(f"select d.run_id from {DECIDED} d join runs r on "
                       "r.id = d.run_id where d.customer_id = ? and r.as_of = ? "
                       "order by d.run_id desc limit 1", [customer_id, day]).fetchone()
    if found is None:
        return None
    # through store.read_decisions: a damaged row names run, customer, column
    row = next(read_decisions(db, found[0], [customer_id]))
    items = stored_list("run_decisions", f"run {found[0]}, customer {customer_id!r}",
                        "set_aside_strikes", row["set_aside_strikes"])
    return {(s["rule"], s["recorded_on"]): s["exemption"] for s in items
            if isinstance(s, dict) and {"rule", "recorded_on", "exemption"} <= set(s)}


def _applying(db: sqlite_utils.Database, customer_id: str, day: dt.date) -> list[Any]:
    applied = [registry_exemption(r) for r in db.query(
        "select * from exemptions where customer_id = ? and expires > ? order by id",
        [customer_id, day.isoformat()])]
    text = latest_policy_text(db)
    if text is not None:
        from .plugins import registry
        from .policy import compile_policy

        try:
            policy = compile_policy(text, "latest run", registry().functions)
        except AdieuError:
            return applied
        applied = [*(ex for ex in policy.exemptions
                     if customer_id in ex.customers and day < ex.expires), *applied]
    return applied


def strike_rows(db: sqlite_utils.Database, customer_id: str, day: dt.date) \
        -> list[dict[str, Any]]:
    """The customer's strikes-table rows (id, rule, recorded_on, expires_on,
    run_id, superseded_by_run, pardoned_at, pardoned_by, pardon_reason) in
    recorded order, each with `status` on `day` (pardoned | superseded |
    active | expired | future) and `set_aside_by`: the id of the exemption
    that sets the active strike aside on `day`, else None."""
    rows = [check_strike(dict(r)) for r in db.query(
        "select id, rule, recorded_on, expires_on, run_id, superseded_by_run, "
        "pardoned_at, pardoned_by, pardon_reason from strikes where customer_id = ? "
        "order by recorded_on, id", [customer_id])]
    text = day.isoformat()
    for row in rows:
        row["status"] = _status(row, text)
        row["set_aside_by"] = None
    active = [r for r in rows if r["status"] == "active"]
    aside = _decided_aside(db, customer_id, text)
    if aside is None:
        strikes = [Strike(r["rule"], dt.date.fromisoformat(r["recorded_on"]), r["id"])
                   for r in active]
        _, pairs = shield_strikes(strikes, _applying(db, customer_id, day))
        by_id = {s.id: ex for s, ex in pairs}
        for r in active:
            r["set_aside_by"] = by_id.get(r["id"])
    else:
        for r in active:
            r["set_aside_by"] = aside.get((r["rule"], r["recorded_on"]))
    return rows
