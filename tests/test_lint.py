"""Policy lint: warnings for what is valid but probably not meant, at
file:line:col, printed by `adieu validate` (exit 0), failing it with
--strict (exit 1), with a severity in --json; silenced by
`# adieu ignore:CODE`. None fires on the shipped and example policies."""

from __future__ import annotations

import datetime as dt
import json
import re
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from adieu.cli import cli
from adieu.errors import PolicyErrors
from adieu.expr import NUM, ExtraFunction
from adieu.lint import CODES, lint, lint_document, number_in_text
from adieu.policy import compile_policy, load_policy

REPO = Path(__file__).resolve().parent.parent
TODAY = dt.date(2026, 11, 30)
SHIPPED = [REPO / "policies" / "default.yaml", REPO / "policies" / "strict.yaml",
           REPO / "examples" / "scenario" / "scenario.yaml",
           REPO / "examples" / "plugins" / "adieu-billing" / "policy.yaml"]
# The billing example's plugin function, without installing the plugin.
FX = {"fx_to_eur": ExtraFunction("fx_to_eur", lambda amount, currency: amount, NUM, 2, 2)}

BASE = """\
version: 1
name: lint
params:
  limit: 3
rules:
  - id: late
    when: late_payments_12m >= limit
    action: strike
"""

# Expiry is judged as of the fixture runs' date, not the machine's.
AS_OF = "2026-11-02"


def warnings_in(text: str, today: dt.date = TODAY, earlier: dict | None = None) -> list[str]:
    policy = compile_policy(textwrap.dedent(text), "p.yaml")
    return [str(w) for w in lint(policy, today, earlier)]


def at(text: str, needle: str, occurrence: int = 1) -> str:
    """'p.yaml:LINE:COL' of the n-th `needle` in text."""
    text = textwrap.dedent(text)
    start = -1
    for _ in range(occurrence):
        start = text.index(needle, start + 1)
    line = text.count("\n", 0, start) + 1
    return f"p.yaml:{line}:{start - (text.rfind(chr(10), 0, start) + 1) + 1}"


# -- none on the shipped and example policies --------------------------------

@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_no_warning_on_shipped_and_example_policies(path: Path) -> None:
    assert lint(load_policy(path, FX), TODAY) == []


def test_validate_strict_passes_the_shipped_policies(runner: CliRunner) -> None:
    paths = [str(p) for p in SHIPPED[:3]]
    result = runner.invoke(cli, ["validate", "--strict", "--as-of", "2026-11-30", *paths])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert [line.split(": ")[1][:3] for line in result.stdout.splitlines()] == ["ok "] * 3


def test_the_documented_example_is_real_output(tmp_path: Path, runner: CliRunner,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    text = (REPO / "docs" / "policy-reference.md").read_text(encoding="utf-8")
    section = text.split("## Lint warnings", 1)[1]
    policy = re.search(r"```yaml policy\n(.*?)```", section, re.S)
    output = re.search(r"```text\n(.*?)```", section, re.S)
    assert policy and output
    (tmp_path / "policy.yaml").write_text(policy.group(1), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(cli, ["validate", "policy.yaml"])
    assert (result.exit_code, result.stdout, result.stderr) == \
        (0, output.group(1), "1 warning(s)\n")


def test_every_code_is_documented() -> None:
    text = (REPO / "docs" / "policy-reference.md").read_text(encoding="utf-8")
    section = text.split("## Lint warnings", 1)[1].split("\n## ", 1)[0]
    assert re.findall(r"^### `([a-z-]+)`$", section, re.M) == list(CODES)


# -- unused-param ---------------------------------------------------------------

def test_unused_param_at_its_key() -> None:
    text = BASE.replace("  limit: 3\n", "  limit: 3\n  spare_limit: 5\n")
    assert warnings_in(text) == [
        f"{at(text, 'spare_limit')}: warning: param 'spare_limit' is used by no expression "
        "and no explanation template; use it or remove it [unused-param]"]


@pytest.mark.parametrize("use", [
    "derive:\n  doubled: spare * 2\n",
    "exemptions:\n  - id: e\n    when: revenue_12m > spare\n    reason: r\n    approver: a\n"
    "    expires: '2030-01-01'\n",
    "holds:\n  - id: h\n    when: open_our_fault_incidents > spare\n    reason: r\n",
    "timing:\n  referrals:\n    - when: revenue_12m > spare\n      vendors: [V]\n",
    "derive:\n  p: percentile(revenue_12m, spare)\n",
    "derive:\n  s: share(revenue_12m > spare)\n",
])
def test_a_param_used_by_any_expression_is_used(use: str) -> None:
    text = BASE.replace("  limit: 3\n", "  limit: 3\n  spare: 5\n") + use
    assert warnings_in(text) == []


def test_a_param_used_only_by_an_explanation_is_used() -> None:
    text = BASE.replace("  limit: 3\n", "  limit: 3\n  team: Finance\n") + \
        "    explain: \"{late_payments_12m} late payments; ask {team}\"\n"
    assert warnings_in(text) == []


# -- percentile-fraction --------------------------------------------------------

def test_percentile_fraction_literal_at_the_number() -> None:
    text = BASE + "derive:\n  p90: percentile(revenue_12m, 0.9)\n"
    assert warnings_in(text) == [
        f"{at(text, '0.9')}: warning: percentile(revenue_12m, 0.9) asks for the 0.9th "
        "percentile; p runs from 0 to 100: did you mean 90 for 0.9? [percentile-fraction]"]


def test_percentile_fraction_in_a_condition_at_the_number() -> None:
    text = BASE.replace("when: late_payments_12m >= limit",
                        "when: late_payments_12m >= percentile(late_payments_12m, 0.75)")
    # limit is now unused, which is its own finding
    assert warnings_in(text)[-1] == (
        f"{at(text, '0.75')}: warning: percentile(late_payments_12m, 0.75) asks for the "
        "0.75th percentile; p runs from 0 to 100: did you mean 75 for 0.75? "
        "[percentile-fraction]")


def test_percentile_fraction_in_a_folded_condition_at_its_line() -> None:
    text = BASE.replace("when: late_payments_12m >= limit",
                        "when: >-\n      late_payments_12m >= limit\n"
                        "      and revenue_12m > percentile(revenue_12m, 0.9)")
    assert warnings_in(text) == [
        f"{at(text, '0.9')}: warning: percentile(revenue_12m, 0.9) asks for the 0.9th "
        "percentile; p runs from 0 to 100: did you mean 90 for 0.9? [percentile-fraction]"]
    assert at(text, "0.9") == "p.yaml:9:49"


def test_percentile_fraction_param_at_the_param_once() -> None:
    text = BASE.replace("  limit: 3\n", "  limit: 3\n  pct: 0.95\n") + \
        "derive:\n  a: percentile(revenue_12m, pct)\n  b: percentile(orders_12m, pct)\n"
    assert warnings_in(text) == [
        f"{at(text, '0.95')}: warning: param 'pct': percentile(revenue_12m, pct) asks for the "
        "0.95th percentile; p runs from 0 to 100: did you mean 95 for 0.95? "
        "[percentile-fraction]"]


@pytest.mark.parametrize("p", ["0", "1", "50", "99.5", "100"])
def test_a_percentile_from_1_to_100_is_fine(p: str) -> None:
    assert warnings_in(BASE + f"derive:\n  x: percentile(revenue_12m, {p})\n") == []


def test_a_percentile_out_of_range_stays_an_error() -> None:
    text = BASE + "derive:\n  x: percentile(revenue_12m, 120)\n"
    with pytest.raises(PolicyErrors) as info:
        compile_policy(text, "p.yaml")
    assert [str(e) for e in info.value.errors] == [
        f"{at(text, '120')}: the percentile must be a number from 0 to 100"]


# -- param-text-number ----------------------------------------------------------

@pytest.mark.parametrize("value, number, percent", [
    ("15%", "15", True), ("15 %", "15", True), ("12,5%", "12.5", True),
    ("-5 percent", "-5", True), ("1,000", "1000", False), ("1,000,000.50", "1000000.50", False),
    ("1 000", "1000", False), ("1'000", "1000", False), ("$500", "500", False),
    ("€ 1,200", "1200", False), ("500 EUR", "500", False), ("USD 2,500", "2500", False),
    ("30 days", "30", False), ("40h", "40", False), ("1.5x", "1.5", False),
    ("10k", "10000", False), ("2.5M", "2500000", False), ("0,15", "0.15", False),
])
def test_number_in_text(value: str, number: str, percent: bool) -> None:
    from decimal import Decimal
    assert number_in_text(value) == (Decimal(number), percent)


@pytest.mark.parametrize("value", ["DE", "gold", "0042", "90", "0.15", "2026-12-31", "v2",
                                   "R&D", "15% off", "Q3", "1.000.000,5"])
def test_text_that_is_not_a_number_with_a_unit(value: str) -> None:
    assert number_in_text(value) is None


@pytest.mark.parametrize("value, write", [
    ('"15%"', "0.15 (15% as a fraction)"),
    ("15 %", "0.15 (15 % as a fraction)"),
    ('"1,000"', "1000 (a number takes no unit, currency or thousands separator)"),
    ('"$500"', "500 (a number takes no unit, currency or thousands separator)"),
])
def test_param_text_number_at_the_param(value: str, write: str) -> None:
    text = BASE.replace("  limit: 3\n", f"  limit: 3\n  max_share: {value}\n") + \
        "    explain: \"limit {max_share}\"\n"
    raw = value.strip('"')
    assert warnings_in(text) == [
        f"{at(text, value)}: warning: param 'max_share' is the text {raw!r}, not a number: "
        f"write max_share: {write} [param-text-number]"]


def test_a_percent_param_used_as_a_percentile_suggests_the_percentile() -> None:
    text = BASE.replace("  limit: 3\n", "  limit: 3\n  p: 90%\n") + \
        "derive:\n  top: percentile(revenue_12m, p)\n"
    with pytest.raises(PolicyErrors) as info:
        compile_policy(text, "p.yaml")
    (doc, positions, source) = info.value.document
    assert [str(w) for w in lint_document(doc, positions, source)] == [
        f"{at(text, '90%')}: warning: param 'p' is the text '90%', not a number: write p: 90 "
        "(percentile() takes 0 to 100) [param-text-number]"]


def test_param_text_number_explains_the_error_it_causes(tmp_path: Path,
                                                       runner: CliRunner) -> None:
    text = BASE.replace("  limit: 3\n", "  limit: 3\n  max_rate: 15%\n") + \
        "  - id: returns\n    when: returns_12m / orders_12m > max_rate\n    action: flag\n"
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    result = runner.invoke(cli, ["validate", str(path)])
    assert result.exit_code == 1
    assert result.stdout == (
        f"{path}:5:13: warning: param 'max_rate' is the text '15%', not a number: write "
        "max_rate: 0.15 (15% as a fraction) [param-text-number]\n"
        "      max_rate: 15%\n"
        "                ^\n"
        f"{path}:11:38: cannot compare a number with a string using '>'\n"
        "        when: returns_12m / orders_12m > max_rate\n"
        f"    {' ' * 37}^\n")
    assert result.stderr == "1 error(s), 1 warning(s)\n"


# -- expired-exemption ----------------------------------------------------------

EXEMPT = BASE + """\
exemptions:
  - id: pilot
    customers: [C-1]
    reason: Pilot
    approver: Head of Product
    expires: "2026-09-30"
"""


def test_expired_exemption_at_its_expires() -> None:
    where = at(EXEMPT, '"2026-09-30"')  # the quoted value
    assert warnings_in(EXEMPT, dt.date(2026, 9, 30)) == [
        f"{where}: warning: exemption 'pilot' expired on 2026-09-30: it no "
        "longer applies as of 2026-09-30; renew it with a new expires date and approver, or "
        "remove it [expired-exemption]"]


def test_exemption_still_running_is_fine() -> None:
    assert warnings_in(EXEMPT, dt.date(2026, 9, 29)) == []


def test_validate_checks_expiry_as_of_today_or_as_of(tmp_path: Path,
                                                    runner: CliRunner) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(EXEMPT, encoding="utf-8")
    before = runner.invoke(cli, ["validate", "--as-of", "2026-09-01", str(path)])
    assert (before.exit_code, before.stderr) == (0, "")
    today = runner.invoke(cli, ["validate", str(path)])  # the real date is after 2026-09-30
    assert dt.date.today() > dt.date(2026, 9, 30)
    assert today.exit_code == 0
    assert "[expired-exemption]" in today.stdout
    assert today.stderr == "1 warning(s)\n"


# -- constant-condition ---------------------------------------------------------

@pytest.mark.parametrize("when, truth, effect", [
    ("true", "true", "the rule fires for every customer"),
    ("false", "false", "the rule never fires"),
    ("limit > 5", "false", "the rule never fires"),
    ("round(limit / 2) >= 1 and date('2026-01-01') < date('2027-01-01')", "true",
     "the rule fires for every customer"),
])
def test_constant_rule_condition(when: str, truth: str, effect: str) -> None:
    quoted = f'"{when}"'
    text = BASE + f"  - id: odd\n    when: {quoted}\n    action: flag\n"
    assert warnings_in(text) == [
        f"{at(text, quoted)}: warning: rule 'odd': the condition is always {truth} (it names no "
        f"fact), so {effect}; compare a fact or derived fact, or remove it "
        "[constant-condition]"]


def test_constant_through_a_derived_fact_exemption_and_hold() -> None:
    text = BASE + textwrap.dedent("""\
        derive:
          twice: limit * 2
        exemptions:
          - id: everyone
            when: twice > 1
            reason: r
            approver: a
            expires: "2030-01-01"
        holds:
          - id: nobody
            when: twice < 0
            reason: r
        """)
    assert warnings_in(text) == [
        f"{at(text, 'twice > 1')}: warning: exemption 'everyone': the condition is always true "
        "(it names no fact), so the exemption shields every customer; compare a fact or "
        "derived fact, or remove it [constant-condition]",
        f"{at(text, 'twice < 0')}: warning: hold 'nobody': the condition is always false (it "
        "names no fact), so the hold never applies; compare a fact or derived fact, or remove "
        "it [constant-condition]"]


@pytest.mark.parametrize("when", [
    "outgrown",
    "share(late_payments_12m > 3) > 0.5",          # the whole base: changes from run to run
    "days_since(date('2026-01-01')) > 30",          # changes with the as-of date
    "revenue_12m > percentile(revenue_12m, 90)",
])
def test_conditions_that_can_differ_are_fine(when: str) -> None:
    assert warnings_in(BASE + f"  - id: x\n    when: \"{when}\"\n    action: flag\n") == []


# -- version-unchanged ----------------------------------------------------------

def test_version_unchanged_against_the_runs_in_the_database(
        evaluated: Path, policy_file: Path, runner: CliRunner,
        monkeypatch: pytest.MonkeyPatch) -> None:
    same = runner.invoke(cli, ["validate", "--as-of", AS_OF,
                              "--db", str(evaluated), str(policy_file)])
    assert (same.exit_code, same.stderr) == (0, "")
    text = policy_file.read_text(encoding="utf-8")
    policy_file.write_text(text.replace("late_limit: 3", "late_limit: 4"), encoding="utf-8")
    changed = runner.invoke(cli, ["validate", "--as-of", AS_OF,
                                 "--db", str(evaluated), str(policy_file)])
    assert changed.exit_code == 0
    assert changed.stdout.splitlines()[:3] == [
        f"{policy_file}:1:10: warning: version '3' of policy 'tiny' was stored by run 1 (as of "
        "2026-11-02) with a different text; change version: whenever the policy changes, so "
        "each version names one text [version-unchanged]",
        "    version: 3", "             ^"]
    strict = runner.invoke(cli, ["validate", "--as-of", AS_OF, "--strict", "--db", str(evaluated),
                                 str(policy_file)])
    assert strict.exit_code == 1
    # ADIEU_DB stands in for --db when that file exists ...
    monkeypatch.setenv("ADIEU_DB", str(evaluated))
    env = runner.invoke(cli, ["validate", "--as-of", AS_OF, str(policy_file)])
    assert "[version-unchanged]" in env.stdout
    # ... and a new version is fine
    policy_file.write_text(text.replace("version: 3", "version: 4"), encoding="utf-8")
    bumped = runner.invoke(cli, ["validate", "--as-of", AS_OF, str(policy_file)])
    assert (bumped.exit_code, bumped.stderr) == (0, "")


def test_version_check_needs_a_database(tmp_path: Path, policy_file: Path,
                                        runner: CliRunner,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "none.db"
    monkeypatch.setenv("ADIEU_DB", str(missing))
    quiet = runner.invoke(cli, ["validate", "--as-of", AS_OF, str(policy_file)])
    assert (quiet.exit_code, quiet.stderr) == (0, "")
    assert not missing.exists()  # validate never creates a database
    explicit = runner.invoke(cli, ["validate", "--as-of", AS_OF,
                                  "--db", str(missing), str(policy_file)])
    assert explicit.exit_code == 2
    assert explicit.stderr == f"Error: {missing}: no database at {missing}\n"
    junk = tmp_path / "junk.db"
    junk.write_text("not a database", encoding="utf-8")
    bad = runner.invoke(cli, ["validate", "--as-of", AS_OF, "--db", str(junk), str(policy_file)])
    assert bad.exit_code == 2
    assert bad.stderr == (f"Error: {junk}: cannot read runs from the database: file is not a "
                          "database\n")


def test_lint_names_the_earlier_run() -> None:
    assert warnings_in(BASE, earlier={"id": 7, "as_of": "2026-10-01"}) == [
        "p.yaml:1:10: warning: version '1' of policy 'lint' was stored by run 7 (as of "
        "2026-10-01) with a different text; change version: whenever the policy changes, so "
        "each version names one text [version-unchanged]"]


# -- ignore directives ----------------------------------------------------------

def test_ignore_on_the_line_or_the_line_above() -> None:
    text = EXEMPT.replace('expires: "2026-09-30"',
                          'expires: "2026-09-30"  # adieu ignore:expired-exemption')
    assert warnings_in(text) == []
    text = BASE.replace("  limit: 3\n", "  limit: 3\n  # adieu ignore:unused-param\n  spare: 1\n")
    assert warnings_in(text) == []
    text = BASE.replace("  limit: 3\n",
                        "  limit: 3\n  spare: 1  # adieu ignore:expired-exemption, unused-param\n")
    assert warnings_in(text) == []


def test_ignore_silences_only_its_code_and_its_line() -> None:
    text = BASE.replace("  limit: 3\n",
                        "  limit: 3\n  spare: 1  # adieu ignore:expired-exemption\n  other: 2\n")
    assert [w.split(": warning: ")[1] for w in warnings_in(text)] == [
        "param 'spare' is used by no expression and no explanation template; use it or remove "
        "it [unused-param]",
        "param 'other' is used by no expression and no explanation template; use it or remove "
        "it [unused-param]"]


# -- the command ----------------------------------------------------------------

UNUSED = BASE.replace("  limit: 3\n", "  limit: 3\n  spare: 1\n")


def test_validate_prints_warnings_and_exits_0(tmp_path: Path, runner: CliRunner) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(UNUSED, encoding="utf-8")
    result = runner.invoke(cli, ["validate", str(path)])
    assert result.exit_code == 0
    assert result.stdout == (
        f"{path}:5:3: warning: param 'spare' is used by no expression and no explanation "
        "template; use it or remove it [unused-param]\n"
        "      spare: 1\n"
        "      ^\n"
        f"{path}: ok (1 rules, 0 derived facts, 0 exemptions, 0 holds), 1 warning(s)\n")
    assert result.stderr == "1 warning(s)\n"


def test_validate_strict_fails_on_warnings(tmp_path: Path, runner: CliRunner) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(UNUSED, encoding="utf-8")
    result = runner.invoke(cli, ["validate", "--strict", str(path)])
    assert result.exit_code == 1
    assert f"{path}: ok" not in result.stdout
    assert result.stdout.startswith(f"{path}:5:3: warning: param 'spare'")
    assert result.stderr == "1 warning(s)\n"


def test_validate_json_has_severity_and_code(tmp_path: Path, runner: CliRunner) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(UNUSED.replace("late_payments_12m >= limit", "late_payments_12m >= limt"),
                    encoding="utf-8")
    result = runner.invoke(cli, ["validate", "--json", str(path)])
    assert result.exit_code == 1
    assert json.loads(result.stdout) == [{
        "file": str(path), "line": 8, "column": 32, "severity": "error", "code": None,
        "message": "unknown name 'limt' (not a fact, param or derived fact) (did you mean "
                   "'limit'?)"}]
    path.write_text(UNUSED, encoding="utf-8")
    for args, code in ((["--json"], 0), (["--json", "--strict"], 1)):
        result = runner.invoke(cli, ["validate", *args, str(path)])
        assert result.exit_code == code
        assert json.loads(result.stdout) == [{
            "file": str(path), "line": 5, "column": 3, "severity": "warning",
            "code": "unused-param",
            "message": "param 'spare' is used by no expression and no explanation template; "
                       "use it or remove it"}]


def test_evaluate_does_not_fail_on_warnings(tmp_path: Path, runner: CliRunner,
                                            customers_csv: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(UNUSED, encoding="utf-8")
    result = runner.invoke(cli, ["evaluate", str(path), "--source", f"csv:{customers_csv}",
                                 "--as-of", "2026-11-02", "--db", str(tmp_path / "a.db")])
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output


# -- no-referrals --------------------------------------------------------------

NO_REFERRAL = ("warning: timing names no referrals, so no offboarding brief refers the "
               "customer to another vendor; add timing.referrals (or set max_referrals: 0 "
               "to refer nobody) [no-referrals]")


def test_a_policy_that_plans_offboardings_without_referrals_is_warned() -> None:
    text = BASE + "timing:\n  notice_days: 30\n"
    assert warnings_in(text) == [f"{at(text, 'timing:')}: {NO_REFERRAL}"]
    offboard_rule = text.replace("action: strike", "action: offboard")
    assert warnings_in(offboard_rule) == [f"{at(text, 'timing:')}: {NO_REFERRAL}"]


@pytest.mark.parametrize("timing", [
    "",                                                   # no timing: all defaults
    "timing:\n  max_referrals: 0\n",                       # refers nobody, on purpose
    "timing:\n  referrals:\n    - vendors: [BigCo]\n",    # refers
])
def test_no_referrals_is_not_reported_when_the_policy_says_so(timing: str) -> None:
    assert warnings_in(BASE + timing) == []


def test_no_referrals_needs_a_rule_that_can_offboard() -> None:
    assert warnings_in(BASE.replace("action: strike", "action: flag")
                       + "timing:\n  notice_days: 30\n") == []
