"""Getting started: `adieu init` writes starter files whose printed next
commands work as printed, `adieu policies` lists the shipped policies,
`adieu schema` serves every shipped schema, `python -m adieu` is adieu,
and the schemas' `$id` resolves against where the schema was read from."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from adieu import resources
from adieu.cli import cli

ROOT = Path(__file__).resolve().parents[1]
MODELINE = re.compile(r"\A# yaml-language-server: \$schema=(\S+)\n")


def run(*args: str):
    return CliRunner().invoke(cli, list(args), prog_name="adieu")


def next_commands(output: str) -> list[list[str]]:
    lines = output.split("Next:\n", 1)[1].splitlines()
    return [shlex.split(line) for line in lines if line.strip()]


@pytest.mark.parametrize("folder", [".", "proj", "two words/sub"])
def test_init_then_the_printed_commands_work_as_printed(tmp_path: Path, monkeypatch,
                                                          folder: str):
    monkeypatch.chdir(tmp_path)
    result = run("init", *([] if folder == "." else [folder]))
    assert result.exit_code == 0, result.output
    commands = next_commands(result.output)
    assert [c[:2] for c in commands] == [["adieu", "validate"], ["adieu", "test"],
                                         ["adieu", "evaluate"]]
    written = sorted(p.name for p in (tmp_path / folder).iterdir())
    assert written == ["customers.csv", "customers.mapping.yaml", "policy.test.yaml",
                       "policy.yaml"]
    outputs = []
    for words in commands:
        out = run(*words[1:])
        assert out.exit_code == 0, f"{shlex.join(words)}: {out.output}"
        outputs.append(out.output)
    assert "ok (13 rules" in outputs[0]
    assert re.search(r"28 passed, 0 failed", outputs[1])
    assert "25 customers decided, 0 rows rejected" in outputs[2]
    db = tmp_path / folder / "adieu.db"
    assert db.is_file()  # the database lands in the starter folder
    assert not (tmp_path / "adieu.db").exists() or folder == "."


def test_init_modelines_name_installed_schemas_that_accept_the_file(tmp_path: Path):
    assert run("init", str(tmp_path)).exit_code == 0
    expected = {"policy.yaml": "policy.schema.json",
                "policy.test.yaml": "policy-test.schema.json",
                "customers.mapping.yaml": "mapping.schema.json"}
    for name, schema_name in expected.items():
        text = (tmp_path / name).read_text(encoding="utf-8")
        m = MODELINE.match(text)
        assert m, f"{name} has no yaml-language-server modeline on its first line"
        uri = urlparse(m.group(1))
        assert uri.scheme == "file", m.group(1)
        schema_file = Path(url2pathname(uri.path))
        assert schema_file.is_absolute() and schema_file.is_file()
        assert schema_file == resources.schema_path(schema_name).resolve()
        schema = json.loads(schema_file.read_text(encoding="utf-8"))
        jsonschema.Draft202012Validator(schema).validate(yaml.safe_load(text))
        assert text.count("yaml-language-server") == 1


def test_init_starter_policy_is_the_shipped_default(tmp_path: Path):
    assert run("init", str(tmp_path)).exit_code == 0
    shipped = resources.policy_path("default.yaml").read_text(encoding="utf-8")
    written = (tmp_path / "policy.yaml").read_text(encoding="utf-8")
    assert yaml.safe_load(written) == yaml.safe_load(shipped)
    tests = yaml.safe_load((tmp_path / "policy.test.yaml").read_text(encoding="utf-8"))
    assert tests["policy"] == "policy.yaml"


@pytest.mark.parametrize("existing", ["policy.yaml", "policy.test.yaml",
                                      "customers.mapping.yaml", "customers.csv"])
def test_init_refuses_to_overwrite_naming_the_file(tmp_path: Path, existing: str):
    (tmp_path / existing).write_text("mine\n", encoding="utf-8")
    result = run("init", str(tmp_path))
    assert result.exit_code == 2
    assert result.output == (f"Error: {tmp_path / existing}: already exists; nothing was "
                             "written (--force overwrites it)\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == [existing]  # nothing written
    assert (tmp_path / existing).read_text(encoding="utf-8") == "mine\n"


def test_init_force_overwrites(tmp_path: Path):
    (tmp_path / "policy.yaml").write_text("mine\n", encoding="utf-8")
    result = run("init", "--force", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "policy.yaml").read_text(encoding="utf-8").startswith(
        "# yaml-language-server: ")


def test_init_force_replaces_a_link_without_writing_through_it(tmp_path: Path):
    outside = tmp_path / "outside.yaml"
    outside.write_text("keep me\n", encoding="utf-8")
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "policy.yaml").symlink_to(outside)
    assert run("init", "--force", str(tmp_path / "proj")).exit_code == 0
    assert outside.read_text(encoding="utf-8") == "keep me\n"
    assert not (tmp_path / "proj" / "policy.yaml").is_symlink()


def test_init_into_a_file_is_exit_2(tmp_path: Path):
    target = tmp_path / "afile"
    target.write_text("", encoding="utf-8")
    result = run("init", str(target))
    assert result.exit_code == 2
    assert result.output == f"Error: {target}: is not a folder (adieu init DIR writes its " \
                            "files into a folder)\n"


# -- adieu policies -----------------------------------------------------------

def test_policies_lists_shipped_policies_as_json():
    result = run("policies", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    names = [r["name"] for r in rows]
    assert names == sorted(p.stem for p in (resources.data_root() / "policies").glob("*.yaml")
                           if not p.name.endswith(".test.yaml"))
    assert {"default", "strict"} <= set(names)
    for r in rows:
        assert set(r) == {"name", "policy_name", "policy_version", "path", "test_path"}
        path = Path(r["path"])
        assert path.is_file() and path == resources.policy_path(f"{r['name']}.yaml")
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert r["policy_name"] == doc["name"]
        assert r["policy_version"] == str(doc["version"])
        assert r["test_path"] is None or Path(r["test_path"]).is_file()


def test_policies_json_matches_its_schema():
    schema = resources.load_schema("policies.output.schema.json")
    rows = json.loads(run("policies", "--json").output)
    jsonschema.Draft202012Validator(schema).validate(rows)
    renamed = [{("version" if k == "policy_version" else k): v for k, v in r.items()}
               for r in rows]
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(renamed))


def test_policies_text_names_each_policy_and_its_file():
    result = run("policies")
    assert result.exit_code == 0
    for row in json.loads(run("policies", "--json").output):
        assert re.search(rf"^{row['name']}\s+v{re.escape(row['policy_version'])}\s+"
                         rf"{re.escape(row['path'])}$", result.output, re.M)


# -- adieu schema -------------------------------------------------------------

SCHEMA_FILES = sorted((ROOT / "schemas").glob("*.schema.json"))


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.name)
def test_schema_prints_every_shipped_schema(path: Path):
    name = path.name[: -len(".schema.json")]
    result = run("schema", name)
    assert result.exit_code == 0, result.output
    assert result.output == path.read_text(encoding="utf-8")
    assert run("schema", path.name).output == result.output
    assert run("schema", name, "--path").output == f"{resources.schema_path(path.name)}\n"


def test_schema_aliases_and_the_issue_names():
    assert json.loads(run("schema", "test").output)["title"] == \
        resources.load_schema("policy-test.schema.json")["title"]
    for name in ("policy", "mapping", "test", "customer"):
        assert run("schema", name).exit_code == 0, name


def test_schema_serves_a_schema_added_later(tmp_path: Path, monkeypatch):
    """Schemas are found in the folder, not from a list in the code."""
    for p in SCHEMA_FILES:
        (tmp_path / "schemas").mkdir(exist_ok=True)
        (tmp_path / "schemas" / p.name).write_bytes(p.read_bytes())
    (tmp_path / "schemas" / "widget.output.schema.json").write_text('{"title": "w"}\n')
    monkeypatch.setattr(resources, "data_root", lambda: tmp_path)
    assert run("schema", "widget.output").output == '{"title": "w"}\n'
    assert "widget.output" in run("schema", "--list").output


def test_schema_unknown_name_is_exit_2_listing_the_names():
    result = run("schema", "polcy")
    assert result.exit_code == 2
    names = ", ".join([p.name[: -len(".schema.json")] for p in SCHEMA_FILES] + ["test"])
    assert result.output == f"Error: unknown schema 'polcy' (known: {names})\n"
    result = run("schema")
    assert result.exit_code == 2
    assert f"give a schema name: {names} (or --list)" in result.output


def test_schema_list_gives_names_and_files():
    result = run("schema", "--list")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert [line.split()[0] for line in lines] == \
        [p.name[: -len(".schema.json")] for p in SCHEMA_FILES]
    for line in lines:
        assert Path(line.split()[1]).is_file()


# -- $id ------------------------------------------------------------------------

@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.name)
def test_schema_id_is_its_file_name(path: Path):
    """A relative $id resolves against the schema's retrieval URI (JSON
    Schema 2020-12, section 8.2.1): the installed file itself, never a
    domain that does not exist."""
    schema = json.loads(path.read_text(encoding="utf-8"))
    assert schema["$id"] == path.name
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


def test_relative_id_keeps_local_refs_working():
    """`$ref: "#/$defs/date"` in the policy test schema still resolves."""
    validator = jsonschema.Draft202012Validator(resources.load_schema(
        "policy-test.schema.json"))
    errors = list(validator.iter_errors({"policy": "p.yaml", "as_of": "yesterday",
                                         "cases": []}))
    assert errors and any(e.validator in ("pattern", "format", "type") for e in errors)


def test_schema_registry_resolves_a_ref_by_file_name():
    """A schema that refers to another shipped schema by file name (as the
    output schemas do) resolves through resources.schema_registry()."""
    wrapper = {"$schema": "https://json-schema.org/draft/2020-12/schema",
               "$id": "wrapper.schema.json", "type": "array",
               "items": {"$ref": "customer.schema.json"}}
    validator = jsonschema.Draft202012Validator(wrapper,
                                                registry=resources.schema_registry())
    assert list(validator.iter_errors([{"customer_id": "C-1"}])) == []
    assert list(validator.iter_errors([{"revenue_12m": 1}]))


# -- python -m adieu ------------------------------------------------------------

def test_python_m_adieu_is_adieu():
    out = subprocess.run([sys.executable, "-m", "adieu", "--help"], capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("Usage: adieu [OPTIONS] COMMAND [ARGS]...")
    assert "  init " in out.stdout and "  schema " in out.stdout


# -- README's first screen --------------------------------------------------------

def readme_getting_started() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Getting started\n", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None
    lines = block.group(1).replace("\\\n", " ").splitlines()
    return [shlex.split(line, comments=True) for line in lines if line.strip()]


def test_readme_first_screen_adieu_commands_run_in_order(tmp_path: Path, monkeypatch):
    """The new-user path of README's first screen: init, validate, test,
    evaluate work as written (pip, datasette and serve are other tests')."""
    monkeypatch.chdir(tmp_path)
    commands = [words for words in readme_getting_started() if words[0] == "adieu"]
    assert [w[1] for w in commands][:4] == ["init", "validate", "test", "evaluate"]
    for words in commands:
        if words[1] == "serve":
            continue
        result = run(*words[1:])
        assert result.exit_code == 0, f"{shlex.join(words)}: {result.output}"
    assert (tmp_path / "starter" / "adieu.db").is_file()


def test_readme_exit_codes_are_the_help_text():
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    help_text = " ".join(run("--help").output.split())
    sentence = re.search(r"Exit codes: 0 ok, 1 findings \([^)]*\), 2 usage or input errors "
                         r"\([^)]*\)", help_text)
    assert sentence is not None
    assert sentence.group(0) in readme


def test_init_under_a_file_is_exit_2_naming_the_folder(tmp_path: Path):
    (tmp_path / "afile").write_text("", encoding="utf-8")
    target = tmp_path / "afile" / "proj"
    result = run("init", str(target))
    assert result.exit_code == 2
    assert result.output == f"Error: {target}: cannot make the folder: Not a directory\n"
