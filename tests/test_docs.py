"""The documentation in docs/ is tested: its examples compile, it names every
policy key, function, fact, table, column and command, and the generated
parts (command help, facts table) are not stale."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import os
import re
import shlex
from pathlib import Path

import click
import cogapp
import pytest
import yaml

from adieu import resources
from adieu.cli import cli
from adieu.expr import (
    FACT_TYPES,
    POPULATION_FUNCTIONS,
    SCALAR_FUNCTIONS,
    UNKNOWN,
    Compiler,
    Context,
    ExprError,
    Names,
)
from adieu.policy import canonical_facts, compile_policy
from adieu.store import open_db

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
REFERENCE = DOCS / "policy-reference.md"
DATABASE = DOCS / "database.md"
CLI_DOC = DOCS / "cli.md"
README = ROOT / "README.md"

# The params that ```expr examples may use, besides the canonical facts. The
# reference states the same list in a comment at its top (checked below).
EXPR_PARAMS = {
    "hourly_rate": 65,
    "max_cost_ratio": 1.0,
    "late_payment_limit": 3,
    "staff_time_percentile": 90,
    "home_country": "DE",
    "review_enabled": True,
}

FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)


def doc_files() -> list[Path]:
    files = sorted(DOCS.glob("*.md"))
    assert files, "no documentation in docs/"
    return files


def fenced(path: Path, info: str) -> list[tuple[int, str]]:
    """(line number, body) of every fenced block whose info string is `info`."""
    text = path.read_text(encoding="utf-8")
    out = []
    for m in FENCE.finditer(text):
        if m.group(1).strip() == info:
            out.append((text.count("\n", 0, m.start()) + 1, m.group(2)))
    return out


def blocks(info: str) -> list[tuple[str, str]]:
    """(id, body) of every block marked `info` in docs/*.md, for parametrize."""
    return [(f"{path.name}:{line}", body) for path in doc_files()
            for line, body in fenced(path, info)]


def expr_lines(info: str) -> list[tuple[str, str]]:
    out = []
    for where, body in blocks(info):
        first = int(where.rsplit(":", 1)[1]) + 1
        for i, line in enumerate(body.splitlines()):
            if line.strip() and not line.lstrip().startswith("#"):
                out.append((f"{where.rsplit(':', 1)[0]}:{first + i}", line.strip()))
    return out


def compiler() -> Compiler:
    facts = {name: FACT_TYPES[t] for name, t in canonical_facts().items()}
    return Compiler(Names(facts, dict(EXPR_PARAMS)))


def backticked(text: str) -> set[str]:
    return set(re.findall(r"`([^`\n]+)`", text))


# -- (a) complete policies ---------------------------------------------------

POLICY_BLOCKS = blocks("yaml policy")


def test_docs_hold_policy_examples():
    assert len(POLICY_BLOCKS) >= 10
    assert any(where.startswith("policy-reference.md") for where, _ in POLICY_BLOCKS)
    assert any(where.startswith("ops-guide.md") for where, _ in POLICY_BLOCKS)


@pytest.mark.parametrize("where,text", POLICY_BLOCKS, ids=[w for w, _ in POLICY_BLOCKS])
def test_policy_example_compiles(where: str, text: str):
    policy = compile_policy(text, where)  # raises PolicyErrors with every finding
    assert policy.rules


# -- (b) expression snippets -------------------------------------------------

EXPR_LINES = expr_lines("expr")
INVALID_LINES = expr_lines("expr-invalid")


def test_reference_states_the_expr_params():
    text = REFERENCE.read_text(encoding="utf-8")
    m = re.search(r"^expr-params: (\{.*\})$", text, re.MULTILINE)
    assert m, "the reference must state the params its expr examples use"
    assert yaml.safe_load(m.group(1)) == EXPR_PARAMS


def test_docs_hold_expression_examples():
    assert len(EXPR_LINES) >= 50
    assert len(INVALID_LINES) >= 20


@pytest.mark.parametrize("where,line", EXPR_LINES, ids=[w for w, _ in EXPR_LINES])
def test_expr_example_compiles(where: str, line: str):
    try:
        compiler().compile(line)
    except ExprError as exc:
        pytest.fail(f"{where}: {line!r}: {exc.message}")


@pytest.mark.parametrize("where,line", INVALID_LINES, ids=[w for w, _ in INVALID_LINES])
def test_not_allowed_example_is_rejected(where: str, line: str):
    with pytest.raises(ExprError):
        compiler().compile(line)


def _truth(word: str) -> object:
    return {"true": True, "false": False, "unknown": UNKNOWN}[word]


def _table(text: str, header: list[str]) -> list[list[str]]:
    lines = text.splitlines()
    want = "| " + " | ".join(header) + " |"
    start = lines.index(want)
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip("|").split("|")])
    return rows


def _evaluate(text: str, a: object, b: object = None) -> object:
    """Evaluate `text` with outgrown = a and early_adopter = b (None: missing)."""
    compiled = compiler().compile(text)
    facts = {"customer_id": "X"}
    for name, value in (("outgrown", a), ("early_adopter", b)):
        if value is not UNKNOWN and value is not None:
            facts[name] = value
    ctx = Context(facts, dt.date(2026, 11, 1), None, {})
    return compiled.fn(ctx)


def test_truth_table_matches_the_engine():
    text = REFERENCE.read_text(encoding="utf-8")
    rows = _table(text, ["a", "b", "a and b", "a or b"])
    assert len(rows) == 9
    for a, b, conj, disj in rows:
        assert _evaluate("outgrown and early_adopter", _truth(a), _truth(b)) is _truth(conj)
        assert _evaluate("outgrown or early_adopter", _truth(a), _truth(b)) is _truth(disj)
    rows = _table(text, ["a", "not a"])
    assert len(rows) == 3
    for a, neg in rows:
        assert _evaluate("not outgrown", _truth(a)) is _truth(neg)


# -- (c) every key of the policy schema --------------------------------------

def schema_keys(node: object) -> set[str]:
    """Every property name in the schema, recursively (including $defs)."""
    keys: set[str] = set()
    if isinstance(node, dict):
        props = node.get("properties")
        if isinstance(props, dict):
            keys.update(props)
        for value in node.values():
            keys |= schema_keys(value)
    elif isinstance(node, list):
        for value in node:
            keys |= schema_keys(value)
    return keys


def test_every_policy_key_is_documented():
    keys = schema_keys(resources.load_schema("policy.schema.json"))
    assert {"version", "rules", "window_days", "expires", "max_referrals", "from"} <= keys
    documented = backticked(REFERENCE.read_text(encoding="utf-8"))
    missing = sorted(keys - documented)
    assert not missing, f"policy keys not in docs/policy-reference.md: {missing}"


# -- (d) every function ------------------------------------------------------

def test_every_function_is_documented_with_an_example():
    text = REFERENCE.read_text(encoding="utf-8")
    examples = " ".join(line for _, line in EXPR_LINES)
    for name in (*SCALAR_FUNCTIONS, *POPULATION_FUNCTIONS):
        heading = re.search(rf"^#+ .*\b{name}\(", text, re.MULTILINE)
        assert heading or f"`{name}(" in text, f"function {name}() is not documented"
        assert re.search(rf"\b{name}\(", examples), f"function {name}() has no expr example"


# -- (e) every canonical fact ------------------------------------------------

def test_every_canonical_fact_is_in_the_reference():
    documented = backticked(REFERENCE.read_text(encoding="utf-8"))
    facts = resources.load_schema("customer.schema.json")["properties"]
    missing = sorted(set(facts) - documented)
    assert not missing, f"canonical facts not in docs/policy-reference.md: {missing}"


# -- (f) every table and column of the store --------------------------------

def test_every_table_and_column_is_documented(tmp_path: Path):
    db = open_db(str(tmp_path / "fresh.db"))
    try:
        tables = [r[0] for r in db.execute(
            "select name from sqlite_master where type = 'table' "
            "and name not like 'sqlite_%' order by name").fetchall()]
        columns = {t: [r[1] for r in db.execute(f"pragma table_info([{t}])").fetchall()]
                   for t in tables}
    finally:
        db.close()
    assert {"runs", "run_decisions", "blobs", "rejects", "_sqlite_migrations"} <= set(tables)
    text = DATABASE.read_text(encoding="utf-8")
    sections = {m.group(1): m.end() for m in
                re.finditer(r"^## `([A-Za-z0-9_]+)`", text, re.MULTILINE)}
    for table in tables:
        assert table in sections, f"docs/database.md has no section '## `{table}`'"
        start = sections[table]
        nxt = text.find("\n## ", start)
        section = text[start: nxt if nxt != -1 else len(text)]
        missing = [c for c in columns[table] if f"`{c}`" not in section]
        assert not missing, f"columns of {table} not documented in its section: {missing}"


# -- (g) command help kept up to date by cog --------------------------------

def test_cli_doc_is_not_stale():
    here = os.getcwd()
    out, err = io.StringIO(), io.StringIO()
    try:
        os.chdir(ROOT)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = cogapp.Cog().main(
                ["cog", "--check", "--check-fail-msg=run: cog -r docs/*.md",
                 str(CLI_DOC), str(REFERENCE)])
    finally:
        os.chdir(here)
    assert status == 0, out.getvalue() + err.getvalue()


def all_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = []
    for name, command in sorted(group.commands.items()):
        out.append(prefix + (name,))
        if isinstance(command, click.Group):
            out.extend(all_commands(command, prefix + (name,)))
    return out


def test_every_command_is_in_the_cli_doc():
    text = CLI_DOC.read_text(encoding="utf-8")
    commands = all_commands(cli)
    assert {("validate",), ("evaluate",), ("explain",)} <= set(commands)
    for command in commands:
        words = " ".join(command)
        assert f"adieu {words} --help" in text, f"no help section for 'adieu {words}'"
        assert f"Usage: adieu {words} [OPTIONS]" in text, f"no usage of 'adieu {words}'"


# -- (h) example commands exist ----------------------------------------------

def example_commands(path: Path) -> list[str]:
    """Command lines of a Markdown file: `$ adieu ...` lines in fenced blocks
    and inline code spans that start with `adieu `."""
    text = path.read_text(encoding="utf-8")
    found = [m.group(1) for m in re.finditer(r"^\s*\$ (adieu\b.*)$", text, re.MULTILINE)]
    found += [m.group(1) for m in re.finditer(r"`(adieu [^`]+)`", text)]
    return [f.replace("\\|", "|") for f in found]


def check_command_line(line: str) -> None:
    words = shlex.split(line.split(" | ")[0].replace("[", " ").replace("]", " "))
    assert words[0] == "adieu"
    command: click.Command = cli
    path = []
    for word in words[1:]:
        if not isinstance(command, click.Group) or word.startswith("-"):
            break
        default = getattr(command, "default_command", None)
        if word not in command.commands and default in command.commands:
            command = command.commands[default]  # `adieu strikes CUST` runs `strikes show`
            path.append(default)
            break
        assert word in command.commands, f"{line!r}: 'adieu {' '.join(path + [word])}' " \
                                         "is not a command"
        command = command.commands[word]
        path.append(word)
    options = {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)}
    options |= {"--help", "-h"} | ({"--version"} if command is cli else set())
    for word in words[1:]:
        for flag in re.findall(r"(?:^|\|)(--?[a-z][a-z-]*)", word):
            assert flag in options, f"{line!r}: 'adieu {' '.join(path)}' has no option {flag}"


def test_readme_example_commands_exist():
    lines = example_commands(README)
    assert any(line.startswith("adieu evaluate") for line in lines)
    for line in lines:
        check_command_line(line)


@pytest.mark.parametrize("path", [p for p in sorted(DOCS.glob("*.md")) if p.name != "cli.md"],
                         ids=lambda p: p.name)
def test_doc_example_commands_exist(path: Path):
    for line in example_commands(path):
        check_command_line(line)


def test_command_checker_catches_a_wrong_command():
    with pytest.raises(AssertionError):
        check_command_line("adieu evalute policy.yaml")
    with pytest.raises(AssertionError):
        check_command_line("adieu explain CUST-0007 --as-of 2026-11-01")
    with pytest.raises(AssertionError):
        check_command_line("adieu audit verfy")
    check_command_line("adieu evaluate POLICY --source csv:PATH [--json|--csv]")


def test_readme_policy_example_compiles_and_matches_its_output():
    from adieu.policy import compile_policy

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```yaml\n(.*?)```", text, re.S)
    assert block is not None
    policy = compile_policy(block.group(1), "README.md")
    assert [r.id for r in policy.rules] == ["cost-exceeds-revenue", "abuse-of-staff"]
    assert f"policy 'small' v1 (sha256 {policy.sha256[:12]})" in text


def test_the_exit_code_table_is_one_table_covering_every_command():
    """One table (a merge once left two with conflicting rows), one row per
    code, naming the issue-11 commands."""
    text = CLI_DOC.read_text(encoding="utf-8")
    section = text.split("## Exit codes\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    assert rows[:2] == ["| code | meaning | examples |", "|---|---|---|"]
    assert [r.split("|")[1].strip() for r in rows[2:]] == ["0", "1", "2"]
    tables = re.findall(r"(?:^\|.*\n)+", section, flags=re.M)
    assert len(tables) == 1, "the exit-code section holds more than one table"
    for command in ("test", "diff", "runs", "brief", "report", "segments"):
        assert f"`{command}`" in section or f"`{command} " in section, command
