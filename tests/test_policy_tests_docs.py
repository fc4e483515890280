"""docs/policy-tests.md and the ops guide's "Testing a policy" section do
what they say: every test-file example runs, every console example gives
its output, every key of schemas/policy-test.schema.json is documented."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import docrun
import pytest
from conftest import REPO

DOC = REPO / "docs" / "policy-tests.md"
GUIDE = REPO / "docs" / "ops-guide.md"
FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)
BIN = str(Path(sys.executable).parent)


def blocks(text: str, info: str) -> list[str]:
    return [m.group(2) for m in FENCE.finditer(text) if m.group(1).strip() == info]


@pytest.fixture
def sandbox(tmp_path: Path) -> Path:
    """A directory holding copies of policies/ and examples/, as the ops
    guide's examples expect."""
    shutil.copytree(REPO / "policies", tmp_path / "policies")
    shutil.copytree(REPO / "examples", tmp_path / "examples",
                    ignore=shutil.ignore_patterns("*.db", "*.db-*"))
    return tmp_path


def run_console(block: str, cwd: Path) -> None:
    """Run each `$ ` line with bash and compare stdout+stderr with the lines
    after it: `...` alone matches any lines, `...` in a line any text."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADIEU_")}
    env.update(COLUMNS="100", PATH=BIN + os.pathsep + env.get("PATH", ""))
    steps: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        else:
            steps[-1][1].append(line)
    for command, expected in steps:
        done = subprocess.run(["bash", "-c", command], cwd=cwd, capture_output=True, text=True,
                              env=env, timeout=300)
        got = (done.stdout + done.stderr).rstrip("\n")
        got = got + "\n" if got else ""
        assert docrun.matches(expected, got.splitlines()), f"$ {command}\n--- expected\n" + \
            "\n".join(expected) + "\n--- got\n" + got


def test_the_console_matcher_can_fail(tmp_path: Path):
    run_console("$ echo a; echo b; echo c\na\n...\nc", tmp_path)
    with pytest.raises(AssertionError):
        run_console("$ echo a; echo b\na\nc", tmp_path)


def test_every_passing_example_passes(sandbox: Path):
    examples = blocks(DOC.read_text(encoding="utf-8"), "yaml policy-test")
    assert examples
    for i, text in enumerate(examples):
        path = sandbox / "policies" / f"doc-{i}.test.yaml"
        path.write_text(text, encoding="utf-8")
        done = subprocess.run([f"{BIN}/adieu", "test", str(path), "--json"], cwd=sandbox,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        report = json.loads(done.stdout)
        assert report["failed"] == 0 and report["passed"] == len(report["cases"]) >= 3


def test_the_failing_example_gives_the_output_shown(sandbox: Path):
    text = DOC.read_text(encoding="utf-8")
    [failing] = blocks(text, "yaml policy-test-fails")
    (sandbox / "policies" / "late.test.yaml").write_text(failing, encoding="utf-8")
    consoles = blocks(text, "console")
    assert consoles
    for block in consoles:
        run_console(block, sandbox)


def test_the_ops_guide_section_sits_before_exit_codes():
    text = GUIDE.read_text(encoding="utf-8")
    headings = re.findall(r"^## (.*)$", text, re.M)
    assert headings.index("Testing a policy") < headings.index("What a change does: diff") \
        < headings.index("Exit codes")
    section = text.split("## Testing a policy\n", 1)[1].split("\n## ", 1)[0]
    assert len(blocks(section, "console")) == 2  # run by tests/test_ops_guide.py


def _keys(schema: dict) -> set[str]:
    out: set[str] = set()
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            out.update(node.get("properties", {}))
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return out


def test_every_key_of_the_schema_is_documented():
    schema = json.loads((REPO / "schemas" / "policy-test.schema.json").read_text())
    text = DOC.read_text(encoding="utf-8")
    keys = _keys(schema)
    assert {"policy", "population", "facts_from", "expect", "timing_basis"} <= keys
    for key in keys:
        assert f"`{key}`" in text or f"{key}:" in text, key


def test_the_pre_commit_advice_fits_the_hook():
    """adieu-test runs on every commit over the whole repository (h11 RC1:
    given only the changed files, a deleted test file left nothing to run
    and a test file pointed at another policy passed), so the doc's example
    for policies elsewhere sets `files:` on adieu-validate only."""
    import yaml

    hooks = {h["id"]: h for h in yaml.safe_load(
        (REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))}
    test_hook = hooks["adieu-test"]
    assert (test_hook["entry"], test_hook["pass_filenames"], test_hook["always_run"]) == \
        ("adieu test .", False, True)
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## From pre-commit\n", 1)[1].split("\n## ", 1)[0]
    examples = [yaml.safe_load(b) for b in re.findall(r"(?:^    .*\n)+", section, flags=re.M)]
    elsewhere = [e[0]["hooks"] for e in examples
                 if any("files" in h for h in e[0]["hooks"])]
    assert elsewhere, "no example for policies outside policies/"
    for listed in elsewhere:
        by_id = {h["id"]: h for h in listed}
        assert "files" in by_id["adieu-validate"] and "files" not in by_id["adieu-test"]
