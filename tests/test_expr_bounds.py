"""Issue 12, item 1: no policy that passes `adieu validate` can make
evaluate, explain, test or replay take more than a little time or memory
per customer, or crash without a location. Each kind of expression or
template bomb is refused at validate with file:line:col, or bounded at run
time with a located "value too large" for the customer."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from adieu import decimals, exprparse, templates
from adieu.cli import cli
from adieu.errors import PolicyErrors
from adieu.expr import ExtraFunction
from adieu.policy import compile_policy
from adieu.policy_limits import MAX_EXPRESSION_CHARS, MAX_TEXT_CHARS

AS_OF = "2026-11-01"
CSV = "customer_id,name,revenue_12m,contract_end\nC1,Aurora,500,2027-01-31\nC2,Birch,5000,\n"


def policy_text(derive: str = "", when: str = "revenue_12m < 1000",
                explain: str = "revenue {revenue_12m:,.0f}", extra: str = "") -> str:
    """A small valid policy: `derive` lines ("name: expression") under
    derive:, one rule (its explain on line 11). Expressions and the
    template are written as YAML double-quoted text (JSON strings)."""
    lines = ['version: "1"', "name: bounds", "params:", "  limit: 1000", "  label: gold"]
    if derive:
        lines.append("derive:")
        for line in derive.splitlines():
            name, expr = line.split(": ", 1)
            lines.append(f"  {name}: {json.dumps(expr)}")
    lines += ["rules:", "  - id: r1", "    title: low revenue", f"    when: {json.dumps(when)}",
              "    action: flag", f"    explain: {json.dumps(explain)}"]
    return "\n".join(lines) + "\n" + extra


def validate(tmp_path: Path, text: str) -> tuple[int, str]:
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(cli, ["validate", str(path)])
    return result.exit_code, result.output


def refused(tmp_path: Path, text: str, message: str) -> str:
    """validate exits 1 with `message` at p.yaml:LINE:COL; the first line."""
    code, out = validate(tmp_path, text)
    assert code == 1, out
    assert "unexpected error" not in out and "Traceback" not in out
    first = out.splitlines()[0]
    assert first.startswith(str(tmp_path / "p.yaml") + ":"), first
    assert message in first, first
    return first


def evaluate(tmp_path: Path, text: str) -> CliRunner:
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    (tmp_path / "c.csv").write_text(CSV, encoding="utf-8")
    runner = CliRunner()
    db = str(tmp_path / "a.db")
    result = runner.invoke(cli, ["evaluate", str(path), "--source", f"csv:{tmp_path / 'c.csv'}",
                                 "--as-of", AS_OF, "--db", db])
    assert result.exit_code == 0, result.output
    return runner


# -- length before parsing ----------------------------------------------------

def test_a_derive_of_200000_terms_is_refused_before_parsing(tmp_path: Path) -> None:
    """The issue's `lng: 1+1+1+...`: was "unexpected error: RecursionError
    ... during ast construction" (the derive dependency scan parsed it).
    At 400,001 characters the YAML reader refuses the value itself; under
    that, the expression's own limit, before any parsing."""
    text = policy_text(derive="lng: " + "1+" * 200_000 + "1")
    first = refused(tmp_path, text, "a YAML value of 400,001 characters, over the limit of "
                                    "100,000")
    assert ":7:8:" in first  # the derive's value
    text = policy_text(derive="lng: " + "1+" * 20_000 + "1")
    first = refused(tmp_path, text, "expression of 40,001 characters, over the limit of "
                                    f"{exprparse.MAX_LENGTH:,}")
    assert ":7:" in first


@pytest.mark.parametrize("where", ["when", "derive"])
def test_every_parse_of_expression_text_is_bounded(where: str) -> None:
    """compile, the derive dependency scan, the percentile scan and lint all
    meet the long text; none of them parses it."""
    long = "percentile(revenue_12m, " + "1+" * 40_000 + "1) > 0"
    text = policy_text(derive=f"x: {long}") if where == "derive" else policy_text(when=long)
    with pytest.raises(PolicyErrors) as info:
        compile_policy(text)
    assert [e.message.split(" characters")[0] for e in info.value.errors] == \
        [f"expression of {len(long):,}"]


def test_parse_expression_checks_length_first() -> None:
    with pytest.raises(exprparse.ExprError, match="over the limit"):
        exprparse.parse_expression("1+" * 1_000_000 + "1")


# -- nesting depth -------------------------------------------------------------

DEEP = {
    "brackets": "(" * 40 + "revenue_12m" + ")" * 40 + " > 0",
    "unary minus": "- " * 40 + "revenue_12m < 0",
    "not": "not " * 40 + "(revenue_12m > 1)",
    "calls": "abs(" * 40 + "revenue_12m" + ")" * 40 + " > 0",
    "conditionals": "(" + " ".join(["revenue_12m if revenue_12m > 1 else"] * 34) + " 1) > 0",
    "lists in calls": "min(" * 33 + "revenue_12m" + ")" * 33 + " in [1]",
}


@pytest.mark.parametrize("kind", sorted(DEEP))
def test_nesting_deeper_than_the_limit_is_refused_at_its_column(tmp_path: Path,
                                                                kind: str) -> None:
    text = policy_text(when=DEEP[kind])
    first = refused(tmp_path, text, f"nested more than {exprparse.MAX_DEPTH} levels deep")
    column = int(first.split(":")[2])
    assert column > len("    when: ")  # inside the expression, not at its start


def test_a_long_chain_of_one_operator_is_one_level() -> None:
    """`a + b + c + ...` reads flat: 60 terms are fine (under 400 parts)."""
    compile_policy(policy_text(derive="s: " + " + ".join(["revenue_12m"] * 60)))


def test_depth_at_the_limit_is_accepted() -> None:
    ok = "(" * exprparse.MAX_DEPTH + "revenue_12m" + ")" * exprparse.MAX_DEPTH + " > 0"
    compile_policy(policy_text(when=ok))
    ok_not = "not " * (exprparse.MAX_DEPTH - 2) + "(revenue_12m > 1)"
    compile_policy(policy_text(when=ok_not))


# -- static types ----------------------------------------------------------------

def test_the_issues_conditional_bomb_is_refused_at_validate(tmp_path: Path) -> None:
    """`("a" if true else 1) * 1000000000` validated (its type was "any")."""
    text = policy_text(derive='bomb: ("a" if true else 1) * 1000000000',
                       when="revenue_12m < 1000 and bomb > 0")
    first = refused(tmp_path, text, "both branches of 'a if condition else b' must have "
                                    "the same type: 'a' is a string, 1 is a number")
    assert first.startswith(f"{tmp_path / 'p.yaml'}:7:28:")  # at the else branch


@pytest.mark.parametrize("expr, message", [
    ('(label if true else 1) + (label if true else 1)', "same type"),
    ('(date("2026-01-01") if true else 5) + 1', "same type"),
    ('(revenue_12m > 1 if true else revenue_12m) == true', "same type"),
    ('"a" * 1000000000 > 0', "needs a number"),
    ("label * 1000000000 > 0", "needs a number"),
    ("label + label == label", "needs a number"),
    ('"ab" + "cd" == "x"', "does not join text"),
    ("revenue_12m ** 1000 > 0", "** is not allowed"),
    ("round(revenue_12m, 1000000) > 0", "round() takes a whole number of places"),
    ("percentile(revenue_12m, 1000000) > 0", "percentile must be a number from 0 to 100"),
    ('[1, 2] * 1000000000 == [1]', "needs a number"),
    ('f"{revenue_12m:>1000000000}" == "x"', "f-string is not allowed"),
    ('"{:>1000000000}".format(revenue_12m) == "x"', "only named functions can be called"),
])
def test_operations_that_could_build_a_huge_value_are_refused(expr: str, message: str) -> None:
    with pytest.raises(PolicyErrors) as info:
        compile_policy(policy_text(when=expr))
    assert any(message in e.message for e in info.value.errors), info.value.errors


def test_a_chain_of_derives_cannot_double_a_text() -> None:
    derive = "t0: label\n" + "\n".join(f"t{i}: t{i - 1} + t{i - 1}" for i in range(1, 30))
    with pytest.raises(PolicyErrors) as info:
        compile_policy(policy_text(derive=derive))
    assert "needs a number" in info.value.errors[0].message


# -- run-time magnitude -------------------------------------------------------------

SQUARES = "\n".join(["s0: revenue_12m + 0.5", "i0: revenue_12m"]
                    + [f"s{i}: s{i - 1} * s{i - 1}\ni{i}: i{i - 1} * i{i - 1}"
                       for i in range(1, 31)])


def test_derives_squaring_each_other_30_times_end_in_value_too_large(tmp_path: Path) -> None:
    """evaluate, explain, test and replay finish, the customer's decision
    names the expression and "value too large"; no 4,300-digit error."""
    text = policy_text(derive=SQUARES, when="s30 > 0 or i30 > 0",
                       explain="s {s30} i {i30:,.2f} s3 {s3:e}")
    runner = evaluate(tmp_path, text)
    db = str(tmp_path / "a.db")
    out = runner.invoke(cli, ["explain", "C1", "--db", db])
    assert out.exit_code == 0, out.output
    assert "r1: cannot compute s4 * s4: value too large (over 60 digits)" in out.output
    assert "i5 = unknown" in out.output and "4300" not in out.output
    replay = runner.invoke(cli, ["replay", "1", "--db", db])
    assert replay.exit_code == 0 and "0 difference(s)" in replay.output, replay.output
    (tmp_path / "p.test.yaml").write_text(textwrap.dedent("""\
        policy: p.yaml
        as_of: "2026-11-02"
        cases:
          - name: squares are too large, so the rule is unknown
            facts: {customer_id: T1, revenue_12m: 123456789}
            expect: {outcome: watch}
        """), encoding="utf-8")
    tested = runner.invoke(cli, ["test", str(tmp_path / "p.test.yaml")])
    assert tested.exit_code in (0, 1) and "1 passed" in tested.output, tested.output


def test_a_literal_over_the_magnitude_is_refused_at_its_column(tmp_path: Path) -> None:
    refused(tmp_path, policy_text(when="revenue_12m < 1" + "0" * 61),
            "value too large (over 60 digits)")


def test_date_arithmetic_with_a_huge_day_count_is_unknown_with_a_problem(tmp_path: Path) -> None:
    text = policy_text(derive="later: contract_end + " + "9" * 59,
                       when="later > contract_end")
    runner = evaluate(tmp_path, text)
    out = runner.invoke(cli, ["explain", "C1", "--db", str(tmp_path / "a.db")])
    assert out.exit_code == 0, out.output
    assert "cannot compute contract_end + 999" in out.output


def test_a_plugin_function_giving_a_huge_number_or_text_is_unknown() -> None:
    import datetime as dt

    from adieu.decide import decide, make_contexts
    from adieu.facts import Record
    huge = {"huge": ExtraFunction("huge", lambda x: 10 ** 5000, "number", 1, 1),
            "long": ExtraFunction("long", lambda x: "x" * 10 ** 6, "string", 1, 1)}
    policy = compile_policy(policy_text(
        derive="h: huge(revenue_12m)\nl: long(revenue_12m)",
        when='h > 0 or l == "x"'), extra_functions=huge)
    (ctx,), _ = make_contexts(policy, [Record({"customer_id": "C1", "revenue_12m": 5},
                                               None, None)], dt.date(2026, 11, 1))
    decision = decide(policy, ctx, dt.date(2026, 11, 1))
    problems = decision.unknown[0].problems
    assert "huge(revenue_12m) gave int: value too large (over 60 digits)" in problems
    assert "long(revenue_12m) gave a text of 1,000,000 characters, over the limit of " \
           "10,000" in problems


def test_magnitude_bound_is_checked_before_any_huge_power() -> None:
    with pytest.raises(OverflowError, match="value too large"):
        decimals.multiply(10 ** 59, 10 ** 59)
    with pytest.raises(ArithmeticError):
        decimals.multiply(decimals.to_number("1e59"), decimals.to_number("1.5e59"))


# -- explanation format specs --------------------------------------------------------

@pytest.mark.parametrize("template, message", [
    ("{revenue_12m:>1000000000}", "width 1000000000 is over 40"),
    ("{revenue_12m:.1000f}", "precision 1000 is over 12"),
    ("{revenue_12m!r}", "no attribute, index, conversion or nested field"),
    ("{revenue_12m!s:>10}", "no attribute, index, conversion or nested field"),
    ("{revenue_12m.real}", "no attribute, index, conversion or nested field"),
    ("{revenue_12m[0]}", "no attribute, index, conversion or nested field"),
    ("{revenue_12m:{limit}}", "no attribute, index, conversion or nested field"),
    ("{revenue_12m:>{limit}}", "no attribute, index, conversion or nested field"),
    ("{0}", "no attribute, index, conversion or nested field"),
    ("{}", "no attribute, index, conversion or nested field"),
    ("{revenue_12m:\u202e>10}", "fill character '\\u202e' is not allowed"),
    ("{revenue_12m:\t>10}", "fill character '\\t' is not allowed"),
    ("{name:=>10s}", None),  # fill '=' aligned right: fine
    ("{name:*=10}", "text takes only a width and alignment"),
    ("{name:,}", "text takes only a width and alignment"),
    ("{revenue_12m:d}", "a number is formatted with f, e, g or %"),
    ("{contract_end:" + "%Y" * 30 + "}", "a date is formatted with strftime codes"),
    ("{revenue_12m}" * 100, "a text of 1,300 characters, over the limit of 1,000"),
    ("{revenue_12m}" * 21, "explanation template with 21 fields, over the limit of 20"),
])
def test_explain_formats_are_a_bounded_grammar(tmp_path: Path, template: str,
                                               message: str | None) -> None:
    text = policy_text(explain=template)
    if message is None:
        code, out = validate(tmp_path, text)
        assert code == 0, out
        return
    first = refused(tmp_path, text, message)
    assert ":11:" in first  # the explain line


def test_spec_problem_bounds_width_and_precision_for_every_type() -> None:
    from adieu.values import ANY, DATE, NUM, STR
    for kind in (NUM, STR, ANY):
        assert spec_says(f">{templates.MAX_WIDTH + 1}", kind) == \
            f"width {templates.MAX_WIDTH + 1} is over {templates.MAX_WIDTH}"
    assert spec_says(f".{templates.MAX_PRECISION + 1}f", NUM) == \
        f"precision {templates.MAX_PRECISION + 1} is over {templates.MAX_PRECISION}"
    assert spec_says("%d" * 30, DATE) is not None
    assert spec_says(f"*^{templates.MAX_WIDTH},.{templates.MAX_PRECISION}f", NUM) is None


def spec_says(spec: str, kind: str) -> str | None:
    return templates.spec_problem(spec, kind)


def test_exemption_hold_and_referral_texts_are_shown_as_written_never_formatted(
        tmp_path: Path) -> None:
    """Only a rule's explain is a template; other texts are plain (and
    bounded by MAX_TEXT_CHARS), so a spec in them formats nothing."""
    bomb = "{revenue_12m:>1000000000}"
    text = policy_text(when="revenue_12m > 0", extra=textwrap.dedent(f"""\
        exemptions:
          - id: ex1
            when: revenue_12m > 4000
            rules: [r1]
            reason: "{bomb}"
            approver: "{bomb}"
            expires: "2027-12-31"
        holds:
          - id: h1
            when: revenue_12m < 1000
            reason: "{bomb}"
        """))
    runner = evaluate(tmp_path, text)
    db = str(tmp_path / "a.db")
    for customer in ("C1", "C2"):
        out = runner.invoke(cli, ["explain", customer, "--db", db])
        assert out.exit_code == 0, out.output
        assert len(out.output) < 5_000
    shown = runner.invoke(cli, ["explain", "C2", "--json", "--db", db]).output
    assert f'"reason": "{bomb}"' in shown and f'"approver": "{bomb}"' in shown


# -- policy-wide sizes ------------------------------------------------------------------

def test_all_expressions_together_are_bounded(tmp_path: Path) -> None:
    one = " + ".join(["revenue_12m"] * 120)  # under 2,000 characters and 400 parts
    n = MAX_EXPRESSION_CHARS // len(one) + 1
    derive = "\n".join(f"d{i}: {one}" for i in range(n))
    refused(tmp_path, policy_text(derive=derive), f"over the limit of "
                                                 f"{MAX_EXPRESSION_CHARS:,}; every expression")


def test_a_long_title_is_refused_with_its_length(tmp_path: Path) -> None:
    text = policy_text().replace("title: low revenue", "title: " + "t" * 5000)
    first = refused(tmp_path, text, f"rules/0/title: a text of 5,000 characters, over the "
                                    f"limit of {MAX_TEXT_CHARS:,}")
    assert ":8:12:" in first


def test_all_expression_parts_together_are_bounded(tmp_path: Path) -> None:
    """Under the characters limit, short names still make many parts."""
    from adieu.policy_limits import MAX_POLICY_PARTS
    one = "a*a/a" + "*a/a" * 45  # about 370 parts in 185 characters
    derive = "a: revenue_12m\n" + "\n".join(f"b{i}: {one}" for i in range(30))
    refused(tmp_path, policy_text(derive=derive),
            f"parts in all, over the limit of {MAX_POLICY_PARTS:,}; every expression")


def test_generated_code_past_its_budget_falls_back_to_closures(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Python's compile() of the generated code costs time and memory per
    line: past codegen.MAX_LINES, expressions run as closures, with the
    same decisions and problems."""
    import datetime as dt

    from adieu import codegen
    from adieu.decide import decide, make_contexts
    from adieu.decide_reference import reference_decide
    from adieu.facts import Record
    monkeypatch.setattr(codegen, "MAX_LINES", 40)
    policy = compile_policy(policy_text(derive=SQUARES, when="s30 > 0 or i5 > 0"))
    assert codegen.compile_policy_code(policy).fallbacks > 10
    as_of = dt.date(2026, 11, 1)
    records = [Record({"customer_id": "C1", "revenue_12m": v}, None, None) for v in (2, 900)]
    contexts, _ = make_contexts(policy, records, as_of)
    for ctx in contexts:
        fast = decide(policy, ctx, as_of)
        contexts_ref, _ = make_contexts(policy, [Record(ctx.facts, None, None)], as_of)
        slow = reference_decide(policy, contexts_ref[0], as_of)
        assert fast.outcome == slow.outcome
        assert [(u.rule, u.problems) for u in fast.unknown] == \
            [(u.rule, u.problems) for u in slow.unknown]
    assert any("value too large" in p for u in fast.unknown for p in u.problems)


def many_rules(n: int, explain: str | None, title: str = "t") -> str:
    """A policy of n rules r0.. (rule i's explain on line 9 + 6 * i)."""
    lines = ['version: "1"', "name: wide", "facts:", "  remark: {type: string}", "rules:"]
    for i in range(n):
        lines += [f"  - id: r{i}", f"    title: {json.dumps(title)}",
                  "    when: revenue_12m > 0", "    action: flag"]
        lines.append(f"    explain: {json.dumps(explain)}" if explain else "    severity: low")
        lines.append("    # -")
    return "\n".join(lines) + "\n"


def test_the_text_one_decision_can_show_is_bounded_at_validate(tmp_path: Path) -> None:
    """The tester's policy: every limit kept (20 fields of width 40 with 12
    decimals per template), yet each decision rendered ~890 KB of text with
    1,000 rules. Now the widest explanation of every rule is summed at
    validate, and 20 such rules are already over the bound."""
    from adieu.policy_limits import MAX_DECISION_TEXT_CHARS
    # 20 x 95: a sign, 61 digits (60 rounding up), 20 commas, 12 places
    widest = "{revenue_12m:>40,.12f}" * 20
    first = refused(tmp_path, many_rules(20, widest), "characters of text")
    total = 20 * 1900 + 20 * (len("r0") + len("t") + len("flag")) + 10 * 1
    assert f"one decision can show {total:,} characters" in first, first
    assert f"over the limit of {MAX_DECISION_TEXT_CHARS:,}" in first, first
    assert "largest explanations: rule 'r0' (line 10) up to 1,900, rule 'r1' (line 16)" \
        in first, first
    assert first.startswith(f"{tmp_path / 'p.yaml'}:5:"), first  # rules:
    code, out = validate(tmp_path, many_rules(15, widest))  # 15 x 1,900: within it
    assert code == 0, out


@pytest.mark.parametrize("field, widest", [
    ("{remark}", 200),  # a text fact: cut to templates.MAX_FIELD_CHARS when rendered
    ("{revenue_12m}", 191),  # every digit: 61 before the point, 122 after, e-120
    ("{revenue_12m:.1%}", 67),
    ("{contract_end:%A %d %B %Y}", 9 + 1 + 2 + 1 + 9 + 1 + 4),
    ("x" * 100, 100),  # literal text only
])
def test_every_kind_of_field_counts_at_its_widest(tmp_path: Path, field: str,
                                                  widest: int) -> None:
    from adieu.policy_limits import MAX_DECISION_TEXT_CHARS
    per_rule = 10 * widest
    n = MAX_DECISION_TEXT_CHARS // per_rule + 1
    first = refused(tmp_path, many_rules(n, field * 10), "characters of text")
    assert f"rule 'r0' (line 10) up to {per_rule:,}" in first, first


def test_titles_count_toward_the_text_of_a_decision(tmp_path: Path) -> None:
    """A rule without an explanation shows its title: 40 rules with titles
    of 1,000 characters are over the bound too."""
    refused(tmp_path, many_rules(40, None, title="t" * 1000), "one decision can show")


def test_a_field_never_renders_more_than_its_static_bound() -> None:
    import datetime as dt
    from decimal import Decimal

    from adieu.decide import format_value
    from adieu.values import BOOL, DATE, NUM, STR
    top = "9" * decimals.MAX_DIGITS  # the largest magnitude, every digit kept
    numbers = [Decimal("-" + top), Decimal(top), Decimal("-1E-120"), Decimal(f"-{top}E-120"),
               Decimal("-0.5"),
               Decimal("-" + "9" * 60 + "." + "9" * 60)]
    for spec in ["", ",", ".12f", ">40,.12f", ",.12%", "%", "e", ".12e", "g", "_.3f",
                 "+,.0f", "*^40", "=+40,.2f", "f", ",f"]:
        for value in numbers:
            assert len(format_value(value, spec)) <= templates.field_chars(spec, NUM), \
                (spec, value)
    for spec in ["", "%A %d %B %Y", "%a%b%j%p%y%U%W%z%Z%%"]:
        assert len(format_value(dt.date(2026, 9, 30), spec)) <= \
            templates.field_chars(spec, DATE), spec
    assert len(format_value(False, "")) <= templates.field_chars("", BOOL)
    for spec in ["", ">40", "<10s"]:
        assert len(format_value("x" * 10_000, spec)) == templates.MAX_FIELD_CHARS
        assert templates.field_chars(spec, STR) == templates.MAX_FIELD_CHARS
    assert format_value("x" * 10_000, "").endswith("...")


def test_the_shipped_policies_are_well_within_the_decision_text_bound() -> None:
    from adieu.policy import load_policy
    for name in ("default", "strict"):
        load_policy(name)  # raises PolicyErrors if over
