"""Faults found in `adieu init` and the installed files (h13 findings):
the data folder chosen in a fixed order (L), the `$schema=` modeline a
file:// URI (H), documents reachable from a wheel (Q), init's files fitting
`adieu validate` and the pre-commit hooks (C), all-or-nothing writing (J),
printed commands that run for any folder name (F), `adieu policies`
columns (G)."""

from __future__ import annotations

import errno
import os
import re
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

import pytest
import yaml
from click.testing import CliRunner

from adieu import resources, starter
from adieu.cli import cli

ROOT = Path(__file__).resolve().parents[1]
INIT_FILES = ["customers.csv", "customers.mapping.yaml", "policy.test.yaml", "policy.yaml"]


def run(*args: str):
    return CliRunner().invoke(cli, list(args), prog_name="adieu")


def next_commands(output: str) -> list[list[str]]:
    lines = output.split("Next:\n", 1)[1].splitlines()
    return [shlex.split(line) for line in lines if line.strip()]


# -- L: which installed data files, in a fixed order -----------------------------

def _fake_install(root: Path) -> Path:
    data = root / "share" / "adieu"
    (data / "schemas").mkdir(parents=True)
    (data / "schemas" / "policy.schema.json").write_text("{}\n", encoding="utf-8")
    return data


def test_data_root_prefers_the_installation_adieu_is_imported_from_for_any_hash_seed(
        tmp_path: Path):
    """A venv (A) whose base interpreter (B) has another adieu installed:
    the venv's files, whatever PYTHONHASHSEED is (the candidates were a set)."""
    venv, base = tmp_path / "venv", tmp_path / "base"
    venv_data, base_data = _fake_install(venv), _fake_install(base)
    package = venv / "lib" / "python3.11" / "site-packages" / "adieu"
    script = textwrap.dedent(f"""
        import sys, sysconfig
        from pathlib import Path
        sys.prefix, sys.base_prefix = {str(venv)!r}, {str(base)!r}
        real = sysconfig.get_path
        sysconfig.get_path = lambda name, *a, **k: (
            {str(venv)!r} if name == "data" and not a and not k else real(name, *a, **k))
        from adieu import resources as r
        if hasattr(r, "_package_dir"):
            r._package_dir = lambda: Path({str(package)!r})
        c = [str(p) for p in r._candidates()]
        print(c.index({str(venv_data)!r}) < c.index({str(base_data)!r}), len(c) == len(set(c)))
        print(r.data_root() if hasattr(r, "_package_dir") else "")
    """)
    for seed in range(6):
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                             env={**os.environ, "PYTHONHASHSEED": str(seed)}, check=True)
        order, root = out.stdout.splitlines()
        assert order == "True True", f"PYTHONHASHSEED={seed}: base before venv"
        assert root == str(venv_data), f"PYTHONHASHSEED={seed}"


def test_data_root_of_a_package_installed_under_a_prefix_is_that_prefix(tmp_path: Path,
                                                                          monkeypatch):
    """Even run by another interpreter (sys.prefix elsewhere), the files next
    to the imported package's own installation come first."""
    mine, other = _fake_install(tmp_path / "mine"), _fake_install(tmp_path / "other")
    monkeypatch.setattr(resources, "_package_dir", lambda: tmp_path / "mine" / "lib" /
                        "python3.11" / "site-packages" / "adieu")
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "other"))
    roots = resources._candidates()
    assert roots.index(mine) < roots.index(other)


# -- H: the $schema= modeline is a file:// URI --------------------------------------

@pytest.fixture
def install_with_a_space(tmp_path: Path, monkeypatch) -> Path:
    """adieu's data files copied to a folder whose path has a space and
    non-ASCII letters ("C:\\Users\\Jane Doe\\..."), used as the install."""
    root = tmp_path / "Jane Doé" / "share" / "adieu"
    for folder in ("schemas", "policies", "docs"):
        (root / folder).mkdir(parents=True)
        for p in (ROOT / folder).iterdir():
            if p.is_file():
                (root / folder / p.name).write_bytes(p.read_bytes())
    monkeypatch.setattr(resources, "data_root", lambda: root)
    return root


def test_init_modeline_is_a_file_uri_for_an_install_path_with_a_space(
        tmp_path: Path, install_with_a_space: Path):
    target = tmp_path / "proj"
    assert run("init", str(target)).exit_code == 0
    for name, schema in [("policy.yaml", "policy"), ("policy.test.yaml", "policy-test"),
                         ("customers.mapping.yaml", "mapping")]:
        first = (target / name).read_text(encoding="utf-8").splitlines()[0]
        # the YAML language server reads the value as /\$schema=\S+/
        value = re.search(r"\$schema=(\S+)", first).group(1)
        assert first.endswith(value), f"{name}: the value stops at a blank: {first}"
        uri = urlparse(value)
        assert uri.scheme == "file" and " " not in value
        assert Path(url2pathname(uri.path)) == \
            (install_with_a_space / "schemas" / f"{schema}.schema.json").resolve()


# -- Q: documents reachable from an install -----------------------------------------

def test_docs_are_installed_with_the_wheel_and_served_by_adieu_docs(
        install_with_a_space: Path):
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert '"share/adieu/docs" = ["docs/*.md"]' in text
    result = run("docs", "sources", "--path")
    assert result.exit_code == 0, result.output
    assert result.output == f"{install_with_a_space / 'docs' / 'sources.md'}\n"
    assert run("docs", "docs/ops-guide.md").output == \
        (ROOT / "docs" / "ops-guide.md").read_text(encoding="utf-8")
    listed = run("docs").output.splitlines()
    assert [line.split()[0] for line in listed] == \
        sorted(p.stem for p in (ROOT / "docs").glob("*.md"))
    bad = run("docs", "nope")
    assert bad.exit_code == 2 and bad.output.startswith("Error: unknown document 'nope' (")


def test_starter_files_say_how_to_read_the_documents_they_name(tmp_path: Path):
    assert run("init", str(tmp_path)).exit_code == 0
    mapping = (tmp_path / "customers.mapping.yaml").read_text(encoding="utf-8")
    assert "docs/sources.md (`adieu docs sources`)" in mapping
    for path in tmp_path.glob("*.yaml"):
        for name in re.findall(r"`adieu docs ([\w-]+)`", path.read_text(encoding="utf-8")):
            assert run("docs", name, "--path").exit_code == 0, name
    assert "`adieu docs sources` prints that one" in " ".join(run("--help").output.split())


# -- C: init's files fit adieu validate and the pre-commit hooks ----------------------

def hooks() -> dict[str, dict]:
    text = (ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8")
    return {h["id"]: h for h in yaml.safe_load(text)}


def selected(hook: dict, names: list[str]) -> list[str]:
    """The files pre-commit gives (or would start) a hook with: re.search of
    `files`, minus `exclude` (pre-commit's own matching)."""
    return [n for n in names if re.search(hook["files"], n)
            and not re.search(hook.get("exclude", "^$"), n)]


@pytest.mark.parametrize("folder", [".", "policies", "starter"])
def test_init_layout_fits_the_hooks_and_validate(tmp_path: Path, monkeypatch, folder: str):
    monkeypatch.chdir(tmp_path)
    assert run("init", folder).exit_code == 0
    names = sorted(str(p.relative_to(tmp_path)).replace(os.sep, "/")
                   for p in tmp_path.rglob("*") if p.is_file())
    prefix = "" if folder == "." else f"{folder}/"
    assert names == [prefix + n for n in INIT_FILES]
    validate, test = hooks()["adieu-validate"], hooks()["adieu-test"]
    # the policy (and, under policies/, the mapping: validate checks it as one)
    assert prefix + "policy.yaml" in selected(validate, names)
    assert all(n.endswith(("policy.yaml", ".mapping.yaml")) for n in selected(validate, names))
    # adieu-test tests the whole repository on every commit: init's policy at 100%
    assert (test["entry"], test["always_run"]) == ("adieu test .", True)
    result = run("test", ".", "--coverage-min", "100")
    assert result.exit_code == 0, result.output
    assert f"coverage of {prefix}policy.yaml: 100.0% " in result.output
    result = run("validate", *selected(validate, names))
    assert result.exit_code == 0, result.output
    yaml_files = [n for n in names if n.endswith(".yaml")]
    result = run("validate", *yaml_files)
    assert result.exit_code == 0, result.output
    assert f"{prefix}customers.mapping.yaml: ok (mapping: " in result.output
    assert f"{prefix}policy.test.yaml: ok (policy test file: 28 cases" in result.output
    assert f"{prefix}policy.yaml: ok (13 rules" in result.output


def test_validate_checks_a_mapping_or_test_file_known_by_its_schema_line(tmp_path: Path):
    assert run("init", str(tmp_path)).exit_code == 0
    mapping = tmp_path / "customers.mapping.yaml"
    renamed = tmp_path / "crm.yaml"  # no telling name: the $schema= line says mapping
    renamed.write_text(mapping.read_text(encoding="utf-8") + "optoins: {}\n",
                       encoding="utf-8")
    result = run("validate", str(renamed))
    assert result.exit_code == 1
    assert result.output.startswith(f"{renamed}:")
    # judged as a mapping (its keys), not as a policy (no complaint about rules)
    assert "unknown key 'optoins'" in result.output and "did you mean 'options'" in result.output
    assert "rules" not in result.output
    tests = tmp_path / "policy.test.yaml"
    tests.write_text(tests.read_text(encoding="utf-8").replace("as_of:", "asof:", 1),
                     encoding="utf-8")
    result = run("validate", str(tests))
    assert result.exit_code == 1
    assert "unknown key 'asof' (did you mean 'as_of'?)" in result.output


# -- J: all or nothing ------------------------------------------------------------------

def _failing_writer(monkeypatch, after: int) -> None:
    real = starter._write_temporary
    calls = []

    def write(directory: Path, f: starter.StarterFile) -> Path:
        calls.append(f.name)
        if len(calls) > after:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(directory, f)

    monkeypatch.setattr(starter, "_write_temporary", write)


def test_init_that_fails_writing_leaves_nothing_and_a_retry_works(tmp_path: Path,
                                                                    monkeypatch):
    target = tmp_path / "s"
    _failing_writer(monkeypatch, after=2)
    result = run("init", str(target))
    assert result.exit_code == 2
    assert result.output == (f"Error: {target / 'customers.mapping.yaml'}: cannot write: "
                             "No space left on device; nothing was written\n")
    assert not target.exists()  # the folder it made is gone too
    monkeypatch.undo()
    assert run("init", str(target)).exit_code == 0
    assert sorted(p.name for p in target.iterdir()) == INIT_FILES


def test_init_force_that_fails_keeps_the_files_that_were_there(tmp_path: Path, monkeypatch):
    (tmp_path / "policy.yaml").write_text("mine\n", encoding="utf-8")
    _failing_writer(monkeypatch, after=3)
    result = run("init", "--force", str(tmp_path))
    assert result.exit_code == 2 and result.output.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["policy.yaml"]
    assert (tmp_path / "policy.yaml").read_text(encoding="utf-8") == "mine\n"


def test_init_over_a_folder_named_like_a_file_writes_nothing_even_with_force(tmp_path: Path):
    (tmp_path / "customers.mapping.yaml").mkdir()
    result = run("init", "--force", str(tmp_path))
    assert result.exit_code == 2
    assert result.output == (f"Error: {tmp_path / 'customers.mapping.yaml'}: is a folder; "
                             "nothing was written\n")
    assert [p.name for p in tmp_path.iterdir()] == ["customers.mapping.yaml"]


# -- F: the printed commands run for any folder name -----------------------------------

@pytest.mark.parametrize("folder", ["-x", "--db", "it's \"quoted\"", "two words", "$(id)"])
def test_printed_commands_run_as_printed_for_odd_folder_names(tmp_path: Path, monkeypatch,
                                                               folder: str):
    monkeypatch.chdir(tmp_path)
    result = run("init", "--", folder)
    assert result.exit_code == 0, result.output
    commands = next_commands(result.output)
    validate, test, evaluate = commands
    for words in (validate, test):
        out = run(*words[1:])
        assert out.exit_code == 0, f"{shlex.join(words)}: {out.output}"
    paths = [w for w in evaluate[2:] if not w.startswith("--")]
    assert [Path(p.removeprefix("csv:")).resolve() for p in paths] == \
        [(tmp_path / folder / n).resolve() for n in
         ("policy.yaml", "customers.csv", "customers.mapping.yaml", "adieu.db")]


@pytest.mark.parametrize("folder", ["we\nird", "tab\there", "esc\x1b[31m"])
def test_a_folder_name_that_cannot_be_shown_on_one_line_is_refused(tmp_path: Path,
                                                                    monkeypatch, folder: str):
    monkeypatch.chdir(tmp_path)
    result = run("init", folder)
    assert result.exit_code == 2
    assert result.output.count("\n") == 1
    assert "the folder name contains a control character (U+00" in result.output
    assert list(tmp_path.iterdir()) == []


def test_an_empty_folder_name_and_a_dangling_link_are_refused(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("init", "")
    assert result.exit_code == 2 and "an empty folder name" in result.output
    (tmp_path / "dangling").symlink_to(tmp_path / "nonexistent")
    result = run("init", "dangling")
    assert result.exit_code == 2
    assert result.output == (f"Error: dangling: is a link to {tmp_path / 'nonexistent'}, "
                             "which does not exist\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dangling"]


# -- G: adieu policies lines up its columns ----------------------------------------------

def test_policies_columns_line_up():
    lines = run("policies").output.splitlines()
    starts = {line.index("/") if "tests: " not in line else line.index("tests: ")
              for line in lines}
    assert len(starts) == 1, lines
