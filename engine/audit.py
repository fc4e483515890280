"""The audit trail: an append-only, hash-chained table.

Every entry carries the sha256 of the previous entry and the sha256 of its
own canonical JSON (seq, at, kind, run_id, customer_id, payload, prev_hash).
Triggers refuse UPDATE and DELETE through normal SQL; `verify` recomputes
the chain and the digests of runs and decisions, so an edit made anyway
(triggers dropped, file patched) is found and named."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import sqlite_utils

from .audit_records import RECORD_KINDS, check_records

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
    """Appends entries within the caller's transaction. With ADIEU_AUDIT_KEY
    set (engine/audit_anchor.py) each entry also gets its `mac`; a key that
    is too short raises InputError before anything is added. Without the
    key, a trail that already carries MACs is refused (InputError, exit 2):
    every writer (evaluate, approve, reject, revoke, pardon, exempt, the
    migrations) builds its entries here, so none appends MAC-less entries
    that `audit verify` with the key could not tell from stripped ones."""

    def __init__(self, db: sqlite_utils.Database, at: str):
        from .audit_anchor import audit_key, has_mac_column, refuse_unkeyed_write

        self.db = db
        self.at = at
        # Migrations before m010_audit_mac (adopting older rows) have no mac column.
        self.key = audit_key() if has_mac_column(db) else None
        if self.key is None and has_mac_column(db):
            refuse_unkeyed_write(db)
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
        if self.key is not None:
            from .audit_anchor import entry_mac

            entry["mac"] = entry_mac(self.key, entry["hash"])
        self.prev = entry["hash"]
        self.pending.append(entry)
        if len(self.pending) >= 1000:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.db["audit"].insert_all(self.pending, batch_size=1000)
            self.pending = []


# Runs columns added by a later migration: NULL in the rows of earlier runs,
# whose digests were taken before the column existed, so a NULL there is left
# out of the digest (any other value is in it).
LATER_RUN_COLUMNS = frozenset({"missing_facts", "sources", "plugins", "input_sha256",
                               "fact_keys", "source_files", "made_by"})


def run_digest(run: dict[str, Any]) -> str:
    """The digest of a runs row as stored."""
    return digest({k: run[k] for k in sorted(run)
                   if not (k in LATER_RUN_COLUMNS and run[k] is None)})


# Decisions columns added by a later migration, left out of the digest when
# NULL for the same reason.
LATER_DECISION_COLUMNS = frozenset({"provenance", "set_aside_strikes"})


def decision_digest(row: dict[str, Any]) -> str:
    """The digest of a decisions row as stored."""
    return digest({k: row[k] for k in sorted(row)
                   if not (k in LATER_DECISION_COLUMNS and row[k] is None)})


def verify(db: sqlite_utils.Database,
           after_chain: Callable[[], None] | None = None) -> list[str]:
    """Every problem found, first the chain's, then the stored rows'.
    An empty list means the trail is intact. `after_chain` is called once the
    entries are read, before the stored rows are (audit_anchor.verify_trail
    runs this in one read transaction; its tests commit a run there)."""
    problems: list[str] = []
    prev, expected_seq = GENESIS, 1
    digests: dict[tuple[str, int | None, str | None], tuple[int, str]] = {}
    records: list[dict[str, Any]] = []
    batches: list[dict[str, Any]] = []
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
        if row["kind"] in RECORD_KINDS:
            try:
                records.append({**row, "payload": json.loads(row["payload"])})
            except ValueError:
                pass
        if row["kind"] == "decisions":
            try:
                batches.append({**row, "payload": json.loads(row["payload"])})
            except ValueError:
                pass
        if row["kind"] in ("run", "decision"):
            try:
                payload = json.loads(row["payload"])
            except ValueError:
                continue
            key = (row["kind"], row["run_id"], row["customer_id"])
            digests[key] = (seq, payload.get("digest", ""))
        if problems and len(problems) > 20:
            break
    if after_chain is not None:
        after_chain()
    if problems:
        return problems
    for run in db.query("select * from runs"):
        found = digests.pop(("run", run["id"], None), None)
        if found is None:
            problems.append(f"run {run['id']} has no audit entry")
        elif found[1] != run_digest(run):
            problems.append(f"run {run['id']} was edited after it was recorded "
                            f"(differs from audit entry {found[0]})")
    for row in db.query(f"select * from {_v1_table(db)}"):
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
    from .audit_batches import check_batches

    problems.extend(check_batches(db, batches))
    problems.extend(_check_records(db, records))
    from .cases import verify as verify_cases

    problems.extend(verify_cases(db))
    return problems


def _v1_table(db: sqlite_utils.Database) -> str:
    """The table of decisions with one audit entry each: decisions_v1 from
    m008 on, decisions before."""
    return "decisions_v1" if db["decisions_v1"].exists() else "decisions"


def _check_records(db: sqlite_utils.Database, entries: list[dict[str, Any]]) -> list[str]:
    """The strikes, exemptions, reviews and rejects tables against their
    audit entries (engine/audit_records.py)."""
    return check_records(db, entries)


TRIGGERS = [
    f"CREATE TRIGGER IF NOT EXISTS {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
    f"BEGIN SELECT RAISE(ABORT, '{table} rows are part of the audit trail and cannot "
    f"change'); END"
    for table in ("audit", "runs", "decisions", "exemptions", "reviews")
    for verb in ("UPDATE", "DELETE")
] + [
    # A strike may be pardoned or superseded, nothing else.
    "CREATE TRIGGER IF NOT EXISTS strikes_no_update BEFORE UPDATE OF customer_id, rule, "
    "recorded_on, expires_on, run_id ON strikes BEGIN SELECT RAISE(ABORT, 'strikes rows are "
    "part of the audit trail and cannot change'); END",
    "CREATE TRIGGER IF NOT EXISTS strikes_no_delete BEFORE DELETE ON strikes BEGIN SELECT "
    "RAISE(ABORT, 'strikes rows are part of the audit trail and cannot change'); END",
]

# m008: the compact tables are append-only too.
COMPACT_TRIGGERS = [
    f"CREATE TRIGGER IF NOT EXISTS {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
    f"BEGIN SELECT RAISE(ABORT, '{table} rows are part of the audit trail and cannot "
    f"change'); END"
    for table in ("run_decisions", "blobs")
    for verb in ("UPDATE", "DELETE")
]

# m009: a strike may change only as the product changes it: superseded_by_run
# from NULL to a run once (a later run of its date), pardoned_at, pardoned_by
# and pardon_reason from NULL to values once and together (adieu strikes
# pardon); nothing else (id, customer_id, rule, recorded_on, expires_on,
# run_id) ever. `IS` compares NULLs as values. rejects rows never change.
STRIKE_UPDATE_ALLOWED = (
    "new.id IS old.id AND new.customer_id IS old.customer_id AND new.rule IS old.rule "
    "AND new.recorded_on IS old.recorded_on AND new.expires_on IS old.expires_on "
    "AND new.run_id IS old.run_id "
    "AND (new.superseded_by_run IS old.superseded_by_run OR "
    "(old.superseded_by_run IS NULL AND new.superseded_by_run IS NOT NULL)) "
    "AND ((new.pardoned_at IS old.pardoned_at AND new.pardoned_by IS old.pardoned_by "
    "AND new.pardon_reason IS old.pardon_reason) OR "
    "(old.pardoned_at IS NULL AND old.pardoned_by IS NULL AND old.pardon_reason IS NULL "
    "AND new.pardoned_at IS NOT NULL AND new.pardoned_by IS NOT NULL "
    "AND new.pardon_reason IS NOT NULL))"
)
TRAIL_TRIGGERS = [
    "DROP TRIGGER IF EXISTS strikes_no_update",
    f"CREATE TRIGGER IF NOT EXISTS strikes_only_pardon_supersede BEFORE UPDATE ON strikes "
    f"WHEN NOT ({STRIKE_UPDATE_ALLOWED}) BEGIN SELECT RAISE(ABORT, 'strikes rows are part "
    "of the audit trail: only a pardon (pardoned_at, pardoned_by, pardon_reason from NULL) "
    "or a supersede (superseded_by_run from NULL) may change them'); END",
] + [
    f"CREATE TRIGGER IF NOT EXISTS rejects_no_{verb.lower()} BEFORE {verb} ON rejects "
    f"BEGIN SELECT RAISE(ABORT, 'rejects rows are part of the audit trail and cannot "
    f"change'); END"
    for verb in ("UPDATE", "DELETE")
]
