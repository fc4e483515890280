"""The SQLite store: runs, decisions, rejects; migrations recorded in the
database (sqlite-utils Migrations, table _sqlite_migrations).

Tables and columns are documented in docs/database.md."""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import sqlite_utils

from .errors import Location, StoreError

migrations = sqlite_utils.Migrations("adieu")
DEFAULT_DB = "adieu.db"


def db_path(option: str | None) -> str:
    """--db, else $ADIEU_DB, else ./adieu.db."""
    return option or os.environ.get("ADIEU_DB") or DEFAULT_DB


@migrations()
def m001_initial(db: sqlite_utils.Database) -> None:
    db["runs"].create({
        "id": int, "policy_name": str, "policy_version": str, "policy_sha256": str,
        "policy_file": str, "policy_text": str, "source": str, "as_of": str,
        "customers": int, "rejected": int, "counts": str, "population": str,
        "adieu_version": str, "started_at": str, "finished_at": str,
    }, pk="id")
    db["decisions"].create({
        "run_id": int, "customer_id": str, "outcome": str, "base_outcome": str,
        "severity": str, "strikes": int, "reasons": str, "fired": str, "shielded": str,
        "unknown": str, "missing": str, "exemptions": str, "expired_exemptions": str,
        "holds": str, "effective_date": str, "phase_out_start": str, "timing_basis": str,
        "referrals": str, "notes": str, "facts": str, "source_file": str, "source_row": int,
    }, pk=("run_id", "customer_id"), foreign_keys=[("run_id", "runs", "id")])
    db["decisions"].create_index(["customer_id"])
    db["decisions"].create_index(["run_id", "outcome"])
    db["rejects"].create({
        "id": int, "run_id": int, "file": str, "row": int, "line": int, "customer_id": str,
        "field": str, "value": str, "reason": str,
    }, pk="id", foreign_keys=[("run_id", "runs", "id")])
    db["rejects"].create_index(["run_id"])


def open_db(path: str, create: bool = True) -> sqlite_utils.Database:
    """Open (and migrate) the store. WAL mode, a busy timeout."""
    if not create and not Path(path).exists():
        raise StoreError(f"no database at {path} (run `adieu evaluate` first, or pass --db)",
                         Location(path))
    try:
        conn = sqlite3.connect(path, timeout=30)
        db = sqlite_utils.Database(conn, execute_plugins=False)
        db.execute("PRAGMA busy_timeout = 30000")
        if db.journal_mode != "wal":
            db.enable_wal()
        migrations.apply(db)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"cannot use database: {exc}", Location(path)) from None
    return db


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def write_run(db: sqlite_utils.Database, run: dict[str, Any], decisions: list[dict[str, Any]],
              rejects: list[dict[str, Any]]) -> int:
    """Write one run, its decisions and its rejects in one transaction."""
    with db.atomic():
        run_id = db["runs"].insert(run).last_pk
        db["decisions"].insert_all(({**d, "run_id": run_id} for d in decisions),
                                   batch_size=500)
        db["rejects"].insert_all(({**r, "run_id": run_id} for r in rejects), batch_size=500)
    return int(run_id)


def latest_run_id(db: sqlite_utils.Database) -> int | None:
    row = db.execute("select max(id) from runs").fetchone()
    return row[0] if row else None


def get_run(db: sqlite_utils.Database, run_id: int | None) -> dict[str, Any]:
    if run_id is None:
        run_id = latest_run_id(db)
        if run_id is None:
            raise StoreError("the database holds no runs yet (run `adieu evaluate`)")
    rows = list(db["runs"].rows_where("id = ?", [run_id]))
    if not rows:
        raise StoreError(f"no run {run_id} in the database")
    return rows[0]


def get_decision(db: sqlite_utils.Database, run_id: int, customer_id: str) -> dict[str, Any]:
    rows = list(db["decisions"].rows_where("run_id = ? and customer_id = ?",
                                           [run_id, customer_id]))
    if not rows:
        raise StoreError(f"customer {customer_id!r} has no decision in run {run_id}")
    row = rows[0]
    for key in ("reasons", "fired", "shielded", "unknown", "missing", "exemptions",
                "expired_exemptions", "holds", "referrals", "notes", "facts"):
        if row.get(key) is not None:
            row[key] = json.loads(row[key])
    return row


def decision_row(decision: Any, facts: dict[str, Any], file: str | None,
                 row: int | None) -> dict[str, Any]:
    """A Decision as a decisions-table row (lists and dicts as JSON text)."""
    d = decision.to_dict()
    return {
        "customer_id": d["customer_id"], "outcome": d["outcome"],
        "base_outcome": d["base_outcome"], "severity": d["severity"], "strikes": d["strikes"],
        "reasons": _json(decision.reasons),
        **{k: _json(d[k]) for k in ("fired", "shielded", "unknown", "missing", "exemptions",
                                    "expired_exemptions", "holds", "referrals", "notes")},
        "effective_date": d["effective_date"], "phase_out_start": d["phase_out_start"],
        "timing_basis": d["timing_basis"], "facts": _json(facts), "source_file": file,
        "source_row": row,
    }
