"""What a run remembers, read so that it can be trusted.

A run decides with the memory of earlier runs (strikes, pardons, registry
exemptions). `read_memory` reads it in one read transaction together with
the audit trail's max(seq) (the memory's fingerprint for "did anything
change since": every write to memory adds an audit entry), the latest run's
as-of date, and a hash of the memory's content. Before any of it is used,
every memory row the run reads is checked against its audit entry
(`check_memory`): a row written behind adieu's back (raw SQL, no audit
entry) or edited afterwards stops the run with exit 2, naming the row.

This is not `adieu audit verify`: it does not walk the hash chain. It
checks only the rows a run reads, and for each the entries that vouch for
it (their own hash recomputed, their payload compared with the row).

Which rows are checked, and how, is the table MEMORY_TABLES: one
MemoryTable per kind of memory row. A new kind of memory (a table whose
rows a run reads) is one more line there."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from . import jsontext
from .audit import ENTRY_FIELDS, entry_hash
from .errors import InputError
from .ledger import Memory


@dataclass(frozen=True)
class MemoryTable:
    """How to check one kind of memory row against the audit trail.

    table: the table; where: the SQL condition choosing the rows a run
    reads (may use the parameter :as_of, YYYY-MM-DD); label: how a row is
    named in the error ("exemptions row 7", "pardon of strikes row 3");
    kind: the audit entry kind that vouches for such a row; key: row
    column -> entry field, the fields that find the row's entries; fields:
    row column -> entry field, everything that must match as well. An
    entry field is "run_id", "customer_id", "at" or "payload.NAME" (a key
    of the entry's JSON payload). latest: only the newest entry with the
    row's key counts (for rows whose state moves on, each move an entry).
    """

    table: str
    where: str
    label: str
    kind: str
    key: dict[str, str]
    fields: dict[str, str]
    latest: bool = False


MEMORY_TABLES: tuple[MemoryTable, ...] = (
    # A strike the run counts: recorded by a run, with its strike entry.
    MemoryTable("strikes", "recorded_on < :as_of and superseded_by_run is null and "
                "pardoned_at is null", "strikes row {id} ({customer_id})", "strike",
                {"run_id": "run_id", "customer_id": "customer_id", "rule": "payload.rule",
                 "recorded_on": "payload.recorded_on"}, {}),
    # A strike the run does not count because it was pardoned: the pardon's entry.
    MemoryTable("strikes", "recorded_on < :as_of and pardoned_at is not null",
                "pardon of strikes row {id} ({customer_id})", "pardon",
                {"id": "payload.strike_id"},
                {"customer_id": "customer_id", "rule": "payload.rule",
                 "recorded_on": "payload.recorded_on", "pardoned_by": "payload.by",
                 "pardon_reason": "payload.reason", "pardoned_at": "at"}),
    # A registry exemption: every column as recorded by `adieu exempt`.
    MemoryTable("exemptions", "1", "exemptions row {id} ({customer_id})", "exemption",
                {"id": "payload.id"},
                {"customer_id": "payload.customer_id", "rules": "payload.rules",
                 "reason": "payload.reason", "approver": "payload.approver",
                 "expires": "payload.expires", "recorded_at": "payload.recorded_at"}),
)


def _getter(path: str) -> Callable[[dict[str, Any]], Any]:
    if path.startswith("payload."):
        name = path[len("payload."):]
        return lambda e: e["data"].get(name)
    return lambda e: e[path]


def check_memory(db: sqlite_utils.Database, as_of: dt.date,
                 tables: tuple[MemoryTable, ...] = MEMORY_TABLES) -> None:
    """Raise InputError (exit 2) naming the first memory rows (at most 5)
    that no valid audit entry vouches for. Valid: an entry of the table's
    kind, found by the row's key, whose own hash is right and whose fields
    match the row's."""
    problems: list[str] = []
    existing = {r[0] for r in db.execute("select name from sqlite_master where type='table'")}
    for spec in tables:
        if spec.table not in existing or "audit" not in existing:
            continue
        rows = db.execute(f"select * from {spec.table} where {spec.where} order by rowid",
                          {"as_of": as_of.isoformat()})
        names = [c[0] for c in rows.description]
        rows = [dict(zip(names, r, strict=True)) for r in rows]
        if not rows:
            continue
        entries = _entries(db, spec)
        used: set[int] = set()
        for row in rows:
            problem = _judge(spec, row, entries, used)
            if problem:
                problems.append(problem)
                if len(problems) >= 5:
                    break
        if len(problems) >= 5:
            break
    if problems:
        more = " (and maybe more)" if len(problems) >= 5 else ""
        raise InputError(f"{'; '.join(problems)}{more}: written outside adieu? "
                         "run `adieu audit verify`")


def _entries(db: sqlite_utils.Database, spec: MemoryTable) \
        -> dict[tuple, list[dict[str, Any]]]:
    """The audit entries of spec.kind by key (in seq order)."""
    keys = [(_getter(path)) for path in spec.key.values()]
    found: dict[tuple, list[dict[str, Any]]] = {}
    query = f"select {', '.join(ENTRY_FIELDS)}, hash from audit where kind = ? order by seq"
    for values in db.execute(query, [spec.kind]):
        entry = dict(zip((*ENTRY_FIELDS, "hash"), values, strict=True))
        try:
            payload = json.loads(entry["payload"])
        except ValueError:
            continue
        parsed = {**entry, "data": payload if isinstance(payload, dict) else {}}
        found.setdefault(tuple(get(parsed) for get in keys), []).append(parsed)
    return found


def _judge(spec: MemoryTable, row: dict[str, Any],
           entries: dict[tuple, list[dict[str, Any]]], used: set[int]) -> str | None:
    """None if an entry vouches for row (and was not used for another row:
    a copied row has no entry of its own), else what is wrong with it."""
    name = spec.label.format(**row)
    candidates = entries.get(tuple(row[c] for c in spec.key), [])
    if spec.latest:
        candidates = candidates[-1:]
    if not candidates:
        return f"{name} has no audit entry"
    differs: list[str] = []
    for entry in candidates:
        if entry["seq"] in used:
            differs = differs or [f"its audit entry {entry['seq']} vouches for another row"]
            continue
        if entry_hash(entry) != entry["hash"]:
            differs = [f"audit entry {entry['seq']} was edited"]
            continue
        wrong = [col for col, path in spec.fields.items() if row[col] != _getter(path)(entry)]
        if not wrong:
            used.add(entry["seq"])
            return None
        verb = "differs" if len(wrong) == 1 else "differ"
        differs = [f"its {', '.join(wrong)} {verb} from audit entry {entry['seq']}"]
    return f"{name}: {differs[0]}"


@dataclass
class Recalled:
    """Memory as a run reads it: by customer id; audit_seq: max(seq) of the
    audit trail when it was read (0 if empty); latest_as_of: the latest
    run's as-of date (YYYY-MM-DD) or None; sha256: a hash of the memory's
    content (the same memory, the same hash)."""

    memories: dict[str, Memory]
    audit_seq: int = 0
    latest_as_of: str | None = None
    sha256: str = hashlib.sha256(b"").hexdigest()


def read_memory(db: sqlite_utils.Database, as_of: dt.date) -> Recalled:
    """Read, check (check_memory) and load the memory of earlier runs as of
    as_of, in the caller's transaction if one is open, else in one read
    transaction of its own (so the fingerprint and the rows agree)."""
    from .store import load_memories

    own = not db.conn.in_transaction
    if own:
        db.conn.execute("BEGIN")
    try:
        tables = {r[0] for r in db.execute("select name from sqlite_master where type='table'")}
        if "runs" not in tables:
            return Recalled({})
        latest = db.execute("select max(as_of) from runs").fetchone()[0]
        if "audit" not in tables or "strikes" not in tables:
            return Recalled({}, 0, latest)
        seq = db.execute("select coalesce(max(seq), 0) from audit").fetchone()[0]
        check_memory(db, as_of)
        memories = load_memories(db, as_of)
    finally:
        if own:
            db.conn.execute("COMMIT")
    return Recalled(memories, seq, latest, memory_sha256(memories))


def memory_sha256(memories: dict[str, Memory]) -> str:
    """sha256 of every customer's memory (Memory.to_json), by customer id."""
    h = hashlib.sha256()
    for customer_id in sorted(memories):
        h.update(f"{customer_id}\t{jsontext.dumps(memories[customer_id].to_json())}\n"
                 .encode())
    return h.hexdigest()
