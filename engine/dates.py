"""Dates and date-times from sources: the one parser every reader uses.

adieu decides by day, and every date-time counts by its UTC date
(DESIGN.md, "Exactness"): `2024-05-01T23:30:00-05:00` is 2024-05-02 in
UTC, so that is its date, for a fact and for a 12-month window alike.

Accepted text (ISO 8601 / RFC 3339, as Salesforce, HubSpot and most
exporters write it):

- a date `YYYY-MM-DD`: that date, whatever the zone;
- a date-time `YYYY-MM-DDThh:mm[:ss[.f]]` (`T`, `t` or one space between
  date and time; a fraction of any number of digits, `.` or `,`) with a
  zone: `Z`, `+hh:mm`, `+hhmm` or `+hh` (or `-`): converted to UTC, then
  its date is taken.

A date-time without a zone has no UTC date: it is an error, unless the
caller names the zone it is in (a source option such as
`-o timezone=Europe/Berlin`, read with `zone_option`)."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from typing import Any

from .errors import InputError, Location
from .safe_text import trim

# ASCII digits only: "٢٠٢٤-٠٥-٠١" is no date here.
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})", re.ASCII)
_DATETIME = re.compile(
    r"(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})[Tt ](?P<h>\d{2}):(?P<mi>\d{2})"
    r"(?::(?P<s>\d{2})(?:[.,](?P<f>\d+))?)?"
    r"(?:(?P<z>[Zz])|(?P<sign>[+-])(?P<oh>\d{2})(?::?(?P<om>\d{2}))?)?", re.ASCII)
_OFFSET = re.compile(r"(?:UTC|GMT)?(?P<sign>[+-])(?P<oh>\d{2})(?::?(?P<om>\d{2}))?", re.ASCII)

EXPECTED = "a date YYYY-MM-DD or a date-time with a time zone like 2024-05-01T12:00:00Z"
NO_ZONE = ("date-time without a time zone: expected Z or an offset such as +02:00 or -0500 "
           "after the time (for a file of local times, name their zone: -o timezone=Area/City)")


def utc_date(value: Any, zone: dt.tzinfo | None = None) -> dt.date:
    """The UTC date of a date or date-time.

    value: text as above, a `datetime.date`, or a `datetime.datetime`
    (aware: converted to UTC; naive: in `zone`). zone: the zone of
    date-times written without one (a `zoneinfo.ZoneInfo` or fixed
    `datetime.timezone`); None means such a value is an error.
    Raises ValueError saying what was expected and what was found."""
    if isinstance(value, dt.datetime):
        return _utc(value, zone, value)
    if isinstance(value, dt.date):
        return value
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError(f"expected {EXPECTED}, got {value!r}")
    return _utc(parse_datetime(value), zone, value)


def parse_datetime(text: str) -> dt.date | dt.datetime:
    """Text -> a `date` (for YYYY-MM-DD) or a `datetime`, aware when the
    text has a zone, naive when it has none. Fractions beyond microseconds
    are cut off (never across a second, so never across a day); a leap
    second :60 is read as :59.999999. ValueError for anything else."""
    text = value = trim(text)
    m = _DATE.fullmatch(value)
    if m:
        try:
            return dt.date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            raise ValueError(f"expected a real calendar date YYYY-MM-DD, got {text!r}") \
                from None
    m = _DATETIME.fullmatch(value)
    if not m:
        raise ValueError(f"expected {EXPECTED}, got {text!r}")
    second = int(m["s"] or 0)
    micro = int((m["f"] or "0")[:6].ljust(6, "0"))
    if second == 60:
        second, micro = 59, 999999
    tz = None
    if m["z"]:
        tz = dt.timezone.utc
    elif m["sign"]:
        tz = _fixed(m["sign"], m["oh"], m["om"], text)
    try:
        return dt.datetime(int(m["y"]), int(m["mo"]), int(m["d"]), int(m["h"]),
                           int(m["mi"]), second, micro, tzinfo=tz)
    except ValueError:
        raise ValueError(f"expected a real calendar date and time, got {text!r}") from None


def with_zone(text: str, zone: dt.tzinfo) -> str:
    """A date-time written without a zone, read as a wall time in `zone`
    and written as ISO text in UTC ("2019-03-04 10:15", Europe/Berlin ->
    "2019-03-04T09:15:00Z"); any other text is returned as it is.
    A wall time that occurs twice (when clocks go back) is taken the first
    time; one that does not occur (when they go forward) gets the offset
    from before the change."""
    m = _DATETIME.fullmatch(trim(text))
    if not m or m["z"] or m["sign"]:
        return text
    try:
        moment = parse_datetime(text)
    except ValueError:
        return text  # not a real date: left for the engine to reject
    assert isinstance(moment, dt.datetime)
    try:
        utc = moment.replace(tzinfo=zone).astimezone(dt.timezone.utc)
    except OverflowError:
        return text
    return utc.replace(tzinfo=None).isoformat() + "Z"


def zone_option(name: Any, where: Location | None = None) -> dt.tzinfo:
    """The value of a `timezone` option: an IANA zone name
    (`Europe/Berlin`, `America/New_York`, `UTC`) or a fixed offset
    (`+02:00`, `-0500`). InputError naming the option for anything else."""
    text = str(name).strip()
    m = _OFFSET.fullmatch(text)
    if m:
        try:
            return _fixed(m["sign"], m["oh"], m["om"], text)
        except ValueError as exc:
            raise InputError(f"option timezone: {exc}", where) from None
    try:
        return zoneinfo.ZoneInfo(text)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise InputError(f"option timezone: unknown time zone {text!r}; expected an IANA "
                         "name such as Europe/Berlin or UTC, or an offset such as +02:00",
                         where) from None


def _fixed(sign: str, hours: str, minutes: str | None, text: str) -> dt.timezone:
    h, m = int(hours), int(minutes or 0)
    if h > 23 or m > 59:
        raise ValueError(f"expected a time zone offset from -23:59 to +23:59, got {text!r}")
    delta = dt.timedelta(hours=h, minutes=m)
    return dt.timezone(-delta if sign == "-" else delta)


def _utc(moment: dt.date | dt.datetime, zone: dt.tzinfo | None, given: Any) -> dt.date:
    if not isinstance(moment, dt.datetime):
        return moment
    if moment.tzinfo is None or moment.tzinfo.utcoffset(moment) is None:
        if zone is None:
            raise ValueError(f"{NO_ZONE}; got {_show(given)}")
        moment = moment.replace(tzinfo=zone)
    try:
        return moment.astimezone(dt.timezone.utc).date()
    except OverflowError:  # 0001-01-01T00:30+01:00 is before the first day there is
        raise ValueError(f"expected a date-time from year 1 to 9999 in UTC, got "
                         f"{_show(given)}") from None


def _show(value: Any) -> str:
    return repr(value.strip() if isinstance(value, str) else
                value.isoformat() if isinstance(value, dt.date) else value)
