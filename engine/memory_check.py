"""What a run remembers, read so that it can be trusted.

A run decides with the memory of earlier runs (strikes, pardons, registry
exemptions). `read_memory` reads it in one read transaction together with
the audit trail's max(seq) (the memory's fingerprint for "did anything
change since": every write to memory adds an audit entry), the latest run's
as-of date, and a hash of the memory's content. Before any of it is used,
every memory row the run reads is checked against its audit entry
(`check_memory`): a row written behind adieu's back (raw SQL, no audit
entry) or edited afterwards stops the run with exit 2, naming the row.
A strike the run counts must also match its entry's expires_on and be
named by no pardon or supersede entry (a pardon or supersede cleared with
SQL would make it count again); a superseded strike needs the supersede
entry naming it (audit_records writes them; `adieu audit verify` checks
the same, for every row).

This is not `adieu audit verify`: it does not walk the hash chain. It
checks only the rows a run reads, and for each the entries that vouch for
it (their own hash recomputed, their payload compared with the row).

Which rows are checked, and how, is the table MEMORY_TABLES: one
MemoryTable per kind of memory row. A new kind of memory (a table whose
rows a run reads) is one more entry there."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import string
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from . import jsontext
from .audit import ENTRY_FIELDS, canonical
from .audit_records import run_windows
from .cases import CASE_COLUMNS
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
    of the entry's JSON payload; "payload.A.B" a key of an object in it).
    latest: only the newest entry with the row's key counts (for rows
    whose state moves on, each move an entry).
    shared: one entry may vouch for several rows (else a second row with
    the same entry is a copy). valid: SQL conditions over the row that
    must hold as well, each with what to say when it does not (the first
    that fails is named). source: the entries, as SQL over the audit
    table (default: the table itself; SUPERSEDED: one row per strike id a
    supersede entry names, that id as the entry field "item").
    """

    table: str
    where: str
    label: str
    kind: str
    key: dict[str, str]
    fields: dict[str, str]
    latest: bool = False
    shared: bool = False
    valid: tuple[tuple[str, str], ...] = ()
    source: str = "audit"


# The strike ids the trail says are pardoned / superseded (an entry whose
# payload is not JSON names none: its own hash no longer matches, which
# `adieu audit verify` names). Used in NOT IN: SQLite builds each list once.
_PARDONED = ("select json_extract(payload, '$.strike_id') from audit where kind = 'pardon' "
             "and json_valid(payload) and json_extract(payload, '$.strike_id') is not null")
_SUPERSEDED_IDS = ("select j.value from audit a, json_each(a.payload, '$.strike_ids') j "
                   "where a.kind = 'supersede' and json_valid(a.payload)")
# The cast (the ids are integers) lets SQLite join it through an automatic
# index on (kind, item), not a scan of every id for every strike
# (_check_table does not order it by seq for the same reason).
SUPERSEDED = ("(select a.*, cast(j.value as integer) as item from audit a, json_each("
              "a.payload, '$.strike_ids') j where a.kind = 'supersede' and "
              "json_valid(a.payload))")


MEMORY_TABLES: tuple[MemoryTable, ...] = (
    # A strike the run counts: recorded by a run, with its strike entry.
    MemoryTable("strikes", "recorded_on <= :as_of and superseded_by_run is null and "
                "pardoned_at is null", "strikes row {id} ({customer_id})", "strike",
                {"run_id": "run_id", "customer_id": "customer_id", "rule": "payload.rule",
                 "recorded_on": "payload.recorded_on"}, {"expires_on": "expiry"},
                # ... that the trail does not say was pardoned or superseded (the
                # columns cleared behind adieu's back: the strike would count again).
                valid=((f"id not in ({_PARDONED})", "pardoned_at cleared, but a "
                        "pardon entry names it"),
                       (f"id not in ({_SUPERSEDED_IDS})", "superseded_by_run cleared, "
                        "but a supersede entry names it"))),
    # A strike the run does not count because it was pardoned: the pardon's entry.
    MemoryTable("strikes", "recorded_on <= :as_of and pardoned_at is not null",
                "pardon of strikes row {id} ({customer_id})", "pardon",
                {"customer_id": "customer_id", "id": "payload.strike_id"},
                {"rule": "payload.rule", "recorded_on": "payload.recorded_on",
                 "pardoned_by": "payload.by",
                 "pardon_reason": "payload.reason", "pardoned_at": "at"}),
    # A strike the run does not count because a later run of its date
    # decided the customer again: that run's decision entry (runs written
    # before m008: one entry per decision) ...
    MemoryTable("strikes", "recorded_on <= :as_of and superseded_by_run is not null and "
                "pardoned_at is null and superseded_by_run in (select distinct run_id from "
                "decisions_v1)", "supersede of strikes row {id} ({customer_id})",
                "decision", {"superseded_by_run": "run_id", "customer_id": "customer_id"},
                {}, shared=True,
                valid=(("exists (select 1 from runs r where r.id = superseded_by_run and "
                        "r.as_of = recorded_on and r.id > run_id)",
                        "not superseded by a later run of its date"),)),
    # ... or (m008 on) that run's entry and its stored decision of the customer
    # (the decisions themselves are vouched for by their batch entries, which
    # `adieu audit verify` checks).
    MemoryTable("strikes", "recorded_on <= :as_of and superseded_by_run is not null and "
                "pardoned_at is null and superseded_by_run not in (select distinct run_id "
                "from decisions_v1)", "supersede of strikes row {id} ({customer_id})",
                "run", {"superseded_by_run": "run_id"}, {}, shared=True,
                valid=(("exists (select 1 from runs r where r.id = superseded_by_run and "
                        "r.as_of = recorded_on and r.id > run_id) and exists (select 1 from "
                        "run_decisions d where d.run_id = superseded_by_run and "
                        "d.customer_id = strikes.customer_id)",
                        "not superseded by a later run of its date that decided the "
                        "customer"),)),
    # Every superseded strike: the supersede entry (m009 on; m009 wrote them
    # for earlier supersedes) that names its id, of the run it names.
    MemoryTable("strikes", "recorded_on <= :as_of and superseded_by_run is not null and "
                "pardoned_at is null", "supersede of strikes row {id} ({customer_id})",
                "supersede", {"id": "item"}, {"superseded_by_run": "run_id"}, shared=True,
                source=SUPERSEDED),
    # A registry exemption: every column as recorded by `adieu exempt`.
    MemoryTable("exemptions", "1", "exemptions row {id} ({customer_id})", "exemption",
                {"customer_id": "customer_id", "id": "payload.id"},
                {"customer_id": "payload.customer_id", "rules": "payload.rules",
                 "reason": "payload.reason", "approver": "payload.approver",
                 "expires": "payload.expires", "recorded_at": "payload.recorded_at"}),
    # An offboarding case: every column as its latest case entry left it
    # (engine/cases.py writes the whole row with each change).
    MemoryTable("cases", "1", "cases row {id} ({customer_id})", "case",
                {"customer_id": "customer_id", "id": "payload.case.id"},
                {c: f"payload.case.{c}" for c in CASE_COLUMNS if c != "id"}, latest=True),
)


_ENTRY = (*ENTRY_FIELDS, "hash")  # the audit columns read, in this order
_HASH = len(ENTRY_FIELDS)


def _pick(path: str) -> str:
    """An entry field as an SQL expression over the audit table (alias a): a
    column, or json_extract of a payload key (done by SQLite; a JSON null or
    a missing key is NULL, None in Python); "item": the strike id of a
    SUPERSEDED row; "expiry": the expires_on a strike entry vouches for
    (audit_records: the entry's own since m009, else its recorded_on plus
    its run's window_days, the parameter :windows; the row's own when
    neither is known, as `adieu audit verify` leaves it unchecked)."""
    if path == "item":
        return "a.item"
    if path == "expiry":
        return ("coalesce(json_extract(a.payload, '$.expires_on'), date(json_extract(a.payload, "
                "'$.recorded_on'), '+' || json_extract(:windows, '$.\"' || a.run_id || '\"') "
                "|| ' days'), t.expires_on)")
    if path.startswith("payload."):
        name = path[len("payload."):]
        if not all(part.isidentifier() for part in name.split(".")):
            raise ValueError(f"payload key {name!r} is not a plain (dotted) name")
        return f"json_extract(a.payload, '$.{name}')"
    if path not in _ENTRY:
        raise ValueError(f"{path!r} is not an audit column")
    return f"a.{path}"


# The canonical JSON text of an entry (audit.entry_hash hashes it), built by
# SQLite: json_quote escapes as Python's json does for the text, integers
# and NULLs the audit table holds. Should it ever differ, the entry is
# hashed again in Python (canonical_entry_hash) before it counts as edited.
_CANONICAL_SQL = ("""'{"at":' || json_quote(a.at) || ',"customer_id":' || """
                  """json_quote(a.customer_id) || ',"kind":' || json_quote(a.kind) || """
                  """',"payload":' || json_quote(a.payload) || ',"prev_hash":' || """
                  """json_quote(a.prev_hash) || ',"run_id":' || json_quote(a.run_id) || """
                  """',"seq":' || json_quote(a.seq) || '}'""")


def check_memory(db: sqlite_utils.Database, as_of: dt.date,
                 tables: tuple[MemoryTable, ...] = MEMORY_TABLES) -> None:
    """Raise InputError (exit 2) naming the first memory rows (at most 5)
    that no valid audit entry vouches for. Valid: an entry of the table's
    kind, found by the row's key, whose own hash is right and whose fields
    match the row's. One query per table: the rows joined with their
    candidate entries (found through the index on audit(kind, customer_id,
    run_id) when the key has customer_id)."""
    problems: list[str] = []
    existing = {r[0] for r in db.execute("select name from sqlite_master where type='table'")}
    windows: str | None = None
    for spec in tables:
        if spec.table in existing and "audit" in existing:
            if windows is None and "expiry" in spec.fields.values():
                windows = jsontext.dumps({str(k): v for k, v in run_windows(db).items()}) \
                    if "runs" in existing else "{}"
            problems += _check_table(db, spec, as_of, 5 - len(problems), windows or "{}")
        if len(problems) >= 5:
            break
    if problems:
        more = " (and maybe more)" if len(problems) >= 5 else ""
        raise InputError(f"{'; '.join(problems)}{more}: written outside adieu? "
                         "run `adieu audit verify`")


def _check_table(db: sqlite_utils.Database, spec: MemoryTable, as_of: dt.date,
                 limit: int, windows: str = "{}") -> list[str]:
    """What is wrong with spec's rows (at most limit problems). windows:
    JSON {run id: window_days or null} (audit_records.run_windows)."""
    label = [f for _, f, _, _ in string.Formatter().parse(spec.label) if f]
    columns = list(dict.fromkeys([*label, *spec.fields]))
    on = " and ".join(f"{_pick(path)} = t.{col}" for col, path in spec.key.items())
    entry_fields = [_pick(path) for path in spec.fields.values()]
    # _valid: 0 if all of spec.valid hold, else the number of the first that fails
    valid = "case " + " ".join(f"when not ({cond}) then {i + 1}"
                               for i, (cond, _) in enumerate(spec.valid)) + " else 0 end" \
        if spec.valid else "0"
    # A derived source's entry vouches for many rows: hashed once each in
    # _judge, not its canonical text built in SQL for every row.
    canonical_sql = _CANONICAL_SQL if spec.source == "audit" else "null"
    query = (f"select t._rowid, {', '.join('t.' + c for c in columns)}, a.seq, "
             f"{canonical_sql}, a.hash, {', '.join([*entry_fields, 't._valid'])} "
             f"from (select rowid as _rowid, ({valid}) as _valid, * from {spec.table} "
             f"where {spec.where}) t "
             f"left join {spec.source} a on a.kind = :kind and {on} order by t._rowid"
             # ordering a derived source by seq as well makes SQLite scan it for every
             # row (no automatic index): its groups are sorted by seq here instead
             f"{', a.seq' if spec.source == 'audit' else ''}")
    n = len(columns)
    at = {c: 1 + columns.index(c) for c in spec.fields}
    fields = [(c, at[c], n + 4 + i) for i, c in enumerate(spec.fields)]
    used: set[int] = set()
    hashed: dict[int, bool] = {}  # a derived source's entries: seq -> its hash is right
    problems: list[str] = []
    group: list[tuple] = []
    params = {"as_of": as_of.isoformat(), "kind": spec.kind}
    if ":windows" in query:
        params["windows"] = windows
    cursor = db.execute(query, params)
    for joined in itertools.chain(cursor, (None,)):  # streamed, not held
        if group and (joined is None or joined[0] != group[0][0]):
            if spec.source != "audit":
                group.sort(key=lambda r: r[n + 1] or 0)
            problem = _judge(db, group[-1:] if spec.latest else group, fields, n,
                             None if spec.shared else used, hashed)
            if not problem and group[0][-1]:
                problem = f": {spec.valid[group[0][-1] - 1][1]}"
            if problem:
                name = spec.label.format(**dict(zip(columns, group[0][1:n + 1], strict=True)))
                problems.append(f"{name}{problem}")
                if len(problems) >= limit:
                    break
            group = []
        if joined is not None:
            group.append(joined)
    return problems


def _judge(db: sqlite_utils.Database, candidates: list[tuple],
           fields: list[tuple[str, int, int]], n: int, used: set[int] | None,
           hashed: dict[int, bool] | None = None) -> str:
    """'' if one of a row's candidate entries vouches for it (and was not used
    for another row, unless used is None: a copied row has no entry of its
    own), else what is wrong (text following the row's name). An entry
    without its canonical text (a derived source) is hashed in Python, once
    per seq (hashed: the results so far)."""
    problem = " has no audit entry"
    for joined in candidates:
        seq, text, stored = joined[n + 1:n + 4]
        if seq is None:
            break
        if used is not None and seq in used:
            problem = f": its audit entry {seq} vouches for another row"
            continue
        if text is None:
            if hashed is None:
                hashed = {}
            if seq not in hashed:
                hashed[seq] = canonical_entry_hash(db.execute(
                    f"select {', '.join(_ENTRY)} from audit where seq = ?", [seq])
                    .fetchone()) == stored
            right = hashed[seq]
        else:
            right = hashlib.sha256(text.encode("utf-8")).hexdigest() == stored or \
                canonical_entry_hash(db.execute(f"select {', '.join(_ENTRY)} from audit "
                                                "where seq = ?", [seq]).fetchone()) == stored
        if not right:
            problem = f": audit entry {seq} was edited"
            continue
        wrong = [c for c, row_at, entry_at in fields if joined[row_at] != joined[entry_at]]
        if not wrong:
            if used is not None:
                used.add(seq)
            return ""
        verb = "differs" if len(wrong) == 1 else "differ"
        problem = f": its {', '.join(wrong)} {verb} from audit entry {seq}"
    return problem


_string = json.encoder.encode_basestring  # JSON string, non-ASCII kept (C when available)


def canonical_entry_hash(entry: tuple) -> str:
    """audit.entry_hash of an entry row (in _ENTRY order), computed without
    building a dict: the same canonical JSON (sorted keys, no spaces, UTF-8)
    for the column types the audit table holds (text, integer, NULL);
    anything else goes through audit.canonical."""
    seq, at, kind, run_id, customer_id, payload, prev_hash = entry[:_HASH]
    if not (type(seq) is int and type(at) is str and type(kind) is str  # noqa: E721
            and type(payload) is str and type(prev_hash) is str  # noqa: E721
            and (run_id is None or type(run_id) is int)  # noqa: E721
            and (customer_id is None or type(customer_id) is str)):  # noqa: E721
        return hashlib.sha256(canonical(dict(zip(ENTRY_FIELDS, entry[:_HASH], strict=True)))
                              .encode("utf-8")).hexdigest()
    text = ('{"at":' + _string(at)
            + ',"customer_id":' + ("null" if customer_id is None else _string(customer_id))
            + ',"kind":' + _string(kind) + ',"payload":' + _string(payload)
            + ',"prev_hash":' + _string(prev_hash)
            + ',"run_id":' + ("null" if run_id is None else str(run_id))
            + ',"seq":' + str(seq) + "}")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class Recalled:
    """Memory as a run sees it before deciding: audit_seq: max(seq) of the
    audit trail when it was read (0 if empty); latest_as_of: the latest
    run's as-of date (YYYY-MM-DD) or None; sha256: a hash of the memory's
    content (memory_sha256 with before=as_of: the same memory, the same
    hash); memories: every customer's memory when asked for (read_memory's
    load), else empty: a run fetches each batch's memory when it decides it
    (store.load_memories with customer ids)."""

    memories: dict[str, Memory]
    audit_seq: int = 0
    latest_as_of: str | None = None
    sha256: str = hashlib.sha256(b"").hexdigest()


MEMORY_BATCH = 2000


def read_memory(db: sqlite_utils.Database, as_of: dt.date, load: bool = False) -> Recalled:
    """Check (check_memory) the memory of earlier runs as of as_of and
    fingerprint it (audit max(seq), latest as-of date, content hash), in
    the caller's transaction if one is open, else in one read transaction
    of its own (so the fingerprint and the rows agree). Memory is read
    MEMORY_BATCH customers at a time: flat in the number of customers.
    load: also load every customer's memory into Recalled.memories (for
    callers that hand all of it out at once, e.g. docs/scale.md)."""
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
        sha = stored_memory_sha256(db, as_of)
        if load:
            from .store import load_memories

            memories = load_memories(db, as_of)
    finally:
        if own:
            db.conn.execute("COMMIT")
    return Recalled(memories if load else {}, seq, latest, sha)


def customers_with_memory(db: sqlite_utils.Database) -> Iterator[list[str]]:
    """Every customer id that has a strike, an exemption or a case, in
    sorted order (SQLite's binary order of UTF-8 is Python's order of
    str), MEMORY_BATCH at a time."""
    tables = {r[0] for r in db.execute("select name from sqlite_master where type='table'")}
    parts = [f"select customer_id from {t}" for t in ("strikes", "exemptions", "cases")
             if t in tables]
    if not parts:
        return
    cursor = db.conn.execute(" union ".join(parts) + " order by 1")
    while rows := cursor.fetchmany(MEMORY_BATCH):
        yield [r[0] for r in rows]


def stored_memory_sha256(db: sqlite_utils.Database, as_of: dt.date) -> str:
    """memory_sha256(load_memories(db, as_of), before=as_of), read a batch
    of customers at a time."""
    from .store import load_memories

    h = hashlib.sha256()
    for ids in customers_with_memory(db):
        _hash_into(h, load_memories(db, as_of, ids), as_of)
    return h.hexdigest()


def memory_sha256(memories: dict[str, Memory], before: dt.date | None = None) -> str:
    """sha256 of every customer's memory (Memory.to_json), by customer id.
    before: leave out strikes recorded on or after that date (the strikes
    of a run's own as-of date, which an earlier run of the date recorded)."""
    h = hashlib.sha256()
    _hash_into(h, memories, before)
    return h.hexdigest()


def _hash_into(h: Any, memories: dict[str, Memory], before: dt.date | None) -> None:
    for customer_id in sorted(memories):
        data = memories[customer_id].to_json()
        if before is not None:
            day = before.isoformat()
            data = {**data, "strikes": [s for s in data["strikes"] if s["recorded_on"] < day]}
            if data == Memory().to_json():  # nothing but strikes of the date
                continue
        h.update(f"{customer_id}\t{jsontext.dumps(data)}\n".encode())
