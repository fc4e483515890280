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

from .brief_timing import (
    back_to_working_day,
    not_final,
    on_to_working_day,
    timing_steps,
    why_then,
    working_day,
)
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
# Case states whose date the brief announces (the date the company honours).
CASE_DATE_STATES = ("proposed", "approved", "effective")
# Why a brief is a draft when its case is not approved (the DRAFT line's words).
NOT_APPROVED = "this offboarding is not approved yet"
# Facts that may name the customer's main contact, first found wins.
CONTACT_FACTS = ("main_contact", "contact_name", "contact")

# The customer-facing steps of the transition timeline, in order.
STEP_TEXT = {
    "phase_out_start": "Transition begins: we plan the move with you and keep serving "
                       "you as today",
    "handover": "Handover: we send you a full export of your data and history",
    "last_day": "Last working day before the change: we complete the move with you",
    "effective": "The offboarding takes effect",
}


# Every name a template may use (docs/ops-guide.md, "What a template sees",
# lists the same names), by kind: "mapping" (its names below), "list" (of
# mappings, its items' names below as "name[].key"), "texts" (a list of
# text), "open" (a mapping of any keys: the facts) or "value" (text, a
# date, a number, true/false). brief_names checks a template against it.
CONTEXT: dict[str, str] = {
    "customer": "mapping", "customer.id": "value", "customer.name": "value",
    "customer.owner": "value", "customer.contact": "value",
    "facts": "open",
    "run": "mapping", "run.id": "value", "run.as_of": "value", "run.policy_name": "value",
    "run.policy_version": "value",
    "decision": "mapping", "decision.outcome": "value", "decision.base_outcome": "value",
    "decision.severity": "value", "decision.strikes": "value",
    "decision.reason_kind": "value", "decision.offboard_rules": "texts",
    "decision.effective_date": "value", "decision.timing_basis": "value",
    "decision.phase_out_start": "value", "decision.run_effective_date": "value",
    "decision.timing_steps": "list", "decision.timing_steps[].step": "value",
    "decision.timing_steps[].date": "value", "decision.timing_steps[].days": "value",
    "decision.timing_steps[].reason": "value", "decision.timing_steps[].why": "value",
    "decision.why_then": "value",
    "rules": "list", "rules[].id": "value", "rules[].title": "value",
    "rules[].action": "value", "rules[].severity": "value", "rules[].explanation": "value",
    "rules[].figures": "list", "rules[].figures[].name": "value",
    "rules[].figures[].value": "value",
    "shielded": "list", "shielded[].id": "value", "shielded[].title": "value",
    "shielded[].action": "value", "shielded[].severity": "value",
    "shielded[].explanation": "value", "shielded[].figures": "list",
    "shielded[].figures[].name": "value", "shielded[].figures[].value": "value",
    "shielded[].exemption": "value",
    "strikes": "list", "strikes[].rule": "value", "strikes[].title": "value",
    "strikes[].recorded_on": "value", "strikes[].expires_on": "value",
    "strikes[].status": "value", "strikes[].counted": "value",
    "strikes[].set_aside_by": "value",
    "timeline": "list", "timeline[].date": "value", "timeline[].step": "value",
    "timeline[].what": "value",
    "referrals": "texts", "referral_limit": "value",
    "case": "mapping", "case.id": "value", "case.state": "value", "case.reviewer": "value",
    "case.reviewed_on": "value", "case.review_note": "value", "case.revoked_by": "value",
    "case.revoked_on": "value", "case.revoke_reason": "value",
    "case.effective_date": "value", "case.opened_as_of": "value", "case.latest_run": "value",
    "case.latest_as_of": "value",
    "today": "value", "in_effect": "value", "approved": "value", "draft": "value",
    "draft_reasons": "texts",
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


def _policy(run: dict[str, Any], row: dict[str, Any]) -> tuple[dict[str, str], Any]:
    """(rule id -> title, the run's compiled policy or None when a plugin
    function it used is gone: then the titles stored with the decision)."""
    titles: dict[str, str] = {}
    policy = None
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
    return titles, policy


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


def _timeline(start: str | None, effective: str | None, timing: Any = None,
              after: dt.date | None = None) -> Items:
    """The customer-facing steps between the decision and the effective
    date: phase-out start (when before the effective date), a handover half
    way through the phase-out (when a day lies strictly between) and the
    last working day (the day before the effective date, when after the
    phase-out start), then the effective date. The steps keep to the
    policy's calendar (`timing`: weekdays_only, avoid): the phase-out start
    moves on to the first working day (before the effective date), else,
    when none lies before it (a phase-out wholly inside an avoided period),
    back to the last working day before it (after `after`, the run's as-of
    date: an earlier start keeps the notice the letter promises), else it
    is left out with the handover and the last working day; the
    handover and the last working day back to the working day before them,
    the handover before the last working day; a step with no such day after
    the phase-out start is left out."""
    if effective is None:
        return items("timeline", [])
    end = dt.date.fromisoformat(effective)
    steps: list[tuple[dt.date, str]] = []
    first = dt.date.fromisoformat(start) if start is not None else None
    begin = None if first is None or first >= end else \
        on_to_working_day(first, end, timing)
    if begin is not None and not working_day(begin, timing):
        begin = back_to_working_day(begin, after or dt.date.min, timing)
    if begin is not None:
        steps.append((begin, "phase_out_start"))
        middle = begin + (end - begin) // 2
        last = back_to_working_day(end - dt.timedelta(days=1), begin, timing)
        if begin < middle < end - dt.timedelta(days=1):
            handover = back_to_working_day(middle, begin, timing)
            if handover is not None and last is not None and handover >= last:
                handover = back_to_working_day(last - dt.timedelta(days=1), begin, timing)
            if handover is not None:
                steps.append((handover, "handover"))
        if last is not None:
            steps.append((last, "last_day"))
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
    revoked = (case.get("revoked_at") or "")[:10] or None
    return data("case", {
        "id": case["id"], "state": case["state"], "reviewer": case.get("reviewer"),
        "reviewed_on": reviewed, "review_note": case.get("review_note"),
        "revoked_by": case.get("revoked_by") if revoked else None, "revoked_on": revoked,
        "revoke_reason": case.get("revoke_reason") if revoked else None,
        "effective_date": case.get("effective_date"), "opened_as_of": case["opened_as_of"],
        "latest_run": case.get("latest_run"), "latest_as_of": case.get("latest_as_of")})


def _contract_end(facts: dict[str, Any]) -> Any:
    value = facts.get("contract_end")
    if isinstance(value, dt.date) or value is None:
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        return None


def _dates(row: dict[str, Any], case: dict[str, Any] | None) -> dict[str, Any]:
    """The dates the brief announces: the case's (the date the company
    honours, which a later run may have set again) while the customer has
    a case that holds one, else the decision's."""
    if case is not None and case["state"] in CASE_DATE_STATES and case.get("effective_date"):
        return {k: case.get(k) for k in ("effective_date", "phase_out_start", "timing_basis")}
    return {k: row.get(k) for k in ("effective_date", "phase_out_start", "timing_basis")}


def _due_from_approval(case: dict[str, Any] | None, policy: Any,
                       facts: dict[str, Any], today: dt.date | None = None) -> dt.date | None:
    """The earliest date the policy's timing gives counted from the day of
    the case's approval (what cases._late_approval compares with), or
    from `today` when given (the day the letter is written)."""
    day = review_day(case) if case is not None else None
    if case is None or case["state"] != "approved" or policy is None or not day:
        return None
    from .decide import effective_date

    return effective_date(policy.timing, _contract_end(facts),
                          today or dt.date.fromisoformat(day))[0]


def brief_context(db: sqlite_utils.Database, run: dict[str, Any], row: dict[str, Any],
                  contact: str | None = None, today: dt.date | None = None) -> dict[str, Any]:
    """The template context of the brief for decision `row` of `run`
    (shapes: docs/ops-guide.md, "The offboarding brief"; every name is in
    CONTEXT). contact: the main contact's name (--contact), else a fact in
    CONTACT_FACTS, else left out. today: the day the brief is written
    (default: adieu's clock). Dates are ISO text (YYYY-MM-DD); numbers are
    plain words (explain.fmt: 48,600 / 1.10)."""
    today = today or dt.date.today()
    cid = row["customer_id"]
    facts = row.get("facts") or {}
    if contact is None:
        contact = next((str(facts[k]) for k in CONTACT_FACTS if facts.get(k) not in
                        (None, "")), None)
    titles, policy = _policy(run, row)
    case = run_case(db, run["id"], cid)
    refuse_closed_case(run, case)
    approved = case is not None and case["state"] in APPROVED_STATES
    dates = _dates(row, case)
    reasons = tuple(r for _, _, r in policy.timing.avoid if r) if policy is not None else ()
    steps = timing_steps(dates["timing_basis"], dates["effective_date"], reasons)
    fired = row.get("fired") or []
    offboard_rules = [r["rule"] for r in fired if r.get("action") == "offboard"]
    # an approved brief is the final letter only while its dates still hold
    draft_reasons = not_final(dates["effective_date"], dates["phase_out_start"], case, today,
                              _due_from_approval(case, policy, facts),
                              _due_from_approval(case, policy, facts, today)) if approved \
        else [NOT_APPROVED]
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
            "reason_kind": "rule" if offboard_rules else "strikes",
            "offboard_rules": items("decision.offboard_rules", offboard_rules),
            **dates,
            "run_effective_date": row.get("effective_date")
            if row.get("effective_date") != dates["effective_date"] else None,
            "timing_steps": None if steps is None else items("decision.timing_steps", [
                data(f"decision.timing_steps[{i}]", s) for i, s in enumerate(steps)]),
            "why_then": why_then(steps)}),
        "rules": items("rules", [
            _rule(i, "rules", {**r, "title": r.get("title") or titles.get(r["rule"])})
            for i, r in enumerate(fired)]),
        "shielded": items("shielded", [_rule(i, "shielded", r)
                                       for i, r in enumerate(row.get("shielded") or [])]),
        "strikes": _strikes(db, cid, run["as_of"], titles),
        "timeline": _timeline(dates["phase_out_start"], dates["effective_date"],
                              policy.timing if policy is not None else None,
                              dt.date.fromisoformat(run["as_of"])),
        "referrals": items("referrals", list(row.get("referrals") or [])),
        **({"referral_limit": policy.timing.max_referrals} if policy is not None else {}),
        **({"case": _case(case)} if case is not None else {}),
        "today": today.isoformat(),
        "in_effect": (case is not None and case["state"] == "effective") or (
            approved and dates["effective_date"] is not None
            and dates["effective_date"] <= today.isoformat()),
        "approved": approved,
        "draft_reasons": items("draft_reasons", draft_reasons),
        "draft": bool(draft_reasons),
    }
