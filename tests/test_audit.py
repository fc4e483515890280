"""The audit trail: append-only through SQL (triggers), hash-chained, and
`adieu audit verify` names what was changed by hand anyway.

Each tamper below is what a person with the sqlite3 tool could do: plain
SQL on the database file, dropping the triggers first where they are in the
way."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import sql

from adieu.audit_export import stored_payload_text
from adieu.cli import cli

KINDS = ("run", "decisions", "strike", "exemption", "pardon", "case", "rejects")
TRIGGER_MESSAGE = "rows are part of the audit trail and cannot change"
FIELDS = ("seq", "at", "kind", "run_id", "customer_id", "payload", "prev_hash")


def adieu(runner: CliRunner, db: Path, *args: str, code: int = 0):
    result = runner.invoke(cli, [*args, "--db", str(db)])
    assert result.exit_code == code, (args, result.output)
    return result




@pytest.fixture
def trail(runner: CliRunner, evaluated: Path, policy_file: Path, customers_csv: Path) -> Path:
    """A database with an audit entry of every kind, human actions between
    two runs (so they sit in the middle of the chain)."""
    db = evaluated
    adieu(runner, db, "exempt", "C-WARN", "--all", "--reason", "Reference", "--approver",
          "CCO", "--until", "2027-01-01")
    adieu(runner, db, "strikes", "pardon", "C-FINAL", "late", "--by", "Pat", "--reason",
          "our billing error")
    adieu(runner, db, "approve", "C-OFF", "--run", "1", "--by", "Rita", "--no-owner-on-record")
    adieu(runner, db, "reject", "C-ABUSE", "--run", "1", "--by", "Rita", "--note", "talked",
          "--no-owner-on-record")
    adieu(runner, db, "evaluate", str(policy_file), "--source", f"csv:{customers_csv}",
          "--as-of", "2026-12-02")
    return db


def first_seq(db: Path, kind: str) -> int:
    return sql(db, "select min(seq) from audit where kind = ?", params=(kind,))[0][0]


def verify(runner: CliRunner, db: Path) -> tuple[int, list[str], str]:
    result = runner.invoke(cli, ["audit", "verify", "--db", str(db)])
    return result.exit_code, result.stdout.splitlines(), result.stderr


def test_an_intact_trail_verifies(runner: CliRunner, trail: Path) -> None:
    kinds = dict(sql(trail, "select kind, count(*) from audit group by kind"))
    # Run 1 records 7 strikes; run 2 (30 days later, the tiny policy's
    # cool-down) 6 more: C-WARN is now exempt from every rule.
    # Cases: two opened by run 1, approved and rejected; run 2 keeps C-OFF's
    # (C-ABUSE is held by its rejection) and opens C-FINAL's (its third strike).
    # The decisions: one entry per batch (one batch per run here); one
    # rejects entry per run (m009); no supersede (the runs' dates differ).
    assert kinds == {"run": 2, "decisions": 2, "strike": 13, "exemption": 1, "pardon": 1,
                     "case": 6, "rejects": 2}
    code, out, err = verify(runner, trail)
    assert (code, err) == (0, "")
    assert out[0] == f"audit trail intact: {sum(kinds.values())} entries"


@pytest.mark.parametrize("table, key", [("audit", "rowid"), ("runs", "rowid"),
                                        ("run_decisions", "pos"), ("blobs", "rowid")])
def test_triggers_refuse_update_and_delete(trail: Path, table: str, key: str) -> None:
    with pytest.raises(sqlite3.DatabaseError, match=f"{table} {TRIGGER_MESSAGE}"):
        sql(trail, f"update {table} set {key} = {key} where {key} = 1")
    with pytest.raises(sqlite3.DatabaseError, match=f"{table} {TRIGGER_MESSAGE}"):
        sql(trail, f"delete from {table}")
    with pytest.raises(sqlite3.DatabaseError, match=f"{table} {TRIGGER_MESSAGE}"):
        sql(trail, f"delete from {table} where {key} = (select max({key}) from {table})")


def test_refused_changes_leave_the_trail_intact(runner: CliRunner, trail: Path) -> None:
    before = sql(trail, "select * from audit order by seq")
    for statement in ("update audit set kind = 'x'", "delete from audit where seq = 3"):
        with pytest.raises(sqlite3.DatabaseError):
            sql(trail, statement)
    assert sql(trail, "select * from audit order by seq") == before
    assert verify(runner, trail)[0] == 0


# One column of one entry of every kind, edited by hand.
EDITS = {
    "run": ("at", "'2020-01-01T00:00:00+00:00'"),
    "decisions": ("payload", "replace(payload, '\"count\":9', '\"count\":8')"),
    "strike": ("customer_id", "'C-KEEP'"),
    "exemption": ("payload", "replace(payload, '2027-01-01', '2099-01-01')"),
    "pardon": ("payload", "replace(payload, 'Pat', 'Someone else')"),
    "case": ("payload", "replace(payload, 'proposed', 'approved')"),
    "rejects": ("payload", "replace(payload, '\"count\":1', '\"count\":0')"),
}


@pytest.mark.parametrize("kind", KINDS)
def test_editing_an_entry_of_every_kind_is_named(runner: CliRunner, trail: Path,
                                                 kind: str) -> None:
    seq = first_seq(trail, kind)
    column, value = EDITS[kind]
    before = sql(trail, f"select {column} from audit where seq = {seq}")
    sql(trail, "drop trigger audit_no_update",
        f"update audit set {column} = {value} where seq = {seq}")
    assert sql(trail, f"select {column} from audit where seq = {seq}") != before, \
        "the edit must change something"
    code, out, err = verify(runner, trail)
    assert code == 1
    assert out[0] == (f"audit entry {seq} ({kind}) was edited: its content does not "
                      "match its hash")
    assert out == out[:1]  # the chain after it is intact: only that entry is named
    assert "audit trail BROKEN: 1 problem(s)" in err


def test_editing_the_hash_itself_is_named(runner: CliRunner, trail: Path) -> None:
    seq = first_seq(trail, "pardon")
    sql(trail, "drop trigger audit_no_update",
        f"update audit set hash = '{'f' * 64}' where seq = {seq}")
    code, out, _ = verify(runner, trail)
    assert code == 1
    assert out[0] == f"audit entry {seq} (pardon) was edited: its content does not match " \
                     "its hash"
    assert out[1].startswith(f"audit entry {seq + 1} (case) does not follow entry {seq}")


def test_a_re_hashed_edit_still_breaks_the_chain(runner: CliRunner, trail: Path) -> None:
    """Editing an entry and recomputing its own hash: the next entry no
    longer follows it."""
    seq = first_seq(trail, "exemption")
    row = dict(zip(FIELDS, sql(trail, f"select {', '.join(FIELDS)} from audit "
                                      f"where seq = {seq}")[0], strict=True))
    row["payload"] = row["payload"].replace("2027-01-01", "2099-01-01")
    forged = hashlib.sha256(json.dumps(row, sort_keys=True, separators=(",", ":"),
                                       ensure_ascii=False).encode()).hexdigest()
    sql(trail, "drop trigger audit_no_update",
        "update audit set payload = ?, hash = ? where seq = ?",
        params=(row["payload"], forged, seq))
    code, out, _ = verify(runner, trail)
    assert code == 1
    assert out == [f"audit entry {seq + 1} (pardon) does not follow entry {seq}: its "
                   "prev_hash does not match (inserted, deleted or reordered entries)"]


@pytest.mark.parametrize("kind", ["decisions", "strike", "pardon", "case"])
def test_deleting_an_entry_is_named_as_missing(runner: CliRunner, trail: Path,
                                               kind: str) -> None:
    seq = first_seq(trail, kind)
    sql(trail, "drop trigger audit_no_delete", f"delete from audit where seq = {seq}")
    code, out, _ = verify(runner, trail)
    assert code == 1
    assert out[0] == f"audit entry {seq} missing (deleted)"
    assert out[1].startswith(f"audit entry {seq + 1} ")
    assert "does not follow" in out[1]


def test_deleting_several_entries_names_the_range(runner: CliRunner, trail: Path) -> None:
    sql(trail, "drop trigger audit_no_delete", "delete from audit where seq between 4 and 6")
    code, out, _ = verify(runner, trail)
    assert code == 1 and out[0] == "audit entry 4 to 6 missing (deleted)"


def test_an_entry_inserted_out_of_order_is_named(runner: CliRunner, trail: Path) -> None:
    last, = sql(trail, "select max(seq) from audit")[0]
    old_hash, = sql(trail, "select hash from audit where seq = 2")[0]
    sql(trail, "insert into audit (seq, at, kind, run_id, customer_id, payload, prev_hash, "
               "hash) values (?, '2026-11-30T00:00:00+00:00', 'approval', 2, 'C-OFF', "
               "'{}', ?, ?)", params=(last + 1, old_hash, "0" * 64))
    code, out, _ = verify(runner, trail)
    assert code == 1
    assert out[0].startswith(f"audit entry {last + 1} (approval) does not follow entry {last}")


def test_swapping_two_entries_is_named(runner: CliRunner, trail: Path) -> None:
    a = first_seq(trail, "pardon")
    b = sql(trail, f"select min(seq) from audit where kind = 'case' and seq > {a}")[0][0]
    sql(trail, "drop trigger audit_no_update",
        f"update audit set seq = -1 where seq = {a}",
        f"update audit set seq = {a} where seq = {b}",
        f"update audit set seq = {b} where seq = -1")
    code, out, _ = verify(runner, trail)
    assert code == 1
    assert out[0].startswith(f"audit entry {a} (case) does not follow entry {a - 1}")


def batch_seq(db: Path, run_id: int) -> int:
    return sql(db, "select seq from audit where kind = 'decisions' and run_id = ?",
               params=(run_id,))[0][0]


def test_editing_a_decision_row_is_named(runner: CliRunner, trail: Path) -> None:
    seq = batch_seq(trail, 1)
    sql(trail, "drop trigger run_decisions_no_update",
        "update run_decisions set outcome = 'keep' where run_id = 1 and customer_id = 'C-OFF'")
    code, out, _ = verify(runner, trail)
    assert code == 1
    assert out[0].startswith(f"the 9 decisions of run 1 in audit entry {seq} (from ")
    assert out[0].endswith("were edited, replaced or reordered after they were recorded")


def test_editing_a_decision_json_column_is_named(runner: CliRunner, trail: Path) -> None:
    sql(trail, "drop trigger blobs_no_update",
        "update blobs set body = replace(body, 'C-EXEMPT', 'C-EXEMPX') where id = "
        "(select facts from run_decisions where run_id = 2 and customer_id = 'C-EXEMPT')")
    code, out, _ = verify(runner, trail)
    assert code == 1 and out[0].startswith("stored text ")
    assert out[0].endswith("(facts or detail) was edited: it does not match its sha256")


def test_editing_a_run_row_is_named(runner: CliRunner, trail: Path) -> None:
    seq = first_seq(trail, "run")
    sql(trail, "drop trigger runs_no_update", "update runs set as_of = '2026-01-01' "
                                              "where id = 1")
    code, out, _ = verify(runner, trail)
    assert code == 1
    assert out == [f"run 1 was edited after it was recorded (differs from audit entry {seq})"]


def test_deleting_a_decision_row_is_named(runner: CliRunner, trail: Path) -> None:
    seq = batch_seq(trail, 2)
    sql(trail, "drop trigger run_decisions_no_delete",
        "delete from run_decisions where run_id = 2 and customer_id = 'C-HELD'")
    code, out, _ = verify(runner, trail)
    assert code == 1
    assert out == [f"the 9 decisions of run 2 in audit entry {seq}: 8 are stored (deleted or "
                   "inserted)"]


def test_a_decision_without_an_entry_is_named(runner: CliRunner, trail: Path) -> None:
    sql(trail, "insert into run_decisions (run_id, pos, customer_id, outcome) values "
               "(1, 10, 'C-NEW', 'keep')")
    code, out, _ = verify(runner, trail)
    assert code == 1 and out == ["decision of C-NEW in run 1 has no audit entry (inserted)"]


def test_export_json_chains(runner: CliRunner, trail: Path) -> None:
    rows = json.loads(adieu(runner, trail, "audit", "export", "--json").stdout)
    assert [r["seq"] for r in rows] == list(range(1, len(rows) + 1))
    assert {r["kind"] for r in rows} == set(KINDS)
    assert rows[0]["prev_hash"] == "0" * 64
    for before, entry in zip(rows, rows[1:], strict=False):
        assert entry["prev_hash"] == before["hash"]
    for entry in rows:
        # The documented hash: sha256 of the canonical JSON (sorted keys, no
        # spaces, UTF-8) of seq, at, kind, run_id, customer_id, payload, prev_hash,
        # the payload as its stored text (stored_payload_text re-encodes it).
        assert isinstance(entry["payload"], dict)
        stored = {**entry, "payload": stored_payload_text(entry["payload"])}
        canonical = json.dumps({k: stored[k] for k in FIELDS}, sort_keys=True,
                               separators=(",", ":"), ensure_ascii=False)
        assert hashlib.sha256(canonical.encode()).hexdigest() == entry["hash"]
    pardon = next(r for r in rows if r["kind"] == "pardon")
    assert pardon["payload"]["by"] == "Pat"
    assert pardon["customer_id"] == "C-FINAL"


def test_export_json_lines(runner: CliRunner, trail: Path) -> None:
    lines = adieu(runner, trail, "audit", "export").stdout.splitlines()
    rows = [json.loads(line) for line in lines]
    assert rows == json.loads(adieu(runner, trail, "audit", "export", "--json").stdout)


def test_verify_needs_an_existing_database(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(cli, ["audit", "verify", "--db", str(tmp_path / "none.db")])
    assert result.exit_code == 2 and "no database at" in result.stderr
    assert not (tmp_path / "none.db").exists()


# -- the records the audit entries stand for: strikes, exemptions, reviews ----

@pytest.mark.parametrize("change, named", [
    ("drop trigger exemptions_no_update; update exemptions set expires = '2099-01-01'",
     "exemption registry-1 was edited: expires differs from audit entry"),
    ("drop trigger exemptions_no_delete; delete from exemptions",
     "exemption registry-1 was deleted"),
    ("drop trigger cases_only_adieu_moves; "
     "update cases set state = 'approved' where state = 'rejected'",
     "case 2 of C-ABUSE was edited (differs from audit entry"),
    ("update cases set effective_date = '2099-01-01' where customer_id = 'C-OFF'",
     "case 1 of C-OFF was edited (differs from audit entry"),
    ("drop trigger cases_no_delete; delete from cases where customer_id = 'C-OFF'",
     "case 1 was deleted (audit entry"),
    ("drop trigger strikes_no_delete; delete from strikes where id = 1",
     "was deleted (audit entry"),
    ("update strikes set pardoned_at = '2026-11-30', pardoned_by = 'x', pardon_reason = 'y' "
     "where id = 1", "strike 1 is marked pardoned without a matching pardon entry"),
    ("drop trigger strikes_only_pardon_supersede; update strikes set pardoned_at = null, "
     "pardoned_by = null, pardon_reason = null where pardoned_at is not null",
     "its pardon (audit entry"),
    ("update strikes set superseded_by_run = 2 where id = 1",
     "strike 1 is marked superseded by run 2 without a supersede entry"),
    ("drop trigger strikes_only_pardon_supersede; update strikes set rule = 'abuse' "
     "where id = 1",
     "strike 1 (C-"),
])
def test_editing_strikes_exemptions_or_reviews_is_named(runner: CliRunner, trail: Path,
                                                        change: str, named: str) -> None:
    sql(trail, *change.split("; "))
    code, out, _ = verify(runner, trail)
    assert code == 1
    assert any(named in line for line in out), out


@pytest.mark.parametrize("statement", [
    "update exemptions set expires = '2099-01-01'", "delete from exemptions",
    "delete from cases",
    "delete from strikes", "update strikes set recorded_on = '2020-01-01'",
])
def test_triggers_guard_the_records(trail: Path, statement: str) -> None:
    with pytest.raises(sqlite3.IntegrityError, match="part of the audit trail"):
        sql(trail, statement)
