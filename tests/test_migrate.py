"""Upgrading a database made by the foundation release (0.1.0, migration
m001 only) in place: migrations recorded in order and applied once, the
layout of every table, the old run and decisions adopted into the audit
trail, WAL mode, and old and new runs both usable afterwards."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from adieu.cli import cli
from adieu.store import migrations, open_db

FOUNDATION = Path(__file__).resolve().parent / "fixtures" / "foundation-0.1.0.db"
OLD_RUN_COLUMNS = ["id", "policy_name", "policy_version", "policy_sha256", "policy_file",
                   "policy_text", "source", "as_of", "customers", "rejected", "counts",
                   "population", "adieu_version", "started_at", "finished_at"]

RUNS = {
    "id": int, "policy_name": str, "policy_version": str, "policy_sha256": str,
    "policy_file": str, "policy_text": str, "source": str, "as_of": str, "customers": int,
    "rejected": int, "counts": str, "population": str, "adieu_version": str,
    "started_at": str, "finished_at": str,
    # m002
    "facts_sha256": str, "identity": str, "backfill": int, "new_strikes": int,
    # m003
    "missing_facts": str,
    # m005
    "sources": str, "plugins": str,
    # m006
    "input_sha256": str,
    # m008
    "fact_keys": str, "source_files": str,
    # m012
    "made_by": str,
}
DECISIONS = {
    "run_id": int, "customer_id": str, "outcome": str, "base_outcome": str, "severity": str,
    "strikes": int, "reasons": str, "fired": str, "shielded": str, "unknown": str,
    "missing": str, "exemptions": str, "expired_exemptions": str, "holds": str,
    "effective_date": str, "phase_out_start": str, "timing_basis": str, "referrals": str,
    "notes": str, "facts": str, "source_file": str, "source_row": int,
    # m002
    "new_strikes": str, "repeat_strikes": str, "active_strikes": str, "memory": str,
    # m005
    "provenance": str,
    # m007
    "set_aside_strikes": str,
}
REJECTS = {"id": int, "run_id": int, "file": str, "row": int, "line": int, "customer_id": str,
           "field": str, "value": str, "reason": str}
STRIKES = {"id": int, "customer_id": str, "rule": str, "recorded_on": str, "expires_on": str,
           "run_id": int, "superseded_by_run": int, "pardoned_at": str, "pardoned_by": str,
           "pardon_reason": str}
EXEMPTIONS = {"id": int, "customer_id": str, "rules": str, "reason": str, "approver": str,
              "expires": str, "recorded_at": str}
REVIEWS = {"id": int, "run_id": int, "customer_id": str, "verdict": str, "reviewer": str,
           "note": str, "at": str}
CASES = {"id": int, "customer_id": str, "state": str, "opened_run": int, "opened_as_of": str,
         "latest_run": int, "latest_as_of": str, "effective_date": str,
         "phase_out_start": str, "timing_basis": str, "fired": str, "closed_run": int,
         "closed_from": str, "reviewer": str, "reviewer_key": str, "reviewer_id": str,
         "reviewer_id_key": str, "reviewed_at": str, "review_note": str, "review_run": int,
         "review_as_of": str, "review_fired": str, "owner": str, "owner_id": str,
         "no_owner_on_record": int, "revoked_by": str, "revoked_by_key": str,
         "revoked_by_id": str, "revoked_at": str, "revoke_reason": str, "updated_at": str,
         "reviewed_on": str}
AUDIT = {"seq": int, "at": str, "kind": str, "run_id": int, "customer_id": str,
         "payload": str, "prev_hash": str, "hash": str, "mac": str}
RUN_DECISIONS = {
    "run_id": int, "pos": int, "customer_id": str, "outcome": str, "base_outcome": str,
    "severity": str, "strikes": int, "effective_date": str, "phase_out_start": str,
    "timing_basis": str, "file": int, "source_row": int, "facts": bytes, "rules": bytes,
    "ledger": bytes}
BLOBS = {"id": int, "sha256": bytes, "body": str}
# m008 renamed the decisions table decisions_v1 (its rows stay) and made
# `decisions` a view over it and the compact tables.
TABLES = {"runs": RUNS, "decisions_v1": DECISIONS, "run_decisions": RUN_DECISIONS,
          "blobs": BLOBS, "rejects": REJECTS, "strikes": STRIKES,
          "exemptions": EXEMPTIONS, "reviews": REVIEWS, "audit": AUDIT, "cases": CASES}
AS_OF = "2026-11-02"  # the as-of date of conftest's tiny customers, after the old run's
TRIGGERS = {f"{table}_no_{verb}"
            for table in ("audit", "runs", "decisions", "exemptions", "reviews", "strikes",
                          "run_decisions", "blobs", "rejects")
            for verb in ("update", "delete")} - {"strikes_no_update"} | \
    {"cases_no_delete", "cases_only_adieu_moves", "strikes_only_pardon_supersede"}


def raw(db: Path, statement: str) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(statement).fetchall()
    finally:
        conn.close()


def schema(db: Path) -> list[tuple]:
    return raw(db, "select type, name, sql from sqlite_master order by type, name")


@pytest.fixture
def old_db(tmp_path: Path) -> Path:
    path = tmp_path / "foundation.db"
    shutil.copyfile(FOUNDATION, path)
    return path


def test_the_fixture_is_a_foundation_database() -> None:
    assert raw(FOUNDATION, "select migration_set, name from _sqlite_migrations") == \
        [("adieu", "m001_initial")]
    tables = {name for (name,) in raw(FOUNDATION, "select name from sqlite_master "
                                                  "where type = 'table'")}
    assert tables == {"_sqlite_migrations", "runs", "decisions", "rejects"}
    assert [c[1] for c in raw(FOUNDATION, "pragma table_info(runs)")] == OLD_RUN_COLUMNS
    assert raw(FOUNDATION, "select id, policy_name, as_of, customers, adieu_version "
                           "from runs") == [(1, "default", "2026-10-01", 30, "0.1.0")]
    assert raw(FOUNDATION, "pragma journal_mode") == [("delete",)]


def test_migrations_are_recorded_in_order_and_applied_once(old_db: Path) -> None:
    fixture_sha = hashlib.sha256(FOUNDATION.read_bytes()).hexdigest()
    open_db(str(old_db)).close()
    first = raw(old_db, "select id, migration_set, name, applied_at from _sqlite_migrations "
                        "order by id")
    assert [(r[1], r[2]) for r in first] == [("adieu", "m001_initial"),
                                            ("adieu", "m002_memory"),
                                            ("adieu", "m003_missing_facts"),
                                            ("adieu", "m004_cases"),
                                            ("adieu", "m005_sources_plugins"),
                                            ("adieu", "m006_audit_index"),
                                            ("adieu", "m007_set_aside_strikes"),
                                            ("adieu", "m008_compact_store"),
                                            ("adieu", "m009_trail_coverage"),
                                            ("adieu", "m010_audit_mac"),
                                            ("adieu", "m011_case_triggers"),
                                            ("adieu", "m012_made_by"),
                                            ("adieu", "m013_case_reviewed_on")]
    assert [m.name for m in migrations._migrations] == ["m001_initial", "m002_memory",
                                                        "m003_missing_facts", "m004_cases",
                                                        "m005_sources_plugins",
                                                        "m006_audit_index",
                                                        "m007_set_aside_strikes",
                                                        "m008_compact_store",
                                                        "m009_trail_coverage",
                                                        "m010_audit_mac", "m011_case_triggers",
                                                        "m012_made_by", "m013_case_reviewed_on"]
    layout, audit = schema(old_db), raw(old_db, "select * from audit order by seq")

    for _ in range(2):  # opening again changes nothing
        open_db(str(old_db)).close()
    assert raw(old_db, "select id, migration_set, name, applied_at from _sqlite_migrations "
                       "order by id") == first
    assert schema(old_db) == layout
    assert raw(old_db, "select * from audit order by seq") == audit
    # The fixture itself is never touched.
    assert hashlib.sha256(FOUNDATION.read_bytes()).hexdigest() == fixture_sha


def test_a_new_database_gets_the_same_layout(old_db: Path, tmp_path: Path) -> None:
    open_db(str(old_db)).close()
    new = tmp_path / "new.db"
    open_db(str(new)).close()
    assert raw(new, "select name from _sqlite_migrations order by id") == \
        [("m001_initial",), ("m002_memory",), ("m003_missing_facts",), ("m004_cases",),
         ("m005_sources_plugins",), ("m006_audit_index",), ("m007_set_aside_strikes",),
         ("m008_compact_store",), ("m009_trail_coverage",), ("m010_audit_mac",),
         ("m011_case_triggers",), ("m012_made_by",), ("m013_case_reviewed_on",)]
    assert schema(new) == schema(old_db)


@pytest.mark.parametrize("table", sorted(TABLES))
def test_columns_after_the_upgrade(old_db: Path, table: str) -> None:
    db = open_db(str(old_db))
    try:
        assert db[table].columns_dict == TABLES[table]
        # In this order: old columns first, m002's, m003's and m007's appended.
        assert list(db[table].columns_dict) == list(TABLES[table])
    finally:
        db.close()


def test_keys_indexes_and_triggers(old_db: Path) -> None:
    db = open_db(str(old_db))
    try:
        assert db["decisions_v1"].pks == ["run_id", "customer_id"]
        assert db["run_decisions"].pks == ["run_id", "pos"]
        assert db["audit"].pks == ["seq"]
        indexes = {t: {(tuple(i.columns), i.unique) for i in db[t].indexes}
                   for t in ("runs", "strikes", "exemptions", "reviews", "cases")}
        assert indexes == {
            "runs": {(("identity",), 0), (("input_sha256",), 0)},
            "strikes": {(("customer_id", "recorded_on"), 0)},
            "exemptions": {(("customer_id",), 0)},
            "reviews": {(("run_id", "customer_id"), 1)},
            "cases": {(("customer_id", "state"), 0)},
        }
        triggers = {name for (name,) in db.execute(
            "select name from sqlite_master where type = 'trigger'").fetchall()}
        assert triggers == TRIGGERS
    finally:
        db.close()


def test_old_rows_are_kept_and_adopted_into_the_audit_trail(old_db: Path) -> None:
    before_runs = raw(old_db, f"select {', '.join(OLD_RUN_COLUMNS)} from runs")
    before_decisions = raw(old_db, "select * from decisions order by customer_id")
    open_db(str(old_db)).close()
    assert raw(old_db, f"select {', '.join(OLD_RUN_COLUMNS)} from runs") == before_runs
    assert raw(old_db, "select facts_sha256, identity, backfill, new_strikes from runs") == \
        [(None, None, None, None)]
    after = raw(old_db, "select * from decisions order by customer_id")
    assert [row[:22] for row in after] == before_decisions
    assert {row[22:] for row in after} == {(None,) * 6}

    entries = raw(old_db, "select seq, kind, run_id, customer_id, payload, prev_hash, hash "
                          "from audit order by seq")
    assert len(entries) == 34
    assert entries[0][:4] == (1, "run", 1, None)
    assert [e[3] for e in entries[1:31]] == [d[1] for d in before_decisions]
    assert {e[1] for e in entries[1:31]} == {"decision"}
    # m004: the run's two offboardings (never reviewed) are open cases.
    assert [(e[1], e[2], e[3], json.loads(e[4])["event"]) for e in entries[31:33]] == \
        [("case", 1, "CUST-0007", "opened"), ("case", 1, "CUST-0023", "opened")]
    # m009: a baseline of the run's rejects (it superseded no strike).
    assert (entries[33][1:4], json.loads(entries[33][4])["count"]) == \
        (("rejects", 1, None), 0)
    assert raw(old_db, "select customer_id, state, opened_run, latest_run from cases") == \
        [("CUST-0007", "proposed", 1, 1), ("CUST-0023", "proposed", 1, 1)]
    for entry in entries:
        assert json.loads(entry[4])["adopted"] is True
    assert entries[0][5] == "0" * 64
    assert all(e[5] == prev[6] for prev, e in zip(entries, entries[1:], strict=False))
    outcomes = {e[3]: json.loads(e[4])["outcome"] for e in entries[1:31]}
    assert outcomes == {d[1]: d[2] for d in before_decisions}
    for table in ("strikes", "exemptions", "reviews"):
        assert raw(old_db, f"select count(*) from {table}") == [(0,)]


def test_the_upgraded_trail_verifies(runner: CliRunner, old_db: Path) -> None:
    result = runner.invoke(cli, ["audit", "verify", "--db", str(old_db)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "audit trail intact: 34 entries"


def test_wal_mode_and_busy_timeout(old_db: Path) -> None:
    db = open_db(str(old_db))
    try:
        assert db.journal_mode == "wal"
        assert db.execute("pragma busy_timeout").fetchone()[0] == 900_000
    finally:
        db.close()
    # WAL is a property of the file: a plain connection sees it too.
    assert raw(old_db, "pragma journal_mode") == [("wal",)]


def test_upgraded_database_keeps_working(runner: CliRunner, old_db: Path, policy_file: Path,
                                        customers_csv: Path) -> None:
    def adieu(*args: str, code: int | None = 0):
        result = runner.invoke(cli, [*args, "--db", str(old_db)])
        assert code is None or result.exit_code == code, (args, result.output)
        return result

    # The old run is the latest: an earlier as-of date needs --backfill.
    adieu("evaluate", str(policy_file), "--source", f"csv:{customers_csv}", "--as-of",
          "2026-09-01", code=2)
    new = json.loads(adieu("evaluate", str(policy_file), "--source", f"csv:{customers_csv}",
                           "--as-of", AS_OF, "--json").stdout)
    assert new["run"]["id"] == 2 and new["run"]["already_recorded"] is False
    assert raw(old_db, "select count(*) from strikes where run_id = 2") == [(7,)]
    assert raw(old_db, "select identity is not null, backfill from runs where id = 2") == \
        [(1, 0)]
    # m003: the new run records the facts its source lacked (none); the old
    # one, made before the check, has NULL, and still verifies below.
    assert raw(old_db, "select id, missing_facts from runs order by id") == \
        [(1, None), (2, "[]")]

    # The old run still explains, from its stored policy text and facts.
    old = json.loads(adieu("explain", "CUST-0007", "--run", "1", "--json").stdout)
    assert old["run_id"] == 1 and old["policy_name"] == "default"
    assert old["stored_outcome"] == "offboard"
    assert old["decision"]["outcome"] == "offboard"
    text = adieu("explain", "CUST-0007", "--run", "1").stdout
    assert text.startswith("CUST-0007: OFFBOARD  (run 1, policy 'default'")
    assert "Rules:" in text
    assert adieu("explain", "C-OFF", "--run", "2").stdout.startswith("C-OFF: OFFBOARD")

    # Its offboardings wait for review like any other.
    pending = json.loads(adieu("pending", "--run", "1", "--json").stdout)
    assert [p["customer_id"] for p in pending] == ["CUST-0007", "CUST-0023"]
    adieu("approve", "CUST-0007", "--run", "1", "--by", "Mara Lind")
    history = json.loads(adieu("history", "CUST-0007", "--json").stdout)
    assert [(r["run_id"], r["outcome"]) for r in history["runs"]] == [(1, "offboard")]
    assert [(c["state"], c["reviewer"]) for c in history["cases"]] == \
        [("approved", "Mara Lind")]

    # The new run replays exactly; the adopted one has nothing to compare in
    # the columns m002 added, and its decisions come out the same.
    assert json.loads(adieu("replay", "2", "--json").stdout)["differences"] == []
    replayed = json.loads(adieu("replay", "1", "--json", code=None).stdout)
    assert replayed["checked"] == 30
    fields = {d["field"] for d in replayed["differences"]}
    assert not fields & {"new_strikes", "repeat_strikes", "active_strikes", "outcome",
                         "strikes", "severity", "reasons", "unknown",
                         "missing", "effective_date", "phase_out_start", "referrals"}
    # adieu 0.1 computed in binary floats; the rules that fired are the same,
    # only their figures now come out as exact decimals (1.973766304347826086...
    # where 0.1 stored 1.9737663043478262).
    for d in replayed["differences"]:
        if d["field"] in ("fired", "shielded"):
            stored, again = (json.loads(d[k], parse_float=Decimal) for k in ("stored", "replayed"))
            assert [r.pop("figures") for r in stored] != [r.pop("figures") for r in again]
            assert stored == again

    result = adieu("audit", "verify")
    # 2 adopted cases; m009's rejects baseline of run 1; run 2 (its 9 decisions
    # in one batch entry, 7 strikes, its rejects) opens C-OFF's and C-ABUSE's;
    # CUST-0007's approval.
    assert result.stdout.splitlines()[0] == \
        f"audit trail intact: {31 + 2 + 1 + 1 + 1 + 7 + 1 + 2 + 1} entries"


M007 = Path(__file__).resolve().parent / "fixtures" / "main-m007.db"
ROOT = Path(__file__).resolve().parents[1]
READ_ONLY_COMMANDS = [
    ["diff", "--run", "1", "--run", "2"],
    ["evaluate", str(ROOT / "policies" / "default.yaml"), "--source",
     f"csv:{ROOT / 'examples' / 'customers.csv'}", "--as-of", "2026-12-15", "--dry-run", "-q"],
    ["diff", str(ROOT / "policies" / "default.yaml"), str(ROOT / "policies" / "strict.yaml"),
     "--source", f"csv:{ROOT / 'examples' / 'customers.csv'}", "--as-of", "2026-12-15"],
]


@pytest.mark.parametrize("args", READ_ONLY_COMMANDS, ids=lambda a: " ".join(a[:3]))
def test_a_command_that_does_not_upgrade_says_so_on_an_older_layout(
        runner: CliRunner, tmp_path: Path, args: list[str]) -> None:
    """Issue 11, RB6: diff and evaluate --dry-run read without migrating;
    on an intact database of an older layout they said it "was edited or
    damaged". They say it is older and how to upgrade it, and leave it as
    it is; after that upgrade the same command works."""
    db = tmp_path / "old.db"
    shutil.copyfile(M007, db)
    before = hashlib.sha256(db.read_bytes()).digest()
    result = runner.invoke(cli, [*args, "--db", str(db)])
    assert result.exit_code == 2
    assert result.output == (
        f"Error: {db} is an adieu database of an older layout (its last migration is "
        f"m007_set_aside_strikes, this adieu's is {migrations._migrations[-1].name}), which "
        "`adieu diff` and `adieu evaluate --dry-run` read only once it is upgraded: upgrade it "
        f"first with `adieu audit verify --db {db}` (which migrates the file and checks its "
        "trail), or run this on an upgraded copy\n")
    assert "damaged" not in result.output
    assert hashlib.sha256(db.read_bytes()).digest() == before
    assert runner.invoke(cli, ["audit", "verify", "--db", str(db)]).exit_code == 0
    again = runner.invoke(cli, [*args, "--db", str(db)])
    assert again.exit_code in (0, 1), again.output
