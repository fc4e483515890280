"""When an offboarding takes effect: the timing section's date for a
customer (the contract end or the end of the notice period, moved past
avoided periods and off weekends), its basis in words, and the steps that
made it (Decision.timing_steps, which coverage reads)."""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Any

from .policy import Timing


def _in_period(day: dt.date, start: tuple[int, int], end: tuple[int, int]) -> bool:
    md = (day.month, day.day)
    if start <= end:
        return start <= md <= end
    return md >= start or md <= end  # wraps the year end


def _month_day(year: int, month_day: tuple[int, int]) -> dt.date:
    """The date of a month-day in a year; 02-29 is 02-28 outside leap years."""
    month, day = month_day
    if (month, day) == (2, 29) and not calendar.isleap(year):
        day = 28
    return dt.date(year, month, day)


WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def effective_date(timing: Timing, contract_end: Any, as_of: dt.date) -> tuple[dt.date, str]:
    """timing_steps without the steps: the date and its basis."""
    day, basis, _steps = timing_steps(timing, contract_end, as_of)
    return day, basis


def avoid_name(begin: tuple[int, int], end: tuple[int, int]) -> str:
    """An avoided period as a timing step (and coverage item) names it."""
    return f"avoid {begin[0]:02d}-{begin[1]:02d} to {end[0]:02d}-{end[1]:02d}"


def timing_steps(timing: Timing, contract_end: Any, as_of: dt.date) \
        -> tuple[dt.date, str, tuple[str, ...]]:
    """When an offboarding takes effect, and why then (the basis, in words
    for an ops person).

    The start is the contract end (when it falls within
    contract_end_within_days after as_of) or the end of the notice period.
    Then, until the date stays put: an avoided period (timing.avoid) moves
    it to the day after the period; with weekdays_only a Saturday or Sunday
    moves it to the Monday. An unmoved date's basis is just `contract end`
    or `60-day notice period`; otherwise the basis names the starting date
    and every move in order, e.g. `contract end 2027-01-23 (a Saturday),
    moved to Monday 2027-01-25 (weekdays only)` or `60-day notice period
    ends 2026-12-20, moved past the holidays to 2027-01-06` (a period
    without a reason is named by its days: `an avoided period (12-15 to
    01-05)`). The steps name the branches taken, in order (Decision.timing_steps).
    """
    if isinstance(contract_end, dt.date) and \
            0 < (contract_end - as_of).days <= timing.contract_end_within_days:
        day, start = contract_end, "contract end"
        named = f"contract end {day.isoformat()}"
        steps = ["contract-end"]
    else:
        day, start = as_of + dt.timedelta(days=timing.notice_days), \
            f"{timing.notice_days}-day notice period"
        named = f"{start} ends {day.isoformat()}"
        steps = ["notice-period"]
    moves: list[str] = []
    for _ in range(8):
        moved = False
        for begin, end, reason in timing.avoid:
            if _in_period(day, begin, end):
                year = day.year if (day.month, day.day) <= end else day.year + 1
                day = _month_day(year, end) + dt.timedelta(days=1)
                period = f"{begin[0]:02d}-{begin[1]:02d} to {end[0]:02d}-{end[1]:02d}"
                what = reason or f"an avoided period ({period})"
                moves.append(f"moved past {what} to {day.isoformat()}")
                steps.append(avoid_name(begin, end))
                moved = True
        if timing.weekdays_only and day.weekday() >= 5:
            weekend = f" (a {WEEKDAYS[day.weekday()]})"
            if moves:
                moves[-1] += weekend
            else:
                named += weekend
            day += dt.timedelta(days=7 - day.weekday())
            moves.append(f"moved to Monday {day.isoformat()} (weekdays only)")
            steps.append("weekdays-only")
            moved = True
        if not moved:
            break
    return day, ", ".join([named, *moves]) if moves else start, tuple(steps)
