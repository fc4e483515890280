"""The values an offboarding brief's template sees (docs/ops-guide.md, "The
offboarding brief", lists every one with its type and an example).

Built from one stored decision (store.get_decision), its run (store.get_run),
the customer's case (reviewing.run_case) and strike ledger
(strike_status.strike_rows): nothing is decided again. A value the decision
does not have is left out of the context (never None or ""), so a template
that uses it fails with StrictUndefined, naming it, instead of printing a
blank."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlite_utils

from .cases import review_day
from .compact import DECIDED
from .errors import PolicyErrors, StoreError
from .explain import fmt
from .reviewing import run_case
from .store import get_decision, get_run
from .strike_status import strike_rows

# Outcomes a brief is written for (DOMAIN.md: "Saying goodbye well").
BRIEF_OUTCOMES = ("offboard",)
# Case states in which the offboarding is approved: the brief is final.
APPROVED_STATES = ("approved", "effective")
# Facts that may name the customer's main contact, first found wins.
CONTACT_FACTS = ("main_contact", "contact_name", "contact")

# The customer-facing steps of the transition timeline, in order.
STEP_TEXT = {
    "phase_out_start": "Transition begins: we plan the move with you and keep serving "
                       "you as today",
    "handover": "Handover: we send you a full export of your data and history",
    "last_day": "Last day of service",
    "effective": "The offboarding takes effect",
}


class Data(dict):
    """A dict of brief values that knows its own name in the context
    ("customer", "rules[0]"), so a missing key is reported by its full
    name ('customer.contact'). The name is an attribute starting with an
    underscore, which the sandbox never lets a template read."""

    _adieu_path: str = ""


class Items(list):
    """A list of brief values that knows its name ("rules", "strikes")."""

    _adieu_path: str = ""


def items(path: str, values: list[Any]) -> Items:
    """An Items named `path`."""
    out = Items(values)
    out._adieu_path = path
    return out


def data(path: str, values: dict[str, Any]) -> Data:
    """A Data named `path` holding `values` without the None ones."""
    out = Data((k, v) for k, v in values.items() if v is not None)
    out._adieu_path = path
    return out


def brief_decision(db: sqlite_utils.Database, customer_id: str, run_id: int | None,
                   ) -> tuple[dict[str, Any], dict[str, Any]]:
    """(runs row, decisions row with JSON decoded) of the customer's decision
    in run_id, or in the latest run that decided the customer. StoreError
    (exit 2) for a customer the database does not know, a run that is not
    there, or a run that did not decide the customer."""
    if run_id is None and db.execute(f"select 1 from {DECIDED} where customer_id = ? limit 1",
                                     [customer_id]).fetchone() is None:
        raise StoreError(f"customer {customer_id!r} has no decision in any run")
    run = get_run(db, run_id, customer_id)
    return run, get_decision(db, run["id"], customer_id)


def refuse_unless_offboard(run: dict[str, Any], row: dict[str, Any]) -> None:
    """Raise StoreError (exit 2) when the decision is not an offboarding: a
    brief says goodbye, and no other outcome has an effective date."""
    if row["outcome"] in BRIEF_OUTCOMES:
        return
    held = " (held back for review: no brief until the hold is resolved)" \
        if row["outcome"] == "held" else ""
    raise StoreError(
        f"customer {row['customer_id']!r} is not offboarded in run {run['id']} "
        f"(as of {run['as_of']}): the decision is {row['outcome']}{held}; a brief is "
        "written only for an offboard decision (--run N picks another run)")


def refuse_closed_case(run: dict[str, Any], case: dict[str, Any] | None) -> None:
    """Raise StoreError (exit 2) when the offboarding this decision proposed
    was rejected or withdrawn: there is nothing to announce."""
    if case is None or case["state"] not in ("rejected", "withdrawn"):
        return
    how = f"rejected by {case['reviewer']}" if case["state"] == "rejected" and \
        case.get("reviewer") else case["state"]
    raise StoreError(
        f"the offboarding of customer {case['customer_id']!r} that run {run['id']} "
        f"proposed was {how} (case {case['id']}): there is no brief to write")


def _titles(run: dict[str, Any], row: dict[str, Any]) -> dict[str, str]:
    titles = {}
    from .plugin_record import plugin_gone, policy_text_error
    from .plugins import registry
    from .policy import compile_policy

    reg = registry()
    try:
        policy = compile_policy(run["policy_text"], f"run {run['id']} policy", reg.functions)
        titles = {r.id: r.title for r in policy.rules if getattr(r, "title", None)}
    except PolicyErrors as exc:  # a plugin function the run used is gone: the stored titles
        if not plugin_gone(run, reg, exc):  # else the stored text was damaged
            raise policy_text_error(run, exc) from None
    for kind in ("fired", "shielded", "unknown"):
        for r in row.get(kind) or []:
            if r.get("title"):
                titles.setdefault(r["rule"], r["title"])
    return titles


def fact_text(value: Any) -> str:
    """A stored fact as plain text, as the policy sees it: text bare (no
    quotes), dates ISO, booleans true/false, numbers in plain words
    (explain.fmt), a set as its members joined by ", "."""
    if isinstance(value, str):
        return value
    if isinstance(value, (frozenset, set)):
        value = sorted(value, key=str)
    if isinstance(value, (list, tuple)):
        return ", ".join(fact_text(v) for v in value)
    return fmt(value)


def _rule(index: int, path: str, r: dict[str, Any]) -> Data:
    figures = [data(f"{path}[{index}].figures[{i}]", {"name": k, "value": fmt(v)})
               for i, (k, v) in enumerate((r.get("figures") or {}).items())]
    return data(f"{path}[{index}]", {
        "id": r["rule"], "title": r.get("title") or None, "action": r["action"],
        "severity": r["severity"],
        # a rule without `explain` stores its title (or id) as the explanation
        "explanation": None if r.get("explanation") in (None, "", r.get("title"), r["rule"])
        else r["explanation"],
        "figures": items(f"{path}[{index}].figures", figures), "exemption": r.get("shielded_by")})


def _timeline(start: str | None, effective: str | None) -> Items:
    """The customer-facing steps between the decision and the effective
    date: phase-out start (when before the effective date), a handover half
    way through the phase-out (when a day lies strictly between), the last
    day of service (the day before the effective date, when after the
    phase-out start) and the effective date."""
    if effective is None:
        return items("timeline", [])
    end = dt.date.fromisoformat(effective)
    steps: list[tuple[dt.date, str]] = []
    if start is not None and dt.date.fromisoformat(start) < end:
        begin = dt.date.fromisoformat(start)
        steps.append((begin, "phase_out_start"))
        middle = begin + (end - begin) // 2
        if begin < middle < end - dt.timedelta(days=1):
            steps.append((middle, "handover"))
        if end - dt.timedelta(days=1) > begin:
            steps.append((end - dt.timedelta(days=1), "last_day"))
    steps.append((end, "effective"))
    return items("timeline", [data(f"timeline[{i}]", {
        "date": day.isoformat(), "step": step, "what": STEP_TEXT[step]})
        for i, (day, step) in enumerate(steps)])


def _strikes(db: sqlite_utils.Database, customer_id: str, as_of: str,
             titles: dict[str, str]) -> Items:
    rows = [r for r in strike_rows(db, customer_id, dt.date.fromisoformat(as_of))
            if r["recorded_on"] <= as_of]
    return items("strikes", [data(f"strikes[{i}]", {
        "rule": r["rule"], "title": titles.get(r["rule"]), "recorded_on": r["recorded_on"],
        "expires_on": r["expires_on"], "status": r["status"],
        "counted": r["status"] == "active" and not r["set_aside_by"],
        "set_aside_by": r["set_aside_by"]}) for i, r in enumerate(rows)])


def _case(case: dict[str, Any] | None) -> Data | None:
    if case is None:
        return None
    reviewed = review_day(case)
    return data("case", {
        "id": case["id"], "state": case["state"], "reviewer": case.get("reviewer"),
        "reviewed_on": reviewed, "review_note": case.get("review_note"),
        "effective_date": case.get("effective_date"), "opened_as_of": case["opened_as_of"]})


def brief_context(db: sqlite_utils.Database, run: dict[str, Any], row: dict[str, Any],
                  contact: str | None = None) -> dict[str, Any]:
    """The template context of the brief for decision `row` of `run`
    (shapes: docs/ops-guide.md, "The offboarding brief"). contact: the
    main contact's name (--contact), else a fact in CONTACT_FACTS, else
    left out. Dates are ISO text (YYYY-MM-DD); numbers are plain words
    (explain.fmt: 48,600 / 1.10)."""
    cid = row["customer_id"]
    facts = row.get("facts") or {}
    if contact is None:
        contact = next((str(facts[k]) for k in CONTACT_FACTS if facts.get(k) not in
                        (None, "")), None)
    titles = _titles(run, row)
    case = run_case(db, run["id"], cid)
    refuse_closed_case(run, case)
    approved = case is not None and case["state"] in APPROVED_STATES
    return {
        "customer": data("customer", {
            "id": cid, "name": facts.get("name"), "owner": facts.get("owner"),
            "contact": contact}),
        "facts": data("facts", {k: fact_text(v) for k, v in sorted(facts.items())}),
        "run": data("run", {"id": run["id"], "as_of": run["as_of"],
                            "policy_name": run["policy_name"],
                            "policy_version": run["policy_version"]}),
        "decision": data("decision", {
            "outcome": row["outcome"], "base_outcome": row["base_outcome"],
            "severity": row["severity"], "strikes": row["strikes"],
            "effective_date": row.get("effective_date"),
            "timing_basis": row.get("timing_basis"),
            "phase_out_start": row.get("phase_out_start")}),
        "rules": items("rules", [
            _rule(i, "rules", {**r, "title": r.get("title") or titles.get(r["rule"])})
            for i, r in enumerate(row.get("fired") or [])]),
        "shielded": items("shielded", [_rule(i, "shielded", r)
                                       for i, r in enumerate(row.get("shielded") or [])]),
        "strikes": _strikes(db, cid, run["as_of"], titles),
        "timeline": _timeline(row.get("phase_out_start"),
                              row.get("effective_date")),
        "referrals": items("referrals", list(row.get("referrals") or [])),
        **({"case": _case(case)} if case is not None else {}),
        "approved": approved,
        "draft": not approved,
    }
