"""docs/security.md names, for each threat, the test that covers it: every
`tests/FILE.py` and `tests/FILE.py::NAME` it names must exist, so a renamed
or removed test cannot leave a threat silently uncovered."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "security.md"
REFERENCE = re.compile(r"`(tests/[A-Za-z0-9_]+\.py)(?:::([A-Za-z0-9_]+))?`")


def _test_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.name for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.name.startswith("test")}


def test_every_test_the_threat_model_names_exists() -> None:
    references = REFERENCE.findall(DOC.read_text(encoding="utf-8"))
    assert len(references) > 40
    missing = []
    for file, name in references:
        path = ROOT / file
        if not path.is_file():
            missing.append(file)
        elif name and name not in _test_names(path):
            missing.append(f"{file}::{name}")
    assert missing == []


def test_every_section_of_the_table_names_a_test() -> None:
    """Each table row of a threat ends in a cell naming at least one test."""
    rows = [line for line in DOC.read_text(encoding="utf-8").splitlines()
            if line.startswith("| ") and not line.startswith("| ---")]
    threat_rows = [r for r in rows if r.count("|") >= 3 and "Threat" not in r
                   and "Actor" not in r and "Target" not in r and "attacker" not in r
                   and not r.startswith("| **") and not r.startswith("| edits")
                   and not r.startswith("| drops") and not r.startswith("| deletes")
                   and not r.startswith("| strips") and not r.startswith("| holds")]
    assert threat_rows
    assert [r for r in threat_rows if "tests/" not in r] == []
