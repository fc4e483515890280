"""Exact numbers: every number a policy compares is an int or a
decimal.Decimal, never a binary float, so 21.1 * 85 + 67.4 * 45 + 5 * 60 +
5 * 70 is exactly 5476.50 and a tie is a tie.

- Numbers from sources (CSV cells, JSON values, plugins) and from policy
  params enter through `to_number`: text keeps its digits ("5476.50"), a
  float is taken at its shortest repr (0.1 -> Decimal("0.1")).
- `+ - *`, comparisons, min, max, abs are exact: they are carried out with
  ARITHMETIC, whose precision (MAX_DIGITS significant digits) is far above
  any real figure, and a result that would need rounding raises instead
  (the expression's value is then unknown, with the reason).
- `/` is decimal division to DIVISION_DIGITS (28) significant digits,
  rounded half to even; `//` and `%` are floor division and its remainder
  (the sign of `%` follows the divisor, as in Python), computed exactly.
- Magnitudes are bounded: a result of MAX_DIGITS or more digits before the
  point is "too large" rather than a slow or unbounded computation.

Errors: arithmetic raises ArithmeticError subclasses (ZeroDivisionError for
division by zero, OverflowError for a value too large, decimal.Inexact for a
result that is not exact); callers turn them into an unknown value with a
problem naming the expression."""

from __future__ import annotations

import decimal
import math
import re
from decimal import Decimal
from typing import Any

from .safe_text import WHITESPACE

MAX_DIGITS = 60        # significant digits of an exact + - * result
DIVISION_DIGITS = 28   # significant digits of a quotient
MAX_MAGNITUDE = 10 ** MAX_DIGITS  # no value reaches this (int or Decimal)

_TRAPS = [decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow]
ARITHMETIC = decimal.Context(prec=MAX_DIGITS, rounding=decimal.ROUND_HALF_EVEN,
                             Emax=MAX_DIGITS, Emin=-MAX_DIGITS * 2,
                             traps=[*_TRAPS, decimal.Inexact])
DIVISION = decimal.Context(prec=DIVISION_DIGITS, rounding=decimal.ROUND_HALF_EVEN,
                           Emax=MAX_DIGITS, Emin=-MAX_DIGITS * 2, traps=_TRAPS)

Number = int | Decimal
# Plain decimal notation, as CSV cells and JSON write numbers: 12, -3.5, .5,
# 1e3. No thousands separators, currency signs, NaN or Infinity.
# ASCII digits only: "١٢" or "１２" is not read as 12.
NUMBER_TEXT = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")


def is_number(value: Any) -> bool:
    """An int or Decimal (or a float from outside), not a bool."""
    return isinstance(value, (int, Decimal, float)) and not isinstance(value, bool)


def to_number(value: int | float | Decimal | str) -> Number:
    """A number from outside as an exact int or Decimal.

    Text keeps its digits ("5476.50" -> Decimal("5476.50"), "12" -> 12); a
    float is read at its shortest repr (0.1 -> Decimal("0.1")). Raises
    ValueError for NaN, infinities, text that is not a plain decimal number
    and magnitudes of MAX_DIGITS digits or more."""
    if value.__class__ is str:
        fast = fast_number(value)
        if fast is not None:
            return fast
    if isinstance(value, bool):
        raise ValueError("expected a number, got a true/false value")
    if isinstance(value, int):
        result: Number = value
    elif isinstance(value, Decimal):
        result = value
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"expected a finite number, got {value!r}")
        result = Decimal(repr(value))
    else:
        text = str(value).strip(WHITESPACE)
        if not NUMBER_TEXT.fullmatch(text):
            raise ValueError(f"expected a number like 1234.5, got {value!r}")
        result = parse_decimal(text)  # not int(text): Python's int() limits its digits
        if "." not in text and "e" not in text and "E" not in text:
            result = int(check_magnitude(result))
    if isinstance(result, Decimal):
        if not result.is_finite():
            raise ValueError(f"expected a finite number, got {value!r}")
        if not result and result.is_signed():
            result = result.copy_abs()  # -0.00 is 0.00: never shown as "-0"
    check_magnitude(result)
    return result


def fast_number(text: str) -> Number | None:
    """to_number of the common forms of number text, in C: "12", "-3",
    "5476.50", "-.5", "5." (ASCII, under 60 characters, no sign but '-',
    no exponent, no surrounding space); None for any other text, which
    to_number then reads (and, if it is no number, words the error)."""
    if len(text) >= MAX_DIGITS or not text.isascii():
        return None
    if text.isdigit():
        return int(text)
    body = text[1:] if text[:1] == "-" else text
    whole, dot, fraction = body.partition(".")
    if not dot:
        return int(text) if body.isdigit() else None  # "-0" is 0
    if (whole.isdigit() and (not fraction or fraction.isdigit())) or \
            (not whole and fraction.isdigit()):
        number = Decimal(text)
        return number.copy_abs() if not number and number.is_signed() else number
    return None


def parse_decimal(text: str) -> Decimal:
    """Decimal(text) for number text already matched by NUMBER_TEXT (or
    JSON's number grammar), any number of digits. An exponent beyond what
    Decimal can hold at all ("1e+99999999999999999999", where Decimal()
    raises InvalidOperation) raises OverflowError with check_magnitude's
    words: "value too large" for a positive exponent, "value too small" for
    a negative one; zero with such an exponent is 0."""
    try:
        return Decimal(text)
    except decimal.InvalidOperation:
        mantissa, _, exponent = text.lower().partition("e")
        if not mantissa.strip("+-.0"):
            return Decimal(0)
        if exponent.startswith("-"):
            raise OverflowError(f"value too small (over {MAX_DIGITS * 2} decimal places)") \
                from None
        raise OverflowError(f"value too large (over {MAX_DIGITS} digits)") from None


def check_magnitude(value: Number) -> Number:
    """Raise OverflowError for a value of MAX_DIGITS or more digits before
    the point, or a Decimal with more than MAX_DIGITS * 2 after it."""
    if type(value) is Decimal:
        if value:
            exponent = value.adjusted()  # digits before the point, less one
            if exponent >= MAX_DIGITS:
                raise OverflowError(f"value too large (over {MAX_DIGITS} digits)")
            if exponent < -MAX_DIGITS * 2:
                raise OverflowError(f"value too small (over {MAX_DIGITS * 2} decimal places)")
    elif not -MAX_MAGNITUDE < value < MAX_MAGNITUDE:
        raise OverflowError(f"value too large (over {MAX_DIGITS} digits)")
    return value


def add(a: Number, b: Number) -> Number:
    if type(a) is int and type(b) is int:
        return check_magnitude(a + b)
    return ARITHMETIC.add(a, b)


def subtract(a: Number, b: Number) -> Number:
    if type(a) is int and type(b) is int:
        return check_magnitude(a - b)
    return ARITHMETIC.subtract(a, b)


def multiply(a: Number, b: Number) -> Number:
    if type(a) is int and type(b) is int:
        return check_magnitude(a * b)
    return ARITHMETIC.multiply(a, b)


def divide(a: Number, b: Number) -> Decimal:
    """a / b to DIVISION_DIGITS significant digits; exact quotients keep no
    trailing zeros beyond what the operands had (10 / 4 = 2.5, x / x = 1)."""
    if not b:
        raise ZeroDivisionError("division by zero")
    return DIVISION.divide(a, b)


def floor_divide(a: Number, b: Number) -> Number:
    """The floor of a / b, exactly (-7 // 2 = -4)."""
    if not b:
        raise ZeroDivisionError("division by zero")
    if type(a) is int and type(b) is int:
        return a // b
    q, r = ARITHMETIC.divmod(a, b)  # truncates towards zero
    if r and (r < 0) != (b < 0):
        q -= 1
    return q


def modulo(a: Number, b: Number) -> Number:
    """a - b * floor(a / b), exactly: the sign follows b (-7 % 3 = 2)."""
    if not b:
        raise ZeroDivisionError("division by zero")
    if type(a) is int and type(b) is int:
        return a % b
    r = ARITHMETIC.remainder(a, b)  # sign of a
    if r and (r < 0) != (b < 0):
        r = ARITHMETIC.add(r, b)
    return r


_ROUNDING = ARITHMETIC.copy()
_ROUNDING.traps[decimal.Inexact] = False
_ROUNDING.traps[decimal.Rounded] = False


def round_to(value: Number, digits: int) -> Number:
    """value rounded to `digits` places after the point (before it when
    negative), half to even as Python's round() does: round(2.5) = 2,
    round(0.125, 2) = 0.12. An int with digits >= 0 is returned as is."""
    digits = max(-MAX_DIGITS, min(MAX_DIGITS * 2, digits))
    if isinstance(value, float):
        value = to_number(value)
    if type(value) is int:
        return value if digits >= 0 else round(value, digits)
    if value.as_tuple().exponent >= -digits:  # no more places than asked for
        return value
    return _ROUNDING.quantize(value, Decimal(1).scaleb(-digits))


def absolute(a: Number) -> Number:
    return abs(a) if type(a) is int else ARITHMETIC.abs(to_number(a))


def negate(a: Number) -> Number:
    return -a if type(a) is int else ARITHMETIC.minus(to_number(a))


def describe(exc: ArithmeticError) -> str:
    """Plain words for an arithmetic failure (decimal's signals print as
    lists of classes)."""
    if isinstance(exc, ZeroDivisionError):
        return "division by zero"
    if isinstance(exc, (decimal.Overflow, OverflowError)):
        return str(exc) if isinstance(exc, OverflowError) and str(exc) else \
            f"value too large (over {MAX_DIGITS} digits)"
    if isinstance(exc, (decimal.Inexact, decimal.Rounded)):
        return f"the exact result needs more than {MAX_DIGITS} significant digits"
    if isinstance(exc, decimal.DecimalException):
        return "not a valid decimal operation"
    return str(exc)


def plain_text(value: Number) -> str:
    """A number as plain digits, never in exponent form (1E+3 -> 1000)."""
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


# --------------------------------------------------------------------------
# For readers: one strict rule for every number taken from input, and sums
# that are exact or fail (exported from adieu for plugins).
# --------------------------------------------------------------------------

_WHOLE_TEXT = re.compile(r"[+-]?[0-9]+")


def read_number(value: Any) -> Number:
    """A number a reader takes from its input (an amount cell or property,
    a JSON value), by the rule CSV cells follow (NUMBER_TEXT): plain
    decimal notation with the ASCII digits 0-9 ("1234.50", "-3", ".5",
    "1e3"), or an int, Decimal or finite float as it is. Whole-number text
    gives an int ("12" -> 12), other text a Decimal with its digits.

    Raises ValueError, whose text is the reason without the value (the
    caller quotes the value and names file, row and field), for: text in
    any other form ("1_000", "1,000", "12k", "$5", "١٢", "１２", "𝟙"),
    NaN and infinities, true/false, other types, and magnitudes of
    MAX_DIGITS digits or more ("1e400"): such a value is unreadable, never
    rounded or clipped."""
    if isinstance(value, bool):
        raise ValueError("a true/false value, not a number")
    whole = False
    if isinstance(value, str):
        text = value.strip(WHITESPACE)
        if not NUMBER_TEXT.fullmatch(text):
            raise ValueError(_not_plain(text))
        whole = bool(_WHOLE_TEXT.fullmatch(text))
        try:
            number: Number = parse_decimal(text)  # no int(): Python's int() limits digits
        except OverflowError as exc:
            raise ValueError(str(exc)) from None
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("not a finite number")
        number = Decimal(repr(value))
    elif isinstance(value, (int, Decimal)):
        number = value
    else:
        kind = {dict: "an object", list: "a list"}.get(type(value), type(value).__name__)
        raise ValueError(f"{kind}, not a number")
    if isinstance(number, Decimal) and not number.is_finite():
        raise ValueError("not a finite number")
    try:
        check_magnitude(number)
    except OverflowError as exc:
        raise ValueError(str(exc)) from None
    if whole:
        return int(number)
    return to_number(number)


def _not_plain(text: str) -> str:
    reason = "not a plain number like 1234.5"
    other = next((c for c in text if c.isdigit() and c not in "0123456789"), None)
    if other is not None:
        return f"{reason}: {other!r} (U+{ord(other):04X}) is not one of the digits 0-9"
    if any(c in text for c in "_, '\u00a0\u202f"):
        return f"{reason}: no digit separators (_ , ' or spaces)"
    return f"{reason} (digits 0-9, a '.' before decimals)"


def add_exact(a: Number, b: Number) -> Number:
    """a + b exactly, as a reader sums amounts: int + int is an int, else
    a Decimal with every digit (12345678901234567890.123456789 +
    0.000000002 = 12345678901234567890.123456791). Raises ValueError, in
    plain words (describe), when the exact sum needs more than MAX_DIGITS
    significant digits or reaches MAX_DIGITS digits before the point: the
    sum is then unknown, never rounded."""
    try:
        return check_magnitude(add(a, b))
    except ArithmeticError as exc:
        raise ValueError(describe(exc)) from None
