"""Numbers are exact decimals from the source to the comparison (issue 8,
item 3: floating-point arithmetic deciding ties).

The issue's example: hours 21.1, 67.4, 5 and 5 at rates 85, 45, 60 and 70
cost exactly 5,476.50; against revenue 5,476.50 the default policy's
`cost_ratio > max_cost_ratio` fired on 1.0000000000000002. Right: the ratio
is exactly 1, the rule passes, no strike, keep."""

from __future__ import annotations

import csv
import datetime as dt
import json
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from adieu import decimals, jsontext
from adieu.cli import cli
from adieu.decide import render
from adieu.explain import fmt
from adieu.expr import UNKNOWN, Compiler, Context, ExprError, ExtraFunction, Names
from adieu.facts import Coercer
from adieu.mapping import FieldRule, convert
from adieu.population import Population, mean, percentile

REPO = Path(__file__).resolve().parent.parent
AS_OF = dt.date(2026, 11, 1)


def tie_csv(path: Path, revenue: str = "5476.50") -> Path:
    """CUST-0001 of the example data, and CUST-TIE whose cost to serve is
    exactly 5,476.50 (21.1 * 85 + 67.4 * 45 + 5 * 60 + 5 * 70, no direct
    costs)."""
    with open(REPO / "examples" / "customers.csv", newline="", encoding="utf-8") as f:
        first = next(csv.DictReader(f))
    tie = {**first, "customer_id": "CUST-TIE", "name": "Tie Ltd", "revenue_12m": revenue,
           "hours_account_mgmt_12m": "21.1", "hours_support_12m": "67.4",
           "hours_accounting_12m": "5", "hours_marketing_12m": "5", "returns_cost_12m": "0",
           "refunds_12m": "0", "discounts_12m": "0", "acquisition_cost_unrecovered": "0",
           "outstanding_balance": "0"}
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(first))
        writer.writeheader()
        writer.writerows([first, tie])
    return path


def test_the_issues_tie_is_exactly_one_and_keeps_the_customer(tmp_path: Path,
                                                             runner: CliRunner) -> None:
    data = tie_csv(tmp_path / "tie.csv")
    db = tmp_path / "a.db"
    result = runner.invoke(cli, ["evaluate", "default", "--source", f"csv:{data}",
                                 "--as-of", "2026-11-01", "--db", str(db), "--json"])
    assert result.exit_code == 0, result.output
    tie = next(d for d in json.loads(result.stdout)["decisions"]
               if d["customer_id"] == "CUST-TIE")
    assert (tie["outcome"], tie["fired"], tie["new_strikes"]) == ("keep", [], [])

    explained = runner.invoke(cli, ["explain", "CUST-TIE", "--db", str(db)])
    assert explained.exit_code == 0, explained.output
    assert "  staff_cost_12m = 5,476.50\n" in explained.stdout
    assert "  cost_to_serve = 5,476.50\n" in explained.stdout
    assert "  cost_ratio = 1\n" in explained.stdout
    assert "    cost_ratio 1 > max_cost_ratio 1: false, at the threshold\n" in explained.stdout

    with sqlite3.connect(db) as conn:
        assert conn.execute("select count(*) from strikes").fetchone()[0] == 0
        facts = conn.execute("select facts from decisions where customer_id = 'CUST-TIE'"
                             ).fetchone()[0]
    assert '"revenue_12m":5476.50' in facts  # the digits as given, as a JSON number
    replayed = runner.invoke(cli, ["replay", "1", "--db", str(db), "--json"])
    assert json.loads(replayed.stdout)["differences"] == []


def test_a_cent_more_cost_than_revenue_fires_and_says_so_with_equal_rounding(
        tmp_path: Path, runner: CliRunner) -> None:
    data = tie_csv(tmp_path / "tie.csv", revenue="5476.49")
    db = tmp_path / "a.db"
    result = runner.invoke(cli, ["evaluate", "default", "--source", f"csv:{data}",
                                 "--as-of", "2026-11-01", "--db", str(db), "--json"])
    tie = next(d for d in json.loads(result.stdout)["decisions"]
               if d["customer_id"] == "CUST-TIE")
    (fired,) = [r for r in tie["fired"] if r["rule"] == "cost-exceeds-revenue"]
    # cost 5,476.50 and revenue 5,476.49 both read 5,476 at no decimal places
    assert "cost 5,476 over the last 12 months" in fired["explanation"]
    assert "against 5,476 of revenue" in fired["explanation"]
    assert isinstance(fired["figures"]["cost_ratio"], float)  # a JSON number, not text
    assert json.loads(result.stdout, parse_float=Decimal)["decisions"][1]["fired"][0][
        "figures"]["cost_ratio"] == decimals.divide(Decimal("5476.50"), Decimal("5476.49"))
    explained = runner.invoke(cli, ["explain", "CUST-TIE", "--db", str(db)]).stdout
    assert "    cost_ratio 1.00 > max_cost_ratio 1: true, exceeds by 0.00000183\n" in explained


# -- the arithmetic ---------------------------------------------------------------

def compiler(**params: Any) -> Compiler:
    names = Names({"a": "number", "b": "number", "c": "number", "n": "number"}, params)
    return Compiler(names, {"as_float": ExtraFunction("as_float", lambda x: float(x), "number",
                                                      1, 1)})


def run(text: str, params: dict[str, Any] | None = None, **facts: Any) -> tuple[Any, Context]:
    c = compiler(**(params or {}))
    ctx = Context(facts, AS_OF, Population(c.population_calls), {})
    return c.compile(text).fn(ctx), ctx


def value(text: str, params: dict[str, Any] | None = None, **facts: Any) -> Any:
    return run(text, params, **facts)[0]


@pytest.mark.parametrize("text, expected", [
    ("0.1 + 0.2 == 0.3", True),
    ("a * 3 == 0.3", True),
    ("21.1 * 85 + 67.4 * 45 + 5 * 60 + 5 * 70", Decimal("5476.50")),
    ("(21.1 * 85 + 67.4 * 45 + 5 * 60 + 5 * 70) / 5476.50", Decimal(1)),
    ("(21.1 * 85 + 67.4 * 45 + 5 * 60 + 5 * 70) / 5476.50 > 1", False),
    ("1.10 * 3", Decimal("3.30")),
    ("10 / 4", Decimal("2.5")),
    ("1 / 3", Decimal("0.3333333333333333333333333333")),
    ("2 / 3", Decimal("0.6666666666666666666666666667")),
    ("-7.5 // 2", Decimal(-4)), ("-7.5 % 2", Decimal("0.5")), ("7.5 % -2", Decimal("-0.5")),
    ("-7 // 2", -4), ("-7 % 3", 2),
    ("round(2.5)", Decimal(2)), ("round(3.5)", Decimal(4)), ("round(7)", 7),
    ("round(0.125, 2)", Decimal("0.12")),
    ("round(1234.5, -2)", Decimal("1.2E+3")),
    ("abs(-0.10)", Decimal("0.10")), ("min(0.3, 0.1 + 0.2)", Decimal("0.3")),
])
def test_arithmetic_is_exact(text: str, expected: Any) -> None:
    got = value(text, a=Decimal("0.1"))
    assert got == expected and type(got) is type(expected)


def test_params_are_exact() -> None:
    assert value("a == rate * 3", {"rate": Decimal("0.1")}, a=Decimal("0.3")) is True


def test_no_float_ever_reaches_a_comparison() -> None:
    # a plugin function returning a float is taken at its shortest repr
    assert value("as_float(a)", a=Decimal("0.1")) == Decimal("0.1")
    assert type(value("as_float(a)", a=Decimal("0.1"))) is Decimal
    assert value("as_float(a) + 0.2 == 0.3", a=Decimal("0.1")) is True


@pytest.mark.parametrize("text, problem", [
    ("a * 1e40 * 1e20", "cannot compute a * 1e+40 * 1e+20: value too large (over 60 digits)"),
    ("a * a * a * a", "cannot compute a * a * a * a: value too large (over 60 digits)"),
    ("c * c", "cannot compute c * c: the exact result needs more than 60 significant digits"),
    ("a / (b - b)", "division by zero in a / (b - b)"),
    ("a % (b - b)", "division by zero in a % (b - b)"),
])
def test_results_beyond_exact_bounds_are_unknown_with_the_reason(text: str,
                                                                 problem: str) -> None:
    v, ctx = run(text, a=10 ** 16, b=Decimal("1.5"), c=Decimal("1." + "3" * 40))
    assert v is UNKNOWN
    assert ctx.problems == [problem]


def test_a_literal_beyond_the_bound_is_a_compile_error() -> None:
    with pytest.raises(ExprError, match=r"^number '1e61': value too large \(over 60 digits\)$"):
        compiler().compile("a > 1e61")


MONEY = st.decimals(min_value=Decimal("-1e9"), max_value=Decimal("1e9"), places=2,
                    allow_nan=False, allow_infinity=False)


@given(a=MONEY, b=MONEY, n=st.integers(1, 10 ** 6))
def test_money_arithmetic_identities_hold_exactly(a: Decimal, b: Decimal, n: int) -> None:
    assert value("a + b - b == a", a=a, b=b) is True
    assert value("a * n / n == a", a=a, n=n) is True
    assert value("(a + b) * n == a * n + b * n", a=a, b=b, n=n) is True
    if a:
        assert value("a / a == 1", a=a) is True
    assert value("a // n * n + a % n == a", a=a, n=n) is True


@given(parts=st.lists(MONEY, min_size=1, max_size=20))
def test_a_total_compared_with_its_parts_is_a_tie(parts: list[Decimal]) -> None:
    names = [f"p{i}" for i in range(len(parts))]
    c = Compiler(Names({n: "number" for n in names} | {"total": "number"}, {}))
    ctx = Context({**dict(zip(names, parts, strict=True)), "total": sum(parts, Decimal(0))},
                  AS_OF, Population({}), {})
    assert c.compile(" + ".join(names) + " == total").fn(ctx) is True
    if sum(parts):
        assert c.compile("(" + " + ".join(names) + ") / total == 1").fn(ctx) is True


# -- the boundary: sources, mappings, population, display, JSON -----------------------

@pytest.mark.parametrize("cell, expected", [
    ("5476.50", Decimal("5476.50")), ("12", 12), ("-0.10", Decimal("-0.10")),
    (".5", Decimal("0.5")), ("1e3", Decimal("1E+3")), (" 7 ", 7), ("\u00a07\t", 7),
    ("-0.00", Decimal("0.00")), ("-0", 0),
    (0.1, Decimal("0.1")), (12, 12), (Decimal("1.10"), Decimal("1.10")),
])
def test_numbers_from_sources_are_exact(cell: Any, expected: Any) -> None:
    facts, problems = Coercer({"customer_id": "string", "revenue_12m": "number"}).coerce(
        {"customer_id": "C1", "revenue_12m": cell})
    assert problems == []
    assert facts["revenue_12m"] == expected and type(facts["revenue_12m"]) is type(expected)


@pytest.mark.parametrize("cell, reason", [
    ("1,000", "expected a number like 1234.5, got '1,000'"),
    ("NaN", "expected a number like 1234.5, got 'NaN'"),
    ("Infinity", "expected a number like 1234.5, got 'Infinity'"),
    ("1_000", "expected a number like 1234.5, got '1_000'"),
    ("1e61", "value too large (over 60 digits), got '1e61'"),
    (float("inf"), "expected a finite number, got inf"),
    (True, "expected a number, got a true/false value"),
    # a control character next to a number is not trimmed away (str.strip would)
    ("12\x1f", "expected a number like 1234.5, got '12\\x1f'"),
    ("\x8512", "expected a number like 1234.5, got '\\x8512'"),
    # digits of other scripts are not read as numbers
    ("\u0661\u0662", "expected a number like 1234.5, got '\u0661\u0662'"),
    ("\uff11\uff12", "expected a number like 1234.5, got '\uff11\uff12'"),
])
def test_numbers_that_are_not_plain_decimals_are_rejected(cell: Any, reason: str) -> None:
    _, problems = Coercer({"customer_id": "string", "revenue_12m": "number"}).coerce(
        {"customer_id": "C1", "revenue_12m": cell})
    assert [(p.field, p.reason) for p in problems] == [("revenue_12m", reason)]


def test_a_mapping_scale_is_exact() -> None:
    rule = FieldRule("Cents", "revenue_12m", scale=Decimal("0.01"))
    assert convert(rule, "547650") == Decimal("5476.50")
    assert convert(FieldRule("K", "revenue_12m", scale=1000), "5.4765") == Decimal("5476.5000")


def test_population_statistics_are_exact() -> None:
    assert percentile([1, 2], 90) == Decimal("1.9")
    assert percentile([Decimal("0.1"), Decimal("0.2"), Decimal("0.3")], 50) == Decimal("0.2")
    assert mean([Decimal("0.1"), Decimal("0.2")]) == Decimal("0.15")
    assert mean([1, 2, 2]) == Decimal("1.666666666666666666666666667")


def test_negative_zero_is_shown_as_zero() -> None:
    c = Compiler(Names({"a": "number"}, {}))
    ctx = Context({"a": Decimal("0.0")}, AS_OF, Population({}), {"z": c.compile("a * -1.5").fn})
    assert str(ctx.value_of("z")) == "-0.00"  # what decimal arithmetic gives
    assert render("{z:,.2f} {z}", ctx, {}) == "0.00 0"
    assert fmt(ctx.value_of("z")) == "0"
    facts, _ = Coercer({"customer_id": "string", "x": "number"}).coerce(
        {"customer_id": "C", "x": "-0.00"})
    assert not facts["x"].is_signed()


def test_equal_amounts_read_the_same() -> None:
    c = Compiler(Names({"revenue_12m": "number", "h": "number"}, {"rate": Decimal("45")}))
    cost = c.compile("h * rate")
    ctx = Context({"revenue_12m": Decimal("5476.50"), "h": Decimal("121.7")}, AS_OF,
                  Population({}), {"cost": cost.fn})
    assert cost.fn(ctx) == Decimal("5476.50")
    assert render("cost {cost:,.0f} against {revenue_12m:,.0f}; {cost:,.2f} = "
                  "{revenue_12m:,.2f}; {cost} = {revenue_12m}", ctx, {}) == \
        "cost 5,476 against 5,476; 5,476.50 = 5,476.50; 5476.5 = 5476.5"
    assert fmt(ctx.value_of("cost")) == fmt(Decimal("5476.5")) == "5,476.50"


@pytest.mark.parametrize("number, shown", [
    (Decimal("1E+3"), "1,000"), (Decimal("0.10"), "0.1"), (Decimal("12.345"), "12.34"),
    (Decimal("0.3333333333333333333333333333"), "0.333"), (Decimal("-17917.30"), "-17,917.30"),
])
def test_display_of_decimals(number: Decimal, shown: str) -> None:
    assert fmt(number) == shown


def test_json_keeps_the_digits_both_ways() -> None:
    text = jsontext.dumps({"b": Decimal("5476.50"), "a": [Decimal("1E+3"), 3, None]})
    assert text == '{"a":[1E+3,3,null],"b":5476.50}'
    assert json.loads(text, parse_float=Decimal) == {"a": [1000, 3, None], "b": Decimal("5476.5")}
    back = jsontext.loads(text)
    assert back == {"a": [Decimal("1E+3"), 3, None], "b": Decimal("5476.50")}
    assert str(back["b"]) == "5476.50"


def test_decimals_module_documents_its_bounds() -> None:
    assert decimals.DIVISION_DIGITS == 28 and decimals.MAX_DIGITS == 60
    assert decimals.divide(1, 7) == Decimal("0.1428571428571428571428571429")
