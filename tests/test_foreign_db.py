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
