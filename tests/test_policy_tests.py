"""adieu test: policy test files, failures, coverage, hostile files, the
shipped policies' tests, the pytest plugin and the pre-commit hooks."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from conftest import POLICY, REPO

from adieu.cli import cli

ADIEU = str(Path(sys.executable).parent / "adieu")


def adieu(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The installed console script, as a user runs it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADIEU_")}
    env["COLUMNS"] = "100"
    return subprocess.run([ADIEU, *args], cwd=cwd, capture_output=True, text=True, env=env,
                          timeout=300)


def line_of(text: str, needle: str) -> int:
    """1-based line of the first line containing needle."""
    for i, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return i
    raise AssertionError(f"{needle!r} not found")


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    """A directory with the tiny policy of conftest as tiny.yaml."""
    (tmp_path / "tiny.yaml").write_text(POLICY, encoding="utf-8")
    return tmp_path


HEALTHY = ("{customer_id: C-1, tier: standard, revenue_12m: 10000, hours_support_12m: 10, "
           "late_payments_12m: 0, escalations_12m: 0, abuse_incidents_12m: 0, "
           "outgrown: false, open_our_fault_incidents: 0, contract_end: \"2028-01-01\"}")


HEAD = 'policy: tiny.yaml\nas_of: "2026-11-02"\ncases:\n'


def write(directory: Path, text: str, name: str = "t.test.yaml") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def invoke(directory: Path, *args: str):
    cwd = os.getcwd()
    os.chdir(directory)
    try:
        return CliRunner().invoke(cli, ["test", *args], catch_exceptions=False)
    finally:
        os.chdir(cwd)


# -- the shipped policies' tests ------------------------------------------------

def test_shipped_policy_tests_pass_at_full_coverage():
    result = adieu("test", "--coverage-min", "100", cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert re.search(r"^coverage of policies/default\.yaml: 100\.0% \((\d+)/\1: rules 13/13, "
                     r"exemptions 2/2, holds 2/2, timing 8/8\)$", out, re.M), out
    assert re.search(r"^coverage of policies/strict\.yaml: 100\.0% \((\d+)/\1: rules 9/9, "
                     r"holds 1/1, timing 5/5\)$", out, re.M), out
    assert re.search(r"^2 file\(s\), (\d+) case\(s\): \1 passed, 0 failed$", out, re.M), out
    assert "not covered" not in out


def test_json_gives_cases_and_coverage_items_at_their_policy_lines():
    result = adieu("test", "policies/default.test.yaml", "--json", cwd=REPO)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["ok"] is True and data["failed"] == 0 and data["passed"] == len(data["cases"])
    [cov] = data["coverage"]
    assert cov["percent"] == 100 and cov["rules_percent"] == 100
    policy_text = (REPO / "policies" / "default.yaml").read_text(encoding="utf-8")
    rules = [i for i in cov["items"] if i["kind"] == "rule"]
    assert len(rules) == 13
    for item in rules:
        assert item["line"] == line_of(policy_text, f"- id: {item['name']}")
    case = next(c for c in data["cases"] if c["name"].startswith("a loss beyond"))
    assert case["figures"]["negative-margin"] == {"margin": -16950, "max_loss": 10000}
    assert case["line"] == line_of((REPO / "policies" / "default.test.yaml").read_text(),
                                   "name: a loss beyond")


# -- failures and coverage ------------------------------------------------------------

def test_a_failure_shows_expected_against_actual_and_the_figures(tiny: Path):
    late = HEALTHY.replace("late_payments_12m: 0", "late_payments_12m: 5")
    write(tiny, HEAD + "  - name: a late payer is kept\n    facts: " + late +
          "\n    expect: {outcome: keep}\n  - name: kept\n    facts: " + HEALTHY +
          "\n    expect: {outcome: keep}\n")
    result = adieu("test", "t.test.yaml", cwd=tiny)
    assert result.returncode == 1, result.stderr
    assert result.stdout.startswith(
        "FAIL t.test.yaml:4: a late payer is kept\n"
        "  outcome: expected keep, got warn\n"
        "  figures:\n"
        "    late: late_limit=3, late_payments_12m=5\n")
    assert result.stdout.endswith("1 file(s), 2 case(s): 1 passed, 1 failed\n")


def test_a_rule_expected_to_fire_that_passed_shows_its_figures(tiny: Path):
    """The figures that matter most are of the rule the case expected: here
    the late rule passed (2 late payments against a limit of 3)."""
    late = HEALTHY.replace("late_payments_12m: 0", "late_payments_12m: 2")
    write(tiny, HEAD + "  - name: two late payments are a strike\n    facts: " + late +
          "\n    expect: {fired: [late]}\n")
    result = adieu("test", "t.test.yaml", "--json", cwd=tiny)
    assert result.returncode == 1, result.stderr
    [case] = json.loads(result.stdout)["cases"]
    assert case["figures"] == {"late": {"late_limit": 3, "late_payments_12m": 2}}
    text = adieu("test", "t.test.yaml", cwd=tiny).stdout
    assert text.startswith(
        "FAIL t.test.yaml:4: two late payments are a strike\n"
        "  fired: expected [late], got []\n"
        "  figures:\n"
        "    late: late_limit=3, late_payments_12m=2\n")


def test_list_fields_compare_as_sets_and_name_both_sides(tiny: Path):
    write(tiny, f"""\
        policy: tiny.yaml
        as_of: "2026-11-02"
        cases:
          - name: two strikes
            facts: {HEALTHY.replace("late_payments_12m: 0", "late_payments_12m: 4")
                    .replace("escalations_12m: 0", "escalations_12m: 5")}
            expect: {{fired: [escalations, late], new_strikes: [late], strikes: 2}}
        """)
    result = adieu("test", "t.test.yaml", cwd=tiny)
    assert result.returncode == 1
    assert "  new_strikes: expected [late], got [escalations, late]\n" in result.stdout
    assert "fired:" not in result.stdout.split("figures:")[0]  # same set, other order
    assert "\n  strikes: expected" not in result.stdout


def test_coverage_names_what_no_case_exercised_with_its_line(tiny: Path):
    write(tiny, f"""\
        policy: tiny.yaml
        as_of: "2026-11-02"
        cases:
          - name: late
            facts: {HEALTHY.replace("late_payments_12m: 0", "late_payments_12m: 5")}
            expect: {{outcome: warn}}
        """)
    result = adieu("test", "t.test.yaml", cwd=tiny)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    # 13 items: 5 rules, 1 exemption, 1 hold, 6 timing branches (contract end,
    # notice, weekdays, phase-out, phase-out cut short, 2 referrals = 7): 14
    assert "coverage of tiny.yaml: 7.1% (1/14: rules 1/5, exemptions 0/1, holds 0/1, " \
           "timing 0/7)\n" in out
    assert f"  not covered: rule cost-high (tiny.yaml:{line_of(POLICY, '- id: cost-high')})\n" \
        in out
    assert f"  not covered: hold our-fault (tiny.yaml:{line_of(POLICY, '- id: our-fault')})\n" \
        in out
    assert f"  not covered: timing notice-period (tiny.yaml:{line_of(POLICY, 'notice_days')})" \
        in out
    assert "not covered: rule late " not in out
    low = adieu("test", "t.test.yaml", "--coverage-min", "7.2", cwd=tiny)
    assert low.returncode == 1 and "  below --coverage-min 7.2%\n" in low.stdout
    assert adieu("test", "t.test.yaml", "--coverage-min", "7.1", cwd=tiny).returncode == 0


def test_timing_branches_are_covered_by_the_dates_they_give(tmp_path: Path):
    policy = POLICY.replace("  weekdays_only: true\n",
                            "  weekdays_only: true\n  avoid:\n"
                            "    - {from: \"12-20\", to: \"01-03\"}\n")
    assert "avoid:" in policy
    (tmp_path / "p.yaml").write_text(policy, encoding="utf-8")
    abuse = HEALTHY.replace("abuse_incidents_12m: 0", "abuse_incidents_12m: 1")
    write(tmp_path, f"""\
        policy: p.yaml
        cases:
          - name: notice ends in the avoided period
            as_of: "2026-11-02"
            facts: {abuse}
            expect:
              effective_date: "2027-01-04"
              timing_basis: >-
                60-day notice period ends 2027-01-01, moved past an avoided
                period (12-20 to 01-03) to 2027-01-04
              phase_out_start: "2026-12-21"
        """)
    result = adieu("test", "t.test.yaml", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    items = {i["name"]: i["covered"] for i in json.loads(result.stdout)["coverage"][0]["items"]
             if i["kind"] == "timing"}
    assert items == {"contract-end": False, "notice-period": True,
                     "avoid 12-20 to 01-03": True, "weekdays-only": False,
                     "phase-out": True, "phase-out-cut-short": False,
                     "referral 1": False, "referral 2": True}


def test_coverage_min_must_be_a_percentage(tiny: Path):
    for bad in ("abc", "150", "-1", "nan"):
        result = invoke(tiny, "--coverage-min", bad)
        assert result.exit_code == 2, bad
        assert "is not a percentage from 0 to 100" in result.output


# -- the case's world: population, sources, memory --------------------------------------

def test_population_is_the_base_percentile_sees(tmp_path: Path):
    """Without a population the case's customer is the whole base, so a
    percentile comparison with itself never fires."""
    shutil.copy(REPO / "policies" / "default.yaml", tmp_path)
    source = (REPO / "policies" / "default.test.yaml").read_text(encoding="utf-8")
    doc = yaml.safe_load(source)
    case = next(c for c in doc["cases"] if c["name"].startswith("staff time far above"))
    doc["cases"] = [case]
    (tmp_path / "with.test.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    del doc["population"]
    (tmp_path / "alone.test.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    assert adieu("test", "with.test.yaml", cwd=tmp_path).returncode == 0
    alone = adieu("test", "alone.test.yaml", cwd=tmp_path)
    assert alone.returncode == 1
    assert "  outcome: expected warn, got keep\n" in alone.stdout


def test_cases_decide_as_evaluate_does(tmp_path: Path, policy_file: Path, customers_csv: Path,
                                      good_csv: Path):
    """Every customer of a CSV, as a case with facts_from (the CSV's bad row
    is another customer's: no matter) over the population evaluate decides
    among (the CSV's accepted rows: good.csv), gets the decision `adieu
    evaluate` gives it."""
    run = adieu("evaluate", str(policy_file), "--source", f"csv:{customers_csv}",
                "--as-of", "2026-11-02", "--dry-run", "--json", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    decisions = json.loads(run.stdout)["decisions"]
    assert len(decisions) == 9
    cases = [{"name": d["customer_id"],
              "facts_from": {"source": "csv:customers.csv", "customer": d["customer_id"]},
              "expect": {"outcome": d["outcome"], "base_outcome": d["base_outcome"],
                         "fired": [r["rule"] for r in d["fired"]],
                         "shielded": [r["rule"] for r in d["shielded"]],
                         "holds": [h["id"] for h in d["holds"]],
                         "strikes": d["strikes"], "effective_date": d["effective_date"],
                         "referrals": d["referrals"]}} for d in decisions]
    doc = {"policy": "tiny.yaml", "as_of": "2026-11-02", "population": "csv:good.csv",
           "cases": cases}
    (tmp_path / "all.test.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    result = adieu("test", "all.test.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "9 case(s): 9 passed, 0 failed" in result.stdout
    assert {d["outcome"] for d in decisions} >= {"keep", "warn", "offboard", "exempt", "held"}


def test_facts_from_a_rejected_row_is_an_error(tmp_path: Path, policy_file: Path,
                                               customers_csv: Path):
    write(tmp_path, """\
        policy: tiny.yaml
        as_of: "2026-11-02"
        cases:
          - name: bad row
            facts_from: {source: "csv:customers.csv", customer: C-BAD}
            expect: {outcome: keep}
        """)
    result = invoke(tmp_path, "t.test.yaml")
    assert result.exit_code == 2
    assert result.output.startswith(
        "Error: t.test.yaml:5:26: customer 'C-BAD': the source rejects its record: ")
    assert "field 'revenue_12m'" in result.output


def test_memory_strikes_exemptions_and_cases(tiny: Path):
    late = HEALTHY.replace("late_payments_12m: 0", "late_payments_12m: 5")
    abuse = HEALTHY.replace("abuse_incidents_12m: 0", "abuse_incidents_12m: 1")
    write(tiny, f"""\
        policy: tiny.yaml
        as_of: "2026-11-02"
        cases:
          - name: two earlier strikes and a new one offboard
            facts: {late}
            strikes:
              - {{rule: escalations, recorded_on: "2026-06-01"}}
              - {{rule: cost-high, recorded_on: "2026-07-01"}}
            expect: {{outcome: offboard, strikes: 3, new_strikes: [late]}}
          - name: a registry exemption for all rules
            facts: {late}
            exemptions:
              - {{id: ex-9, reason: agreed, approver: CFO, expires: "2027-01-01"}}
            expect: {{outcome: exempt, shielded: [late], exemptions: [ex-9]}}
          - name: an expired registry exemption does nothing
            facts: {late}
            exemptions:
              - {{id: ex-9, reason: agreed, approver: CFO, expires: "2026-11-02"}}
            expect: {{outcome: warn, exemptions: []}}
          - name: a rejected case holds an offboarding
            facts: {abuse}
            case: {{state: rejected, fired: [abuse], reviewer: Kim, reviewed_on: "2026-10-10",
                    opened_as_of: "2026-10-01"}}
            expect: {{outcome: held, holds: [review-rejected]}}
          - name: a proposed case keeps its later date
            facts: {abuse}
            case: {{state: proposed, effective_date: "2027-01-05", opened_as_of: "2026-10-01"}}
            expect: {{outcome: offboard, effective_date: "2027-01-05"}}
        """)
    result = adieu("test", "t.test.yaml", cwd=tiny)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 case(s): 5 passed, 0 failed" in result.stdout


# -- hostile test files ----------------------------------------------------------------

HOSTILE = [
    ("bad-yaml", "policy: [tiny.yaml\n", "t.test.yaml:2:1: invalid YAML: "),
    ("not-a-mapping", "- a\n- b\n", "t.test.yaml:1:1: a test file is a mapping with `policy:` "
     "and `cases:` (docs/policy-tests.md)"),
    ("empty", "", "t.test.yaml:1:1: a test file is a mapping"),
    ("no-cases", "policy: tiny.yaml\n", "t.test.yaml:1:1: top level: 'cases' is required"),
    ("unknown-key", HEAD + "  - name: a\n    expct: {outcome: keep}\n",
     "t.test.yaml:5:5: unknown key 'expct' (did you mean 'expect'?)"),
    ("unknown-rule-in-expect", HEAD + "  - name: a\n    expect: {fired: [lates]}\n",
     "t.test.yaml:5:22: unknown rule 'lates' (did you mean 'late'?) (not in policy tiny)"),
    ("unknown-rule-in-strikes",
     HEAD + "  - name: a\n    strikes: [{rule: nope, recorded_on: \"2026-01-01\"}]\n"
     "    expect: {outcome: keep}\n", "t.test.yaml:5:22: unknown rule 'nope' (not in policy tiny)"),
    ("unknown-fact", HEAD + "  - name: a\n    facts: {revenue: 5}\n    expect: {outcome: keep}\n",
     "t.test.yaml:5:13: unknown fact 'revenue' (did you mean 'revenue_12m'?)"),
    ("unknown-fact-in-missing", HEAD + "  - name: a\n    expect: {missing: [revenue]}\n",
     "t.test.yaml:5:24: unknown fact 'revenue'"),
    ("text-for-a-number", HEAD + "  - name: a\n    facts: {revenue_12m: 12k}\n"
     "    expect: {outcome: keep}\n", "t.test.yaml:5:26: fact 'revenue_12m': expected a number"),
    ("fraction-for-a-count", HEAD + "  - name: a\n    facts: {late_payments_12m: 2.5}\n"
     "    expect: {outcome: keep}\n",
     "t.test.yaml:5:32: fact 'late_payments_12m': expected a whole number, got '2.5'"),
    ("maybe-for-a-boolean", HEAD + "  - name: a\n    facts: {outgrown: maybe}\n"
     "    expect: {outcome: keep}\n", "t.test.yaml:5:23: fact 'outgrown': expected true or false"),
    ("negative-hours", HEAD + "  - name: a\n    facts: {hours_support_12m: -3}\n"
     "    expect: {outcome: keep}\n",
     "t.test.yaml:5:32: fact 'hours_support_12m': must be at least 0"),
    ("list-for-a-fact", HEAD + "  - name: a\n    facts: {revenue_12m: [1]}\n"
     "    expect: {outcome: keep}\n", "t.test.yaml:5:26: case 'a', facts/revenue_12m: "),
    ("outcome-not-known", HEAD + "  - name: a\n    expect: {outcome: kept}\n",
     "t.test.yaml:5:23: case 'a', expect/outcome: 'kept' is not one of 'keep', "),
    ("strikes-not-a-number", HEAD + "  - name: a\n    expect: {strikes: two}\n",
     "t.test.yaml:5:23: case 'a', expect/strikes: 'two' is not a whole number"),
    ("missing-policy", 'policy: nothere.yaml\ncases:\n  - name: a\n    expect: {outcome: keep}\n',
     "t.test.yaml:1:9: policy file not found: nothere.yaml (relative to the test file; "
     "shipped policies: default, strict)"),
    ("duplicate-case-names", HEAD + "  - name: a\n    expect: {outcome: keep}\n"
     "  - name: a\n    expect: {outcome: keep}\n",
     "t.test.yaml:6:11: case name 'a' is used twice (first on line 4)"),
    ("duplicate-key", HEAD + "  - name: a\n    name: b\n    expect: {outcome: keep}\n",
     "t.test.yaml:5:5: duplicate key 'name'"),
    ("not-a-date", HEAD + "  - name: a\n    as_of: \"2026-02-30\"\n    expect: {outcome: keep}\n",
     "t.test.yaml:5:12: '2026-02-30' is not a date (expected YYYY-MM-DD)"),
    ("date-in-other-form",
     HEAD + "  - name: a\n    as_of: 02/11/2026\n    expect: {outcome: keep}\n",
     "t.test.yaml:5:12: case 'a', as_of: '02/11/2026' is not a date (expected YYYY-MM-DD)"),
    ("strike-after-as-of", HEAD + "  - name: a\n    strikes: [{rule: late, recorded_on: "
     "\"2026-12-01\"}]\n    expect: {outcome: keep}\n",
     "t.test.yaml:5:41: strike recorded on 2026-12-01, after the case's as-of date 2026-11-02"),
    ("case-reviewed-after-as-of", HEAD + "  - name: a\n    case: {state: approved, reviewer: r, "
     "effective_date: \"2027-01-01\", reviewed_on: \"2030-01-01\"}\n    expect: {outcome: keep}\n",
     "t.test.yaml:5:85: case reviewed on 2030-01-01, after the case's as-of date 2026-11-02"),
    ("case-opened-after-as-of", HEAD + "  - name: a\n    case: {state: proposed, "
     "effective_date: \"2027-01-01\", opened_as_of: \"2026-12-01\"}\n    expect: {outcome: keep}\n",
     "t.test.yaml:5:73: case opened as of 2026-12-01, after the case's as-of date 2026-11-02"),
    ("case-review-run-after-as-of", HEAD + "  - name: a\n    as_of: \"2026-10-01\"\n    case: "
     "{state: rejected, reviewer: r, review_as_of: \"2026-11-01\"}\n    expect: {outcome: keep}\n",
     "t.test.yaml:6:56: case reviewed in the run as of 2026-11-01, after the case's as-of date "
     "2026-10-01"),
    ("unknown-fixture", HEAD + "  - name: a\n    base: healthy\n    expect: {outcome: keep}\n",
     "t.test.yaml:5:11: no fixture 'healthy' under `fixtures:`"),
    ("unknown-hold", HEAD + "  - name: a\n    expect: {holds: [our-fault-frist]}\n",
     "t.test.yaml:5:22: unknown hold 'our-fault-frist' (did you mean 'our-fault'?)"),
    ("no-as-of", 'policy: tiny.yaml\ncases:\n  - name: a\n    expect: {outcome: keep}\n',
     "t.test.yaml:3:11: case has no as_of and the file gives none"),
    ("empty-expect", HEAD + "  - name: a\n    expect: {}\n",
     "t.test.yaml:5:13: case 'a', expect: {} should be non-empty"),
    ("anchor", HEAD + "  - name: &n a\n    expect: {outcome: keep}\n", "t.test.yaml:4:11: "),
    ("missing-source", HEAD + "  - name: a\n    facts_from: {source: \"csv:none.csv\", "
     "customer: C-1}\n    expect: {outcome: keep}\n", "t.test.yaml:5:26: source csv:"),
    ("empty-customer-id", HEAD + "  - name: a\n    facts: {customer_id: \"\"}\n"
     "    expect: {outcome: keep}\n", "t.test.yaml:5:26: fact 'customer_id': customer_id is "
     "missing"),
    ("population-id-twice", HEAD.replace("cases:", "population: [{customer_id: A}, "
                                         "{customer_id: A}]\ncases:") +
     "  - name: a\n    expect: {outcome: keep}\n",
     "t.test.yaml:3:46: customer_id 'A' is used twice in the population (first on line 3)"),
    ("population-not-a-source", HEAD.replace("cases:", "population: nokind\ncases:") +
     "  - name: a\n    expect: {outcome: keep}\n",
     "t.test.yaml:3:13: source nokind: source 'nokind' must be KIND:LOCATION"),
    ("policy-not-yaml", 'policy: /etc/passwd\ncases:\n  - name: a\n    expect: {outcome: keep}\n',
     "t.test.yaml:1:9: policy '/etc/passwd' is not a .yaml or .yml file (nor a shipped "
     "policy: default, strict)"),
    ("policy-up-and-out", 'policy: ../../../../proc/self/environ\ncases:\n  - name: a\n'
     '    expect: {outcome: keep}\n', "t.test.yaml:1:9: policy '../../../../proc/self/environ' "
     "is not a .yaml or .yml file"),
    ("long-unknown-key", HEAD + "  - name: a\n    \"" + "k\\a" * 50 + "\": 1\n"
     "    expect: {outcome: keep}\n",
     "t.test.yaml:5:5: unknown key '" + "k\\x07" * 20 + "'... (100 characters)"),
    ("approved-case-without-reviewer", HEAD + "  - name: a\n    case: {state: approved, "
     "effective_date: \"2027-01-01\"}\n    expect: {outcome: keep}\n",
     "t.test.yaml:5:19: a approved case needs `reviewer:`"),
]


@pytest.mark.parametrize("text,message", [(t, m) for _, t, m in HOSTILE],
                         ids=[n for n, _, _ in HOSTILE])
def test_a_hostile_test_file_is_an_error_at_its_line(tiny: Path, text: str, message: str):
    (tiny / "t.test.yaml").write_text(text, encoding="utf-8")
    result = invoke(tiny, "t.test.yaml")
    assert result.exit_code == 2, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("Error: t.test.yaml:"), result.output
    assert any(line.removeprefix("Error: ").startswith(message) for line in lines), \
        result.output
    assert "Traceback" not in result.output


def test_every_problem_of_a_file_is_reported_in_line_order(tiny: Path):
    write(tiny, HEAD + "  - name: a\n    facts: {revenue_12m: x, late_payment: 3}\n"
          "    expect: {fired: [lates]}\n  - name: a\n    expect: {holds: [x]}\n")
    result = invoke(tiny, "t.test.yaml")
    assert result.exit_code == 2
    lines = [re.match(r"(?:Error: )?t\.test\.yaml:(\d+):(\d+): ", line)
             for line in result.output.splitlines()]
    assert all(lines) and len(lines) == 5, result.output
    positions = [(int(m.group(1)), int(m.group(2))) for m in lines]
    assert positions == sorted(positions)


def test_an_invalid_policy_is_a_finding_exit_1(tiny: Path):
    (tiny / "tiny.yaml").write_text(POLICY.replace("when: outgrown", "when: outgrwn"))
    write(tiny, HEAD + "  - name: a\n    expect: {outcome: keep}\n")
    result = invoke(tiny, "t.test.yaml")
    assert result.exit_code == 1
    assert re.match(r"Error: tiny\.yaml:\d+:\d+: .*outgrwn", result.output), result.output


def test_a_policy_that_is_not_a_policy_is_not_echoed(tiny: Path):
    """A .yaml file that holds something else (a copy of /etc/passwd): the
    error quotes at most 40 characters of it."""
    secret = "".join(f"user{i}:x:{i}:{i}:secret-{i}:/home/u{i}:/bin/sh\n" for i in range(50))
    (tiny / "pw.yaml").write_text(secret, encoding="utf-8")
    write(tiny, HEAD.replace("tiny.yaml", "pw.yaml") + "  - name: a\n    expect: {outcome: keep}\n")
    result = invoke(tiny, "t.test.yaml")
    assert result.exit_code == 1, result.output  # an invalid policy: a finding
    assert result.output == ("Error: pw.yaml:1:1: top level: 'user0:x:0:0:secret-0:/home/u0:/bin/"
                             "sh us'... (2,099 characters) is not a mapping\n")


# -- finding test files ----------------------------------------------------------------

def test_directories_are_searched_for_test_files(tiny: Path):
    case = HEAD + "  - name: a\n    facts: " + HEALTHY + "\n    expect: {outcome: keep}\n"
    write(tiny, case, "a.test.yaml")
    (tiny / "sub").mkdir()
    (tiny / ".git").mkdir()  # a project: sub/b.test.yaml may name ../tiny.yaml
    write(tiny / "sub", case.replace("tiny.yaml", "../tiny.yaml"), "b.test.yaml")
    write(tiny, "not: a test\n", "other.yaml")
    (tiny / ".venv").mkdir()
    write(tiny / ".venv", "broken: [\n", "x.test.yaml")  # hidden directories are not searched
    result = invoke(tiny, ".")
    assert result.exit_code == 0, result.output
    assert "2 file(s), 2 case(s): 2 passed, 0 failed" in result.output
    (tiny / "policies").mkdir()
    nothing = invoke(tiny)  # the default: ./policies
    assert nothing.exit_code == 2
    assert nothing.output == "Error: policies: no *.test.yaml files under policies\n"
    missing = invoke(tiny, "nowhere.test.yaml")
    assert missing.exit_code == 2
    assert missing.output == "Error: nowhere.test.yaml: no such file or directory\n"


def test_fifos_are_refused_or_skipped_never_read(tiny: Path):
    """A FIFO (or device) is never a test file, a policy or a population
    source: reading one would wait forever."""
    os.mkfifo(tiny / "x.test.yaml")
    named = adieu("test", "x.test.yaml", cwd=tiny)  # named: refused
    assert named.returncode == 2
    assert named.stderr == ("Error: x.test.yaml: test file is not a regular file "
                            "(a FIFO, device or socket)\n")
    found = adieu("test", ".", cwd=tiny)  # found in a directory: skipped
    assert found.returncode == 2
    assert found.stderr == "Error: .: no *.test.yaml files under .\n"
    (tiny / "x.test.yaml").unlink()
    os.mkfifo(tiny / "fifo.yaml")
    write(tiny, HEAD.replace("tiny.yaml", "fifo.yaml") +
          "  - name: a\n    expect: {outcome: keep}\n")
    policy = adieu("test", "t.test.yaml", cwd=tiny)
    assert policy.returncode == 2
    assert policy.stderr.startswith("Error: t.test.yaml:1:9: policy fifo.yaml is not a regular "
                                    "file"), policy.stderr
    os.mkfifo(tiny / "people.csv")
    write(tiny, HEAD.replace("cases:", "population: csv:people.csv\ncases:") +
          "  - name: a\n    facts_from: {source: \"csv:people.csv\", customer: C-1}\n"
          "    expect: {outcome: keep}\n")
    population = adieu("test", "t.test.yaml", cwd=tiny)
    assert population.returncode == 2
    lines = population.stderr.splitlines()
    assert lines[0].startswith("Error: t.test.yaml:3:13: source csv:") and \
        lines[0].endswith("people.csv: not a regular file or directory (a FIFO or device is "
                          "never read)"), population.stderr
    assert lines[1].startswith("t.test.yaml:6:26: source csv:") and "not a regular" in lines[1]


# -- the pytest plugin -------------------------------------------------------------------

def test_pytest_collects_test_files_one_item_per_case(tiny: Path):
    late = HEALTHY.replace("late_payments_12m: 0", "late_payments_12m: 5")
    write(tiny, HEAD + "  - name: kept\n    facts: " + HEALTHY + "\n    expect: {outcome: keep}\n"
          "  - name: late payer kept\n    facts: " + late + "\n    expect: {outcome: keep}\n")
    write(tiny, "def test_plain():\n    assert True\n", "test_plain.py")
    write(tiny, "policy: tiny.yaml\n", "notes.yaml")  # not a *.test.yaml: never collected
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ADIEU_", "PYTEST_"))}
    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
                          "-rN", str(tiny)], cwd=tiny, capture_output=True, text=True, env=env,
                         timeout=300)
    assert run.returncode == 1, run.stdout + run.stderr
    assert re.search(r"^1 failed, 2 passed in ", run.stdout, re.M), run.stdout
    assert "FAIL " + str(tiny / "t.test.yaml") + ":7: late payer kept\n" \
        "  outcome: expected keep, got warn\n" in run.stdout
    listed = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                             "--collect-only", "-q", str(tiny)], cwd=tiny, capture_output=True,
                            text=True, env=env, timeout=300)
    assert "t.test.yaml::kept" in listed.stdout
    assert "t.test.yaml::late payer kept" in listed.stdout
    assert "notes.yaml" not in listed.stdout


def test_pytest_collects_nothing_without_test_files(tmp_path: Path):
    write(tmp_path, "policy: x\ncases: []\n", "policy.yaml")
    write(tmp_path, "a: 1\n", "config.test.yml")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ADIEU_", "PYTEST_"))}
    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
                          str(tmp_path)], cwd=tmp_path, capture_output=True, text=True, env=env,
                         timeout=300)
    assert run.returncode == 5, run.stdout  # pytest: no tests collected
    assert "no tests ran" in run.stdout


def test_pytest_reports_a_hostile_file_as_a_collection_error(tiny: Path):
    write(tiny, HEAD + "  - name: a\n    expect: {fired: [lates]}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ADIEU_", "PYTEST_"))}
    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
                          str(tiny)], cwd=tiny, capture_output=True, text=True, env=env,
                         timeout=300)
    assert run.returncode == 2, run.stdout
    assert f"{tiny / 't.test.yaml'}:5:22: unknown rule 'lates'" in run.stdout


# -- pre-commit hooks --------------------------------------------------------------------

def _hook_run(hook: dict, repo: Path, changed: list[str]) -> subprocess.CompletedProcess | None:
    """Run a hook as pre-commit does: the changed files that match `files`
    and not `exclude` (re.search), appended unless pass_filenames is false;
    none: not run, unless always_run."""
    files = [f for f in changed if re.search(hook.get("files", ""), f)
             and not re.search(hook.get("exclude", "^$"), f)]
    if not files and not hook.get("always_run"):
        return None
    words = shlex.split(hook["entry"])
    args = [] if hook.get("pass_filenames") is False else files
    return adieu(*words[1:], *args, cwd=repo)


def test_pre_commit_hooks_validate_and_test_the_policies(tmp_path: Path):
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    by_id = {h["id"]: h for h in hooks}
    assert set(by_id) == {"adieu-validate", "adieu-test"}
    for hook in hooks:
        assert {"id", "name", "entry", "language"} <= set(hook)
        assert hook["language"] == "python"
        assert shlex.split(hook["entry"])[0] == "adieu"
    shutil.copytree(REPO / "policies", tmp_path / "policies")
    changed = ["policies/default.yaml", "policies/default.test.yaml", "README.md"]
    validate = _hook_run(by_id["adieu-validate"], tmp_path, changed)
    assert validate is not None and validate.returncode == 0, validate.stdout + validate.stderr
    assert validate.stdout.startswith("policies/default.yaml: ok")
    assert "default.test.yaml" not in validate.stdout
    tested = _hook_run(by_id["adieu-test"], tmp_path, changed)
    assert tested is not None and tested.returncode == 0, tested.stdout + tested.stderr
    # adieu-test runs on every commit (always_run), over the whole repository
    other = _hook_run(by_id["adieu-test"], tmp_path, ["README.md"])
    assert other is not None and other.returncode == 0, other.stdout + other.stderr
    # a threshold changed without its tests: the hook fails the commit
    policy = tmp_path / "policies" / "default.yaml"
    policy.write_text(policy.read_text().replace("late_payment_limit: 3", "late_payment_limit: 4"))
    failed = _hook_run(by_id["adieu-test"], tmp_path, ["policies/default.yaml"])
    assert failed is not None and failed.returncode == 1
    assert "FAIL policies/default.test.yaml:" in failed.stdout


def test_text_facts_keep_the_digits_written(tiny: Path):
    """`customer_id: 007` is the customer "007" (as a CSV cell would be),
    not the number 7; a registry exemption names that customer."""
    write(tiny, HEAD + "  - name: a\n    facts: {customer_id: 007, tier: 1.50, "
          "late_payments_12m: 4}\n    exemptions: [{id: e, reason: r, approver: a, "
          "expires: \"2027-01-01\"}]\n    expect: {outcome: exempt}\n")
    result = invoke(tiny, "t.test.yaml", "--json")
    assert result.exit_code == 0, result.output
    [case] = json.loads(result.output)["cases"]
    assert case["customer_id"] == "007"
