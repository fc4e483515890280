"""Every stored field a decision or a listing reads is covered by the trail.

Issue 12, item 4: a supersede undone, a pardon reason, an expiry or a
review time edited, and rejects changed were not found by `audit verify`.
Each tamper here is what a person with the sqlite3 tool could do: with the
triggers in place where the issue says they should refuse, after dropping
them otherwise. The database is built once per module (two runs of one
as-of date, a pardon, an exemption, reviews, an adieu 0.2 review) and
copied for each test."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import AS_OF, CSV_HEADER, CSV_ROWS, POLICY, sql

from adieu.audit import AuditLog
from adieu.cli import cli
from adieu.store import open_db

FIXTURES = Path(__file__).resolve().parent / "fixtures"
REFUSED = "part of the audit trail"


def adieu(db: Path, *args: str, code: int = 0):
    result = CliRunner().invoke(cli, [*args, "--db", str(db)])
    assert result.exit_code == code, (args, result.output)
    return result




def drop_triggers(db: Path, table: str) -> None:
    names = sql(db, f"select name from sqlite_master where type = 'trigger' and "
                    f"tbl_name = '{table}'")
    sql(db, *(f"drop trigger {name}" for (name,) in names))


def verify(db: Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["audit", "verify", "--db", str(db)])
    return result.exit_code, result.stdout


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run 1 (with a rejected row), a pardon, an exemption, an approval,
    run 2 of the SAME as-of date (it supersedes run 1's strikes of the
    customers it decides again), a rejection, and a review as adieu 0.2
    wrote them (reviews row + approval entry)."""
    tmp = tmp_path_factory.mktemp("trail")
    policy, csv, corrected, db = (tmp / "tiny.yaml", tmp / "customers.csv",
                                  tmp / "corrected.csv", tmp / "adieu.db")
    policy.write_text(POLICY, encoding="utf-8")
    csv.write_text("\n".join([CSV_HEADER, *CSV_ROWS]) + "\n", encoding="utf-8")
    corrected.write_text(csv.read_text().replace("C-KEEP,standard,10000",
                                                 "C-KEEP,standard,10001"))
    for source in (csv, corrected):
        if source == corrected:
            adieu(db, "strikes", "pardon", "C-WARN", "late", "--by", "Pat", "--reason",
                  "our billing error")
            adieu(db, "exempt", "C-HELD", "--all", "--reason", "Reference", "--approver",
                  "CCO", "--until", "2027-01-01")
            adieu(db, "approve", "C-OFF", "--run", "1", "--by", "Rita",
                  "--no-owner-on-record")
        adieu(db, "evaluate", str(policy), "--source", f"csv:{source}", "--as-of", AS_OF)
    adieu(db, "reject", "C-ABUSE", "--by", "Rita", "--note", "talked",
          "--no-owner-on-record")
    store = open_db(str(db))
    try:
        with store.atomic():
            at = "2026-11-03T10:00:00+00:00"
            store["reviews"].insert({"run_id": 1, "customer_id": "C-FINAL",
                                     "verdict": "approved", "reviewer": "Old Reviewer",
                                     "note": "fine", "at": at})
            log = AuditLog(store, at)
            log.add("approval", {"verdict": "approved", "reviewer": "Old Reviewer",
                                 "note": "fine"}, 1, "C-FINAL")
            log.flush()
    finally:
        store.close()
    return db


@pytest.fixture
def db(built: Path, tmp_path: Path) -> Path:
    path = tmp_path / "adieu.db"
    sql(built, "pragma wal_checkpoint(truncate)")
    shutil.copyfile(built, path)
    return path


def test_the_products_own_changes_verify(db: Path) -> None:
    """Pardon, supersede by a re-run of the date, exemption, approve and
    reject all went through the triggers, and the trail is intact."""
    kinds = dict(sql(db, "select kind, count(*) from audit group by kind"))
    assert kinds["supersede"] == 1 and kinds["rejects"] == 2 and kinds["pardon"] == 1
    superseded = sql(db, "select id from strikes where superseded_by_run = 2 order by id")
    entry = json.loads(sql(db, "select payload from audit where kind = 'supersede'")[0][0])
    assert entry == {"strike_ids": [s for (s,) in superseded]} and superseded
    # The pardoned strike is not superseded: the pardon holds for the date.
    assert sql(db, "select superseded_by_run from strikes where pardoned_at is not null") == \
        [(None,)]
    assert sql(db, "select count from (select json_extract(payload, '$.count') as count from "
                   "audit where kind = 'rejects')") == [(1,), (1,)]
    code, out = verify(db)
    assert (code, out.splitlines()[0]) == (0, f"audit trail intact: {sum(kinds.values())} entries")


# -- the examples ---------------------------------------------------------

def test_clearing_a_supersede_is_refused_then_named(db: Path) -> None:
    """`update strikes set superseded_by_run = null` worked with the
    triggers in place and verify said intact; the next run counted the
    strikes again."""
    strike = sql(db, "select min(id) from strikes where superseded_by_run = 2")[0][0]
    with pytest.raises(sqlite3.DatabaseError, match=REFUSED):
        sql(db, "update strikes set superseded_by_run = null")
    with pytest.raises(sqlite3.DatabaseError, match=REFUSED):
        sql(db, f"update strikes set superseded_by_run = 1 where id = {strike}")
    drop_triggers(db, "strikes")
    sql(db, f"update strikes set superseded_by_run = null where id = {strike}")
    code, out = verify(db)
    assert code == 1
    assert f"strike {strike}: its supersede by run 2 (audit entry" in out
    assert "superseded_by_run cleared" in out


def test_a_supersede_without_its_entry_is_named(db: Path) -> None:
    """NULL -> value is what a run does, so the trigger lets it through;
    verify wants the supersede entry that names the strike."""
    strike = sql(db, "select min(id) from strikes where superseded_by_run is null and "
                     "pardoned_at is null")[0][0]
    sql(db, f"update strikes set superseded_by_run = 2 where id = {strike}")
    code, out = verify(db)
    assert code == 1
    assert f"strike {strike} is marked superseded by run 2 without a supersede entry" in out


def test_a_supersede_moved_to_another_run_is_named(db: Path) -> None:
    strike = sql(db, "select min(id) from strikes where superseded_by_run = 2")[0][0]
    drop_triggers(db, "strikes")
    sql(db, f"update strikes set superseded_by_run = 1 where id = {strike}")
    code, out = verify(db)
    assert code == 1 and f"strike {strike} was edited: superseded_by_run is 1" in out


def test_a_pardon_reason_is_refused_then_named(db: Path) -> None:
    strike = sql(db, "select id from strikes where pardoned_at is not null")[0][0]
    with pytest.raises(sqlite3.DatabaseError, match=REFUSED):
        sql(db, f"update strikes set pardon_reason = 'goodwill' where id = {strike}")
    drop_triggers(db, "strikes")
    sql(db, f"update strikes set pardon_reason = 'goodwill' where id = {strike}")
    code, out = verify(db)
    assert code == 1
    assert f"strike {strike} was edited: pardon_reason differs from its pardon entry" in out


@pytest.mark.parametrize("change", [
    "pardoned_at = '2026-11-05'", "pardoned_by = 'me'", "pardon_reason = 'x'",
    "pardoned_at = '2026-11-05', pardoned_by = 'me'"])
def test_half_a_pardon_is_refused(db: Path, change: str) -> None:
    """A pardon sets all three columns at once, from NULL."""
    strike = sql(db, "select min(id) from strikes where pardoned_at is null")[0][0]
    with pytest.raises(sqlite3.DatabaseError, match=REFUSED):
        sql(db, f"update strikes set {change} where id = {strike}")


@pytest.mark.parametrize("column, value", [
    ("expires_on", "'2026-11-03'"), ("recorded_on", "'2026-01-01'"), ("rule", "'abuse'"),
    ("customer_id", "'C-KEEP'"), ("run_id", "2"), ("id", "9999")])
def test_a_strikes_identity_never_changes(db: Path, column: str, value: str) -> None:
    with pytest.raises(sqlite3.DatabaseError, match=REFUSED):
        sql(db, f"update strikes set {column} = {value} where id = 1")


def test_an_expiry_edited_is_named(db: Path) -> None:
    drop_triggers(db, "strikes")
    sql(db, "update strikes set expires_on = '2026-11-03' where id = 1")
    code, out = verify(db)
    assert code == 1
    assert "strike 1 (C-" in out and "was edited: expires_on 2026-11-03 differs from audit " \
        "entry" in out


def test_an_old_strikes_expiry_is_derived_from_its_runs_policy(tmp_path: Path) -> None:
    """Strike entries written before m009 hold no expires_on: it is
    recorded_on plus the window_days of the run's stored policy."""
    db = tmp_path / "old.db"
    shutil.copyfile(FIXTURES / "main-m007.db", db)
    assert verify(db)[0] == 0  # migrates it (m008, m009)
    payload = json.loads(sql(db, "select payload from audit where kind = 'strike' and "
                                 "run_id = 1 limit 1")[0][0])
    assert "expires_on" not in payload
    drop_triggers(db, "strikes")
    sql(db, "update strikes set expires_on = '2099-01-01' where id = 3")
    code, out = verify(db)
    assert code == 1 and "strike 3 (" in out and "expires_on 2099-01-01 differs" in out


@pytest.mark.parametrize("column, value", [
    ("at", "'2026-11-04T09:00:00+00:00'"), ("reviewer", "'Someone'"), ("note", "'ok'"),
    ("verdict", "'rejected'")])
def test_a_review_edited_is_refused_then_named(db: Path, column: str, value: str) -> None:
    with pytest.raises(sqlite3.DatabaseError, match=REFUSED):
        sql(db, f"update reviews set {column} = {value}")
    drop_triggers(db, "reviews")
    sql(db, f"update reviews set {column} = {value}")
    code, out = verify(db)
    assert code == 1
    assert f"review of C-FINAL in run 1 was edited: {column} differs from audit entry" in out


@pytest.mark.parametrize("statement", ["update rejects set value = '12000'",
                                       "delete from rejects"])
def test_rejects_rows_are_refused(db: Path, statement: str) -> None:
    with pytest.raises(sqlite3.DatabaseError, match=REFUSED):
        sql(db, statement)


@pytest.mark.parametrize("statement", [
    "update rejects set value = '12000' where run_id = 1",
    "delete from rejects where run_id = 1",
    "insert into rejects (run_id, file, row, line, customer_id, field, value, reason) "
    "values (1, 'x.csv', 3, 4, 'C-NEW', 'revenue_12m', 'x', 'expected a number')"])
def test_rejects_edited_deleted_or_inserted_are_named(db: Path, statement: str) -> None:
    drop_triggers(db, "rejects")
    sql(db, statement)
    code, out = verify(db)
    assert code == 1 and "rejects of run 1: " in out and "differ from audit entry" in out
    assert "rejects of run 2" not in out


def test_rejects_of_a_run_that_does_not_exist_are_named(db: Path) -> None:
    sql(db, "insert into rejects (run_id, file, row, line, customer_id, field, value, reason) "
            "values (7, 'x.csv', 3, 4, 'C-NEW', 'revenue_12m', 'x', 'expected a number')")
    code, out = verify(db)
    assert code == 1 and "rejects: 1 rows name run 7, which does not exist" in out


def test_an_old_database_gets_a_baseline_of_its_rejects(tmp_path: Path) -> None:
    """m009 records each earlier run's rejects as they are then (and the
    supersedes earlier runs made): from then on they are verified."""
    db = tmp_path / "old.db"
    shutil.copyfile(FIXTURES / "main-m007.db", db)
    assert verify(db)[0] == 0
    baseline = [(r, json.loads(p)) for r, p in sql(
        db, "select run_id, payload from audit where kind = 'rejects' order by seq")]
    assert [(r, p["count"], p["adopted"]) for r, p in baseline] == [(1, 1, True), (2, 1, True)]
    drop_triggers(db, "rejects")
    sql(db, "update rejects set reason = 'fine' where run_id = 2")
    code, out = verify(db)
    assert code == 1 and "rejects of run 2: " in out


# -- the kind: every column of every table a decision or listing reads ------------

TABLES = ("strikes", "exemptions", "reviews", "rejects", "cases", "runs", "run_decisions",
          "blobs")
# Columns nothing reads, so no decision or listing depends on them: a review
# (adieu 0.2) is found by its run and customer (explain, history), never by id.
NOT_READ = {"reviews.id"}


def test_every_stored_column_is_covered(built: Path, tmp_path: Path) -> None:
    """Each column of each table a decision or a listing reads, changed on
    one row (triggers dropped): verify exits 1. A column added later that
    the trail does not cover fails here."""
    uncovered = []
    for table in TABLES:
        info = sql(built, f"pragma table_info({table})")
        columns = [r[1] for r in info]
        keys = [r[1] for r in sorted(info, key=lambda r: r[5]) if r[5]] or ["rowid"]
        first = sql(built, f"select {', '.join(keys)} from {table} order by "
                           f"{', '.join(keys)} limit 1")[0]
        where = " and ".join(f"{k} = ?" for k in keys)
        assert columns, table
        for column in columns:
            path = tmp_path / f"{table}-{column}.db"
            sql(built, "pragma wal_checkpoint(truncate)")
            shutil.copyfile(built, path)
            drop_triggers(path, table)
            conn = sqlite3.connect(path, isolation_level=None)
            try:
                value = conn.execute(f"select {column} from {table} where {where}",
                                     first).fetchone()[0]
                new = (b"\x00" * 32 if isinstance(value, bytes) else
                       value + 1000 if isinstance(value, int) else
                       f"{value}x" if isinstance(value, str) else "x")
                conn.execute(f"update {table} set {column} = ? where {where}", [new, *first])
            finally:
                conn.close()
            code, out = verify(path)
            if code != 1 and f"{table}.{column}" not in NOT_READ:
                uncovered.append(f"{table}.{column}")
            path.unlink()
    assert uncovered == []


# -- the kind: with the triggers in place, no UPDATE adieu does not make ---------

# Every table whose rows are part of the trail (decisions_v1 holds the rows
# of databases older than m008: none in a new one, its triggers are checked).
TRIGGER_TABLES = ("strikes", "exemptions", "reviews", "cases", "rejects", "runs",
                  "run_decisions", "blobs", "audit")
OPEN_CASE_MOVES = {"latest_run", "latest_as_of", "fired", "effective_date", "phase_out_start",
                   "timing_basis", "updated_at"}


def updatable_alone(table: str, row: dict) -> set[str]:
    """The columns one UPDATE may change by themselves, as adieu does: a
    strike's superseded_by_run from NULL (a pardon sets three columns at
    once); an open case's run columns (a run keeps or redates it). Every
    other change of a single column is refused, whatever the row."""
    if table == "strikes":
        return {"superseded_by_run"} if row["superseded_by_run"] is None else set()
    if table == "cases":
        return OPEN_CASE_MOVES if row["state"] in ("proposed", "approved") else set()
    return set()


def test_every_column_of_every_table_refuses_an_update(built: Path) -> None:
    """`update cases set owner = ...` worked with the triggers in place
    (cases had only a no-delete trigger). Each column of each row of each
    trail table, changed alone with the triggers in place: refused, except
    the documented moves (updatable_alone). Nothing is committed."""
    names = {name for (name,) in sql(built, "select name from sqlite_master where type = "
                                            "'table' and name not like 'sqlite_%'")}
    assert names - set(TRIGGER_TABLES) == {"decisions_v1", "_sqlite_migrations"}
    triggered = {t for (t,) in sql(built, "select tbl_name from sqlite_master where type = "
                                          "'trigger' and sql like '%BEFORE UPDATE%'")}
    assert triggered == {*TRIGGER_TABLES, "decisions_v1"}
    conn = sqlite3.connect(built, isolation_level=None)
    conn.row_factory = sqlite3.Row
    wrong, moves = [], set()
    try:
        for table in TRIGGER_TABLES:
            info = conn.execute(f"pragma table_info({table})").fetchall()
            keys = [r[1] for r in sorted(info, key=lambda r: r[5]) if r[5]] or ["rowid"]
            where = " and ".join(f"{k} = ?" for k in keys)
            rowid = "rowid, " if keys == ["rowid"] else ""  # run_decisions: WITHOUT ROWID
            rows = [dict(r) for r in conn.execute(f"select {rowid}* from {table}")]
            assert rows, table
            for row in rows:
                allowed = updatable_alone(table, row)
                for column in (r[1] for r in info):
                    value = row[column]
                    new = (b"\x00" * 32 if isinstance(value, bytes) else
                           value + 1000 if isinstance(value, int) else
                           f"{value}x" if isinstance(value, str) else "x")
                    conn.execute("BEGIN")
                    try:
                        conn.execute(f"update {table} set {column} = ? where {where}",
                                     [new, *(row[k] for k in keys)])
                        refused = False
                    except sqlite3.IntegrityError as exc:
                        assert REFUSED in str(exc), (table, column, exc)
                        refused = True
                    finally:
                        conn.execute("ROLLBACK")
                    if refused == (column in allowed):
                        wrong.append(f"{table}.{column} ({'refused' if refused else 'allowed'})")
                    elif not refused:
                        moves.add(f"{table}.{column}")
    finally:
        conn.close()
    assert wrong == []
    # The built database has open cases and unsuperseded strikes: the moves were tried.
    assert moves == {"strikes.superseded_by_run", *(f"cases.{c}" for c in OPEN_CASE_MOVES)}


@pytest.mark.parametrize("change", [
    "owner = 'Mallory', effective_date = '2026-11-02'",  # the hostile report
    "state = 'proposed'",                                # a revocation without its reason
    "state = 'rejected', reviewer = 'Mallory'",          # approved is never rejected
    "state = 'effective'",                               # closed without a run
    "state = 'effective', closed_run = 2, closed_from = 'approved', "
    "effective_date = '2026-11-02'",                     # redated as it closes
    "state = 'withdrawn', closed_run = 2, closed_from = 'proposed'",  # not its state
    "reviewer = 'Mallory', reviewed_at = '2026-11-03'",  # the approval rewritten
    "revoked_by = 'Mallory'",                            # a revocation that did not happen
    "customer_id = 'C-OTHER'",
    "opened_run = 2",
])
def test_a_case_moves_only_as_adieu_moves_it(db: Path, change: str) -> None:
    approved = sql(db, "select id from cases where state = 'approved'")[0][0]
    with pytest.raises(sqlite3.IntegrityError, match=REFUSED):
        sql(db, f"update cases set {change} where id = {approved}")
    # A closed case never changes, not even back to open.
    closed = sql(db, "select id from cases where state = 'rejected'")[0][0]
    with pytest.raises(sqlite3.IntegrityError, match=REFUSED):
        sql(db, f"update cases set state = 'proposed' where id = {closed}")
    # The moves adieu makes pass: a revoke, then an approval of the case's run.
    sql(db, "update cases set state = 'proposed', revoked_by = 'R', revoked_at = 'T', "
            f"revoke_reason = 'why', updated_at = 'T' where id = {approved}")
    with pytest.raises(sqlite3.IntegrityError, match=REFUSED):  # another run's facts
        sql(db, "update cases set state = 'approved', reviewer = 'R', reviewed_at = 'T', "
                f"review_run = 1 where id = {approved}")
    sql(db, "update cases set state = 'approved', reviewer = 'R', reviewed_at = 'T', "
            "review_run = latest_run, review_as_of = latest_as_of, review_fired = fired, "
            f"owner = null where id = {approved}")
