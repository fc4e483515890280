"""The effective date's stated basis names every move of the date, in order:
past an avoided period, off a weekend, repeated moves; and replay of a run
made by an older adieu version does not report the new wording as a
difference."""

from __future__ import annotations

import datetime as dt

import pytest

from adieu import __version__
from adieu.decide import effective_date
from adieu.policy import Timing
from adieu.replay import basis_start, replay
from adieu.store import open_db

D = dt.date.fromisoformat
AS_OF = D("2026-11-03")  # a Tuesday


def timing(**kw) -> Timing:
    kw.setdefault("avoid", [])
    return Timing(**kw)


def test_a_saturday_contract_end_names_the_weekend_move() -> None:
    assert effective_date(timing(), D("2027-01-23"), D("2026-11-30")) == (
        D("2027-01-25"),
        "contract end 2027-01-23 (a Saturday), moved to Monday 2027-01-25 (weekdays only)")


def test_a_notice_landing_62_days_out_names_the_move() -> None:
    as_of = D("2026-11-03")  # + 60 = Saturday 2027-01-02, moved to Monday: 62 days out
    day, basis = effective_date(timing(), None, as_of)
    assert (day, (day - as_of).days) == (D("2027-01-04"), 62)
    assert basis == ("60-day notice period ends 2027-01-02 (a Saturday), moved to Monday "
                     "2027-01-04 (weekdays only)")


def test_the_year_end_freeze_names_the_move_and_the_new_date() -> None:
    t = timing(avoid=[((12, 20), (1, 5), "the year-end freeze")])
    day, basis = effective_date(t, None, AS_OF)
    assert day == D("2027-01-06")
    assert basis == ("60-day notice period ends 2027-01-02, moved past the year-end freeze "
                     "to 2027-01-06")


def test_a_period_without_a_reason_is_named_by_its_days() -> None:
    t = timing(weekdays_only=False, avoid=[((12, 20), (1, 5), "")])
    assert effective_date(t, None, AS_OF)[1] == \
        "60-day notice period ends 2027-01-02, moved past an avoided period (12-20 to 01-05) " \
        "to 2027-01-06"


def test_every_move_in_order_including_repeated_ones() -> None:
    # Out of the freeze onto a Saturday, to Monday, which is in a stock-take
    # week, out of it onto a Saturday again, to Monday.
    t = timing(avoid=[((12, 15), (1, 1), "the year-end freeze"),
                      ((1, 4), (1, 8), "the stock-take")])
    day, basis = effective_date(t, None, D("2026-11-01"))
    assert day == D("2027-01-11")
    assert basis == (
        "60-day notice period ends 2026-12-31, moved past the year-end freeze to 2027-01-02 "
        "(a Saturday), moved to Monday 2027-01-04 (weekdays only), moved past the stock-take "
        "to 2027-01-09 (a Saturday), moved to Monday 2027-01-11 (weekdays only)")


def test_a_sunday_contract_end() -> None:
    assert effective_date(timing(), D("2027-01-24"), D("2026-11-30"))[1] == \
        "contract end 2027-01-24 (a Sunday), moved to Monday 2027-01-25 (weekdays only)"


@pytest.mark.parametrize("end, as_of, basis", [
    (D("2027-01-22"), D("2026-11-30"), "contract end"),  # a Friday, inside 90 days
    (None, D("2026-11-02"), "60-day notice period"),    # 2027-01-01, a Friday
])
def test_an_unmoved_date_keeps_the_short_basis(end, as_of, basis) -> None:
    assert effective_date(timing(), end, as_of)[1] == basis


def test_without_weekdays_only_a_weekend_date_stays_and_nothing_is_said() -> None:
    assert effective_date(timing(weekdays_only=False), D("2027-01-23"), D("2026-11-30")) == \
        (D("2027-01-23"), "contract end")


@pytest.mark.parametrize("text, start", [
    ("contract end", "contract end"),
    ("contract end, moved past the holiday season", "contract end"),
    ("contract end 2027-01-23 (a Saturday), moved to Monday 2027-01-25 (weekdays only)",
     "contract end"),
    ("60-day notice period, moved past the holidays", "60-day notice period"),
    ("60-day notice period ends 2027-01-02, moved past the holidays to 2027-01-06",
     "60-day notice period"),
    ("45-day notice period", "45-day notice period"),
    (None, None),
])
def test_basis_start_reads_old_and_new_wording(text, start) -> None:
    assert basis_start(text) == start


POLICY = """\
version: "1"
name: basis
rules:
  - id: abuse
    title: Abuse
    when: abuse_incidents_12m > 0
    action: offboard
"""


@pytest.fixture
def saturday_run(tmp_path, runner):
    from adieu.cli import cli

    (tmp_path / "p.yaml").write_text(POLICY, encoding="utf-8")
    (tmp_path / "c.csv").write_text("customer_id,abuse_incidents_12m,contract_end\n"
                                    "C-1,1,2027-01-23\nC-2,1,2027-01-22\n", encoding="utf-8")
    db = tmp_path / "r.db"
    done = runner.invoke(cli, ["evaluate", str(tmp_path / "p.yaml"), "--source",
                               f"csv:{tmp_path / 'c.csv'}", "--as-of", "2026-11-30",
                               "--db", str(db)])
    assert done.exit_code == 0, done.output
    return db


def _store_old_wording(db, version: str) -> None:
    """What an older adieu stored for C-1 (it named no move). The run_decisions
    table refuses SQL updates (audit triggers), so they are dropped first:
    this test is about replay, not the trail."""
    store = open_db(str(db))
    for (name,) in store.execute("select name from sqlite_master where type = 'trigger'"
                                 ).fetchall():
        store.execute(f"drop trigger {name}")
    store.execute("update run_decisions set timing_basis = 'contract end' "
                  "where customer_id = 'C-1'")
    store.execute("update runs set adieu_version = ?", [version])
    store.conn.commit()
    store.close()


def test_replay_of_an_older_version_ignores_the_new_wording(saturday_run) -> None:
    _store_old_wording(saturday_run, "0.1.0")
    store = open_db(str(saturday_run))
    result = replay(store, None)
    assert (result["adieu_version"], result["differences"]) == ("0.1.0", [])
    # The effective date itself is still compared exactly.
    store.execute("update run_decisions set effective_date = '2027-01-23' "
                  "where customer_id = 'C-1'")
    store.conn.commit()
    assert [(d["customer_id"], d["field"]) for d in replay(store, None)["differences"]] == \
        [("C-1", "effective_date")]
    # And what the basis started from: a notice period is not the contract end.
    store.execute("update run_decisions set effective_date = '2027-01-25', timing_basis = "
                  "'60-day notice period' where customer_id = 'C-1'")
    store.conn.commit()
    assert [(d["customer_id"], d["field"]) for d in replay(store, None)["differences"]] == \
        [("C-1", "timing_basis")]


def test_replay_by_the_same_version_compares_the_exact_words(saturday_run) -> None:
    _store_old_wording(saturday_run, __version__)
    store = open_db(str(saturday_run))
    diffs = replay(store, None)["differences"]
    assert [(d["customer_id"], d["field"], d["stored"], d["replayed"]) for d in diffs] == [
        ("C-1", "timing_basis", "contract end",
         "contract end 2027-01-23 (a Saturday), moved to Monday 2027-01-25 (weekdays only)")]
