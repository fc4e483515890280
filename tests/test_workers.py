"""--workers N: batches decided in N processes, one writer writing in source
order; the stored run and the output are those of --workers 1, with memory
from an earlier run (strikes, an exemption, an approved case)."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_streaming import generate

from adieu.batches import PARALLEL_FROM, default_workers
from adieu.cli import cli

ADIEU = shutil.which("adieu", path=str(Path(sys.executable).parent)) or shutil.which("adieu")
DAY1, DAY2 = "2026-11-01", "2026-12-01"


def adieu(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert ADIEU, "the adieu console script is not installed"
    return subprocess.run([ADIEU, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module")
def remembered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A database holding one run of 3,000 customers, an exemption and an
    approved offboarding case; the source for the next run."""
    base = tmp_path_factory.mktemp("workers")
    source = generate(3000, base / "c.csv")
    db = base / "first.db"
    done = adieu("evaluate", "default", "--source", f"csv:{source}", "--as-of", DAY1,
                 "--db", str(db), "--workers", "1", cwd=base)
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(db) as conn:
        strikes = conn.execute("select count(*) from strikes").fetchone()[0]
        offboard = [r[0] for r in conn.execute(
            "select customer_id from decisions where outcome = 'offboard' order by rowid")]
    assert strikes > 100 and len(offboard) >= 2
    runner = CliRunner()
    exempt = runner.invoke(cli, ["exempt", offboard[0], "--all", "--reason", "reference",
                                 "--approver", "CEO", "--until", "2027-06-01", "--db",
                                 str(db)])
    assert exempt.exit_code == 0, exempt.output
    approve = runner.invoke(cli, ["approve", offboard[1], "--by", "Rita Reviewer", "--note",
                                  "checked", "--db", str(db)])
    assert approve.exit_code == 0, approve.output
    return db, source


def copy(db: Path, to: Path) -> None:
    """The database as committed (WAL included), through SQLite's backup."""
    with sqlite3.connect(db) as src, sqlite3.connect(to) as dst:
        src.backup(dst)


def decisions(db: Path, run_id: int) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute("select * from decisions where run_id = ? order by rowid",
                            [run_id]).fetchall()


def test_two_workers_store_and_print_what_one_does(remembered: tuple[Path, Path],
                                                   tmp_path: Path) -> None:
    first, source = remembered
    outputs, stored = {}, {}
    for workers in ("1", "2"):
        db = tmp_path / f"w{workers}.db"
        copy(first, db)
        done = adieu("evaluate", "default", "--source", f"csv:{source}", "--as-of", DAY2,
                     "--db", str(db), "--workers", workers, "--json", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        outputs[workers], stored[workers] = done.stdout, decisions(db, 2)
    assert len(stored["1"]) > 2900
    assert stored["2"] == stored["1"]  # every column, in the same order
    assert outputs["2"] == outputs["1"]
    # The memory was used: strikes counted, the exemption and the approval seen.
    assert '"exemptions": [\n        {\n          "approver": "CEO"' in outputs["1"]
    with sqlite3.connect(tmp_path / "w2.db") as conn:
        assert conn.execute("select count(*) from decisions where run_id = 2 and "
                            "strikes > 1").fetchone()[0] > 0
        assert conn.execute("select state from cases where state = 'approved'").fetchall() \
            == [("approved",)]


def test_the_default_is_one_process_below_the_threshold() -> None:
    assert default_workers(PARALLEL_FROM - 1) == 1
    assert default_workers(PARALLEL_FROM) >= 1


def test_replay_with_two_workers_finds_what_one_does(remembered: tuple[Path, Path],
                                                     tmp_path: Path) -> None:
    first, source = remembered
    db = tmp_path / "r.db"
    copy(first, db)
    done = adieu("evaluate", "default", "--source", f"csv:{source}", "--as-of", DAY2,
                 "--db", str(db), "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    clean = {w: adieu("replay", "2", "--db", str(db), "--workers", w, cwd=tmp_path)
             for w in ("1", "2")}
    assert clean["1"].returncode == clean["2"].returncode == 0, clean["2"].stderr
    assert clean["2"].stdout == clean["1"].stdout
    assert "decisions replayed, 0 difference(s)" in clean["2"].stdout
    with sqlite3.connect(db) as conn:  # an edit behind adieu's back, late in the run
        for (name,) in conn.execute("select name from sqlite_master where type = 'trigger' "
                                    "and tbl_name = 'run_decisions'").fetchall():
            conn.execute(f"drop trigger {name}")
        conn.execute("update run_decisions set outcome = 'keep' where run_id = 2 and "
                     "customer_id = 'C0002900'")
    edited = {w: adieu("replay", "2", "--db", str(db), "--workers", w, "--json",
                       cwd=tmp_path) for w in ("1", "2")}
    assert edited["1"].returncode == edited["2"].returncode == 1
    assert edited["2"].stdout == edited["1"].stdout
    assert '"customer_id": "C0002900"' in edited["2"].stdout
