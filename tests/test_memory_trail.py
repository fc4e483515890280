"""The memory a run reads is checked against the trail's pardon, supersede
and strike entries before it decides (issue 12, item 4): with the triggers
dropped, a supersede or a pardon cleared, a supersede set without its entry
or an expiry edited makes the next run refuse (exit 2), naming the strike
and the column, instead of counting the strike again.

The database (two runs of one as-of date, so run 2 supersedes run 1's
strikes, and a pardon in between) is built once and copied for each test."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import AS_OF, CSV_HEADER, CSV_ROWS, POLICY, sql

from adieu.cli import cli
from adieu.errors import InputError
from adieu.memory_check import check_memory
from adieu.store import open_db

NEXT = "2026-12-01"




def drop_strike_triggers(db: Path) -> None:
    names = sql(db, "select name from sqlite_master where type = 'trigger' and "
                    "tbl_name = 'strikes'")
    sql(db, *(f"drop trigger {name}" for (name,) in names))


def evaluate(db: Path, source: Path, as_of: str = NEXT):
    return CliRunner().invoke(cli, ["evaluate", str(db.with_name("tiny.yaml")), "--source",
                                    f"csv:{source}", "--as-of", as_of, "--db", str(db)])


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("memtrail")
    (tmp / "tiny.yaml").write_text(POLICY, encoding="utf-8")
    csv = tmp / "customers.csv"
    csv.write_text("\n".join([CSV_HEADER, *CSV_ROWS]) + "\n", encoding="utf-8")
    corrected = tmp / "corrected.csv"
    corrected.write_text(csv.read_text().replace("C-KEEP,standard,10000",
                                                 "C-KEEP,standard,10001"))
    db = tmp / "adieu.db"
    assert evaluate(db, csv, AS_OF).exit_code == 0
    pardon = CliRunner().invoke(cli, ["strikes", "pardon", "C-WARN", "late", "--by", "Pat",
                                      "--reason", "our billing error", "--db", str(db)])
    assert pardon.exit_code == 0, pardon.output
    assert evaluate(db, corrected, AS_OF).exit_code == 0  # supersedes run 1's strikes
    sql(db, "pragma wal_checkpoint(truncate)")
    return db


@pytest.fixture
def db(built: Path, tmp_path: Path) -> Path:
    path = tmp_path / "adieu.db"
    shutil.copyfile(built, path)
    shutil.copyfile(built.with_name("tiny.yaml"), tmp_path / "tiny.yaml")
    shutil.copyfile(built.with_name("customers.csv"), tmp_path / "customers.csv")
    return path


def refused(db: Path, *names: str) -> str:
    """Evaluate the next month: refused with exit 2, every name in the
    one-line error, and no run recorded."""
    runs = sql(db, "select count(*) from runs")
    result = evaluate(db, db.with_name("customers.csv"))
    assert result.exit_code == 2, result.output
    line = result.stderr.strip()
    assert "\n" not in line and "run `adieu audit verify`" in line
    for name in names:
        assert name in line, (name, line)
    assert sql(db, "select count(*) from runs") == runs
    return line


def test_untouched_memory_runs_the_next_month(db: Path) -> None:
    result = evaluate(db, db.with_name("customers.csv"))
    assert result.exit_code == 0, result.output


def test_a_cleared_supersede_is_refused_naming_the_strike(db: Path) -> None:
    """The issue's example: the strike would count again (final notice
    becomes offboard)."""
    strike, customer = sql(db, "select id, customer_id from strikes where "
                               "superseded_by_run = 2 order by id limit 1")[0]
    drop_strike_triggers(db)
    sql(db, f"update strikes set superseded_by_run = null where id = {strike}")
    refused(db, f"strikes row {strike} ({customer}): superseded_by_run cleared, but a "
                "supersede entry names it")


def test_a_supersede_without_its_entry_is_refused(db: Path) -> None:
    """A strike hidden by superseded_by_run set with SQL to a later run of
    its date that decided the customer: no supersede entry names it."""
    strike, customer = sql(db, "select id, customer_id from strikes where run_id = 2 and "
                               "superseded_by_run is null and pardoned_at is null "
                               "order by id limit 1")[0]
    sql(db, f"update strikes set superseded_by_run = 2 where id = {strike}")
    refused(db, f"supersede of strikes row {strike} ({customer}) has no audit entry")


def test_a_supersede_moved_to_another_run_is_refused(db: Path) -> None:
    strike, customer = sql(db, "select id, customer_id from strikes where "
                               "superseded_by_run = 2 order by id limit 1")[0]
    drop_strike_triggers(db)
    sql(db, f"update strikes set superseded_by_run = 1 where id = {strike}")
    refused(db, f"supersede of strikes row {strike} ({customer}): its superseded_by_run "
                "differs from audit entry")


def test_a_cleared_pardon_is_refused(db: Path) -> None:
    strike, customer = sql(db, "select id, customer_id from strikes where "
                               "pardoned_at is not null")[0]
    drop_strike_triggers(db)
    sql(db, "update strikes set pardoned_at = null, pardoned_by = null, pardon_reason = null "
            f"where id = {strike}")
    refused(db, f"strikes row {strike} ({customer}): pardoned_at cleared, but a pardon "
                "entry names it")


@pytest.mark.parametrize("expires_on", ["'2026-11-03'", "'2099-01-01'", "null"])
def test_an_edited_expiry_is_refused(db: Path, expires_on: str) -> None:
    strike, customer = sql(db, "select id, customer_id from strikes where run_id = 2 and "
                               "superseded_by_run is null and pardoned_at is null "
                               "order by id limit 1")[0]
    drop_strike_triggers(db)
    sql(db, f"update strikes set expires_on = {expires_on} where id = {strike}")
    refused(db, f"strikes row {strike} ({customer}): its expires_on differs from audit entry")


def test_an_old_strikes_expiry_is_derived_from_its_runs_policy(tmp_path: Path) -> None:
    """Strike entries written before m009 hold no expires_on: the check
    derives it (recorded_on plus the run's window_days) as verify does, so
    an old database passes and an edited expiry is still named."""
    db = tmp_path / "old.db"
    shutil.copyfile(Path(__file__).resolve().parent / "fixtures" / "main-m007.db", db)
    store = open_db(str(db))  # migrates it (m008 on)
    try:
        as_of = dt.date.fromisoformat(store.execute("select max(as_of) from runs")
                                      .fetchone()[0]) + dt.timedelta(days=30)
        assert "expires_on" not in json.loads(store.execute(
            "select payload from audit where kind = 'strike' and run_id = 1").fetchone()[0])
        check_memory(store, as_of)
    finally:
        store.close()
    drop_strike_triggers(db)
    strike = sql(db, "select min(id) from strikes where superseded_by_run is null and "
                     "pardoned_at is null")[0][0]
    sql(db, f"update strikes set expires_on = '2099-01-01' where id = {strike}")
    store = open_db(str(db))
    try:
        with pytest.raises(InputError, match=rf"strikes row {strike} \(.*\): its expires_on "
                                             "differs from audit entry"):
            check_memory(store, as_of)
    finally:
        store.close()


def test_an_edited_supersede_entry_does_not_vouch(db: Path) -> None:
    """The supersede entry itself must be intact (its own hash right)."""
    strike, customer = sql(db, "select id, customer_id from strikes where "
                               "superseded_by_run = 2 order by id limit 1")[0]
    names = sql(db, "select name from sqlite_master where type = 'trigger' and "
                    "tbl_name = 'audit'")
    sql(db, *(f"drop trigger {name}" for (name,) in names))
    seq = sql(db, "update audit set at = '2026-11-30T00:00:00+00:00' where kind = 'supersede' "
                  "returning seq")[0][0]
    refused(db, f"supersede of strikes row {strike} ({customer}): audit entry {seq} was "
                "edited")
