"""Issue 12, item 4 (the last three bullets): the anchored head, the audit
key, and `audit verify` in one read snapshot.

Each attack is what a person who can write the database file could do
with the sqlite3 tool (dropping the triggers in the way first), or, for a
re-chain, with a few lines of Python using the trail's own (public)
hashing functions."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import sqlite3
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import sql

from adieu.cli import cli
from engine.audit import canonical, entry_hash
from engine.audit_anchor import MIN_KEY_BYTES, verify_trail
from engine.store import open_db

KEY = "correct horse battery staple"  # 28 bytes
HEAD = re.compile(r"[0-9]+:[0-9a-f]{64}")


def adieu(runner: CliRunner, db: Path, *args: str, code: int = 0,
          key: str | None = None):
    env = {"ADIEU_AUDIT_KEY": key} if key is not None else {}
    result = runner.invoke(cli, [*args, "--db", str(db)], env=env)
    assert result.exit_code == code, (args, result.output)
    return result




def last_entry(db: Path) -> tuple[int, str]:
    return sql(db, "select seq, hash from audit order by seq desc limit 1")[0]


def head_of(db: Path) -> str:
    seq, h = last_entry(db)
    return f"{seq}:{h}"


def exempt(runner: CliRunner, db: Path, customer: str = "C-WARN", key: str | None = None):
    return adieu(runner, db, "exempt", customer, "--all", "--reason", "Reference",
                 "--approver", "CCO", "--until", "2027-01-01", key=key)


def exempt_result(runner: CliRunner, db: Path, key: str) -> str:
    return adieu(runner, db, "exempt", "C-WARN", "--all", "--reason", "Reference",
                 "--approver", "CCO", "--until", "2027-01-01", key=key, code=2).output


def evaluate(runner: CliRunner, db: Path, policy: Path, csv: Path, as_of: str,
             key: str | None = None, *extra: str):
    return adieu(runner, db, "evaluate", str(policy), "--source", f"csv:{csv}", "--as-of",
                 as_of, *extra, key=key)


def drop_triggers(db: Path) -> None:
    names = [r[0] for r in sql(db, "select name from sqlite_master where type = 'trigger'")]
    sql(db, *[f"drop trigger {n}" for n in names])


def rechain(db: Path, from_seq: int) -> None:
    """Recompute the hash of entry from_seq and of every later entry, each
    following the one before: what anyone can do without a key."""
    conn = sqlite3.connect(db, isolation_level=None)
    conn.row_factory = sqlite3.Row
    try:
        prev = conn.execute("select hash from audit where seq = ?", [from_seq - 1]).fetchone()
        prev_hash = prev["hash"] if prev else "0" * 64
        for row in conn.execute("select * from audit where seq >= ? order by seq",
                                [from_seq]).fetchall():
            entry = {**dict(row), "prev_hash": prev_hash}
            new = entry_hash(entry)
            conn.execute("update audit set prev_hash = ?, hash = ? where seq = ?",
                         [prev_hash, new, row["seq"]])
            prev_hash = new
    finally:
        conn.close()


def verify(runner: CliRunner, db: Path, *args: str, code: int = 0, key: str | None = None):
    return adieu(runner, db, "audit", "verify", *args, code=code, key=key)


# -- the head --------------------------------------------------------------

def test_evaluate_prints_the_head_of_the_trail_it_stored(runner: CliRunner, db_path: Path,
                                                         policy_file: Path,
                                                         customers_csv: Path) -> None:
    result = evaluate(runner, db_path, policy_file, customers_csv, "2026-11-02")
    lines = result.stderr.splitlines()
    assert lines[-2] == f"audit head: {head_of(db_path)}"
    assert lines[-1].startswith("done: ")
    # A dry run stores nothing: no head; --quiet prints neither line.
    dry = evaluate(runner, db_path, policy_file, customers_csv, "2026-12-02", None,
                   "--dry-run")
    assert "audit head" not in dry.stderr
    quiet = evaluate(runner, db_path, policy_file, customers_csv, "2026-12-02", None, "-q")
    assert "audit head" not in quiet.stderr


def test_verify_and_audit_head_print_the_head(runner: CliRunner, evaluated: Path) -> None:
    head = head_of(evaluated)
    out = verify(runner, evaluated).stdout.splitlines()
    entries = sql(evaluated, "select count(*) from audit")[0][0]
    assert out == [f"audit trail intact: {entries} entries", f"audit head: {head}"]
    assert adieu(runner, evaluated, "audit", "head").stdout == head + "\n"
    assert HEAD.fullmatch(head)
    assert verify(runner, evaluated, "--expect-head", head).exit_code == 0
    # Upper-case hex digits are the same hash.
    seq, h = head.split(":")
    verify(runner, evaluated, "--expect-head", f"{seq}:{h.upper()}")


def test_a_longer_trail_passes_the_anchor_it_extends(runner: CliRunner,
                                                    evaluated: Path) -> None:
    anchor = head_of(evaluated)
    exempt(runner, evaluated)
    assert head_of(evaluated) != anchor
    out = verify(runner, evaluated, "--expect-head", anchor).stdout
    assert f"audit head: {head_of(evaluated)}" in out


def test_a_deleted_tail_is_intact_alone_and_broken_against_the_anchor(
        runner: CliRunner, evaluated: Path) -> None:
    exempt(runner, evaluated)
    anchor = head_of(evaluated)
    seq = last_entry(evaluated)[0]
    # The attacker deletes the exemption and its entry, the last one.
    drop_triggers(evaluated)
    sql(evaluated, "delete from exemptions", f"delete from audit where seq = {seq}")
    # The limit: without the anchor the shorter trail is intact.
    assert verify(runner, evaluated).stdout.startswith(f"audit trail intact: {seq - 1} entries")
    broken = verify(runner, evaluated, "--expect-head", anchor, code=1)
    assert broken.stdout == (f"the trail ends at entry {seq - 1}; the anchor names entry {seq} "
                             "(entries deleted from the end, or another database)\n")
    assert "audit trail BROKEN: 1 problem(s)" in broken.stderr


def test_an_emptied_database_is_intact_alone_and_broken_against_the_anchor(
        runner: CliRunner, evaluated: Path) -> None:
    anchor = head_of(evaluated)
    drop_triggers(evaluated)
    tables = [r[0] for r in sql(evaluated, "select name from sqlite_master where type = "
                                           "'table' and name not like '\\_%' escape '\\' "
                                           "and name not like 'sqlite%'")]
    sql(evaluated, *[f"delete from {t}" for t in tables])
    assert verify(runner, evaluated).stdout.splitlines() == [
        "audit trail intact: 0 entries", "audit head: none (no entries)"]
    broken = verify(runner, evaluated, "--expect-head", anchor, code=1)
    assert broken.stdout.startswith(f"the trail ends at entry 0; the anchor names entry "
                                    f"{anchor.split(':')[0]} ")
    data = json.loads(verify(runner, evaluated, "--json", "--expect-head", anchor,
                             code=1).stdout)
    assert (data["intact"], data["entries"], data["head"]) == (False, 0, None)
    # Nothing to anchor in an empty trail: `audit head` says so (exit 2).
    assert "the audit trail has no entries" in adieu(runner, evaluated, "audit", "head",
                                                     code=2).output


def test_an_anchor_whose_entry_has_another_hash_is_broken(runner: CliRunner,
                                                          evaluated: Path) -> None:
    seq, h = last_entry(evaluated)
    other = hashlib.sha256(b"another trail").hexdigest()
    out = verify(runner, evaluated, "--expect-head", f"{seq}:{other}", code=1).stdout
    assert out == (f"audit entry {seq} has hash {h}; the anchor says {other} (the trail was "
                   "rewritten at or before that entry)\n")
    # An entry in the middle: the anchor names entry 1 with entry 2's hash.
    second = sql(evaluated, "select hash from audit where seq = 2")[0][0]
    verify(runner, evaluated, "--expect-head", f"1:{second}", code=1)


@pytest.mark.parametrize("anchor", [
    "", "12", "12:", ":" + "a" * 64, "0:" + "a" * 64, "-1:" + "a" * 64, "x:" + "a" * 64,
    "1:" + "a" * 63, "1:" + "a" * 65, "1:" + "g" * 64, "1 :" + "a" * 64,
    "99999999999999999999:" + "a" * 64,
])
def test_a_malformed_anchor_is_a_usage_error(runner: CliRunner, evaluated: Path,
                                             anchor: str) -> None:
    result = verify(runner, evaluated, "--expect-head", anchor, code=2)
    assert "is not an audit head: expected SEQ:HASH" in result.output
    assert "Traceback" not in result.output


def test_verify_json_gives_the_documented_shape(runner: CliRunner, evaluated: Path) -> None:
    data = json.loads(verify(runner, evaluated, "--json").stdout)
    entries = sql(evaluated, "select count(*) from audit")[0][0]
    assert data == {"intact": True, "entries": entries, "head": head_of(evaluated),
                    "keyed": 0, "macs_checked": False, "problems": [], "notes": []}
    drop_triggers(evaluated)
    sql(evaluated, "update audit set payload = '{}' where seq = 1")
    broken = json.loads(verify(runner, evaluated, "--json", code=1).stdout)
    assert broken["intact"] is False
    assert broken["problems"][0] == ("audit entry 1 (decisions) was edited: its content "
                                     "does not match its hash")


# -- the key ---------------------------------------------------------------

@pytest.mark.parametrize("key", ["", "x", "a" * (MIN_KEY_BYTES - 1), "ключ" * 1 + "1234567"])
def test_a_short_key_is_refused_and_nothing_is_written(runner: CliRunner, db_path: Path,
                                                       policy_file: Path, customers_csv: Path,
                                                       key: str) -> None:
    assert len(key.encode("utf-8")) < MIN_KEY_BYTES
    result = adieu(runner, db_path, "evaluate", str(policy_file), "--source",
                   f"csv:{customers_csv}", "--as-of", "2026-11-02", code=2, key=key)
    assert f"an audit key must be at least {MIN_KEY_BYTES} bytes" in result.output
    assert not db_path.exists()  # refused before the database is opened
    # Refused by the writers and by verify too.
    evaluate(runner, db_path, policy_file, customers_csv, "2026-11-02")
    assert "at least 16 bytes" in exempt_result(runner, db_path, key)
    assert sql(db_path, "select count(*) from exemptions") == [(0,)]
    assert "at least 16 bytes" in verify(runner, db_path, code=2, key=key).output


def test_a_short_key_is_refused_before_the_source_is_read(runner: CliRunner, tmp_path: Path,
                                                          policy_file: Path) -> None:
    # The source is not there: the key's error comes first, nothing is read.
    result = adieu(runner, tmp_path / "a.db", "evaluate", str(policy_file), "--source",
                   f"csv:{tmp_path / 'missing.csv'}", code=2, key="short")
    assert result.output.startswith("Error: ADIEU_AUDIT_KEY is 5 byte(s) long")


def test_the_key_is_bytes_not_characters(runner: CliRunner, db_path: Path, policy_file: Path,
                                         customers_csv: Path) -> None:
    key = "ключключ"  # 8 characters, 16 UTF-8 bytes: long enough
    evaluate(runner, db_path, policy_file, customers_csv, "2026-11-02", key)
    seq, h, mac = sql(db_path, "select seq, hash, mac from audit order by seq limit 1")[0]
    assert mac == hmac.new(key.encode("utf-8"), h.encode("ascii"), hashlib.sha256).hexdigest()


def test_every_entry_written_with_the_key_carries_its_mac(runner: CliRunner, db_path: Path,
                                                         policy_file: Path,
                                                         customers_csv: Path) -> None:
    evaluate(runner, db_path, policy_file, customers_csv, "2026-11-02", KEY)
    exempt(runner, db_path, key=KEY)
    adieu(runner, db_path, "strikes", "pardon", "C-FINAL", "late", "--by", "Pat",
          "--reason", "our billing error", key=KEY)
    adieu(runner, db_path, "approve", "C-OFF", "--run", "1", "--by", "Rita",
          "--no-owner-on-record", key=KEY)
    rows = sql(db_path, "select hash, mac from audit order by seq")
    assert rows
    for h, mac in rows:
        assert mac == hmac.new(KEY.encode(), h.encode(), hashlib.sha256).hexdigest()
    kinds = {r[0] for r in sql(db_path, "select distinct kind from audit")}
    assert {"run", "decisions", "strike", "exemption", "pardon", "case"} <= kinds
    data = json.loads(verify(runner, db_path, "--json", key=KEY).stdout)
    assert (data["intact"], data["keyed"], data["entries"], data["macs_checked"]) == \
        (True, len(rows), len(rows), True)
    # Without the key: intact, and it says what it could not check.
    plain = verify(runner, db_path)
    assert f"note: {len(rows)} entries carry a MAC that was not checked (set " \
           "ADIEU_AUDIT_KEY)" in plain.stderr


def test_a_key_set_later_keys_the_entries_from_then_on(runner: CliRunner, evaluated: Path
                                                       ) -> None:
    before = last_entry(evaluated)[0]
    exempt(runner, evaluated, key=KEY)
    macs = sql(evaluated, "select seq, mac is not null from audit order by seq")
    assert all(keyed == (seq > before) for seq, keyed in macs)
    data = json.loads(verify(runner, evaluated, "--json", key=KEY).stdout)
    assert (data["intact"], data["keyed"]) == (True, len(macs) - before)


def test_a_rechain_is_found_with_the_key_and_not_without_it(runner: CliRunner,
                                                           db_path: Path, policy_file: Path,
                                                           customers_csv: Path) -> None:
    evaluate(runner, db_path, policy_file, customers_csv, "2026-11-02", KEY)
    exempt(runner, db_path, key=KEY)
    adieu(runner, db_path, "approve", "C-OFF", "--run", "1", "--by", "Rita",
          "--no-owner-on-record", key=KEY)
    # The attack: lengthen the exemption, in its row and in its entry, then
    # re-chain from that entry on with the trail's own hashing.
    seq = sql(db_path, "select seq from audit where kind = 'exemption'")[0][0]
    drop_triggers(db_path)
    payload = json.loads(sql(db_path, f"select payload from audit where seq = {seq}")[0][0])
    payload["expires"] = "2099-01-01"
    sql(db_path, "update exemptions set expires = '2099-01-01'")
    sql(db_path, "update audit set payload = ? where seq = ?", params=(canonical(payload), seq))
    rechain(db_path, seq)
    # The limit without a key: the re-chained trail is intact.
    assert verify(runner, db_path).stdout.startswith("audit trail intact")
    # With the key, every re-chained entry's MAC fails.
    last = last_entry(db_path)[0]
    out = verify(runner, db_path, key=KEY, code=1).stdout
    assert out == (f"audit entries {seq} to {last}: MAC does not match ADIEU_AUDIT_KEY "
                   "(re-chained without the key, or written with another key)\n")
    # Another key than the one the trail was written with: every MAC fails.
    out = verify(runner, db_path, key=KEY + "!", code=1).stdout
    assert out.startswith(f"audit entries 1 to {last}: MAC does not match")


def test_stripped_macs_are_found_with_the_key(runner: CliRunner, db_path: Path,
                                              policy_file: Path, customers_csv: Path) -> None:
    evaluate(runner, db_path, policy_file, customers_csv, "2026-11-02", KEY)
    exempt(runner, db_path, key=KEY)
    last = last_entry(db_path)[0]
    drop_triggers(db_path)
    # The last two entries' MACs taken off, as if written without the key.
    sql(db_path, f"update audit set mac = null where seq >= {last - 1}")
    out = verify(runner, db_path, key=KEY, code=1).stdout
    assert out == (f"audit entries {last - 1} to {last} have no MAC although entry 1 before "
                   "them has one (MAC stripped, or written without ADIEU_AUDIT_KEY)\n")
    # Every MAC off (or a trail never keyed) while a key is given: a finding.
    sql(db_path, "update audit set mac = null")
    out = verify(runner, db_path, key=KEY, code=1).stdout
    assert out == (f"ADIEU_AUDIT_KEY is set but none of the {last} audit entries carries a "
                   "MAC (the trail was never keyed, or every MAC was stripped)\n")
    # Without the key, the stripped trail is intact: nothing to check.
    verify(runner, db_path)


KEYED_TRAIL = ("the audit trail is keyed (entries carry a MAC): set ADIEU_AUDIT_KEY to "
               "write to it")


def test_no_writer_appends_to_a_keyed_trail_without_the_key(
        runner: CliRunner, db_path: Path, policy_file: Path, customers_csv: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A writer run without the key (cron without the env) appended entries
    without a MAC, exit 0; verify with the key then said "MAC stripped" for
    good. Every writer is refused (exit 2, one line naming the database)
    and writes nothing; with the key, each one works."""
    monkeypatch.delenv("ADIEU_AUDIT_KEY", raising=False)
    evaluate(runner, db_path, policy_file, customers_csv, "2026-11-02", KEY)
    adieu(runner, db_path, "approve", "C-OFF", "--run", "1", "--by", "Rita",
          "--no-owner-on-record", key=KEY)
    tables = ("audit", "runs", "cases", "strikes", "exemptions", "reviews")

    def state() -> list:
        return [sql(db_path, f"select * from {t} order by 1") for t in tables]

    before = state()
    writers = [
        ("evaluate", str(policy_file), "--source", f"csv:{customers_csv}", "--as-of",
         "2026-12-02"),
        ("approve", "C-ABUSE", "--by", "Rita", "--no-owner-on-record"),
        ("reject", "C-ABUSE", "--by", "Rita", "--note", "talked", "--no-owner-on-record"),
        ("revoke", "C-OFF", "--by", "Rita", "--reason", "too early",
         "--no-owner-on-record"),
        ("strikes", "pardon", "C-FINAL", "late", "--by", "Pat", "--reason", "billing"),
        ("exempt", "C-WARN", "--all", "--reason", "Reference", "--approver", "CCO",
         "--until", "2027-01-01"),
    ]
    for args in writers:
        out = adieu(runner, db_path, *args, code=2).output
        assert out == f"Error: {db_path}: {KEYED_TRAIL}\n", args
        assert state() == before, args
    data = json.loads(verify(runner, db_path, "--json", key=KEY).stdout)
    assert data["intact"] and data["keyed"] == data["entries"]
    # With the key each writes (approve and reject: one verdict per case).
    for args in writers:
        if args[0] == "approve":
            continue
        adieu(runner, db_path, *args, key=KEY)
    assert state() != before
    data = json.loads(verify(runner, db_path, "--json", key=KEY).stdout)
    assert data["intact"] and data["keyed"] == data["entries"]


def test_the_audit_log_itself_refuses_a_keyed_trail_without_the_key(
        runner: CliRunner, evaluated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The check is in AuditLog, which every writer uses (the migrations'
    adopted entries too); a trail keyed only from a later entry counts."""
    from adieu.audit import AuditLog
    from adieu.errors import InputError
    from adieu.store import open_db as open_store

    monkeypatch.delenv("ADIEU_AUDIT_KEY", raising=False)
    store = open_store(str(evaluated))
    try:
        AuditLog(store, "2026-11-03T00:00:00+00:00")  # unkeyed trail: fine
    finally:
        store.close()
    exempt(runner, evaluated, key=KEY)
    exempt(runner, evaluated, "C-FINAL", key=KEY)
    store = open_store(str(evaluated))
    try:
        with pytest.raises(InputError, match=re.escape(KEYED_TRAIL)):
            AuditLog(store, "2026-11-03T00:00:00+00:00")
        monkeypatch.setenv("ADIEU_AUDIT_KEY", KEY)
        assert AuditLog(store, "2026-11-03T00:00:00+00:00").key == KEY.encode()
    finally:
        store.close()


# -- one read snapshot -------------------------------------------------------

def test_verify_reads_one_snapshot_while_a_run_commits(runner: CliRunner, evaluated: Path,
                                                       policy_file: Path,
                                                       customers_csv: Path) -> None:
    """A second run commits, from another thread and connection, after
    verify has read the chain and before it reads the stored rows."""
    entries = sql(evaluated, "select count(*) from audit")[0][0]
    committed: list[int] = []

    def commit_a_run() -> None:
        def run() -> None:
            result = CliRunner().invoke(cli, ["evaluate", str(policy_file), "--source",
                                              f"csv:{customers_csv}", "--as-of", "2026-12-02",
                                              "-q", "--db", str(evaluated)])
            committed.append(result.exit_code)
        thread = threading.Thread(target=run)
        thread.start()
        thread.join(60)
        assert committed == [0]

    db = open_db(str(evaluated), create=False)
    try:
        report = verify_trail(db, between=commit_a_run)
    finally:
        db.close()
    assert (report.problems, report.entries) == ([], entries)
    assert sql(evaluated, "select count(*) from runs") == [(2,)]
    # What the snapshot prevents: the same check outside a transaction sees
    # run 2's rows without the entries it read before.
    from engine.audit import verify as chain_verify

    db = open_db(str(evaluated), create=False)
    try:
        committed.clear()
        evaluate_again = [0]

        def third_run() -> None:
            result = CliRunner().invoke(cli, ["evaluate", str(policy_file), "--source",
                                              f"csv:{customers_csv}", "--as-of", "2027-01-02",
                                              "-q", "--db", str(evaluated)])
            evaluate_again[0] = result.exit_code
        problems = chain_verify(db, lambda: third_run())
    finally:
        db.close()
    assert evaluate_again == [0]
    assert "run 3 has no audit entry" in problems
    # And a fresh verify of the whole database is intact.
    assert verify(runner, evaluated).stdout.startswith("audit trail intact")


@pytest.mark.fuzz
def test_verify_stays_intact_while_20_runs_commit(tmp_path: Path) -> None:
    """make fuzz: 20 evaluates, each its own process, one after the other,
    while `adieu audit verify` processes run in a loop; every verify must
    say intact (before the snapshot, 3 of 3 tries said BROKEN)."""
    import datetime as dt
    import subprocess
    import sys

    exe = str(Path(sys.executable).with_name("adieu"))
    repo = Path(__file__).resolve().parent.parent
    # The sample's 400 customers: a verify long enough for runs to commit during it.
    policy_file, customers_csv = repo / "policies" / "default.yaml", \
        repo / "examples" / "customers.csv"
    db = tmp_path / "adieu.db"
    env = {"PATH": str(Path(exe).parent), "HOME": str(tmp_path)}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([exe, *args, "--db", str(db)], capture_output=True, text=True,
                              env=env, check=False)

    first = run("evaluate", str(policy_file), "--source", f"csv:{customers_csv}", "--as-of",
                "2026-11-02", "-q")
    assert first.returncode == 0, first.stderr
    runs: list[int] = []

    def evaluates() -> None:
        for i in range(1, 21):
            day = (dt.date(2026, 11, 2) + dt.timedelta(days=7 * i)).isoformat()
            runs.append(run("evaluate", str(policy_file), "--source", f"csv:{customers_csv}",
                            "--as-of", day, "-q").returncode)

    writer = threading.Thread(target=evaluates)
    writer.start()
    verifies = []
    while writer.is_alive() or not verifies:
        result = run("audit", "verify")
        verifies.append(result.returncode)
        assert result.returncode == 0, result.stdout + result.stderr
    writer.join()
    assert runs == [0] * 20
    assert run("audit", "verify").returncode == 0
