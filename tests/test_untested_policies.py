"""adieu test: a policy in a searched directory that no test file tests is
listed at 0% coverage and fails --coverage-min (h11 H), found the way
`adieu validate` tells a policy from test files, mappings and other YAML,
in the repository's layout and in the one `adieu init` writes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import REPO
from test_json_outputs import validator

ADIEU = str(Path(sys.executable).parent / "adieu")
UNTESTED = "coverage of policies/acme.yaml: 0.0% (no test file tests this policy)"


def adieu(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADIEU_")}
    return subprocess.run([ADIEU, *args], cwd=cwd, capture_output=True, text=True, env=env,
                          timeout=300)


def acme_policy() -> str:
    """The finding's policy: the default one plus a rule that offboards
    nearly everyone, renamed acme."""
    text = (REPO / "policies" / "default.yaml").read_text(encoding="utf-8")
    text = text.replace("\nrules:\n", "\nrules:\n  - id: brand-new-rule\n    title: Untested rule\n"
                        "    when: revenue_12m < 1000000\n    action: offboard\n"
                        "    severity: high\n    explain: everyone is out\n\n", 1)
    assert "brand-new-rule" in text
    return text.replace("name: default", "name: acme")


def project(tmp_path: Path) -> Path:
    """policies/ with default.yaml and its tests, and acme.yaml without any."""
    (tmp_path / "policies").mkdir()
    for name in ("default.yaml", "default.test.yaml"):
        shutil.copy(REPO / "policies" / name, tmp_path / "policies" / name)
    (tmp_path / "policies" / "acme.yaml").write_text(acme_policy(), encoding="utf-8")
    return tmp_path


def test_a_policy_no_test_file_tests_fails_coverage_min(tmp_path: Path):
    """The finding: `adieu test --coverage-min 100` passed with acme.yaml
    not mentioned at all."""
    folder = project(tmp_path)
    result = adieu("test", "--coverage-min", "100", cwd=folder)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    at = lines.index(UNTESTED)
    assert lines[at + 1] == "  below --coverage-min 100%"
    assert lines[0].startswith("coverage of policies/default.yaml: 100.0% ")
    assert lines[-1] == "1 file(s), 28 case(s): 28 passed, 0 failed"
    named = adieu("test", "policies", "--coverage-min", "100", cwd=folder)  # a directory named
    assert named.returncode == 1 and UNTESTED in named.stdout
    listed = adieu("test", cwd=folder)  # no --coverage-min: listed, not a failure
    assert listed.returncode == 0 and UNTESTED in listed.stdout
    assert "below" not in listed.stdout
    assert adieu("test", "--coverage-min", "0", cwd=folder).returncode == 0


def test_a_test_file_for_it_makes_it_tested(tmp_path: Path):
    folder = project(tmp_path)
    tests = (folder / "policies" / "default.test.yaml").read_text(encoding="utf-8")
    (folder / "policies" / "acme.test.yaml").write_text(
        tests.replace("policy: default.yaml", "policy: acme.yaml"), encoding="utf-8")
    result = adieu("test", "--coverage-min", "100", cwd=folder)
    assert "no test file tests" not in result.stdout
    assert "coverage of policies/acme.yaml: 100.0% (26/26: rules 14/14," in result.stdout
    assert "FAIL policies/acme.test.yaml:" in result.stdout  # its rule offboards the healthy


def test_naming_test_files_does_not_search_around_them(tmp_path: Path):
    folder = project(tmp_path)
    result = adieu("test", "policies/default.test.yaml", "--coverage-min", "100", cwd=folder)
    assert result.returncode == 0, result.stdout
    assert "acme" not in result.stdout


def test_naming_a_policy_runs_the_test_files_of_its_project_that_name_it(tmp_path: Path):
    """h11 RA1: the pre-commit hook passes the changed files. A policy file
    named stands for the test files of its project (the folder holding
    .git) that name it, wherever they are; none: it is at 0%. A mapping
    named is skipped."""
    folder = project(tmp_path)
    (folder / ".git").mkdir()
    assert adieu("init", "billing", cwd=folder).returncode == 0
    tests = (folder / "billing" / "policy.test.yaml")
    moved = folder / "checks" / "billing.test.yaml"
    moved.parent.mkdir()
    moved.write_text(tests.read_text(encoding="utf-8")
                     .replace("policy: policy.yaml", "policy: ../billing/policy.yaml"),
                     encoding="utf-8")
    tests.unlink()
    result = adieu("test", "policy.yaml", "customers.mapping.yaml", "--coverage-min", "100",
                   cwd=folder / "billing")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("coverage of ../checks/../billing/policy.yaml: 100.0% ")
    assert result.stdout.splitlines()[-1].startswith("1 file(s), ")
    moved.unlink()  # no test file names it any more
    result = adieu("test", "billing/policy.yaml", "policies/acme.yaml", "--coverage-min", "100",
                   cwd=folder)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout == (
        "coverage of billing/policy.yaml: 0.0% (no test file tests this policy)\n"
        "  below --coverage-min 100%\n" + UNTESTED + "\n  below --coverage-min 100%\n"
        "0 file(s), 0 case(s): 0 passed, 0 failed\n")


def test_json_lists_it_untested_at_zero_within_the_schema(tmp_path: Path):
    folder = project(tmp_path)
    (folder / "policies" / "broken.yaml").write_text(
        "name: broken\nversion: 1\nrules:\n  - id: x\n    when: revenue_12m >\n", encoding="utf-8")
    result = adieu("test", "--json", "--coverage-min", "100", cwd=folder)
    assert result.returncode == 1, result.stderr
    data = json.loads(result.stdout)
    validator("test.output.schema.json").validate(data)
    assert data["ok"] is False and data["failed"] == 0
    by_file = {c["policy_file"]: c for c in data["coverage"]}
    assert list(by_file) == ["policies/default.yaml", "policies/acme.yaml",
                             "policies/broken.yaml"]
    assert by_file["policies/default.yaml"]["tested"] is True
    acme = by_file["policies/acme.yaml"]
    assert acme["tested"] is False and acme["policy_name"] == "acme"
    assert acme["percent"] == 0 and acme["rules_percent"] == 0 and acme["covered"] == 0
    assert acme["total"] == len(acme["items"]) == 26
    assert not any(i["covered"] for i in acme["items"])
    broken = by_file["policies/broken.yaml"]
    assert broken == {"policy_file": "policies/broken.yaml", "policy_name": None, "percent": 0,
                      "covered": 0, "total": 0, "rules_percent": 0, "items": [],
                      "tested": False}
    text = adieu("test", cwd=folder)
    assert ("coverage of policies/broken.yaml: 0.0% (no test file tests this policy, and it is "
            "not valid: adieu validate policies/broken.yaml)") in text.stdout


def test_other_yaml_is_not_a_policy(tmp_path: Path):
    """Test files, mappings, hidden files, CI configuration and notes are
    not policies; a policy without its usual keys but with the policy
    schema named on its first line is one."""
    folder = project(tmp_path)
    (folder / "policies" / "acme.yaml").unlink()
    other = {
        "policies/customers.mapping.yaml": "fields:\n  customer_id: {column: id}\n",
        "policies/notes.yaml": "name: notes\nitems: [a, b]\n",
        "policies/ci.yml": "name: CI\non: push\njobs: {}\n",
        "policies/semgrep.yml": "rules:\n  - id: x\n    pattern: eval(...)\n",
        "policies/.yamllint.yaml": "name: x\nversion: 1\nrules: {}\n",
        "policies/mapped.yaml": "# yaml-language-server: $schema=../schemas/mapping.schema.json\n"
                                "name: x\nversion: 1\nrules: []\n",
        "policies/broken-notes.yaml": "a: [unclosed\n",
    }
    for name, text in other.items():
        (folder / name).write_text(text, encoding="utf-8")
    result = adieu("test", "--coverage-min", "100", cwd=folder)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no test file tests" not in result.stdout
    (folder / "policies" / "draft.yaml").write_text(
        "# yaml-language-server: $schema=../schemas/policy.schema.json\n"
        "name: draft\n", encoding="utf-8")
    draft = adieu("test", "--coverage-min", "100", cwd=folder)
    assert draft.returncode == 1
    assert ("coverage of policies/draft.yaml: 0.0% (no test file tests this policy, and it is "
            "not valid: adieu validate policies/draft.yaml)") in draft.stdout


def test_a_policy_in_any_yaml_style_is_a_policy_and_another_tools_rules_are_not(
        tmp_path: Path):
    """h11 RA9: a policy written as JSON (keys indented) was not found, and
    another tool's YAML with name, version and rules was flagged. A policy
    is told by its parsed top-level keys and its rules' shape (id, when)."""
    folder = project(tmp_path)
    (folder / "policies" / "acme.yaml").unlink()
    import yaml
    doc = yaml.safe_load(acme_policy())
    (folder / "policies" / "acme-json.yaml").write_text(json.dumps(doc, indent=2, default=str),
                                                       encoding="utf-8")
    (folder / "policies" / "flow.yaml").write_text(
        "{name: flow, version: 1, rules: [{id: x, when: revenue_12m > 1, action: warn, "
        "severity: low, explain: x}]}\n", encoding="utf-8")
    (folder / "policies" / "ruleset.yaml").write_text(
        "name: house-style\nversion: 2\nrules:\n  line-length: {max: 120}\n", encoding="utf-8")
    (folder / "policies" / "role.yaml").write_text(
        "name: r\nversion: 1\nrules:\n  - apiGroups: ['']\n    verbs: [get]\n",
        encoding="utf-8")
    result = adieu("test", "--coverage-min", "100", cwd=folder)
    assert result.returncode == 1, result.stdout + result.stderr
    untested = [line for line in result.stdout.splitlines() if "no test file tests" in line]
    assert untested == [
        "coverage of policies/acme-json.yaml: 0.0% (no test file tests this policy)",
        "coverage of policies/flow.yaml: 0.0% (no test file tests this policy, and it is not "
        "valid: adieu validate policies/flow.yaml)"], result.stdout


def test_a_symlinked_folder_is_followed_inside_the_project_and_named_outside_it(
        tmp_path: Path):
    """h11 RA9: a team's folder linked into policies/ was skipped whole (its
    policies and its tests), without a word."""
    (tmp_path / "repo").mkdir()
    folder = project(tmp_path / "repo")
    (folder / ".git").mkdir()
    (folder / "policies" / "acme.yaml").unlink()
    (folder / "shared" / "team").mkdir(parents=True)
    (folder / "shared" / "team" / "team.yaml").write_text(acme_policy(), encoding="utf-8")
    (folder / "policies" / "team").symlink_to(folder / "shared" / "team")
    (folder / "policies" / "team" / "loop").symlink_to(folder / "policies")  # no endless walk
    away = tmp_path / "away"
    away.mkdir()
    (away / "other.yaml").write_text(acme_policy(), encoding="utf-8")
    (folder / "policies" / "away").symlink_to(away)
    result = adieu("test", "--coverage-min", "100", cwd=folder)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert "coverage of policies/team/team.yaml: 0.0% (no test file tests this policy)" in lines
    assert "other.yaml" not in result.stdout
    assert "not searched: policies/away (a symlink to a folder outside the project)" in lines
    assert lines[-1] == "1 file(s), 28 case(s): 28 passed, 0 failed"
    data = json.loads(adieu("test", "--json", cwd=folder).stdout)
    validator("test.output.schema.json").validate(data)
    assert data["not_searched"] == ["policies/away"]


def test_the_layout_adieu_init_writes(tmp_path: Path):
    """`adieu init mypolicy` from a folder with no policies/: the test
    searches the current folder, finds policy.yaml tested by
    policy.test.yaml, and not customers.mapping.yaml; a copy of the policy
    without tests is untested."""
    assert adieu("init", "mypolicy", cwd=tmp_path).returncode == 0
    result = adieu("test", "--coverage-min", "100", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "coverage of mypolicy/policy.yaml: 100.0%" in result.stdout
    assert "no test file tests" not in result.stdout
    shutil.copy(tmp_path / "mypolicy" / "policy.yaml", tmp_path / "mypolicy" / "copy.yaml")
    copied = adieu("test", "--coverage-min", "100", cwd=tmp_path)
    assert copied.returncode == 1
    assert "coverage of mypolicy/copy.yaml: 0.0% (no test file tests this policy)" \
        in copied.stdout


def test_the_repositorys_policies_are_all_tested():
    result = adieu("test", "policies", "--coverage-min", "100", cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no test file tests" not in result.stdout


def test_a_named_file_that_is_neither_a_policy_nor_a_test_is_an_error(tmp_path: Path):
    """h11 RC5: `adieu test compose.yml` (or a CSV) listed the file as an
    untested policy at 0%; a folder search does not count it. Named, it is
    now a usage error naming the file."""
    (tmp_path / "compose.yml").write_text("services:\n  web:\n    image: x\n", encoding="utf-8")
    (tmp_path / "c.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    for name in ("compose.yml", "c.csv"):
        done = adieu("test", name, "--coverage-min", "100", cwd=tmp_path)
        assert (done.returncode, done.stdout) == (2, ""), done.stderr
        assert done.stderr == (f"Error: {name}: neither a policy test file (*.test.yaml) nor a "
                               "policy (a policy has name, version and rules, or names the "
                               "policy schema on its first line)\n")
