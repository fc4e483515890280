"""The README, docs/cli.md and `adieu --help` state the same exit codes, and
the findings they list (exit 1) are the commands that really exit 1.

Each of the three says it in one sentence, "Exit codes: 0 ok, 1 findings
(...), 2 usage or input errors"; wrapped differently, the same words."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from click.testing import CliRunner

from adieu.cli import cli

ROOT = Path(__file__).resolve().parent.parent
SENTENCE = re.compile(r"Exit codes: 0 ok, 1 findings \(([^)]*)\), 2 usage or input errors")

# Each finding of the sentence -> the commands whose exit 1 it names (in
# docs/cli.md's table row for code 1, in backquotes).
FINDINGS = {
    "invalid policy": ["validate", "evaluate", "test", "diff"],
    "failing policy test": ["test"],
    "broken audit trail": ["audit verify"],
    "replay differences": ["replay"],
}
# Functions in engine/cli that end with SystemExit(1) -> their finding.
EXIT_1_FUNCTIONS = {
    "validate": "invalid policy",
    "test": "failing policy test",
    "verify_cmd": "broken audit trail",
    "replay_cmd": "replay differences",
}


def _findings(text: str, where: str) -> list[str]:
    flat = " ".join(text.split())
    found = SENTENCE.findall(flat)
    assert len(found) == 1, f"{where}: expected one 'Exit codes: ...' sentence, found {found}"
    return [f.strip() for f in found[0].split(",")]


def _help() -> str:
    result = CliRunner().invoke(cli, ["--help"], prog_name="adieu", terminal_width=80)
    assert result.exit_code == 0, result.output
    return result.output


def test_readme_cli_doc_and_help_state_the_same_codes():
    readme = _findings((ROOT / "README.md").read_text(encoding="utf-8"), "README.md")
    doc = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    section = doc.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    in_doc = _findings(section, "docs/cli.md, Exit codes")
    in_help = _findings(_help(), "adieu --help")
    assert readme == in_doc == in_help == list(FINDINGS)


def test_cli_doc_table_names_each_finding_command():
    doc = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    rows = {m.group(1): m.group(2) for m in
            re.finditer(r"^\| ([012]) \| ([^|]+?) \|", doc, flags=re.MULTILINE)}
    assert rows == {"0": "done", "1": "findings", "2": "usage or input error"}
    row1 = next(line for line in doc.splitlines() if line.startswith("| 1 |"))
    for finding, commands in FINDINGS.items():
        for command in commands:
            assert f"`{command}" in row1, f"docs/cli.md exit 1 row lacks {command} ({finding})"


def test_ops_guide_table_names_each_finding_command():
    guide = (ROOT / "docs" / "ops-guide.md").read_text(encoding="utf-8")
    section = guide.split("\n## Exit codes\n", 1)[1].split("\n## ", 1)[0]
    row1 = next(line for line in section.splitlines() if line.startswith("| 1 | findings |"))
    for commands in FINDINGS.values():
        for command in commands:
            assert f"`adieu {command}" in row1 or f"`{command}" in row1, command


def test_the_help_of_each_command_with_findings_says_exit_1():
    for command in {c for commands in FINDINGS.values() for c in commands} - {"evaluate",
                                                                              "diff"}:
        result = CliRunner().invoke(cli, [*command.split(), "--help"], terminal_width=80)
        assert result.exit_code == 0, result.output
        assert re.search(r"\bexit 1\b", " ".join(result.output.split()), re.IGNORECASE), \
            f"adieu {command} --help does not say when it exits 1"


def test_every_exit_1_in_the_commands_is_a_listed_finding():
    """A new `raise SystemExit(1)` in a command must be named in the three
    texts (add it to FINDINGS and to the sentence everywhere)."""
    seen = set()
    for path in sorted((ROOT / "engine" / "cli").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for func in ast.walk(tree):
            if isinstance(func, ast.FunctionDef):
                for node in _own_nodes(func):
                    if _exits_1(node):
                        assert func.name in EXIT_1_FUNCTIONS, \
                            f"{path.name}: {func.name} exits 1: which finding is it?"
                        seen.add(func.name)
    assert seen == set(EXIT_1_FUNCTIONS)
    assert set(EXIT_1_FUNCTIONS.values()) <= set(FINDINGS)


def _own_nodes(func: ast.FunctionDef):
    """The nodes of a function's body, without those of functions nested in it."""
    todo = list(func.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        yield node
        todo.extend(ast.iter_child_nodes(node))


def _exits_1(node: ast.AST) -> bool:
    """`raise SystemExit(1)`."""
    return (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)
            and getattr(node.exc.func, "id", "") == "SystemExit" and len(node.exc.args) == 1
            and getattr(node.exc.args[0], "value", None) == 1)
