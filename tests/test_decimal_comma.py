"""Numbers written with a decimal comma (`125,5`), read through a mapping's
`decimal: ","` (docs/sources.md, "Decimal commas"): exact, strict, and a
bad value is a rejected row naming the field, never a number made up."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from adieu.cli import cli
from adieu.mapping import FieldRule, MappingErrors, convert, load_mapping
from adieu.policy import canonical_facts


def rule(**kw) -> FieldRule:
    return FieldRule(source="Umsatz", fact=kw.pop("fact", "revenue_12m"), decimal=",", **kw)


@pytest.mark.parametrize(("text", "value"), [
    ("125,5", Decimal("125.5")),
    ("125,50", Decimal("125.50")),     # the digits as written
    ("-0,25", Decimal("-0.25")),
    (",5", Decimal("0.5")),
    ("12", 12),                        # no comma: a whole number
    (" 7,5 ", Decimal("7.5")),         # surrounding spaces, as in any cell
    ("12345678901234567890,123456789", Decimal("12345678901234567890.123456789")),
])
def test_a_decimal_comma_reads_exactly(text: str, value):
    got = convert(rule(), text)
    assert got == value and type(got) is type(value)
    assert str(got) == str(value)


@pytest.mark.parametrize(("text", "why"), [
    ("1.234,5", "no '.'"),             # a digit separator in such files: never read
    ("1.5", "no '.'"),                 # a decimal point in a decimal-comma column
    ("1,234,5", "one ',' at most"),
    ("1 234,5", "decimal comma like 1234,5, got '1 234,5'"),
    ("12k", "got '12k'"),
    ("NaN", "got 'NaN'"),
    ("1e400", "value too large (over 60 digits), got '1e400'"),  # as anywhere
    (",", "got ','"),
])
def test_anything_else_is_refused_naming_the_value_as_written(text: str, why: str):
    with pytest.raises(ValueError) as caught:
        convert(rule(), text)
    assert why in str(caught.value)
    assert repr(text) in str(caught.value)


def test_with_scale_and_integer_types():
    assert convert(rule(scale=1000), "125,5") == 125500
    assert convert(rule(scale=0.01), "1234,5") == Decimal("12.345")
    assert convert(rule(fact="orders_12m", type="integer"), "12,0") == 12
    with pytest.raises(ValueError):
        convert(rule(fact="orders_12m", type="integer"), "12,5")


def test_values_that_are_numbers_already_pass(tmp_path: Path):
    """A JSON source's numbers are numbers: nothing to convert."""
    assert convert(rule(), Decimal("3.25")) == Decimal("3.25")
    assert convert(rule(), 7) == 7


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_decimal_on_a_fact_that_is_no_number_is_refused_at_its_line(tmp_path: Path):
    path = write(tmp_path, "m.yaml", "version: 1\nfields:\n  Firma: {fact: name, decimal: \",\"}\n"
                 "  Flag: {fact: vip, type: boolean, decimal: \",\"}\n")
    with pytest.raises(MappingErrors) as caught:
        load_mapping(path, canonical_facts())
    text = str(caught.value)
    assert f"{path}:3:" in text and "decimal for 'Firma'" in text and "'name' is a string" in text
    assert f"{path}:4:" in text and "'vip' is a boolean" in text


def test_the_schema_allows_only_a_comma_or_a_point(tmp_path: Path):
    path = write(tmp_path, "m.yaml", "version: 1\nfields:\n"
                 "  Umsatz: {fact: revenue_12m, decimal: \";\"}\n")
    with pytest.raises(MappingErrors) as caught:
        load_mapping(path, canonical_facts())
    assert f"{path}:3:" in str(caught.value)
    point = write(tmp_path, "p.yaml", "version: 1\nfields:\n"
                  "  Umsatz: {fact: revenue_12m, decimal: \".\"}\n")
    assert convert(load_mapping(point, canonical_facts()).fields["Umsatz"], "1.5") == \
        Decimal("1.5")


def test_a_semicolon_file_with_decimal_commas_end_to_end(tmp_path: Path, monkeypatch):
    """Only the columns listed take the comma; a bad cell rejects its row,
    naming line and field; the other rows are decided on exact values."""
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "kunden.csv", "\ufeffcustomer_id;revenue_12m;hours_support_12m\n"
          "C-1;125000,50;12,5\nC-2;1.234,5;3\nC-3;88000;1.5\n")
    write(tmp_path, "m.yaml", "version: 1\noptions: {delimiter: \";\"}\nfields:\n"
          "  revenue_12m: {fact: revenue_12m, decimal: \",\"}\n"
          "  hours_support_12m: {fact: hours_support_12m, decimal: \",\"}\n")
    result = CliRunner().invoke(cli, ["facts", "csv:kunden.csv", "--mapping", "m.yaml",
                                      "--json"])
    assert result.exit_code == 0, result.output
    # exact, digits as written (JSON numbers, whatever the nesting of the output)
    assert re.search(r'"revenue_12m":\s*125000\.50\b', result.stdout), result.stdout
    assert re.search(r'"hours_support_12m":\s*12\.5\b', result.stdout), result.stdout
    assert "C-2" not in result.stdout and "C-3" not in result.stdout
    assert "rejected: kunden.csv:3: row 2, field 'revenue_12m': expected a number with a " \
           "decimal comma like 1234,5, got '1.234,5'" in result.stderr
    assert "rejected: kunden.csv:4: row 3, field 'hours_support_12m':" in result.stderr
