"""Memory rows written behind adieu's back are refused (issue 9, item 5).

`adieu evaluate` checks every strike, pardon and registry exemption it is
about to decide with against its audit entry (engine/memory_check.py) and
stops with exit 2, naming the rows, when one has no valid entry. The tiny
policy and customers come from conftest.py (run 1 as of 2026-11-02
records strikes for C-WARN, C-FINAL, C-OFF and C-HELD)."""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import AS_OF

from adieu.audit import TRAIL_TRIGGERS, AuditLog
from adieu.cli import cli
from adieu.errors import InputError
from adieu.memory_check import check_memory
from adieu.store import open_db

NEXT = "2026-12-15"
ADVICE = ": written outside adieu? run `adieu audit verify`"


def sql(db: Path, *statements: str) -> None:
    conn = sqlite3.connect(db)
    try:
        for statement in statements:
            conn.execute(statement)
        conn.commit()
    finally:
        conn.close()


def one(db: Path, query: str):
    conn = sqlite3.connect(db)
    try:
        return conn.execute(query).fetchone()
    finally:
        conn.close()


def evaluate(runner: CliRunner, db: Path, policy: Path, csv: Path, as_of: str = NEXT):
    return runner.invoke(cli, ["evaluate", str(policy), "--source", f"csv:{csv}",
                               "--as-of", as_of, "--db", str(db)])


def refused(runner: CliRunner, db: Path, policy: Path, csv: Path, message: str) -> None:
    runs = one(db, "select count(*) from runs")[0]
    result = evaluate(runner, db, policy, csv)
    assert result.exit_code == 2, result.output
    assert result.stderr.strip() == f"Error: {message}{ADVICE}"
    assert one(db, "select count(*) from runs")[0] == runs  # nothing stored


def test_a_raw_sql_exemption_is_refused_and_named(runner: CliRunner, evaluated: Path,
                                                  policy_file: Path,
                                                  customers_csv: Path) -> None:
    sql(evaluated, "insert into exemptions (customer_id, reason, approver, expires, "
                   "recorded_at) values ('C-OFF', 'x', 'me', '2027-06-01', '2026-11-03')")
    refused(runner, evaluated, policy_file, customers_csv,
            "exemptions row 1 (C-OFF) has no audit entry")


def test_a_raw_sql_strike_is_refused(runner: CliRunner, evaluated: Path, policy_file: Path,
                                     customers_csv: Path) -> None:
    sql(evaluated, "insert into strikes (customer_id, rule, recorded_on, expires_on, run_id) "
                   "values ('C-KEEP', 'late', '2026-11-02', '2027-11-02', 1)")
    row = one(evaluated, "select max(id) from strikes")[0]
    refused(runner, evaluated, policy_file, customers_csv,
            f"strikes row {row} (C-KEEP) has no audit entry")


def test_a_copied_strike_is_refused(runner: CliRunner, evaluated: Path, policy_file: Path,
                                    customers_csv: Path) -> None:
    """A copy of a real strike (same run, customer, rule, date) is a second
    strike with no entry of its own."""
    sql(evaluated, "insert into strikes (customer_id, rule, recorded_on, expires_on, run_id) "
                   "select customer_id, rule, recorded_on, expires_on, run_id from strikes "
                   "where customer_id = 'C-WARN'")
    row = one(evaluated, "select max(id) from strikes")[0]
    seq = one(evaluated, "select seq from audit where kind = 'strike' and "
                         "customer_id = 'C-WARN'")[0]
    refused(runner, evaluated, policy_file, customers_csv,
            f"strikes row {row} (C-WARN): its audit entry {seq} vouches for another row")


def test_a_raw_sql_pardon_is_refused(runner: CliRunner, evaluated: Path, policy_file: Path,
                                     customers_csv: Path) -> None:
    """A strike hidden by pardoned_at set with SQL, without a pardon entry."""
    row = one(evaluated, "select id from strikes where customer_id = 'C-WARN'")[0]
    sql(evaluated, "drop trigger strikes_only_pardon_supersede",  # it refuses half a pardon
        f"update strikes set pardoned_at = '2026-11-05', pardoned_by = 'me' where id = {row}")
    refused(runner, evaluated, policy_file, customers_csv,
            f"pardon of strikes row {row} (C-WARN) has no audit entry")


def test_a_pardon_edited_afterwards_is_refused(runner: CliRunner, evaluated: Path,
                                               policy_file: Path,
                                               customers_csv: Path) -> None:
    done = runner.invoke(cli, ["strikes", "pardon", "C-WARN", "late", "--by", "Rita",
                               "--reason", "paid", "--db", str(evaluated)])
    assert done.exit_code == 0, done.output
    row, seq = one(evaluated, "select json_extract(payload, '$.strike_id'), seq from audit "
                              "where kind = 'pardon'")
    sql(evaluated, "drop trigger strikes_only_pardon_supersede",  # it refuses the edit
        f"update strikes set pardoned_by = 'Someone' where id = {row}")
    refused(runner, evaluated, policy_file, customers_csv,
            f"pardon of strikes row {row} (C-WARN): its pardoned_by differs from audit "
            f"entry {seq}")


def test_a_payload_edited_exemption_is_refused(runner: CliRunner, evaluated: Path,
                                               policy_file: Path,
                                               customers_csv: Path) -> None:
    done = runner.invoke(cli, ["exempt", "C-OFF", "--all", "--reason", "strategic reference",
                               "--approver", "CEO", "--until", "2027-06-01",
                               "--db", str(evaluated)])
    assert done.exit_code == 0, done.output
    seq = one(evaluated, "select seq from audit where kind = 'exemption'")[0]
    sql(evaluated, "drop trigger exemptions_no_update",
        "update exemptions set reason = 'golf partner'")
    refused(runner, evaluated, policy_file, customers_csv,
            f"exemptions row 1 (C-OFF): its reason differs from audit entry {seq}")


def test_a_forged_audit_entry_does_not_vouch(runner: CliRunner, evaluated: Path,
                                             policy_file: Path, customers_csv: Path) -> None:
    """An exemption with an entry added by hand whose hash is not its own."""
    sql(evaluated, "insert into exemptions (customer_id, rules, reason, approver, expires, "
                   "recorded_at) values ('C-OFF', null, 'x', 'me', '2027-06-01', "
                   "'2026-11-03')")
    seq = one(evaluated, "select max(seq) from audit")[0] + 1
    sql(evaluated, "insert into audit (seq, at, kind, run_id, customer_id, payload, "
                   "prev_hash, hash) select max(seq) + 1, '2026-11-03', 'exemption', null, "
                   "'C-OFF', '{\"approver\":\"me\",\"customer_id\":\"C-OFF\",\"expires\":"
                   "\"2027-06-01\",\"id\":1,\"reason\":\"x\",\"recorded_at\":\"2026-11-03\","
                   "\"rules\":null}', hash, 'abc' from audit where seq = (select max(seq) "
                   "from audit)")
    refused(runner, evaluated, policy_file, customers_csv,
            f"exemptions row 1 (C-OFF): audit entry {seq} was edited")


def test_several_rows_are_named_together(runner: CliRunner, evaluated: Path,
                                         policy_file: Path, customers_csv: Path) -> None:
    sql(evaluated, *[f"insert into exemptions (customer_id, reason, approver, expires, "
                     f"recorded_at) values ('C-{i}', 'x', 'me', '2027-06-01', '2026-11-03')"
                     for i in range(7)])
    result = evaluate(runner, evaluated, policy_file, customers_csv)
    assert result.exit_code == 2
    assert result.stderr.count("has no audit entry") == 5
    assert "(and maybe more)" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_normal_runs_over_months_pass(runner: CliRunner, evaluated: Path, policy_file: Path,
                                      customers_csv: Path) -> None:
    """Exempt, pardon, review and runs month after month: every check passes."""
    for args in (["exempt", "C-OFF", "--rules", "late", "--reason", "reference",
                  "--approver", "CEO", "--until", "2027-06-01"],
                 ["strikes", "pardon", "C-WARN", "late", "--by", "Rita", "--reason", "paid"],
                 ["approve", "C-ABUSE", "--run", "1", "--by", "Rita",
                  "--no-owner-on-record"]):
        done = runner.invoke(cli, [*args, "--db", str(evaluated)])
        assert done.exit_code == 0, done.output
    for as_of in ("2026-12-15", "2027-01-20", "2027-01-20", "2027-03-01"):
        result = evaluate(runner, evaluated, policy_file, customers_csv, as_of)
        assert result.exit_code == 0, result.output
    assert one(evaluated, "select count(*) from runs")[0] == 4  # the repeat stored nothing
    verify = runner.invoke(cli, ["audit", "verify", "--db", str(evaluated)])
    assert verify.exit_code == 0, verify.output


def test_rows_the_run_does_not_read_are_not_checked(evaluated: Path) -> None:
    """A strike recorded on or after the as-of date is not part of the memory
    (a backfill does not read it), so only the full verify names it."""
    sql(evaluated, "insert into strikes (customer_id, rule, recorded_on, expires_on, run_id) "
                   "values ('C-KEEP', 'late', '2026-12-01', '2027-12-01', 1)")
    db = open_db(str(evaluated))
    try:
        check_memory(db, dt.date(2026, 11, 20))
        with pytest.raises(InputError, match="has no audit entry"):
            check_memory(db, dt.date(2026, 12, 2))
    finally:
        db.close()


def test_cases_rows_are_checked_with_their_latest_entry(
        runner: CliRunner, evaluated: Path, policy_file: Path, customers_csv: Path) -> None:
    """Offboarding cases are memory too (engine/cases.py writes the whole
    row with each change): a state moved by hand, or a case inserted by
    hand, is refused before deciding."""
    assert one(evaluated, "select state from cases where customer_id = 'C-ABUSE'") == \
        ("proposed",)
    sql(evaluated, "drop trigger cases_only_adieu_moves",  # a hand without the trigger
        "update cases set state = 'approved', reviewer = 'Rita' where customer_id = 'C-ABUSE'")
    # Entries: the run's batch of decisions (1), its 7 strikes (2-8), its rejects
    # (9), the run (10), C-OFF's case (11) and C-ABUSE's (12).
    refused(runner, evaluated, policy_file, customers_csv, "cases row 2 (C-ABUSE): its state, "
            "reviewer differ from audit entry 12")
    sql(evaluated, "update cases set state = 'proposed', reviewer = null "
                   "where customer_id = 'C-ABUSE'")  # back as the trail says
    sql(evaluated, "insert into cases (customer_id, state, opened_run, opened_as_of) "
                   "values ('C-KEEP', 'rejected', 1, '2026-11-02')")
    refused(runner, evaluated, policy_file, customers_csv,
            "cases row 3 (C-KEEP) has no audit entry")


ODD = ["plain", "quote \" and \\ backslash", "tab\tnew\nline\r", "\x00\x01\x1f\x7f",
       "é 中文 \u2028 \u2029 \ufeff", "emoji 😀", "</script>", ""]


@pytest.mark.parametrize("text", ODD)
def test_the_fast_entry_hash_is_the_audit_hash(tmp_path: Path, text: str) -> None:
    """The check hashes entries from SQL-built text (json_quote) and, for
    rows, without a dict: both must give audit.entry_hash exactly, or valid
    entries would count as edited."""
    from adieu.audit import ENTRY_FIELDS, entry_hash
    from adieu.memory_check import _CANONICAL_SQL, canonical_entry_hash

    db = open_db(str(tmp_path / "h.db"))
    try:
        with db.atomic():
            log = AuditLog(db, text or "2026-11-03")
            log.add("exemption", {"reason": text, "n": 1, "none": None}, None, text)
            log.add("strike", {"rule": text}, 7, None)
            log.flush()
        for row in db.execute(f"select {', '.join(ENTRY_FIELDS)}, hash, {_CANONICAL_SQL} "
                              "from audit a"):
            expected = entry_hash(dict(zip(ENTRY_FIELDS, row, strict=False)))
            assert expected == row[len(ENTRY_FIELDS)]
            assert canonical_entry_hash(row) == expected
            assert hashlib.sha256(row[-1].encode()).hexdigest() == expected
    finally:
        db.close()


def test_a_raw_sql_supersede_is_refused(runner: CliRunner, evaluated: Path,
                                        policy_file: Path, customers_csv: Path) -> None:
    """A strike hidden by superseded_by_run set with SQL: only a later run
    of the strike's date that decided the customer supersedes it."""
    row = one(evaluated, "select id from strikes where customer_id = 'C-WARN'")[0]
    sql(evaluated, f"update strikes set superseded_by_run = 1 where id = {row}")
    refused(runner, evaluated, policy_file, customers_csv,
            f"supersede of strikes row {row} (C-WARN): not superseded by a later run of its "
            f"date that decided the customer; supersede of strikes row {row} (C-WARN) has no "
            "audit entry")
    sql(evaluated, "drop trigger strikes_only_pardon_supersede",  # it refuses the undo
        f"update strikes set superseded_by_run = null where id = {row}",
        TRAIL_TRIGGERS[1])
    # A real supersede: the same date again with other facts (run 2) ...
    corrected = customers_csv.with_name("corrected.csv")
    corrected.write_text(customers_csv.read_text().replace("C-KEEP,standard,10000",
                                                           "C-KEEP,standard,10001"))
    again = evaluate(runner, evaluated, policy_file, corrected, AS_OF)
    assert again.exit_code == 0, again.output
    assert one(evaluated, f"select superseded_by_run from strikes where id = {row}")[0] == 2
    assert evaluate(runner, evaluated, policy_file, customers_csv).exit_code == 0
    # ... and one by a run that did not decide the customer.
    sql(evaluated, "insert into strikes (customer_id, rule, recorded_on, expires_on, run_id, "
                   "superseded_by_run) values ('C-GONE', 'late', '2026-11-02', '2027-11-02', "
                   "1, 2)")
    gone = one(evaluated, "select max(id) from strikes")[0]
    refused(runner, evaluated, policy_file, customers_csv,
            f"supersede of strikes row {gone} (C-GONE): not superseded by a later run of its "
            f"date that decided the customer; supersede of strikes row {gone} (C-GONE) has no "
            "audit entry")
