"""Fuzz targets: the mapping loader (engine/mapping.py) and the policy-test
loader (engine/policytest_load.py), on random YAML documents and on line-level
mutations of the shipped files (plugins/mappings/*.yaml,
policies/default.test.yaml): loading either succeeds or raises adieu's error
type (MappingErrors / TestFileErrors, exit code 2; a broken policy named by a
test file: PolicyErrors) whose every finding names the file and where in it."""

from __future__ import annotations

import shutil
from pathlib import Path

from fuzzing import located, one_line, targets
from fuzzing.strategies import mutated_lines, yaml_documents
from hypothesis import strategies as st

from adieu.errors import AdieuError, InputError, PolicyErrors
from adieu.mapping import load_mapping
from adieu.policy import canonical_facts
from adieu.policytest_load import TestFileErrors, load_test_file

REPO = Path(__file__).resolve().parent.parent
MAPPINGS = {p.name: p.read_text(encoding="utf-8")
            for p in sorted((REPO / "plugins" / "mappings").glob("*.yaml"))}
TEST_FILE = (REPO / "policies" / "default.test.yaml").read_text(encoding="utf-8")
FACTS = canonical_facts()


def _must_locate(exc: AdieuError, name: str) -> None:
    assert located(exc), str(exc)
    assert one_line(exc), str(exc)
    assert exc.exit_code == 2 or isinstance(exc, PolicyErrors), (exc.exit_code, str(exc))
    members = getattr(exc, "errors", [exc])
    assert all(name in (e.location.file or "") for e in members
               if not isinstance(exc, PolicyErrors)), str(exc)


def check_mapping(tmp_path_factory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("map") / "mapping.yaml"
    path.write_bytes(data)
    try:
        load_mapping(path, FACTS)
    except InputError as exc:  # MappingErrors, or one InputError for unreadable YAML
        _must_locate(exc, "mapping.yaml")


_mapping_bytes = st.one_of(
    yaml_documents.map(lambda t: t.encode("utf-8", "surrogatepass")),
    *(mutated_lines(text) for text in MAPPINGS.values()))

test_mapping_loader, test_mapping_loader_fuzz = targets(data=_mapping_bytes)(check_mapping)


def check_policy_test_file(tmp_path_factory, data: bytes) -> None:
    folder = tmp_path_factory.mktemp("ptest")
    shutil.copy(REPO / "policies" / "default.yaml", folder / "default.yaml")
    path = folder / "mutant.test.yaml"
    path.write_bytes(data)
    try:
        load_test_file(path)
    except (TestFileErrors, PolicyErrors) as exc:
        _must_locate(exc, "mutant.test.yaml")


_test_bytes = st.one_of(yaml_documents.map(lambda t: t.encode("utf-8", "surrogatepass")),
                        mutated_lines(TEST_FILE), mutated_lines(TEST_FILE))

test_policy_test_loader, test_policy_test_loader_fuzz = targets(
    data=_test_bytes)(check_policy_test_file)
