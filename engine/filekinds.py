"""Which YAML file is what: a policy test file, a mapping, a policy
(`adieu validate` checks each as what it is), and which YAML files found
in a folder are policies (`adieu test` counts those that no test file
tests). One place, so validate, test and the pre-commit hooks agree."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from .yamlpos import MAX_FILE_BYTES

MODELINE_SCHEMA = re.compile(r"#\s*yaml-language-server:\s*\$schema=(\S+)")
TEST_SUFFIXES = (".test.yaml", ".test.yml")
MAPPING_SUFFIXES = (".mapping.yaml", ".mapping.yml")
YAML_SUFFIXES = (".yaml", ".yml")
# The top-level keys every policy has (schemas/policy.schema.json `required`).
POLICY_KEYS = ("name", "version", "rules")
_TOP_KEY = re.compile(r"""^["']?(name|version|rules)["']?[ \t]*:""", re.MULTILINE)


def _modeline_schema(path: str) -> str | None:
    """The schema file the first line names (`# yaml-language-server:
    $schema=.../policy.schema.json` -> "policy.schema.json"), "" when it
    names none, None when the file cannot be read."""
    try:
        with open(path, encoding="utf-8-sig", errors="replace") as f:
            first = f.readline(4096)
    except OSError:
        return None
    m = MODELINE_SCHEMA.match(first)
    return m.group(1).rsplit("/", 1)[-1] if m else ""


def file_kind(path: str) -> str:
    """"test" for a policy test file, "mapping" for a mapping file, else
    "policy". By the file name first (*.test.yaml, *.mapping.yaml: the
    names `adieu init` writes and the pre-commit hooks tell apart), then
    by the schema its first line names (`# yaml-language-server:
    $schema=.../policy-test.schema.json` or mapping.schema.json)."""
    name = Path(path).name.lower()
    if name.endswith(TEST_SUFFIXES):
        return "test"
    if name.endswith(MAPPING_SUFFIXES):
        return "mapping"
    if not os.path.isfile(path):  # a FIFO would block the read; the loader refuses it
        return "policy"
    schema = _modeline_schema(path)  # None: the policy loader reports why it cannot be read
    return {"policy-test.schema.json": "test",
            "mapping.schema.json": "mapping"}.get(schema or "", "policy")


def is_policy(path: str) -> bool:
    """True for a YAML file found in a folder that is a policy: a regular
    file named *.yaml / *.yml that file_kind calls a policy, and whose
    first line names policy.schema.json or whose text has the top-level
    keys every policy has (name, version, rules), so other YAML (CI
    configuration, a docs config, notes) is not taken for a policy. A
    policy that is not valid but has those keys is still a policy."""
    if not path.lower().endswith(YAML_SUFFIXES) or not os.path.isfile(path) \
            or file_kind(path) != "policy":
        return False
    if _modeline_schema(path) == "policy.schema.json":
        return True
    try:
        with open(path, encoding="utf-8-sig", errors="replace") as f:
            text = f.read(MAX_FILE_BYTES + 1)
    except OSError:
        return False
    return set(_TOP_KEY.findall(text)) == set(POLICY_KEYS)


def find_policies(paths: Iterable[str]) -> list[str]:
    """The policies (is_policy) under the directories among paths, sorted,
    not looking into hidden directories (.git, .venv) nor at hidden files
    (.pre-commit-config.yaml). Paths that are files are not searched."""
    found: list[str] = []
    for p in paths:
        if os.path.isdir(p):
            found.extend(sorted(f for f in walk(Path(p)) if is_policy(f)))
    return list(dict.fromkeys(found))


def walk(top: Path) -> Iterator[str]:
    """Every file under top, hidden directories and files left out."""
    for folder, dirs, files in os.walk(top):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith("."):
                yield str(Path(folder, name))  # ./x/p.yaml as x/p.yaml
