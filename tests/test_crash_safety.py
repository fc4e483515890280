"""Crash safety: a real `adieu evaluate` process over a generated input
(bench/gen_customers.py, the default policy) is killed with SIGKILL at a
random moment, then the database must be consistent:

- `PRAGMA integrity_check` says ok;
- no partial run is visible: either no run, or one run whose decisions
  (run_decisions) number exactly its `customers`, with no decisions or
  strikes of a run that is not there;
- `adieu audit verify` exits 0;
- evaluating the same input again gives exactly the decisions, strikes and
  run figures of an uninterrupted run into a fresh database (the reference).

`make test`: one kill of a 5,000-customer run at a fixed fraction of its
time, and one kill of `adieu approve`. `make fuzz`: 20 kills at random
moments of a 50,000-customer run and 20 of approve (the seed is printed;
CRASH_SEED=N repeats a series; CRASH_ROWS=N for a quicker look)."""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from adieu.cli import cli

REPO = Path(__file__).resolve().parent.parent
ADIEU = shutil.which("adieu", path=str(Path(sys.executable).parent)) or shutil.which("adieu")
POLICY = str(REPO / "policies" / "default.yaml")
AS_OF = "2026-11-01"

# The run's own figures that must match the reference (not ids or clock times).
RUN_FIGURES = "customers, rejected, counts, population, facts_sha256, identity, new_strikes"
STRIKE_COLUMNS = "customer_id, rule, recorded_on, expires_on, severity"


def generate(folder: Path, rows: int) -> Path:
    out = folder / f"customers-{rows}.csv"
    subprocess.run([sys.executable, str(REPO / "bench" / "gen_customers.py"), str(rows),
                    str(out), str(REPO / "examples" / "customers.csv")], check=True)
    return out


def evaluate_args(source: Path, db: Path) -> list[str]:
    return ["evaluate", POLICY, "--source", f"csv:{source}", "--as-of", AS_OF, "--db", str(db)]


def evaluate_process(source: Path, db: Path) -> subprocess.Popen:
    assert ADIEU, "the adieu console script is not installed"
    return subprocess.Popen([ADIEU, *evaluate_args(source, db)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def evaluate_in_process(source: Path, db: Path) -> None:
    result = CliRunner().invoke(cli, evaluate_args(source, db))
    assert result.exit_code == 0, result.output


def _strike_columns(conn: sqlite3.Connection) -> str:
    have = {r[1] for r in conn.execute("pragma table_info(strikes)")}
    return ", ".join(c.strip() for c in STRIKE_COLUMNS.split(",") if c.strip() in have)


def contents(db: Path) -> dict:
    """What a run leaves that must not depend on a crash before it: the run's
    figures, every decision (all columns but run_id) and every strike."""
    conn = sqlite3.connect(db)
    try:
        runs = conn.execute(f"select {RUN_FIGURES} from runs order by id").fetchall()
        columns = [r[1] for r in conn.execute("pragma table_info(decisions)")
                   if r[1] != "run_id"]
        decisions = conn.execute(f"select {', '.join(columns)} from decisions "
                                 "order by customer_id").fetchall()
        strikes = conn.execute(f"select {_strike_columns(conn)} from strikes "
                               "order by 1, 2, 3").fetchall()
    finally:
        conn.close()
    return {"runs": runs, "decisions": decisions, "strikes": strikes}


def check_consistent(db: Path) -> int:
    """The checks after a kill; returns the number of runs stored (0 or 1)."""
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("pragma integrity_check").fetchall() == [("ok",)]
        tables = {r[0] for r in conn.execute("select name from sqlite_master")}
        if "runs" not in tables:  # killed before the schema was made: nothing to see
            return 0
        runs = conn.execute("select id, customers from runs").fetchall()
        assert len(runs) <= 1, runs
        for run_id, customers in runs:
            stored = conn.execute("select count(*) from run_decisions where run_id = ?",
                                  (run_id,)).fetchone()[0]
            assert stored == customers, f"run {run_id}: {stored} of {customers} decisions"
        orphans = conn.execute("select count(*) from run_decisions where run_id not in "
                               "(select id from runs)").fetchone()[0]
        assert orphans == 0, f"{orphans} decisions of a run that is not stored"
        loose = conn.execute("select count(*) from strikes where run_id not in "
                             "(select id from runs)").fetchone()[0]
        assert loose == 0, f"{loose} strikes of a run that is not stored"
    finally:
        conn.close()
    verify = CliRunner().invoke(cli, ["audit", "verify", "--db", str(db)])
    assert verify.exit_code == 0, verify.output
    return len(runs)


def kill_and_check(source: Path, db: Path, after: float, reference: dict) -> int:
    """Start evaluate, SIGKILL it `after` seconds later, check the database,
    evaluate again and compare with the reference. Returns runs seen after
    the kill (0: killed before the commit, 1: after)."""
    proc = evaluate_process(source, db)
    time.sleep(after)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    stored = check_consistent(db) if db.exists() else 0
    evaluate_in_process(source, db)
    check_consistent(db)
    assert contents(db) == reference
    return stored


def kill_approve_and_check(reference_db: Path, db: Path, after: float) -> bool:
    """Copy the reference database, start `adieu approve` on its first
    proposed case, SIGKILL it `after` seconds later; the database must be
    intact and the case either approved (reviewer and time set) or still
    proposed (neither), and approving again must end approved. Returns
    whether the killed approve had committed."""
    shutil.copy(reference_db, db)
    conn = sqlite3.connect(db)
    (case_id, customer), = conn.execute("select id, customer_id from cases where state = "
                                        "'proposed' order by id limit 1").fetchall()
    conn.close()
    args = ["approve", customer, "--by", "Ines Auditor", "--db", str(db)]
    proc = subprocess.Popen([ADIEU, *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    time.sleep(after)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)

    def state() -> tuple:
        c = sqlite3.connect(db)
        try:
            assert c.execute("pragma integrity_check").fetchall() == [("ok",)]
            return c.execute("select state, reviewer is not null, reviewed_at is not null "
                             "from cases where id = ?", (case_id,)).fetchone()
        finally:
            c.close()

    first = state()
    assert first in (("proposed", 0, 0), ("approved", 1, 1)), first
    assert CliRunner().invoke(cli, ["audit", "verify", "--db", str(db)]).exit_code == 0
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == (2 if first[0] == "approved" else 0), again.output
    assert state() == ("approved", 1, 1)
    assert CliRunner().invoke(cli, ["audit", "verify", "--db", str(db)]).exit_code == 0
    return first[0] == "approved"


@pytest.fixture(scope="module")
def small_input(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    folder = tmp_path_factory.mktemp("crash")
    source = generate(folder, 5_000)
    started = time.monotonic()
    proc = evaluate_process(source, folder / "reference.db")
    assert proc.wait(timeout=300) == 0
    took = time.monotonic() - started
    return source, contents(folder / "reference.db"), took, folder / "reference.db"


def test_sigkill_during_evaluate_leaves_a_consistent_database(
        small_input: tuple, tmp_path: Path) -> None:
    source, reference, took, _ = small_input
    assert len(reference["decisions"]) > 4_000 and reference["strikes"]
    # 60 % of an uninterrupted run: past start-up, reading and deciding.
    kill_and_check(source, tmp_path / "killed.db", took * 0.6, reference)


def test_sigkill_during_approve_leaves_the_case_whole(small_input: tuple,
                                                      tmp_path: Path) -> None:
    # 1.0 s: past the interpreter's start-up on this machine, inside the command.
    kill_approve_and_check(small_input[3], tmp_path / "approve.db", 1.0)


def test_consistency_check_sees_a_partial_run(small_input: tuple,
                                              tmp_path: Path) -> None:
    """The checks above can fail: a run whose decisions are not all there,
    and a database that differs from the reference, are both caught."""
    source, reference, _, _ = small_input
    db = tmp_path / "partial.db"
    evaluate_in_process(source, db)
    conn = sqlite3.connect(db)
    for (name,) in conn.execute("select name from sqlite_master where type = 'trigger' "
                                "and tbl_name = 'run_decisions'").fetchall():
        conn.execute(f"drop trigger {name}")
    conn.execute("delete from run_decisions where pos > 10")
    conn.commit()
    conn.close()
    with pytest.raises(AssertionError, match="decisions"):
        check_consistent(db)
    assert contents(db) != reference


@pytest.mark.fuzz
def test_twenty_sigkills_at_random_moments(tmp_path_factory: pytest.TempPathFactory) -> None:
    folder = tmp_path_factory.mktemp("crash50k")
    source = generate(folder, int(os.environ.get("CRASH_ROWS", "50000")))
    started = time.monotonic()
    assert evaluate_process(source, folder / "reference.db").wait(timeout=900) == 0
    took = time.monotonic() - started
    reference = contents(folder / "reference.db")
    seed = int(os.environ.get("CRASH_SEED", random.SystemRandom().randrange(10 ** 6)))
    print(f"crash-safety seed {seed} (CRASH_SEED={seed} repeats it); reference run {took:.1f} s")
    rng = random.Random(seed)
    before = after = 0
    for i in range(20):
        moment = rng.uniform(0.05, 1.05) * took
        stored = kill_and_check(source, folder / f"killed{i}.db", moment, reference)
        before += stored == 0
        after += stored == 1
        print(f"kill {i + 1}: at {moment:.2f} s, runs stored before the re-run: {stored}")
    print(f"{before} kills before the commit, {after} after")
    shutil.copy(folder / "reference.db", folder / "approve-ref.db")
    conn = sqlite3.connect(folder / "approve-ref.db")
    (customer,), = conn.execute("select customer_id from cases where state = 'proposed' "
                                "order by id limit 1").fetchall()
    conn.close()
    started = time.monotonic()
    assert subprocess.run([ADIEU, "approve", customer, "--by", "Ines Auditor", "--db",
                           str(folder / "approve-ref.db")], capture_output=True).returncode == 0
    approve_took = time.monotonic() - started
    committed = sum(kill_approve_and_check(folder / "reference.db", folder / f"approve{i}.db",
                                           rng.uniform(0, approve_took))
                    for i in range(20))
    print(f"approve: {committed} of 20 kills after the commit")
