"""The audit trail: an append-only, hash-chained table.

Every entry carries the sha256 of the previous entry and the sha256 of its
own canonical JSON (seq, at, kind, run_id, customer_id, payload, prev_hash).
Triggers refuse UPDATE and DELETE through normal SQL; `verify` recomputes
the chain and the digests of runs and decisions, so an edit made anyway
(triggers dropped, file patched) is found and named."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import sqlite_utils

GENESIS = "0" * 64
ENTRY_FIELDS = ("seq", "at", "kind", "run_id", "customer_id", "payload", "prev_hash")


def canonical(value: Any) -> str:
    """Canonical JSON: sorted keys, no spaces, UTF-8 text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)


def digest(value: Any) -> str:
    return hashlib.sha256(canonical(value).encode("utf-8")).hexdigest()


def entry_hash(entry: dict[str, Any]) -> str:
    return digest({k: entry.get(k) for k in ENTRY_FIELDS})


class AuditLog:
    """Appends entries within the caller's transaction."""

    def __init__(self, db: sqlite_utils.Database, at: str):
        self.db = db
        self.at = at
        row = db.execute("select seq, hash from audit order by seq desc limit 1").fetchone()
        self.seq, self.prev = (row[0], row[1]) if row else (0, GENESIS)
        self.pending: list[dict[str, Any]] = []

    def add(self, kind: str, payload: dict[str, Any], run_id: int | None = None,
            customer_id: str | None = None) -> None:
        self.seq += 1
        entry = {"seq": self.seq, "at": self.at, "kind": kind, "run_id": run_id,
                 "customer_id": customer_id, "payload": canonical(payload),
                 "prev_hash": self.prev}
        entry["hash"] = entry_hash(entry)
        self.prev = entry["hash"]
        self.pending.append(entry)
        if len(self.pending) >= 1000:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.db["audit"].insert_all(self.pending, batch_size=1000)
            self.pending = []


def run_digest(run: dict[str, Any]) -> str:
    """The digest of a runs row as stored."""
    return digest({k: run[k] for k in sorted(run)})


def decision_digest(row: dict[str, Any]) -> str:
    """The digest of a decisions row as stored."""
    return digest({k: row[k] for k in sorted(row)})


def verify(db: sqlite_utils.Database) -> list[str]:
    """Every problem found, first the chain's, then the stored rows'.
    An empty list means the trail is intact."""
    problems: list[str] = []
    prev, expected_seq = GENESIS, 1
    digests: dict[tuple[str, int | None, str | None], tuple[int, str]] = {}
    for row in db.query(f"select {', '.join(ENTRY_FIELDS)}, hash from audit order by seq"):
        seq = row["seq"]
        if seq != expected_seq:
            if seq > expected_seq:
                problems.append(f"audit entry {expected_seq}"
                                + (f" to {seq - 1}" if seq - 1 > expected_seq else "")
                                + " missing (deleted)")
            else:
                problems.append(f"audit entry {seq} out of order")
        if row["prev_hash"] != prev:
            problems.append(f"audit entry {seq} ({row['kind']}) does not follow entry "
                            f"{seq - 1}: its prev_hash does not match (inserted, deleted or "
                            "reordered entries)")
        if entry_hash(row) != row["hash"]:
            problems.append(f"audit entry {seq} ({row['kind']}) was edited: its content does "
                            "not match its hash")
        prev, expected_seq = row["hash"], seq + 1
        if row["kind"] in ("run", "decision"):
            try:
                payload = json.loads(row["payload"])
            except ValueError:
                continue
            key = (row["kind"], row["run_id"], row["customer_id"])
            digests[key] = (seq, payload.get("digest", ""))
        if problems and len(problems) > 20:
            break
    if problems:
        return problems
    for run in db.query("select * from runs"):
        found = digests.pop(("run", run["id"], None), None)
        if found is None:
            problems.append(f"run {run['id']} has no audit entry")
        elif found[1] != run_digest(run):
            problems.append(f"run {run['id']} was edited after it was recorded "
                            f"(differs from audit entry {found[0]})")
    for row in db.query("select * from decisions"):
        found = digests.pop(("decision", row["run_id"], row["customer_id"]), None)
        if found is None:
            problems.append(f"decision of {row['customer_id']} in run {row['run_id']} has no "
                            "audit entry")
        elif found[1] != decision_digest(row):
            problems.append(f"decision of {row['customer_id']} in run {row['run_id']} was "
                            f"edited after it was recorded (differs from audit entry "
                            f"{found[0]})")
        if len(problems) > 20:
            break
    for (kind, run_id, customer_id), (seq, _) in list(digests.items())[:20]:
        what = f"run {run_id}" if kind == "run" else f"decision of {customer_id} in run {run_id}"
        problems.append(f"{what} was deleted (audit entry {seq} names it)")
    return problems


TRIGGERS = [
    f"CREATE TRIGGER IF NOT EXISTS {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
    f"BEGIN SELECT RAISE(ABORT, '{table} rows are part of the audit trail and cannot "
    f"change'); END"
    for table in ("audit", "runs", "decisions") for verb in ("UPDATE", "DELETE")
]
