"""The independent review of offboarding cases: approve, reject, revoke,
pending, and a customer's cases for history and explain.

Each review acts on the customer's open case (engine/cases.py) and is
written with its audit entry (kind "case") in one transaction. The
reviewer may not be the account owner:

- names compare by names.same_name (docs/ops-guide.md: folded, titles,
  suffixes, departments and e-mail domains left out, look-alike letters as
  the Latin letter, and one name's words all among the other's is the same
  person), against the owner and any owner another source named
  (names.owners_on_record; placeholders such as 'N/A' name nobody);
- where the source gives an owner id (fact `owner_id`, e.g. Salesforce
  Account.OwnerId, HubSpot hubspot_owner_id) the reviewer must give
  `--by-id` and it must not be the owner's (owner_id_key);
- where the source gives neither owner nor owner id, the review needs
  `no_owner_on_record` (--no-owner-on-record), which the audit entry and the
  case row record.

The reviewer's name and id are stored as typed and as compared
(reviewer / reviewer_key, reviewer_id / reviewer_id_key)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from typing import Any

import sqlite_utils

from . import cases, compact
from .audit import AuditLog
from .errors import AdieuError, InputError
from .memory_check import MEMORY_TABLES, check_memory
from .names import owner_id_key, owners_on_record, same_name
from .safe_text import WHITESPACE, name_keys, name_problem
from .store import get_run, now, read_decisions
from .stored_values import check_case, stored_list


def _need(value: str | None, what: str) -> str:
    if value is None or not value.strip(WHITESPACE):
        raise InputError(f"{what} may not be empty")
    return value


def _person(value: str | None, what: str) -> str:
    name = _need(value, what)
    problem = name_problem(name, what)
    if problem:
        raise InputError(problem)
    return name


def _blank(value: Any) -> bool:
    return value is None or not str(value).strip(WHITESPACE)


def open_case(db: sqlite_utils.Database, customer_id: str) -> dict[str, Any]:
    """The customer's open case (proposed or approved); InputError if none."""
    row = db.execute("select id from cases where customer_id = ? and state in "
                     "('proposed', 'approved') order by id desc limit 1",
                     [customer_id]).fetchone()
    if row is None:
        last = db.execute("select id, state, reviewer, reviewed_at from cases where "
                          "customer_id = ? order by id desc limit 1", [customer_id]).fetchone()
        if last is not None and last[1] == "rejected":
            raise InputError(f"{customer_id}'s case {last[0]} was already rejected by {last[2]} "
                             f"at {last[3]}; it is not open")
        also = f" (its latest, case {last[0]}, is {last[1]})" if last else ""
        raise InputError(f"{customer_id} has no open offboarding case{also}; see "
                         f"`adieu pending` and `adieu history {customer_id}`")
    return check_case(dict(db["cases"].get(row[0])))


def _check_run(db: sqlite_utils.Database, case: dict[str, Any], run_id: int | None) -> None:
    """--run N must name a run of the case: one from its opening run to its
    latest that decided offboard for the customer."""
    if run_id is None:
        return
    found = list(read_decisions(db, run_id, [case["customer_id"]])) \
        if db.execute("select 1 from runs where id = ?", [run_id]).fetchone() else []
    row = (found[0]["outcome"],) if found else None
    if not (case["opened_run"] <= run_id <= case["latest_run"]) or row is None \
            or row[0] != "offboard":
        raise InputError(f"--run {run_id} is not a run of {case['customer_id']}'s case "
                         f"{case['id']} (proposed by runs {case['opened_run']} to "
                         f"{case['latest_run']}); leave --run out to act on the open case")


def _owners(db: sqlite_utils.Database, case: dict[str, Any]) \
        -> list[tuple[int, list[str], list[str]]]:
    """The owners of record (run id, owner names, owner ids) in the runs of
    the case that decided the customer, from its opening run to its latest,
    newest first, each distinct set once (runs with none left out). A run's
    owners are names.owners_on_record: the preferred owner first, then those
    --prefer overruled; placeholders ('N/A', '-') name nobody."""
    owners: list[tuple[int, list[str], list[str]]] = []
    seen: set[tuple[tuple[str, ...], tuple[str, ...]]] = set()
    from .stored_checks import stored_facts

    runs = [r for (r,) in db.execute(
        f"select run_id from {compact.DECIDED} where customer_id = ? and run_id between ? "
        "and ? order by run_id desc", [case["customer_id"], case["opened_run"],
                                       case["latest_run"]])]
    for run_id in runs:
        # through store.read_decisions: a damaged row names run, customer, column
        row = next(read_decisions(db, run_id, [case["customer_id"]]))
        names, ids = owners_on_record(stored_facts(run_id, row))
        if (names or ids) and (tuple(names), tuple(ids)) not in seen:
            seen.add((tuple(names), tuple(ids)))
            owners.append((run_id, names, ids))
    return owners


def _independent(db: sqlite_utils.Database, case: dict[str, Any], by: str,
                 by_id: str | None, no_owner_on_record: bool) -> dict[str, Any]:
    """Check the reviewer against the owners of record in every run of the
    case (opening run to latest run): the reviewer may be an owner, by
    name (engine/names.py) or by owner id, in none of them. Returns the
    columns that record the check (the latest run's owner). InputError if
    the reviewer is an owner, or the check cannot be made as asked."""
    owners = _owners(db, case)
    cid = case["customer_id"]
    refused = (f"{by} is the account owner of {cid} and may not review its offboarding; an "
               "independent reviewer must approve or reject it")
    if not owners:
        if not no_owner_on_record:
            runs = f"run {case['latest_run']}" if case["opened_run"] == case["latest_run"] \
                else f"runs {case['opened_run']} to {case['latest_run']}"
            raise InputError(f"{cid} has no account owner on record in {runs}, so the "
                             "reviewer cannot be checked against one; pass "
                             "--no-owner-on-record to review it anyway (recorded in the "
                             "audit trail)")
    elif no_owner_on_record:
        _, names, ids = owners[0]
        raise InputError(f"{cid} has an account owner on record ({(names or ids)[0]}); "
                         "--no-owner-on-record is only for customers without one")
    for run_id, names, ids in owners:
        where = "" if run_id == case["latest_run"] else f" (in run {run_id})"
        if any(same_name(name, by) for name in names):
            raise InputError(refused.replace(f"of {cid}", f"of {cid}{where}"))
        if ids:
            if _blank(by_id):
                raise InputError(f"{cid}'s account owner is on record by id ({ids[0]}); "
                                 "give your own user id of that system with --by-id")
            if any(owner_id_key(by_id) == owner_id_key(one) for one in ids):
                raise InputError(refused.replace(f"{by} is", f"{by} (id {by_id.strip()}) is")
                                 .replace(f"of {cid}", f"of {cid}{where}"))
    latest_names = owners[0][1] if owners else []
    latest_ids = owners[0][2] if owners else []
    return {"owner": latest_names[0] if latest_names else None,
            "owner_id": latest_ids[0] if latest_ids else None,
            "no_owner_on_record": int(not owners)}


class CaseChanged(InputError):
    """The case is no longer what the reviewer saw (another case, a later
    run, already reviewed): the web page answers 409 and asks for a reload."""


def _check_seen(db: sqlite_utils.Database, customer_id: str, seen_case: int,
                seen_run: int | None) -> None:
    """The customer's latest case must still be case `seen_case`, proposed,
    with `seen_run` its latest run (what the reviewer's page showed);
    CaseChanged saying what changed otherwise."""
    row = db.execute("select id from cases where customer_id = ? order by id desc limit 1",
                     [customer_id]).fetchone()
    case = None if row is None else check_case(dict(db["cases"].get(row[0])))
    if case is not None and case["id"] == seen_case and case["latest_run"] == seen_run \
            and case["state"] == "proposed":
        return
    if case is None:
        what = f"{customer_id} has no offboarding case"
    elif case["id"] != seen_case:
        what = (f"{customer_id}'s case {seen_case} is closed; run {case['opened_run']} as of "
                f"{case['opened_as_of']} opened case {case['id']}")
    elif case["latest_run"] != seen_run:
        what = (f"run {case['latest_run']} as of {case['latest_as_of']} decided it "
                f"(you saw run {seen_run})")
    else:
        what = f"it is {case['state']}"
        if case["reviewer"] and case["state"] in ("approved", "rejected", "effective"):
            what += f" (reviewed by {case['reviewer']} at {case['reviewed_at']})"
    raise CaseChanged(f"the case changed since you opened it: {what}; reload the page and "
                      "review what it shows now")


def _load(db: sqlite_utils.Database, customer_id: str, run_id: int | None) -> dict[str, Any]:
    """The open case, checked against its latest audit entry (a row edited
    outside adieu is refused, so no review writes an entry that vouches for
    it) and against --run."""
    case = open_case(db, customer_id)
    spec = next(t for t in MEMORY_TABLES if t.table == "cases")
    check_memory(db, dt.date.today(), (replace(spec, where=f"id = {int(case['id'])}"),))
    _check_run(db, case, run_id)
    return case


def _review_on(case: dict[str, Any], on: dt.date | None, at: str) -> str:
    """The day of the review: `on` (adieu approve --on), which may be neither
    after today (the day of `at`, UTC) nor before the as-of date of the run
    the review is of (the case's latest run); else today."""
    today = at[:10]
    if on is None:
        return today
    day = on.isoformat()
    if day > today:
        raise InputError(f"--on {day} is after today ({today}); state the day the review "
                         "was made")
    if day < case["latest_as_of"]:
        raise InputError(f"--on {day} is before {case['latest_as_of']}, the as-of date of "
                         f"run {case['latest_run']}, the run of {case['customer_id']}'s case "
                         f"{case['id']} being reviewed; a review cannot precede its run")
    return day


def review(db: sqlite_utils.Database, customer_id: str, run_id: int | None, verdict: str,
           by: str, note: str | None, by_id: str | None = None,
           no_owner_on_record: bool = False,
           seen: tuple[int, int] | None = None, on: dt.date | None = None) -> dict[str, Any]:
    """Approve or reject (verdict "approved" | "rejected") the customer's open
    case; returns the case row. seen: (case id, its latest run) as the
    reviewer's page showed them (adieu serve): CaseChanged, and nothing
    written, unless the customer's latest case is still that case,
    proposed, with that latest run. A case is approved (or rejected) once: the
    case is read, checked and written in one write transaction (BEGIN
    IMMEDIATE), so of two reviews at once exactly one succeeds and the
    other gets InputError ("already approved by X at T"). on: the day the
    review was made, when earlier than today (`adieu approve --on`): the
    policy's notice counts from it; reviewed_at (and the audit entry's time)
    is the real time it is recorded."""
    by = _person(by, "--by")
    with db.atomic():
        if seen is not None:
            _check_seen(db, customer_id, *seen)
        case = _load(db, customer_id, run_id)
        if case["state"] != "proposed":
            raise InputError(f"{customer_id}'s case {case['id']} was already {case['state']} "
                             f"by {case['reviewer']} at {case['reviewed_at']}"
                             + ("; to undo it, `adieu revoke`"
                                if verdict == "rejected" and case["state"] == "approved"
                                else ""))
        check = _independent(db, case, by, by_id, no_owner_on_record)
        at = now()
        row = dict(case)
        row.update(state=verdict, reviewer=by, reviewer_key=name_keys(by)[0],
                   reviewer_id=by_id,
                   reviewer_id_key=None if _blank(by_id) else owner_id_key(by_id),
                   reviewed_at=at, reviewed_on=_review_on(case, on, at), review_note=note,
                   review_run=case["latest_run"], review_as_of=case["latest_as_of"],
                   review_fired=case["fired"], **check)
        log = AuditLog(db, at)
        row = cases.save(db, log, row, verdict, case["latest_run"])
        log.flush()
    return row


def revoke(db: sqlite_utils.Database, customer_id: str, by: str, reason: str,
           by_id: str | None = None, no_owner_on_record: bool = False) -> dict[str, Any]:
    """Revoke the approval of the customer's case: back to proposed; the
    approval's columns stay, the revocation's are set. Same independence
    check as approve; read, checked and written in one write transaction."""
    by, reason = _person(by, "--by"), _need(reason, "--reason")
    with db.atomic():
        case = _load(db, customer_id, None)
        if case["state"] != "approved":
            raise InputError(f"{customer_id}'s case {case['id']} is {case['state']}, not "
                             "approved; only an approval can be revoked")
        _independent(db, case, by, by_id, no_owner_on_record)
        at = now()
        row = dict(case)
        row.update(state="proposed", revoked_by=by, revoked_by_key=name_keys(by)[0],
                   revoked_by_id=by_id, revoked_at=at, revoke_reason=reason)
        log = AuditLog(db, at)
        row = cases.save(db, log, row, "revoked", case["latest_run"],
                         {"no_owner_on_record": bool(no_owner_on_record)})
        log.flush()
    return row


def pending_count(db: sqlite_utils.Database) -> int:
    """How many cases `pending` lists (without run_id)."""
    return db.execute(f"select count(*) from cases c join {compact.DECIDED} d on d.run_id = "
                      "c.latest_run and d.customer_id = c.customer_id where c.state = "
                      "'proposed'").fetchone()[0]


def pending(db: sqlite_utils.Database, run_id: int | None = None, limit: int | None = None,
            offset: int = 0) -> list[dict[str, Any]]:
    """One row per proposed case, with the decision of the latest run that
    proposed it (reasons, figures, facts, referrals; JSON columns decoded)
    and the case's id and dates. run_id: only cases that run proposed.
    limit, offset: one page of them (by customer id)."""
    where, args = "", []
    if run_id is not None:
        get_run(db, run_id)  # StoreError (exit 2) if there is no such run
        where, args = " and c.opened_run <= ? and c.latest_run >= ?", [run_id, run_id]
    found = list(db.query(
        "select c.customer_id, c.latest_run, c.id as case_id, c.opened_run, c.opened_as_of, "
        "c.latest_as_of, c.effective_date as case_effective_date from cases c join "
        f"{compact.DECIDED} d on d.run_id = c.latest_run and d.customer_id = c.customer_id "
        f"where c.state = 'proposed'{where} order by c.customer_id"
        + ("" if limit is None else " limit ? offset ?"),
        args + ([] if limit is None else [limit, offset])))
    # Each decision through store.read_decisions, one read per run: a damaged
    # stored row is a StoreError naming run, customer and column.
    decisions: dict[tuple[int, str], dict[str, Any]] = {}
    for run in sorted({f["latest_run"] for f in found}):
        ids = [f["customer_id"] for f in found if f["latest_run"] == run]
        for d in read_decisions(db, run, ids):
            decisions[(run, d["customer_id"])] = d
    out = []
    for case in found:
        check_case({"id": case["case_id"], "opened_as_of": case["opened_as_of"],
                    "latest_as_of": case["latest_as_of"],
                    "effective_date": case["case_effective_date"]})
        row = {**decisions[(case.pop("latest_run"), case["customer_id"])], **case}
        for key in ("reasons", "fired", "facts", "referrals"):
            row[key] = json.loads(row[key]) if row.get(key) else None
        out.append(row)
    return out


def customer_cases(db: sqlite_utils.Database, customer_id: str) -> list[dict[str, Any]]:
    """The customer's cases, oldest first, each with its events (from the
    audit trail: event, at, run, by, reason or note)."""
    out = []
    events: dict[int, list[dict[str, Any]]] = {}
    for at, run_id, payload in db.execute(
            "select at, run_id, payload from audit where kind = 'case' and customer_id = ? "
            "order by seq", [customer_id]):
        p = json.loads(payload)
        c = p["case"]
        who = {"approved": "reviewer", "rejected": "reviewer", "revoked": "revoked_by"}
        by = c.get(who[p["event"]]) if p["event"] in who else None
        why = c.get("revoke_reason") if p["event"] == "revoked" else \
            c.get("review_note") if p["event"] in ("approved", "rejected") else None
        on = c.get("reviewed_on") if p["event"] in ("approved", "rejected") else None
        events.setdefault(c["id"], []).append(
            {"event": p["event"], "at": at, "run_id": run_id, "state": c["state"],
             "by": by, "on": on, "reason": why, "effective_date": c["effective_date"]})
    for row in db.query("select * from cases where customer_id = ? order by id",
                        [customer_id]):
        check_case(row)
        out.append({**case_json(row), "events": events.get(row["id"], [])})
    return out


def case_json(row: dict[str, Any] | None) -> dict[str, Any] | None:
    """A cases row as JSON output shows it: its JSON columns `fired` and
    `review_fired` decoded to lists (`review_fired` null until reviewed),
    every other column as stored (docs/database.md, "cases")."""
    if row is None:
        return None
    return {**row, "fired": stored_list("cases", row["id"], "fired", row["fired"]),
            "review_fired": None if row.get("review_fired") is None else
            stored_list("cases", row["id"], "review_fired", row["review_fired"])}


def approval_due(db: Any, case: dict[str, Any]) -> dt.date | None:
    """The earliest date the policy of the case's latest run gives counted
    from the day of its approval (what the next run compares the case's date
    with: engine/cases.py), or None when it cannot be told (not approved, no
    decision, the run's policy cannot be compiled)."""
    from .brief_context import _due_from_approval, _policy, brief_decision

    if case.get("state") != "approved" or not case.get("latest_run"):
        return None
    try:
        run, row = brief_decision(db, case["customer_id"], case["latest_run"])
        policy = _policy(run, row)[1]
    except AdieuError:
        return None
    return _due_from_approval(case, policy, row.get("facts") or {})


def review_warnings(case: dict[str, Any], today: str | None = None,
                    due: dt.date | None = None) -> list[str]:
    """The warnings of an approval (printed by `adieu approve`, shown on the
    case page while it applies): an effective date not after the day of the
    approval, or before `due` (the policy's date counted from the approval
    day, approval_due): the next run sets a new one; or a date after the day
    of the approval that had passed when the approval was recorded (`approve
    --on` a past day: the next run makes the offboarding effective since
    that date, though no letter has gone out)."""
    day = cases.review_day(case)
    effective = case.get("effective_date")
    if case["state"] != "approved" or not effective or not day:
        return []
    if effective > day and due is not None and effective < due.isoformat():
        return [f"case {case['id']}'s date {effective} gives less notice than the policy "
                f"promises counted from the approval of {day} (at the earliest "
                f"{due.isoformat()}): the next run sets a new date, counted from this "
                "approval"]
    if effective > day:
        recorded = (case.get("reviewed_at") or "")[:10]
        if not recorded or effective > recorded:
            return []
        return [f"case {case['id']}'s date {effective} has passed (the approval of "
                f"{day} was recorded on {recorded}): the next run records the offboarding "
                f"as effective since {effective} although no letter has gone out; if the "
                "customer has not been told, revoke the approval and approve again "
                "without --on"]
    when = "today" if day == (today or dt.date.today().isoformat()) else \
        f"the day of the approval ({day})"
    return [f"case {case['id']}'s date {effective} is not after {when}: the next "
            "run sets a new date, with the policy's notice counted from this approval"]


def case_line(case: dict[str, Any]) -> str:
    """One line for a case: 'case 3: approved, effective 2027-02-01 (opened by run 2 as of
    2026-12-01, latest run 3), approved by Rita Reviewer at ...'."""
    text = (f"case {case['id']}: {case['state']}, effective {case['effective_date']} "
            f"(opened by run {case['opened_run']} as of {case['opened_as_of']}, latest run "
            f"{case['latest_run']} as of {case['latest_as_of']})")
    if case["reviewer"]:
        verdict = "rejected" if case["state"] == "rejected" else "approved"
        day = cases.review_day(case)
        recorded = case["reviewed_at"]
        text += f", {verdict} by {case['reviewer']} " + (
            f"at {recorded}" if recorded and day == recorded[:10] else
            f"on {day or 'an unrecorded day'} (recorded at {recorded or 'an unrecorded time'})")
    if case["revoked_at"]:
        revoked = (f"approval revoked by {case['revoked_by']} at {case['revoked_at']} "
                   f"({case['revoke_reason']})")
        # A revocation applies until the case is reviewed again (approved,
        # rejected, then maybe effective): after that it is history.
        if case["state"] in ("approved", "rejected", "effective"):
            text += f" (an earlier {revoked})"
        else:
            text += f", {revoked}"
    return text


def run_case(db: sqlite_utils.Database, run_id: int, customer_id: str) -> dict[str, Any] | None:
    """The customer's case that run `run_id` opened, kept, moved or closed
    (as it is now), else the latest rejected case opened before it;
    None if there is none."""
    row = db.execute("select id from cases where customer_id = ? and opened_run <= ? and "
                     "(latest_run >= ? or closed_run >= ?) order by id desc limit 1",
                     [customer_id, run_id, run_id, run_id]).fetchone()
    if row is None:
        row = db.execute("select id from cases where customer_id = ? and opened_run <= ? "
                         "and state = 'rejected' order by id desc limit 1",
                         [customer_id, run_id]).fetchone()
    return None if row is None else check_case(dict(db["cases"].get(row[0])))
