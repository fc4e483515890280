"""The compact store (m008, engine/compact.py): readers get today's shapes
back, a run takes few bytes per decision and a re-run over unchanged
customers fewer still, `adieu audit verify` (the console script) finds any
edited, deleted, inserted or reordered decision, facts text or strike, and
a database written before m008 (one audit entry per decision) still
verifies after it, tampering there found too."""

from __future__ import annotations

import csv
import json
import shutil
import sqlite3
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import sql

from adieu.store import open_db, read_decisions

REPO = Path(__file__).resolve().parent.parent
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "main-m007.db"
ADIEU = str(Path(sys.executable).with_name("adieu"))
POLICY = REPO / "policies" / "default.yaml"


def adieu(cwd: Path, *args: str, code: int | None = 0) -> subprocess.CompletedProcess:
    result = subprocess.run([ADIEU, *args], cwd=cwd, capture_output=True, text=True,
                            env={"PATH": str(Path(ADIEU).parent), "HOME": str(cwd)})
    assert code is None or result.returncode == code, (args, result.stdout, result.stderr)
    return result




def rows_of(db: Path, statement: str) -> list[dict]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(statement)]
    finally:
        conn.close()


def verify(cwd: Path, db: Path) -> tuple[int, list[str]]:
    result = adieu(cwd, "audit", "verify", "--db", str(db), code=None)
    return result.returncode, result.stdout.splitlines()


def fixture_csv(tmp_path: Path) -> Path:
    """The 80 customers main-m007.db's first run decided (the first 81 lines
    of examples/customers.csv), as customers.csv in tmp_path."""
    lines = (REPO / "examples" / "customers.csv").read_text(encoding="utf-8").splitlines()
    path = tmp_path / "customers.csv"
    path.write_text("\n".join(lines[:81]) + "\n", encoding="utf-8")
    return path


def generated(path: Path, n: int, changed_every: int | None = None) -> Path:
    """n customers replicated from examples/customers.csv with new ids (as
    the benchmark's generator does); with changed_every, the revenue of
    every changed_every-th row is one more."""
    with open(REPO / "examples" / "customers.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    header, data = rows[0], [r for r in rows[1:] if r]
    id_at, revenue_at = header.index("customer_id"), header.index("revenue_12m")
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        for k in range(n):
            r = list(data[k % len(data)])
            if r[id_at].strip():
                r[id_at] = f"C{k:07d}"
            if changed_every and k % changed_every == 0:
                try:
                    r[revenue_at] = str(Decimal(r[revenue_at]) + 1)
                except ArithmeticError:
                    pass
            w.writerow(r)
    return path


def size(db: Path) -> int:
    sql(db, "pragma wal_checkpoint(TRUNCATE)")
    return db.stat().st_size


# -- readers: today's shapes ----------------------------------------------------

def test_the_view_and_the_reader_give_the_old_rows(tmp_path: Path) -> None:
    """The same run as the old-layout fixture's first (same policy, rows and
    as-of date): every column of every decision is the same text."""
    fixture_csv(tmp_path)
    shutil.copyfile(POLICY, tmp_path / "default.yaml")
    db = tmp_path / "new.db"
    adieu(tmp_path, "evaluate", "default.yaml", "--source", "csv:customers.csv", "--as-of",
          "2026-11-01", "--db", str(db))
    old = rows_of(FIXTURE, "select * from decisions where run_id = 1 order by rowid")
    view = rows_of(db, "select * from decisions where run_id = 1")
    assert len(old) == 79
    assert view == old
    store = open_db(str(db))
    try:
        assert list(read_decisions(store, 1)) == old
        offboard = [r["customer_id"] for r in old if r["outcome"] == "offboard"]
        assert [r["customer_id"] for r in read_decisions(store, 1, outcome="offboard")] == \
            offboard
        assert list(read_decisions(store, 1, ["CUST-0007", "CUST-0011"])) == \
            [r for r in old if r["customer_id"] in ("CUST-0007", "CUST-0011")]
    finally:
        store.close()
    # Empty JSON columns are stored as nothing (NULL), not as "[]".
    assert sql(db, "select count(*) from run_decisions where rules is null and "
                   "ledger is null")[0][0] > 0
    assert sql(db, "select count(*) from blobs where body in ('[]', '{}', 'null')") == [(0,)]


def test_explain_history_and_an_identical_rerun_read_the_compact_rows(tmp_path: Path) -> None:
    fixture_csv(tmp_path)
    shutil.copyfile(POLICY, tmp_path / "default.yaml")
    db = str(tmp_path / "a.db")
    first = json.loads(adieu(tmp_path, "evaluate", "default.yaml", "--source",
                             "csv:customers.csv", "--as-of", "2026-11-01", "--json", "--db",
                             db).stdout)
    again = json.loads(adieu(tmp_path, "evaluate", "default.yaml", "--source",
                             "csv:customers.csv", "--as-of", "2026-11-01", "--json", "--db",
                             db).stdout)
    assert again["run"]["already_recorded"] is True
    assert again["decisions"] == first["decisions"]  # read back from the store
    explained = json.loads(adieu(tmp_path, "explain", "CUST-0007", "--json", "--db",
                                 db).stdout)
    assert explained["stored_outcome"] == "offboard"
    assert explained["decision"]["outcome"] == "offboard"
    history = json.loads(adieu(tmp_path, "history", "CUST-0007", "--json", "--db", db).stdout)
    assert [(r["run_id"], r["outcome"]) for r in history["runs"]] == [(1, "offboard")]
    replayed = json.loads(adieu(tmp_path, "replay", "1", "--json", "--db", db).stdout)
    assert replayed["checked"] == 79 and replayed["differences"] == []
    exported = json.loads(adieu(tmp_path, "audit", "export", "--json", "--db", db).stdout)
    batch = [e for e in exported if e["kind"] == "decisions"]
    assert [e["payload"]["count"] for e in batch] == [79]


# -- storage --------------------------------------------------------------------

def test_bytes_per_decision_first_run_and_rerun(tmp_path: Path) -> None:
    """5,000 customers: at most 800 bytes per decision on a first run; a
    re-run a month later with 1 % of the customers changed adds at most 300
    bytes per customer (file sizes after a WAL checkpoint)."""
    first = generated(tmp_path / "c.csv", 5000)
    second = generated(tmp_path / "c2.csv", 5000, changed_every=100)
    db = tmp_path / "a.db"
    adieu(tmp_path, "evaluate", str(POLICY), "--source", f"csv:{first}", "--as-of",
          "2026-11-01", "--db", str(db))
    decided = sql(db, "select customers from runs where id = 1")[0][0]
    assert decided > 4900
    one = size(db)
    adieu(tmp_path, "evaluate", str(POLICY), "--source", f"csv:{second}", "--as-of",
          "2026-12-01", "--db", str(db))
    two = size(db)
    assert one / decided <= 800, one / decided
    assert (two - one) / decided <= 300, (two - one) / decided
    # The unchanged customers share their facts with the first run: only the
    # 50 changed rows have new ones, less 2 of them that are rejected rows.
    assert sql(db, "select count(*) from run_decisions a join run_decisions b on "
                   "b.customer_id = a.customer_id and b.run_id = 2 where a.run_id = 1 and "
                   "a.facts != b.facts")[0][0] == 48
    code, out = verify(tmp_path, db)
    assert (code, out[0]) == (0, f"audit trail intact: "
                                 f"{sql(db, 'select count(*) from audit')[0][0]:,} entries")


# -- tamper evidence ------------------------------------------------------------

@pytest.fixture
def two_runs(tmp_path: Path) -> Path:
    fixture_csv(tmp_path)
    shutil.copyfile(POLICY, tmp_path / "default.yaml")
    db = tmp_path / "t.db"
    for as_of in ("2026-11-01", "2026-12-01"):
        adieu(tmp_path, "evaluate", "default.yaml", "--source", "csv:customers.csv",
              "--as-of", as_of, "--db", str(db))
    assert verify(tmp_path, db)[0] == 0
    return db


TAMPERS = {
    "edit a decision": ("drop trigger run_decisions_no_update",
                        "update run_decisions set outcome = 'keep' where run_id = 2 and "
                        "customer_id = 'CUST-0007'"),
    "edit a decision's date": ("drop trigger run_decisions_no_update",
                               "update run_decisions set effective_date = '2030-01-01' "
                               "where run_id = 1 and customer_id = 'CUST-0023'"),
    "delete a decision": ("drop trigger run_decisions_no_delete",
                          "delete from run_decisions where run_id = 1 and "
                          "customer_id = 'CUST-0011'"),
    "insert a decision": ("insert into run_decisions (run_id, pos, customer_id, outcome) "
                          "values (2, 999, 'CUST-9999', 'offboard')",),
    "reorder two decisions": ("drop trigger run_decisions_no_update",
                              "update run_decisions set pos = -pos where run_id = 1 and "
                              "pos in (3, 4)",
                              "update run_decisions set pos = 7 - (-pos) where run_id = 1 "
                              "and pos in (-3, -4)"),
    "point a decision at another's facts": (
        "drop trigger run_decisions_no_update",
        "update run_decisions set facts = (select facts from run_decisions where run_id = 1 "
        "and pos = 1) where run_id = 1 and pos = 2"),
    "edit a facts text": ("drop trigger blobs_no_update",
                          "update blobs set body = replace(body, '18400', '98400') where id = "
                          "(select facts from run_decisions where run_id = 1 and "
                          "customer_id = 'CUST-0007')"),
    "edit a facts text and its sha256": (
        "drop trigger blobs_no_update",
        "update blobs set body = replace(body, '18400', '98400') where id = (select facts "
        "from run_decisions where run_id = 1 and customer_id = 'CUST-0007')",
        "update blobs set sha256 = sha3(body) where id = (select facts from run_decisions "
        "where run_id = 1 and customer_id = 'CUST-0007')"),
    "delete a facts text": ("drop trigger blobs_no_delete",
                            "delete from blobs where id = (select facts from run_decisions "
                            "where run_id = 2 and customer_id = 'CUST-0001')"),
    "edit a rules text": ("drop trigger blobs_no_update",
                          "update blobs set body = replace(body, 'high', 'low') where id = "
                          "(select rules from run_decisions where run_id = 1 and "
                          "customer_id = 'CUST-0007')"),
    "edit a strike": ("drop trigger strikes_only_pardon_supersede",
                      "update strikes set rule = 'longer-terms' where id = 3"),
    "delete a strike": ("drop trigger strikes_no_delete", "delete from strikes where id = 5"),
    "insert a strike": ("insert into strikes (customer_id, rule, recorded_on, expires_on, "
                        "run_id) values ('CUST-0001', 'late-payments', '2026-12-01', "
                        "'2027-12-01', 2)",),
    "delete a batch entry": ("drop trigger audit_no_delete",
                             "delete from audit where seq = (select max(seq) from audit "
                             "where kind = 'decisions')"),
}


@pytest.mark.parametrize("tamper", sorted(TAMPERS))
def test_tampering_is_found_by_audit_verify(tmp_path: Path, two_runs: Path,
                                            tamper: str) -> None:
    conn = sqlite3.connect(two_runs, isolation_level=None)
    conn.create_function("sha3", 1, lambda body: __import__("hashlib").sha256(
        body.encode()).digest())
    try:
        for statement in TAMPERS[tamper]:
            conn.execute(statement)
    finally:
        conn.close()
    code, out = verify(tmp_path, two_runs)
    assert code == 1, out
    assert out


def test_the_messages_name_what_changed(tmp_path: Path, two_runs: Path) -> None:
    seq = sql(two_runs, "select seq from audit where kind = 'decisions' and run_id = 1")[0][0]
    sql(two_runs, "drop trigger run_decisions_no_delete",
        "delete from run_decisions where run_id = 1 and customer_id = 'CUST-0011'",
        "insert into run_decisions (run_id, pos, customer_id, outcome) values "
        "(2, 999, 'CUST-9999', 'offboard')")
    assert verify(tmp_path, two_runs) == (1, [
        "decision of CUST-9999 in run 2 has no audit entry (inserted)",
        f"the 79 decisions of run 1 in audit entry {seq}: 78 are stored (deleted or inserted)"])


# -- databases written before m008 ----------------------------------------------

@pytest.fixture
def old(tmp_path: Path) -> Path:
    path = tmp_path / "old.db"
    shutil.copyfile(FIXTURE, path)
    return path


def test_an_old_layout_database_verifies_after_m008(tmp_path: Path, old: Path) -> None:
    before = rows_of(old, "select * from decisions order by run_id, customer_id")
    assert sql(old, "select count(*) from audit where kind = 'decision'") == [(158,)]
    code, out = verify(tmp_path, old)  # migrates it (m008 to m012), then verifies
    # 226 entries, and m009's baseline rejects entry for each of its 2 runs.
    assert (code, out[0]) == (0, "audit trail intact: 228 entries")
    assert sql(old, "select name from _sqlite_migrations order by id")[-4:] == \
        [("m010_audit_mac",), ("m011_case_triggers",), ("m012_made_by",),
         ("m013_case_reviewed_on",)]
    # Its rows stay where they were, with their per-decision entries; the
    # view shows them as before, and so does the reader.
    assert rows_of(old, "select * from decisions order by run_id, customer_id") == before
    store = open_db(str(old))
    try:
        assert sorted(read_decisions(store, 2), key=lambda r: r["customer_id"]) == \
            [r for r in before if r["run_id"] == 2]
    finally:
        store.close()
    # A new run on top of it is compact and the whole trail verifies.
    shutil.copyfile(POLICY, tmp_path / "default.yaml")
    fixture_csv(tmp_path)
    adieu(tmp_path, "evaluate", "default.yaml", "--source", "csv:customers.csv", "--as-of",
          "2027-01-04", "--db", str(old))
    assert sql(old, "select count(*) from run_decisions where run_id = 3") == [(79,)]
    assert verify(tmp_path, old)[0] == 0
    explained = json.loads(adieu(tmp_path, "explain", "CUST-0007", "--run", "2", "--json",
                                 "--db", str(old)).stdout)
    assert explained["run_id"] == 2 and explained["stored_outcome"] == "offboard"


@pytest.mark.parametrize("statements, found", [
    (("drop trigger decisions_no_update",
      "update decisions_v1 set outcome = 'keep' where run_id = 2 and "
      "customer_id = 'CUST-0007'"), "decision of CUST-0007 in run 2 was edited"),
    (("drop trigger decisions_no_delete",
      "delete from decisions_v1 where run_id = 1 and customer_id = 'CUST-0011'"),
     "decision of CUST-0011 in run 1 was deleted"),
    (("insert into decisions_v1 (run_id, customer_id, outcome) values "
      "(1, 'CUST-9999', 'keep')",), "decision of CUST-9999 in run 1 has no audit entry"),
])
def test_tampering_in_an_old_layout_database_is_found(tmp_path: Path, old: Path,
                                                      statements: tuple[str, ...],
                                                      found: str) -> None:
    open_db(str(old)).close()  # m008
    sql(old, *statements)
    code, out = verify(tmp_path, old)
    assert code == 1
    assert out[0].startswith(found), out


# -- RunWriter: a run written in batches ----------------------------------------

def test_a_run_written_in_batches_reads_back_and_verifies(tmp_path: Path,
                                                          two_runs: Path) -> None:
    """RunWriter used as the streaming evaluate uses it: the run id reserved,
    decisions added in batches (here 7 at a time) before the runs row
    exists, finish() inside the caller's transaction. One audit entry per
    batch; read_decisions gives the rows back in the order written; an
    edit in a middle batch names that batch."""
    from adieu.store import RunWriter, reserve_run_id

    db = open_db(str(two_runs))
    try:
        rows = list(read_decisions(db, 2))
        run_row = {k: v for k, v in db["runs"].get(2).items()
                   if k not in ("id", "fact_keys", "source_files")}
        run_row.update(as_of="2027-01-04", identity="batched", input_sha256=None)
        with db.atomic():
            run_id = reserve_run_id(db)
            writer = RunWriter(db, run_id, "2027-01-04", "2027-01-04T12:00:00+00:00")
            for start in range(0, len(rows), 7):
                writer.add(rows[start:start + 7], [
                    {"customer_id": r["customer_id"], "rule": "late-payments",
                     "recorded_on": "2027-01-04", "expires_on": "2028-01-04"}
                    for r in rows[start:start + 7] if r["customer_id"] == "CUST-0007"])
            writer.add_rejects([{"file": "customers.csv", "row": 53, "line": 54,
                                 "customer_id": "CUST-0053", "field": "hours_support_12m",
                                 "value": "-12.5", "reason": "must be at least 0"}])
            assert writer.finish(run_row) == run_id == 3
        again = list(read_decisions(db, 3))
    finally:
        db.close()
    assert again == [{**r, "run_id": 3} for r in rows]
    entries = sql(two_runs, "select payload from audit where kind = 'decisions' and "
                            "run_id = 3 order by seq")
    assert [(json.loads(p)["first"], json.loads(p)["count"]) for (p,) in entries] == \
        [(1 + 7 * i, min(7, 79 - 7 * i)) for i in range(12)]
    assert sql(two_runs, "select count(*) from strikes where run_id = 3") == [(1,)]
    assert sql(two_runs, "select count(*) from rejects where run_id = 3") == [(1,)]
    assert verify(tmp_path, two_runs)[0] == 0
    seq = sql(two_runs, "select seq from audit where kind = 'decisions' and run_id = 3 and "
                        "json_extract(payload, '$.first') = 15")[0][0]
    sql(two_runs, "drop trigger run_decisions_no_update",
        "update run_decisions set strikes = 99 where run_id = 3 and pos = 17")
    code, out = verify(tmp_path, two_runs)
    assert code == 1
    assert len(out) == 1 and out[0].startswith(f"the 7 decisions of run 3 in audit entry {seq} ")
