"""The SQLite store: runs, decisions, rejects; migrations recorded in the
database (sqlite-utils Migrations, table _sqlite_migrations).

Tables and columns are documented in docs/database.md."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import random
import sqlite3
import time
from pathlib import Path
from typing import Any

import sqlite_utils

from . import cases, compact, dbfile, jsontext
from .audit import COMPACT_TRIGGERS, TRAIL_TRIGGERS, TRIGGERS, AuditLog, decision_digest, run_digest
from .audit_records import rejects_digest, supersede_payloads
from .errors import Location, StoreError
from .ledger import Memory, PardonedStrike, Strike
from .policy import Exemption
from .run_writer import BATCH, RunWriter, read_decisions, reserve_run_id
from .stored_values import check_run

migrations = sqlite_utils.Migrations("adieu")
DEFAULT_DB = "adieu.db"
PAGE_SIZE = 8192


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


@migrations()
def m002_memory(db: sqlite_utils.Database) -> None:
    """Memory across runs: run identity, the strike ledger, the exemption
    registry, reviews, and the hash-chained audit trail (existing runs and
    decisions are adopted into it)."""
    runs = db["runs"]
    for name, kind in (("facts_sha256", str), ("identity", str), ("backfill", int),
                       ("new_strikes", int)):
        runs.add_column(name, kind)
    decisions = db["decisions"]
    for name in ("new_strikes", "repeat_strikes", "active_strikes", "memory"):
        decisions.add_column(name, str)
    db["strikes"].create({
        "id": int, "customer_id": str, "rule": str, "recorded_on": str, "expires_on": str,
        "run_id": int, "superseded_by_run": int, "pardoned_at": str, "pardoned_by": str,
        "pardon_reason": str,
    }, pk="id", foreign_keys=[("run_id", "runs", "id")])
    db["strikes"].create_index(["customer_id", "recorded_on"])
    db["exemptions"].create({
        "id": int, "customer_id": str, "rules": str, "reason": str, "approver": str,
        "expires": str, "recorded_at": str,
    }, pk="id")
    db["exemptions"].create_index(["customer_id"])
    db["reviews"].create({
        "id": int, "run_id": int, "customer_id": str, "verdict": str, "reviewer": str,
        "note": str, "at": str,
    }, pk="id", foreign_keys=[("run_id", "runs", "id")])
    db["reviews"].create_index(["run_id", "customer_id"], unique=True)
    db["audit"].create({
        "seq": int, "at": str, "kind": str, "run_id": int, "customer_id": str,
        "payload": str, "prev_hash": str, "hash": str,
    }, pk="seq")
    db["runs"].create_index(["identity"])
    log = AuditLog(db, now())
    for run in db.query("select * from runs order by id"):
        log.add("run", {"digest": run_digest(run), "adopted": True}, run["id"])
        for row in db.query("select * from decisions where run_id = ? order by customer_id",
                            [run["id"]]):
            log.add("decision", {"digest": decision_digest(row), "outcome": row["outcome"],
                                 "adopted": True}, run["id"], row["customer_id"])
    log.flush()
    for statement in TRIGGERS:
        db.execute(statement)


@migrations()
def m003_missing_facts(db: sqlite_utils.Database) -> None:
    """runs.missing_facts: the facts the policy uses that the source had no
    column for, allowed to be missing (JSON list; NULL for earlier runs)."""
    db["runs"].add_column("missing_facts", str)


@migrations()
def m004_cases(db: sqlite_utils.Database) -> None:
    """cases: one offboarding case per customer across runs (engine/cases.py);
    the reviews of earlier runs are adopted into cases."""
    cases.create_table(db)
    cases.adopt_reviews(db, now())


@migrations()
def m005_sources_plugins(db: sqlite_utils.Database) -> None:
    """Several sources per run and the plugins a run used:
    runs.sources (JSON list of KIND:LOCATION as given), runs.plugins (JSON
    list of {plugin, name, version, provides}: plugin_record), and
    decisions.provenance (JSON {fact: "KIND:FILE row N, FIELD"}, for runs
    over several sources). NULL in rows stored before."""
    db["runs"].add_column("sources", str)
    db["runs"].add_column("plugins", str)
    db["decisions"].add_column("provenance", str)


@migrations()
def m006_audit_index(db: sqlite_utils.Database) -> None:
    """An index on audit(kind, customer_id, run_id) for the memory check a run makes
    before deciding (engine.memory_check), and runs.input_sha256: the hash
    of everything a run's decisions follow from (policy text, source bytes,
    mapping, options, as-of date, memory), so an identical re-run is found
    before reading or deciding (NULL for earlier runs)."""
    db["audit"].create_index(["kind", "customer_id", "run_id"], if_not_exists=True)
    db["runs"].add_column("input_sha256", str)
    db["runs"].create_index(["input_sha256"], if_not_exists=True)


@migrations()
def m007_set_aside_strikes(db: sqlite_utils.Database) -> None:
    """decisions.set_aside_strikes: the active strikes an exemption set aside
    in the decision (JSON list of {rule, recorded_on, expires_on, exemption};
    NULL for decisions stored before)."""
    db["decisions"].add_column("set_aside_strikes", str)


@migrations()
def m008_compact_store(db: sqlite_utils.Database) -> None:
    """The compact layout (engine/compact.py): decisions go to run_decisions
    and content-addressed blobs, with one audit entry per batch; the old
    table becomes decisions_v1 (its rows and per-decision audit entries
    stay as they are) and `decisions` is a view over both with the old
    columns. runs.fact_keys and runs.source_files: the run's fact name
    lists and source files the compact rows index (NULL for earlier runs)."""
    db.execute("ALTER TABLE decisions RENAME TO decisions_v1")
    for statement in compact.TABLES:
        db.execute(statement)
    db["runs"].add_column("fact_keys", str)
    db["runs"].add_column("source_files", str)
    db.execute(compact.VIEW)
    for statement in COMPACT_TRIGGERS:
        db.execute(statement)


@migrations()
def m009_trail_coverage(db: sqlite_utils.Database) -> None:
    """Every stored field a decision or a listing reads is covered by the
    trail (engine/audit_records.py). Triggers: a strike changes only by a
    pardon or a supersede, once each (audit.TRAIL_TRIGGERS); rejects rows
    never change. Baseline entries for what earlier versions did not
    record, taken as the database holds it now (payload "adopted": true):
    one "supersede" entry per run that superseded strikes (ids in batches
    of 1,000) and one "rejects" entry per run (count and digest)."""
    for statement in TRAIL_TRIGGERS:
        db.execute(statement)
    log = AuditLog(db, now())
    by_run: dict[int, list[int]] = {}
    for strike_id, run_id in db.execute("select id, superseded_by_run from strikes where "
                                        "superseded_by_run is not null order by id"):
        by_run.setdefault(run_id, []).append(strike_id)
    for run_id in sorted(by_run):
        for payload in supersede_payloads(by_run[run_id]):
            log.add("supersede", {**payload, "adopted": True}, run_id)
    for (run_id,) in db.execute("select id from runs order by id").fetchall():
        count, hexdigest = rejects_digest(db, run_id)
        log.add("rejects", {"count": count, "digest": hexdigest, "adopted": True}, run_id)
    log.flush()


@migrations()
def m010_audit_mac(db: sqlite_utils.Database) -> None:
    """audit.mac: HMAC-SHA256 of the entry's hash under ADIEU_AUDIT_KEY (64
    hex digits), written when the key is set (engine/audit_anchor.py); NULL
    for entries written without it and for every earlier entry."""
    db["audit"].add_column("mac", str)


@migrations()
def m011_case_triggers(db: sqlite_utils.Database) -> None:
    """A cases row changes only by the moves adieu makes (cases.CASE_MOVES:
    a run keeps, redates, makes effective or withdraws an open case;
    approve, reject, revoke); before, cases had only a no-delete trigger."""
    for statement in cases.CASE_TRIGGERS_V1:
        db.execute(statement)


@migrations()
def m012_made_by(db: sqlite_utils.Database) -> None:
    """runs.made_by: who made the run (`adieu evaluate --by NAME`, else the
    operating-system user); NULL for earlier runs and when neither is known."""
    db["runs"].add_column("made_by", str)


@migrations()
def m013_case_reviewed_on(db: sqlite_utils.Database) -> None:
    """cases.reviewed_on: the day a review was made (`adieu approve --on`, else
    the day it was recorded); NULL for earlier reviews, which count from
    reviewed_at's day. The cases update trigger is made again with it among
    the columns a review sets."""
    db["cases"].add_column("reviewed_on", str)
    db.execute("DROP TRIGGER IF EXISTS cases_only_adieu_moves")
    for statement in cases.CASE_TRIGGERS:
        db.execute(statement)


class Database(sqlite_utils.Database):
    """sqlite-utils' Database whose atomic() blocks are write transactions
    from the start (BEGIN IMMEDIATE). With a plain BEGIN the transaction
    first reads (sqlite-utils looks up the table's columns) and then asks
    for the write lock; SQLite does not wait for a lock a reading
    transaction asks for, so a second writer (an approval while a run is
    being written) failed at once with "database is locked" instead of
    waiting out the busy timeout."""

    # Set when the file was opened read-only because it lies in a read-only
    # file, folder or filesystem (store._readonly_db): a write says so.
    read_only_file: str | None = None

    def require_writable(self) -> None:
        """StoreError, one line, for a file opened read-only where it lies."""
        if self.read_only_file is not None:
            raise StoreError("cannot write to the database: it is read-only (a read-only file, "
                             "folder or filesystem); the reading commands work on it, this one "
                             "needs a writable copy", Location(self.read_only_file))

    @contextlib.contextmanager
    def atomic(self):  # type: ignore[override]
        self.require_writable()
        if self.conn.in_transaction:  # nested: sqlite-utils' savepoints
            with super().atomic():
                yield self
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self
        except BaseException:
            self.rollback()
            raise
        else:
            try:
                self.conn.execute("COMMIT")
            except BaseException:
                self.rollback()
                raise


# How long a command waits for another's write lock. A run holds it while
# it decides and writes (pass 2: minutes for a million customers), so a
# second run, or a review, waits for it rather than failing.
BUSY_SECONDS = 900


def refuse_a_folder(path: str) -> None:
    """A folder (or other non-file) given as the database: StoreError naming
    it (SQLite would say "disk I/O error")."""
    if Path(path).exists() and not Path(path).is_file():
        what = "a folder" if Path(path).is_dir() else "not a regular file"
        raise StoreError(f"cannot use database: it is {what}, not a database file "
                         "(--db names the file, e.g. adieu.db)", Location(path))


def open_db(path: str, create: bool = True) -> sqlite_utils.Database:
    """Open (and migrate) the store. WAL mode, a busy timeout; write
    transactions take the write lock when they begin (see Database).
    create: a missing file becomes a new store; without it, a missing file
    is an error. An empty file (no table: `touch`, or a trail emptied by
    replacing the file, which `audit verify --expect-head` must be able to
    report) becomes an empty store either way. A file with tables that is
    not an adieu database is refused, untouched (dbfile.recognise)."""
    if not create and not Path(path).exists():
        raise StoreError(f"no database at {path} (run `adieu evaluate` first, or pass --db)",
                         Location(path))
    refuse_a_folder(path)
    deadline = time.monotonic() + BUSY_SECONDS
    while True:
        try:
            return _open(path, create)
        except sqlite3.OperationalError as exc:
            # SQLite answers "locked" at once, without waiting, where waiting
            # could deadlock (a new file's journal mode or first migration
            # while other processes open it too): open again shortly.
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise StoreError(f"cannot use database: {exc}", Location(path)) from None
            time.sleep(0.05 + random.random() / 10)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot use database: {exc}", Location(path)) from None


def _open(path: str, create: bool = True) -> sqlite_utils.Database:
    # Before anything writes (page size, WAL, migrations), read-only: a file
    # that is not adieu's is left exactly as it is.
    if Path(path).exists():
        pending = dbfile.inspect(path, [m.name for m in migrations._migrations], BUSY_SECONDS)
        if not dbfile.writable(path):
            # A read-only file, folder or filesystem (a backup): the reading
            # commands read it as it is; what would write says why it cannot.
            if pending:
                raise StoreError(
                    "cannot use database: it is read-only (a read-only file, folder or "
                    "filesystem) and of an older adieu layout that this command would "
                    f"upgrade first ({', '.join(pending[:1])} and later); copy it to a "
                    "writable folder", Location(path))
            db = _readonly_db(path, BUSY_SECONDS)
            db.read_only_file = path
            return db
    conn = sqlite3.connect(path, timeout=BUSY_SECONDS)
    try:
        db = Database(conn, execute_plugins=False)
        db.execute(f"PRAGMA busy_timeout = {BUSY_SECONDS * 1000}")
        dbfile.recognise(conn, path, True)  # a file made by another program meanwhile
        if not db.execute("select 1 from sqlite_master limit 1").fetchone():
            # A new file: 8 KiB pages keep a stored decision's detail texts
            # (often 1-2 KB) on the page instead of half-empty overflow pages.
            db.execute(f"PRAGMA page_size = {PAGE_SIZE}")
        if db.journal_mode != "wal":
            db.enable_wal()
        if migrations.pending(db):
            # Under the write lock: two processes opening a new file at once
            # would otherwise both apply the same migration.
            with db.atomic():
                migrations.apply(db)
    except BaseException:
        conn.close()
        raise
    return db


def _readonly_db(path: str, timeout: float) -> Database:
    conn = dbfile.connect_readonly(path, timeout=timeout)
    conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
    return Database(conn, execute_plugins=False)


def open_db_readonly(path: str) -> sqlite_utils.Database | None:
    """The store opened read-only and not migrated (a dry run must leave the
    file as it is); None if there is no file. Raises StoreError if it is
    not a database, or not an adieu one (dbfile.recognise; an empty database
    is opened: it holds nothing yet). A file in a read-only folder or
    filesystem is read as it is (dbfile.connect_readonly)."""
    if not Path(path).exists():
        return None
    refuse_a_folder(path)
    db = None
    try:
        db = _readonly_db(path, 30)
        dbfile.recognise(db.conn, path, True)
    except (sqlite3.DatabaseError, StoreError) as exc:
        if db is not None:
            db.close()
        if isinstance(exc, StoreError):
            raise
        raise StoreError(f"cannot use database: {exc}", Location(path)) from None
    return db


def require_layout(db: sqlite_utils.Database, path: str, memory_free_ok: bool = False) -> None:
    """A command that reads without migrating refuses an older layout it
    cannot read, saying how to upgrade it (dbfile.require_layout)."""
    dbfile.require_layout(db.conn, path, migrations._migrations[-1].name, memory_free_ok)


def _json(value: Any) -> str:
    if type(value) is list and not value:  # most JSON columns of most decisions
        return "[]"
    return jsontext.dumps(value)


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def write_run(db: sqlite_utils.Database, run: dict[str, Any], decisions: list[dict[str, Any]],
              rejects: list[dict[str, Any]], new_strikes: list[dict[str, Any]] = ()) -> int:
    """Write one run in one transaction: the run, its decisions, rejects and
    new strikes (superseding the strikes an earlier run recorded for the
    same as-of date for the customers this run decides), then the audit
    entries that chain them. A wrapper over RunWriter (batches of BATCH
    decisions, one audit entry each)."""
    at = run.get("finished_at") or now()
    with db.atomic():
        run_id = reserve_run_id(db)
        writer = RunWriter(db, run_id, run["as_of"], at)
        for start in range(0, len(decisions), BATCH):
            writer.add(decisions[start:start + BATCH])
        writer.add((), new_strikes)
        writer.add_rejects(rejects)
        return writer.finish(run)


def load_memories(db: sqlite_utils.Database, as_of: dt.date,
                  customer_ids: list[str] | None = None) -> dict[str, Memory]:
    """Every customer's memory going into a run as of `as_of`: strikes
    recorded up to that date (not pardoned, not superseded), the pardoned
    strikes of the date itself and registry exemptions. Strikes of the date
    itself come from earlier runs of the same date: decide counts them only
    for rules the new run cannot judge, and write_run supersedes the
    others.

    customer_ids: only these customers' memory (a run's batch of about
    2,000; engine.batches), else everyone's. Each customer's lists are in
    the order of their rows' ids either way."""
    if customer_ids is None:
        only, ids = "", []
    else:
        only, ids = (" and customer_id in (select value from json_each(?))",
                     [jsontext.dumps(list(customer_ids))])
    memories: dict[str, Memory] = {}
    for row in db.query("select id, customer_id, rule, recorded_on from strikes where "
                        "recorded_on <= ? and superseded_by_run is null and "
                        f"pardoned_at is null{only} order by id", [as_of.isoformat(), *ids]):
        memories.setdefault(row["customer_id"], Memory()).strikes.append(
            Strike(row["rule"], dt.date.fromisoformat(row["recorded_on"]), row["id"]))
    # A pardon holds when the date is decided again (decide: no new strike).
    for row in db.query("select customer_id, rule, recorded_on, pardoned_by from strikes "
                        f"where recorded_on = ? and pardoned_at is not null{only} order by id",
                        [as_of.isoformat(), *ids]):
        memories.setdefault(row["customer_id"], Memory()).pardoned.append(
            PardonedStrike(row["rule"], as_of, row["pardoned_by"]))
    for row in db.query(f"select * from exemptions where 1{only} order by id", ids):
        memories.setdefault(row["customer_id"], Memory()).exemptions.append(
            registry_exemption(row))
    cases.remember(db, memories, as_of, customer_ids)
    return memories


def registry_exemption(row: dict[str, Any]) -> Exemption:
    """An exemptions-table row as a policy Exemption (source "registry")."""
    from .stored_values import check_exemption, stored_list

    check_exemption(row)
    rules = stored_list("exemptions", row.get("id"), "rules", row["rules"]) \
        if row.get("rules") else None
    return Exemption(f"registry-{row['id']}", None, frozenset([row["customer_id"]]),
                     None if rules is None else frozenset(rules), row["reason"],
                     row["approver"], dt.date.fromisoformat(row["expires"]), "registry")


def run_with_same_version(path: str, name: str, version: str, sha256: str) \
        -> dict[str, Any] | None:
    """The latest run that stored policy `name` under `version` with a text
    whose sha256 is not `sha256` (a changed policy whose version was not
    changed), as a dict with id, as_of, policy_version and policy_sha256; or
    None. Opens the database read-only and never migrates it.

    Raises StoreError if the file is not an adieu database."""
    try:
        conn = dbfile.connect_readonly(path)
        try:
            conn.row_factory = sqlite3.Row
            row = conn.execute(
                "select id, as_of, policy_version, policy_sha256 from runs where "
                "policy_name = ? and policy_version = ? and policy_sha256 != ? "
                "order by id desc limit 1", [name, version, sha256]).fetchone()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read runs from the database: {exc}", Location(path)) \
            from None
    return dict(row) if row is not None else None


def latest_run_id(db: sqlite_utils.Database, customer_id: str | None = None) -> int | None:
    """The latest run: the one with the latest as-of date (of those, the
    highest id), so a --backfill run of the past is never the latest; with
    customer_id, the latest of the runs that decided that customer. None if
    there is none."""
    if customer_id is None:
        row = db.execute("select id from runs order by as_of desc, id desc limit 1").fetchone()
    else:
        row = db.execute(f"select r.id from runs r join {compact.DECIDED} d on d.run_id = r.id and "
                         "d.customer_id = ? order by r.as_of desc, r.id desc limit 1",
                         [customer_id]).fetchone()
    return row[0] if row else None


def get_run(db: sqlite_utils.Database, run_id: int | None,
            customer_id: str | None = None) -> dict[str, Any]:
    """The runs row of run_id, or of the latest run (latest_run_id; with
    customer_id the latest that decided that customer, else the latest).
    StoreError if there is none, or if a column holds what adieu never
    writes (engine/stored_values.check_run: names the run and column)."""
    if run_id is None:
        run_id = latest_run_id(db, customer_id) or latest_run_id(db)
        if run_id is None:
            raise StoreError("the database holds no runs yet (run `adieu evaluate`)")
    rows = list(db["runs"].rows_where("id = ?", [run_id]))
    if not rows:
        raise StoreError(f"no run {run_id} in the database")
    return check_run(rows[0])


def get_decision(db: sqlite_utils.Database, run_id: int, customer_id: str) -> dict[str, Any]:
    rows = list(read_decisions(db, run_id, [customer_id]))
    if not rows:
        raise StoreError(f"customer {customer_id!r} has no decision in run {run_id}")
    row = rows[0]
    for key in JSON_COLUMNS:
        if row.get(key) is not None:
            row[key] = jsontext.loads(row[key])
    return row


JSON_COLUMNS = ("reasons", "fired", "shielded", "unknown", "missing", "exemptions",
                "expired_exemptions", "holds", "referrals", "notes", "facts", "new_strikes",
                "repeat_strikes", "active_strikes", "set_aside_strikes", "memory",
                "provenance")


def decision_row(decision: Any, facts: dict[str, Any], file: str | None,
                 row: int | None) -> dict[str, Any]:
    """A Decision as a decisions-table row (lists and dicts as JSON text).

    Built from the fields directly (dataclasses.asdict deep-copies every
    nested value, which was a third of the cost of storing a run)."""
    d = vars(decision)
    rules = {k: [vars(r) for r in d[k]] for k in ("fired", "shielded", "unknown")}
    d = {**d, **rules}
    return {
        "customer_id": d["customer_id"], "outcome": d["outcome"],
        "base_outcome": d["base_outcome"], "severity": d["severity"], "strikes": d["strikes"],
        "reasons": _json(decision.reasons),
        **{k: _json(d[k]) for k in ("fired", "shielded", "unknown", "missing", "exemptions",
                                    "expired_exemptions", "holds", "referrals", "notes",
                                    "new_strikes", "repeat_strikes", "active_strikes",
                                    "set_aside_strikes")},
        "effective_date": d["effective_date"], "phase_out_start": d["phase_out_start"],
        "timing_basis": d["timing_basis"], "facts": _json(facts), "source_file": file,
        "source_row": row,
    }
