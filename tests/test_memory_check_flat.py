"""The memory check before a run streams its rows: its Python memory does
not grow with the number of strikes in the store (it held every joined row
at once, which made a re-run over 1,000,000 customers peak at 255 MB)."""

from __future__ import annotations

import datetime as dt
import tracemalloc
from pathlib import Path

from click.testing import CliRunner
from test_streaming import generate

from adieu import memory_check
from adieu.cli import cli
from adieu.store import open_db

ROOT = Path(__file__).resolve().parent.parent


def check_peak(n: int, tmp_path: Path) -> tuple[int, int]:
    """(strikes in the store, traced peak bytes of check_memory) after a
    first run over n generated customers."""
    source = generate(n, tmp_path / f"c{n}.csv")
    db_file = tmp_path / f"m{n}.db"
    done = CliRunner().invoke(cli, ["evaluate", str(ROOT / "policies" / "default.yaml"),
                                    "--source", f"csv:{source}", "--as-of", "2026-11-01",
                                    "--db", str(db_file), "--quiet", "--workers", "1"])
    assert done.exit_code == 0, done.output
    db = open_db(str(db_file))
    try:
        strikes = db.execute("select count(*) from strikes").fetchone()[0]
        tracemalloc.start()
        try:
            memory_check.check_memory(db, dt.date(2026, 12, 1))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    finally:
        db.close()
    return strikes, peak


def test_the_memory_check_does_not_hold_every_strike(tmp_path: Path) -> None:
    small_strikes, small = check_peak(2_000, tmp_path)
    large_strikes, large = check_peak(12_000, tmp_path)
    assert large_strikes > 5 * small_strikes > 0
    # Rows held at once cost over 1 KB a strike; the seqs already used
    # (one int each in a set) are what may grow.
    assert large - small < 150 * (large_strikes - small_strikes), (small, large)
