"""`adieu audit verify --help` says what the command really checks and
prints: every table the audit trail protects is named, and the lines it
promises are the lines a broken and an intact trail print."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from click.testing import CliRunner
from conftest import sql

from adieu.cli import cli


def help_text(runner: CliRunner) -> str:
    result = runner.invoke(cli, ["audit", "verify", "--help"], terminal_width=80)
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


def protected_tables(db: Path) -> set[str]:
    """Tables whose rows a trigger keeps from changing: the audit trail's."""
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("select tbl_name from sqlite_master where type = 'trigger' "
                            "and sql like '%part of the audit trail%'").fetchall()
    finally:
        conn.close()
    return {name.removesuffix("_v1") for (name,) in rows}  # decisions_v1: the decisions


def test_help_names_every_table_the_trail_protects(runner: CliRunner, evaluated: Path):
    text = help_text(runner)
    tables = protected_tables(evaluated) - {"audit"}
    assert {"runs", "decisions", "strikes", "cases", "rejects", "exemptions", "reviews",
            "run_decisions", "blobs"} <= tables
    for table in tables:
        assert re.search(rf"\b{table}\b", text), f"audit verify --help does not name {table}"
    for check in ("prev_hash", "ADIEU_AUDIT_KEY", "MAC", "--expect-head", "--json"):
        assert check in text, check


def test_a_broken_trail_prints_what_the_help_says(runner: CliRunner, evaluated: Path):
    text = help_text(runner)
    assert 'then "audit trail BROKEN: N problem(s)" on the error output, exit 1' in text
    sql(evaluated, "drop trigger rejects_no_update", "update rejects set value = 'edited'")
    result = runner.invoke(cli, ["audit", "verify", "--db", str(evaluated)])
    assert result.exit_code == 1, result.output
    problems = result.stdout.splitlines()
    assert problems and all("reject" in p for p in problems), problems
    assert result.stderr.strip().splitlines()[-1] == \
        f"audit trail BROKEN: {len(problems)} problem(s)"


def test_an_intact_trail_prints_what_the_help_says(runner: CliRunner, evaluated: Path):
    text = help_text(runner)
    assert 'An intact trail prints "audit trail intact: N entries" and "audit head: ' \
           'SEQ:HASH"' in text
    result = runner.invoke(cli, ["audit", "verify", "--db", str(evaluated)])
    assert result.exit_code == 0, result.output
    entries = sql(evaluated, "select count(*), max(seq) from audit")[0]
    assert re.fullmatch(rf"audit trail intact: {entries[0]:,} entries\n"
                        rf"audit head: {entries[1]}:[0-9a-f]{{64}}\n", result.stdout)


def test_the_json_keys_the_help_lists_are_the_keys_printed(runner: CliRunner, evaluated: Path):
    import json

    text = help_text(runner)
    listed = re.search(r"--json prints \{([^}]*)\}", text)
    assert listed, text
    keys = [k.strip().strip('"') for k in listed.group(1).split(",")]
    result = runner.invoke(cli, ["audit", "verify", "--db", str(evaluated), "--json"])
    assert result.exit_code == 0, result.output
    assert sorted(json.loads(result.stdout)) == sorted(keys)
