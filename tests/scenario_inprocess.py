"""examples/scenario's year of runs written in-process (click's CliRunner),
in a few seconds instead of the minute examples/scenario/run.sh takes with
a new `adieu` process per step: the same commands in the same order as
run.sh, but only those that write to the database (its listings, replays
and refused approvals write nothing). tests/test_scenario.py runs run.sh
itself."""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner

from adieu.cli import cli

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "examples" / "scenario"
REVIEWER = "Mara Lind"


def _adieu(folder: Path, *args: str) -> None:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, f"adieu {' '.join(args)}: {result.output}"


def build(folder: Path, before_dogwood_review: bool = False) -> Path:
    """Copy examples/scenario into `folder` (a new directory) and write its
    year of runs to folder/scenario.db, as run.sh does; the database's path.
    before_dogwood_review: stop after the December run, while Dogwood's
    (CUST-D's) offboarding waits for review."""
    shutil.copytree(SCENARIO, folder, ignore=shutil.ignore_patterns("*.db", "*.db-*"))
    db = str(folder / "scenario.db")
    policy = str(folder / "scenario.yaml")

    def evaluate(day: str, *more: str) -> None:
        _adieu(folder, "evaluate", policy, "--source", f"csv:{folder}/snapshots/{day}.csv",
               "--as-of", day, "--db", db, "-q", *more)

    _adieu(folder, "exempt", "CUST-E", "--rules", "cost-exceeds-revenue", "--reason",
           "Reference account: speaks at our user conference", "--approver",
           "Chief Commercial Officer", "--until", "2027-01-01", "--new-customer", "--db", db)
    for month in range(1, 13):
        day = f"2026-{month:02d}-01"
        evaluate(day)
        if month == 3:
            _adieu(folder, "strikes", "pardon", "CUST-G", "late-payments", "--by",
                   "Gustav Berg", "--reason",
                   "late payments caused by our invoicing error (INC-2291)", "--db", db)
        elif month == 5:
            _adieu(folder, "exempt", "CUST-I", "--all", "--reason",
                   "Strategic reference: co-presents our autumn launch", "--approver", "CEO",
                   "--until", "2026-08-15", "--db", db)
        elif month == 6:
            _adieu(folder, "approve", "CUST-A", "--run", "6", "--by", REVIEWER, "--note",
                   "three strikes in five months; 60 days' notice to 2026-07-31",
                   "--on", "2026-06-01", "--db", db)
        elif month == 12:
            evaluate(day)  # writes nothing
            if before_dogwood_review:
                return folder / "scenario.db"
            _adieu(folder, "approve", "CUST-D", "--run", "12", "--by", REVIEWER, "--note",
                   "late again after a final notice", "--on", "2026-12-01", "--db", db)
    evaluate("2026-09-01", "--backfill")  # the same run again: writes nothing
    return folder / "scenario.db"
