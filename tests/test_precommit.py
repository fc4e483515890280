"""The pre-commit hooks of .pre-commit-hooks.yaml, run by pre-commit itself
on a temporary repository that keeps policies, with the two
.pre-commit-config.yaml examples of docs/ops-guide.md ("Checking policies
before each commit"): the hooks from adieu's repository, and `repo: local`
hooks that run the installed `adieu`.

The hook repository is a snapshot of this checkout (its tracked and new
files, committed in a temporary git repository), named in the temporary
repository's .pre-commit-config.yaml by path and commit, so pre-commit
builds the hook environment once for the module (PRE_COMMIT_HOME under a
temporary directory) and the working tree's hooks are what is tested."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SECTION = "### Checking policies before each commit"


def guide_configs() -> dict[str, str]:
    """The section's ```yaml blocks: {"remote": ..., "local": ...}."""
    text = (ROOT / "docs" / "ops-guide.md").read_text(encoding="utf-8")
    section = text.split(SECTION + "\n", 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]
    blocks = re.findall(r"^```yaml\n(.*?)^```", section, flags=re.MULTILINE | re.DOTALL)
    assert len(blocks) == 2, blocks
    remote, local = blocks
    assert yaml.safe_load(local)["repos"][0]["repo"] == "local"
    return {"remote": remote, "local": local}
GIT = ["git", "-c", "user.name=adieu tests", "-c", "user.email=tests@adieu.invalid",
       "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main"]


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run([*GIT, *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GIT_", "PRE_COMMIT", "ADIEU_", "VIRTUALENV_"))}
    env["PRE_COMMIT_HOME"] = str(home)
    env["VIRTUALENV_OVERRIDE_APP_DATA"] = str(home / "virtualenv-app-data")  # not in ~
    env["PRE_COMMIT_COLOR"] = "never"
    # `repo: local` hooks with language: system run the adieu of this environment
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


@pytest.fixture(scope="module")
def hooks(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, dict[str, str]]:
    """(hook repository, its commit, environment for pre-commit)."""
    snapshot = tmp_path_factory.mktemp("hook-repo")
    listed = _git(ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (snapshot / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, snapshot / name)
    _git(snapshot, "init", "-q")
    _git(snapshot, "add", "-A")
    _git(snapshot, "commit", "-q", "-m", "snapshot")
    commit = _git(snapshot, "rev-parse", "HEAD").strip()
    home = tmp_path_factory.mktemp("pre-commit-home")
    return snapshot, commit, _env(home)


@pytest.fixture(params=["remote"])
def repo(request: pytest.FixtureRequest, tmp_path: Path,
         hooks: tuple[Path, str, dict[str, str]]) -> Path:
    """A repository with the shipped default policy and its tests under
    policies/, and the guide's .pre-commit-config.yaml: the hooks from
    adieu's repository (the snapshot, by path and commit) or `repo: local`."""
    hook_repo, commit, _ = hooks
    (tmp_path / "policies").mkdir()
    for name in ("default.yaml", "default.test.yaml"):
        shutil.copy(ROOT / "policies" / name, tmp_path / "policies" / name)
    (tmp_path / "notes.yaml").write_text("a: [unclosed\n", encoding="utf-8")
    config = guide_configs()[request.param]
    if request.param == "remote":
        config, n = re.subn(r"(?m)^(\s*- repo: )\S+", rf"\g<1>{hook_repo}", config)
        config, m = re.subn(r"(?m)^(\s*rev: )\S+", rf"\g<1>{commit}", config)
        assert n == m == 1, config
    (tmp_path / ".pre-commit-config.yaml").write_text(config, encoding="utf-8")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", "-A")
    return tmp_path


def run(repo: Path, env: dict[str, str], *files: str) -> subprocess.CompletedProcess[str]:
    _git(repo, "add", "-A")
    return subprocess.run([sys.executable, "-m", "pre_commit", "run", "--files", *files],
                          cwd=repo, env=env, capture_output=True, text=True, timeout=600)


def test_good_policy_passes(repo, hooks):
    result = run(repo, hooks[2], "policies/default.yaml", "policies/default.test.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "adieu validate" in result.stdout and "adieu test" in result.stdout
    assert result.stdout.count("Passed") == 2, result.stdout


@pytest.mark.parametrize("repo", ["remote", "local"], indirect=True)
def test_broken_policy_fails_naming_file_and_line(repo, hooks):
    policy = repo / "policies" / "default.yaml"
    lines = policy.read_text(encoding="utf-8").splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.lstrip().startswith("when:"))
    lines[at] = lines[at].split("when:")[0] + "when: revenue_12m >\n"
    policy.write_text("".join(lines), encoding="utf-8")
    result = run(repo, hooks[2], "policies/default.yaml")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "- hook id: adieu-validate\n- exit code: 1" in result.stdout, result.stdout
    assert f"policies/default.yaml:{at + 1}:" in result.stdout, result.stdout


def test_a_policy_changed_without_its_tests_fails_the_tests(repo, hooks):
    """adieu-test runs on a change of the policy alone (it tests the whole
    repository), and names the failing case's line."""
    policy = repo / "policies" / "default.yaml"
    text = policy.read_text(encoding="utf-8")
    assert "late_payment_limit: 3" in text
    policy.write_text(text.replace("late_payment_limit: 3", "late_payment_limit: 4"),
                      encoding="utf-8")
    result = run(repo, hooks[2], "policies/default.yaml")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "adieu validate" in result.stdout and "Passed" in result.stdout, result.stdout
    assert "- hook id: adieu-test\n- exit code: 1" in result.stdout, result.stdout
    assert "FAIL policies/default.test.yaml:" in result.stdout, result.stdout


def test_other_yaml_files_are_not_policies(repo, hooks):
    """notes.yaml is no policy (and not even valid YAML): adieu-validate
    skips it, and adieu-test (which runs on every commit) does not count it."""
    result = run(repo, hooks[2], "notes.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("(no files to check)Skipped") == 1, result.stdout
    assert re.search(r"^adieu test\.+Passed$", result.stdout, re.M), result.stdout


@pytest.mark.parametrize("repo", ["remote", "local"], indirect=True)
@pytest.mark.parametrize("change", ["delete", "repoint"])
def test_a_policy_left_without_tests_by_a_test_file_change_fails(repo, hooks, change):
    """h11 RC1 (/work/notes/h11/rc/hook_deleted_test.sh): deleting the
    policy's only test file (no changed file left for a hook given file
    names) or pointing it at another policy passed the hook. adieu-test
    tests the whole repository on every commit: the policy is at 0%."""
    test = repo / "policies" / "default.test.yaml"
    shutil.copy(repo / "policies" / "default.yaml", repo / "policies" / "other.yaml")
    other_test = repo / "policies" / "other.test.yaml"
    other_test.write_text(test.read_text(encoding="utf-8").replace(
        "policy: default.yaml", "policy: other.yaml"), encoding="utf-8")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "two tested policies")
    if change == "delete":
        test.unlink()
    else:
        test.write_text(test.read_text(encoding="utf-8").replace(
            "policy: default.yaml", "policy: other.yaml"), encoding="utf-8")
    _git(repo, "add", "-A")
    result = subprocess.run([sys.executable, "-m", "pre_commit", "run"], cwd=repo,
                            env=hooks[2], capture_output=True, text=True, timeout=600)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "- hook id: adieu-test\n- exit code: 1" in result.stdout, result.stdout
    assert ("coverage of policies/default.yaml: 0.0% (no test file tests this policy)\n"
            "  below --coverage-min 100%\n") in result.stdout, result.stdout


@pytest.mark.parametrize("repo", ["remote", "local"], indirect=True)
def test_a_policy_added_without_tests_fails_the_tests(repo, hooks):
    """h11 H (/work/notes/h11/a/precommit/untested_policy.sh): a copy of the
    default policy with a rule that offboards nearly everyone, added with
    no test file, passed both hooks. The guide's configuration passes
    --coverage-min 100, and a policy no test file tests is at 0%."""
    text = (repo / "policies" / "default.yaml").read_text(encoding="utf-8")
    text = text.replace("\nrules:\n", "\nrules:\n  - id: brand-new-rule\n    title: Untested rule\n"
                        "    when: revenue_12m < 1000000\n    action: offboard\n"
                        "    severity: high\n    explain: everyone is out\n\n", 1)
    (repo / "policies" / "acme.yaml").write_text(text.replace("name: default", "name: acme"),
                                                 encoding="utf-8")
    result = run(repo, hooks[2], "policies/acme.yaml")
    assert result.returncode == 1, result.stdout + result.stderr
    assert re.search(r"^adieu validate\.+Passed$", result.stdout, re.M), result.stdout
    assert "- hook id: adieu-test\n- exit code: 1" in result.stdout, result.stdout
    assert ("coverage of policies/acme.yaml: 0.0% (no test file tests this policy)\n"
            "  below --coverage-min 100%\n") in result.stdout, result.stdout


@pytest.mark.parametrize("repo", ["remote", "local"], indirect=True)
def test_an_untested_policy_yaml_in_another_folder_fails_the_tests(repo, hooks):
    """h11 RA1 (/work/notes/h11/ra/hook_other_folder.sh): `adieu init billing`
    with billing's test file removed and its limit changed passed the hook,
    which then searched ./policies only. adieu-test tests the whole
    repository: billing/policy.yaml, named by no test file, is at 0%."""
    (repo / "billing").mkdir()
    text = (repo / "policies" / "default.yaml").read_text(encoding="utf-8")
    assert "late_payment_limit: 3" in text
    (repo / "billing" / "policy.yaml").write_text(
        text.replace("late_payment_limit: 3", "late_payment_limit: 1"), encoding="utf-8")
    result = run(repo, hooks[2], "billing/policy.yaml")
    assert result.returncode == 1, result.stdout + result.stderr
    assert re.search(r"^adieu validate\.+Passed$", result.stdout, re.M), result.stdout
    assert "- hook id: adieu-test\n- exit code: 1" in result.stdout, result.stdout
    assert ("coverage of billing/policy.yaml: 0.0% (no test file tests this policy)\n"
            "  below --coverage-min 100%\n") in result.stdout, result.stdout
    # its own test file, next to it, makes it pass (the policy's change is expected there)
    test = (repo / "policies" / "default.test.yaml").read_text(encoding="utf-8")
    (repo / "billing" / "policy.test.yaml").write_text(
        test.replace("policy: default.yaml", "policy: policy.yaml"), encoding="utf-8")
    (repo / "billing" / "policy.yaml").write_text(text, encoding="utf-8")
    result = run(repo, hooks[2], "billing/policy.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"^adieu test\.+Passed$", result.stdout, re.M), result.stdout
