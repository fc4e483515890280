"""A file that is not an adieu database (another program's SQLite file, a
typo'd path that exists) given as --db is refused by every command, read or
write, before anything touches it: "FILE is not an adieu database (no runs
table)", exit code 2, the file's bytes and mtime unchanged and no -wal or
-shm file beside it (issue 11, B11: report, brief, segments, pending and
explain used to create adieu's tables in it)."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from adieu.cli import cli
from adieu.errors import StoreError
from adieu.store import open_db, open_db_readonly

ROOT = Path(__file__).resolve().parents[1]
POLICY = str(ROOT / "policies" / "default.yaml")
CSV = f"csv:{ROOT / 'examples' / 'customers.csv'}"

COMMANDS = [
    ["report", "--html", "{tmp}/r.html"], ["brief", "CUST-0001"], ["segments", "--by", "size"],
    ["pending"], ["explain", "CUST-0001"], ["history", "CUST-0001"], ["runs"],
    ["strikes", "CUST-0001"], ["exemptions"], ["audit", "verify"], ["audit", "export"],
    ["replay", "1"], ["diff", "--run", "1", "--run", "2"],
    ["diff", POLICY, POLICY, "--source", CSV, "--as-of", "2026-11-01"],
    ["evaluate", POLICY, "--source", CSV, "--as-of", "2026-11-01", "--dry-run"],
    # writing commands refuse it too, rather than adding adieu's tables to it
    ["evaluate", POLICY, "--source", CSV, "--as-of", "2026-11-01"],
    ["approve", "CUST-0001", "--by", "Mara Lind"], ["reject", "CUST-0001", "--by", "Mara Lind"],
    ["exempt", "C1", "--all", "--reason", "r", "--approver", "a", "--until", "2027-06-01",
     "--new-customer"],
    ["strikes", "pardon", "C1", "late-payments", "--by", "A", "--reason", "r"],
]


def foreign(path: Path) -> tuple[bytes, int]:
    conn = sqlite3.connect(path)
    conn.execute("create table mine(x)")
    conn.execute("insert into mine values (1)")
    conn.commit()
    conn.close()
    os.utime(path, ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
    return hashlib.sha256(path.read_bytes()).digest(), path.stat().st_mtime_ns


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_a_foreign_database_is_refused_and_untouched(tmp_path: Path, args: list[str]) -> None:
    db = tmp_path / "other.db"
    before = foreign(db)
    result = CliRunner().invoke(cli, [a.format(tmp=tmp_path) for a in args] + ["--db", str(db)])
    assert (result.exit_code, result.output) == (
        2, f"Error: {db} is not an adieu database (no runs table)\n")
    assert (hashlib.sha256(db.read_bytes()).digest(), db.stat().st_mtime_ns) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.db"]


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_a_folder_given_as_the_database_is_named_as_one(tmp_path: Path, args: list[str]) -> None:
    """h11 RC7: a folder as --db said "cannot use database: disk I/O error"."""
    folder = tmp_path / "dbs"
    folder.mkdir()
    result = CliRunner().invoke(cli, [a.format(tmp=tmp_path) for a in args] +
                                ["--db", str(folder)])
    assert (result.exit_code, result.output) == (
        2, f"Error: {folder}: cannot use database: it is a folder, not a database file "
           "(--db names the file, e.g. adieu.db)\n")
    assert list(folder.iterdir()) == []


def test_the_store_functions_refuse_it(tmp_path: Path) -> None:
    """Serve's page reads go through open_db_readonly, commands through open_db."""
    db = tmp_path / "other.db"
    before = foreign(db)
    for opener in (open_db_readonly, open_db, lambda p: open_db(p, create=False)):
        with pytest.raises(StoreError, match="is not an adieu database"):
            opener(str(db))
    assert (hashlib.sha256(db.read_bytes()).digest(), db.stat().st_mtime_ns) == before


def test_an_empty_file_is_an_empty_store(tmp_path: Path) -> None:
    """Not another program's data: an emptied trail, which audit verify
    --expect-head reports (docs/ops-guide.md)."""
    empty = tmp_path / "empty.db"
    empty.touch()
    result = CliRunner().invoke(cli, ["audit", "verify", "--db", str(empty)])
    assert (result.exit_code, result.output) == (
        0, "audit trail intact: 0 entries\naudit head: none (no entries)\n")


def _made(path: Path, *statements: str) -> tuple[bytes, int]:
    conn = sqlite3.connect(path)
    for statement in statements:
        conn.execute(statement)
    conn.commit()
    conn.close()
    os.utime(path, ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
    return hashlib.sha256(path.read_bytes()).digest(), path.stat().st_mtime_ns


ADIEU_RUNS = ("create table runs (id integer primary key, policy_name, policy_version, "
              "policy_sha256, policy_file, policy_text, source, as_of, customers, rejected, "
              "counts, population, adieu_version, started_at, finished_at)")
RUNS_LIKE = {
    # another tool's run tracker (a CI or ML tracker): a common table name
    "tracker": ((
        "create table runs(id integer primary key, name text, started text)",
        "insert into runs values (1, 'nightly build', '2026-11-30')",
        "create table artifacts(run_id int, path text)"),
        "its runs table has no policy_name, policy_version, policy_sha256, ... column"),
    # adieu's runs columns, but no adieu migration recorded (a hand-made copy)
    "copied-columns": ((ADIEU_RUNS,), "no adieu migration is recorded in it"),
    "other-migrations": ((
        ADIEU_RUNS, "create table _sqlite_migrations (id integer primary key, "
        "migration_set, name, applied_at)",
        "insert into _sqlite_migrations values (1, 'llm', 'm001_initial', '2026')"),
        "no adieu migration is recorded in it"),
}


@pytest.mark.parametrize("kind", sorted(RUNS_LIKE))
@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_a_foreign_database_with_a_runs_table_is_refused_and_untouched(
        tmp_path: Path, args: list[str], kind: str) -> None:
    """Issue 11, RB5: adieu's database is recognised by its own marks, not by
    a table named runs; the check is made read-only, before the journal
    mode is set (the file used to become WAL, and `adieu runs` crashed)."""
    db = tmp_path / "other.db"
    statements, why = RUNS_LIKE[kind]
    before = _made(db, *statements)
    result = CliRunner().invoke(cli, [a.format(tmp=tmp_path) for a in args] + ["--db", str(db)])
    assert (result.exit_code, result.output) == (
        2, f"Error: {db} is not an adieu database ({why})\n")
    assert (hashlib.sha256(db.read_bytes()).digest(), db.stat().st_mtime_ns) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.db"]
