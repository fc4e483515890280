"""Which YAML file is what: a policy test file, a mapping, a policy
(`adieu validate` checks each as what it is), and which YAML files found
in a folder are policies (`adieu test` counts those that no test file
tests). One place, so validate, test and the pre-commit hooks agree."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

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
    file named *.yaml / *.yml that file_kind calls a policy, and either
    - its first line names policy.schema.json, or
    - read with the policy loader (YAML 1.2, safely), it is a mapping with
      the top-level keys every policy has (name, version, rules), and
      `rules` is a list with at least one rule of adieu's shape (a mapping
      with `id` and `when`), in any YAML style (block, flow, JSON); or
    - it cannot be read as YAML at all (a policy with a syntax error) and
      its text has those three keys at the start of lines.
    So other YAML (CI configuration, docker-compose, a Kubernetes Role,
    another tool's `rules:` of a different shape) is not taken for a
    policy; a policy that is not valid but has that shape still is."""
    if not path.lower().endswith(YAML_SUFFIXES) or not os.path.isfile(path) \
            or file_kind(path) != "policy":
        return False
    if _modeline_schema(path) == "policy.schema.json":
        return True
    from .errors import AdieuError
    from .yamlpos import load_with_positions, read_text

    try:
        text = read_text(path, "policy")
    except (AdieuError, OSError):
        return False
    try:
        doc, _pos = load_with_positions(text, path)
    except AdieuError:  # not YAML the loader reads: judge by the text
        return set(_TOP_KEY.findall(text)) == set(POLICY_KEYS)
    if not isinstance(doc, dict) or not all(k in doc for k in POLICY_KEYS):
        return False
    rules = doc["rules"]
    return isinstance(rules, list) and any(
        isinstance(r, dict) and "id" in r and "when" in r for r in rules)


def find_policies(paths: Iterable[str], skipped: list[str] | None = None) -> list[str]:
    """The policies (is_policy) under the directories among paths, sorted,
    not looking into hidden directories (.git, .venv) nor at hidden files
    (.pre-commit-config.yaml), following symlinked directories inside the
    project (walk); those not followed are appended to skipped. Paths that
    are files are not searched."""
    found: list[str] = []
    for p in paths:
        if os.path.isdir(p):
            found.extend(sorted(f for f in walk_noting(Path(p), skipped if skipped is not None
                                                       else []) if is_policy(f)))
    return list(dict.fromkeys(found))


def walk(top: Path) -> Iterator[str]:
    """Every file under top, hidden directories and files left out.
    Symlinked directories are followed when they lead inside top's project
    (policytest_files.project_root), each real folder once (no loops); one
    leading outside it is not followed, and is named in `skipped` by
    walk_noting."""
    yield from walk_noting(top, [])


def walk_noting(top: Path, skipped: list[str]) -> Iterator[str]:
    """walk, appending to skipped each symlinked directory not followed
    (it leads outside top's project)."""
    from .policytest_files import project_root

    root, _words = project_root(top / "x")
    seen = {os.path.realpath(top)}
    for folder, dirs, files in os.walk(top, followlinks=True):
        keep = []
        for d in sorted(d for d in dirs if not d.startswith(".")):
            path = os.path.join(folder, d)
            real = os.path.realpath(path)
            if real in seen:
                continue  # a loop, or a folder already walked through another link
            if os.path.islink(path) and not Path(real).is_relative_to(root):
                skipped.append(path)
                continue
            seen.add(real)
            keep.append(d)
        dirs[:] = keep
        for name in sorted(files):
            if not name.startswith("."):
                yield str(Path(folder, name))  # ./x/p.yaml as x/p.yaml
