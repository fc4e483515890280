"""Offboarding cases: one per customer, living across runs.

A case's states and how it moves between them:

    proposed -> approved   a reviewer approves it (adieu approve)
    proposed -> rejected   a reviewer rejects it (adieu reject)
    approved -> proposed   the approval is revoked (adieu revoke)
    approved -> effective  a run as of the effective date or later still
                           proposes offboarding
    proposed | approved -> withdrawn
                           a later run no longer proposes offboarding (its
                           outcome is neither offboard nor held)

A run whose decision is offboard opens a case when the customer has no
open case (proposed or approved). A later run that still proposes
offboarding keeps the open case and its effective date and phase-out start:
an approved case always, a proposed case while its date is still after the
run's as-of date (an unapproved offboarding cannot take effect, so a date
that passed unreviewed is set again from the run that proposes it). A
rejected case keeps the customer from being proposed again for
`timing.rejection_days` after the as-of date of the run whose proposal was
rejected, unless the facts worsen beyond what the reviewer saw: a strike
recorded after that date for a rule that did not fire in that run, or an
offboard rule firing that did not fire then. Routine repeats of the rules
the reviewer weighed (a new strike of the same rule once its cool-down has
passed) do not reopen it.

This module holds the pure part (`CaseMemory`, `carry`, used by
decide.decide) and the part that writes (`record_run`, called by
store.write_run inside the run's transaction). Every change to a cases row
has an audit entry of kind "case" whose payload holds the whole row after
the change, so `audit verify` can compare the row with its latest entry.
Backfill runs (an as-of date before the latest run's) do not move cases."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from .policy import CASE_HOLD
from .stored_values import check_case, stored_list

OPEN = ("proposed", "approved")
STATES = ("proposed", "approved", "rejected", "effective", "withdrawn")


@dataclass(frozen=True)
class CaseMemory:
    """What a run needs to know of the customer's case: the open one
    (proposed or approved), else the latest rejected one."""

    id: int
    state: str
    opened_as_of: str
    effective_date: str | None
    phase_out_start: str | None
    timing_basis: str | None
    fired: tuple[str, ...] = ()          # rules that fired in the run the reviewer saw
    reviewer: str | None = None
    reviewed_on: str | None = None       # the date (UTC) of the approval or rejection
    review_as_of: str | None = None      # as-of date of the run the reviewer saw

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "state": self.state, "opened_as_of": self.opened_as_of,
                "effective_date": self.effective_date, "phase_out_start": self.phase_out_start,
                "timing_basis": self.timing_basis, "fired": list(self.fired),
                "reviewer": self.reviewer, "reviewed_on": self.reviewed_on,
                "review_as_of": self.review_as_of}


def case_from_json(data: dict[str, Any] | None) -> CaseMemory | None:
    if not data:
        return None
    return CaseMemory(data["id"], data["state"], data["opened_as_of"], data["effective_date"],
                      data["phase_out_start"], data["timing_basis"], tuple(data["fired"]),
                      data["reviewer"], data["reviewed_on"], data["review_as_of"])


def _memory_of(row: dict[str, Any]) -> CaseMemory:
    check_case(row)
    return CaseMemory(row["id"], row["state"], row["opened_as_of"], row["effective_date"],
                      row["phase_out_start"], row["timing_basis"],
                      tuple(stored_list("cases", row.get("id"), "review_fired",
                                        row["review_fired"])), row["reviewer"],
                      review_day(row), row["review_as_of"])


def remember(db: sqlite_utils.Database, memories: dict[str, Any], as_of: dt.date,
             customer_ids: list[str] | None = None) -> None:
    """Add each customer's case (CaseMemory) to memories (customer id ->
    ledger.Memory) as a run as of `as_of` sees it: the open case, else the
    latest case if it is rejected.

    Reviews count whenever they were made. What runs of this date or later
    did by themselves is left out, so the same snapshot run twice on one
    date has the same memory and is recognised as the same run: a close
    they made reads as the state it closed from, and a case they opened is
    left out while no one has reviewed it. A case opened by an earlier run
    of this date that has since been approved or rejected is memory for a
    re-run of the date (a corrected export): the review is honoured (a
    rejection holds, an approval keeps its date). customer_ids: only these
    customers' cases (a run's batch), else everyone's."""
    from .ledger import Memory

    day = as_of.isoformat()
    only, ids = ("", []) if customer_ids is None else \
        (" and c.customer_id in (select value from json_each(?))", [json.dumps(customer_ids)])
    latest: dict[str, dict[str, Any]] = {}
    for row in db.query("select c.*, r.as_of as closed_as_of from cases c left join runs r "
                        f"on r.id = c.closed_run where c.opened_as_of <= ?{only} order by c.id",
                        [day, *ids]):
        row = dict(row)
        if row["closed_as_of"] is not None and row["closed_as_of"] >= day:
            row["state"] = row["closed_from"]
        if row["opened_as_of"] == day and row["state"] not in ("approved", "rejected"):
            continue  # opened by a run of this date and not reviewed since
        if row["state"] in OPEN or latest.get(row["customer_id"], {}).get("state") not in OPEN:
            latest[row["customer_id"]] = row
    for cid, row in latest.items():
        if row["state"] in (*OPEN, "rejected"):
            memories.setdefault(cid, Memory()).case = _memory_of(row)


def awaiting_review(decisions: list[Any], memories: dict[str, Any]) -> int:
    """How many of a run's offboard decisions wait for review: those whose
    customer had no approved case going into the run."""
    def approved(cid: str) -> bool:
        case = getattr(memories.get(cid), "case", None)
        return case is not None and case.state == "approved"
    return sum(1 for d in decisions if not approved(d.customer_id))


def rejection_until(case: CaseMemory, days: int) -> dt.date:
    """The first as-of date on which a rejected customer may be proposed again."""
    return dt.date.fromisoformat(case.review_as_of or case.opened_as_of) + dt.timedelta(days=days)


def carry(policy: Any, memory: Any, decision: Any, as_of: dt.date,
          contract_end: Any = None) -> None:
    """Apply the customer's case to an offboard decision (pure; called last
    by decide.decide): keep an open case's effective date, or hold the
    offboarding while a rejection holds. contract_end: the customer's
    contract_end fact (a date, or anything else when it has none), for an
    approval that came too late for its date (`_late_approval`)."""
    case = getattr(memory, "case", None)
    if case is None or decision.outcome != "offboard":
        return
    if case.state == "rejected":
        _rejected(policy, memory, decision, case, as_of)
        return
    if case.state == "approved" and _late_approval(policy, decision, case, as_of,
                                                   contract_end):
        return
    who = f"approved on {case.reviewed_on} by {case.reviewer}" if case.state == "approved" \
        else f"proposed as of {case.opened_as_of}"
    if case.state == "proposed" and (case.effective_date is None
                                     or case.effective_date <= as_of.isoformat()):
        decision.notes.append(f"case {case.id}: its proposed date {case.effective_date} passed "
                              "without approval; the date is set again from this run")
        return
    decision.effective_date = case.effective_date
    decision.phase_out_start = case.phase_out_start
    decision.timing_basis = f"{case.timing_basis}; kept from case {case.id} {who}"
    decision.timing_steps = ()  # the case's date: this run's timing did not make it
    if case.state == "approved" and case.effective_date <= as_of.isoformat():
        decision.notes.append(f"case {case.id}: offboarding effective since "
                              f"{case.effective_date} (approved by {case.reviewer})")
    else:
        decision.notes.append(f"case {case.id} ({case.state}): effective date "
                              f"{case.effective_date} kept")


def _late_approval(policy: Any, decision: Any, case: CaseMemory, as_of: dt.date,
                   contract_end: Any) -> bool:
    """An approval given too late for the case's date: the customer gets
    the notice the policy promises counted from the approval, so an
    approved date before the date the policy's timing gives when counted
    from the approval day (`timing.effective_date` as of reviewed_on) is
    set again, counted from the approval day (from this run's as-of date
    only if that date has passed as well), with a note. True if it was (the decision holds
    the new date)."""
    from .timing import timing_steps

    if case.reviewed_on is None or case.effective_date is None:
        return False
    approved_on = dt.date.fromisoformat(case.reviewed_on)
    due, _, steps = timing_steps(policy.timing, contract_end, approved_on)
    earlier = counted_from_approval(case.timing_basis)
    if earlier is not None and earlier != case.reviewed_on:
        # the date was counted from another approval, since revoked: count
        # it again from the approval that stands (RB4)
        return _recount(policy, decision, case, as_of, due, _, steps, earlier)
    if case.effective_date >= due.isoformat():
        return False
    # Counted from the approval day, once: the new date is stored on the
    # case and kept by later runs (it does not slide with each run). Only
    # when that date has passed too (no run since the approval until after
    # it) is it counted from this run.
    _set_again(policy, decision, as_of, due, _, steps, approved_on.isoformat())
    decision.notes.append(
        f"case {case.id}: approved by {case.reviewer} on {approved_on.isoformat()}, too late "
        f"for its date {case.effective_date} (the policy's timing counted from the approval "
        f"gives {due.isoformat()} at the earliest); the date is set again: "
        f"{decision.effective_date}")
    return True


_COUNTED = re.compile(r"; counted from the approval on (\d{4}-\d{2}-\d{2})")


def counted_from_approval(basis: str | None) -> str | None:
    """The day of the approval a case's date was counted from (the last
    "; counted from the approval on DAY" of its timing basis), else None."""
    found = _COUNTED.findall(basis or "")
    return found[-1] if found else None


def _set_again(policy: Any, decision: Any, as_of: dt.date, due: dt.date, basis: str,
               steps: tuple[str, ...], approved_on: str) -> None:
    """Set the decision's date again: DUE (the policy's timing counted from
    the approval on APPROVED_ON, with its BASIS and STEPS) when it is after
    this run's as-of date, else the date this run's own timing gave; the
    basis says which."""
    from_approval = due > as_of
    if from_approval:
        decision.effective_date, decision.timing_basis = due.isoformat(), basis
        decision.timing_steps = steps
        decision.phase_out_start = max(due - dt.timedelta(days=policy.timing.phase_out_days),
                                       as_of + dt.timedelta(days=1)).isoformat()
    decision.timing_basis = f"{decision.timing_basis}; counted from " + (
        f"the approval on {approved_on}" if from_approval
        else f"this run (as of {as_of.isoformat()}), after the approval")


def _recount(policy: Any, decision: Any, case: CaseMemory, as_of: dt.date, due: dt.date,
             basis: str, steps: tuple[str, ...], earlier: str) -> bool:
    """An approved case whose date was counted from an earlier approval,
    since revoked (its timing basis names another approval day): the date
    is counted again from the approval that stands (from this run's as-of
    date if that date has passed as well), with a note naming both."""
    if due > as_of and due.isoformat() == case.effective_date:
        return False  # the same date either way
    _set_again(policy, decision, as_of, due, basis, steps, str(case.reviewed_on))
    decision.notes.append(
        f"case {case.id}: its date {case.effective_date} was counted from an approval on "
        f"{earlier}, since revoked; counted from the approval by {case.reviewer} on "
        f"{case.reviewed_on} the date is set again: {decision.effective_date}")
    return True


def _rejected(policy: Any, memory: Any, decision: Any, case: CaseMemory,
              as_of: dt.date) -> None:
    until = rejection_until(case, policy.timing.rejection_days)
    if as_of >= until:
        return
    since = case.review_as_of or case.opened_as_of
    seen = set(case.fired)  # what the reviewer weighed: the rules fired in the run seen
    worse = [f"strike {s.rule} recorded on {s.recorded_on.isoformat()}"
             for s in memory.strikes if s.recorded_on.isoformat() > since and s.rule not in seen]
    if as_of.isoformat() > since:
        worse += [f"strike {rule} recorded on {as_of.isoformat()}"
                  for rule in decision.new_strikes if rule not in seen]
    worse += [f"offboard rule {r.rule} fires" for r in decision.fired
              if r.action == "offboard" and r.rule not in seen]
    if worse:
        decision.notes.append(f"case {case.id}'s rejection set aside: " + "; ".join(worse)
                              + " (did not fire in the run the reviewer saw)")
        return
    decision.outcome = "held"
    then = ", ".join(case.fired) or "none"
    decision.holds.append({"id": CASE_HOLD, "reason": (
        f"offboarding rejected by {case.reviewer} on {case.reviewed_on} (case {case.id}): "
        f"not proposed again until {until.isoformat()} unless a strike is recorded or an "
        f"offboard rule fires for a rule that did not fire then (then: {then})")})
    decision.notes.append("held: offboard waits until the hold is resolved")
    decision.effective_date = decision.phase_out_start = decision.timing_basis = None
    decision.timing_steps = ()


# -- writing ---------------------------------------------------------------------------------

# The columns m004 created; m012 added reviewed_on (CASE_COLUMNS).
CASE_COLUMNS_V1: dict[str, type] = {
    "id": int, "customer_id": str, "state": str, "opened_run": int, "opened_as_of": str,
    "latest_run": int, "latest_as_of": str, "effective_date": str, "phase_out_start": str,
    "timing_basis": str, "fired": str, "closed_run": int, "closed_from": str, "reviewer": str,
    "reviewer_key": str, "reviewer_id": str, "reviewer_id_key": str, "reviewed_at": str,
    "review_note": str, "review_run": int, "review_as_of": str, "review_fired": str,
    "owner": str, "owner_id": str,
    "no_owner_on_record": int, "revoked_by": str, "revoked_by_key": str, "revoked_by_id": str,
    "revoked_at": str, "revoke_reason": str, "updated_at": str,
}
# reviewed_on: the day the review was made, as the reviewer stated it
# (`adieu approve --on`), else the day of reviewed_at (UTC); notice runs from
# it. reviewed_at is always the real time the review was recorded. NULL in
# rows reviewed before m012 (review_day reads reviewed_at's day then).
CASE_COLUMNS: dict[str, type] = {**CASE_COLUMNS_V1, "reviewed_on": str}


def review_day(row: dict[str, Any]) -> str | None:
    """The day a case was reviewed on (reviewed_on, else reviewed_at's day)."""
    return row.get("reviewed_on") or (row.get("reviewed_at") or "")[:10] or None


def create_table(db: sqlite_utils.Database) -> None:
    db["cases"].create(CASE_COLUMNS_V1, pk="id")
    db["cases"].create_index(["customer_id", "state"])
    db.execute("CREATE TRIGGER IF NOT EXISTS cases_no_delete BEFORE DELETE ON cases BEGIN "
               "SELECT RAISE(ABORT, 'cases rows are part of the audit trail and cannot "
               "change'); END")


# m011: a cases row changes only as adieu changes it (save); `IS` compares
# NULLs as values. id, customer_id, opened_run and opened_as_of never change;
# updated_at changes with any of the moves below and a closed case
# (rejected, effective, withdrawn) never changes at all.
_RUN = ("latest_run", "latest_as_of", "fired")
_DATES = ("effective_date", "phase_out_start", "timing_basis")
_CLOSE = ("closed_run", "closed_from")
_REVIEW_V1 = ("reviewer", "reviewer_key", "reviewer_id", "reviewer_id_key", "reviewed_at",
              "review_note", "review_run", "review_as_of", "review_fired", "owner", "owner_id",
              "no_owner_on_record")
_REVIEW = (*_REVIEW_V1, "reviewed_on")
_REVOKE = ("revoked_by", "revoked_by_key", "revoked_by_id", "revoked_at", "revoke_reason")
_FIXED = ("id", "customer_id", "opened_run", "opened_as_of")


def _same(*groups: tuple[str, ...]) -> str:
    return " AND ".join(f"new.{c} IS old.{c}" for group in groups for c in group)


# Each move: (what it is, the condition it allows). Every column of
# CASE_COLUMNS is in exactly one group above, or is state or updated_at.
def _moves(review: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    return (
        ("a run keeps (or redates) an open case",
         f"old.state IN ('proposed', 'approved') AND new.state IS old.state AND "
         f"{_same(_CLOSE, review, _REVOKE)}"),
        ("a run as of the effective date: approved -> effective",
         f"old.state = 'approved' AND new.state = 'effective' AND new.closed_from = 'approved' "
         f"AND old.closed_run IS NULL AND new.closed_run IS NOT NULL AND "
         f"{_same(_DATES, review, _REVOKE)}"),
        ("a run no longer proposes offboarding: proposed | approved -> withdrawn",
         f"old.state IN ('proposed', 'approved') AND new.state = 'withdrawn' AND "
         f"new.closed_from IS old.state AND old.closed_run IS NULL AND new.closed_run IS NOT "
         f"NULL AND {_same(_RUN, _DATES, review, _REVOKE)}"),
        ("adieu approve | reject: proposed -> approved | rejected",
         f"old.state = 'proposed' AND new.state IN ('approved', 'rejected') AND new.reviewer IS "
         f"NOT NULL AND new.reviewed_at IS NOT NULL AND new.review_run IS old.latest_run AND "
         f"new.review_as_of IS old.latest_as_of AND new.review_fired IS old.fired AND "
         f"{_same(_RUN, _DATES, _CLOSE, _REVOKE)}"),
        ("adieu revoke: approved -> proposed",
         f"old.state = 'approved' AND new.state = 'proposed' AND new.revoked_by IS NOT NULL AND "
         f"new.revoked_at IS NOT NULL AND new.revoke_reason IS NOT NULL AND "
         f"{_same(_RUN, _DATES, _CLOSE, review)}"),
    )


def case_triggers(review: tuple[str, ...] = _REVIEW) -> list[str]:
    """The cases update trigger over these review columns (m011: _REVIEW_V1;
    m012 makes it again with reviewed_on)."""
    allowed = f"{_same(_FIXED)} AND (" + " OR ".join(
        f"({condition})" for _, condition in _moves(review)) + ")"
    return [
        "CREATE TRIGGER IF NOT EXISTS cases_only_adieu_moves BEFORE UPDATE ON cases WHEN NOT ("
        f"{allowed}) BEGIN SELECT RAISE(ABORT, 'cases rows are part of the audit "
        "trail: only the moves adieu makes (a run keeps, redates, closes or withdraws an open "
        "case; approve, reject, revoke) may change them'); END",
    ]


CASE_MOVES = _moves(_REVIEW)
CASE_UPDATE_ALLOWED = f"{_same(_FIXED)} AND (" + " OR ".join(
    f"({condition})" for _, condition in CASE_MOVES) + ")"
CASE_TRIGGERS = case_triggers(_REVIEW)
CASE_TRIGGERS_V1 = case_triggers(_REVIEW_V1)


@dataclass
class _Proposal:
    """What a decision row says about the customer's offboarding."""

    outcome: str
    effective_date: str | None
    phase_out_start: str | None
    timing_basis: str | None
    fired: list[str] = field(default_factory=list)


def _proposal(row: dict[str, Any]) -> _Proposal:
    fired = row.get("fired")
    fired = stored_list("run_decisions", f"customer {row.get('customer_id')!r}", "fired", fired)
    return _Proposal(row["outcome"], row.get("effective_date"), row.get("phase_out_start"),
                     row.get("timing_basis"), sorted(f["rule"] for f in fired))


def save(db: sqlite_utils.Database, log: Any, row: dict[str, Any], event: str,
         run_id: int | None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Insert or update a cases row and add its audit entry (kind "case",
    payload: the event, the whole row after the change, and `extra`)."""
    have = db["cases"].columns_dict  # m004 writes before m012 adds reviewed_on
    row = {**{c: None for c in CASE_COLUMNS if c in have}, **row, "updated_at": log.at}
    if row["id"] is None:
        row["id"] = int(db["cases"].insert({k: v for k, v in row.items() if k != "id"})
                        .last_pk)
    else:
        db["cases"].update(row["id"], {k: v for k, v in row.items() if k != "id"})
    log.add("case", {"event": event, "case": row, **(extra or {})}, run_id, row["customer_id"])
    return row


def record_run(db: sqlite_utils.Database, log: Any, run_id: int, as_of: str,
               rows: Iterable[dict[str, Any]], backfill: bool = False,
               extra: dict[str, Any] | None = None, adopted: bool = False) -> None:
    """Move the cases of the customers a stored run decided (in the run's
    transaction; `rows` are its decision rows, read once, needing
    customer_id, outcome, effective_date, phase_out_start, timing_basis and
    fired, at least those decided offboard and those with an open case; `extra` goes into each audit
    payload). See the module docstring. An approved case takes the date of
    a decision that set it again (an approval too late for its date:
    carry); adopted (m004, decisions made without cases): it never does."""
    if backfill:
        return
    open_cases = {r["customer_id"]: dict(r) for r in db.query(
        "select * from cases where state in ('proposed', 'approved') order by id")}
    for row in rows:
        cid = row["customer_id"]
        case = open_cases.get(cid)
        if row["outcome"] == "offboard":
            p = _proposal(row)
            if case is None:
                save(db, log, {"customer_id": cid, "state": "proposed", "opened_run": run_id,
                               "opened_as_of": as_of, "latest_run": run_id,
                               "latest_as_of": as_of, "effective_date": p.effective_date,
                               "phase_out_start": p.phase_out_start,
                               "timing_basis": p.timing_basis, "fired": json.dumps(p.fired)},
                     "opened", run_id, extra)
                continue
            change = {"latest_run": run_id, "latest_as_of": as_of, "fired": json.dumps(p.fired)}
            event = "kept"
            if case["state"] == "approved" and p.effective_date == case["effective_date"] \
                    and case["effective_date"] <= as_of:
                change.update(state="effective", closed_run=run_id, closed_from="approved")
                event = "effective"
            elif p.effective_date != case["effective_date"] and \
                    (case["state"] == "proposed" or not adopted):
                # a proposed case whose date passed unapproved, or an approval
                # too late for its date (carry, _late_approval)
                change.update(effective_date=p.effective_date, phase_out_start=p.phase_out_start,
                              timing_basis=p.timing_basis)
                event = "redated"
            save(db, log, {**case, **change}, event, run_id, extra)
        elif case is not None and row["outcome"] != "held":
            save(db, log, {**case, "state": "withdrawn", "closed_run": run_id,
                           "closed_from": case["state"]}, "withdrawn",
                 run_id, {"outcome": row["outcome"], **(extra or {})})


def adopt_reviews(db: sqlite_utils.Database, at: str) -> None:
    """Migration m004: build cases from the runs and reviews an older
    database holds, replaying them in run order (backfill runs skipped): each
    run moves the cases as record_run does, then that run's reviews apply to
    the customer's proposed case (a second approval of the same case, which
    the old per-run reviews allowed, is left out). Entries say "adopted"."""
    from .audit import AuditLog
    from .safe_text import name_keys

    log = AuditLog(db, at)
    runs = list(db.query("select id, as_of, coalesce(backfill, 0) as backfill from runs "
                         "order by id"))
    for run in runs:
        # A migration step (m004): it reads the decisions table of its own
        # time, before m008 moved decisions to run_decisions and blobs; a
        # damaged row's fired list is named by _proposal (customer, column).
        rows = [dict(r) for r in db.query(
            "select customer_id, outcome, effective_date, phase_out_start, timing_basis, fired "
            "from decisions where run_id = ? order by customer_id", [run["id"]])]
        record_run(db, log, run["id"], run["as_of"], rows, bool(run["backfill"]),
                   {"adopted": True}, adopted=True)
        for review in db.query("select * from reviews where run_id = ? order by id",
                               [run["id"]]):
            found = db.execute("select id from cases where customer_id = ? and state = "
                               "'proposed' and latest_run = ?",
                               [review["customer_id"], run["id"]]).fetchone()
            if found is None:
                continue
            case = check_case(dict(db["cases"].get(found[0])))
            save(db, log, {**case, "state": review["verdict"], "reviewer": review["reviewer"],
                           "reviewer_key": name_keys(review["reviewer"])[0],
                           "reviewed_at": review["at"], "review_note": review["note"],
                           "review_run": run["id"], "review_as_of": run["as_of"],
                           "review_fired": case["fired"]},
                 review["verdict"], run["id"], {"adopted": True})
    log.flush()


def verify(db: sqlite_utils.Database) -> list[str]:
    """Each cases row against its latest audit entry (kind "case"); a row
    without one, a row that differs from it, and a case an entry names that
    is gone are problems."""
    latest: dict[int, tuple[int, dict[str, Any]]] = {}
    for seq, payload in db.execute("select seq, payload from audit where kind = 'case' "
                                   "order by seq"):
        try:
            case = json.loads(payload)["case"]
            latest[case["id"]] = (seq, case)
        except (ValueError, KeyError, TypeError):
            continue
    problems = []
    for row in db.query("select * from cases order by id"):
        found = latest.pop(row["id"], None)
        if found is None:
            problems.append(f"case {row['id']} of {row['customer_id']} has no audit entry")
        elif any(found[1].get(k) != row[k] for k in row):
            problems.append(f"case {row['id']} of {row['customer_id']} was edited (differs "
                            f"from audit entry {found[0]})")
    for case_id, (seq, _) in latest.items():
        problems.append(f"case {case_id} was deleted (audit entry {seq} names it)")
    return problems[:20]
