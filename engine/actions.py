"""Human actions on the record, each written with its audit entry in one
transaction: pardoning a strike, recording an exemption, approving or
rejecting an offboarding (engine/reviewing.py)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import sqlite_utils

from .audit import AuditLog
from .errors import AdieuError, InputError, did_you_mean
from .safe_text import name_problem
from .store import now


def _need(value: str | None, what: str) -> str:
    if value is None or not value.strip():
        raise InputError(f"{what} may not be empty")
    return value.strip()


def _person(value: str | None, what: str) -> str:
    """A person's name typed as --by or --approver: not empty, and nothing
    in it that would make it look like another name (safe_text.name_problem)."""
    name = _need(value, what)
    problem = name_problem(name, what)
    if problem:
        raise InputError(problem)
    return name


def pardon(db: sqlite_utils.Database, customer_id: str, rule: str, by: str,
           reason: str) -> dict[str, Any]:
    """Remove the customer's latest active strike for rule; returns it."""
    by, reason = _person(by, "--by"), _need(reason, "--reason")
    row = db.execute(
        "select id, recorded_on from strikes where customer_id = ? and rule = ? and "
        "pardoned_at is null and superseded_by_run is null order by recorded_on desc limit 1",
        [customer_id, rule]).fetchone()
    if row is None:
        raise InputError(f"{customer_id} has no strike for rule {rule!r} to pardon "
                         f"(see `adieu strikes {customer_id}`)")
    at = now()
    with db.atomic():
        db.execute("update strikes set pardoned_at = ?, pardoned_by = ?, pardon_reason = ? "
                   "where id = ?", [at, by, reason, row[0]])
        log = AuditLog(db, at)
        log.add("pardon", {"strike_id": row[0], "rule": rule, "recorded_on": row[1],
                           "by": by, "reason": reason}, None, customer_id)
        log.flush()
    return {"id": row[0], "rule": rule, "recorded_on": row[1], "pardoned_by": by}


def add_exemption(db: sqlite_utils.Database, customer_id: str, rules: list[str] | None,
                  reason: str, approver: str, until: dt.date) -> int:
    """Record an exemption in the registry; rules None shields every rule."""
    reason, approver = _need(reason, "--reason"), _person(approver, "--approver")
    if rules:
        known = known_rules(db)
        unknown = [r for r in rules if known and r not in known]
        if unknown:
            raise InputError(f"--rules names {', '.join(repr(r) for r in unknown)}, not a rule "
                             f"of the latest run's policy{did_you_mean(unknown[0], known)} "
                             f"(rules: {', '.join(sorted(known))})")
    at = now()
    record = {"customer_id": customer_id, "rules": json.dumps(rules) if rules else None,
              "reason": reason, "approver": approver, "expires": until.isoformat(),
              "recorded_at": at}
    with db.atomic():
        exemption_id = int(db["exemptions"].insert(record).last_pk)
        log = AuditLog(db, at)
        log.add("exemption", {"id": exemption_id, **record}, None, customer_id)
        log.flush()
    return exemption_id


def known_rules(db: sqlite_utils.Database) -> set[str]:
    """Rule ids of the latest run's policy (empty if there is no run yet)."""
    row = db.execute("select policy_text from runs order by id desc limit 1").fetchone()
    if row is None:
        return set()
    from .plugins import registry
    from .policy import compile_policy

    try:
        return {r.id for r in compile_policy(row[0], "latest run", registry().functions).rules}
    except AdieuError:
        return set()


def history(db: sqlite_utils.Database, customer_id: str) -> dict[str, Any]:
    """The customer's timeline across runs."""
    runs = []
    previous: dict[str, Any] | None = None
    for row in db.query(
            "select d.run_id, r.as_of, r.policy_name, r.policy_version, d.outcome, "
            "d.base_outcome, d.strikes, d.fired, d.shielded, d.new_strikes, d.repeat_strikes, "
            "d.active_strikes, d.exemptions, d.expired_exemptions, d.holds, d.missing, "
            "v.verdict, v.reviewer, v.note from decisions d join runs r on r.id = d.run_id "
            "left join reviews v on v.run_id = d.run_id and v.customer_id = d.customer_id "
            "where d.customer_id = ? order by r.as_of, d.run_id", [customer_id]):
        for key in ("fired", "shielded", "new_strikes", "repeat_strikes", "active_strikes",
                    "exemptions", "expired_exemptions", "holds", "missing"):
            row[key] = json.loads(row[key]) if row.get(key) else []
        fired = sorted(r["rule"] for r in row["fired"])
        entry = {
            "run_id": row["run_id"], "as_of": row["as_of"],
            "policy": f"{row['policy_name']} v{row['policy_version']}",
            "outcome": row["outcome"], "base_outcome": row["base_outcome"],
            "active_strikes": row["strikes"], "fired": fired,
            "new_strikes": row["new_strikes"],
            "repeat_strikes": [s["rule"] for s in row["repeat_strikes"]],
            "exemptions": [e["id"] for e in row["exemptions"]],
            "expired_exemptions": [e["id"] for e in row["expired_exemptions"]],
            "holds": [h["id"] for h in row["holds"]], "missing": row["missing"],
            "review": None if row["verdict"] is None else {
                "verdict": row["verdict"], "reviewer": row["reviewer"], "note": row["note"]},
            "changes": [],
        }
        if previous is not None:
            entry["changes"] = _changes(previous, entry)
        active_now = {(s["rule"], s["recorded_on"]) for s in row["active_strikes"]}
        gone = [s for s in (previous or {}).get("_active", [])
                if (s["rule"], s["recorded_on"]) not in active_now]
        # A strike that stopped counting before its expiry date was withdrawn
        # by a pardon, not expired.
        entry["expired_strikes"] = sorted(f"{s['rule']} ({s['recorded_on']})" for s in gone
                                          if s["expires_on"] <= row["as_of"])
        entry["pardoned_strikes"] = sorted(f"{s['rule']} ({s['recorded_on']})" for s in gone
                                           if s["expires_on"] > row["as_of"])
        entry["_active"] = row["active_strikes"]
        runs.append(entry)
        previous = entry
    for entry in runs:
        entry.pop("_active", None)
    strikes = [dict(r) for r in db.query(
        "select id, rule, recorded_on, expires_on, run_id, superseded_by_run, pardoned_at, "
        "pardoned_by, pardon_reason from strikes where customer_id = ? order by recorded_on, id",
        [customer_id])]
    exemptions = [dict(r) for r in db.query(
        "select id, rules, reason, approver, expires, recorded_at from exemptions where "
        "customer_id = ? order by id", [customer_id])]
    from .reviewing import customer_cases

    return {"customer_id": customer_id, "runs": runs, "strikes": strikes,
            "registry_exemptions": exemptions, "cases": customer_cases(db, customer_id)}


def _changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    out = []
    if before["outcome"] != after["outcome"]:
        out.append(f"outcome {before['outcome']} -> {after['outcome']}")
    if before["active_strikes"] != after["active_strikes"]:
        out.append(f"active strikes {before['active_strikes']} -> {after['active_strikes']}")
    for rule in sorted(set(after["fired"]) - set(before["fired"])):
        out.append(f"{rule} now fires")
    for rule in sorted(set(before["fired"]) - set(after["fired"])):
        out.append(f"{rule} no longer fires")
    for ex in sorted(set(after["expired_exemptions"]) - set(before["expired_exemptions"])):
        out.append(f"exemption {ex} expired")
    for ex in sorted(set(after["exemptions"]) - set(before["exemptions"])):
        out.append(f"exemption {ex} applies")
    return out
