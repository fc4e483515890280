"""adieu test: what a test file may read and how it reads it: a population
source read whole (rejected rows refuse the file), sources and the policy
inside the test file's project, facts_from taking the record `adieu
evaluate` decides, and case names pytest can select."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import CSV_HEADER, CSV_ROWS, POLICY

from adieu.cli import cli

ADIEU = str(Path(sys.executable).parent / "adieu")
HEAD = 'policy: tiny.yaml\nas_of: "2026-11-02"\n'
HEALTHY = ("tier: standard, revenue_12m: 10000, hours_support_12m: 10, late_payments_12m: 0, "
           "escalations_12m: 0, abuse_incidents_12m: 0, outgrown: false, "
           "open_our_fault_incidents: 0, contract_end: \"2028-01-01\"")
KEEP = "  - name: a\n    facts: {customer_id: T-1, " + HEALTHY + "}\n    expect: {outcome: keep}\n"


def invoke(directory: Path, *args: str):
    old = os.getcwd()
    os.chdir(directory)
    try:
        return CliRunner().invoke(cli, ["test", *args], catch_exceptions=False)
    finally:
        os.chdir(old)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    """A folder with the tiny policy and its customers (the last row rejected)."""
    (tmp_path / "tiny.yaml").write_text(POLICY, encoding="utf-8")
    (tmp_path / "customers.csv").write_text("\n".join([CSV_HEADER, *CSV_ROWS]) + "\n",
                                            encoding="utf-8")
    (tmp_path / "good.csv").write_text("\n".join([CSV_HEADER, *CSV_ROWS[:-1]]) + "\n",
                                       encoding="utf-8")
    return tmp_path


# -- a population is read whole ----------------------------------------------------------

STAFF_OUTLIER = textwrap.dedent("""\
    policy: default
    as_of: "2026-11-02"
    population: csv:{csv}
    cases:
      - name: twice the staff time of the base is not an outlier
        facts: {{customer_id: T-1, revenue_12m: 100000, hours_account_mgmt_12m: 40,
                hours_support_12m: 40, hours_accounting_12m: 10, hours_marketing_12m: 10,
                open_our_fault_incidents: 0, contract_end: "2028-06-30"}}
        expect: {{fired: []}}
    """)


def _base(revenue: str, rows: int = 9) -> str:
    return "customer_id,revenue_12m,hours_account_mgmt_12m,hours_support_12m," \
        "hours_accounting_12m,hours_marketing_12m\n" + \
        "".join(f'P-{i},{revenue},20,20,5,5\n' for i in range(rows))


def test_a_population_whose_rows_are_all_rejected_is_refused(tmp_path: Path):
    """The finding's case: revenue written "100,000" in every row. The
    wrong expectation (not an outlier) passed against the case's customer
    alone; now the file is refused, every rejected row listed."""
    (tmp_path / "good.csv").write_text(_base("100000"), encoding="utf-8")
    (tmp_path / "bad.csv").write_text(_base('"100,000"'), encoding="utf-8")
    write(tmp_path / "good.test.yaml", STAFF_OUTLIER.format(csv="good.csv"))
    write(tmp_path / "bad.test.yaml", STAFF_OUTLIER.format(csv="bad.csv"))
    good = invoke(tmp_path, "good.test.yaml")
    assert good.exit_code == 1, good.output  # the base makes it an outlier: the case fails
    assert "fired: expected [], got [staff-time-outlier]" in good.output
    bad = invoke(tmp_path, "bad.test.yaml")
    assert bad.exit_code == 2, bad.output
    lines = bad.output.splitlines()
    assert lines[0] == ("Error: bad.test.yaml:3:13: population csv:bad.csv: 9 of 9 rows "
                        "rejected; a test's population must be read whole (fix or remove them)")
    assert lines[1:] == [
        f"bad.test.yaml:3:13: population csv:bad.csv: rejected: bad.csv:{i + 2}: row {i + 1}, "
        "field 'revenue_12m': expected a number like 1234.5, got '100,000'" for i in range(9)]


def test_one_rejected_population_row_refuses_the_file(tiny: Path):
    write(tiny / "t.test.yaml", HEAD + "population: csv:customers.csv\ncases:\n" + KEEP)
    result = invoke(tiny, "t.test.yaml")
    assert result.exit_code == 2, result.output
    assert result.output == (
        "Error: t.test.yaml:3:13: population csv:customers.csv: 1 of 10 rows rejected; a "
        "test's population must be read whole (fix or remove them)\n"
        "t.test.yaml:3:13: population csv:customers.csv: rejected: customers.csv:11: row 10, "
        "field 'revenue_12m': expected a number like 1234.5, got '12k'\n")
    write(tiny / "t.test.yaml", HEAD + "population: csv:good.csv\ncases:\n" + KEEP)
    assert invoke(tiny, "t.test.yaml").exit_code == 0


def test_many_rejected_rows_are_listed_up_to_twenty_then_counted(tmp_path: Path):
    (tmp_path / "bad.csv").write_text(_base("lots", rows=25), encoding="utf-8")
    write(tmp_path / "t.test.yaml", STAFF_OUTLIER.format(csv="bad.csv"))
    result = invoke(tmp_path, "t.test.yaml")
    assert result.exit_code == 2
    lines = result.output.splitlines()
    assert len(lines) == 1 + 20 + 1, result.output
    assert "25 of 25 rows rejected" in lines[0]
    assert lines[20].endswith("bad.csv:21: row 20, field 'revenue_12m': expected a number "
                              "like 1234.5, got 'lots'")
    assert lines[21] == "t.test.yaml:3:13: population csv:bad.csv: ... and 5 more rejects not shown"


def test_an_empty_population_source_is_an_error_at_its_line(tmp_path: Path):
    (tmp_path / "empty.csv").write_text(_base("1", rows=0), encoding="utf-8")
    write(tmp_path / "t.test.yaml", STAFF_OUTLIER.format(csv="empty.csv"))
    result = invoke(tmp_path, "t.test.yaml")
    assert result.exit_code == 2
    assert result.output == ("Error: t.test.yaml:3:13: population csv:empty.csv: the source has "
                             "no customers\n")


# -- sources and the policy stay inside the test file's project ---------------------------

SECRET = "customer_id,revenue_12m\nSECRET-1,not-a-number-TOPSECRET\n"


def test_sources_outside_the_test_files_folder_are_refused_unread(tmp_path: Path, tiny: Path):
    """The finding's file: an absolute population and a facts_from that
    climbs out with ../ are refused at their lines, and nothing of either
    file is shown."""
    outside = tmp_path.parent / f"{tmp_path.name}-secret.csv"
    outside.write_text(SECRET, encoding="utf-8")
    climb = "../" * len(tiny.resolve().parts) + str(outside.resolve()).lstrip("/")
    write(tiny / "t.test.yaml", HEAD + f"population: csv:{outside}\ncases:\n"
          f"  - name: c\n    facts_from: {{source: \"csv:{climb}\", customer: SECRET-1}}\n"
          "    expect: {outcome: keep}\n")
    try:
        result = invoke(tiny, "t.test.yaml")
    finally:
        outside.unlink()
    assert result.exit_code == 2
    folder = tiny.resolve()
    assert result.output == (
        f"Error: t.test.yaml:3:13: population: {outside} is an absolute path; name a file "
        f"relative to the test file, inside the test file's folder {folder} (no folder above "
        "it holds .git or pyproject.toml)\n"
        f"t.test.yaml:6:26: facts_from source: {climb} is outside the test file's folder "
        f"{folder} (no folder above it holds .git or pyproject.toml); a test file reads only "
        "files inside it\n")
    assert "TOPSECRET" not in result.output


def test_a_symlink_inside_that_leads_outside_is_refused(tmp_path: Path):
    top = tmp_path / "project"
    (top / "policies").mkdir(parents=True)
    (top / "pyproject.toml").write_text("[project]\nname = 'x'\n", encoding="utf-8")
    (top / "policies" / "tiny.yaml").write_text(POLICY, encoding="utf-8")
    (tmp_path / "secret.csv").write_text(SECRET, encoding="utf-8")
    (top / "policies" / "link.csv").symlink_to(tmp_path / "secret.csv")
    write(top / "policies" / "t.test.yaml", HEAD + "population: csv:link.csv\ncases:\n" + KEEP)
    result = invoke(top, "policies/t.test.yaml")
    assert result.exit_code == 2
    assert result.output == (
        f"Error: policies/t.test.yaml:3:13: population: link.csv is outside the test file's "
        f"project {top.resolve()} (the nearest folder holding .git or pyproject.toml); a test "
        "file reads only files inside it\n")


@pytest.mark.parametrize("spec", ["salesforce:../sf", "csv:../sf"])
def test_a_folder_source_holding_a_symlink_that_leads_outside_is_refused_unread(
        tmp_path: Path, spec: str):
    """h11 RA11: a salesforce: export folder inside the project whose
    Account.csv is a symlink to a file outside was read and its values
    echoed. Every entry of a folder source is checked first, at the key."""
    top = tmp_path / "project"
    (top / "policies").mkdir(parents=True)
    (top / ".git").mkdir()
    (top / "policies" / "tiny.yaml").write_text(POLICY, encoding="utf-8")
    (tmp_path / "secret.csv").write_text(
        "Id,IsDeleted,Name,AnnualRevenue\nSECRET-ROW,false,n,not-a-number-TOPSECRET\n",
        encoding="utf-8")
    (top / "sf").mkdir()
    (top / "sf" / "Account.csv").symlink_to(tmp_path / "secret.csv")
    for key in ("population", "facts_from"):
        body = (f"population: {spec}\ncases:\n" + KEEP if key == "population" else
                "cases:\n  - name: a\n    facts_from: {source: \"" + spec +
                "\", customer: SECRET-ROW}\n    expect: {outcome: keep}\n")
        write(top / "policies" / "t.test.yaml", HEAD + body)
        result = invoke(top, "policies/t.test.yaml")
        assert result.exit_code == 2, result.output
        label = "population" if key == "population" else "facts_from source"
        assert f": {label}: ../sf holds Account.csv, which leads outside the project; " \
            in result.output, result.output
        assert "TOPSECRET" not in result.output and "SECRET-ROW" not in result.output.replace(
            "customer: SECRET-ROW", "")
    # the same export copied into the project is read
    (top / "sf" / "Account.csv").unlink()
    (top / "sf" / "Account.csv").write_text((tmp_path / "secret.csv").read_text())
    write(top / "policies" / "t.test.yaml", HEAD + f"population: {spec}\ncases:\n" + KEEP)
    assert "leads outside" not in invoke(top, "policies/t.test.yaml").output


@pytest.mark.parametrize("location, hidden", [
    ("../.env", ".env"), ("../.git/config", ".git"), ("link.csv", ".env"),
    (".cache/../../examples.csv", ".cache")])
def test_hidden_files_and_folders_are_refused_unread(tmp_path: Path, location: str,
                                                     hidden: str):
    """h11 RA5: inside the project a test file read .env and .git/config and
    echoed their first line. Any hidden part, as written or once resolved
    (a symlink to .env), is refused at the key's line, unread."""
    top = tmp_path / "project"
    (top / "policies" / ".cache").mkdir(parents=True)
    (top / ".git").mkdir()
    (top / ".git" / "config").write_text("[core]\n\textraheader = TOPSECRET\n")
    (top / ".env").write_text("AWS_SECRET_ACCESS_KEY=TOPSECRET\n", encoding="utf-8")
    (top / "policies" / "link.csv").symlink_to(top / ".env")
    (top / "policies" / "tiny.yaml").write_text(POLICY, encoding="utf-8")
    write(top / "policies" / "t.test.yaml", HEAD + f"population: csv:{location}\ncases:\n" + KEEP)
    result = invoke(top, "policies/t.test.yaml")
    assert result.exit_code == 2, result.output
    assert result.output == (
        f"Error: policies/t.test.yaml:3:13: population: {location} names a hidden file or "
        f"folder ({hidden}); a test file never reads hidden files or folders (.git, .env)\n")
    # a policy too
    (top / "policies" / ".p.yaml").write_text(POLICY, encoding="utf-8")
    write(top / "policies" / "t.test.yaml", 'policy: .p.yaml\nas_of: "2026-11-02"\ncases:\n'
          + KEEP)
    result = invoke(top, "policies/t.test.yaml")
    assert result.exit_code == 2 and "policy: .p.yaml names a hidden file or folder (.p.yaml)" \
        in result.output, result.output


def test_a_policy_outside_the_project_is_refused(tmp_path: Path):
    (tmp_path / "elsewhere.yaml").write_text(POLICY, encoding="utf-8")
    folder = tmp_path / "tests"
    for name in ("../elsewhere.yaml", str(tmp_path / "elsewhere.yaml")):
        write(folder / "t.test.yaml", f'policy: "{name}"\nas_of: "2026-11-02"\ncases:\n' + KEEP)
        result = invoke(folder, "t.test.yaml")
        assert result.exit_code == 2, result.output
        assert result.output.startswith(f"Error: t.test.yaml:1:9: policy: {name} is "), \
            result.output
    (tmp_path / ".git").mkdir()  # now tests/ is in the project: ../elsewhere.yaml is inside
    write(folder / "t.test.yaml", 'policy: ../elsewhere.yaml\nas_of: "2026-11-02"\ncases:\n' + KEEP)
    assert invoke(folder, "t.test.yaml").exit_code == 0


def test_the_repository_layout_may_reach_examples(tmp_path: Path):
    """policies/x.test.yaml in a repository may read ../examples/..., as
    docs/policy-tests.md shows (the project is the nearest folder holding
    .git)."""
    (tmp_path / ".git").mkdir()
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "tiny.yaml").write_text(POLICY, encoding="utf-8")
    (tmp_path / "examples").mkdir()
    (tmp_path / "examples" / "good.csv").write_text(
        "\n".join([CSV_HEADER, *CSV_ROWS[:-1]]) + "\n", encoding="utf-8")
    write(tmp_path / "policies" / "t.test.yaml",
          HEAD + "population: csv:../examples/good.csv\ncases:\n"
          "  - name: a\n    facts_from: {source: \"csv:../examples/good.csv\", customer: C-KEEP}\n"
          "    expect: {outcome: keep}\n")
    result = invoke(tmp_path, "policies")
    assert result.exit_code == 0, result.output


# -- facts_from takes the record evaluate decides -----------------------------------------

def test_facts_from_takes_the_accepted_row_of_a_duplicated_id(tiny: Path):
    """C-DUP is on two rows; evaluate decides the first and rejects the
    later duplicate. The case gets the first row's facts, as evaluate does,
    and a failure says which row it took."""
    later = "C-DUP,standard,10000,10,5,0,0,false,0,2028-01-01"  # 5 late payments: a warning
    rows = [*CSV_ROWS[:-1], "C-DUP,standard,10000,10,0,0,0,false,0,2028-01-01", later]
    (tiny / "dup.csv").write_text("\n".join([CSV_HEADER, *rows]) + "\n", encoding="utf-8")
    run = subprocess.run([ADIEU, "evaluate", "tiny.yaml", "--source", "csv:dup.csv", "--as-of",
                          "2026-11-02", "--dry-run", "--json"], cwd=tiny, capture_output=True,
                         text=True, timeout=300)
    decided = {d["customer_id"]: d for d in json.loads(run.stdout)["decisions"]}
    assert decided["C-DUP"]["outcome"] == "keep"
    case = ("  - name: dup\n    facts_from: {source: \"csv:dup.csv\", customer: C-DUP}\n"
            "    expect: {outcome: %s}\n")
    write(tiny / "t.test.yaml", HEAD + "population: csv:good.csv\ncases:\n" + case % "keep")
    result = invoke(tiny, "t.test.yaml")
    assert result.exit_code == 0, result.output
    write(tiny / "t.test.yaml", HEAD + "population: csv:good.csv\ncases:\n" + case % "warn")
    failed = invoke(tiny, "t.test.yaml")
    assert failed.exit_code == 1
    assert ("  notes:\n    facts_from: customer 'C-DUP' is taken from dup.csv:11 (row 10), as "
            "`adieu evaluate` takes it; the source rejects dup.csv:12: row 11, field "
            "'customer_id': duplicate customer_id, first seen at row 10\n") in failed.output


def test_facts_from_a_source_with_other_bad_rows_is_fine(tiny: Path):
    """Only the customer's own record matters to facts_from (C-BAD's row
    is rejected; C-WARN's is not)."""
    write(tiny / "t.test.yaml", HEAD + "cases:\n  - name: w\n    facts_from: "
          "{source: \"csv:customers.csv\", customer: C-WARN}\n    expect: {outcome: warn}\n")
    assert invoke(tiny, "t.test.yaml").exit_code == 0


# -- case names pytest can select ---------------------------------------------------------

ODD = HEAD + "cases:\n" + "".join(
    f"  - name: \"{name}\"\n    facts: {{customer_id: T-{i}, {HEALTHY}}}\n"
    "    expect: {outcome: keep}\n" for i, name in enumerate(["x[1]", "a/b", "a:b", "a\\\\b"]))


def test_a_case_name_with_a_double_colon_is_refused_at_its_line(tiny: Path):
    write(tiny / "t.test.yaml", ODD + "  - name: \"a::b\"\n    expect: {outcome: keep}\n"
          "  - name: \"a::\"\n    expect: {outcome: keep}\n")
    result = invoke(tiny, "t.test.yaml")
    assert result.exit_code == 2
    message = ("contains '::', which separates the parts of a pytest test id "
               "(file.test.yaml::case), so pytest could not select the case; write it another "
               "way, e.g. ': '")
    assert result.output == (f"Error: t.test.yaml:16:11: case name 'a::b' {message}\n"
                             f"t.test.yaml:18:11: case name 'a::' {message}\n")


def _pytest(directory: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ADIEU_", "PYTEST_"))}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
                           "-rA", *args], cwd=directory, capture_output=True, text=True,
                          env=env, timeout=300)


def test_pytest_selects_each_case_by_its_node_id(tiny: Path):
    """Every name the loader accepts is a node id pytest can run alone; a
    name with '::' is a collection error naming its line."""
    write(tiny / "odd.test.yaml", ODD)
    for name in ["x[1]", "a/b", "a:b", "a\\b"]:
        run = _pytest(tiny, f"odd.test.yaml::{name}")
        assert run.returncode == 0, run.stdout + run.stderr
        assert f"PASSED odd.test.yaml::{name}\n" in run.stdout
        assert "1 passed" in run.stdout
    write(tiny / "odd.test.yaml", ODD + "  - name: \"a::b\"\n    expect: {outcome: keep}\n")
    run = _pytest(tiny, "odd.test.yaml")
    assert run.returncode == 2
    assert f"{tiny / 'odd.test.yaml'}:16:11: case name 'a::b' contains '::'" in run.stdout
