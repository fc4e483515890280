"""Human actions on the record, each written with its audit entry in one
transaction: pardoning a strike, recording an exemption, approving or
rejecting an offboarding (engine/reviewing.py)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import sqlite_utils

from . import compact, timeline
from .audit import AuditLog
from .errors import AdieuError, InputError, StoreError, did_you_mean
from .safe_text import name_problem
from .store import now, read_decisions
from .stored_values import check_exemption, check_strike, stored_list
from .typed_names import decided_customer


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
    """Remove the customer's latest active strike for rule; returns it.

    The strike is chosen and marked in one write transaction (BEGIN
    IMMEDIATE: store.Database.atomic), so two pardons at once never both
    pick the same strike: the second waits, then pardons the next strike
    of the rule or raises InputError (exit 2) when none is left."""
    by, reason = _person(by, "--by"), _need(reason, "--reason")
    at = now()
    with db.atomic():
        row = db.execute(
            "select id, recorded_on from strikes where customer_id = ? and rule = ? and "
            "pardoned_at is null and superseded_by_run is null "
            "order by recorded_on desc, id desc limit 1", [customer_id, rule]).fetchone()
        if row is None:
            raise InputError(f"{customer_id} has no strike for rule {rule!r} to pardon "
                             f"(see `adieu strikes {customer_id}`)")
        db.execute("update strikes set pardoned_at = ?, pardoned_by = ?, pardon_reason = ? "
                   "where id = ? and pardoned_at is null", [at, by, reason, row[0]])
        log = AuditLog(db, at)
        log.add("pardon", {"strike_id": row[0], "rule": rule, "recorded_on": row[1],
                           "by": by, "reason": reason}, None, customer_id)
        log.flush()
    return {"id": row[0], "rule": rule, "recorded_on": row[1], "pardoned_by": by}


def add_exemption(db: sqlite_utils.Database, customer_id: str, rules: list[str] | None,
                  reason: str, approver: str, until: dt.date,
                  new_customer: bool = False) -> int:
    """Record an exemption in the registry; rules None shields every rule.

    Raises InputError (exit 2) when rules is an empty list (it names no
    rule; it never means every rule), names a rule the latest run's policy
    does not have, when `until` is on or before the latest run's as-of date
    (the exemption would apply to no run from then on), or when no run has
    decided customer_id and new_customer is not set (a typo of a decided
    id is named: "did you mean 'C1'?")."""
    reason, approver = _need(reason, "--reason"), _person(approver, "--approver")
    if rules is not None and not rules:
        raise InputError("--rules names no rule (give rule ids separated by commas, or --all)")
    if rules:
        known = known_rules(db)
        unknown = [r for r in rules if known and r not in known]
        if unknown:
            raise InputError(f"--rules names {', '.join(repr(r) for r in unknown)}, not a rule "
                             f"of the latest run's policy{did_you_mean(unknown[0], known)} "
                             f"(rules: {', '.join(sorted(known))})")
    latest = db.execute("select max(as_of) from runs").fetchone()[0] \
        if db["runs"].exists() else None
    if latest is not None and until.isoformat() <= latest:
        raise InputError(f"--until {until.isoformat()} is not after the latest run's as-of "
                         f"date {latest}: the exemption would apply to no run from then on "
                         "(it stops applying on its --until date)")
    decided, near = decided_customer(db, customer_id)
    if not decided and not new_customer:
        hint = f" (did you mean {' or '.join(repr(n) for n in near)}?)" if near else ""
        raise InputError(f"no run has decided customer {customer_id!r}{hint}; to exempt a "
                         "customer before its first run, add --new-customer")
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


def require_customer(db: sqlite_utils.Database, customer_id: str) -> None:
    """Raise StoreError (exit 2) if the database knows nothing of the
    customer: no decision in any run, no strike, no registry exemption."""
    for table in ("decisions", "strikes", "exemptions"):
        if db.execute(f"select 1 from {table} where customer_id = ? limit 1",
                      [customer_id]).fetchone():
            return
    raise StoreError(f"customer {customer_id!r} is not in the database (no decisions, "
                     "strikes or exemptions)")


def history(db: sqlite_utils.Database, customer_id: str) -> dict[str, Any]:
    """The customer's timeline across runs. Each run's entry says why strikes
    stopped counting (expired, pardoned, superseded, set aside by an
    exemption: engine/timeline.py) and how the rules changed.

    Raises StoreError if the customer has no decision in any run."""
    strikes = [check_strike(dict(r)) for r in db.query(
        "select id, rule, recorded_on, expires_on, run_id, superseded_by_run, pardoned_at, "
        "pardoned_by, pardon_reason from strikes where customer_id = ? order by recorded_on, id",
        [customer_id])]
    rows_of: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for s in strikes:
        rows_of.setdefault((s["rule"], s["recorded_on"]), []).append(s)
    runs = []
    previous: dict[str, Any] | None = None
    # The runs that decided the customer from the view's plain columns, each
    # decision read through store.read_decisions (a damaged stored row is a
    # StoreError naming run, customer and column: engine/stored_values.py).
    for found in db.query(
            "select d.run_id, r.as_of, r.policy_name, r.policy_version, "
            f"v.verdict, v.reviewer, v.note from {compact.DECIDED} d join runs r "
            "on r.id = d.run_id "
            "left join reviews v on v.run_id = d.run_id and v.customer_id = d.customer_id "
            "where d.customer_id = ? order by r.as_of, d.run_id", [customer_id]):
        row = {**next(read_decisions(db, found["run_id"], [customer_id])), **found}
        for key in ("fired", "shielded", "unknown", "new_strikes", "repeat_strikes",
                    "active_strikes",
                    "exemptions", "expired_exemptions", "holds", "missing",
                    "set_aside_strikes"):
            row[key] = json.loads(row[key]) if isinstance(row.get(key), str) and row[key] \
                else row.get(key) or []
        fired = sorted(r["rule"] for r in row["fired"])
        aside = timeline.set_aside(row)
        entry = {
            "run_id": row["run_id"], "as_of": row["as_of"],
            "policy_name": row["policy_name"], "policy_version": row["policy_version"],
            "outcome": row["outcome"], "base_outcome": row["base_outcome"],
            "strikes": row["strikes"], "fired": fired,
            "shielded": sorted(({"rule": r["rule"], "by": r.get("shielded_by")}
                                for r in row["shielded"]), key=lambda s: s["rule"]),
            "unknown": [{"rule": r["rule"], "missing": r.get("missing") or [],
                         "problems": r.get("problems") or []} for r in row["unknown"]],
            "new_strikes": row["new_strikes"],
            "pardons_held": _pardons_held(row, fired),
            "repeat_strikes": [s["rule"] for s in row["repeat_strikes"]],
            "set_aside_strikes": [f"{s['rule']} ({s['recorded_on']}) by {s['exemption']}"
                                  for s in row["set_aside_strikes"]],
            "exemptions": [e["id"] for e in row["exemptions"]],
            "expired_exemptions": [e["id"] for e in row["expired_exemptions"]],
            "holds": [h["id"] for h in row["holds"]], "missing": row["missing"],
            "review": None if row["verdict"] is None else {
                "verdict": row["verdict"], "reviewer": row["reviewer"], "note": row["note"]},
            "changes": [],
        }
        if previous is not None:
            entry["changes"] = _changes(previous, entry)
        # The strikes that count in this run: active and not set aside.
        counting = [s for s in row["active_strikes"]
                    if (s["rule"], s["recorded_on"]) not in aside]
        now_keys = {(s["rule"], s["recorded_on"]) for s in counting}
        # Strikes set aside in the run before still stop counting for a
        # reason of their own (expired, pardoned) when they are neither
        # counted nor set aside now.
        before = [*(previous or {}).get("_counting", []),
                  *(previous or {}).get("_aside", {}).values()]
        prev_run = (previous or {}).get("run_id")
        gone = [timeline.stopped(s, row["run_id"], row["as_of"], aside, timeline.alive_at(
                    rows_of.get((s["rule"], s["recorded_on"]), []), prev_run))
                for s in before if (s["rule"], s["recorded_on"]) not in now_keys
                and (s["rule"], s["recorded_on"]) not in aside]
        # A strike counted before and set aside now is listed as set aside.
        gone += [timeline.stopped(s, row["run_id"], row["as_of"], aside, [])
                 for s in (previous or {}).get("_counting", [])
                 if (s["rule"], s["recorded_on"]) in aside]
        # Superseded by this run, which recorded the same rule again on the
        # date: the same (rule, date) counts before and after, yet the strike
        # is this run's.
        for s in before:
            key = (s["rule"], s["recorded_on"])
            if key in now_keys:
                again = timeline.replaced(s, row["run_id"], rows_of.get(key, []))
                if again is not None and all(g is not again for g in gone):
                    gone.append(again)
        gone = list({(g["rule"], g["recorded_on"], g["why"]): g for g in gone}.values())
        gone.sort(key=lambda g: (g["rule"], g["recorded_on"]))
        entry["stopped_strikes"] = gone
        for why, key in (("expired", "expired_strikes"), ("pardoned", "pardoned_strikes"),
                         ("superseded", "superseded_strikes"),
                         ("recorded_later", "later_strikes"),
                         ("not_counted", "uncounted_strikes")):
            entry[key] = [g["short"] for g in gone if g["why"] == why]
        aside_before = (previous or {}).get("_aside", {})
        entry["strikes_counting_again"] = sorted(
            f"{k[0]} ({k[1]}), set aside by exemption {aside_before[k].get('exemption')} "
            "before" for k in now_keys if k in aside_before)
        entry["_counting"], entry["_aside"] = counting, aside
        runs.append(entry)
        previous = entry
    for entry in runs:
        entry.pop("_counting", None)
        entry.pop("_aside", None)
    exemptions = [check_exemption(dict(r)) for r in db.query(
        "select id, rules, reason, approver, expires, recorded_at from exemptions where "
        "customer_id = ? order by id", [customer_id])]
    if not runs and not strikes and not exemptions:
        require_customer(db, customer_id)
    from .reviewing import customer_cases

    for ex in exemptions:  # a JSON list, as `adieu exemptions --json` gives it (NULL: all)
        ex["rules"] = stored_list("exemptions", ex["id"], "rules", ex["rules"]) \
            if ex["rules"] else None
    return {"customer_id": customer_id, "runs": runs, "strikes": strikes,
            "registry_exemptions": exemptions, "cases": customer_cases(db, customer_id)}


def _pardons_held(row: dict[str, Any], fired: list[str]) -> list[str]:
    """'R: strike of D pardoned by WHO' for each rule that fired in the run
    although its strike of the run's date was pardoned (the decision's
    memory carries those pardons: no new strike was recorded)."""
    try:
        memory = json.loads(row["memory"]) if row.get("memory") else {}
    except ValueError:
        return []
    pardoned = memory.get("pardoned") if isinstance(memory, dict) else None
    return [f"{p['rule']}: strike of {p['recorded_on']} pardoned by {p['pardoned_by']}"
            for p in pardoned or [] if isinstance(p, dict) and p.get("rule") in fired
            and p.get("recorded_on") == row["as_of"]]


def _changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    out = []
    if before["outcome"] != after["outcome"]:
        out.append(f"outcome {before['outcome']} -> {after['outcome']}")
    if before["strikes"] != after["strikes"]:
        out.append(f"active strikes {before['strikes']} -> {after['strikes']}")
    out.extend(timeline.rule_changes(before, after))
    for ex in sorted(set(after["expired_exemptions"]) - set(before["expired_exemptions"])):
        out.append(f"exemption {ex} expired")
    for ex in sorted(set(after["exemptions"]) - set(before["exemptions"])):
        out.append(f"exemption {ex} applies")
    return out
