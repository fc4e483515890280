"""Two `adieu evaluate` processes on one database at once (issue 9, item 4).

Each try starts three real processes (the installed console script)
together on a fresh database, over a generated CSV big enough that their
reading and deciding overlap: two as of 2026-11-15 (one run stored, the
other "already recorded") and one as of 2026-11-01 (stored first, and the
later runs decided again with its strikes, or failing; never stored after
the later date). Every customer fires the strike rule each time, so a
strike recorded by two runs inside the 30-day cool-down would show as two
strikes."""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ADIEU = shutil.which("adieu", path=str(Path(sys.executable).parent)) or shutil.which("adieu")
TRIES = 20
ROWS = 2000
COOLDOWN = 30

POLICY = textwrap.dedent("""\
    version: 1
    name: racing
    rules:
      - id: late
        title: Late payer
        when: late_payments_12m >= 3
        action: strike
        severity: medium
    strikes:
      window_days: 365
      cooldown_days: 30
      ladder:
        warn: 1
        final_notice: 2
        offboard: 3
    """)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("race")
    policy = base / "racing.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    source = base / "customers.csv"
    lines = ["customer_id,revenue_12m,late_payments_12m"]
    lines += [f"C-{i:05d},{1000 + i},{3 + i % 5}" for i in range(ROWS)]
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return policy, source


def start(policy: Path, source: Path, db: Path, as_of: str) -> subprocess.Popen:
    assert ADIEU, "the adieu console script is not installed"
    return subprocess.Popen([ADIEU, "evaluate", str(policy), "--source", f"csv:{source}",
                             "--as-of", as_of, "--db", str(db)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def together(policy: Path, source: Path, db: Path, dates: list[str]) \
        -> list[tuple[str, int, str]]:
    procs = [(d, start(policy, source, db, d)) for d in dates]
    out = []
    for d, p in procs:
        _, err = p.communicate(timeout=60)
        out.append((d, p.returncode, err))
    return out


def check_ladder(db: Path) -> None:
    """One counted strike per customer per rule inside the cool-down."""
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("select customer_id, rule, recorded_on from strikes where "
                            "superseded_by_run is null and pardoned_at is null "
                            "order by customer_id, rule, recorded_on").fetchall()
    finally:
        conn.close()
    last: dict[tuple[str, str], dt.date] = {}
    for customer, rule, recorded in rows:
        day = dt.date.fromisoformat(recorded)
        before = last.get((customer, rule))
        assert before is None or (day - before).days >= COOLDOWN, \
            f"{customer} has two {rule} strikes inside the cool-down: {before} and {day}"
        last[(customer, rule)] = day
    assert len(last) == ROWS


def stored_runs(db: Path) -> list[tuple[int, str]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("select id, as_of from runs order by id").fetchall()
    finally:
        conn.close()


def test_two_runs_at_once_keep_the_ladder_and_the_order(
        inputs: tuple[Path, Path], tmp_path: Path) -> None:
    """Each try: three processes at once on a fresh database, two as of
    2026-11-15 and one as of 2026-11-01 (in turn first, middle, last)."""
    policy, source = inputs
    overlapped = 0
    for i in range(TRIES):
        db = tmp_path / f"try{i}.db"
        dates = ["2026-11-15", "2026-11-15"]
        dates.insert(i % 3, "2026-11-01")
        results = together(policy, source, db, dates)
        for as_of, code, err in results:
            assert "Traceback" not in err
            assert code in (0, 2), err
            if code == 2:  # only the earlier date may lose, with the one-line reason
                assert as_of == "2026-11-01", err
                assert "is before the latest run's (2026-11-15)" in err, err
        if any("while this one was deciding" in err or "decided again" in err
               or "already recorded" in err for _, _, err in results):
            overlapped += 1
        dates_stored = [as_of for _, as_of in stored_runs(db)]
        assert dates_stored == sorted(dates_stored), f"try {i}: runs stored out of order"
        # The same date twice at once: one run stored; the other says so.
        assert dates_stored.count("2026-11-15") == 1, dates_stored
        assert sum("already recorded" in err for _, _, err in results) == 1
        check_ladder(db)
    # The processes really ran at the same time (otherwise nothing was tested).
    assert overlapped >= TRIES // 2, f"only {overlapped} of {TRIES} tries overlapped"


def test_a_run_stored_meanwhile_is_decided_with(inputs: tuple[Path, Path],
                                                tmp_path: Path) -> None:
    """The later date decided before the earlier one was stored decides
    again with its strikes: no new strike 14 days after the first."""
    from adieu.run import prepare, store

    policy, source = inputs
    db = tmp_path / "adieu.db"
    late = prepare(str(policy), f"csv:{source}", dt.date(2026, 11, 15), db_file=str(db))
    early = prepare(str(policy), f"csv:{source}", dt.date(2026, 11, 1), db_file=str(db))
    store(early, str(db), "2026-11-01T00:00:00+00:00")
    store(late, str(db), "2026-11-15T00:00:00+00:00")  # memory read under the write lock
    assert all(not d.new_strikes and d.strikes == 1 for d in late.decisions)
    check_ladder(db)
    assert [d for _, d in stored_runs(db)] == ["2026-11-01", "2026-11-15"]


def test_an_earlier_date_stored_after_a_later_one_fails(inputs: tuple[Path, Path],
                                                        tmp_path: Path) -> None:
    from adieu.errors import InputError
    from adieu.run import prepare, store

    policy, source = inputs
    db = tmp_path / "adieu.db"
    late = prepare(str(policy), f"csv:{source}", dt.date(2026, 11, 15), db_file=str(db))
    early = prepare(str(policy), f"csv:{source}", dt.date(2026, 11, 1), db_file=str(db))
    store(late, str(db), "2026-11-15T00:00:00+00:00")
    with pytest.raises(InputError, match="another run as of 2026-11-15 was stored while "
                                         "this one was deciding.*nothing was stored"):
        store(early, str(db), "2026-11-01T00:00:00+00:00")
    assert [d for _, d in stored_runs(db)] == ["2026-11-15"]


def test_same_date_decided_together_stores_once(inputs: tuple[Path, Path],
                                                tmp_path: Path) -> None:
    from adieu.run import prepare, store

    policy, source = inputs
    db = tmp_path / "adieu.db"
    one = prepare(str(policy), f"csv:{source}", dt.date(2026, 11, 1), db_file=str(db))
    two = prepare(str(policy), f"csv:{source}", dt.date(2026, 11, 1), db_file=str(db))
    first = store(one, str(db), "2026-11-01T00:00:00+00:00")
    assert store(two, str(db), "2026-11-01T00:00:00+00:00") == first
    assert two.already and len(stored_runs(db)) == 1
