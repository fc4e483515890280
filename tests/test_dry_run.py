"""`adieu evaluate --dry-run` (issue 9, item 8g): decided against the real
database's memory, printed, and nothing written: the database file's
bytes stay the same, it is not even migrated, and a missing database is
not created (no memory)."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from pathlib import Path

from click.testing import CliRunner
from conftest import AS_OF

from adieu.cli import cli

NEXT = "2026-12-15"
FOUNDATION = Path(__file__).resolve().parent / "fixtures" / "foundation-0.1.0.db"


def invoke(runner: CliRunner, db: Path, policy: Path, csv: Path, *more: str,
           as_of: str = NEXT, code: int = 0):
    result = runner.invoke(cli, ["evaluate", str(policy), "--source", f"csv:{csv}",
                                 "--as-of", as_of, "--db", str(db), *more])
    assert result.exit_code == code, result.output
    return result


def files(db: Path) -> dict[str, str]:
    """sha256 of the database file and of its -wal file if that holds
    anything (a reader of a WAL database may leave an empty -wal file)."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in (db, db.with_name(db.name + "-wal")) if p.exists() and p.stat().st_size}


def test_a_dry_run_decides_with_memory_and_writes_nothing(
        runner: CliRunner, evaluated: Path, policy_file: Path, customers_csv: Path) -> None:
    before = files(evaluated)
    dry = invoke(runner, evaluated, policy_file, customers_csv, "--dry-run", "--json")
    assert files(evaluated) == before
    assert "dry run: nothing was written" in dry.stderr
    planned = json.loads(dry.stdout)
    assert planned["run"]["dry_run"] and planned["run"]["id"] is None
    # The real run then decides exactly what the dry run showed: with the
    # two strikes of run 1 (a trial database without them would say 2).
    real = json.loads(invoke(runner, evaluated, policy_file, customers_csv, "--json").stdout)
    assert planned["decisions"] == real["decisions"]
    assert planned["run"]["counts"] == real["run"]["counts"]
    final = next(d for d in real["decisions"] if d["customer_id"] == "C-FINAL")
    assert final["strikes"] == 4 and len(final["new_strikes"]) == 2


def test_a_dry_run_prints_a_summary_and_csv(runner: CliRunner, evaluated: Path,
                                            policy_file: Path, customers_csv: Path) -> None:
    before = files(evaluated)
    summary = invoke(runner, evaluated, policy_file, customers_csv, "--dry-run")
    assert summary.stdout.startswith("Dry run: policy 'tiny' v3")
    assert "nothing written to" in summary.stdout
    assert "would be pending approval" in summary.stdout
    table = invoke(runner, evaluated, policy_file, customers_csv, "--dry-run", "--csv")
    rows = table.stdout.splitlines()
    assert rows[0].startswith("run_id,customer_id") and rows[1].startswith(",C-KEEP,")
    assert files(evaluated) == before


def test_a_dry_run_without_a_database_creates_none(runner: CliRunner, tmp_path: Path,
                                                   policy_file: Path,
                                                   customers_csv: Path) -> None:
    db = tmp_path / "none.db"
    dry = invoke(runner, db, policy_file, customers_csv, "--dry-run", "--json", as_of=AS_OF)
    assert not list(tmp_path.glob("none.db*"))
    counts = json.loads(dry.stdout)["run"]["counts"]
    assert counts["offboard"] == 2 and counts["warn"] == 1


def test_a_dry_run_does_not_migrate_an_old_database(runner: CliRunner, tmp_path: Path,
                                                    policy_file: Path,
                                                    customers_csv: Path) -> None:
    db = tmp_path / "old.db"
    shutil.copyfile(FOUNDATION, db)
    before = files(db)
    invoke(runner, db, policy_file, customers_csv, "--dry-run")
    assert files(db) == before
    conn = sqlite3.connect(db)
    try:
        tables = {r[0] for r in conn.execute("select name from sqlite_master")}
    finally:
        conn.close()
    assert "strikes" not in tables  # m002 was not applied


def test_a_dry_run_refuses_what_the_real_run_refuses(
        runner: CliRunner, evaluated: Path, policy_file: Path, customers_csv: Path) -> None:
    before = files(evaluated)
    early = invoke(runner, evaluated, policy_file, customers_csv, "--dry-run",
                   as_of="2026-10-01", code=2)
    assert "before the latest run's (2026-11-02)" in early.stderr
    conn = sqlite3.connect(evaluated)
    try:
        conn.execute("insert into exemptions (customer_id, reason, approver, expires, "
                     "recorded_at) values ('C-OFF', 'x', 'me', '2027-06-01', '2026-11-03')")
        conn.commit()
    finally:
        conn.close()
    before = files(evaluated)
    raw = invoke(runner, evaluated, policy_file, customers_csv, "--dry-run", code=2)
    assert "exemptions row 1 (C-OFF) has no audit entry" in raw.stderr
    assert files(evaluated) == before


def test_a_dry_run_of_a_stored_input_names_the_run(
        runner: CliRunner, evaluated: Path, policy_file: Path, customers_csv: Path) -> None:
    dry = invoke(runner, evaluated, policy_file, customers_csv, "--dry-run", as_of=AS_OF)
    assert "run 1 already recorded these inputs" in dry.stderr
    assert dry.stdout.startswith("Run 1:")
