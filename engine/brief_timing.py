"""The dates of an offboarding brief, told the way the customer needs them
(docs/ops-guide.md, "The offboarding brief").

- timing_steps / why_then: the stored `timing_basis` (decide.effective_date's
  words for staff, plus the case bookkeeping "; counted from the approval
  on ..." and "; kept from case N ...") read back into structured steps
  (the contract end or notice period the date started from, each move past
  an avoided period or off a weekend) and one plain sentence for the letter
  ("at the end of your contract term, moved past the holiday season"). The
  bookkeeping stays with staff: it is not a step.
- timeline: the transition's steps, the handover and the last working day
  on days the policy's calendar allows (weekdays_only, avoid).
- not_final: why a brief cannot be the final letter even though its case
  is approved: a date already passed, or an approval too late for its date
  (the next run sets a new one, as cases._late_approval does)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from .brief import long_date
from .cases import review_day

_DATE = r"(\d{4}-\d{2}-\d{2})"
_START = re.compile(r"(contract end|(\d+)-day notice period)(?: (?:ends )?" + _DATE
                    + r")?(?: \(a (\w+)\))?")
_WEEKEND = re.compile(r"moved to Monday " + _DATE + r" \(weekdays only\)(?: \(a (\w+)\))?")
_PAST = re.compile(r"moved past (.+?) to " + _DATE + r"(?: \(a (\w+)\))?")
_UNNAMED = re.compile(r"an avoided period \((\d{2})-(\d{2}) to (\d{2})-(\d{2})\)")
# Where the case bookkeeping starts (engine/cases.py writes these).
_BOOKKEEPING = ("; counted from ", "; kept from case ")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")


def _month_day(month: str, day: str) -> str:
    return f"{int(day)} {_MONTHS[int(month) - 1]}"


def _avoided(what: str, date: str) -> dict[str, Any]:
    unnamed = _UNNAMED.fullmatch(what)
    if unnamed:
        a, b, c, d = unnamed.groups()
        period = f"{_month_day(a, b)} to {_month_day(c, d)}"
        return {"step": "avoided_period", "date": date, "reason": None,
                "why": f"moved past a period in which we make no changes ({period})"}
    return {"step": "avoided_period", "date": date, "reason": what,
            "why": f"moved past {what}"}


def timing_steps(basis: str | None, effective: str | None,
                 reasons: tuple[str, ...] = ()) -> list[dict[str, Any]] | None:
    """The steps that made the effective date, from a stored timing basis:
    first {step: contract_end | notice_period, date, days (notice)}, then
    per move {step: avoided_period, date (moved to), reason (the policy's,
    None for an unnamed period)} or {step: weekend, date (the Monday)},
    each with `why`, the customer's words. reasons: the policy's avoid
    reasons, matched whole first (a reason may hold " to "). None when the
    basis is not in words this adieu writes (a run of another version)."""
    if not basis or not effective:
        return None
    head = basis
    for mark in _BOOKKEEPING:
        if mark in head:
            head = head[:head.index(mark)]
    start = _START.match(head)
    if start is None:
        return None
    kind, days, date = start.group(1), start.group(2), start.group(3)
    if kind == "contract end":
        first: dict[str, Any] = {"step": "contract_end", "why": "at the end of your "
                                 "contract term"}
    else:
        first = {"step": "notice_period", "days": int(days),
                 "why": f"at the end of a {days}-day notice period"}
    steps = [first]
    rest = head[start.end():]
    while rest:
        if not rest.startswith(", "):
            return None
        rest = rest[2:]
        weekend = _WEEKEND.match(rest)
        if weekend:
            steps.append({"step": "weekend", "date": weekend.group(1),
                          "why": "moved to the next working day"})
            rest = rest[weekend.end():]
            continue
        for reason in sorted(reasons, key=len, reverse=True):
            found = re.compile(r"moved past " + re.escape(reason) + " to " + _DATE
                               + r"(?: \(a (\w+)\))?").match(rest)
            if found:
                break
        else:
            found = _PAST.match(rest)
        if found is None:
            return None
        what = found.group(1) if found.re is _PAST else reason
        steps.append(_avoided(what, found.group(found.re.groups - 1)))
        rest = rest[found.end():]
    first["date"] = date or effective
    if steps[-1].get("date") != effective:
        return None  # the words do not lead to the date: not ours to explain
    return steps


def why_then(steps: list[dict[str, Any]] | None) -> str | None:
    """The steps as one phrase for the customer: 'at the end of your
    contract term, moved past the holiday season, then to the next working
    day'."""
    if not steps:
        return None
    words = [s["why"] for s in steps]
    if len(words) > 2:
        words[2:] = ["then " + w.removeprefix("moved ") for w in words[2:]]
    return ", ".join(words)


# -- the transition timeline ---------------------------------------------------------------

def _in_period(day: dt.date, start: tuple[int, int], end: tuple[int, int]) -> bool:
    md = (day.month, day.day)
    return start <= md <= end if start <= end else md >= start or md <= end


def working_day(day: dt.date, timing: Any) -> bool:
    """A day the policy's calendar allows for a step: not a Saturday or
    Sunday when weekdays_only, not in an avoided period. Any day without a
    policy (timing None)."""
    if timing is None:
        return True
    if timing.weekdays_only and day.weekday() >= 5:
        return False
    return not any(_in_period(day, begin, end) for begin, end, _ in timing.avoid)


def back_to_working_day(day: dt.date, after: dt.date, timing: Any) -> dt.date | None:
    """`day`, or the latest working day before it; None when none lies
    after `after`."""
    while day > after:
        if working_day(day, timing):
            return day
        day -= dt.timedelta(days=1)
    return None


def on_to_working_day(day: dt.date, before: dt.date, timing: Any) -> dt.date:
    """`day`, or the first working day after it and before `before`; `day`
    itself when there is none."""
    found = day
    while found < before:
        if working_day(found, timing):
            return found
        found += dt.timedelta(days=1)
    return day


# -- a final letter ------------------------------------------------------------------------

NEXT_RUN = ("run the next month's evaluate first: it sets a new date, counted from the "
            "approval")


def not_final(effective: str | None, phase_out: str | None, case: dict[str, Any] | None,
              today: dt.date, due_from_approval: dt.date | None,
              due_from_today: dt.date | None = None) -> list[str]:
    """Why the letter of an approved (or effective) case cannot be handed
    over as it stands (empty: it can). effective, phase_out: the dates the
    brief announces; case: the customer's case row; due_from_approval: the earliest
    date the policy's timing gives counted from the day of the approval,
    when the case is approved (None: not known); due_from_today: the same
    counted from today, the day the letter is written: a letter handed
    over today promises the notice the policy gives from today, so a date
    before it is a DRAFT (the approval was recorded or the brief written
    late)."""
    if effective is None:
        return []
    state = case["state"] if case else None
    day = dt.date.fromisoformat(effective)
    if state == "effective":
        return [f"the offboarding took effect on {long_date(day)}: a brief announces an "
                "offboarding before it takes effect"]
    reviewed = (review_day(case) or "") if case else ""
    if state == "approved" and (
            (due_from_approval is not None and day < due_from_approval)
            or (reviewed and effective <= reviewed)):
        when = f"the approval on {long_date(reviewed)}" if reviewed else "the approval"
        earliest = f" (at the earliest {long_date(due_from_approval)})" \
            if due_from_approval is not None else ""
        return [f"the effective date {long_date(day)} gives less notice than the policy "
                f"promises counted from {when}{earliest}: {NEXT_RUN}"]
    if day <= today:
        fix = "the letter can no longer announce it; the next run marks the case effective"
        return [f"the effective date {long_date(day)} is not after today "
                f"({long_date(today)}): {fix}"]
    if phase_out is not None and dt.date.fromisoformat(phase_out) < today:
        return [f"the transition would have begun on {long_date(phase_out)}, before today "
                f"({long_date(today)}): the customer gets less notice than the letter says; "
                "agree the dates with the reviewer before handing it over"]
    if due_from_today is not None and day < due_from_today:
        return [f"written today ({long_date(today)}), the letter gives the customer "
                f"{(day - today).days} days before {long_date(day)}, less notice than the "
                f"policy promises counted from today (at the earliest "
                f"{long_date(due_from_today)}): agree a later date with the reviewer "
                "(revoke and approve again) before handing it over"]
    return []
