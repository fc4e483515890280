"""Issue 12, item 6: replay of malformed stored rows, and the one line an
unexpected exception gives. A stored run is damaged the way an attacker or a
disk fault would (the triggers that guard the rows dropped first); `adieu
replay` then names the run, customer and column, exit 2, never an
"unexpected error"."""

from __future__ import annotations

import re
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
     "Error: run 1, customer 'C-WARN', column facts: the stored decision "
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


# Every command that reads a stored run gives the same one line as replay for
# a damaged row (the shared readers: store.get_run, compact.read through
# store.read_decisions, runs.list_runs; engine/stored_values.py). The
# database holds two runs (run 2 the latest); the damage is to run 2.
LATER = "2026-11-09"
OFF_BLOB = "(select facts from run_decisions where customer_id = 'C-OFF' and run_id = 2)"
RUN_DAMAGE = {
    "policy_text NULL": ("update runs set policy_text = null where id = 2",
                         r"run 2, column policy_text: no policy text stored"),
    "policy_text edited": ("update runs set policy_text = 'rules: [' where id = 2",
                           r"run 2, column policy_text: the stored policy no longer compiles"),
    "as_of no date": ("update runs set as_of = '2026-11-31' where id = 2",
                      r"run 2, column as_of: not a date \('2026-11-31'\)"),
    "population not JSON": ("update runs set population = '{{' where id = 2",
                            r"run 2, column population: not JSON"),
    "counts not JSON": ("update runs set counts = 'x' where id = 2",
                        r"run 2, column counts: not JSON"),
    "fact_keys not JSON": ("update runs set fact_keys = 'garbage' where id = 2",
                           r"run 2, column fact_keys: not JSON"),
}
ROW_DAMAGE = {
    "facts NULL": ("update run_decisions set facts = null where customer_id = 'C-OFF' "
                   "and run_id = 2", r"run 2, customer 'C-OFF', column facts: no facts stored"),
    "facts blob missing": (f"delete from blobs where id = {OFF_BLOB}",
                           r"run [12], customer 'C-OFF', column facts: no facts stored"),
    "facts blob not JSON": (f"update blobs set body = 'not json{{' where id = {OFF_BLOB}",
                            r"run [12], customer 'C-OFF', column facts: the stored decision "
                            r"cannot be read \(DecodeError"),
    "facts blob wrong shape": (f"update blobs set body = '[99, 1]' where id = {OFF_BLOB}",
                               r"run [12], customer 'C-OFF', column facts: the stored "
                               r"decision cannot be read"),
}
COMMANDS = {
    "explain": ["explain", "C-OFF"],
    "brief": ["brief", "C-OFF"],
    "diff --run": ["diff", "--run", "1", "--run", "2"],
    "report --html": ["report", "--html", "{tmp}/r.html"],
    "segments": ["segments", "--by", "tier"],
    "history": ["history", "C-OFF"],
    "pending": ["pending"],
    "runs": ["runs"],
}
# Which commands read each damaged run column (the others do not need it).
READS = {
    "counts not JSON": {"explain", "brief", "diff --run", "report --html", "segments", "runs"},
    "fact_keys not JSON": {"explain", "brief", "diff --run", "report --html", "segments",
                           "history", "pending"},
}
RUN_READERS = {"explain", "brief", "diff --run", "report --html", "segments"}


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from conftest import AS_OF, CSV_HEADER, CSV_ROWS, POLICY

    here = tmp_path_factory.mktemp("two_runs")
    (here / "p.yaml").write_text(POLICY)
    (here / "c.csv").write_text("\n".join([CSV_HEADER, *CSV_ROWS]) + "\n")
    for as_of in (AS_OF, LATER):
        result = CliRunner().invoke(cli, ["evaluate", str(here / "p.yaml"), "--source",
                                          f"csv:{here / 'c.csv'}", "--as-of", as_of,
                                          "--db", str(here / "base.db")])
        assert result.exit_code == 0, result.output
    return here / "base.db"


def _run_damaged(base: Path, tmp_path: Path, sql: str, command: str) -> tuple[int, str]:
    db = tmp_path / "adieu.db"
    db.write_bytes(base.read_bytes())
    damage(db, sql)
    args = [a.replace("{tmp}", str(tmp_path)) for a in COMMANDS[command]]
    result = CliRunner().invoke(cli, [*args, "--db", str(db)])
    return result.exit_code, result.output


def _assert_one_line(code: int, out: str, pattern: str) -> None:
    assert "internal error" not in out and "unexpected error" not in out, out
    assert code == 2, out
    assert len(out.strip().splitlines()) == 1, out
    assert re.match(r"Error: " + pattern, out), out
    assert out.rstrip().endswith("the database was edited or damaged (adieu audit verify)")


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("kind", RUN_DAMAGE)
def test_every_reader_names_the_damaged_run_column(
        two_runs: Path, tmp_path: Path, kind: str, command: str) -> None:
    sql, pattern = RUN_DAMAGE[kind]
    code, out = _run_damaged(two_runs, tmp_path, sql, command)
    if command in READS.get(kind, RUN_READERS):
        _assert_one_line(code, out, pattern)
    else:  # the command does not need that column: it still works
        assert code == 0, out


@pytest.mark.parametrize("command", [c for c in COMMANDS if c != "runs"])
@pytest.mark.parametrize("kind", ROW_DAMAGE)
def test_every_reader_names_the_damaged_customer_and_column(
        two_runs: Path, tmp_path: Path, kind: str, command: str) -> None:
    sql, pattern = ROW_DAMAGE[kind]
    code, out = _run_damaged(two_runs, tmp_path, sql, command)
    _assert_one_line(code, out, pattern)


# Issue 12 follow-up: the other stored tables (decisions' dates, strikes,
# cases) and the commands that read them; a damaged value is one line naming
# table, row and column, exit 2, never an internal error. Damage to run 2 /
# every row; C-OFF has strikes and an open case.
TABLE_DAMAGE = {
    "decision date impossible": (
        "update run_decisions set effective_date = '2027-02-30' where customer_id = 'C-OFF'",
        r"table run_decisions, run [12], customer 'C-OFF', column effective_date: not a date "
        r"\('2027-02-30'\)"),
    "strike recorded_on garbage": (
        "drop trigger if exists strikes_only_pardon_supersede; "
        "update strikes set recorded_on = 'garbage' where customer_id = 'C-OFF'",
        r"table strikes, row \d+, column recorded_on: not a date \('garbage'\)"),
    "strike expires_on NULL": (
        "drop trigger if exists strikes_only_pardon_supersede; "
        "update strikes set expires_on = null where customer_id = 'C-OFF'",
        r"table strikes, row \d+, column expires_on: no value stored \(NULL\)"),
    "strike pardoned_at garbage": (
        "drop trigger if exists strikes_only_pardon_supersede; "
        "update strikes set pardoned_at = 'zz' where customer_id = 'C-OFF'",
        r"table strikes, row \d+, column pardoned_at: not a date \('zz'\)"),
    "case fired not JSON": ("update cases set fired = '[' where customer_id = 'C-OFF'",
                            r"table cases, row \d+, column fired: not JSON"),
    "case date no date": ("update cases set effective_date = '2027-13-01' "
                          "where customer_id = 'C-OFF'",
                          r"table cases, row \d+, column effective_date: not a date"),
}
TABLE_COMMANDS = {
    "brief": ["brief", "C-OFF"],
    "history": ["history", "C-OFF"],
    "strikes": ["strikes", "C-OFF", "--as-of", LATER],
    "approve": ["approve", "C-OFF", "--by", "Zed Quill", "--no-owner-on-record"],
    "pending": ["pending"],
}
TABLE_READS = {  # the commands that read each damaged column
    "decision date impossible": {"brief", "history", "pending"},
    "strike recorded_on garbage": {"brief", "history", "strikes"},
    "strike expires_on NULL": {"brief", "history", "strikes"},
    "strike pardoned_at garbage": {"brief", "history", "strikes"},
    "case fired not JSON": {"brief", "history", "approve"},
    "case date no date": {"brief", "history", "approve", "pending"},
}


@pytest.mark.parametrize(("kind", "command"), [
    (kind, command) for kind in TABLE_DAMAGE for command in TABLE_COMMANDS
    if command in TABLE_READS[kind]])
def test_every_reader_names_the_damaged_table_row_and_column(
        two_runs: Path, tmp_path: Path, kind: str, command: str) -> None:
    sql, pattern = TABLE_DAMAGE[kind]
    db = tmp_path / "adieu.db"
    db.write_bytes(two_runs.read_bytes())
    damage(db, sql)
    result = CliRunner().invoke(cli, [*TABLE_COMMANDS[command], "--db", str(db)])
    _assert_one_line(result.exit_code, result.output, pattern)


def test_strikes_names_a_run_without_policy_text(two_runs: Path, tmp_path: Path) -> None:
    db = tmp_path / "adieu.db"
    db.write_bytes(two_runs.read_bytes())
    damage(db, "update runs set policy_text = null where id = 2")
    # a day no run decided: the exemptions are judged with the latest run's policy
    result = CliRunner().invoke(cli, ["strikes", "C-OFF", "--as-of", "2026-11-20",
                                      "--db", str(db)])
    _assert_one_line(result.exit_code, result.output,
                     r"run 2, column policy_text: no policy text stored")
