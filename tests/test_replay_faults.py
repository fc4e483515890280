"""Issue 12, item 6: replay of malformed stored rows, and the one line an
unexpected exception gives. A stored run is damaged the way an attacker or a
disk fault would (the triggers that guard the rows dropped first); `adieu
replay` then names the run, customer and column, exit 2, never an
"unexpected error"."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from adieu.cli import _AdieuGroup, cli, unexpected_text

UNGUARD = ("drop trigger if exists runs_no_update; drop trigger if exists "
           "run_decisions_no_update; drop trigger if exists blobs_no_update; "
           "drop trigger if exists blobs_no_delete;")
FACTS_BLOB = "(select facts from run_decisions where customer_id = 'C-WARN')"


def damage(db: Path, sql: str) -> None:
    with sqlite3.connect(db) as conn:
        conn.executescript(UNGUARD + sql)


def replay(db: Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["replay", "1", "--db", str(db)])
    return result.exit_code, result.output


@pytest.mark.parametrize(("sql", "expected"), [
    ("update runs set policy_text = null",
     "Error: run 1, column policy_text: no policy text stored"),
    ("update runs set policy_text = 'rules: ['",
     "Error: run 1, column policy_text: the stored policy no longer compiles: "),
    ("update runs set as_of = '2026-13-01'",
     "Error: run 1, column as_of: not a date ('2026-13-01')"),
    ("update runs set population = '{{'", "Error: run 1, column population: not JSON"),
    ("update run_decisions set facts = null where customer_id = 'C-WARN'",
     "Error: run 1, customer 'C-WARN', column facts: no facts stored"),
    (f"delete from blobs where id = {FACTS_BLOB}",
     "Error: run 1, customer 'C-WARN', column facts: no facts stored"),
    (f"update blobs set body = 'not json{{' where id = {FACTS_BLOB}",
     "Error: run 1, customer 'C-WARN', column facts, rules or ledger: the stored decision "
     "cannot be read (DecodeError"),
    ("update runs set fact_keys = 'garbage'", "Error: run 1, column fact_keys: not JSON"),
])
def test_replay_of_a_malformed_row_names_run_customer_and_column(
        evaluated: Path, sql: str, expected: str) -> None:
    damage(evaluated, sql)
    code, out = replay(evaluated)
    assert code == 2, out
    assert out.startswith(expected), out
    assert "unexpected error" not in out and "internal error" not in out
    assert len(out.strip().splitlines()) == 1


def test_an_intact_run_still_replays(evaluated: Path) -> None:
    code, out = replay(evaluated)
    assert code == 0, out


def _group_raising(exc: BaseException) -> click.Group:
    @click.group(cls=_AdieuGroup)
    def group() -> None:
        pass

    @group.command()
    def boom() -> None:
        raise exc

    return group


def test_memory_error_is_one_line_never_empty() -> None:
    result = CliRunner().invoke(_group_raising(MemoryError()), ["boom"])
    assert result.exit_code == 2
    assert result.output == ("Error: out of memory while running `adieu boom` (a source or "
                             "policy larger than this machine can hold; set "
                             "ADIEU_RAISE_ERRORS=1 to see where)\n")


def test_an_unexpected_error_is_an_internal_error_to_report() -> None:
    text = unexpected_text(KeyError("x"), "explain")
    assert text == ("internal error, please report: KeyError: 'x' while running "
                    "`adieu explain` (set ADIEU_RAISE_ERRORS=1 to see the traceback)")
    assert "(no message)" in unexpected_text(ValueError(), "explain")


def test_an_unreadable_stored_value_names_the_database_as_damaged() -> None:
    text = unexpected_text(sqlite3.OperationalError("malformed JSON"), "pending")
    assert text.startswith("the database holds a value adieu cannot read "
                           "(OperationalError: malformed JSON)")
    assert "audit verify" in text
