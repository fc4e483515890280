"""Slips from other languages in an expression (SQL, JavaScript, C,
spreadsheets) are reported at the slip, at file:line:col, with the way to
write it in adieu."""

from __future__ import annotations

import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adieu.errors import PolicyErrors
from adieu.hints import mask_strings, syntax_hint
from adieu.policy import compile_policy

HEAD = textwrap.dedent("""\
    version: 1
    name: hints
    facts:
      between:
        type: number
    params:
      limit: 3
    rules:
      - id: r
    """)
WHEN_LINE = 10  # the line of `    when: ...` below HEAD


def only_error(when: str) -> str:
    """The one finding for a rule whose `when:` line is `when` (YAML text)."""
    text = HEAD + f"    when: {when}\n    action: flag\n"
    with pytest.raises(PolicyErrors) as info:
        compile_policy(text, "p.yaml")
    (error,) = info.value.errors
    return str(error)


def at(when: str, needle: str, occurrence: int = 1) -> str:
    """'p.yaml:LINE:COL' of the n-th `needle` on the when line."""
    line = f"    when: {when}"
    col = -1
    for _ in range(occurrence):
        col = line.index(needle, col + 1)
    return f"p.yaml:{WHEN_LINE}:{col + 1}"


SYNTAX = "syntax error: invalid syntax; "


@pytest.mark.parametrize("when, needle, message", [
    # SQL / spreadsheet logic words in capitals
    ("late_payments_12m > 1 AND outgrown", "AND", SYNTAX + "use 'and' instead of 'AND'"),
    ("late_payments_12m > 1 OR outgrown", "OR", SYNTAX + "use 'or' instead of 'OR'"),
    ("NOT outgrown", "NOT", SYNTAX + "use 'not' instead of 'NOT'"),
    ("outgrown Or bad_reputation", "Or", SYNTAX + "use 'or' instead of 'Or'"),
    ("tier IN ['gold']", "IN", SYNTAX + "use 'in' instead of 'IN'"),
    # C / JavaScript operators
    ("late_payments_12m > 1 && outgrown", "&&", SYNTAX + "use 'and' instead of '&&'"),
    ("late_payments_12m > 1 || outgrown", "||", SYNTAX + "use 'or' instead of '||'"),
    ("'!outgrown'", "!", SYNTAX + "use 'not' instead of '!'"),
    ("tier === 'gold'", "===", SYNTAX + "use '==' instead of '==='"),
    ("tier !== 'gold'", "!==", SYNTAX + "use '!=' instead of '!=='"),
    ("tier !in ['gold']", "!in", SYNTAX + "use 'not in' instead of '!in'"),
    ("tier =! 'gold'", "=!", SYNTAX + "use '!=' instead of '=!'"),
    ("late_payments_12m =< 3", "=<", SYNTAX + "use '<=' instead of '=<'"),
    ("late_payments_12m => 3", "=>", SYNTAX + "use '>=' instead of '=>'"),
    ("'outgrown ? true : false'", "?",
     SYNTAX + "use 'a if condition else b' instead of 'condition ? a : b'"),
    # one = for comparison, also after a correct part
    ("tier = 'gold'", "=", SYNTAX + "use '==' to compare, not '='"),
    ("tier == 'gold' and late_payments_12m = 3", "= 3", SYNTAX + "use '==' to compare, not '='"),
    # SQL's <> and BETWEEN
    ("tier <> 'gold'", "<>", SYNTAX + "use '!=' instead of '<>'"),
    ("late_payments_12m between 1 and limit", "between",
     SYNTAX + "use '1 <= late_payments_12m <= limit' instead of 'between'"),
    ("late_payments_12m BETWEEN 1 AND 5", "BETWEEN",
     SYNTAX + "use '1 <= late_payments_12m <= 5' instead of 'between'"),
    # a percentage written with %
    ("revenue_12m > 15%", "%", SYNTAX + "write 0.15 instead of 15% ('%' is the remainder "
                                        "operator)"),
    ("revenue_12m > 12.5 % and outgrown", "%",
     SYNTAX + "write 0.125 instead of 12.5% ('%' is the remainder operator)"),
    ("max(revenue_12m, 150%) > 1", "%",
     SYNTAX + "write 1.5 instead of 150% ('%' is the remainder operator)"),
    # typographic characters from a word processor or a chat
    ("late_payments_12m ≥ 3", "≥", SYNTAX + "use '>=' instead of '≥'"),
    ("late_payments_12m ≤ 3", "≤", SYNTAX + "use '<=' instead of '≤'"),
    ("tier ≠ 'gold'", "≠", SYNTAX + "use '!=' instead of '≠'"),
    ("tier == “gold”", "“", SYNTAX + 'use straight quotes " instead of curly ones'),
    ("tier == ‘gold’", "‘", SYNTAX + "use straight quotes ' instead of curly ones"),
    # a spreadsheet IF(), and a comparison with nothing on its left
    ("if(outgrown, 1, 0) > 0", "if", SYNTAX + "use 'a if condition else b' instead of "
                                              "'if(condition, a, b)'"),
    ("max(1, if(outgrown, 2, 0)) > 1", "if", SYNTAX + "use 'a if condition else b' instead "
                                                      "of 'if(condition, a, b)'"),
    ("late_payments_12m > 1 and < 5", "<", SYNTAX + "name what to compare on both sides: "
                                                    "'x > 1 and x < 5'"),
    ("late_payments_12m < 1 or  >= 5", ">=", SYNTAX + "name what to compare on both sides: "
                                                      "'x > 1 and x < 5'"),
    # SQL's IS NULL
    ("revenue_12m IS NULL", "IS", SYNTAX + "use is_missing(revenue_12m) instead of 'IS NULL'"),
    ("revenue_12m IS NOT NULL and outgrown", "IS",
     SYNTAX + "use not is_missing(revenue_12m) instead of 'IS NOT NULL'"),
])
def test_syntax_slip_is_named_at_its_column(when: str, needle: str, message: str) -> None:
    assert only_error(when) == f"{at(when, needle)}: {message}"


@pytest.mark.parametrize("when, needle, message", [
    # these parse, but name or compare something that does not exist
    ("AND", "AND", "unknown name 'AND' (not a fact, param or derived fact); "
                   "use 'and' instead of 'AND'"),
    ("outgrown == TRUE", "TRUE", "unknown name 'TRUE' (not a fact, param or derived fact); "
                                 "use 'true' instead of 'TRUE'"),
    ("revenue_12m is null", "null",
     "there is no null: use is_missing(revenue_12m) to test for a missing value"),
    ("revenue_12m == NULL", "NULL",
     "there is no null: use is_missing(revenue_12m) to test for a missing value"),
    ("revenue_12m is not None", "None",
     "there is no null: use not is_missing(revenue_12m) to test for a missing value"),
    ("null != tier", "null", "there is no null: use not is_missing(tier) to test for a "
                             "missing value"),
    ("outgrown and revenue_12m != nil", "nil",
     "there is no null: use not is_missing(revenue_12m) to test for a missing value"),
    # single & and | parse as bit operators, which are not allowed
    ("late_payments_12m > 1 & revenue_12m > 2", "&",
     "operator & is not allowed; use 'and' instead of '&'"),
    ("outgrown | bad_reputation", "|", "operator | is not allowed; use 'or' instead of '|'"),
    # JavaScript's text concatenation
    ("\"'a' + 1 > 0\"", "+", "+ adds numbers (or days to a date); it does not join text"),
    ("tier + '-x' == 'gold-x'", "+", "+ adds numbers (or days to a date); it does not join "
                                     "text"),
    # SQL and spreadsheet functions
    ("ISNULL(revenue_12m)", "ISNULL",
     "unknown function ISNULL() (known: abs, coalesce, date, days_since, days_until, "
     "is_missing, max, mean, min, percentile, round, share); use is_missing(x) to test for a "
     "missing value"),
    ("NVL(revenue_12m, 0) > 1", "NVL",
     "unknown function NVL() (known: abs, coalesce, date, days_since, days_until, "
     "is_missing, max, mean, min, percentile, round, share); use coalesce(x, default) "
     "instead"),
    ("IF(outgrown, 1, 0) > 0", "IF",
     "unknown function IF() (known: abs, coalesce, date, days_since, days_until, "
     "is_missing, max, mean, min, percentile, round, share); use 'a if condition else b' "
     "instead"),
    ("MAX(revenue_12m, 1) > 1", "MAX",
     "unknown function MAX() (known: abs, coalesce, date, days_since, days_until, "
     "is_missing, max, mean, min, percentile, round, share); use 'max' instead of 'MAX'"),
])
def test_slip_that_parses_is_named_at_its_column(when: str, needle: str, message: str) \
        -> None:
    assert only_error(when) == f"{at(when, needle)}: {message}"


def test_slip_on_the_second_line_of_a_folded_condition() -> None:
    text = HEAD + ("    when: >-\n"
                   "      late_payments_12m > 1\n"
                   "      AND outgrown\n"
                   "    action: flag\n")
    with pytest.raises(PolicyErrors) as info:
        compile_policy(text, "p.yaml")
    assert [str(e) for e in info.value.errors] == [
        f"p.yaml:{WHEN_LINE + 2}:7: {SYNTAX}use 'and' instead of 'AND'"]


def test_double_quoted_condition_counts_the_quote() -> None:
    when = '"tier = \'gold\'"'
    assert only_error(when) == f"{at(when, '= ')}: {SYNTAX}use '==' to compare, not '='"


def test_the_leftmost_slip_is_named() -> None:
    when = "tier = 'gold' AND outgrown"
    assert only_error(when) == f"{at(when, '= ')}: {SYNTAX}use '==' to compare, not '='"


def test_slips_inside_quoted_text_are_not_taken_for_code() -> None:
    when = "tier == 'R&D AND = 15%' && outgrown"
    assert only_error(when) == f"{at(when, '&&')}: {SYNTAX}use 'and' instead of '&&'"


def test_a_name_of_the_policy_is_not_a_slip() -> None:
    # `between` is a declared fact here: the slip is the &&, not the word.
    when = "between > 1 && outgrown"
    assert only_error(when) == f"{at(when, '&&')}: {SYNTAX}use 'and' instead of '&&'"


def test_a_python_conditional_is_not_a_spreadsheet_if() -> None:
    when = "(1 if(outgrown) else 0) > 0 AND outgrown"
    assert only_error(when) == f"{at(when, 'AND')}: {SYNTAX}use 'and' instead of 'AND'"


def test_remainder_with_an_operand_is_not_a_percentage() -> None:
    # `15 % 4` is a remainder; the slip is the unclosed bracket, with no hint.
    when = "(late_payments_12m > 15 % 4"
    assert only_error(when) == f"{at(when, '(')}: syntax error: '(' was never closed"


def test_no_hint_without_a_known_slip() -> None:
    when = "late_payments_12m > 1 +* 2"
    assert only_error(when) == f"{at(when, '*')}: syntax error: invalid syntax"


def test_mask_strings_keeps_offsets() -> None:
    assert mask_strings("a == 'x&&y' or b == \"q\\\"r\" and 'open") == \
        "a == '    ' or b == \"    \" and '    "


def test_syntax_hint_offsets() -> None:
    assert syntax_hint("a AND b") == ("use 'and' instead of 'AND'", 2)
    assert syntax_hint("a > 1 +* 2") is None
    # `x between a and b` cannot be valid even where `between` is a name ...
    assert syntax_hint("x between 1 and 2", known=lambda name: name == "between") == \
        ("use '1 <= x <= 2' instead of 'between'", 2)
    # ... but the word alone is then the policy's own name.
    assert syntax_hint("between > (1", known=lambda name: name == "between") is None
    assert syntax_hint("between > (1") == ("use 'a <= x <= b' instead of 'x between a and b'", 0)


SLIPPY = st.lists(st.sampled_from([
    "a", "b", "1", "15", "%", "AND", "or", "&&", "||", "!", "=", "==", "<>", "===", "?", ":",
    "between", "and", "IS", "NULL", "'x'", '"', "(", ")", " ", "+", "not", "in", "[", "]",
]), max_size=12).map(" ".join)


@settings(max_examples=500, deadline=None)
@given(text=SLIPPY)
def test_a_hint_points_into_the_text_at_its_slip(text: str) -> None:
    found = syntax_hint(text)
    if found is not None:
        hint, offset = found
        assert 0 <= offset < len(text)
        assert not text[offset].isspace()
        assert hint


# -- slips in how a condition is written in YAML, and in how numbers are spelt --

@pytest.mark.parametrize("when, line, column", [
    (">-\n      revenue_12m > 1000   # only big accounts\n      and outgrown", 6, 28),
    ("|\n      revenue_12m > 1000\n      # and outgrown", 7, 7),
    ('"outgrown # or revenue_12m > 5"', 5, 21),
])
def test_a_hash_in_a_condition_is_an_error_not_a_comment(tmp_path, when, line, column):
    """YAML keeps `#` inside a block or quoted scalar as text; Python would
    read the rest of the line as a comment, and the rule would silently
    lose its second half."""
    from adieu.errors import PolicyErrors
    from adieu.policy import compile_policy

    text = f"version: 1\nname: x\nrules:\n  - id: r\n    when: {when}\n    action: flag\n"
    with pytest.raises(PolicyErrors) as info:
        compile_policy(text, "p.yaml")
    (e,) = info.value.errors
    assert e.message.startswith("'#' does not start a comment in a condition")
    assert (e.location.line, e.location.column) == (line, column)


def test_a_hash_inside_quotes_in_a_condition_is_text():
    from adieu.policy import compile_policy

    policy = compile_policy("version: 1\nname: x\nrules:\n  - id: r\n    when: "
                            "tier == '#1'\n    action: flag\n", "p.yaml")
    assert policy.rules[0].when.text == "tier == '#1'"


@pytest.mark.parametrize("text, message", [
    ("revenue_12m > 1,000", "a comma between digits: write 1000 for the number (no "
     "thousands separator), or put a space after the comma for separate values (1, 000)"),
    ("revenue_12m > 1,000,000", "a comma between digits: write 1000000 for the number (no "
     "thousands separator), or put a space after the comma for separate values "
     "(1, 000, 000)"),
    ("revenue_12m > 0,15", "a comma in a number: write 0.15 (decimals use '.')"),
    ("revenue_12m > 12,5", "a comma in a number: write 12.5 (decimals use '.')"),
    ("revenue_12m > 010", "syntax error: write 10 instead of 010 (a number has no leading "
     "zero)"),
    ("revenue_12m > 0x10", "write numbers in plain decimal digits, like 1000 or 0.15, not "
     "0x10"),
    ("revenue_12m > 0b1", "write numbers in plain decimal digits, like 1000 or 0.15, not 0b1"),
    ("revenue_12m > 1_000", "write numbers in plain decimal digits, like 1000 or 0.15, not "
     "1_000"),
    ("revenue_12m > 00.5", "write 0.5 instead of 00.5 (a number has no leading zero; a "
     "comma separates values)"),
    ("revenue_12m in [1,000]", "a comma between digits: write 1000 for the number (no "
     "thousands separator), or put a space after the comma for separate values (1, 000)"),
    ("revenue_12m > min(1,500)", "a comma between digits: write 1500 for the number (no "
     "thousands separator), or put a space after the comma for separate values (1, 500)"),
    ("round(revenue_12m, 2.5)", "round() takes a whole number of places from -60 to 60, "
     "like round(x, 2)"),
])
def test_numbers_are_spelt_as_in_data_files(text, message):
    """Also inside lists and calls: [1,000] was the list [1, 0]."""
    from adieu.expr import Compiler, ExprError, Names

    with pytest.raises(ExprError) as info:
        Compiler(Names({"revenue_12m": "number"}, {})).compile(text)
    assert info.value.message == message
    assert text[info.value.offset] in "0123456789"  # at the number itself
