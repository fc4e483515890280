"""The SQLite store: schema and migrations, what a run and its decisions
store, WAL, append-only rows, and atomic writes."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils
from conftest import AS_OF, POLICY

from adieu import __version__
from adieu.errors import StoreError
from adieu.run import prepare, store
from adieu.store import RunWriter, now, open_db
from adieu.store import db_path as resolve_db_path

EXPECTED_COLUMNS: dict[str, dict[str, type]] = {
    "_sqlite_migrations": {"id": int, "migration_set": str, "name": str, "applied_at": str},
    "runs": {
        "id": int, "policy_name": str, "policy_version": str, "policy_sha256": str,
        "policy_file": str, "policy_text": str, "source": str, "as_of": str, "customers": int,
        "rejected": int, "counts": str, "population": str, "adieu_version": str,
        "started_at": str, "finished_at": str, "facts_sha256": str, "identity": str,
        "backfill": int, "new_strikes": int, "missing_facts": str,
        "sources": str, "plugins": str, "input_sha256": str, "fact_keys": str,
        "source_files": str, "made_by": str,
    },
    # m008: the decisions of runs written before it; later ones are in
    # run_decisions and blobs, and the view `decisions` shows both.
    "decisions_v1": {
        "run_id": int, "customer_id": str, "outcome": str, "base_outcome": str,
        "severity": str, "strikes": int, "reasons": str, "fired": str, "shielded": str,
        "unknown": str, "missing": str, "exemptions": str, "expired_exemptions": str,
        "holds": str, "effective_date": str, "phase_out_start": str, "timing_basis": str,
        "referrals": str, "notes": str, "facts": str, "source_file": str, "source_row": int,
        "new_strikes": str, "repeat_strikes": str, "active_strikes": str, "memory": str,
        "set_aside_strikes": str,
        "provenance": str,
    },
    "run_decisions": {
        "run_id": int, "pos": int, "customer_id": str, "outcome": str, "base_outcome": str,
        "severity": str, "strikes": int, "effective_date": str, "phase_out_start": str,
        "timing_basis": str, "file": int, "source_row": int, "facts": bytes, "rules": bytes,
        "ledger": bytes,
    },
    "blobs": {"id": int, "sha256": bytes, "body": str},
    "rejects": {
        "id": int, "run_id": int, "file": str, "row": int, "line": int, "customer_id": str,
        "field": str, "value": str, "reason": str,
    },
    "strikes": {
        "id": int, "customer_id": str, "rule": str, "recorded_on": str, "expires_on": str,
        "run_id": int, "superseded_by_run": int, "pardoned_at": str, "pardoned_by": str,
        "pardon_reason": str,
    },
    "exemptions": {
        "id": int, "customer_id": str, "rules": str, "reason": str, "approver": str,
        "expires": str, "recorded_at": str,
    },
    "reviews": {
        "id": int, "run_id": int, "customer_id": str, "verdict": str, "reviewer": str,
        "note": str, "at": str,
    },
    "audit": {
        "seq": int, "at": str, "kind": str, "run_id": int, "customer_id": str, "payload": str,
        "prev_hash": str, "hash": str, "mac": str,
    },
    "cases": {
        "id": int, "customer_id": str, "state": str, "opened_run": int, "opened_as_of": str,
        "latest_run": int, "latest_as_of": str, "effective_date": str,
        "phase_out_start": str, "timing_basis": str, "fired": str, "closed_run": int,
        "closed_from": str, "reviewer": str, "reviewer_key": str, "reviewer_id": str,
        "reviewer_id_key": str, "reviewed_at": str, "review_note": str, "review_run": int,
        "review_as_of": str, "review_fired": str, "owner": str, "owner_id": str,
        "no_owner_on_record": int, "revoked_by": str, "revoked_by_key": str,
        "revoked_by_id": str, "revoked_at": str, "revoke_reason": str, "updated_at": str,
        "reviewed_on": str,
    },
}


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    return conn


def count(path: Path, table: str) -> int:
    with connect(path) as conn:
        return conn.execute(f"select count(*) from {table}").fetchone()[0]


def decision(path: Path, customer_id: str) -> dict[str, Any]:
    with connect(path) as conn:
        row = conn.execute("select * from decisions where customer_id = ?",
                           [customer_id]).fetchone()
    return dict(row)


# -- schema -----------------------------------------------------------------

def test_a_new_database_is_migrated(db_path: Path) -> None:
    open_db(str(db_path)).close()
    with connect(db_path) as conn:  # plain sqlite3, no adieu
        tables = {r[0] for r in conn.execute(
            "select name from sqlite_master where type = 'table'")}
        migrations = [tuple(r) for r in conn.execute(
            "select migration_set, name from _sqlite_migrations order by id")]
    assert {"runs", "run_decisions", "blobs", "rejects", "_sqlite_migrations"} <= tables
    assert tables == set(EXPECTED_COLUMNS)
    assert migrations == [("adieu", "m001_initial"), ("adieu", "m002_memory"),
                          ("adieu", "m003_missing_facts"), ("adieu", "m004_cases"),
                          ("adieu", "m005_sources_plugins"), ("adieu", "m006_audit_index"),
                          ("adieu", "m007_set_aside_strikes"), ("adieu", "m008_compact_store"),
                          ("adieu", "m009_trail_coverage"),
                          ("adieu", "m010_audit_mac"), ("adieu", "m011_case_triggers"),
                          ("adieu", "m012_made_by"),
                                            ("adieu", "m013_case_reviewed_on")]


@pytest.mark.parametrize("table", sorted(EXPECTED_COLUMNS))
def test_columns(db_path: Path, table: str) -> None:
    open_db(str(db_path)).close()
    db = sqlite_utils.Database(db_path)
    assert db[table].columns_dict == EXPECTED_COLUMNS[table]


def test_keys(db_path: Path) -> None:
    open_db(str(db_path)).close()
    db = sqlite_utils.Database(db_path)
    assert db["runs"].pks == ["id"]
    assert db["decisions_v1"].pks == ["run_id", "customer_id"]
    assert db["run_decisions"].pks == ["run_id", "pos"]
    assert db["blobs"].pks == ["id"]
    assert "decisions" in db.view_names()
    assert {(fk.column, fk.other_table) for fk in db["rejects"].foreign_keys} == \
        {("run_id", "runs")}


def test_migrating_twice_changes_nothing(db_path: Path) -> None:
    open_db(str(db_path)).close()
    open_db(str(db_path)).close()
    assert count(db_path, "_sqlite_migrations") == 13


def test_wal_mode(db_path: Path) -> None:
    open_db(str(db_path)).close()
    with connect(db_path) as conn:
        assert conn.execute("pragma journal_mode").fetchone()[0] == "wal"


def test_open_without_create(tmp_path: Path) -> None:
    missing = tmp_path / "missing.db"
    with pytest.raises(StoreError) as info:
        open_db(str(missing), create=False)
    assert str(info.value) == (f"{missing}: no database at {missing} (run `adieu evaluate` "
                               "first, or pass --db)")
    assert not missing.exists()


def test_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "text.db"
    path.write_text("hello, this is not sqlite" * 100, encoding="utf-8")
    with pytest.raises(StoreError) as info:
        open_db(str(path))
    assert str(info.value) == f"{path}: cannot use database: file is not a database"


def test_db_path_order(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_db_path(None) == "adieu.db"
    monkeypatch.setenv("ADIEU_DB", "/x/env.db")
    assert resolve_db_path(None) == "/x/env.db"
    assert resolve_db_path("given.db") == "given.db"


# -- what a run stores --------------------------------------------------------

def test_run_row(evaluated: Path, customers_csv: Path, policy_file: Path) -> None:
    with connect(evaluated) as conn:
        runs = [dict(r) for r in conn.execute("select * from runs")]
    assert len(runs) == 1
    run = runs[0]
    assert run["id"] == 1
    assert run["policy_name"] == "tiny"
    assert run["policy_version"] == "3"
    assert run["policy_text"] == POLICY
    assert run["policy_sha256"] == hashlib.sha256(POLICY.encode("utf-8")).hexdigest()
    assert run["policy_file"] == str(policy_file)
    assert run["source"] == f"csv:{customers_csv}"
    assert run["as_of"] == AS_OF
    assert run["customers"] == 9
    assert run["rejected"] == 1
    assert json.loads(run["counts"]) == {
        "keep": 1, "watch": 2, "warn": 1, "final_notice": 1, "offboard": 2, "exempt": 1,
        "held": 1}
    assert run["adieu_version"] == __version__
    started = dt.datetime.fromisoformat(run["started_at"])
    finished = dt.datetime.fromisoformat(run["finished_at"])
    assert started.tzinfo is not None and started <= finished
    population = json.loads(run["population"])
    assert population == {}  # the tiny policy uses no population function


def test_decision_rows(evaluated: Path, customers_csv: Path) -> None:
    final = decision(evaluated, "C-FINAL")
    assert (final["run_id"], final["outcome"], final["base_outcome"], final["severity"],
            final["strikes"]) == (1, "final_notice", "final_notice", "high", 2)
    fired = json.loads(final["fired"])
    assert [r["rule"] for r in fired] == ["cost-high", "late"]
    assert fired[0]["explanation"] == "Cost 5,000 is 500% of revenue 1,000."
    assert fired[0]["figures"] == {"cost_ratio": 5.0, "max_cost_ratio": 1.0}
    assert fired[1]["explanation"] == "5 late payments (limit 3)."
    assert fired[1]["figures"] == {"late_limit": 3, "late_payments_12m": 5}
    assert json.loads(final["reasons"]) == [r["explanation"] for r in fired]
    assert json.loads(final["new_strikes"]) == ["cost-high", "late"]
    assert json.loads(final["facts"]) == {
        "customer_id": "C-FINAL", "tier": "standard", "revenue_12m": 1000,
        "hours_support_12m": 100, "late_payments_12m": 5, "escalations_12m": 0,
        "abuse_incidents_12m": 0, "outgrown": False, "open_our_fault_incidents": 0,
        "contract_end": "2028-01-01"}
    assert final["source_file"] == str(customers_csv)
    assert final["source_row"] == 5

    exempt = decision(evaluated, "C-EXEMPT")
    assert exempt["outcome"] == "exempt"
    shielded = json.loads(exempt["shielded"])
    assert [(r["rule"], r["shielded_by"]) for r in shielded] == [("cost-high", "strategic")]
    assert json.loads(exempt["fired"]) == []
    assert [e["id"] for e in json.loads(exempt["exemptions"])] == ["strategic"]

    missing = decision(evaluated, "C-MISS")
    assert json.loads(missing["missing"]) == ["revenue_12m"]
    assert [r["rule"] for r in json.loads(missing["unknown"])] == ["cost-high"]
    assert "revenue_12m" not in json.loads(missing["facts"])

    off = decision(evaluated, "C-OFF")
    assert (off["outcome"], off["effective_date"], off["timing_basis"],
            off["phase_out_start"]) == ("offboard", "2026-12-15", "contract end", "2026-12-01")
    assert json.loads(off["referrals"]) == ["Other Ltd"]

    held = decision(evaluated, "C-HELD")
    assert (held["outcome"], held["base_outcome"]) == ("held", "warn")
    assert json.loads(held["holds"]) == [{"id": "our-fault", "reason": "Fix our part first"}]


def test_reject_rows(evaluated: Path, customers_csv: Path) -> None:
    with connect(evaluated) as conn:
        rejects = [dict(r) for r in conn.execute("select * from rejects")]
    assert rejects == [{
        "id": 1, "run_id": 1, "file": str(customers_csv), "row": 10, "line": 11,
        "customer_id": "C-BAD", "field": "revenue_12m", "value": "12k",
        "reason": "expected a number like 1234.5, got '12k'"}]


def test_strikes_recorded(evaluated: Path) -> None:
    with connect(evaluated) as conn:
        strikes = [tuple(r) for r in conn.execute(
            "select customer_id, rule, recorded_on, expires_on, run_id from strikes "
            "where customer_id = 'C-FINAL' order by rule")]
    assert strikes == [("C-FINAL", "cost-high", AS_OF, "2027-11-02", 1),
                       ("C-FINAL", "late", AS_OF, "2027-11-02", 1)]


def test_runs_and_decisions_are_append_only(evaluated: Path) -> None:
    with connect(evaluated) as conn:
        for statement in ("update runs set as_of = '2000-01-01'", "delete from runs",
                          "update run_decisions set outcome = 'keep'",
                          "delete from run_decisions", "update blobs set body = '[]'",
                          "delete from blobs"):
            with pytest.raises(sqlite3.DatabaseError, match="cannot change"):
                conn.execute(statement)
    assert count(evaluated, "runs") == 1


# -- writing --------------------------------------------------------------------

def test_same_snapshot_is_recorded_once(policy_file: Path, customers_csv: Path,
                                       db_path: Path) -> None:
    as_of = dt.date.fromisoformat(AS_OF)
    first = prepare(str(policy_file), f"csv:{customers_csv}", as_of, db_file=str(db_path))
    run_id = store(first, str(db_path), now())
    again = prepare(str(policy_file), f"csv:{customers_csv}", as_of, db_file=str(db_path))
    assert store(again, str(db_path), now()) == run_id
    assert again.already is True
    assert count(db_path, "runs") == 1


def test_a_failure_while_writing_leaves_nothing(evaluated: Path, policy_file: Path,
                                                customers_csv: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    tables = ("runs", "decisions", "rejects", "strikes", "audit")
    before = {t: count(evaluated, t) for t in tables}
    later = dt.date.fromisoformat(AS_OF) + dt.timedelta(days=1)
    result = prepare(str(policy_file), f"csv:{customers_csv}", later, db_file=str(evaluated))
    assert result.intake.rejects  # so the rejects insert happens

    original = RunWriter.add_rejects

    def failing(self: RunWriter, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(RunWriter, "add_rejects", failing)
    with pytest.raises(RuntimeError, match="disk on fire"):
        store(result, str(evaluated), now())
    assert {t: count(evaluated, t) for t in tables} == before
    assert before["runs"] == 1 and before["decisions"] == 9

    monkeypatch.setattr(RunWriter, "add_rejects", original)
    assert store(result, str(evaluated), now()) == 2  # the same write succeeds afterwards
    assert count(evaluated, "decisions") == 18
