"""Policy validation: every finding at file:line:col, all in one pass, and the
`adieu validate` command's output."""

from __future__ import annotations

import json
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from adieu.cli import cli
from adieu.errors import PolicyError, PolicyErrors
from adieu.policy import compile_policy, load_policy

REPO = Path(__file__).resolve().parent.parent
DEFAULT = REPO / "policies" / "default.yaml"
STRICT = REPO / "policies" / "strict.yaml"
# The shipped policies' exemptions expire (default.yaml's in 2027-06): judged
# as of the demo's date, so these tests do not change with the calendar.
SHIPPED_AS_OF = "2026-11-01"


def errors_of(path: Path) -> list[PolicyError]:
    with pytest.raises(PolicyErrors) as info:
        load_policy(path)
    return info.value.errors


def errors_in(text: str, tmp_path: Path, name: str = "policy.yaml") -> list[PolicyError]:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return errors_of(path)


def position(text: str, needle: str, occurrence: int = 1) -> tuple[int, int]:
    """1-based line and column of the n-th occurrence of needle in text."""
    start = -1
    for _ in range(occurrence):
        start = text.index(needle, start + 1)
    line = text.count("\n", 0, start) + 1
    column = start - (text.rfind("\n", 0, start) + 1) + 1
    return line, column


def typo(tmp_path: Path, old: str, new: str) -> tuple[Path, str]:
    """policies/default.yaml with `old` (which must occur once) replaced."""
    text = DEFAULT.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    changed = text.replace(old, new)
    path = tmp_path / "default.yaml"
    path.write_text(changed, encoding="utf-8")
    return path, changed


def where(e: PolicyError) -> tuple[int | None, int | None]:
    assert e.location is not None
    return e.location.line, e.location.column


# -- a typo in the shipped policy ---------------------------------------------

def test_shipped_policies_are_valid() -> None:
    for path in (DEFAULT, STRICT):
        policy = load_policy(path)
        assert policy.rules and policy.name


def test_typo_in_a_rule_condition_points_at_the_bad_name(tmp_path: Path) -> None:
    path, text = typo(tmp_path, "when: requested_terms_days >= payment_terms_days",
                      "when: requested_terms_days >= paymnt_terms_days")
    (e,) = errors_of(path)
    assert e.location.file == str(path)
    assert where(e) == position(text, "paymnt_terms_days")
    assert e.message == ("unknown name 'paymnt_terms_days' (not a fact, param or derived fact)"
                         " (did you mean 'payment_terms_days'?)")


def test_typo_in_a_derived_fact_points_at_the_bad_name(tmp_path: Path) -> None:
    path, text = typo(tmp_path, "margin: revenue_12m - cost_to_serve",
                      "margin: revenu_12m - cost_to_serve")
    (e,) = errors_of(path)
    assert where(e) == position(text, "revenu_12m ")
    assert e.message.endswith("(did you mean 'revenue_12m'?)")


def test_typo_in_a_folded_multi_line_condition_points_at_its_line(tmp_path: Path) -> None:
    path, text = typo(tmp_path, "and return_rate > max_return_rate",
                      "and return_rat > max_return_rate")
    (e,) = errors_of(path)
    assert where(e) == position(text, "return_rat ")
    assert e.message.endswith("(did you mean 'return_rate'?)")


def test_typo_in_an_explanation_template(tmp_path: Path) -> None:
    path, text = typo(tmp_path, "{late_payments_12m} invoices", "{late_payment_12m} invoices")
    (e,) = errors_of(path)
    assert where(e) == position(text, "late_payment_12m}")
    assert e.message == ("explanation template names {late_payment_12m}, which is not a fact, "
                         "param or derived fact (did you mean 'late_payments_12m'?)")


def test_exemption_naming_a_missing_rule(tmp_path: Path) -> None:
    path, text = typo(tmp_path, "      - high-return-rate\n    reason",
                      "      - high-return-rat\n    reason")
    (e,) = errors_of(path)
    assert where(e) == position(text, "high-return-rat\n")
    assert e.message == ("exemption 'pilot-programme-2026' names rule 'high-return-rat', "
                         "which does not exist (did you mean 'high-return-rate'?)")


# -- schema errors --------------------------------------------------------------

BASE = """\
    version: 1
    name: test
    rules:
      - id: r1
        when: revenue_12m > 100
        action: strike
"""


def test_unknown_key_at_the_key(tmp_path: Path) -> None:
    text = BASE + "        titel: Big\n"
    (e,) = errors_in(text, tmp_path)
    assert where(e) == (7, 5)
    assert e.message == "unknown key 'titel' (did you mean 'title'?)"


def test_unknown_top_level_key(tmp_path: Path) -> None:
    (e,) = errors_in("    colour: blue\n" + BASE, tmp_path)
    assert where(e) == (1, 1)
    assert e.message == "unknown key 'colour'"


def test_wrong_enum_at_the_value(tmp_path: Path) -> None:
    (e,) = errors_in(BASE.replace("action: strike", "action: strik"), tmp_path)
    assert where(e) == (6, 13)
    assert e.message == "rule 'r1', action: 'strik' is not one of 'flag', 'strike', 'offboard'"


def test_wrong_top_level_enum(tmp_path: Path) -> None:
    (e,) = errors_in(BASE + "    on_missing: maybe\n", tmp_path)
    assert where(e) == (7, 13)
    assert e.message == "on_missing: 'maybe' is not one of 'watch', 'keep'"


def test_missing_required_key(tmp_path: Path) -> None:
    (e,) = errors_in(BASE.replace("    name: test\n", ""), tmp_path)
    assert where(e) == (1, 1)
    assert e.message == "top level: 'name' is required"


# -- semantic errors ------------------------------------------------------------

def test_duplicate_rule_id_names_the_first_line(tmp_path: Path) -> None:
    text = BASE + """\
      - id: r1
        when: revenue_12m < 0
        action: flag
"""
    (e,) = errors_in(text, tmp_path)
    assert where(e) == (7, 9)
    assert e.message == "rule id 'r1' is used twice (first on line 4)"


def test_derive_cycle(tmp_path: Path) -> None:
    text = BASE + """\
    derive:
      a: b + 1
      b: a * 2
"""
    (e,) = errors_in(text, tmp_path)
    assert where(e) == (8, 3)
    assert e.message == "derived facts depend on each other in a cycle: a -> b -> a"


def test_derive_self_reference(tmp_path: Path) -> None:
    (e,) = errors_in(BASE + "    derive:\n      a: a + 1\n", tmp_path)
    assert e.message == "derived facts depend on each other in a cycle: a -> a"


def test_syntax_error_column(tmp_path: Path) -> None:
    (e,) = errors_in(BASE.replace("revenue_12m > 100", "revenue_12m >* 100"), tmp_path)
    assert where(e) == (5, 24)
    assert e.message == "syntax error: invalid syntax"


def test_quoted_condition_column_counts_the_quote(tmp_path: Path) -> None:
    text = BASE.replace("when: revenue_12m > 100", "when: \"revenue_12m > 'a'\"")
    (e,) = errors_in(text, tmp_path)
    assert where(e) == position(textwrap.dedent(text), "'a'")  # the quote counts
    assert e.message == "cannot compare a number with a string using '>'"


def test_condition_that_is_a_number(tmp_path: Path) -> None:
    (e,) = errors_in(BASE.replace("revenue_12m > 100", "5"), tmp_path)
    assert where(e) == (5, 11)
    assert e.message == "a condition must be true or false, this is a number"


def test_name_clashes_and_ladder(tmp_path: Path) -> None:
    text = BASE + """\
    params:
      revenue_12m: 5
    strikes:
      cooldown_days: 400
      ladder:
        warn: 3
        offboard: 2
"""
    messages = [e.message for e in errors_in(text, tmp_path)]
    assert messages == [
        "param 'revenue_12m' has the name of a fact",
        "strikes: cooldown_days must be shorter than window_days",
        "the strike ladder must climb: warn <= final_notice <= offboard (got 3, 2, 2)",
    ]


def test_all_errors_in_one_pass(tmp_path: Path) -> None:
    text = """\
    version: 1
    name: test
    rules:
      - id: r1
        when: revenu_12m > 100
        action: strike
      - id: r2
        when: late_payments_12m >= 3
        action: strik
      - id: r1
        when: abuse_incidents_12m.count > 0
        action: offboard
    """
    errors = errors_in(text, tmp_path)
    assert [(where(e), e.message) for e in errors] == [
        ((5, 11), "unknown name 'revenu_12m' (not a fact, param or derived fact) "
                  "(did you mean 'revenue_12m'?)"),
        ((9, 13), "rule 'r2', action: 'strik' is not one of 'flag', 'strike', 'offboard'"),
        ((10, 9), "rule id 'r1' is used twice (first on line 4)"),
        ((11, 11), "attribute access (a.b) is not allowed in an expression"),
    ]


# -- YAML -------------------------------------------------------------------

def test_bad_yaml(tmp_path: Path) -> None:
    (e,) = errors_in("version: 1\nname: [x\nrules: []\n", tmp_path)
    assert where(e) == (3, 6)
    assert e.message == "invalid YAML: did not find expected ',' or ']'"  # libyaml's words


def test_duplicate_yaml_key(tmp_path: Path) -> None:
    (e,) = errors_in("version: 1\nname: x\nname: y\nrules: []\n", tmp_path)
    assert where(e) == (3, 1)
    assert e.message == "duplicate key 'name'"


def test_not_a_mapping(tmp_path: Path) -> None:
    (e,) = errors_in("- just\n- a list\n", tmp_path)
    assert e.message == "top level: a list is not a mapping"


def test_unreadable_policy(tmp_path: Path) -> None:
    (e,) = errors_of(tmp_path / "nope.yaml")
    assert e.message.startswith("cannot read policy: No such file or directory")
    assert e.location.file == str(tmp_path / "nope.yaml")


def test_compile_policy_records_identity() -> None:
    text = DEFAULT.read_text(encoding="utf-8")
    policy = compile_policy(text, "x.yaml")
    import hashlib

    assert policy.sha256 == hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert policy.text == text
    assert (policy.name, policy.version, policy.file) == ("default", "2026.11", "x.yaml")


# -- adieu validate -----------------------------------------------------------

def test_cli_reports_file_line_col_and_a_caret(tmp_path: Path, runner: CliRunner) -> None:
    path, text = typo(tmp_path, "when: requested_terms_days >= payment_terms_days",
                      "when: requested_terms_days >= paymnt_terms_days")
    line, col = position(text, "paymnt_terms_days")
    source_line = text.splitlines()[line - 1]
    result = runner.invoke(cli, ["validate", str(path)])
    assert result.exit_code == 1
    assert result.stdout == (
        f"{path}:{line}:{col}: unknown name 'paymnt_terms_days' (not a fact, param or derived "
        "fact) (did you mean 'payment_terms_days'?)\n"
        f"    {source_line}\n"
        f"    {' ' * (col - 1)}^\n")
    assert result.stderr == "1 error(s)\n"


def test_cli_ok_on_the_shipped_policies(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["validate", "--as-of", SHIPPED_AS_OF, str(DEFAULT), str(STRICT)])
    assert result.exit_code == 0, result.output
    lines = []
    for path in (DEFAULT, STRICT):
        p = load_policy(path)
        lines.append(f"{path}: ok ({len(p.rules)} rules, {len(p.derive)} derived facts, "
                     f"{len(p.exemptions)} exemptions, {len(p.holds)} holds)")
    assert result.output == "\n".join(lines) + "\n"


def test_cli_one_bad_file_among_good_ones(tmp_path: Path, runner: CliRunner) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nname: x\nname: y\nrules: []\n", encoding="utf-8")
    result = runner.invoke(cli, ["validate", "--as-of", SHIPPED_AS_OF, str(DEFAULT), str(bad)])
    assert result.exit_code == 1
    assert result.stdout.splitlines()[:3] == [
        f"{bad}:3:1: duplicate key 'name'", "    name: y", "    ^"]
    assert result.stdout.splitlines()[3].startswith(f"{DEFAULT}: ok (")


def test_cli_json(tmp_path: Path, runner: CliRunner) -> None:
    path, text = typo(tmp_path, "margin: revenue_12m - cost_to_serve",
                      "margin: revenu_12m - cost_to_serve")
    line, col = position(text, "revenu_12m ")
    result = runner.invoke(cli, ["validate", "--as-of", SHIPPED_AS_OF, "--json", str(path)])
    assert result.exit_code == 1
    assert json.loads(result.stdout) == [{
        "file": str(path), "line": line, "column": col, "severity": "error", "code": None,
        "message": "unknown name 'revenu_12m' (not a fact, param or derived fact) "
                   "(did you mean 'revenue_12m'?)"}]
    ok = runner.invoke(cli, ["validate", "--as-of", SHIPPED_AS_OF, "--json", str(DEFAULT)])
    assert ok.exit_code == 0
    assert json.loads(ok.stdout) == []


def test_cli_requires_a_file(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["validate"])
    assert result.exit_code == 2
    assert "Missing argument 'POLICIES...'" in result.stderr


# -- any value where another is expected is a finding, never a crash ---------------

def _paths(doc, path=()):
    yield path
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, path + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _paths(v, path + (i,))


_DEFAULT_DOC = None


def _default_doc():
    global _DEFAULT_DOC
    if _DEFAULT_DOC is None:
        from adieu.yamlpos import load_with_positions

        _DEFAULT_DOC = load_with_positions(DEFAULT.read_text(encoding="utf-8"), "d")[0]
    return _DEFAULT_DOC


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_a_value_of_any_other_shape_anywhere_is_a_finding_not_a_crash(data) -> None:
    import copy

    import yaml as pyyaml

    doc = copy.deepcopy(_default_doc())
    paths = [p for p in _paths(doc) if p]
    path = data.draw(st.sampled_from(paths))
    replacement = data.draw(st.sampled_from(
        [5, -1, 0, True, None, "x", [], [5], {}, {"a": 1}, [None], "2026-02-30", 1.5]))
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = replacement
    class Dumper(pyyaml.SafeDumper):
        pass

    Dumper.add_representer(Decimal, lambda d, v: d.represent_scalar(
        "tag:yaml.org,2002:float", str(v)))
    text = pyyaml.dump(doc, Dumper=Dumper, allow_unicode=True, sort_keys=False)
    try:
        compile_policy(text, "mutated.yaml")
    except PolicyErrors as exc:
        assert exc.errors and all(e.location is not None for e in exc.errors)


@pytest.mark.parametrize("template, message", [
    ("{revenue_12m:999999999}", "width 999999999 is over 40"),
    ("{revenue_12m:.999999f}", "precision 999999 is over 12"),
    ("{revenue_12m:d}", "a number is formatted with f, e, g or %, not d (write ,.0f for a "
     "whole number with thousands separators)"),
    ("{revenue_12m:x}", "a number is formatted with f, e, g or %, not x"),
    ("{customer_since:,.0f}", "a date is formatted with strftime codes, like %d/%m/%Y or %B %Y"),
    ("{tier:,}", "text takes only a width and alignment, like >20 or <10"),
    ("{outgrown:>5}", "true/false takes no format"),
    ("{revenue_12m:!!}", "not a format like ,.0f or .1% or >10"),
])
def test_template_formats_are_bounded_and_fit_the_value(tmp_path, template, message) -> None:
    text = ("version: 1\nname: x\nrules:\n  - id: r\n    when: revenue_12m > 1\n"
            f"    action: flag\n    explain: \"v {template}\"\n")
    (e,) = errors_in(text, tmp_path)
    field = template[1:template.index(":")]
    assert e.message == f"explanation template field {template}: {message}"
    assert (e.location.line, e.location.column) == (7, 18)
    assert field


@pytest.mark.parametrize("template", [
    "{revenue_12m:,.0f}", "{revenue_12m:.1%}", "{revenue_12m:>12,.2f}", "{revenue_12m:e}",
    "{tier:>10}", "{contract_end:%d/%m/%Y}", "{outgrown}", "{revenue_12m}",
])
def test_usual_template_formats_are_accepted(tmp_path, template) -> None:
    text = ("version: 1\nname: x\nrules:\n  - id: r\n    when: revenue_12m > 1\n"
            f"    action: flag\n    explain: \"v {template}\"\n")
    compile_policy(text, str(tmp_path / "p.yaml"))


def test_a_fifo_is_refused_not_waited_on(tmp_path) -> None:
    """A policy must be a regular file: a FIFO would block the read forever."""
    import os
    import subprocess
    import sys
    fifo = tmp_path / "p.yaml"
    os.mkfifo(fifo)
    adieu = str(Path(sys.executable).with_name("adieu"))
    done = subprocess.run([adieu, "validate", str(fifo)], capture_output=True, text=True,
                          timeout=30, check=False)
    assert done.returncode == 2, done
    assert f"{fifo}: policy is not a regular file (a FIFO, device or socket)" in done.stdout


def test_a_long_or_strange_key_or_value_is_quoted_short_and_escaped(tmp_path) -> None:
    key = "root:x:0:0:root:/root:/bin/bash\u202e\x07" * 5
    text = f"version: 1\nname: x\nrules: []\n{json.dumps(key)}: 1\n"
    e = errors_in(text, tmp_path)[-1]
    assert e.message == f"unknown key {key[:40]!r}... ({len(key)} characters)"
    assert "\u202e" not in e.message and "\x07" not in e.message
    (e,) = errors_in("just text " * 30 + "\n", tmp_path)
    assert e.message == "top level: 'just text just text just text just text '... " \
        "(299 characters) is not a mapping"
