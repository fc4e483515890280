"""docs/scale.md's Dask example, run on a local Dask cluster (2 worker
processes) over ~3,000 customers with memory from an earlier run: the run
it stores equals a single-process `adieu evaluate` customer by customer
(outcome, fired rules, reasons, effective date, strikes, memory, facts),
with the same population figures, strikes, rejects and run identity."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from adieu.cli import cli
from adieu.csvsplit import split_csv

ROOT = Path(__file__).resolve().parent.parent
SCALE = ROOT / "docs" / "scale.md"
GENERATORS = [ROOT / "bench" / "gen_customers.py",
              Path("/work/shared/perf/gen_customers.py")]
POLICY = str(ROOT / "policies" / "default.yaml")
EARLIER, AS_OF = "2026-10-01", dt.date(2026, 11, 1)
ROWS_PER_PART = 500
COLUMNS = ("customer_id, outcome, base_outcome, severity, strikes, reasons, fired, shielded, "
           "unknown, missing, exemptions, holds, effective_date, phase_out_start, "
           "timing_basis, referrals, notes, new_strikes, repeat_strikes, active_strikes, "
           "set_aside_strikes, memory, facts, source_file, source_row")


def example_code() -> str:
    """The first python block of docs/scale.md: the example itself."""
    blocks = re.findall(r"^```python\n(.*?)^```", SCALE.read_text(encoding="utf-8"),
                        re.MULTILINE | re.DOTALL)
    assert blocks, "docs/scale.md has no python example"
    return blocks[0]


def evaluate(csv: Path, db: Path, as_of: str) -> None:
    result = CliRunner().invoke(cli, ["evaluate", POLICY, "--source", f"csv:{csv}",
                                      "--as-of", as_of, "--db", str(db)])
    assert result.exit_code == 0, result.output


def stored(db: Path) -> dict:
    con = sqlite3.connect(db)
    try:
        run = con.execute("select max(id) from runs").fetchone()[0]
        return {
            "decisions": con.execute(f"select {COLUMNS} from decisions where run_id = ? "
                                     "order by customer_id", [run]).fetchall(),
            "run": con.execute("select population, counts, identity, facts_sha256, customers, "
                               "rejected, new_strikes, source, as_of, policy_sha256 "
                               "from runs where id = ?", [run]).fetchone(),
            "strikes": con.execute("select customer_id, rule, recorded_on, expires_on, "
                                   "superseded_by_run from strikes order by customer_id, rule, "
                                   "recorded_on").fetchall(),
            "rejects": con.execute("select file, row, line, customer_id, field, value, reason "
                                   "from rejects where run_id = ? order by row, field",
                                   [run]).fetchall(),
            "cases": con.execute("select customer_id, state, opened_run, opened_as_of, "
                                 "latest_run, latest_as_of, effective_date, phase_out_start, "
                                 "timing_basis, fired, closed_run, closed_from from cases "
                                 "order by customer_id").fetchall(),  # not the clock times
        }
    finally:
        con.close()


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """3,000 customers (1.5 % bad rows, duplicates among them) and a
    database holding an earlier month's run (strikes, cases)."""
    tmp = tmp_path_factory.mktemp("dask")
    csv = tmp / "customers.csv"
    generator = next(g for g in GENERATORS if g.exists())
    subprocess.run([sys.executable, str(generator), "3000", str(csv),
                    str(ROOT / "examples" / "customers.csv")], check=True)
    db = tmp / "earlier.db"
    evaluate(csv, db, EARLIER)
    return csv, db


def test_dask_run_equals_a_single_process_run(base, tmp_path: Path) -> None:
    from distributed import Client, LocalCluster

    csv, earlier = base
    single, on_dask = tmp_path / "single.db", tmp_path / "dask.db"
    shutil.copy(earlier, single)
    shutil.copy(earlier, on_dask)
    evaluate(csv, single, AS_OF.isoformat())

    namespace: dict = {}
    exec(compile(example_code(), str(SCALE), "exec"), namespace)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        run_id = namespace["decide_on_dask"](client, POLICY, str(csv), str(on_dask), AS_OF,
                                             rows_per_part=ROWS_PER_PART)
    assert run_id == 2

    want, got = stored(single), stored(on_dask)
    assert len(got["decisions"]) == 2956
    assert any(r[9] for r in got["decisions"]), "memory from the earlier run was used"
    assert any(r[4] > 0 for r in got["decisions"]), "strikes were counted"
    for name in want:
        assert got[name] == want[name], name
    assert '"percentile(staff_hours_per_1k, staff_time_percentile)"' in got["run"][0]
    verify = CliRunner().invoke(cli, ["audit", "verify", "--db", str(on_dask)])
    assert verify.exit_code == 0, verify.output
    assert "intact" in verify.output


def test_the_example_meets_duplicates_across_parts(base) -> None:
    """The generated base has a customer id twice, and with ROWS_PER_PART
    the two rows fall in different parts: the cross-part duplicate path is
    what the equality above covers."""
    csv, _ = base
    parts = split_csv(str(csv), ROWS_PER_PART)
    assert len(parts) == 6
    con_rows = stored_rejects_of_duplicates(csv)
    assert any(_part_of(parts, row) != _part_of(parts, first) for row, first in con_rows)


def stored_rejects_of_duplicates(csv: Path) -> list[tuple[int, int]]:
    from adieu import partition
    from adieu.csvsplit import read_part

    policy = partition.load(POLICY)
    out = []
    for part in split_csv(str(csv), 10_000):
        _, rejects = partition.coerce_partition(policy, read_part(part))
        out += [(r.row, int(r.reason.rsplit(" ", 1)[1])) for r in rejects
                if r.reason.startswith("duplicate")]
    return out


def _part_of(parts, row: int) -> int:
    return next(i for i, p in enumerate(parts) if p.first_row <= row < p.first_row + p.rows)
