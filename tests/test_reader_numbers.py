"""adieu.read_number and adieu.add_exact: the one rule by which readers
(built in and plugins) read numbers from their input, the rule CSV cells
follow, and sums that are exact or fail, never rounded."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

import adieu
from adieu import add_exact, read_number
from adieu.decimals import to_number


@pytest.mark.parametrize("value, expected", [
    ("12", 12), (" -3 ", -3), ("+7", 7), ("1234.50", Decimal("1234.50")), (".5", Decimal(".5")),
    ("1e3", Decimal("1E+3")), ("-0", 0), (5, 5), (Decimal("2.50"), Decimal("2.50")),
    (0.1, Decimal("0.1")), ("0" * 5000 + "1", 1), ("9" * 59, int("9" * 59)),
])
def test_plain_numbers_are_read_exactly(value, expected) -> None:
    got = read_number(value)
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize("value, why", [
    ("1_000", "no digit separators"), ("1,000", "no digit separators"),
    ("1 000", "no digit separators"), ("1\u00a0000", "no digit separators"),
    ("٣", "'٣' (U+0663) is not one of the digits 0-9"),
    ("１２", "'１' (U+FF11) is not one of the digits 0-9"),
    ("𝟙", "'𝟙' (U+1D7D9) is not one of the digits 0-9"),
    ("१२", "'१' (U+0967) is not one of the digits 0-9"),            # Devanagari
    ("12k", "not a plain number like 1234.5 (digits 0-9"), ("$5", "not a plain number"),
    ("NaN", "not a plain number"), ("-Infinity", "not a plain number"), ("", "not a plain"),
    ("0x1F", "not a plain number"),
    (float("nan"), "not a finite number"), (Decimal("sNaN"), "not a finite number"),
    (Decimal("Infinity"), "not a finite number"), (True, "a true/false value"),
    ({"value": 1}, "an object, not a number"), ([1], "a list, not a number"),
    (None, "NoneType, not a number"),
    ("1e400", "value too large (over 60 digits)"), ("1" * 61, "value too large"),
    ("1" * 5000, "value too large"), (Decimal("1E+400"), "value too large"),
    (10 ** 60, "value too large"), ("1e-400", "value too small"),
])
def test_anything_else_is_a_value_error_with_the_reason(value, why) -> None:
    with pytest.raises(ValueError) as info:
        read_number(value)
    assert why in str(info.value)


@pytest.mark.parametrize("text", [
    "12", "-1.5", ".5", "5.", "1e3", "1E-3", "+0", "1_000", "١٢", "１２", "NaN", "inf",
    "1,5", " 7 ", "1e400", "--1", "1.2.3", "e3", "0b101",
])
def test_the_same_rule_as_csv_cells(text: str) -> None:
    # A CSV cell becomes a number by decimals.to_number; a reader's amount by
    # read_number: the same texts are numbers, with the same value.
    try:
        cell = to_number(text)
    except (ValueError, OverflowError):
        cell = None
    try:
        amount = read_number(text)
    except ValueError:
        amount = None
    assert amount == cell


def test_sums_are_exact_past_28_digits() -> None:
    total = add_exact(Decimal("12345678901234567890.123456789"), Decimal("0.000000002"))
    assert total == Decimal("12345678901234567890.123456791")
    assert add_exact(1, 2) == 3 and type(add_exact(1, 2)) is int
    assert add_exact(10 ** 57, Decimal("0.25")) == Decimal(f"1{57 * '0'}.25")  # 60 digits


@pytest.mark.parametrize("a, b, why", [
    (Decimal("1e59"), Decimal("0.000001"),
     "the exact result needs more than 60 significant digits"),
    (Decimal("9e59"), Decimal("9e59"), "value too large (over 60 digits)"),
    (9 * 10 ** 59, 9 * 10 ** 59, "value too large (over 60 digits)"),
    (Decimal("9.9e59"), Decimal("0.1e59"), "value too large (over 60 digits)"),
])
def test_a_sum_that_cannot_be_exact_raises(a, b, why) -> None:
    with pytest.raises(ValueError, match=why.replace("(", r"\(").replace(")", r"\)")):
        add_exact(a, b)


def test_exported_for_plugins() -> None:
    assert {"read_number", "add_exact"} <= set(adieu.__all__)


def test_the_plugin_guide_example_runs() -> None:
    text = (Path(__file__).parents[1] / "docs" / "plugins.md").read_text(encoding="utf-8")
    (block,) = [b for b in re.findall(r"^```python\n(.*?)^```$", text, re.MULTILINE | re.DOTALL)
                if "def invoice_total" in b]
    space: dict = {}
    exec(compile(block, "docs/plugins.md", "exec"), space)
    total, problems = space["invoice_total"]([(1, "1_000"), (2, "12.5"), (3, "0.25"),
                                              (4, "１２")])
    assert total == Decimal("12.75")
    assert problems == [
        "row 1: amount '1_000': not a plain number like 1234.5: no digit separators "
        "(_ , ' or spaces); left out of the total",
        "row 4: amount '１２': not a plain number like 1234.5: '１' (U+FF11) is not one of "
        "the digits 0-9; left out of the total"]
    total, problems = space["invoice_total"]([(1, "9e59"), (2, "9e59")])
    assert total is None
    assert problems == ["row 2: the total cannot be exact: value too large (over 60 digits)"]
